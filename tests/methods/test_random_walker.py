"""Random walker (classicseg.methods.random_walker): box-border / box-core seeds, 2D and 3D."""

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

from classicseg.methods.random_walker import segment_random_walker


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
def test_random_walker_finds_a_clear_object(case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(segment_random_walker, img, gt, box, method="random-walker",
                         postprocess="full")


def test_random_walker_solvers_agree_in_2d():
    # at a moderate beta conjugate gradients converge; the direct solve is the default
    img, gt, box = disk_2d()
    bf = segment_random_walker(img, box, beta=130).segs
    cg = segment_random_walker(img, box, mode="cg_j", beta=130).segs
    assert (bf != cg).sum() <= 0.01 * gt.sum()


def test_random_walker_default_beta_follows_weak_edges():
    # a soft-edged disk, little contrast: scikit-image's beta = 130 stops near the seeds
    from scipy import ndimage as ndi

    from classicseg.metrics import dice

    img, gt, box = disk_2d()
    soft = ndi.gaussian_filter(np.where(gt, 90.0, 60.0), 2) + np.random.default_rng(1).normal(
        0, 4, gt.shape)
    ours = dice(gt, segment_random_walker(soft, box).segs)
    theirs = dice(gt, segment_random_walker(soft, box, beta=130).segs)
    assert ours >= 0.9 and ours > theirs


def test_random_walker_box_smaller_than_its_seeds():
    img, _, _ = disk_2d()
    res = segment_random_walker(img, [[40, 40, 41, 41]])
    assert "seeds only" in res.boxes[0].reason and (res.segs == 1).sum() >= 1


def test_random_walker_keeps_to_its_boxes():
    check_box_filtering(segment_random_walker)


def test_random_walker_bad_input():
    check_bad_input(segment_random_walker)
    img, _, box = disk_2d()
    for kw, name in (({"beta": 0}, "beta"), ({"core": 1.5}, "core"), ({"ring": 0}, "ring"),
                     ({"mode": "exact"}, "mode")):
        with pytest.raises(ValueError, match=name):
            segment_random_walker(img, box, **kw)
    assert np.array_equal(segment_random_walker(img, box, postprocess="box").segs > 0,
                          segment_random_walker(img, box).segs > 0)
