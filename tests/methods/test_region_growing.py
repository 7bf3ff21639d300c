"""Flood fill from the box core (classicseg.methods.region_growing), 2D and 3D."""

from __future__ import annotations

import numpy as np
import pytest
from toolbox_cases import (
    ball_3d,
    check_bad_input,
    check_box_filtering,
    check_clear_contrast,
    disk_2d,
)

from classicseg.methods.region_growing import segment_flood


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
def test_flood_finds_a_clear_object(case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(segment_flood, img, gt, box, method="flood", postprocess="full")


def test_flood_records_seed_and_tolerance():
    img, gt, box = disk_2d()
    rec = segment_flood(img, box).boxes[0]
    y, x = rec.extra["seed"]
    assert gt[box[0, 1] + y, box[0, 0] + x]        # the seed lies on the object
    assert 0.2 < rec.extra["tolerance"] < 0.4      # half of the ~140 / 255 contrast
    fixed = segment_flood(img, box, tolerance=0.1).boxes[0]
    assert fixed.extra["tolerance"] == 0.1


def test_flood_k_rule_and_a_flat_object():
    img, gt, box = disk_2d()
    # k x the core's spread: the blurred rim lies beyond a few sigma, so k must be large here
    narrow = segment_flood(img, box, k=3.0).boxes[0].extra["tolerance"]
    wide = check_clear_contrast(segment_flood, img, gt, box, method="flood", postprocess="full",
                                k=12.0)
    assert narrow < 0.05 and wide >= 0.9
    flat = np.where(gt, 200, 40).astype(np.uint8)   # no noise: the gap rule still works
    check_clear_contrast(segment_flood, flat, gt, box, method="flood", postprocess="full")


def test_flood_keeps_to_its_boxes():
    check_box_filtering(segment_flood)


def test_flood_bad_input():
    check_bad_input(segment_flood)
    img, _, box = disk_2d()
    for kw, name in (({"k": 0}, "k"), ({"tolerance": 2}, "tolerance"), ({"gap": 0}, "gap"),
                     ({"sigma": -1}, "sigma"), ({"connectivity": 3}, "connectivity")):
        with pytest.raises(ValueError, match=name):
            segment_flood(img, box, **kw)
