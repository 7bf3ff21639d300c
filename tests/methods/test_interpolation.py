"""Shape-based interpolation, sparse-slice plans and the generic sparse 3D segmenter."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi

from classicseg.methods.interpolation import (
    fill_slices,
    plan_sparse_slices,
    segment_sparse_3d,
    shape_interpolate,
    signed_distance,
)

masks = arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12)))


def disc(shape, centre, radius):
    yy, xx = np.indices(shape)
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def ball_volume(d=21, hw=40, r=8.0):
    zz, yy, xx = np.indices((d, hw, hw))
    c = (d // 2, hw // 2, hw // 2)
    inside = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r ** 2
    return np.where(inside, 200, 20).astype(np.uint8)


# --------------------------------------------------------------------------- properties

@settings(max_examples=60, deadline=None)
@given(st.data())
def test_alpha_0_and_1_return_the_anchors(data):
    a = data.draw(masks)
    b = data.draw(arrays(bool, a.shape))
    assert np.array_equal(shape_interpolate(a, b, 0.0), a)
    assert np.array_equal(shape_interpolate(a, b, 1.0), b)
    # and without the shortcut: alpha within a hair of the ends still gives the anchors
    # wherever the other anchor is not empty (the sign of S(a) decides)
    if a.any() and b.any():
        assert np.array_equal(shape_interpolate(a, b, 1e-9), a)


@settings(max_examples=60, deadline=None)
@given(masks, st.integers(1, 9))
def test_interpolating_a_shape_with_itself_returns_it(a, k):
    # the reference code erodes interp(P, P) by one pixel; the paper's formula must not
    assert np.array_equal(shape_interpolate(a, a, k / 10), a)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(1, 6), st.integers(2, 7))
def test_result_is_symmetric_and_inside_the_anchors_bounding_box(data, k, n):
    a = data.draw(masks)
    b = data.draw(arrays(bool, a.shape))
    k = min(k, n - 1)
    m = shape_interpolate(a, b, k / n)
    assert np.array_equal(m, shape_interpolate(b, a, (n - k) / n))
    union = a | b
    if not union.any():
        assert not m.any()
    else:
        rows, cols = np.nonzero(union)
        outside = np.ones(a.shape, bool)
        outside[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = False
        assert not m[outside].any()


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 30), st.integers(1, 4), st.integers(1, 3), st.floats(0.05, 0.95))
def test_nested_anchors_give_a_nested_result(size, r_small, grow, alpha):
    small = disc((size, size), (size // 2, size // 2), r_small)
    big = disc((size, size), (size // 2, size // 2), r_small + grow)
    m = shape_interpolate(small, big, alpha)
    assert np.all(m >= small) and np.all(m <= big)


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_signed_distance_equals_scipy_definition(mask):
    if not mask.any():
        return
    padded = np.pad(mask, 1)
    expect = (ndi.distance_transform_edt(padded) - ndi.distance_transform_edt(~padded))[1:-1, 1:-1]
    assert np.array_equal(signed_distance(mask), expect)   # the OpenCV fast path is exact
    vol = np.pad(mask[None], ((1, 1), (0, 0), (0, 0)))        # 3D goes through scipy
    pv = np.pad(vol, 1)
    expect3 = (ndi.distance_transform_edt(pv) - ndi.distance_transform_edt(~pv))[1:-1, 1:-1, 1:-1]
    assert np.array_equal(signed_distance(vol), expect3)


def test_signed_distance_sign_and_full_mask():
    m = np.zeros((5, 7), bool)
    m[1:4, 1:6] = True
    s = signed_distance(m)
    assert np.all(s[m] >= 1) and np.all(s[~m] <= -1)
    full = signed_distance(np.ones((4, 4), bool))  # beyond the edge counts as background
    assert np.isfinite(full).all() and full.min() == 1
    with pytest.raises(ValueError, match="empty"):
        signed_distance(np.zeros((3, 3), bool))


def test_square_to_point_midway_is_the_medium_square():
    a = np.zeros((9, 9), bool)
    a[2:7, 2:7] = True
    b = np.zeros((9, 9), bool)
    b[4, 4] = True
    mid = shape_interpolate(a, b, 0.5)
    expect = np.zeros((9, 9), bool)
    expect[3:6, 3:6] = True
    assert np.array_equal(mid, expect)


def test_empty_anchor_modes():
    a = disc((31, 31), (15, 15), 8)
    empty = np.zeros_like(a)
    near = shape_interpolate(a, empty, 0.25)
    assert 0 < near.sum() < a.sum() and np.all(near <= a)   # shrinks evenly ...
    assert not shape_interpolate(a, empty, 0.5).any()       # ... and vanishes half-way
    assert not shape_interpolate(a, empty, 0.25, empty="empty").any()   # reference behaviour
    assert not shape_interpolate(empty, empty, 0.5).any()
    with pytest.raises(ValueError, match="empty must be"):
        shape_interpolate(a, empty, 0.5, empty="bogus")


def test_interpolation_does_not_mutate_inputs():
    a = disc((20, 20), (10, 10), 5)
    b = disc((20, 20), (8, 12), 3)
    a0, b0 = a.copy(), b.copy()
    shape_interpolate(a, b, 0.4)
    fill_slices({0: a, 3: b}, 0, 3)
    out0 = shape_interpolate(a, b, 0.0)
    out0[:] = False  # returned anchors are copies, not views of the caller's arrays
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_bad_interpolation_input():
    a = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="same shape"):
        shape_interpolate(a, np.zeros((4, 5), bool), 0.5)
    with pytest.raises(ValueError, match="alpha"):
        shape_interpolate(a, a, 1.5)
    with pytest.raises(ValueError, match="2D"):
        shape_interpolate(np.zeros((2, 3, 3), bool), np.zeros((2, 3, 3), bool), 0.5)


# --------------------------------------------------------------------------- plans

@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(0, 60), st.integers(1, 8))
def test_plan_includes_both_ends_and_leaves_no_gap_wider_than_s(z_min, extent, s):
    z_max = z_min + extent
    plan = plan_sparse_slices(z_min, z_max, s)
    assert plan[0] == z_min and plan[-1] == z_max
    assert np.all(np.diff(plan) >= 1) and np.all(np.diff(plan) <= s)
    assert len(plan) == -(-extent // s) + 1  # ceil(extent / s) + 1 slices: no more than needed


def test_plan_examples_and_errors():
    assert plan_sparse_slices(0, 9, 1).tolist() == list(range(10))
    assert plan_sparse_slices(10, 20, 3).tolist() == [10, 13, 16, 19, 20]
    assert plan_sparse_slices(5, 5, 3).tolist() == [5]
    for args in [(3, 2, 1), (0, 5, 0), (0, 5, 1.5), (0.5, 5, 1)]:
        with pytest.raises(ValueError):
            plan_sparse_slices(*args)


def test_fill_slices_copies_predictions_and_interpolates_gaps():
    a = disc((25, 25), (12, 12), 9)
    b = disc((25, 25), (12, 12), 3)
    stack = fill_slices({4: a, 7: b}, 4, 7)
    assert stack.shape == (4, 25, 25)
    assert np.array_equal(stack[0], a) and np.array_equal(stack[3], b)
    areas = stack.sum(axis=(1, 2))
    assert areas[0] > areas[1] > areas[2] > areas[3]
    assert np.array_equal(stack[1], shape_interpolate(a, b, 1 / 3))
    assert np.array_equal(stack[2], shape_interpolate(a, b, 2 / 3))


def test_fill_slices_errors():
    a = np.zeros((5, 5), bool)
    with pytest.raises(ValueError, match="first and last"):
        fill_slices({0: a, 2: a}, 0, 3)
    with pytest.raises(ValueError, match="shape"):
        fill_slices({0: a, 3: np.zeros((5, 6), bool)}, 0, 3)
    with pytest.raises(ValueError, match="empty"):
        fill_slices({}, 0, 3)


# --------------------------------------------------------------------------- sparse 3D

def test_sparse_segmentation_with_a_threshold_predictor():
    vol = ball_volume()
    box = [10, 10, 1, 30, 30, 19]
    calls = []

    def predictor(z):
        calls.append(z)
        return vol[z] > 100

    dense, where = segment_sparse_3d(predictor, box, 1, shape=vol.shape)
    truth = (vol > 100)[where]
    assert np.array_equal(dense, truth) and calls == list(range(1, 20))

    calls.clear()
    sparse, where3 = segment_sparse_3d(predictor, box, 3, shape=vol.shape)
    assert where3 == where and calls == plan_sparse_slices(1, 19, 3).tolist()
    dice = 2 * (sparse & truth).sum() / (sparse.sum() + truth.sum())
    assert 0.9 < dice < 1.0  # interpolation approximates the sphere; it is not exact
    for z in calls:  # predicted slices are kept as predicted
        assert np.array_equal(sparse[z - 1], truth[z - 1])


def test_sparse_segmentation_accepts_crop_predictions_and_box_filters_full_ones():
    vol = np.full((6, 20, 20), 200, np.uint8)  # everything bright: full-slice predictions leak
    box = [5, 4, 0, 9, 12, 5]
    full, where = segment_sparse_3d(lambda z: vol[z] > 100, box, 2, shape=vol.shape)
    crop, _ = segment_sparse_3d(lambda z: np.ones((9, 5), bool), box, 2, shape=vol.shape)
    assert full.shape == (6, 9, 5) and full.all() and np.array_equal(full, crop)
    assert where == (slice(0, 6), slice(4, 13), slice(5, 10))


def test_sparse_segmentation_errors():
    vol = np.zeros((4, 8, 8), np.uint8)
    with pytest.raises(ValueError, match="expected the slice"):
        segment_sparse_3d(lambda z: np.zeros((3, 3), bool), [0, 0, 0, 7, 7, 3], 2, shape=vol.shape)
    with pytest.raises(ValueError, match="outside"):
        segment_sparse_3d(lambda z: vol[z] > 0, [0, 0, 0, 8, 7, 3], 2, shape=vol.shape)
    with pytest.raises(ValueError, match="box must be"):
        segment_sparse_3d(lambda z: vol[z] > 0, [0, 0, 7, 7], 2, shape=vol.shape)
    with pytest.raises(ValueError, match="function"):
        segment_sparse_3d(None, [0, 0, 0, 7, 7, 3], 2, shape=vol.shape)
