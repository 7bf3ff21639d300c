"""Which LiteMedSAM backend runs: what is installed, whether its parity holds, and why.

Torch-free. ``LiteMedSAM.load(backend="auto")`` (the default, and ``--backend auto`` on the
command line) takes the fastest installed backend whose parity holds, in the order of
:data:`AUTO_ORDER` -- OpenVINO fp32, ONNX Runtime, eager torch -- and records the choice and
the reason (``model.backend_reason``, every result's ``extra["backend_reason"]``, the run
log, ``compare``'s report).

"Parity holds" means: on the official outputs packaged with classicseg
(``parity_2d.npz``: 12 boxes on 4 images of scikit-image's ``coins()`` -- Brooklyn Museum,
no known copyright restrictions -- and the synthetic Shepp--Logan phantom, taken from
``tests/data/litemedsam_vectors.npz``, made by the unmodified official
``CVPR24_LiteMedSAM_infer.py``), every per-box mask has Dice >= :data:`PARITY_DICE` with the
official one. The verdict is measured once per (weights SHA-256, backend, precision, library
version) and cached as JSON next to the ONNX export
(``<cache>/litemedsam/<sha256>/parity-<backend>-<precision>-<library>-<version>.json``).
Eager torch *is* the official computation (the parity tests pin it bit for bit); it needs
no verdict and is the fallback.

Examples
--------
>>> from classicseg.models.litemedsam.backends import BACKENDS, AUTO_ORDER, installed
>>> AUTO_ORDER
('openvino', 'onnx', 'torch')
>>> sorted(BACKENDS)
['auto', 'onnx', 'openvino', 'torch']
>>> installed("torch") in (True, False)
True
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from ...io import atomic_write

__all__ = ["BACKENDS", "AUTO_ORDER", "PARITY_DICE", "LIBRARIES", "installed", "library_version",
           "parity_cases", "measure_parity", "parity_verdict", "verdict_path"]

#: backend -> the Python package (import name, distribution name) it runs on.
LIBRARIES = {"torch": ("torch", "torch"), "onnx": ("onnxruntime", "onnxruntime"),
             "openvino": ("openvino", "openvino")}
#: the names ``LiteMedSAM.load(backend=...)`` and ``--backend`` accept.
BACKENDS = ("auto", *sorted(LIBRARIES))
#: fastest first (encoder on a 2-core CPU: OpenVINO fp32 ~1.0 s, ORT ~1.6-2.9 s, torch ~2-3 s).
AUTO_ORDER = ("openvino", "onnx", "torch")
#: the per-box mask Dice against the official output every box must reach.
PARITY_DICE = 0.99
_PARITY_FILE = Path(__file__).with_name("parity_2d.npz")


def installed(backend: str) -> bool:
    """True if the library ``backend`` runs on is importable (checked without importing it)."""
    try:
        return importlib.util.find_spec(LIBRARIES[backend][0]) is not None
    except (ValueError, ImportError):
        return False


def library_version(backend: str) -> str:
    """The installed version of ``backend``'s library ("missing" if not installed)."""
    try:
        return importlib.metadata.version(LIBRARIES[backend][1])
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def parity_cases() -> list[dict]:
    """The packaged official 2D outputs: per case ``name``, ``image`` (H, W, 3) uint8,
    ``boxes`` (N, 4), ``masks`` (N, H, W) bool and ``iou`` (N,) of the official script."""
    out = []
    with np.load(_PARITY_FILE, allow_pickle=False) as z:
        for name in z["cases"].tolist():
            gray = z[f"{name}_gray"]
            masks = np.unpackbits(z[f"{name}_masks_packbits"], axis=-1, count=gray.shape[1])
            out.append({"name": name, "image": np.repeat(gray[:, :, None], 3, axis=2),
                        "boxes": z[f"{name}_boxes"], "masks": masks.astype(bool),
                        "iou": z[f"{name}_iou_pred"]})
    return out


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * int((a & b).sum()) / s


def measure_parity(model, cases=None) -> dict:
    """Per-box mask Dice of ``model`` (a LiteMedSAM) against the official outputs.

    Returns a dict with ``dice`` (per box, in case order), ``min_dice``, ``mean_dice``,
    ``max_abs_iou`` (largest |predicted IoU - official|), ``boxes``, ``images`` (encoder
    passes) and ``seconds``.
    """
    from .geometry import scale_boxes_256

    t0 = time.perf_counter()
    dices, iou_err, images, embedded = [], [], 0, {}
    for case in cases if cases is not None else parity_cases():
        key = case["image"].tobytes()  # cases on the same image share one encoder pass
        if key not in embedded:
            prep = model.preprocess(case["image"])
            embedded[key] = (model.encode(prep.tensor), prep)
            images += 1
        emb, prep = embedded[key]
        logits, iou = model.decode(emb, scale_boxes_256(case["boxes"], prep.original_size),
                                   batch=1)
        iou = np.asarray(iou.cpu() if hasattr(iou, "cpu") else iou, dtype=np.float64)
        for k, ref in enumerate(case["masks"]):
            mask = model.logits_to_mask(logits[k], prep.new_size, prep.original_size)
            dices.append(round(_dice(mask, ref), 6))
            iou_err.append(abs(float(iou[k]) - float(case["iou"][k])))
    return {"dice": dices, "min_dice": min(dices), "mean_dice": float(np.mean(dices)),
            "max_abs_iou": max(iou_err), "boxes": len(dices), "images": images,
            "seconds": round(time.perf_counter() - t0, 3)}


def verdict_path(sha256: str, backend: str, precision: str) -> Path:
    """Where the parity verdict of (weights, backend, precision, library version) is cached."""
    from .onnx_backend import model_dir

    lib = LIBRARIES[backend][1]
    return model_dir(sha256) / f"parity-{backend}-{precision}-{lib}-{library_version(backend)}.json"


def parity_verdict(model, *, sha256: str, refresh: bool = False) -> dict:
    """The cached parity verdict of ``model``'s backend and precision, measured now if there
    is none (or ``refresh``). Adds ``passed`` (every box Dice >= :data:`PARITY_DICE`),
    ``cached`` (read from the cache) and the key fields. A cache that cannot be written
    only costs a re-measurement next time."""
    backend, precision = model.backend, model.precision
    path = verdict_path(sha256, backend, precision)
    if not refresh and path.is_file():
        try:
            data = json.loads(path.read_text())
            if data.get("min_dice") is not None and "passed" in data:
                return {**data, "cached": True}
        except (OSError, ValueError):
            pass  # a damaged verdict: measure again
    data = {"backend": backend, "precision": precision,
            "library": f"{LIBRARIES[backend][1]} {library_version(backend)}",
            "weights_sha256": sha256, "threshold": PARITY_DICE, **measure_parity(model),
            "measured_unix": time.time()}
    data["passed"] = bool(data["min_dice"] >= PARITY_DICE)
    try:
        atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()),
                     overwrite=True)
    except OSError:
        pass
    return {**data, "cached": False}


def describe_verdict(v: dict) -> str:
    """One line for logs: ``min per-box Dice 1.0000 over 12 boxes vs official (cached)``."""
    return (f"min per-box Dice {v['min_dice']:.4f} over {v['boxes']} boxes vs official "
            f"({'cached verdict' if v.get('cached') else 'measured now'}, "
            f"threshold {v['threshold']})")
