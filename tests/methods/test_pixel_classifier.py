"""Random forest on multiscale features per box (classicseg.methods.pixel_classifier)."""

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

from classicseg.methods.pixel_classifier import segment_pixel_classifier


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
def test_pixel_classifier_finds_a_clear_object(case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(segment_pixel_classifier, img, gt, box, method="pixel-classifier",
                         postprocess="full")


def test_pixel_classifier_is_deterministic_and_seeded():
    img, _, box = disk_2d()
    a = segment_pixel_classifier(img, box, max_samples=50).segs
    assert np.array_equal(a, segment_pixel_classifier(img, box, max_samples=50).segs)
    reason = segment_pixel_classifier(img, box).boxes[0].reason
    assert "random forest (25 trees)" in reason


def test_pixel_classifier_keeps_to_its_boxes():
    check_box_filtering(segment_pixel_classifier)


def test_pixel_classifier_bad_input():
    check_bad_input(segment_pixel_classifier)
    img, _, box = disk_2d()
    for kw, name in (({"n_estimators": 0}, "n_estimators"), ({"max_depth": 0}, "max_depth"),
                     ({"sigma_min": 5, "sigma_max": 2}, "sigma_min"),
                     ({"max_samples": 0}, "max_samples"), ({"margin": -1}, "margin")):
        with pytest.raises(ValueError, match=name):
            segment_pixel_classifier(img, box, **kw)
