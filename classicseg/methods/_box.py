"""What the box-prompted toolbox shares (private): intensities, seeds from the box, the box loop.

Every method of the toolbox (:mod:`.grabcut`, :mod:`.random_walker`, :mod:`.active_contours`,
:mod:`.watershed`, :mod:`.region_growing`, :mod:`.pixel_classifier`, :mod:`.clustering`) is
one function ``one_box(crop) -> (mask, reason, extra)`` handed to :func:`segment_boxes`,
which validates the input, cuts each box's window, runs the function, post-processes and
paints the result. docs/algorithms.md §18.

Conventions:

* **Intensity** -- the image is min-max rescaled to uint8 as the challenge pre-processing
  does (:func:`classicseg.io.to_uint8`), then to float in [0, 1]; an RGB image's
  intensity is its luminance (ITU-R BT.601 weights), the colour channels stay available.
* **Seeds from the box** -- :func:`seed_labels`: the box's outer ring is background (1),
  a centred core ellipse (a fraction of the box's size) is foreground (2), the rest unknown
  (0). In 3D
  the ring is in-plane only: the first and last slices of a tight box hold the object's
  ends, not background.
* **Foreground by the core** -- region methods that return two phases keep the one that
  covers most of the core (:func:`core_phase`), the rule ``segment_kmeans`` applies with
  its centre window.

Examples
--------
>>> seed_labels((6, 8), core=0.25)
array([[1, 1, 1, 1, 1, 1, 1, 1],
       [1, 0, 0, 0, 0, 0, 0, 1],
       [1, 0, 0, 2, 2, 0, 0, 1],
       [1, 0, 0, 2, 2, 0, 0, 1],
       [1, 0, 0, 0, 0, 0, 0, 1],
       [1, 1, 1, 1, 1, 1, 1, 1]], dtype=uint8)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..boxes import box_slices
from ..io import to_uint8
from ..validation import InvalidInputError, check_boxes, check_image, check_rgb_image, spatial_ndim
from ._common import start_result
from .postprocess import apply_postprocess, parse_postprocess

#: ITU-R BT.601 luma weights (what OpenCV's and most libraries' RGB -> gray use).
_LUMA = np.array([0.299, 0.587, 0.114])

#: Background / foreground labels of :func:`seed_labels` (0 = unknown).
BACKGROUND, FOREGROUND = 1, 2


@dataclass(frozen=True)
class BoxCrop:
    """One box's window: the box plus up to ``margin`` pixels of context on every side.

    ``gray`` is float in [0, 1]; ``color`` the (..., 3) RGB window in [0, 1] for RGB inputs
    (None otherwise); ``inner`` the slices of the box inside the window."""

    gray: np.ndarray
    color: np.ndarray | None
    inner: tuple

    @property
    def box(self) -> np.ndarray:
        """The box itself (intensity)."""
        return self.gray[self.inner]


def check_fraction(value, arg_name: str, *, upper: float = 1.0) -> float:
    """``value`` as a float in (0, upper]; ValueError naming ``arg_name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 < float(value) <= upper:
        raise ValueError(f"{arg_name} must be a number in (0, {upper:g}], got {value!r}")
    return float(value)


def check_count(value, arg_name: str, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ValueError naming ``arg_name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{arg_name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def core_slices(shape, core: float) -> tuple:
    """The central ``core`` fraction of every axis of ``shape`` (at least one pixel)."""
    out = []
    for n in shape:
        size = max(1, int(round(n * core)))
        start = (n - size) // 2
        out.append(slice(start, start + size))
    return tuple(out)


def centred_ellipse(shape, scale: float = 1.0) -> np.ndarray:
    """The ellipse (2D) or ellipsoid (3D) centred in an array of ``shape``, its semi-axes
    ``scale`` x half of each side (1: inscribed), as a mask holding at least the centre."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    r2 = sum(((g - (n - 1) / 2) / (scale * n / 2)) ** 2 for g, n in zip(grids, shape))
    mask = r2 <= 1.0
    mask[tuple(n // 2 for n in shape)] = True
    return mask


def seed_labels(shape, *, core: float = 0.3, ring: int = 1) -> np.ndarray:
    """Seeds of a box of ``shape``: its outer ``ring`` pixels background (1), the centred
    ellipse (ellipsoid) of ``core`` x the box's size foreground (2), the rest 0 (unknown).

    An ellipse, not a rectangle: it stays inside round objects (an ellipsoid fills only half
    of its box). In 3D (``len(shape) == 3``) the ring runs round every slice (the y and x
    faces) only. The core wins where the two meet (boxes a few pixels wide)."""
    labels = np.full(tuple(shape), BACKGROUND, np.uint8)
    inside = [slice(None)] * len(shape)
    for ax in range(len(shape) - 2, len(shape)):  # in-plane axes: (y, x)
        inside[ax] = slice(ring, max(ring, shape[ax] - ring))
    labels[tuple(inside)] = 0
    labels[centred_ellipse(shape, core)] = FOREGROUND
    return labels


def core_phase(phase: np.ndarray, core: float) -> tuple[np.ndarray, float]:
    """``(mask, share)``: of the labels in ``phase``, the one covering most of the central
    ``core`` fraction (ties: the lower label), and the share of the core it covers."""
    centre = phase[core_slices(phase.shape, core)].ravel()
    values, counts = np.unique(centre, return_counts=True)
    k = int(np.argmax(counts))
    return phase == values[k], float(counts[k] / centre.size)


def intensities(image, boxes, *, what: str, allow_3d: bool = True):
    """``(gray, color, boxes)``: the checked image as float [0, 1] intensity (+ RGB colour
    for (H, W, 3) input, else None) and the checked int64 boxes."""
    ndim = spatial_ndim(image, boxes)
    if ndim == 3:
        if not allow_3d:
            shape = np.shape(image)
            raise InvalidInputError(f"image: {what} works on 2D images only ((H, W, 3) or "
                                    f"(H, W)), got a 3D volume of shape {shape}")
        vol = check_image(image, ndim=3)
        gray, color = to_uint8(vol) / 255.0, None
    else:
        img = check_rgb_image(image)
        u8 = to_uint8(img)
        if u8.ndim == 3:
            color = u8 / 255.0
            gray = color @ _LUMA
        else:
            gray, color = u8 / 255.0, None
    return gray, color, check_boxes(boxes, gray.shape)


def _window(box, shape, margin: int) -> tuple[tuple, tuple]:
    """(window slices in the image, box slices inside the window)."""
    where = box_slices(box)
    win = tuple(slice(max(0, s.start - margin), min(n, s.stop + margin))
                for s, n in zip(where, shape))
    inner = tuple(slice(s.start - w.start, s.stop - w.start) for s, w in zip(where, win))
    return win, inner


def segment_boxes(image, boxes, one_box: Callable, *, method: str, postprocess: str,
                  what: str, margin: int = 0, allow_3d: bool = True):
    """Run ``one_box(crop) -> (mask, reason, extra)`` on every box and paint the result.

    ``mask`` has the box's shape. A box whose intensity is constant has nothing to
    separate: it is filled (as ``segment_kmeans`` does) without calling ``one_box``. Each
    record gets ``method``, the reason, ``seconds``, ``extra`` and ``extra["postprocess"]``.
    """
    postprocess = parse_postprocess(postprocess)
    gray, color, boxes = intensities(image, boxes, what=what, allow_3d=allow_3d)
    res, t_case = start_result(gray.shape, boxes, what)
    for i, b in enumerate(boxes):
        t0 = time.perf_counter()
        win, inner = _window(b, gray.shape, margin)
        crop = BoxCrop(gray[win], None if color is None else color[win], inner)
        box = crop.box
        if box.min() == box.max():
            mask, reason, extra = np.ones(box.shape, bool), "constant box: filled", {}
        else:
            mask, reason, extra = one_box(crop)
        mask = apply_postprocess(mask, postprocess)
        res.add_box(i, mask, box_slices(b), method=method, reason=f"{method}: {reason}",
                    seconds=time.perf_counter() - t0, postprocess=postprocess, **extra)
    res.seconds = time.perf_counter() - t_case
    return res
