"""Morphological geodesic active contour and Chan-Vese (classicseg.methods.active_contours)."""

from __future__ import annotations

import pytest
from toolbox_cases import (
    ball_3d,
    check_bad_input,
    check_box_filtering,
    check_clear_contrast,
    disk_2d,
)

from classicseg.methods.active_contours import (
    inscribed_ellipse,
    segment_chan_vese,
    segment_geodesic_contour,
)

METHODS = {"geodesic-contour": segment_geodesic_contour, "chan-vese": segment_chan_vese}


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
@pytest.mark.parametrize("method", list(METHODS))
def test_contours_find_a_clear_object(method, case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(METHODS[method], img, gt, box, method=method, postprocess="full")


@pytest.mark.parametrize("method", list(METHODS))
def test_contours_record_their_iterations(method):
    img, _, box = disk_2d()
    side = max(box[0, 2] - box[0, 0], box[0, 3] - box[0, 1]) + 1
    assert METHODS[method](img, box).boxes[0].extra["num_iter"] == side // 2 + 20
    assert METHODS[method](img, box, num_iter=3).boxes[0].extra["num_iter"] == 3


def test_chan_vese_keeps_the_object_when_it_is_dark():
    img, gt, box = disk_2d()
    dark = 255 - img  # the object is now the dark phase: the core rule still picks it
    check_clear_contrast(segment_chan_vese, dark, gt, box, method="chan-vese", postprocess="full")


def test_inscribed_ellipse_touches_every_side():
    m = inscribed_ellipse((9, 15, 21))
    assert m.shape == (9, 15, 21)
    assert m[4, 7, 0] and m[4, 7, -1] and m[4, 0, 10] and m[0, 7, 10] and not m[0, 0, 0]


@pytest.mark.parametrize("method", list(METHODS))
def test_contours_keep_to_their_boxes(method):
    check_box_filtering(METHODS[method])


@pytest.mark.parametrize("method", list(METHODS))
def test_contours_bad_input(method):
    check_bad_input(METHODS[method])
    img, _, box = disk_2d()
    with pytest.raises(ValueError, match="num_iter"):
        METHODS[method](img, box, num_iter=0)
    with pytest.raises(ValueError, match="smoothing"):
        METHODS[method](img, box, smoothing=-1)
