"""Input checks shared by the segmenters (private).

Every public segmenter validates its image and boxes here, so a bad argument gives one
clear ``ValueError`` naming the argument and the problem instead of a crash deep inside
numpy -- and the checks (and their wording) live in one place.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ..boxes import box_slices
from ..result import SegmentationResult


def check_image(image, *, ndim: int, name: str = "image") -> np.ndarray:
    """Return ``image`` as an array after checking rank, dtype and finiteness (no copy)."""
    a = np.asarray(image)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be a numeric array (uint8, uint16, float, ...), got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty, shape {a.shape}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def check_rgb_image(image, name: str = "image") -> np.ndarray:
    """A 2D challenge image: (H, W, 3); a plain (H, W) grayscale array is accepted too."""
    a = np.asarray(image)
    if a.ndim == 2:
        return check_image(a, ndim=2, name=name)
    a = check_image(a, ndim=3, name=name)
    if a.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) or (H, W), got shape {a.shape}")
    return a


def check_boxes(boxes, spatial_shape, *, name: str = "boxes") -> np.ndarray:
    """Validate boxes against an image of ``spatial_shape`` ((H, W) or (D, H, W)).

    Returns an int64 (N, 4) or (N, 6) array (a copy). Boxes must lie inside the image
    (maxima inclusive); out-of-image boxes raise rather than being silently clipped --
    use :func:`classicseg.boxes.clip_box` first if clipping is what you want.
    """
    ndim = len(spatial_shape)
    k = 2 * ndim
    b = np.asarray(boxes)
    if b.size == 0:
        b = b.reshape(0, k)
    if b.ndim == 1 and b.size == k:  # one box given flat
        b = b[None]
    if b.ndim != 2 or b.shape[1] != k:
        raise ValueError(f"{name} must have shape (N, {k}) for a {ndim}D image, got {b.shape}")
    if not (np.issubdtype(b.dtype, np.integer) or np.issubdtype(b.dtype, np.floating)):
        raise ValueError(f"{name} must be numeric, got dtype {b.dtype}")
    if np.issubdtype(b.dtype, np.floating):
        if not np.isfinite(b).all() or not np.all(b == np.round(b)):
            raise ValueError(f"{name} must hold whole numbers (pixel indices)")
    b = b.astype(np.int64)
    # box order is (x, y[, z]) while array order is ([z,] y, x)
    hi = np.array(spatial_shape[::-1]) - 1
    for i, box in enumerate(b):
        if np.any(box[:ndim] > box[ndim:]):
            raise ValueError(f"{name}[{i}] = {box.tolist()} is empty or inverted (min > max)")
        if np.any(box < 0) or np.any(box[ndim:] > hi):
            raise ValueError(f"{name}[{i}] = {box.tolist()} lies (partly) outside the image of spatial shape "
                             f"{tuple(spatial_shape)} (valid 0..{hi.tolist()}, maxima inclusive); "
                             "clip it with classicseg.boxes.clip_box if intended")
    return b


def start_result(shape, boxes, what: str) -> tuple[SegmentationResult, float]:
    """An empty result for ``boxes`` (warning when there are none) and the start time."""
    if len(boxes) == 0:
        warnings.warn(f"{what}: no boxes given; returning an empty prediction", stacklevel=3)
    return SegmentationResult.empty(shape, len(boxes)), time.perf_counter()


def crops(image, boxes):
    """Yield ``(index, where, crop)`` for every box; ``where`` is the tuple of slices.

    The crop is a view for the spatial axes (channels, if any, are kept)."""
    for i, b in enumerate(boxes):
        where = box_slices(b)
        yield i, where, image[where]
