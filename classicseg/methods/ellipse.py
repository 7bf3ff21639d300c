"""Ellipse fit of a 2D mask (paper §4 discussion of the HC18 fetal-head ultrasound task).

The fetal-head labels of HC18 are perfect ellipses, and replacing a predicted mask by
the ellipse fitted to its outline can beat LiteMedSAM there (the paper did not ship it
because the task is unknown at test time). We fit with OpenCV's least-squares
``cv2.fitEllipse`` on the outer contour of the largest component and draw with
``cv2.ellipse``, so fit and drawing share one convention.

On top of the fit: :func:`ellipse_result` (every box's mask replaced by its ellipse, a
"prediction bias" for the HC18 task), :func:`ellipse_agreement` (how much a mask already is
an ellipse) and :func:`skull_ellipse` (a model-free fetal-head segmenter: Otsu in the box,
then the ellipse of the skull ring; ``docs/algorithms.md`` §12).

Examples
--------
>>> import numpy as np, cv2
>>> m = np.zeros((120, 160), np.uint8)
>>> _ = cv2.ellipse(m, ((80.0, 60.0), (100.0, 60.0), 30.0), 1, -1)
>>> e = fit_ellipse(m)
>>> round(e.semi_major), round(e.semi_minor), round(e.center_x), round(e.center_y)
(50, 30, 80, 60)
>>> dice = (2 * (ellipse_mask(m.shape, e) & m.astype(bool)).sum()
...         / (m.sum() + ellipse_mask(m.shape, e).sum()))
>>> bool(dice > 0.97)
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..metrics import dice
from ._common import check_boxes, check_rgb_image, crops, start_result

__all__ = ["Ellipse", "fit_ellipse", "ellipse_mask", "ellipse_result", "ellipse_agreement",
           "skull_ellipse"]


@dataclass(frozen=True)
class Ellipse:
    """An ellipse in pixel coordinates (x = column, y = row).

    ``width`` and ``height`` are the full axis lengths of OpenCV's rotated rectangle and
    ``angle`` its rotation in degrees (as ``cv2.fitEllipse`` returns them).
    """

    center_x: float
    center_y: float
    width: float
    height: float
    angle: float

    @property
    def semi_major(self) -> float:
        return max(self.width, self.height) / 2

    @property
    def semi_minor(self) -> float:
        return min(self.width, self.height) / 2

    @property
    def area(self) -> float:
        return math.pi * self.semi_major * self.semi_minor

    @property
    def circumference(self) -> float:
        """Ramanujan's approximation -- HC18's head circumference, in pixels."""
        a, b = self.semi_major, self.semi_minor
        return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))

    def as_rotated_rect(self):
        """``((cx, cy), (width, height), angle)`` as OpenCV uses it."""
        return (self.center_x, self.center_y), (self.width, self.height), self.angle


def fit_ellipse(mask) -> Ellipse:
    """Least-squares ellipse through the outline of the largest component of a 2D mask.

    Parameters
    ----------
    mask : array_like (H, W), bool or integer (non-zero = foreground)

    Returns
    -------
    Ellipse

    Raises
    ------
    ValueError
        If the mask is not 2D or its largest outline has fewer than 5 points (an
        ellipse needs 5).
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {m.shape}")
    m8 = np.ascontiguousarray(m != 0, dtype=np.uint8)
    contours, _ = cv2.findContours(m8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise ValueError("mask is empty: no outline to fit an ellipse to")
    outline = max(contours, key=cv2.contourArea)
    if len(outline) < 5:
        raise ValueError(f"the mask's outline has {len(outline)} points; "
                         "an ellipse fit needs at least 5")
    (cx, cy), (w, h), angle = cv2.fitEllipse(outline)
    return Ellipse(float(cx), float(cy), float(w), float(h), float(angle))


def ellipse_mask(shape, params: Ellipse) -> np.ndarray:
    """Filled boolean mask of ``shape`` (H, W) for an :class:`Ellipse` (or a rotated rect)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) with positive sizes, got {shape}")
    rect = params.as_rotated_rect() if isinstance(params, Ellipse) else params
    (cx, cy), (w, h), angle = rect
    if not all(np.isfinite(v) for v in (cx, cy, w, h, angle)) or w < 0 or h < 0:
        raise ValueError(f"invalid ellipse parameters {rect!r}")
    out = np.zeros(shape, np.uint8)
    cv2.ellipse(out, ((float(cx), float(cy)), (float(w), float(h)), float(angle)), 1, -1)
    return out.astype(bool)


def _ellipse_of(mask: np.ndarray) -> np.ndarray:
    """The filled ellipse fitted to ``mask``; the mask itself when it is too small to fit."""
    try:
        return ellipse_mask(mask.shape, fit_ellipse(mask))
    except ValueError:  # empty, or an outline of fewer than 5 points: nothing to fit
        return np.asarray(mask) != 0


def ellipse_result(result):
    """Replace every box's mask by the ellipse fitted to its outline (a "prediction bias").

    The paper's §4.3: fetal-head labels (HC18) are perfect ellipses, so forcing the prediction
    to be one can only help there -- and hurts on any other task. Masks too small to fit keep
    their shape. The input is not modified.

    Parameters
    ----------
    result : SegmentationResult
        2D result (label = box index + 1).

    Returns
    -------
    SegmentationResult
        ``method="ellipse fit"``; each record's ``seconds`` is the original's plus the fit's,
        ``extra`` is copied.

    Examples
    --------
    >>> from classicseg.result import SegmentationResult
    >>> m = np.zeros((60, 80), np.uint8)
    >>> _ = cv2.ellipse(m, ((40.0, 30.0), (50.0, 30.0), 0.0), 1, -1)
    >>> m[25:35, 10:30] = 0                            # a bite out of the ellipse
    >>> r = SegmentationResult.empty(m.shape, 1); r.add_box(0, m != 0, method="x")
    >>> fitted = ellipse_result(r)
    >>> bool((fitted.segs == 1).sum() > (r.segs == 1).sum()), fitted.boxes[0].method
    (True, 'ellipse fit')
    """
    from .postprocess import relabel_result

    return relabel_result(result, lambda i, m: _ellipse_of(m), method="ellipse fit")


def ellipse_agreement(mask) -> float:
    """Dice between a 2D mask and the ellipse fitted to it (1.0 = the mask is an ellipse).

    A crude, model-free "task detector": a prediction that already is almost an ellipse hints
    at an ellipse-shaped target (the paper's task-adapter idea, §4.13).

    Returns
    -------
    float
        In [0, 1]; NaN for an empty mask.

    Examples
    --------
    >>> disk = np.zeros((50, 50), np.uint8); _ = cv2.circle(disk, (25, 25), 15, 1, -1)
    >>> square = np.zeros((50, 50), bool); square[10:40, 10:40] = True
    >>> ellipse_agreement(disk) > 0.98 > ellipse_agreement(square)
    True
    """
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {m.shape}")
    if not m.any():
        return math.nan
    return float(dice(m, _ellipse_of(m)))


def skull_ellipse(image, boxes):
    """Model-free fetal-head segmenter: bright skull echo in the box -> filled ellipse.

    Per box: Otsu threshold of the box crop (channel 0), keep the largest bright component
    (the skull ring) and fill the ellipse fitted to its outer outline. Milliseconds per box,
    exact on a clean ring -- and helpless when the echo drops out or another bright structure
    touches the head, which is the point of showing it.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) ultrasound image (or (H, W) grayscale).
    boxes : array_like
        (N, 4) ``[x0, y0, x1, y1]``, maxima inclusive, inside the image.

    Returns
    -------
    SegmentationResult
        ``method="skull ellipse"``, ``extra["threshold"]`` per box.

    Examples
    --------
    >>> img = np.full((80, 100, 3), 30, np.uint8)
    >>> _ = cv2.ellipse(img, ((50.0, 40.0), (60.0, 40.0), 0.0), (220, 220, 220), 3)   # the ring
    >>> res = skull_ellipse(img, [[15, 15, 85, 65]])
    >>> bool(res.segs[40, 50] == 1), bool(res.segs[5, 5] == 0)        # filled inside, not outside
    (True, True)
    """
    from .postprocess import largest_component
    from .thresholds import threshold_otsu

    img = check_rgb_image(image)
    gray = img[..., 0] if img.ndim == 3 else img
    b = check_boxes(boxes, gray.shape)
    res, t_case = start_result(gray.shape, b, "skull_ellipse")
    for i, where, crop in crops(gray, b):
        t0 = time.perf_counter()
        t = threshold_otsu(crop, 256)
        ring = largest_component(crop > t)
        mask = _ellipse_of(ring) if ring.any() else ring
        res.add_box(i, mask, where, method="skull ellipse", reason="Otsu in the box + ellipse fit",
                    seconds=time.perf_counter() - t0, threshold=float(t))
    res.seconds = time.perf_counter() - t_case
    return res
