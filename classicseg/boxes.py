"""Box helpers shared by every method.

Boxes follow the challenge convention: 2D ``[x_min, y_min, x_max, y_max]`` and 3D
``[x_min, y_min, z_min, x_max, y_max, z_max]``, all maxima **inclusive** (the official
LiteMedSAM script treats them so; the paper's reference code slices ``[min:max)`` and
silently drops the last row/column/slice of every box -- we do not copy that bug).
"""

from __future__ import annotations

import numbers
import warnings
import zlib
from dataclasses import dataclass

import numpy as np

from .validation import InvalidInputError, check_box, check_boxes

__all__ = ["box_slices", "box_shape", "box_mask", "clip_box", "perturb_boxes", "BoxPerturbation"]


def _as_box(box) -> np.ndarray:
    # whole numbers, min <= max (no image bounds here): classicseg.validation.check_box
    return check_box(box)


def box_slices(box) -> tuple[slice, ...]:
    """Array slices selecting the inclusive box, in array axis order.

    Returns ``(rows, cols)`` for a 2D box and ``(slices, rows, cols)`` for a 3D box.

    Examples
    --------
    >>> box_slices([2, 1, 4, 3])
    (slice(1, 4, None), slice(2, 5, None))
    """
    b = _as_box(box)
    if b.size == 4:
        x0, y0, x1, y1 = b
        return (slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))
    x0, y0, z0, x1, y1, z1 = b
    return (slice(int(z0), int(z1) + 1), slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))


def box_shape(box) -> tuple[int, ...]:
    """Shape of the box crop in array axis order (inclusive maxima)."""
    return tuple(s.stop - s.start for s in box_slices(box))


def box_mask(shape, box) -> np.ndarray:
    """Boolean array of ``shape`` that is True inside the inclusive box."""
    m = np.zeros(shape, dtype=bool)
    m[box_slices(box)] = True
    return m


def clip_box(shape, box) -> np.ndarray:
    """Clip a box to an image of array ``shape`` ((H, W) for a 2D box, (D, H, W) for 3D).

    Shape first, like :func:`box_mask`. The 0.1 order ``clip_box(box, shape)`` still works
    for one release (with a DeprecationWarning): a box has 4 or 6 coordinates and a shape 2
    or 3 entries, so the two orders cannot be confused.

    Returns
    -------
    ndarray of int64, the box with every coordinate inside the image.

    Examples
    --------
    >>> clip_box((100, 200), [-5, 10, 250, 120]).tolist()
    [0, 10, 199, 99]
    """
    if np.size(shape) in (4, 6) and np.size(box) == np.size(shape) // 2:
        warnings.warn("clip_box(box, shape) is now clip_box(shape, box) (shape first, as "
                      "box_mask); the old order goes away in classicseg 0.3",
                      DeprecationWarning, stacklevel=2)
        shape, box = box, shape
    b = _as_box(box).copy()
    if len(shape) != b.size // 2:
        raise ValueError(f"a {b.size}-coordinate box needs a shape of {b.size // 2} entries "
                         f"(array axes), got {tuple(shape)}")
    if b.size == 4:
        h, w = shape
        hi = np.array([w - 1, h - 1, w - 1, h - 1])
    else:
        d, h, w = shape
        hi = np.array([w - 1, h - 1, d - 1, w - 1, h - 1, d - 1])
    return np.clip(b, 0, hi)


# --------------------------------------------------------------------------- perturbations
# A real user never draws the challenge's tight box: these make the box a user might draw.

def _whole(value, arg_name: str, *, minimum: int | None = None) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        ok = True  # 5.0 px is 5 px
    if not ok or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise InvalidInputError(f"{arg_name} must be a whole number{bound}, got {value!r}")
    return int(value)


def _scale(scale) -> float:
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real) \
            or not np.isfinite(scale) or scale <= 0:
        raise InvalidInputError(f"scale must be a finite number > 0 (1 = the box as given), "
                                f"got {scale!r}")
    return float(scale)


def _shift(shift, ndim: int | None) -> tuple[int, ...]:
    """(dx, dy) or (dx, dy, dz) whole pixels; (dx, dy) shifts a 3D box in-plane (dz = 0)."""
    if shift is None:
        return (0,) * (ndim or 2)
    try:
        values = [float(v) for v in np.asarray(shift, dtype=object).ravel()]
    except (TypeError, ValueError):
        values = []
    allowed = (2, 3) if ndim in (None, 3) else (2,)
    if len(values) not in allowed or not all(np.isfinite(v) and v.is_integer() for v in values):
        want = "(dx, dy)" if ndim == 2 else "(dx, dy) or (dx, dy, dz)"
        raise InvalidInputError(f"shift must be {want} whole pixels, got {shift!r}")
    values = [int(v) for v in values]
    return tuple(values + [0] * ((ndim or len(values)) - len(values)))


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)
                       and rng >= 0):
        return np.random.default_rng(rng)
    raise InvalidInputError(f"rng must be None, a seed (integer >= 0) or a "
                            f"numpy.random.Generator, got {rng!r}")


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # np.rint rounds half to even: 2.5 -> 2 but 3.5 -> 4; a box should not care
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def perturb_boxes(boxes, shape, *, jitter: int = 0, scale: float = 1.0, shift=None,
                  rng=None) -> np.ndarray:
    """Boxes as a user might draw them: loosened or tightened, shifted, each side jittered.

    In this order: ``scale`` about each box's centre, ``shift``, ``jitter``; then the boxes
    are clipped to the image (:func:`clip_box`). Every box keeps at least one pixel per axis:
    a box that would invert collapses to its middle pixel, and one pushed off the image
    keeps the border row/column it was pushed across.

    Parameters
    ----------
    boxes : array-like
        (N, 4) ``[x0, y0, x1, y1]`` or (N, 6) ``[x0, y0, z0, x1, y1, z1]``, inclusive maxima
        (one flat box counts as N = 1); boxes sticking out of the image are clipped first.
    shape : tuple of int
        The image's spatial shape in array order, (H, W) or (D, H, W).
    jitter : int >= 0
        Every side (every coordinate, z included) moves independently by a uniform whole
        number of pixels in ``[-jitter, +jitter]``. The challenge's own training used about
        ±5 px.
    scale : float > 0
        Box size factor: > 1 loosens, < 1 tightens. Each side moves by
        ``(scale - 1) / 2`` times the box's size along its axis, rounded half away from zero.
    shift : (dx, dy) or (dx, dy, dz), optional
        Translation in pixels (x right, y down, z up the slices); (dx, dy) leaves z alone.
    rng : None, int or numpy.random.Generator
        Source of the jitter; a seed gives the same boxes every time.

    Returns
    -------
    ndarray of int64, shape (N, 4) or (N, 6)

    Raises
    ------
    InvalidInputError
        Bad boxes (see :func:`classicseg.validation.check_boxes`), a negative or fractional
        ``jitter``, a ``scale`` that is not > 0, a malformed ``shift`` or ``rng``.

    Examples
    --------
    >>> perturb_boxes([[10, 10, 19, 29]], (40, 40), scale=1.2).tolist()  # 10 x 20: 1 / 2 px
    [[9, 8, 20, 31]]
    >>> perturb_boxes([[10, 10, 19, 29]], (40, 40), shift=(25, 0)).tolist()  # clipped at x = 39
    [[35, 10, 39, 29]]
    >>> a = perturb_boxes([[10, 10, 19, 29]], (40, 40), jitter=5, rng=0)
    >>> bool((a == perturb_boxes([[10, 10, 19, 29]], (40, 40), jitter=5, rng=0)).all())
    True
    """
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    b = check_boxes(boxes, shape, clip=True)
    ndim = b.shape[1] // 2
    jitter = _whole(jitter, "jitter", minimum=0)
    scale = _scale(scale)
    shift = np.asarray(_shift(shift, ndim), np.int64)
    gen = _generator(rng)
    lo, hi = b[:, :ndim].copy(), b[:, ndim:].copy()
    if scale != 1.0:
        d = _round_half_away((scale - 1.0) / 2.0 * (hi - lo + 1))
        middle = (lo + hi) // 2
        lo, hi = lo - d, hi + d
        gone = lo > hi  # tightened below one pixel: the middle pixel is what is left
        lo[gone], hi[gone] = middle[gone], middle[gone]
    lo, hi = lo + shift, hi + shift
    if jitter:
        lo = lo + gen.integers(-jitter, jitter + 1, size=lo.shape)
        hi = hi + gen.integers(-jitter, jitter + 1, size=hi.shape)
        middle = (lo + hi) // 2
        crossed = lo > hi
        lo[crossed], hi[crossed] = middle[crossed], middle[crossed]
    top = np.array(shape[::-1], np.int64) - 1  # (x, y[, z]) maxima
    # clipping keeps lo <= hi (both move monotonically), so no box becomes empty
    return np.concatenate([np.clip(lo, 0, top), np.clip(hi, 0, top)], axis=1)


@dataclass(frozen=True)
class BoxPerturbation:
    """One box perturbation with its seed, applied the same way to a case wherever it runs.

    The jitter of a case comes from ``numpy.random.default_rng([seed, crc32(case name),
    repeat])``: the same case gets the same boxes in every pipeline, process and run order,
    and different cases get independent jitter.

    Parameters
    ----------
    jitter, scale, shift
        As for :func:`perturb_boxes` (``shift`` (dx, dy) or (dx, dy, dz)).
    seed : int >= 0

    Examples
    --------
    >>> p = BoxPerturbation(jitter=5, scale=1.2, seed=1)
    >>> p.describe()
    'each side jittered by up to ±5 px, scaled by 1.2 about the centre (seed 1)'
    >>> a = p.apply([[10, 10, 19, 29]], (40, 40), name="2DBox_US_0001")
    >>> a.tolist() == p.apply([[10, 10, 19, 29]], (40, 40), name="2DBox_US_0001").tolist()
    True
    >>> BoxPerturbation().identity
    True
    """

    jitter: int = 0
    scale: float = 1.0
    shift: tuple = (0, 0)
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "jitter", _whole(self.jitter, "jitter", minimum=0))
        object.__setattr__(self, "scale", _scale(self.scale))
        object.__setattr__(self, "shift", _shift(self.shift, None))
        object.__setattr__(self, "seed", _whole(self.seed, "seed", minimum=0))

    @property
    def identity(self) -> bool:
        """True when the boxes stay as given (no jitter, scale 1, no shift)."""
        return self.jitter == 0 and self.scale == 1.0 and not any(self.shift)

    def rng(self, name: str, repeat: int = 0) -> np.random.Generator:
        """The generator of case ``name`` (and ``repeat``): independent of run order."""
        return np.random.default_rng([self.seed, zlib.crc32(str(name).encode()),
                                      _whole(repeat, "repeat", minimum=0)])

    def apply(self, boxes, shape, *, name: str = "", repeat: int = 0) -> np.ndarray:
        """:func:`perturb_boxes` with this perturbation and the generator of ``name``."""
        shift = self.shift[:2] if len(shape) == 2 else self.shift  # dz means nothing in 2D
        return perturb_boxes(boxes, shape, jitter=self.jitter, scale=self.scale, shift=shift,
                             rng=self.rng(name, repeat))

    def describe(self) -> str:
        """One line for a report: what was done to the boxes."""
        parts = []
        if self.jitter:
            parts.append(f"each side jittered by up to ±{self.jitter} px")
        if self.scale != 1.0:
            parts.append(f"scaled by {self.scale:g} about the centre")
        if any(self.shift):
            axes = "x, y, z" if len(self.shift) == 3 else "x, y"
            parts.append(f"shifted by {self.shift} px ({axes})")
        if not parts:
            return "none (the boxes as given)"
        return ", ".join(parts) + f" (seed {self.seed})"

    def as_dict(self) -> dict:
        """JSON-able: ``box_jitter``, ``box_scale``, ``box_shift`` ("dx,dy"), ``box_seed``."""
        return {"box_jitter": self.jitter, "box_scale": self.scale,
                "box_shift": ",".join(str(v) for v in self.shift), "box_seed": self.seed}
