"""Box helpers: inclusive maxima, and one argument order (image shape first)."""

import numpy as np
import pytest

from classicseg.boxes import box_mask, clip_box


@pytest.mark.parametrize("shape, box, clipped", [
    ((100, 200), [-5, 10, 250, 120], [0, 10, 199, 99]),
    ((30, 100, 200), [-1, 5, -2, 300, 99, 40], [0, 5, 0, 199, 99, 29]),
    ((10, 10), [2, 3, 4, 5], [2, 3, 4, 5]),
])
def test_clip_box_takes_the_shape_first(shape, box, clipped):
    out = clip_box(shape, box)
    assert out.dtype == np.int64 and out.tolist() == clipped
    assert box_mask(shape, out).sum() > 0                      # same order as box_mask


def test_clip_box_old_order_warns_and_agrees():
    with pytest.warns(DeprecationWarning, match="clip_box\\(shape, box\\)"):
        old = clip_box([-5, 10, 250, 120], (100, 200))
    assert old.tolist() == clip_box((100, 200), [-5, 10, 250, 120]).tolist()
    with pytest.warns(DeprecationWarning):
        assert clip_box([0, 0, 0, 9, 9, 9], (5, 5, 5)).tolist() == [0, 0, 0, 4, 4, 4]


def test_clip_box_rejects_a_shape_of_the_wrong_dimension():
    with pytest.raises(ValueError, match="shape of 2"):
        clip_box((100, 200, 3), [0, 0, 5, 5])                  # an RGB shape: pass shape[:2]
    with pytest.raises(ValueError, match="4 \\(2D\\) or 6 \\(3D\\)"):
        clip_box((100, 200), [0, 0, 5])
