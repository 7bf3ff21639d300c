"""Post-processing (largest component, hole filling, box filter) and the ellipse fit."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi

from classicseg.methods.ellipse import Ellipse, ellipse_mask, fit_ellipse
from classicseg.methods.postprocess import box_filter, fill_holes, largest_component, postprocess_mask


@st.composite
def mask_and_box(draw):
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    mask = draw(arrays(bool, shape))
    lo = [draw(st.integers(0, n - 1)) for n in shape]
    hi = [draw(st.integers(a, n - 1)) for a, n in zip(lo, shape)]
    # box order is (x, y[, z]); array order is ([z,] y, x)
    box = lo[::-1] + hi[::-1]
    return mask, box, tuple(slice(a, b + 1) for a, b in zip(lo, hi))


@settings(max_examples=150, deadline=None)
@given(mask_and_box(), st.booleans(), st.booleans())
def test_postprocess_never_adds_pixels_outside_the_box(mb, lcc, fill):
    mask, box, where = mb
    before = mask.copy()
    out = postprocess_mask(mask, lcc=lcc, fill=fill, box=box)
    outside = np.ones(mask.shape, bool)
    outside[where] = False
    assert not out[outside].any()
    assert np.array_equal(mask, before)  # the caller's array is untouched
    if not fill:
        assert np.all(out <= mask)       # without filling, only removes pixels


@settings(max_examples=100, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_component_and_fill_properties(mask):
    lcc = largest_component(mask)
    assert np.all(lcc <= mask)
    assert np.array_equal(largest_component(lcc), lcc)   # idempotent
    filled = fill_holes(mask)
    assert np.all(filled >= mask)
    assert np.array_equal(fill_holes(filled), filled)
    if mask.any():
        assert lcc.any()


@settings(max_examples=100, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9))))
def test_fill_holes_on_the_bounding_box_equals_scipy_on_the_whole_array(mask):
    assert np.array_equal(fill_holes(mask), ndi.binary_fill_holes(mask))
    assert np.array_equal(fill_holes(mask[0]), ndi.binary_fill_holes(mask[0]))


def test_connectivity_2d_and_3d():
    diag = np.eye(4, dtype=bool)
    assert largest_component(diag).sum() == 4                  # 8-connected by default
    assert largest_component(diag, connectivity=1).sum() == 1
    cube = np.zeros((3, 3, 3), bool)
    cube[0, 0, 0] = cube[1, 1, 1] = cube[2, 2, 2] = True        # corner-touching voxels
    assert largest_component(cube).sum() == 3                   # 26-connected
    assert largest_component(cube, connectivity=2).sum() == 1   # 18-connected: not joined
    with pytest.raises(ValueError, match="connectivity"):
        largest_component(cube, connectivity=4)
    assert not largest_component(np.zeros((3, 3), bool)).any()


def test_fill_holes_and_box_filter():
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    assert fill_holes(ring).sum() == 25
    open_ring = ring.copy()
    open_ring[3, 5] = False                  # a gap to the outside: no hole to fill
    assert np.array_equal(fill_holes(open_ring), open_ring)
    kept = box_filter(np.ones((4, 6), bool), [1, 2, 3, 3])  # x 1..3, y 2..3 inclusive
    assert kept.sum() == 6 and kept[2:4, 1:4].all()
    vol = box_filter(np.ones((5, 4, 4), bool), [0, 0, 1, 3, 3, 2])
    assert vol.sum() == 2 * 16 and vol[1:3].all()
    with pytest.raises(ValueError, match="coordinates"):
        box_filter(np.ones((4, 4), bool), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="2D or 3D"):
        largest_component(np.ones(5, bool))


def test_box_filter_runs_before_the_largest_component():
    m = np.zeros((10, 10), bool)
    m[0:3, 0:9] = True        # big blob, mostly outside the box
    m[6:9, 6:9] = True        # smaller blob, inside the box
    out = postprocess_mask(m, box=[5, 5, 9, 9])
    assert out.sum() == 9 and out[6:9, 6:9].all()


# --------------------------------------------------------------------------- ellipse

@pytest.mark.parametrize("centre, axes, angle", [((80, 60), (100, 60), 30), ((50, 70), (40, 90), 0),
                                                 ((64, 64), (70, 70), 0), ((70, 50), (120, 50), 135)])
def test_ellipse_fit_recovers_a_drawn_ellipse(centre, axes, angle):
    m = np.zeros((140, 160), np.uint8)
    cv2.ellipse(m, (tuple(map(float, centre)), tuple(map(float, axes)), float(angle)), 1, -1)
    e = fit_ellipse(m.astype(bool))
    assert e.center_x == pytest.approx(centre[0], abs=1) and e.center_y == pytest.approx(centre[1], abs=1)
    assert e.semi_major == pytest.approx(max(axes) / 2, abs=1.5)
    assert e.semi_minor == pytest.approx(min(axes) / 2, abs=1.5)
    redrawn = ellipse_mask(m.shape, e)
    dice = 2 * (redrawn & (m > 0)).sum() / (redrawn.sum() + m.sum())
    assert dice > 0.97
    a, b = e.semi_major, e.semi_minor
    assert 2 * np.pi * b <= e.circumference <= 2 * np.pi * a and e.area == pytest.approx(np.pi * a * b)


def test_ellipse_fit_uses_the_largest_component_and_rejects_bad_masks():
    m = np.zeros((100, 100), np.uint8)
    cv2.ellipse(m, ((40.0, 40.0), (50.0, 30.0), 0.0), 1, -1)
    m[90:93, 90:93] = 1
    e = fit_ellipse(m)
    assert e.center_x == pytest.approx(40, abs=1)
    with pytest.raises(ValueError, match="empty"):
        fit_ellipse(np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="at least 5"):
        fit_ellipse(np.pad(np.ones((1, 2), bool), 2))
    with pytest.raises(ValueError, match="2D"):
        fit_ellipse(np.ones((3, 3, 3), bool))
    with pytest.raises(ValueError, match="invalid"):
        ellipse_mask((10, 10), Ellipse(5, 5, -1, 3, 0))
