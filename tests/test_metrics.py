"""DSC / NSD: parity with the official CVPR24 evaluation (metric_vectors), and properties."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from classicseg import metrics
from classicseg.metrics import FLAVOURS, dice, normalized_surface_dice, score_case, surface_overlap

TOL = 1e-6


@pytest.fixture(scope="module")
def vectors(reference_dir):
    meta = json.loads((reference_dir / "metric_vectors.json").read_text())
    with np.load(reference_dir / "metric_vectors.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert int(arrays["num_cases"]) == len(meta["cases"])
    return meta["cases"], arrays


def _same(got, expected):
    """null in the JSON means NaN."""
    if expected is None:
        return isinstance(got, float) and math.isnan(got)
    return not math.isnan(got) and abs(got - expected) <= TOL


def _case_ids():
    return list(range(35))


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("index", _case_ids())
def test_parity_with_official_vectors(vectors, index, flavour):
    cases, arrays = vectors
    c = cases[index]
    gt, seg = arrays[f"case{index}_gt"], arrays[f"case{index}_seg"]
    spacing = arrays[f"case{index}_spacing"]
    gt_before, seg_before = gt.copy(), seg.copy()
    r = score_case(gt, seg, name=c["official_file_name"], spacing=spacing, flavour=flavour)

    assert r["flavour"] == flavour and r["dim"] == c["dim"]
    assert r["labels"] == c["labels"]
    assert len(r["dsc_per_label"]) == len(c["dsc_per_label"])
    for got, exp in zip(r["dsc_per_label"], c["dsc_per_label"]):
        assert _same(got, exp), (c["name"], r["dsc_per_label"], c["dsc_per_label"])
    assert _same(r["dsc"], c["dsc"])
    assert r["nsd_gate_passed"] is c["nsd_gate_passed"]
    key = "nsd" if flavour == "challenge" else "nsd_correct"
    for got, exp in zip(r["nsd_per_label"], c[f"{key}_per_label"]):
        assert _same(got, exp), (c["name"], flavour, r["nsd_per_label"], c[f"{key}_per_label"])
    assert _same(r["nsd"], c[key]), (c["name"], flavour, r["nsd"], c[key])
    expected_sampling = (c["spacing_passed_official"] if flavour == "challenge"
                         else c["spacing_passed_correct"])
    if c["dim"] == 3:
        assert list(r["sampling"]) == pytest.approx(expected_sampling)
    # the caller's arrays are untouched
    np.testing.assert_array_equal(gt, gt_before)
    np.testing.assert_array_equal(seg, seg_before)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_surfel_areas_match_reference_details(vectors, flavour):
    """Surface areas and overlaps per label (not only their ratio) match the reference."""
    cases, arrays = vectors
    key = "nsd_detail_per_label" if flavour == "challenge" else "nsd_correct_detail_per_label"
    checked = 0
    for c in cases:
        gt, seg = arrays[f"case{c['index']}_gt"], arrays[f"case{c['index']}_seg"]
        for k, detail in zip(c["labels"], c[key]):
            if detail is None:
                continue
            got = surface_overlap(gt == k, seg == k, spacing=arrays[f"case{c['index']}_spacing"],
                                  flavour=flavour)
            for name, value in detail.items():
                if value is None:
                    continue
                assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-9), (c["name"], k, name)
            checked += 1
    assert checked > 50


def test_disk_surface_area_official_2d_slab():
    """docs/algorithms.md §13.3: a radius-12 disk has a GT surface area of 918.4 as a 2D slab."""
    yy, xx = np.mgrid[:64, :80]
    disk = (yy - 32) ** 2 + (xx - 40) ** 2 <= 12 ** 2
    area = surface_overlap(disk, disk)["area_gt"]
    assert area == pytest.approx(918.4, abs=0.05)
    contour = surface_overlap(disk, disk, flavour="correct")["area_gt"]
    assert 2 * math.pi * 12 * 0.9 < contour < 2 * math.pi * 12 * 1.1  # a perimeter, not an area


def test_gate_is_strict_and_nan_fails():
    gt = np.zeros((20, 20), np.uint8)
    gt[0:10, 0:10] = 1  # 100 px
    seg = np.zeros_like(gt)
    seg[0:10, 0:2] = 1
    seg[15:20, 10:20] = 1  # 20 in + 50 out: 2*20/(100+70) = 0.235
    assert score_case(gt, seg)["nsd"] > 0
    seg2 = np.zeros_like(gt)
    seg2[0:5, 0:4] = 1
    seg2[10:20, 10:18] = 1  # 20 in + 80 out: 40/200 = 0.2 exactly
    r = score_case(gt, seg2)
    assert r["dsc"] == 0.2 and r["nsd_gate_passed"] is False and r["nsd"] == 0.0
    assert not math.isnan(r["nsd_per_label"][0])  # computed anyway by default
    r = score_case(gt, seg2, nsd_when_gated=False)
    assert r["nsd"] == 0.0 and math.isnan(r["nsd_per_label"][0])


def test_all_background_gt_and_absent_labels():
    gt = np.zeros((10, 10), np.uint8)
    seg = np.ones_like(gt)
    r = score_case(gt, seg)
    assert r["labels"] == [] and math.isnan(r["dsc"]) and r["nsd"] == 0.0
    gt[2:5, 2:5] = 3
    seg = gt.copy()
    seg[8, 8] = 7  # above max(gt): ignored
    r = score_case(gt, seg)
    assert r["labels"] == [1, 2, 3]
    assert math.isnan(r["dsc_per_label"][0]) and r["dsc_per_label"][2] == 1.0
    assert math.isnan(r["dsc"]) and r["nsd"] == 0.0


def test_spacing_order_per_flavour_3d():
    gt = np.zeros((8, 30, 30), bool)
    gt[2:6, 5:20, 5:20] = True
    seg = np.roll(gt, 1, axis=0)  # one slice along z
    sp = (0.8, 0.8, 2.5)
    assert normalized_surface_dice(gt, seg, spacing=sp) == 1.0  # z charged 0.8 mm (official quirk)
    assert normalized_surface_dice(gt, seg, spacing=sp, flavour="correct") < 0.9  # 2.5 mm: outside
    iso = (1.5, 1.5, 1.5)
    assert normalized_surface_dice(gt, seg, spacing=iso) == pytest.approx(
        normalized_surface_dice(gt, seg, spacing=iso, flavour="correct"))


def test_tolerance_is_inclusive():
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:10] = True
    seg = np.roll(gt, 2, axis=1)  # contours exactly 2 px apart
    assert normalized_surface_dice(gt, seg, flavour="correct", tolerance=2.0) == 1.0
    assert normalized_surface_dice(gt, seg, flavour="correct", tolerance=1.999) < 1.0


def test_empty_masks():
    z = np.zeros((5, 6), bool)
    o = z.copy()
    o[1:3, 1:3] = True
    assert math.isnan(dice(z, z)) and dice(o, z) == 0.0
    assert math.isnan(normalized_surface_dice(z, z)) and normalized_surface_dice(o, z) == 0.0
    assert normalized_surface_dice(z, o, flavour="correct") == 0.0


def test_bad_inputs_raise_clear_errors():
    a = np.zeros((5, 6), np.uint8)
    with pytest.raises(ValueError, match="differs from prediction shape"):
        dice(a, np.zeros((6, 5), np.uint8))
    with pytest.raises(ValueError, match="flavour must be one of"):
        score_case(a, a, flavour="official")
    with pytest.raises(ValueError, match="must be 2D"):
        score_case(np.zeros(5, np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="boolean or integer"):
        score_case(a, a.astype(float))
    with pytest.raises(ValueError, match=r"\(x, y, z\) order"):
        normalized_surface_dice(np.zeros((2, 3, 3), bool), np.zeros((2, 3, 3), bool),
                                spacing=(1, -1, 1))
    with pytest.raises(ValueError, match="tolerance"):
        normalized_surface_dice(a, a, tolerance=float("nan"))


def test_name_prefix_disagreeing_with_ndim_warns():
    gt = np.zeros((3, 8, 8), np.uint8)
    gt[1, 2:5, 2:5] = 1
    with pytest.warns(UserWarning, match="name says 2D but the masks are 3D"):
        score_case(gt, gt, name="2DBox_CT_0001", spacing=(1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_case(gt, gt, name="3DBox_CT_0001", spacing=(1, 1, 1))


def test_label_crops_equal_full_volume_scoring():
    """score_case's per-label crops give the same numbers as whole-volume masks."""
    rng = np.random.default_rng(3)
    gt = np.zeros((10, 40, 40), np.uint8)
    gt[1:6, 3:15, 4:20] = 1
    gt[4:9, 20:35, 22:38] = 2
    gt[0:2, 30:40, 0:6] = 4  # touches the border
    seg = gt.copy()
    seg[rng.random(gt.shape) < 0.02] = 0
    seg = np.roll(seg, 1, axis=2)
    sp = (0.7, 0.9, 3.0)
    for flavour in FLAVOURS:
        r = score_case(gt, seg, spacing=sp, flavour=flavour)
        for k, d, n in zip(r["labels"], r["dsc_per_label"], r["nsd_per_label"]):
            full_d = dice(gt == k, seg == k)
            full_n = normalized_surface_dice(gt == k, seg == k, spacing=sp, flavour=flavour)
            assert (math.isnan(d) and math.isnan(full_d)) or d == pytest.approx(full_d)
            assert (math.isnan(n) and math.isnan(full_n)) or n == pytest.approx(full_n)


# --------------------------------------------------------------------------- properties

masks_2d = hnp.arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_dice_symmetric_and_bounded(data):
    a = data.draw(masks_2d)
    b = data.draw(hnp.arrays(bool, a.shape))
    d1, d2 = dice(a, b), dice(b, a)
    if not a.any() and not b.any():
        assert math.isnan(d1) and math.isnan(d2)
    else:
        assert d1 == d2 and 0.0 <= d1 <= 1.0


@settings(max_examples=40, deadline=None)
@given(masks_2d, st.sampled_from(FLAVOURS))
def test_identical_masks_score_one(a, flavour):
    if not a.any():
        a = a.copy()
        a.flat[0] = True
    assert dice(a, a) == 1.0
    assert normalized_surface_dice(a, a, flavour=flavour) == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(bool, st.tuples(st.integers(1, 5), st.integers(1, 8), st.integers(1, 8))),
       st.sampled_from(FLAVOURS),
       st.tuples(*[st.floats(0.3, 4.0)] * 3))
def test_identical_3d_masks_nsd_one(a, flavour, spacing):
    if not a.any():
        a = a.copy()
        a.flat[-1] = True
    assert normalized_surface_dice(a, a, spacing=spacing, flavour=flavour) == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from(FLAVOURS))
def test_nsd_symmetric_and_bounded(data, flavour):
    a = data.draw(masks_2d)
    b = data.draw(hnp.arrays(bool, a.shape))
    n1 = normalized_surface_dice(a, b, flavour=flavour)
    n2 = normalized_surface_dice(b, a, flavour=flavour)
    if not a.any() and not b.any():
        assert math.isnan(n1)
    else:
        assert n1 == pytest.approx(n2) and -1e-12 <= n1 <= 1 + 1e-12


def test_module_constants():
    assert metrics.FLAVOURS == ("challenge", "correct")
    assert metrics.DEFAULT_TOLERANCE == 2.0 and metrics.NSD_GATE == 0.2
    assert metrics.nsd is metrics.normalized_surface_dice
