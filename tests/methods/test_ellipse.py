"""The ultrasound lesson's ellipse helpers: ellipse fit of a result, agreement, skull ellipse."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classicseg.methods.ellipse import ellipse_agreement, ellipse_result, skull_ellipse
from classicseg.metrics import dice
from classicseg.result import SegmentationResult


def ellipse(shape=(80, 100), center=(40, 50), axes=(25, 15)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return ((yy - center[0]) / axes[1]) ** 2 + ((xx - center[1]) / axes[0]) ** 2 <= 1


def result_of(masks, shape):
    res = SegmentationResult.empty(shape, len(masks))
    for i, m in enumerate(masks):
        res.add_box(i, m, method="test", seconds=0.5, iou_pred=0.9)
    return res


def test_ellipse_result_restores_the_shape_and_keeps_records():
    e = ellipse()
    notched = e.copy()
    notched[35:45, 25:40] = False    # a bite out of the ellipse
    raw = result_of([notched, np.zeros_like(e)], e.shape)
    res = ellipse_result(raw)
    assert dice(e, res.segs == 1) > dice(e, notched)                # the fit restores the shape
    assert not (res.segs == 2).any()                                # an empty mask stays empty
    assert res.boxes[0].method == "ellipse fit" and res.boxes[0].extra["iou_pred"] == 0.9
    assert res.boxes[0].seconds >= 0.5
    assert np.array_equal(raw.segs == 1, notched)                   # input untouched


def test_ellipse_agreement_tells_ellipses_from_other_shapes():
    e = ellipse()
    notched = e.copy()
    notched[35:45, 25:40] = False
    assert ellipse_agreement(e) > 0.98 > ellipse_agreement(notched)
    square = np.zeros((40, 40), bool)
    square[5:35, 5:35] = True
    assert ellipse_agreement(square) < 0.97
    tiny = np.zeros((5, 5), bool)
    tiny[2, 2] = True
    assert ellipse_agreement(tiny) == 1.0                           # too small to fit: itself
    assert math.isnan(ellipse_agreement(np.zeros((5, 5))))
    with pytest.raises(ValueError, match="2D"):
        ellipse_agreement(np.ones((2, 3, 3)))


def test_skull_ellipse_fills_a_bright_ring():
    outer, inner = ellipse(axes=(30, 20)), ellipse(axes=(26, 16))
    img = np.full((80, 100, 3), 30, np.uint8)
    img[outer & ~inner] = 220
    res = skull_ellipse(img, np.array([[15, 15, 85, 65]]))
    assert dice(outer, res.segs == 1) > 0.95 and 30 < res.boxes[0].extra["threshold"] < 220
    assert res.boxes[0].method == "skull ellipse"
    gray = skull_ellipse(img[..., 0], [[15, 15, 85, 65]])           # (H, W) is accepted too
    assert np.array_equal(gray.segs, res.segs)


@pytest.mark.parametrize("image, boxes, match", [
    (np.zeros((2, 3, 4, 5), np.uint8), [[0, 0, 1, 1]], "image"),
    (np.zeros((20, 20, 4), np.uint8), [[0, 0, 1, 1]], "image"),
    (np.zeros((20, 20, 3), np.uint8), [[0, 0, 30, 5]], "outside"),   # no silent clipping
    (np.zeros((20, 20, 3), np.uint8), [[5, 5, 2, 9]], "inverted"),
    (np.zeros((20, 20, 3), np.uint8), [[0, 0, 0, 5, 5, 5]], "boxes"),
])
def test_skull_ellipse_validates_image_and_boxes(image, boxes, match):
    with pytest.raises(ValueError, match=match):
        skull_ellipse(image, boxes)
