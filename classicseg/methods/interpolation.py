"""Shape-based interpolation between binary slices (Schenk et al. 2000) and sparse-slice plans.

The paper predicts only every ``s``-th axial slice of a 3D box (always including the first
and the last slice of the box) and fills the slices in between from their two nearest
predicted neighbours ``p_i`` and ``p_j``::

    p_k = [ (1 - alpha) S(p_i) + alpha S(p_j) > 0 ],   alpha = (k - i) / (j - i)

where ``S(P)`` is the signed Euclidean distance to the boundary of ``P`` (positive inside).
The paper's reference code differs (it never predicts the end slices, uses
``alpha = (1 + t) / 2`` and erodes ``interp(P, P)`` by one pixel); we implement the paper.

Everything runs on the bounding box of the two anchors (plus a one-pixel background ring),
never on the full slice: outside that box both signed distances are negative, so the
result is identical and much cheaper.

Examples
--------
>>> import numpy as np
>>> a = np.zeros((9, 9), bool); a[2:7, 2:7] = True     # 5 x 5 square
>>> b = np.zeros((9, 9), bool); b[4, 4] = True          # single pixel
>>> int(shape_interpolate(a, b, 0.5).sum())             # in between: a 3 x 3 square
9
>>> plan_sparse_slices(10, 20, 3).tolist()              # first and last slice always
[10, 13, 16, 19, 20]
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import cv2
import numpy as np
from scipy import ndimage as ndi

from ..boxes import box_slices
from ._common import check_boxes

__all__ = ["signed_distance", "shape_interpolate", "plan_sparse_slices", "fill_slices",
           "segment_sparse_3d", "interpolate_from_slices"]

_EMPTY_MODES = ("shrink", "empty")


def signed_distance(mask) -> np.ndarray:
    """Signed Euclidean distance to the boundary of a binary mask, positive inside.

    Inside pixels get their distance to the nearest background pixel (>= 1), outside
    pixels minus their distance to the nearest mask pixel (<= -1), so the zero level
    lies half-way between the two. Pixels beyond the array edge count as background,
    so a mask that fills the whole array still has a finite distance map.

    Parameters
    ----------
    mask : array_like of bool
        Non-empty binary mask of any dimension.

    Returns
    -------
    ndarray of float64, same shape as ``mask``.

    Examples
    --------
    >>> signed_distance(np.array([0, 1, 1, 1, 0], bool)).tolist()
    [-1.0, 1.0, 2.0, 1.0, -1.0]
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        raise ValueError("signed_distance: mask is empty (no boundary to measure from)")
    padded = np.pad(m, 1)  # background ring: beyond the edge is outside
    inner = tuple(slice(1, -1) for _ in range(m.ndim))
    return _edt(padded)[inner] - _edt(~padded)[inner]


def _edt(m: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every True pixel to the nearest False one (float64)."""
    if m.ndim == 2:
        # OpenCV's exact (Felzenszwalb) transform is ~2x faster than scipy's in 2D. It
        # returns float32; squared distances are integers, so rounding them and taking a
        # float64 root reproduces scipy's result bit for bit.
        d = cv2.distanceTransform(m.astype(np.uint8), cv2.DIST_L2,
                                  cv2.DIST_MASK_PRECISE).astype(np.float64)
        return np.sqrt(np.rint(d * d, out=d), out=d)
    return ndi.distance_transform_edt(m)


def _check_pair(mask_a, mask_b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(mask_a)
    b = np.asarray(mask_b)
    if a.shape != b.shape:
        raise ValueError(f"mask_a and mask_b must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim != 2:
        raise ValueError(f"masks must be 2D slices, got {a.ndim} dimensions")
    return a.astype(bool, copy=False), b.astype(bool, copy=False)


def _check_alpha(alpha) -> float:
    a = float(alpha)
    if not (0.0 <= a <= 1.0):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    return a


class _Pair:
    """Signed distances of two anchors, computed once on their joint bounding box and
    reused for every intermediate slice between them."""

    def __init__(self, a: np.ndarray, b: np.ndarray, empty: str):
        if empty not in _EMPTY_MODES:
            raise ValueError(f"empty must be one of {_EMPTY_MODES}, got {empty!r}")
        self.shape = a.shape
        union = a | b
        self.where = ndi.find_objects(union.astype(np.uint8))[0] if union.any() else None
        if self.where is None:
            return
        ca, cb = a[self.where], b[self.where]
        # An empty anchor has no boundary. "shrink": give it a flat distance of minus the
        # other anchor's deepest inside distance, so the other shape erodes evenly and
        # vanishes exactly half-way (the object ends between the two slices). "empty":
        # minus infinity, so every slice toward it is empty (the reference code's result).
        if ca.any() and cb.any():
            self.sa, self.sb = signed_distance(ca), signed_distance(cb)
        else:
            full = signed_distance(ca if ca.any() else cb)
            flat = np.full(full.shape, -full.max() if empty == "shrink" else -np.inf)
            self.sa, self.sb = (full, flat) if ca.any() else (flat, full)

    def at(self, wa, wb) -> np.ndarray:
        """Mask where ``wa * S(a) + wb * S(b) > 0``; weights proportional to (1 - alpha, alpha)."""
        out = np.zeros(self.shape, bool)
        if self.where is not None:
            out[self.where] = wa * self.sa + wb * self.sb > 0
        return out


def _weights(alpha: float) -> tuple[int, int]:
    # Integer weights (1 - alpha, alpha) * q: with alpha = 1/3 the float form gives
    # 2/3 * 1 - 1/3 * 2 = 1e-16 > 0, turning exact boundary ties into one-sided pixels;
    # integer weights keep such ties exact (and symmetric) for integer distances.
    f = Fraction(alpha).limit_denominator(1 << 20)
    return f.denominator - f.numerator, f.numerator


def shape_interpolate(mask_a, mask_b, alpha, *, empty: str = "shrink") -> np.ndarray:
    """Shape-based interpolation between two binary slices.

    Parameters
    ----------
    mask_a, mask_b : array_like of bool, shape (H, W)
        The two anchor slices (``alpha = 0`` gives ``mask_a``, ``alpha = 1`` gives ``mask_b``).
    alpha : float in [0, 1]
        Position between the anchors, ``(k - i) / (j - i)`` for slice ``k`` between
        predicted slices ``i`` and ``j``.
    empty : {"shrink", "empty"}
        What an empty anchor means. ``"shrink"`` (default): the other shape erodes evenly
        and vanishes half-way. ``"empty"``: every slice toward an empty anchor is empty
        (what the paper's reference code produces).

    Returns
    -------
    ndarray of bool, shape (H, W) -- a new array; the inputs are not modified.

    Examples
    --------
    >>> a = np.zeros((5, 5), bool); a[1:4, 1:4] = True
    >>> bool((shape_interpolate(a, a, 0.3) == a).all())   # interp(P, P) = P
    True
    """
    a, b = _check_pair(mask_a, mask_b)
    wa, wb = _weights(_check_alpha(alpha))
    if wb == 0:
        return a.copy()
    if wa == 0:
        return b.copy()
    return _Pair(a, b, empty).at(wa, wb)


def plan_sparse_slices(z_min: int, z_max: int, s: int) -> np.ndarray:
    """Slices of a 3D box to predict when only every ``s``-th slice is predicted.

    Parameters
    ----------
    z_min, z_max : int
        First and last slice of the box (inclusive).
    s : int >= 1
        Subsampling factor (the paper uses ``s = 3`` for CT and MR; ``s = 1`` predicts
        every slice).

    Returns
    -------
    ndarray of int64
        Sorted slice indices ``z_min, z_min + s, ...`` plus ``z_max`` (always included).

    Examples
    --------
    >>> plan_sparse_slices(0, 6, 3).tolist(), plan_sparse_slices(4, 4, 3).tolist()
    ([0, 3, 6], [4])
    """
    for name, v in (("z_min", z_min), ("z_max", z_max), ("s", s)):
        if isinstance(v, (bool, np.bool_)) or not float(v).is_integer():
            raise ValueError(f"{name} must be an integer, got {v!r}")
    z_min, z_max, s = int(z_min), int(z_max), int(s)
    if s < 1:
        raise ValueError(f"s must be >= 1, got {s}")
    if z_min > z_max:
        raise ValueError(f"z_min ({z_min}) must not exceed z_max ({z_max})")
    return np.unique(np.append(np.arange(z_min, z_max + 1, s, dtype=np.int64), z_max))


def fill_slices(masks: dict, z_min: int, z_max: int, *, empty: str = "shrink") -> np.ndarray:
    """Assemble a stack from predicted slices, shape-interpolating the missing ones.

    Parameters
    ----------
    masks : dict[int, array_like of bool (H, W)]
        Predicted slices by absolute slice index. Must include ``z_min`` and ``z_max``
        (as :func:`plan_sparse_slices` guarantees); all slices must have one shape.
    z_min, z_max : int
        The slice range to fill (inclusive).
    empty : {"shrink", "empty"}
        How an empty anchor is treated; see :func:`shape_interpolate`.

    Returns
    -------
    ndarray of bool, shape (z_max - z_min + 1, H, W)
        Predicted slices copied; slice ``k`` between predicted ``i < k < j`` is
        ``shape_interpolate(masks[i], masks[j], (k - i) / (j - i))``.

    Examples
    --------
    >>> a = np.zeros((7, 7), bool); a[1:6, 1:6] = True
    >>> b = np.zeros((7, 7), bool); b[3, 3] = True
    >>> fill_slices({0: a, 3: b}, 0, 3).sum(axis=(1, 2)).tolist()
    [25, 9, 1, 1]
    """
    if not masks:
        raise ValueError("masks is empty; predict at least slices z_min and z_max")
    keys = sorted(int(k) for k in masks)
    if keys[0] != z_min or keys[-1] != z_max:
        raise ValueError(f"masks must hold the first and last slice ({z_min} and {z_max}); "
                         f"got slices {keys[0]}..{keys[-1]}")
    slices = {int(k): np.asarray(v) for k, v in masks.items()}
    shape = slices[keys[0]].shape
    for k, v in slices.items():
        if v.shape != shape or v.ndim != 2:
            raise ValueError(f"masks[{k}] has shape {v.shape}; "
                             f"every slice must be 2D of shape {shape}")
    out = np.zeros((z_max - z_min + 1,) + shape, bool)
    for k in keys:
        out[k - z_min] = slices[k]
    for i, j in zip(keys[:-1], keys[1:]):
        if j - i < 2:
            continue
        pair = _Pair(out[i - z_min], out[j - z_min], empty)  # distances once per gap
        for k in range(i + 1, j):
            out[k - z_min] = pair.at(j - k, k - i)  # alpha = (k - i) / (j - i), exact
    return out


def segment_sparse_3d(predict_slice: Callable[[int], np.ndarray], box, s: int = 3, *,
                      shape, empty: str = "shrink") -> tuple[np.ndarray, tuple[slice, ...]]:
    """Segment a 3D box slice by slice: predict the planned slices, interpolate the rest.

    Parameters
    ----------
    predict_slice : callable ``z -> mask``
        Returns the 2D prediction for axial slice ``z``, either for the whole slice
        (shape ``(H, W)``) or for the box's in-plane crop (shape ``(h, w)``). Any
        per-slice method plugs in (LiteMedSAM, a threshold, ...). It is called once per
        planned slice, in increasing ``z``.
    box : array_like, 6 ints
        ``[x_min, y_min, z_min, x_max, y_max, z_max]``, maxima inclusive.
    s : int >= 1
        Predict every ``s``-th slice plus the last one (paper: 3 for CT/MR).
    shape : tuple (D, H, W)
        Shape of the volume (to validate the box).
    empty : {"shrink", "empty"}
        How an empty predicted slice is treated; see :func:`shape_interpolate`.

    Returns
    -------
    mask : ndarray of bool, shape of the box crop (nz, h, w)
    where : tuple of slices placing ``mask`` in the volume (for ``SegmentationResult.add_box``)

    Examples
    --------
    >>> vol = np.zeros((7, 16, 16), np.uint8); vol[:, 4:12, 4:12] = 200
    >>> mask, where = segment_sparse_3d(lambda z: vol[z] > 100, [2, 2, 0, 13, 13, 6], 3,
    ...                                 shape=vol.shape)
    >>> mask.shape, int(mask.sum()) == 7 * 64
    ((7, 12, 12), True)
    """
    if not callable(predict_slice):
        raise ValueError("predict_slice must be a function z -> 2D mask")
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3:
        raise ValueError(f"shape must be (D, H, W), got {shape}")
    b = np.asarray(box)
    if b.shape != (6,):
        raise ValueError(f"box must be [x_min, y_min, z_min, x_max, y_max, z_max], "
                         f"got shape {b.shape}")
    b = check_boxes(b[None], shape)[0]
    where = box_slices(b)
    plane = where[1:]
    crop_shape = tuple(sl.stop - sl.start for sl in plane)
    z0, z1 = int(b[2]), int(b[5])
    predicted = {}
    for z in plan_sparse_slices(z0, z1, s):
        m = np.asarray(predict_slice(int(z)))
        if m.shape == shape[1:]:
            m = m[plane]  # box filter: only the in-box part of a full-slice prediction
        elif m.shape != crop_shape:
            raise ValueError(f"predict_slice({int(z)}) returned shape {m.shape}; "
                             f"expected the slice {shape[1:]} or the box crop {crop_shape}")
        predicted[int(z)] = m.astype(bool)
    return fill_slices(predicted, z0, z1, empty=empty), where


def interpolate_from_slices(mask, z_min: int, z_max: int, s: int) -> np.ndarray:
    """Keep every ``s``-th slice of a 3D mask between ``z_min`` and ``z_max`` and
    shape-interpolate the rest -- the interpolation error alone, without any model.

    Feeding the *ground truth* through the paper's slice plan (:func:`plan_sparse_slices`)
    and :func:`fill_slices` shows how much Dice the interpolation itself costs for a given
    ``s`` -- an upper bound for sparse LiteMedSAM.

    Parameters
    ----------
    mask : array_like (D, H, W)
        Non-zero is foreground.
    z_min, z_max : int
        Slice range of the object (inclusive), inside the volume.
    s : int >= 1
        Slice step.

    Returns
    -------
    ndarray of bool
        Same shape as ``mask``; slices outside ``z_min..z_max`` are copied unchanged.

    Examples
    --------
    >>> m = np.zeros((5, 9, 9), bool); m[0, 1:8, 1:8] = True; m[4, 3:6, 3:6] = True
    >>> interpolate_from_slices(m, 0, 4, 4).sum(axis=(1, 2)).tolist()   # 7x7, ..., 5x5, ..., 3x3
    [49, 49, 25, 9, 9]
    """
    m = np.asarray(mask) != 0
    if m.ndim != 3:
        raise ValueError(f"mask must be 3D (D, H, W), got shape {m.shape}")
    if not (0 <= z_min <= z_max < m.shape[0]):
        raise ValueError(f"z_min..z_max = {z_min}..{z_max} is outside the {m.shape[0]} slices")
    plan = plan_sparse_slices(z_min, z_max, s)
    out = m.copy()
    out[z_min:z_max + 1] = fill_slices({int(z): m[z] for z in plan}, z_min, z_max)
    return out
