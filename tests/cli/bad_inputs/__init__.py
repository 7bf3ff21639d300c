"""Hostile inputs for ``tests/cli/test_bad_inputs.py``, generated at test time (all tiny).

* :func:`cli` runs the real command line in a subprocess (``python -m classicseg``);
* :func:`good_2d` / :func:`good_3d` write valid cases that route to classical methods (OCT
  and PET: GHT), so no test loads LiteMedSAM;
* the ``*_npz`` / :func:`zip_members` helpers write archives that are broken in one way each;
* :class:`Payload` is a pickle that would create a marker file if anything unpickled it.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

OCT_IMAGE = np.zeros((20, 24, 3), np.uint8)
OCT_IMAGE[5:12, 5:12] = 30
OCT_BOX = np.array([[3, 3, 14, 14]])
PET_VOLUME = np.zeros((6, 20, 20), np.uint8)
PET_VOLUME[2:5, 5:12, 5:12] = 200
PET_BOX = np.array([[4, 4, 1, 12, 12, 5]])


def cli(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m classicseg ARGS`` in a subprocess (text output, debug off)."""
    full_env = {k: v for k, v in os.environ.items() if k != "CLASSICSEG_DEBUG"}
    full_env.update({"MPLBACKEND": "Agg", "PYTHONWARNINGS": "default::UserWarning",
                     # an unreachable --scheduler fails in 2 s, not dask's 30
                     "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "classicseg", *map(str, args)], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def snapshot(*roots) -> dict:
    """``{path: (bytes, mtime_ns)}`` of every file under ``roots`` (to prove nothing changed)."""
    out = {}
    for root in map(Path, roots):
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in paths:
            out[p] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


# --------------------------------------------------------------------------- archives

def npy_bytes(array, *, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=allow_pickle)
    return buf.getvalue()


def zip_members(path, members: dict, *, compress: bool = False) -> Path:
    """A zip archive with these raw ``{name: bytes}`` members."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=mode) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def npz(path, *, pickles: bool = False, **arrays) -> Path:
    """An ``.npz`` of ``arrays`` (object arrays are pickled when ``pickles``)."""
    return zip_members(path, {f"{k}.npy": npy_bytes(v, allow_pickle=pickles)
                              for k, v in arrays.items()})


def good_2d(directory, name="2DBox_OCT_good", **override) -> Path:
    arrays = {"imgs": OCT_IMAGE, "boxes": OCT_BOX, **override}
    return npz(Path(directory) / f"{name}.npz", **{k: v for k, v in arrays.items()
                                                   if v is not None})


def good_3d(directory, name="3DBox_PET_good", **override) -> Path:
    arrays = {"imgs": PET_VOLUME, "boxes": PET_BOX, "spacing": np.array([1.0, 1.0, 2.0]),
              **override}
    return npz(Path(directory) / f"{name}.npz", **{k: v for k, v in arrays.items()
                                                   if v is not None})


def gt_for(image_file: Path, gt_dir, *, labels=1, spacing=True, name=None) -> Path:
    """A ground-truth file for a good case: ``labels`` blocks inside its first box."""
    shape = PET_VOLUME.shape if image_file.name.startswith("3D") else OCT_IMAGE.shape[:2]
    gts = np.zeros(shape, np.uint8)
    for k in range(labels):
        gts[..., 5 + 2 * k:6 + 2 * k, 5:12] = k + 1
    arrays = {"gts": gts}
    if len(shape) == 3 and spacing:
        arrays["spacing"] = np.array([1.0, 1.0, 2.0])
    return npz(Path(gt_dir) / (name or image_file.name), **arrays)


def garbled_header_npy() -> bytes:
    """An ``.npy`` whose header dict is cut off mid-tuple (``tokenize``/``SyntaxError`` inside)."""
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (20, 24,"
    header += b" " * (63 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 16


def oversized_header_npy(shape=(100_000, 100_000, 3)) -> bytes:
    """A valid ``.npy`` header claiming ``shape`` (30 GB), followed by 16 bytes of data."""
    d = {"descr": "|u1", "fortran_order": False, "shape": shape}
    header = repr(d).encode()
    header += b" " * (127 - len(header) - 10) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 16


def lying_size_npz(path) -> Path:
    """A deflated member whose zip directory claims ~4 GB from a few hundred bytes (zip bomb)."""
    path = zip_members(path, {"imgs.npy": npy_bytes(OCT_IMAGE), "boxes.npy": npy_bytes(OCT_BOX)},
                       compress=True)
    data = bytearray(path.read_bytes())
    cd = data.rfind(b"PK\x01\x02")  # the last central-directory entry: boxes.npy
    while cd >= 0:
        data[cd + 24:cd + 28] = (0xFFFF_0000).to_bytes(4, "little")  # uncompressed size
        cd = data.rfind(b"PK\x01\x02", 0, cd)
    path.write_bytes(bytes(data))
    return path


# --------------------------------------------------------------------------- pickles

class Payload:
    """Unpickling this creates ``marker`` -- code running from a data file."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def payload_pickle(marker) -> bytes:
    return pickle.dumps({"imgs": Payload(marker)})


def payload_object_array(marker) -> np.ndarray:
    a = np.empty(1, dtype=object)
    a[0] = Payload(marker)
    return a


def torch_payload(path, marker) -> Path:
    """A ``torch.save`` archive (zip format) whose pickle carries the payload."""
    import torch

    with open(path, "wb") as f:
        torch.save({"weight": Payload(marker)}, f)
    return Path(path)
