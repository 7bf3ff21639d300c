"""The one input validator: images, boxes, spacings and label maps.

Every entry point (the classical methods, :class:`classicseg.io.Case` and the file readers,
LiteMedSAM, MobileUNet, the widgets) checks its arguments here, so the same bad input gives
the same :class:`InvalidInputError` with the same message whichever way it comes in.
:mod:`classicseg.io` re-raises it as a ``ChallengeFileError`` (a subclass) that puts the
file name in front: ``"<file>: <the message below>"``.

The rules, decided once:

* **Arrays** (images, boxes, spacings) hold real numbers: any integer or floating dtype.
  ``bool``, ``object``, ``complex`` and strings are refused; float values must be finite.
* **Images** have the rank the method needs and at least one pixel. A 2D image is
  ``(H, W, 3)`` or, where the method allows it, ``(H, W)`` grayscale; a 3D one ``(D, H, W)``.
  The intensity range is the caller's rule (the challenge files and LiteMedSAM need uint8
  values, the classical methods do not).
* **Boxes** are ``(N, 4)`` ``[x0, y0, x1, y1]`` or ``(N, 6)`` ``[x0, y0, z0, x1, y1, z1]``
  (one flat box is accepted as ``N = 1``; at most :data:`MAX_BOXES` = 65,535, what a uint16
  label map can number), whole numbers, ``min <= max`` on every axis, and inside the image
  with **inclusive** maxima. Boxes outside the image raise rather than being clipped
  silently (``clip=True`` clips those that overlap it).
* **Spacings** are ``ndim`` positive finite numbers in the challenge's (x, y[, z]) order.
* **Label maps** are integer arrays (``bool`` masks become uint8) without negative labels.

Messages name the argument (``arg_name``) and the problem, scikit-image style.

Examples
--------
>>> import numpy as np
>>> check_boxes([[2, 3, 10, 12]], (20, 30)).tolist()
[[2, 3, 10, 12]]
>>> check_boxes([[10, 3, 2, 12]], (20, 30))
Traceback (most recent call last):
    ...
classicseg.validation.InvalidInputError: boxes[0] = [10, 3, 2, 12] is inverted (min > max)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "InvalidInputError",
    "check_image",
    "check_rgb_image",
    "check_boxes",
    "check_box",
    "check_spacing",
    "check_labels",
    "spatial_ndim",
    "MAX_BOXES",
]

#: Most boxes one case may have: predictions are uint16 label maps, one label per box.
MAX_BOXES = int(np.iinfo(np.uint16).max)

_REAL_KINDS = "iuf"  # signed / unsigned integers, floats: bool is kind "b"


class InvalidInputError(ValueError):
    """An argument is malformed; the message names the argument and the problem."""


# --------------------------------------------------------------------------- arrays

def _as_array(x, arg_name: str) -> np.ndarray:
    try:
        return np.asarray(x)
    except (ValueError, TypeError):  # ragged nested lists
        raise InvalidInputError(f"{arg_name} is not a rectangular array (ragged lists?)") from None


def _real_array(x, arg_name: str) -> np.ndarray:
    """``x`` as an array of real numbers (no copy), else InvalidInputError."""
    a = _as_array(x, arg_name)
    if a.dtype.kind not in _REAL_KINDS:
        raise InvalidInputError(f"{arg_name} must be a real numeric array (integers or floats), "
                                f"got dtype {a.dtype}")
    return a


def _nonempty_finite(a: np.ndarray, arg_name: str) -> np.ndarray:
    if a.size == 0:
        raise InvalidInputError(f"{arg_name} is empty, shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InvalidInputError(f"{arg_name} contains NaN or inf")
    return a


def check_image(image, *, ndim: int, arg_name: str = "image") -> np.ndarray:
    """Return ``image`` as an array of rank ``ndim`` after checking dtype and values (no copy).

    Raises
    ------
    InvalidInputError
        Not real numbers (bool, object, complex, strings), wrong rank, empty, NaN or inf.

    Examples
    --------
    >>> check_image(np.zeros((4, 5, 6)), ndim=3).shape
    (4, 5, 6)
    >>> check_image(np.zeros((4, 5), bool), ndim=2, arg_name="volume")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    classicseg.validation.InvalidInputError: volume must be a real numeric array ..., got dtype bool
    """
    a = _real_array(image, arg_name)
    if a.ndim != ndim:
        raise InvalidInputError(f"{arg_name} must have {ndim} dimensions, got shape {a.shape}")
    return _nonempty_finite(a, arg_name)


def check_rgb_image(image, *, arg_name: str = "image", allow_gray: bool = True) -> np.ndarray:
    """Return a 2D image ``(H, W, 3)`` -- or ``(H, W)`` grayscale if ``allow_gray`` -- (no copy).

    Same dtype and value rules as :func:`check_image`.

    Examples
    --------
    >>> check_rgb_image(np.zeros((4, 5), np.uint8)).shape
    (4, 5)
    >>> check_rgb_image(np.zeros((4, 5), np.uint8), allow_gray=False)
    Traceback (most recent call last):
        ...
    classicseg.validation.InvalidInputError: image must be a 2D image of shape (H, W, 3), got ...
    """
    a = _real_array(image, arg_name)
    if not ((a.ndim == 3 and a.shape[2] == 3) or (allow_gray and a.ndim == 2)):
        shapes = "(H, W, 3) or (H, W)" if allow_gray else "(H, W, 3)"
        raise InvalidInputError(f"{arg_name} must be a 2D image of shape {shapes}, "
                                f"got shape {a.shape}")
    return _nonempty_finite(a, arg_name)


# --------------------------------------------------------------------------- boxes

def spatial_ndim(image, boxes) -> int:
    """2 or 3: from the boxes' width when it is 4 or 6, else from the image's shape.

    For the entry points that take both 2D and 3D input, so that a malformed box array is
    reported against the image it comes with.

    Examples
    --------
    >>> spatial_ndim(np.zeros((5, 8, 8)), [[0, 0, 0, 1, 1, 1]])
    3
    >>> spatial_ndim(np.zeros((8, 8, 3)), [])  # no boxes: the image decides
    2
    """
    try:
        shape = np.shape(boxes)
    except ValueError:  # ragged
        shape = ()
    if len(shape) in (1, 2) and shape[-1] in (4, 6) and np.prod(shape) > 0:
        return shape[-1] // 2
    shape = np.shape(image)
    return 2 if len(shape) == 2 or (len(shape) == 3 and shape[-1] == 3) else 3


def _shape_problem(arg_name: str, shape: tuple, ndim: int) -> str:
    k = 2 * ndim
    width = shape[-1] if len(shape) in (1, 2) else None
    if width in (4, 6) and width != k:  # boxes of the other dimension
        return (f"{arg_name} hold {width} coordinates per box ({width // 2}D boxes) but the image "
                f"is {ndim}D; expected shape (N, {k}), got shape {shape}")
    return (f"{arg_name} must have shape (N, 4) [x0, y0, x1, y1] for a 2D image or (N, 6) "
            f"[x0, y0, z0, x1, y1, z1] for a 3D image (this one is {ndim}D), got shape {shape}")


def _show(row: np.ndarray) -> list:
    """A box for a message: ints when whole (also huge ones), floats otherwise."""
    if row.dtype.kind == "f" and not (np.isfinite(row).all() and np.all(row == np.round(row))):
        return row.tolist()
    return [int(v) for v in row]


def _row_problem(b: np.ndarray, ndim: int, spatial_shape=None, clip: bool = False):
    """First ``(index, problem)`` among the rows of the (N, 2 * ndim) real array ``b``, or None.

    Without ``spatial_shape`` the boxes are not checked against image bounds."""
    mins, maxs = b[:, :ndim], b[:, ndim:]
    checks = []
    if b.dtype.kind == "f":
        finite = np.isfinite(b).all(axis=1)
        fractional = finite & (b != np.round(b)).any(axis=1)
        checks += [(~finite, "contains NaN or inf"),
                   (fractional, "must hold whole numbers (pixel indices)")]
    checks.append(((mins > maxs).any(axis=1), "is inverted (min > max)"))
    if spatial_shape is not None:
        hi = np.array(spatial_shape[::-1], dtype=np.int64) - 1  # box order (x, y[, z])
        axes = "(x, y, z)" if ndim == 3 else "(x, y)"
        where = f"the image of spatial shape {tuple(int(s) for s in spatial_shape)}"
        valid = f"(valid {axes} from 0 to {hi.tolist()}, maxima inclusive)"
        entirely = (maxs < 0).any(axis=1) | (mins > hi).any(axis=1)
        partly = (mins < 0).any(axis=1) | (maxs > hi).any(axis=1)
        checks.append((entirely, f"lies entirely outside {where} {valid}"))
        if not clip:
            checks.append((partly, f"lies partly outside {where} {valid}; "
                                   "clip it with classicseg.boxes.clip_box if intended"))
    for bad, problem in checks:
        hit = np.flatnonzero(bad)
        if hit.size:
            return int(hit[0]), problem
    return None


def check_boxes(boxes, spatial_shape, *, arg_name: str = "boxes", clip: bool = False) -> np.ndarray:
    """Validate boxes against an image of ``spatial_shape`` ((H, W) or (D, H, W)).

    Parameters
    ----------
    boxes : array-like
        (N, 4) or (N, 6) boxes, inclusive maxima; one flat box counts as N = 1.
    spatial_shape : tuple of int
        The image's spatial shape in array order.
    arg_name : str
        Named in the error messages.
    clip : bool
        Clip boxes that overlap the image to it (a drawn box may stick out); boxes lying
        entirely outside still raise. Default: any box outside the image raises.

    Returns
    -------
    ndarray
        int64 (N, 4) or (N, 6), a copy.

    Examples
    --------
    >>> check_boxes([2.0, 3, 10, 12], (20, 30)).tolist()
    [[2, 3, 10, 12]]
    >>> check_boxes([[-5, 3, 40, 12]], (20, 30), clip=True).tolist()
    [[0, 3, 29, 12]]
    """
    ndim = len(spatial_shape)
    k = 2 * ndim
    b = _as_array(boxes, arg_name)
    shape = b.shape
    if b.size == 0:
        b = np.zeros((0, k), np.int64)
    elif b.ndim == 1:
        b = b[None]  # one box given flat
    if b.ndim != 2 or b.shape[1] != k:
        raise InvalidInputError(_shape_problem(arg_name, shape, ndim))
    b = _real_array(b, arg_name)
    if len(b) > MAX_BOXES:  # refuse up front, not deep inside a segmentation
        raise InvalidInputError(f"{arg_name} holds {len(b):,} boxes, more than the {MAX_BOXES:,} "
                                "a uint16 label map can hold (one label per box)")
    found = _row_problem(b, ndim, spatial_shape, clip)
    if found is not None:
        i, problem = found
        raise InvalidInputError(f"{arg_name}[{i}] = {_show(b[i])} {problem}")
    if clip:
        hi = np.array(spatial_shape[::-1], dtype=np.int64) - 1
        b = np.clip(b, 0, np.concatenate([hi, hi]))
    return b.astype(np.int64)


def check_box(box, *, arg_name: str = "box") -> np.ndarray:
    """One box of 4 (2D) or 6 (3D) whole numbers with ``min <= max``; int64 (no image bounds).

    Examples
    --------
    >>> check_box([2, 1, 4, 3.0]).tolist()
    [2, 1, 4, 3]
    """
    b = _as_array(box, arg_name)
    if b.ndim != 1 or b.size not in (4, 6):
        raise InvalidInputError(f"{arg_name} must have 4 (2D) or 6 (3D) coordinates, "
                                f"got shape {b.shape}")
    b = _real_array(b, arg_name)
    found = _row_problem(b[None], b.size // 2)
    if found is not None:
        raise InvalidInputError(f"{arg_name} = {_show(b)} {found[1]}")
    return b.astype(np.int64)


# --------------------------------------------------------------------------- spacing, labels

def check_spacing(spacing, *, ndim: int, arg_name: str = "spacing") -> tuple[float, ...]:
    """``ndim`` positive finite numbers in the challenge's (x, y[, z]) order, as floats.

    Examples
    --------
    >>> check_spacing([0.8, 0.8, 2], ndim=3)
    (0.8, 0.8, 2.0)
    >>> check_spacing("1,1,1", ndim=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    classicseg.validation.InvalidInputError: spacing must be 3 positive ... (x, y, z), got '1,1,1'
    """
    axes = "(x, y, z)" if ndim == 3 else "(x, y)"
    try:
        sp = np.asarray(spacing)
        # a list and the array read from a file give the same text
        shown = repr(sp.tolist()) if sp.size <= 8 else f"an array of shape {sp.shape}"
    except (ValueError, TypeError):  # ragged
        sp, shown = None, repr(spacing)
    problem = f"{arg_name} must be {ndim} positive finite numbers {axes}, got {shown}"
    if sp is None:
        raise InvalidInputError(problem)
    if sp.dtype.kind not in _REAL_KINDS:  # strings are not parsed: "1,1,1" is a mistake
        raise InvalidInputError(problem)
    sp = sp.astype(np.float64).ravel()
    if sp.size != ndim or not np.isfinite(sp).all() or np.any(sp <= 0):
        raise InvalidInputError(problem)
    return tuple(float(v) for v in sp)


def check_labels(labels, spatial_shape=None, *, arg_name: str = "labels") -> np.ndarray:
    """An integer label map (0 = background) of ``spatial_shape`` if given; bool -> uint8.

    Examples
    --------
    >>> check_labels(np.ones((2, 3), bool), (2, 3)).dtype
    dtype('uint8')
    >>> check_labels(np.zeros((2, 3), np.float32), arg_name="gts")
    Traceback (most recent call last):
        ...
    classicseg.validation.InvalidInputError: gts must be an integer label map, got dtype float32
    """
    a = np.asarray(labels)
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if a.dtype.kind not in "iu":
        raise InvalidInputError(f"{arg_name} must be an integer label map, got dtype {a.dtype}")
    if spatial_shape is not None and tuple(a.shape) != tuple(spatial_shape):
        raise InvalidInputError(f"{arg_name} shape {a.shape} differs from the image's "
                                f"spatial shape {tuple(spatial_shape)}")
    if a.size and a.min() < 0:
        raise InvalidInputError(f"{arg_name} has negative labels")
    return a
