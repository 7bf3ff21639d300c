"""Shared pytest fixtures for classicseg (small on purpose: the whole suite must stay fast).

* ``reference_dir`` -- ``tests/data/``, the vendored parity vectors (GHT, challenge metrics,
  LiteMedSAM; see ``tests/data/README.md``). They are part of the repository, so the parity
  tests always run.
* ``make_case`` -- builds a tiny synthetic :class:`classicseg.io.Case` (2D or 3D, boxes + gts).
* ``write_case`` -- writes such a case as a challenge pair ``<root>/imgs/<name>.npz`` (imgs, boxes
  [, spacing]) and ``<root>/gts/<name>.npz`` (gts [, spacing]) under ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Parity vectors computed with the official reference code (tests/data/README.md).
REFERENCE_DIR = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``tests/data/``: the vendored parity vectors (always present in a checkout)."""
    return REFERENCE_DIR


def _tiny_case(name: str, *, shape=None, n_labels: int = 2, spacing=(0.8, 0.8, 2.5), seed: int = 0):
    """A small case with ``n_labels`` non-overlapping blocks as ground truth and their boxes."""
    from classicseg.io import Case

    rng = np.random.default_rng(seed)
    is_3d = name.startswith("3D")
    if shape is None:
        shape = (8, 40, 48) if is_3d else (48, 56)
    gts = np.zeros(shape, np.uint16)
    boxes = []
    # Blocks side by side along the last axis so they never overlap.
    width = shape[-1] // max(n_labels, 1)
    for k in range(n_labels):
        lo = [int(rng.integers(1, max(2, n // 4))) for n in shape[:-1]]
        hi = [int(min(n - 1, low + rng.integers(max(2, n // 4), max(3, n // 2))))
              for low, n in zip(lo, shape[:-1])]
        x0, x1 = k * width + 1, (k + 1) * width - 2
        sl = tuple(slice(a, b + 1) for a, b in zip(lo, hi)) + (slice(x0, x1 + 1),)
        gts[sl] = k + 1
        if is_3d:
            boxes.append([x0, lo[1], lo[0], x1, hi[1], hi[0]])
        else:
            boxes.append([x0, lo[0], x1, hi[0]])
    image = (rng.random(shape) * 60).astype(np.uint8) + (gts > 0).astype(np.uint8) * 150
    if not is_3d:
        image = np.repeat(image[..., None], 3, axis=2)
    boxes = np.array(boxes, np.int64).reshape(-1, 6 if is_3d else 4)
    return Case(name=name, image=image, boxes=boxes, spacing=spacing if is_3d else None, gts=gts,
                meta={"synthetic": True, "source": "tests/conftest.py"})


@pytest.fixture
def make_case():
    """Factory ``make_case(name, *, shape=None, n_labels=2, spacing=(0.8, 0.8, 2.5), seed=0)``.

    Returns a ``Case``; 2D or 3D follows the ``2D``/``3D`` name prefix (e.g. ``"2DBox_US_0001"``,
    ``"3DBox_CT_0001"``).
    """
    return _tiny_case


@pytest.fixture
def write_case(tmp_path):
    """Factory ``write_case(name, root=tmp_path, **make_case_kw) -> Case``: an imgs/ + gts/ pair."""

    def write(name: str, root: Path | None = None, **kw):
        from classicseg.io import save_case

        root = Path(root) if root is not None else tmp_path
        case = _tiny_case(name, **kw)
        save_case(case, root / "imgs" / f"{name}.npz", gt_path=root / "gts" / f"{name}.npz")
        return case

    return write
