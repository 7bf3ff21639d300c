"""Ellipse fit of a 2D mask (paper §4 discussion of the HC18 fetal-head ultrasound task).

The fetal-head labels of HC18 are perfect ellipses, and replacing a predicted mask by
the ellipse fitted to its outline can beat LiteMedSAM there (the paper did not ship it
because the task is unknown at test time). We fit with OpenCV's least-squares
``cv2.fitEllipse`` on the outer contour of the largest component and draw with
``cv2.ellipse``, so fit and drawing share one convention.

Examples
--------
>>> import numpy as np, cv2
>>> m = np.zeros((120, 160), np.uint8)
>>> _ = cv2.ellipse(m, ((80.0, 60.0), (100.0, 60.0), 30.0), 1, -1)
>>> e = fit_ellipse(m)
>>> round(e.semi_major), round(e.semi_minor), round(e.center_x), round(e.center_y)
(50, 30, 80, 60)
>>> dice = 2 * (ellipse_mask(m.shape, e) & m.astype(bool)).sum() / (m.sum() + ellipse_mask(m.shape, e).sum())
>>> bool(dice > 0.97)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Ellipse", "fit_ellipse", "ellipse_mask"]


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
        raise ValueError(f"the mask's outline has {len(outline)} points; an ellipse fit needs at least 5")
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
