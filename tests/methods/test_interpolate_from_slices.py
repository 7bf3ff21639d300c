"""interpolate_from_slices: the slice plan's interpolation error alone, without a model."""

from __future__ import annotations

import numpy as np
import pytest

from classicseg.methods.interpolation import interpolate_from_slices
from classicseg.metrics import dice


def disk(shape, center, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= r * r


def test_interpolate_from_slices_loses_what_no_anchor_shows():
    m = np.zeros((11, 30, 30), bool)
    radii = [4, 6, 8, 10, 12, 10, 8, 6, 4]          # widest in the middle, on slices 1..9
    for z, r in enumerate(radii, start=1):
        m[z] = disk((30, 30), (15, 15), r)
    assert dice(m, interpolate_from_slices(m, 1, 9, 1)) == 1.0
    sparse = interpolate_from_slices(m, 1, 9, 8)    # only the two end slices kept
    assert sparse[5].sum() < m[5].sum() / 2         # the bulge cannot be invented
    assert dice(m, interpolate_from_slices(m, 1, 9, 2)) > dice(m, sparse)
    assert np.array_equal(sparse[[0, 10]], m[[0, 10]])  # outside z_min..z_max: copied


def test_interpolate_from_slices_rejects_bad_input():
    m = np.zeros((9, 8, 8), bool)
    with pytest.raises(ValueError, match="outside"):
        interpolate_from_slices(m, 3, 9, 2)
    with pytest.raises(ValueError, match="3D"):
        interpolate_from_slices(m[0], 0, 1, 1)
    with pytest.raises(ValueError, match="s must be"):
        interpolate_from_slices(m, 0, 8, 0)
