"""The CVPR 2025 challenge format's pickled boxes, read without running any pickle code.

CVPR 2025 3D files (``junma/CVPR-BiomedSegFM``) store ``boxes`` as a pickled object array of
dicts ``{z_min, z_max, z_mid, z_mid_x_min, ...}``. :func:`read_object_member` reads such a
member with a *restricted* unpickler that can only rebuild numpy arrays, dtypes and scalars
plus plain dicts / lists / numbers -- any other object in the pickle is refused, so a
malicious file cannot run code. :func:`boxes_from_2025` turns the dicts into the 2024 layout.
:func:`classicseg.io.load_case_2025` builds a :class:`~classicseg.io.Case` from them.

Pure parsing (numpy and the standard library only); errors are ``ValueError`` with the reason,
which :mod:`classicseg.io` prefixes with the file name.
"""

from __future__ import annotations

import io as _io
import pickle
import zipfile

import numpy as np
from numpy.lib import format as npformat

__all__ = ["read_object_member", "boxes_from_2025", "KEYS_2025"]

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
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays, "
                "dtypes, scalars and plain containers are allowed") from None


def read_object_member(path, key: str):
    """Read member ``key`` of an ``.npz`` safely: a plain array with ``allow_pickle=False``, an
    object array (pickled) with the restricted unpickler. Raises ``ValueError`` with the reason."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read(f"{key}.npy")
    f = _io.BytesIO(data)
    version = npformat.read_magic(f)
    if version == (1, 0):
        _, _, dtype = npformat.read_array_header_1_0(f)
    elif version == (2, 0):
        _, _, dtype = npformat.read_array_header_2_0(f)
    else:
        raise ValueError(f"'{key}': unsupported .npy format version {version}")
    if not dtype.hasobject:
        return np.load(path, allow_pickle=False)[key]
    try:
        return _RestrictedUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
        raise ValueError(f"'{key}' could not be read safely ({e})") from None


KEYS_2025 = ("z_mid_x_min", "z_mid_y_min", "z_min", "z_mid_x_max", "z_mid_y_max", "z_max")


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
            raise ValueError(f"{source}: box {i} is a {type(b).__name__}, "
                             f"expected a dict with keys {KEYS_2025}")
        missing = [k for k in KEYS_2025 if k not in b]
        if missing:
            raise ValueError(f"{source}: box {i} lacks {missing}")
        out.append([int(b[k]) for k in KEYS_2025])
    return np.array(out, dtype=np.int64).reshape(len(out), 6)
