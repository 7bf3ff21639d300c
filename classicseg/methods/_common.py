"""Helpers shared by the segmenters (private): the empty result, the per-box crops.

The input checks live in :mod:`classicseg.validation`; ``check_image``, ``check_rgb_image``
and ``check_boxes`` are re-exported here for the methods that import them from this module.
"""

from __future__ import annotations

import time
import warnings

from ..boxes import box_slices
from ..result import SegmentationResult
from ..validation import check_boxes, check_image, check_rgb_image  # noqa: F401 (re-exports)


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
