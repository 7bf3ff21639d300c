"""GrabCut (classicseg.methods.grabcut): the box as cv2.grabCut's rect, 2D only."""

from __future__ import annotations

import numpy as np
from toolbox_cases import check_bad_input, check_box_filtering, check_clear_contrast, disk_2d

from classicseg.methods.grabcut import segment_grabcut


def test_grabcut_finds_a_clear_disk_gray_and_rgb():
    for rgb in (False, True):
        img, gt, box = disk_2d(rgb=rgb)
        check_clear_contrast(segment_grabcut, img, gt, box, method="grabcut", postprocess="box")


def test_grabcut_box_on_the_image_border_still_has_a_background():
    # the box touches three image borders: no context there, its own outer rows are background
    img, gt, _ = disk_2d(centre=(15, 15), r=12, shape=(40, 40))
    res = segment_grabcut(img, [[0, 0, 29, 29]])
    assert res.boxes[0].reason.startswith("grabcut: cv2.grabCut")
    assert 2 * ((res.segs == 1) & gt).sum() / ((res.segs == 1).sum() + gt.sum()) >= 0.9


def test_grabcut_tiny_and_constant_boxes_are_filled():
    img = np.zeros((20, 20), np.uint8)
    img[5:10, 5:10] = 200
    res = segment_grabcut(img, [[0, 0, 0, 0], [12, 12, 15, 15], [5, 5, 5, 9]])
    assert [b.reason for b in res.boxes][:2] == ["grabcut: constant box: filled"] * 2
    assert (res.segs == 3).sum() == 5


def test_grabcut_keeps_to_its_boxes():
    check_box_filtering(segment_grabcut)


def test_grabcut_bad_input():
    check_bad_input(segment_grabcut, allow_3d=False)
    img, _, box = disk_2d()
    for kw in ({"iterations": 0}, {"margin": -1}, {"iterations": 2.5}):
        try:
            segment_grabcut(img, box, **kw)
        except ValueError as e:
            assert next(iter(kw)) in str(e)
        else:
            raise AssertionError(f"{kw} accepted")
