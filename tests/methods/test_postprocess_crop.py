"""apply_postprocess works on the box crop: the same masks as post-processing the full array.

The reference is :func:`postprocess_mask` with ``box=`` (box filter, then LCC / fill on the
whole array), the computation apply_postprocess did before it cropped.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classicseg.methods.postprocess import _STEPS, POSTPROCESS, apply_postprocess, postprocess_mask


def _full_array(mask, mode, box):
    box_on, lcc, fill = _STEPS[mode]
    return postprocess_mask(mask, lcc=lcc, fill=fill, box=box if box_on else None)


@st.composite
def mask_and_box(draw, ndim):
    shape = tuple(draw(st.integers(3, 14)) for _ in range(ndim))
    seed = draw(st.integers(0, 2**31 - 1))
    density = draw(st.sampled_from([0.2, 0.45, 0.7]))
    mask = np.random.default_rng(seed).random(shape) < density
    lo = [draw(st.integers(0, n - 1)) for n in shape]
    hi = [draw(st.integers(a, n - 1)) for a, n in zip(lo, shape)]
    # box order: x (last axis) first, as [x0, y0, (z0,) x1, y1, (z1)]
    box = [lo[-1], lo[-2]] + ([lo[0]] if ndim == 3 else []) + \
          [hi[-1], hi[-2]] + ([hi[0]] if ndim == 3 else [])
    return mask, box


@settings(max_examples=150, deadline=None)
@given(data=mask_and_box(2), mode=st.sampled_from(POSTPROCESS))
def test_crop_equals_full_array_2d(data, mode):
    mask, box = data
    got = apply_postprocess(mask, mode, box=box)
    assert got.shape == mask.shape and got.dtype == bool
    assert np.array_equal(got, _full_array(mask, mode, box))


@settings(max_examples=80, deadline=None)
@given(data=mask_and_box(3), mode=st.sampled_from(POSTPROCESS))
def test_crop_equals_full_array_3d(data, mode):
    mask, box = data
    assert np.array_equal(apply_postprocess(mask, mode, box=box), _full_array(mask, mode, box))


def test_crop_keeps_holes_touching_the_box_edge_open_and_fills_inner_ones():
    m = np.zeros((12, 12), bool)
    m[2:10, 2:10] = True
    m[4:6, 4:6] = False      # an inner hole: filled
    m[2:4, 7:9] = False      # a notch open to the box's top edge at y = 2: stays open
    box = [2, 2, 9, 9]
    out = apply_postprocess(m, "full", box=box)
    assert out[4:6, 4:6].all() and not out[2:4, 7:9].any()
    assert np.array_equal(out, _full_array(m, "full", box))


def test_box_beyond_the_array_and_input_untouched():
    rng = np.random.default_rng(3)
    m = rng.random((20, 30)) < 0.5
    before = m.copy()
    for mode in POSTPROCESS:
        out = apply_postprocess(m, mode, box=[-5, 3, 40, 25])  # clipped to the array
        assert np.array_equal(out, _full_array(m, mode, [-5, 3, 40, 25]))
    assert np.array_equal(m, before)
    with pytest.raises(ValueError, match="box must have 4 coordinates"):
        apply_postprocess(m, "lcc", box=[1, 2, 3])
