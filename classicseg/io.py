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

import contextlib
import csv
import errno
import os
import re
import stat
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Iterator

import numpy as np

from .io_cvpr2025 import boxes_from_2025, read_object_member
from .validation import (
    InvalidInputError,
    check_boxes,
    check_image,
    check_labels,
    check_rgb_image,
    check_spacing,
    spatial_ndim,
)

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
    "scan_case_files",
    "SkippedEntry",
    "case_stem",
    "resolve_layout",
    "iter_cases",
    "load_case_2025",
    "manifest_synthetic_flags",
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


class ChallengeFileError(InvalidInputError):
    """A challenge file (or array) is malformed: ``"<file>: <problem>"``.

    ``problem`` is worded as :mod:`classicseg.validation` words it for the same array (a
    ``ValueError``, like every :class:`~classicseg.validation.InvalidInputError`)."""

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
    """2 or 3 from the ``2D``/``3D`` file-name prefix (as the official evaluation does), else
    None."""
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
                raise ChallengeFileError(src, f"unknown modality {self.modality!r}; choose one "
                                              f"of {MODALITIES}")
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
        gts = "yes" if self.gts is not None else "no"
        return (f"Case({self.name!r}, {self.modality}{tag}, image {self.image.shape} "
                f"{self.image.dtype}, {self.n_boxes} boxes, gts={gts})")


# --------------------------------------------------------------------------- validation

@contextlib.contextmanager
def _in_file(src):
    """Re-raise a validation error as a ChallengeFileError naming ``src`` (same problem text)."""
    try:
        yield
    except ChallengeFileError:
        raise
    except InvalidInputError as e:
        raise ChallengeFileError(src, str(e)) from None


def _validate_image_boxes(src, image, boxes, spacing, *, dim_hint=None):
    """The :mod:`classicseg.validation` rules plus the challenge's: uint8 images, (H, W, 3) in 2D,
    and a 2D/3D file name that agrees with the boxes."""
    with _in_file(src):
        ndim = spatial_ndim(image, boxes)
        width = np.shape(boxes)[-1] if np.ndim(boxes) == 2 and np.size(boxes) else None
        if dim_hint is not None and width in (4, 6) and dim_hint != ndim:
            raise ChallengeFileError(src, f"file name says {dim_hint}D but 'boxes' have "
                                          f"{width} columns")
        ndim = dim_hint if dim_hint is not None else ndim
        if ndim == 3:
            image = check_image(image, ndim=3)
        else:
            image = check_rgb_image(image, allow_gray=False)
        if image.dtype != np.uint8:
            raise InvalidInputError(f"image must be uint8 in [0, 255] (the challenge format), "
                                    f"got dtype {image.dtype}; rescale with "
                                    "classicseg.io.to_uint8() first")
        boxes = check_boxes(boxes, image.shape if ndim == 3 else image.shape[:2])
        if spacing is not None:
            spacing = check_spacing(spacing, ndim=3)
    if len(boxes) == 0:
        warnings.warn(f"{src}: no boxes; the prediction will be empty", stacklevel=3)
    return image, boxes, spacing


def _validate_labels(src, labels, shape, *, key: str) -> np.ndarray:
    with _in_file(src):
        return check_labels(labels, shape, arg_name=key)


# --------------------------------------------------------------------------- reading

#: Deflate cannot compress better than about 1032:1; a member claiming more is corrupt (or a
#: zip bomb).
_MAX_DEFLATE_RATIO = 1100


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    """``(shape, dtype, header_bytes)`` of one ``.npy`` member, read without allocating anything
    from its (untrusted) header."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read(f, max_header_size=10_000)
        return shape, dtype, f.tell()


def _check_member(info: zipfile.ZipInfo, shape, dtype, header: int) -> None:
    """Refuse a member whose header declares more data than the member holds."""
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise ValueError(f"invalid shape {shape!r} in its header")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = info.file_size - header
    if declared > available:
        raise ValueError(f"its header declares shape {tuple(shape)} {dtype} ({declared:,} bytes) "
                         f"but the member holds only {max(available, 0):,} bytes: the file is "
                         "corrupt or truncated")
    deflated = info.compress_type != zipfile.ZIP_STORED
    if deflated and info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + (1 << 20):
        raise ValueError(f"it claims {info.file_size:,} bytes from {info.compress_size:,} "
                         "compressed bytes: the file is corrupt")


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    """Every member of an ``.npz`` as an array, read defensively: headers are checked against the
    member sizes before anything is allocated, pickles are refused, and whatever goes wrong in
    zip, numpy or the header parser becomes one :class:`ChallengeFileError` naming file and
    member."""
    path = Path(path)
    if not path.is_file():
        raise ChallengeFileError(path, "file not found" if not path.exists() else
                                 "not a regular file")
    with open(path, "rb") as f:
        magic = f.read(6)
    # Check the header ourselves: np.load falls back to unpickling anything that is not a
    # zip or .npy, which would give a misleading "pickle" message (and must never run).
    if not magic:
        raise ChallengeFileError(path, "is an empty file, not an .npz archive")
    if magic.startswith(b"\x93NUMPY"):
        raise ChallengeFileError(path, "is a single .npy array, not an .npz archive (write it "
                                       "with np.savez)")
    if not magic.startswith(b"PK"):
        raise ChallengeFileError(path, "not an .npz archive (no zip header): corrupt, truncated "
                                       "or another format")
    out: dict[str, np.ndarray] = {}
    member = None
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                member = info.filename
                if not member.endswith(".npy") or info.is_dir():
                    continue  # np.savez writes only .npy members; anything else is not ours to read
                try:
                    shape, dtype, header = _member_header(zf, info)
                except Exception:  # ValueError, SyntaxError, tokenize.TokenError, ...
                    # the parser's own words ("EOF in multi-line statement") help nobody
                    raise ChallengeFileError(path, f"member '{member[:-4]}' has a garbled .npy "
                                                   "header: the file is corrupt") from None
                if dtype.hasobject:
                    raise ChallengeFileError(path, f"'{member[:-4]}' is a pickled object array; "
                                                   "refusing to load it (pickles can run code; "
                                                   "convert the file to plain arrays)")
                try:
                    _check_member(info, shape, dtype, header)
                except ValueError as e:
                    raise ChallengeFileError(path, f"member '{member[:-4]}': {e}") from None
                with zf.open(info) as f:
                    out[member[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
    except ChallengeFileError:
        raise
    except MemoryError:
        raise ChallengeFileError(path, f"member '{member}' is too large to load into "
                                       "memory") from None
    except Exception as e:  # zip, numpy and tokenize errors alike: the file is unusable, say so
        where = f" (member '{member}')" if member else ""
        raise ChallengeFileError(path, f"corrupt or truncated .npz{where}: "
                                       f"{type(e).__name__}: {e}") from None
    return out


def _check_keys(path, data, required, allowed, allow_extra_keys):
    missing = [k for k in required if k not in data]
    if missing:
        raise ChallengeFileError(path, f"missing key(s) {missing}; found {sorted(data)}")
    extra = sorted(set(data) - allowed - _IGNORED_KEYS)
    if extra and not allow_extra_keys:
        # no API hint here: the message also reaches command-line users, who have no such option
        raise ChallengeFileError(path, f"unexpected key(s) {extra}; a challenge file holds only "
                                       f"{sorted(allowed | _IGNORED_KEYS)}")


def load_case(path, gt_path=None, *, modality: str | None = None,
              allow_extra_keys: bool = False) -> Case:
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
        warnings.warn(f"{path}: 3D case without 'spacing'; distances will assume 1 mm voxels",
                      stacklevel=2)
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
        with _in_file(path):
            spacing = check_spacing(spacing, ndim=3)
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
    """Min-max rescale any numeric image to uint8 [0, 255] (as the challenge pre-processing
    does)."""
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

def case_stem(path) -> str:
    """A case's name: its file name without the ``.npz`` ending (any letter case).

    >>> case_stem("imgs/2DBox_US_0001.NPZ"), case_stem("3DBox_CT_a.b.npz")
    ('2DBox_US_0001', '3DBox_CT_a.b')
    """
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".npz") else name


@dataclass(frozen=True)
class SkippedEntry:
    """An ``*.npz`` entry of a folder that is not a usable case file, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _entry_problem(p: Path) -> str | None:
    """Why the ``*.npz`` entry ``p`` cannot be read as a case file (None: it can)."""
    try:
        st = p.stat()  # follows links
    except OSError as e:
        if p.is_symlink():
            loop = e.errno == errno.ELOOP
            return "symbolic link loop" if loop else "broken symbolic link (its target is missing)"
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a pipe, socket or device)"  # opening a FIFO would block
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    return None


def scan_case_files(directory) -> tuple[list[Path], list[SkippedEntry]]:
    """``(case files, skipped entries)`` of the ``*.npz`` entries directly inside ``directory``.

    The one place that decides which entries of a folder are cases, for every command:
    regular, readable files whose name ends in ``.npz`` (any letter case), sorted by name.
    Every other ``*.npz`` entry is returned with the reason it is skipped -- a broken or
    looping symbolic link, a directory, a pipe, an unreadable file, or a second file with
    the same case name (``a.npz`` beside ``a.NPZ``: the first in sorted order is kept).
    Entries with other endings (``MANIFEST.tsv``, notes) are not cases and are not listed.

    Raises
    ------
    NotADirectoryError
        ``directory`` is not a directory.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.npz").write_bytes(b"PK"); _ = (d / "a.NPZ").write_bytes(b"PK")
    >>> (d / "gone.npz").symlink_to(d / "missing.npz")
    >>> files, skipped = scan_case_files(d)
    >>> [f.name for f in files]
    ['a.NPZ']
    >>> for s in skipped:
    ...     print(s.path.name, "--", s.reason)
    a.npz -- same case name 'a' as a.NPZ (the names differ only in letter case)
    gone.npz -- broken symbolic link (its target is missing)
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    files: list[Path] = []
    skipped: list[SkippedEntry] = []
    kept: dict[str, Path] = {}
    for p in sorted(directory.iterdir(), key=lambda p: p.name):
        if not p.name.lower().endswith(".npz"):
            continue
        problem = _entry_problem(p)
        first = kept.get(case_stem(p))
        if problem is None and first is not None:
            problem = (f"same case name {case_stem(p)!r} as {first.name} (the names differ only "
                       "in letter case)")
        if problem is not None:
            skipped.append(SkippedEntry(p, problem))
            continue
        kept[case_stem(p)] = p
        files.append(p)
    return files, skipped


def list_case_files(directory) -> list[Path]:
    """The case files of ``directory`` (see :func:`scan_case_files`, which also says which
    ``*.npz`` entries it skipped and why), in stable (sorted by name) order."""
    return scan_case_files(directory)[0]


def resolve_layout(directory, gt_dir=None) -> tuple[Path, Path | None]:
    """``(image folder, ground-truth folder or None)`` of a challenge data folder.

    Two layouts: ``DIR/imgs/`` (+ ``DIR/gts/``, used when ``gt_dir`` is not given and it
    exists) -- how the challenge ships its data and :func:`classicseg.samples.write` writes
    it -- or a flat ``DIR/*.npz`` (files may carry ``gts`` themselves, or pass ``gt_dir``).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    img_dir = directory / "imgs" if (directory / "imgs").is_dir() else directory
    if gt_dir is None and img_dir != directory and (directory / "gts").is_dir():
        gt_dir = directory / "gts"
    return img_dir, (Path(gt_dir) if gt_dir is not None else None)


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
        raw = read_object_member(path, "boxes")
        numeric = isinstance(raw, np.ndarray) and not raw.dtype.hasobject
        boxes = raw if numeric else boxes_from_2025(raw, source="boxes")
    except ValueError as e:
        raise ChallengeFileError(path, str(e)) from None
    if gt_path is not None:
        gts, gt_spacing = load_ground_truth(gt_path)
        spacing = spacing if spacing is not None else gt_spacing
    name = case_stem(path)
    meta = ({"format": "CVPR2024 (pickled extra keys were not read)"} if numeric else
            {"format": "CVPR2025", "box_xy": "extent on the z_mid slice"})
    return Case(name=name, image=image, boxes=boxes, modality=modality, spacing=spacing, gts=gts,
                path=path, meta=meta)


def iter_cases(directory, gt_dir=None, *, errors: str = "raise", modality: str | None = None,
               allow_extra_keys: bool = False) -> Iterator[Case]:
    """Yield the validated cases of a folder of challenge files, sorted by file name.

    Parameters
    ----------
    directory : path-like
        ``DIR`` with ``imgs/`` (+ optional ``gts/``), or a flat folder of ``.npz`` files
        (see :func:`resolve_layout`). CVPR 2024 files and CVPR 2025 3D files (pickled box
        dicts, read safely: :mod:`classicseg.io_cvpr2025`) are both accepted.
    gt_dir : path-like, optional
        Ground-truth files of the same names (missing ones -> ``gts`` None).
    errors : {"raise", "warn"}
        Stop at the first malformed file, or warn (naming it) and go on with the rest.
    modality : str, optional
        Override the modality parsed from the file names.
    allow_extra_keys : bool
        Ignore unknown keys in the files.

    Yields
    ------
    Case
        ``case.path`` is the image file; ``meta["synthetic"]`` comes from a ``MANIFEST.tsv``
        beside the files when there is one.

    Examples
    --------
    >>> import tempfile
    >>> from classicseg import samples
    >>> d = tempfile.mkdtemp()
    >>> _ = samples.write(d, ["oct-cysts"])
    >>> [(c.name, c.synthetic) for c in iter_cases(d)]
    [('2DBox_OCT_synthetic-cysts', True)]
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn', got {errors!r}")
    img_dir, gdir = resolve_layout(directory, gt_dir)
    synthetic = manifest_synthetic_flags(img_dir)  # written by classicseg.samples.write
    files, skipped = scan_case_files(img_dir)
    for entry in skipped:  # a broken link or a name clash is never dropped without a word
        if errors == "raise":
            raise ChallengeFileError(entry.path, entry.reason)
        warnings.warn(f"skipped {entry}", stacklevel=2)
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
