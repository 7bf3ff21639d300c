"""Reading and writing the challenge's ``.npz`` files (CVPR 2024 MedSAM-on-Laptop format).

* 2D image file: ``imgs`` (H, W, 3) uint8, ``boxes`` (N, 4) ``[x_min, y_min, x_max, y_max]``.
* 3D image file: ``imgs`` (D, H, W) uint8, ``boxes`` (N, 6)
  ``[x_min, y_min, z_min, x_max, y_max, z_max]``, ``spacing`` in SimpleITK (x, y, z) order.
* Ground-truth file: ``gts`` (instance ids 1..N in box order, 0 = background), 3D: ``spacing``.
* Prediction file: ``segs`` with the image's spatial shape, instance id = box index + 1.

Box maxima are inclusive. The modality is parsed from the **file name** only (never from
the directory: a folder called ``US_data`` must not re-route every case inside it).

User files are never unpickled: every ``np.load`` here uses ``allow_pickle=False``.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> img = np.zeros((32, 40, 3), np.uint8)
>>> case = Case(name="2DBox_US_0001", image=img, boxes=np.array([[2, 3, 10, 12]]))
>>> case.modality, case.is_3d, case.n_boxes
('US', False, 1)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = save_case(case, d / "2DBox_US_0001.npz")
>>> load_case(p).boxes.tolist()
[[2, 3, 10, 12]]
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
import zipfile
from io import BytesIO
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = [
    "MODALITIES",
    "MODALITIES_3D",
    "ChallengeFileError",
    "UnknownModalityWarning",
    "Case",
    "parse_modality",
    "dimension_from_name",
    "load_case",
    "load_ground_truth",
    "load_prediction",
    "save_prediction",
    "save_case",
    "list_case_files",
    "iter_cases",
    "atomic_savez",
    "atomic_write",
    "to_uint8",
]

#: Canonical modality names, in the order of the paper's Table 11.
MODALITIES = (
    "CT", "MR", "PET", "US", "XRay", "Dermoscopy", "Endoscopy", "Fundus",
    "Microscopy", "Mammography", "OCT",
)
MODALITIES_3D = ("CT", "MR", "PET")

# Spellings seen in challenge file names -> canonical name (keys lower case, '-' removed).
_ALIASES = {
    "ct": "CT", "mr": "MR", "mri": "MR", "pet": "PET", "us": "US", "ultrasound": "US",
    "xray": "XRay", "cxr": "XRay", "dermoscopy": "Dermoscopy", "endoscopy": "Endoscopy",
    "fundus": "Fundus", "microscope": "Microscopy", "microscopy": "Microscopy",
    "mammography": "Mammography", "mammo": "Mammography", "oct": "OCT",
}

#: Keys a challenge image/GT file may hold that we read or knowingly ignore.
_IMAGE_KEYS = {"imgs", "boxes", "spacing", "gts"}
_IGNORED_KEYS = {"text_prompts", "origin", "direction"}  # SimpleITK metadata, 2025 text prompts


class ChallengeFileError(ValueError):
    """A challenge file (or array) is malformed. The message names the file and the problem."""

    def __init__(self, source, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class UnknownModalityWarning(UserWarning):
    """The modality could not be parsed from the file name; the caller must choose one."""


def parse_modality(name: str | os.PathLike) -> str | None:
    """Canonical modality parsed from a challenge file **name** (the directory is ignored).

    Examples
    --------
    >>> parse_modality("/data/US_data/2DBox_Microscope_0001.npz")
    'Microscopy'
    >>> parse_modality("3DBox_CT_0566.npz"), parse_modality("2DBox_X-Ray_01.npz")
    ('CT', 'XRay')
    >>> parse_modality("2DBox_unknown_7.npz") is None
    True
    """
    stem = Path(name).name
    stem = re.sub(r"\.npz$", "", stem, flags=re.I)
    stem = re.sub(r"^[23]DBox_", "", stem, flags=re.I)
    for token in stem.split("_"):
        hit = _ALIASES.get(token.replace("-", "").lower())
        if hit:
            return hit
    return None


def dimension_from_name(name: str | os.PathLike) -> int | None:
    """2 or 3 from the ``2D``/``3D`` file-name prefix (as the official evaluation does), else None."""
    stem = Path(name).name
    if stem.startswith("3D"):
        return 3
    if stem.startswith("2D"):
        return 2
    return None


@dataclass
class Case:
    """One box-prompted segmentation case.

    Parameters
    ----------
    name : str
        Case name (file stem); the modality is parsed from it when not given.
    image : ndarray
        2D: (H, W, 3) uint8. 3D: (D, H, W) uint8.
    boxes : ndarray
        (N, 4) or (N, 6) integer boxes with inclusive maxima.
    modality : str, optional
        Canonical modality (see :data:`MODALITIES`); parsed from ``name`` if None.
    spacing : tuple of 3 floats, optional
        3D voxel spacing in the challenge's (x, y, z) order (mm).
    gts : ndarray, optional
        Ground-truth instance labels with the image's spatial shape.
    path : Path, optional
        File the case was read from (used in error messages).
    meta : dict
        Provenance: ``synthetic``, ``source``, ``licence``, generator and seed, ...
    """

    name: str
    image: np.ndarray
    boxes: np.ndarray
    modality: str | None = None
    spacing: tuple | None = None
    gts: np.ndarray | None = None
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        src = self.path if self.path is not None else self.name
        if self.modality is None:
            self.modality = parse_modality(self.name)
        elif self.modality not in MODALITIES:
            canon = _ALIASES.get(str(self.modality).replace("-", "").lower())
            if canon is None:
                raise ChallengeFileError(src, f"unknown modality {self.modality!r}; choose one of {MODALITIES}")
            self.modality = canon
        self.image, self.boxes, self.spacing = _validate_image_boxes(
            src, self.image, self.boxes, self.spacing, dim_hint=dimension_from_name(self.name)
        )
        if self.gts is not None:
            self.gts = _validate_labels(src, self.gts, self.spatial_shape, key="gts")

    @property
    def is_3d(self) -> bool:
        return self.boxes.shape[1] == 6

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.image.shape if self.is_3d else self.image.shape[:2]

    @property
    def n_boxes(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        """Spacing reordered to array axis order (z, y, x); (1, 1, 1) when unknown."""
        if self.spacing is None:
            return (1.0, 1.0, 1.0)
        x, y, z = self.spacing
        return (float(z), float(y), float(x))

    def __repr__(self) -> str:  # arrays would flood a notebook
        tag = " synthetic" if self.synthetic else ""
        return (f"Case({self.name!r}, {self.modality}{tag}, image {self.image.shape} {self.image.dtype}, "
                f"{self.n_boxes} boxes, gts={'yes' if self.gts is not None else 'no'})")


# --------------------------------------------------------------------------- validation

def _finite_integral(src, key: str, a: np.ndarray) -> np.ndarray:
    if a.dtype == object:
        raise ChallengeFileError(src, f"'{key}' is an object array; refusing it (pickled data is never loaded)")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == bool):
        raise ChallengeFileError(src, f"'{key}' must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        raise ChallengeFileError(src, f"'{key}' holds values too large for int64")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ChallengeFileError(src, f"'{key}' contains NaN or inf")
        if not np.all(a == np.round(a)):
            raise ChallengeFileError(src, f"'{key}' must hold whole numbers, got non-integer values")
    return a.astype(np.int64)


def _validate_image_boxes(src, image, boxes, spacing, *, dim_hint=None):
    image = np.asarray(image)
    if image.dtype == object:
        raise ChallengeFileError(src, "'imgs' is an object array; refusing it")
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating) and not np.all(np.isfinite(image)):
            raise ChallengeFileError(src, "'imgs' contains NaN or inf")
        raise ChallengeFileError(
            src, f"'imgs' must be uint8 in [0, 255] (challenge format), got dtype {image.dtype}; "
                 "rescale with classicseg.io.to_uint8() first")
    boxes = np.asarray(boxes)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 6 if (dim_hint == 3 or (dim_hint is None and image.ndim == 3 and image.shape[-1] != 3)) else 4)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 6):
        raise ChallengeFileError(src, f"'boxes' must have shape (N, 4) for 2D or (N, 6) for 3D, got {boxes.shape}")
    boxes = _finite_integral(src, "boxes", boxes)
    is_3d = boxes.shape[1] == 6
    if dim_hint is not None and dim_hint != (3 if is_3d else 2):
        raise ChallengeFileError(src, f"file name says {dim_hint}D but 'boxes' have {boxes.shape[1]} columns")
    if is_3d:
        if image.ndim != 3:
            raise ChallengeFileError(src, f"3D 'imgs' must be (D, H, W), got shape {image.shape}")
        d, h, w = image.shape
        hi = np.array([w, h, d, w, h, d]) - 1
    else:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ChallengeFileError(src, f"2D 'imgs' must be (H, W, 3), got shape {image.shape}")
        h, w = image.shape[:2]
        hi = np.array([w, h, w, h]) - 1
    if min(image.shape) == 0:
        raise ChallengeFileError(src, f"'imgs' is empty, shape {image.shape}")
    if len(boxes) == 0:
        warnings.warn(f"{src}: no boxes; the prediction will be empty", stacklevel=3)
    k = boxes.shape[1] // 2
    for i, b in enumerate(boxes):
        if np.any(b[:k] > b[k:]):
            raise ChallengeFileError(src, f"box {i} {b.tolist()} is inverted (min > max)")
        if np.any(b < 0) or np.any(b > hi):
            raise ChallengeFileError(
                src, f"box {i} {b.tolist()} lies (partly) outside the image of shape {image.shape}; "
                     f"valid coordinates are 0..{hi.tolist()} (inclusive maxima)")
    if spacing is not None:
        sp = np.asarray(spacing, dtype=float).ravel()
        if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
            raise ChallengeFileError(src, f"'spacing' must be 3 positive finite numbers (x, y, z), got {spacing!r}")
        spacing = tuple(float(v) for v in sp)
    return image, boxes, spacing


def _validate_labels(src, labels, shape, *, key: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype == object:
        raise ChallengeFileError(src, f"'{key}' is an object array; refusing it")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ChallengeFileError(src, f"'{key}' must be an integer label map, got dtype {labels.dtype}")
    if tuple(labels.shape) != tuple(shape):
        raise ChallengeFileError(src, f"'{key}' shape {labels.shape} differs from the image's spatial shape {tuple(shape)}")
    if labels.size and labels.min() < 0:
        raise ChallengeFileError(src, f"'{key}' has negative labels")
    return labels


# --------------------------------------------------------------------------- reading

def _open_npz(path: Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise ChallengeFileError(path, "file not found")
    with open(path, "rb") as f:
        magic = f.read(6)
    # Check the header ourselves: np.load falls back to unpickling anything that is not a
    # zip or .npy, which would give a misleading "pickle" message (and must never run).
    if magic.startswith(b"\x93NUMPY"):
        raise ChallengeFileError(path, "is a single .npy array, not an .npz archive (write it with np.savez)")
    if not magic.startswith(b"PK"):
        raise ChallengeFileError(path, "not an .npz archive (no zip header): corrupt, truncated or another format")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ChallengeFileError(path, "holds a pickled object array; refusing to load it "
                                           "(pickles can run code; convert the file to plain arrays)") from None
        raise ChallengeFileError(path, f"not a readable .npz ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise ChallengeFileError(path, f"corrupt or truncated .npz ({type(e).__name__}: {e})") from None


def _check_keys(path, data, required, allowed, allow_extra_keys):
    missing = [k for k in required if k not in data]
    if missing:
        raise ChallengeFileError(path, f"missing key(s) {missing}; found {sorted(data)}")
    extra = sorted(set(data) - allowed - _IGNORED_KEYS)
    if extra and not allow_extra_keys:
        raise ChallengeFileError(path, f"unexpected key(s) {extra}; allowed {sorted(allowed)} "
                                       "(pass allow_extra_keys=True to ignore them)")


def load_case(path, gt_path=None, *, modality: str | None = None, allow_extra_keys: bool = False) -> Case:
    """Read a challenge image file (and optionally its ground truth) as a validated :class:`Case`.

    Parameters
    ----------
    path : path-like
        ``.npz`` with ``imgs`` and ``boxes`` (3D: ``spacing``). A ``gts`` key in the
        same file is used as ground truth when ``gt_path`` is None.
    gt_path : path-like, optional
        Separate ground-truth ``.npz`` (key ``gts``).
    modality : str, optional
        Override the modality parsed from the file name. If neither gives one, an
        :class:`UnknownModalityWarning` is issued and ``case.modality`` is None.
    allow_extra_keys : bool
        Ignore keys other than imgs/boxes/spacing/gts instead of raising.
    """
    path = Path(path)
    data = _open_npz(path)
    _check_keys(path, data, ["imgs", "boxes"], _IMAGE_KEYS, allow_extra_keys)
    name = path.name[:-4] if path.name.lower().endswith(".npz") else path.stem
    spacing = data.get("spacing")
    gts = data.get("gts")
    if gt_path is not None:
        gts, gt_spacing = load_ground_truth(gt_path)
        if spacing is None:
            spacing = gt_spacing
    if modality is None and parse_modality(name) is None:
        warnings.warn(f"{path}: cannot parse the modality from the file name; pass modality=...",
                      UnknownModalityWarning, stacklevel=2)
    case = Case(name=name, image=data["imgs"], boxes=data["boxes"], modality=modality,
                spacing=spacing, gts=None, path=path)
    if gts is not None:
        case.gts = _validate_labels(gt_path or path, gts, case.spatial_shape, key="gts")
    if case.is_3d and case.spacing is None:
        warnings.warn(f"{path}: 3D case without 'spacing'; distances will assume 1 mm voxels", stacklevel=2)
    return case


def load_ground_truth(path) -> tuple[np.ndarray, tuple | None]:
    """Read a ground-truth file: returns ``(gts, spacing_or_None)``."""
    path = Path(path)
    data = _open_npz(path)
    _check_keys(path, data, ["gts"], {"gts", "spacing", "imgs", "boxes"}, True)
    gts = _validate_labels(path, data["gts"], np.shape(data["gts"]), key="gts")
    if gts.ndim not in (2, 3):
        raise ChallengeFileError(path, f"'gts' must be 2D or 3D, got shape {gts.shape}")
    spacing = data.get("spacing")
    if spacing is not None:
        sp = np.asarray(spacing, float).ravel()
        if sp.size != 3 or not np.all(np.isfinite(sp)) or np.any(sp <= 0):
            raise ChallengeFileError(path, f"'spacing' must be 3 positive finite numbers, got {spacing!r}")
        spacing = tuple(float(v) for v in sp)
    return gts, spacing


def load_prediction(path, shape=None) -> np.ndarray:
    """Read a prediction file (key ``segs``); checks the shape when ``shape`` is given."""
    path = Path(path)
    data = _open_npz(path)
    _check_keys(path, data, ["segs"], {"segs"}, True)
    segs = data["segs"]
    if segs.ndim not in (2, 3):
        raise ChallengeFileError(path, f"'segs' must be 2D or 3D, got shape {segs.shape}")
    return _validate_labels(path, segs, shape if shape is not None else segs.shape, key="segs")


# --------------------------------------------------------------------------- writing

def atomic_write(path, write, *, overwrite: bool = False) -> Path:
    """Write a file atomically: ``write(fileobj)`` fills a temp file in the same folder,
    which is fsynced and renamed into place, so an interrupted run never leaves a
    half-written file. Raises ``FileExistsError`` if ``path`` exists and not ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_npz(f, arrays: dict, compress: bool) -> None:
    # Like np.savez_compressed, but with fixed zip timestamps so that the same arrays give
    # byte-identical files (data_samples/ regenerates bit for bit), and never pickles.
    from numpy.lib import format as npformat

    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", compression=mode) as zf:
        for key, val in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = mode
            info.external_attr = 0o644 << 16
            buf = BytesIO()
            npformat.write_array(buf, np.ascontiguousarray(val), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def atomic_savez(path, *, overwrite: bool = False, compress: bool = True, **arrays) -> Path:
    """Write an ``.npz`` atomically and reproducibly (see :func:`atomic_write`).

    Raises ``FileExistsError`` if ``path`` exists and ``overwrite`` is False, so an
    interrupted or repeated run never loses or half-writes data.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: prediction/case files must end in .npz")
    return atomic_write(path, lambda f: _write_npz(f, arrays, compress), overwrite=overwrite)


def save_prediction(path, segs, *, overwrite: bool = False) -> Path:
    """Write a prediction as ``segs`` (uint16: uint8 would wrap past 255 boxes).

    Raises ``FileExistsError`` rather than overwriting an existing prediction.
    """
    segs = np.asarray(segs)
    if segs.ndim not in (2, 3):
        raise ValueError(f"{path}: segs must be 2D or 3D, got shape {segs.shape}")
    if not np.issubdtype(segs.dtype, np.integer) and segs.dtype != bool:
        raise ValueError(f"{path}: segs must be an integer label map, got {segs.dtype}")
    if segs.size and (segs.min() < 0 or segs.max() > np.iinfo(np.uint16).max):
        raise ValueError(f"{path}: labels must lie in 0..65535")
    return atomic_savez(path, overwrite=overwrite, segs=segs.astype(np.uint16))


def save_case(case: Case, path, gt_path=None, *, overwrite: bool = False) -> Path:
    """Write a case in the challenge format: image file (imgs, boxes[, spacing]) and,
    if the case has ground truth, a separate GT file (gts[, spacing]) at ``gt_path``
    (default: ground truth stored in the image file under ``gts``)."""
    arrays = {"imgs": case.image, "boxes": case.boxes}
    if case.spacing is not None:
        arrays["spacing"] = np.asarray(case.spacing, dtype=np.float64)
    if case.gts is not None and gt_path is None:
        arrays["gts"] = case.gts
    out = atomic_savez(path, overwrite=overwrite, **arrays)
    if case.gts is not None and gt_path is not None:
        gt_arrays = {"gts": case.gts}
        if case.spacing is not None:
            gt_arrays["spacing"] = arrays["spacing"]
        atomic_savez(gt_path, overwrite=overwrite, **gt_arrays)
    return out


def to_uint8(image) -> np.ndarray:
    """Min-max rescale any numeric image to uint8 [0, 255] (as the challenge pre-processing does)."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("image contains NaN or inf")
    lo, hi = a.min(), a.max()
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) / (hi - lo) * 255.0).astype(np.uint8)



# --------------------------------------------------------------------------- directories

def list_case_files(directory) -> list[Path]:
    """``*.npz`` files directly inside ``directory``, in stable (sorted by name) order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    return sorted((p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".npz"),
                  key=lambda p: p.name)


def iter_cases(directory, gt_dir=None, *, errors: str = "raise", **load_kw) -> Iterator[Case]:
    """Yield the cases of a directory in sorted order.

    ``gt_dir`` holds ground-truth files of the same names (missing ones -> ``gts`` None).
    ``errors="warn"`` reports a malformed file as a warning and goes on with the rest;
    ``errors="raise"`` (default) stops at the first one.
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")
    for p in list_case_files(directory):
        gt = Path(gt_dir) / p.name if gt_dir is not None else None
        try:
            yield load_case(p, gt if gt is not None and gt.exists() else None, **load_kw)
        except ChallengeFileError as e:
            if errors == "raise":
                raise
            warnings.warn(f"skipped {e}", stacklevel=2)
