"""Your own data: iterate over a directory of challenge files as validated cases.

Two layouts are accepted:

* ``DIR/imgs/*.npz`` + ``DIR/gts/*.npz`` (same file names; what :func:`write` produces and
  how the challenge ships its validation data), or
* a flat ``DIR/*.npz`` whose files may carry ``gts`` themselves (or give ``gt_dir=``).

Files in the CVPR 2024 format (2D and 3D) are read by :func:`classicseg.io.load_case`,
which never unpickles anything. CVPR 2025 3D files (``junma/CVPR-BiomedSegFM``) store
``boxes`` as pickled dicts ``{z_min, z_max, z_mid, z_mid_x_min, ...}``; those are read with
a *restricted* unpickler that can only rebuild numpy arrays, dtypes and scalars plus
plain dicts/lists/numbers -- any other object in the pickle is refused, so a malicious
file cannot run code. Other pickled keys (``text_prompts``, ``clicks``) are never read.

>>> import tempfile
>>> from classicseg import samples
>>> d = tempfile.mkdtemp()
>>> _ = samples.write(d, ["oct-cysts"])
>>> [c.name for c in load_directory(d)]
['2DBox_OCT_synthetic-cysts']
"""

from __future__ import annotations

import csv
import io as _io
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
from numpy.lib import format as npformat

from ..io import Case, ChallengeFileError, list_case_files, load_case, load_ground_truth

__all__ = ["load_directory", "load_case_2025", "boxes_from_2025"]

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

# The only globals a pickled object array of box dicts needs.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only numpy arrays, "
                                         "dtypes, scalars and plain containers are allowed") from None


def _read_object_member(path: Path, key: str):
    """Read ``key`` (an object array) from an .npz with the restricted unpickler."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read(f"{key}.npy")
    f = _io.BytesIO(data)
    version = npformat.read_magic(f)
    if version == (1, 0):
        _, _, dtype = npformat.read_array_header_1_0(f)
    elif version == (2, 0):
        _, _, dtype = npformat.read_array_header_2_0(f)
    else:
        raise ChallengeFileError(path, f"'{key}': unsupported .npy format version {version}")
    if not dtype.hasobject:
        return np.load(path, allow_pickle=False)[key]
    try:
        return _RestrictedUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
        raise ChallengeFileError(path, f"'{key}' could not be read safely ({e})") from None


_KEYS_2025 = ("z_mid_x_min", "z_mid_y_min", "z_min", "z_mid_x_max", "z_mid_y_max", "z_max")


def boxes_from_2025(boxes, source="boxes") -> np.ndarray:
    """Convert CVPR 2025 box dicts to (N, 6) ``[x0, y0, z0, x1, y1, z1]`` (inclusive).

    The 2025 boxes give the x/y extent **on the middle slice** (``z_mid``) and the full z
    extent; the result keeps that meaning (the x/y box is the mid-slice box, which is what
    LiteMedSAM's 3D inference starts from).

    >>> boxes_from_2025([{"z_min": 2, "z_max": 9, "z_mid": 5, "z_mid_x_min": 10, "z_mid_y_min": 11,
    ...                   "z_mid_x_max": 30, "z_mid_y_max": 31}]).tolist()
    [[10, 11, 2, 30, 31, 9]]
    """
    if isinstance(boxes, np.ndarray):
        boxes = boxes.tolist() if boxes.ndim else [boxes.item()]
    if isinstance(boxes, dict):
        boxes = [boxes]
    out = []
    for i, b in enumerate(boxes):
        if not isinstance(b, dict):
            raise ValueError(f"{source}: box {i} is a {type(b).__name__}, expected a dict with keys {_KEYS_2025}")
        missing = [k for k in _KEYS_2025 if k not in b]
        if missing:
            raise ValueError(f"{source}: box {i} lacks {missing}")
        out.append([int(b[k]) for k in _KEYS_2025])
    return np.array(out, dtype=np.int64).reshape(len(out), 6)


def load_case_2025(path, gt_path=None, *, modality: str | None = None) -> Case:
    """Read a CVPR 2025 3D file (pickled box dicts) safely as a :class:`Case`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if "imgs" not in keys or "boxes" not in keys:
                raise ChallengeFileError(path, f"missing 'imgs' or 'boxes'; found {sorted(keys)}")
            image = z["imgs"]
            spacing = z["spacing"] if "spacing" in keys else None
            gts = None
            if "gts" in keys and gt_path is None:
                gts = z["gts"]
    except (zipfile.BadZipFile, OSError) as e:
        raise ChallengeFileError(path, f"not a readable .npz ({e})") from None
    except ValueError as e:
        raise ChallengeFileError(path, f"unexpected pickled array outside 'boxes' ({e})") from None
    try:
        raw = _read_object_member(path, "boxes")
        numeric = isinstance(raw, np.ndarray) and not raw.dtype.hasobject
        boxes = raw if numeric else boxes_from_2025(raw, source=str(path))
    except ValueError as e:
        raise ChallengeFileError(path, str(e)) from None
    if gt_path is not None:
        gts, gt_spacing = load_ground_truth(gt_path)
        spacing = spacing if spacing is not None else gt_spacing
    name = path.name[:-4] if path.name.lower().endswith(".npz") else path.stem
    meta = ({"format": "CVPR2024 (pickled extra keys were not read)"} if numeric else
            {"format": "CVPR2025", "box_xy": "extent on the z_mid slice"})
    return Case(name=name, image=image, boxes=boxes, modality=modality, spacing=spacing, gts=gts, path=path, meta=meta)


def manifest_synthetic_flags(root: Path) -> dict[str, bool]:
    """name -> synthetic flag from the MANIFEST.tsv that ``classicseg.samples.write`` puts
    beside imgs/ (column ``file`` or ``name``; ``origin`` = synthetic/real, or ``synthetic``)."""
    for folder in (root, root.parent):
        path = folder / "MANIFEST.tsv"
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out = {}
        for row in rows:
            name = (row.get("file") or row.get("name") or "").strip()
            name = name[:-4] if name.lower().endswith(".npz") else name
            if "origin" in row:
                out[name] = (row["origin"] or "").strip().lower() == "synthetic"
            elif "synthetic" in row:
                out[name] = (row["synthetic"] or "").strip().lower() in ("1", "true", "yes", "y")
        return out
    return {}


def _layout(directory: Path, gt_dir):
    if (directory / "imgs").is_dir():
        img_dir = directory / "imgs"
        if gt_dir is None and (directory / "gts").is_dir():
            gt_dir = directory / "gts"
    else:
        img_dir = directory
    return img_dir, (Path(gt_dir) if gt_dir is not None else None)


def load_directory(path, *, gt_dir=None, errors: str = "raise", modality: str | None = None,
                   allow_extra_keys: bool = False) -> Iterator[Case]:
    """Yield the validated cases of a directory of challenge files, sorted by file name.

    Parameters
    ----------
    path : path-like
        ``DIR`` with ``imgs/`` (+ optional ``gts/``) subfolders, or a flat folder of ``.npz``.
    gt_dir : path-like, optional
        Ground-truth folder (same file names); default ``DIR/gts`` when it exists.
    errors : {"raise", "warn"}
        Stop at the first malformed file, or warn and skip it.
    modality : str, optional
        Override the modality parsed from the file names.
    allow_extra_keys : bool
        Ignore unknown keys in the files.

    Yields
    ------
    Case
        ``case.path`` is the image file; ``case.gts`` is None when there is no ground truth.
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")
    directory = Path(path)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    img_dir, gdir = _layout(directory, gt_dir)
    files = list_case_files(img_dir)
    synthetic = manifest_synthetic_flags(img_dir)  # written by classicseg.samples.write
    if not files:
        warnings.warn(f"{img_dir}: no .npz files", stacklevel=2)
    for p in files:
        gt = gdir / p.name if gdir is not None and (gdir / p.name).is_file() else None
        try:
            try:
                case = load_case(p, gt, modality=modality, allow_extra_keys=allow_extra_keys)
            except ChallengeFileError as e:
                if "pickle" not in e.problem:
                    raise
                case = load_case_2025(p, gt, modality=modality)
            if case.name in synthetic:
                case.meta["synthetic"] = synthetic[case.name]
            yield case
        except ChallengeFileError as e:
            if errors == "raise":
                raise
            warnings.warn(f"skipped {e}", stacklevel=2)
