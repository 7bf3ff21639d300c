"""Marker-based watershed (classicseg.methods.watershed): box-border and box-centre markers."""

from __future__ import annotations

import pytest
from toolbox_cases import (
    ball_3d,
    check_bad_input,
    check_box_filtering,
    check_clear_contrast,
    disk_2d,
)

from classicseg.methods.watershed import segment_watershed


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
def test_watershed_finds_a_clear_object(case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(segment_watershed, img, gt, box, method="watershed", postprocess="full")


def test_watershed_options_still_find_the_disk():
    img, gt, box = disk_2d()
    for kw in ({"sigma": 0}, {"compactness": 0.01}, {"core": 0.5, "ring": 2}):
        check_clear_contrast(segment_watershed, img, gt, box, method="watershed",
                             postprocess="full", **kw)


def test_watershed_keeps_to_its_boxes():
    check_box_filtering(segment_watershed)


def test_watershed_bad_input():
    check_bad_input(segment_watershed)
    img, _, box = disk_2d()
    for kw, name in (({"sigma": -1}, "sigma"), ({"compactness": -1}, "compactness"),
                     ({"core": 0}, "core")):
        with pytest.raises(ValueError, match=name):
            segment_watershed(img, box, **kw)
