"""Tests of classicseg.analysis.studies (the measurements behind the notebooks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classicseg.analysis import studies
from classicseg.io import Case
from classicseg.metrics import normalized_surface_dice
from classicseg.result import SegmentationResult


def disk(shape=(96, 96), center=(48, 48), r=20):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= r * r


def result_of(masks, shape):
    res = SegmentationResult.empty(shape, len(masks))
    for i, m in enumerate(masks):
        res.add_box(i, m, method="test", seconds=0.5, iou_pred=0.9)
    return res


# ------------------------------------------------------------------ tolerant_area_overlap / shifted
def test_tolerant_overlap_counts_area_within_tolerance():
    a = np.zeros((30, 30), bool)
    a[5:15, 5:15] = True
    b = studies.shifted(a, 0, 4)  # columns 9..18; 2 px tolerance reaches 8 of 10 columns each way
    assert studies.tolerant_area_overlap(a, b) == pytest.approx(0.8)
    assert studies.tolerant_area_overlap(a, b, tolerance=4) == pytest.approx(1.0)
    # the plain overlap share
    assert studies.tolerant_area_overlap(a, b, tolerance=0) == pytest.approx(0.6)
    assert studies.tolerant_area_overlap(a, a) == 1.0


def test_tolerant_overlap_empty_rules_and_errors():
    z = np.zeros((5, 5), bool)
    o = z.copy()
    o[2, 2] = True
    assert math.isnan(studies.tolerant_area_overlap(z, z))
    assert studies.tolerant_area_overlap(o, z) == 0.0
    with pytest.raises(ValueError, match="shape"):
        studies.tolerant_area_overlap(z, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="tolerance"):
        studies.tolerant_area_overlap(o, o, tolerance=-1)


def test_challenge_2d_nsd_tracks_tolerant_area_overlap_not_contours():
    """The lesson of notebook 00: the official 2D NSD is (almost) a tolerant area overlap."""
    gt = disk()
    for shift in (3, 6, 12):
        seg = studies.shifted(gt, 0, shift)
        area = studies.tolerant_area_overlap(gt, seg)
        official = normalized_surface_dice(gt, seg, flavour="challenge")
        contour = normalized_surface_dice(gt, seg, flavour="correct")
        assert abs(official - area) < 0.03, (shift, official, area)
        assert contour < official - 0.3, (shift, contour, official)


def test_shifted_does_not_wrap_and_keeps_dtype():
    m = np.zeros((4, 4), np.uint8)
    m[0, 3] = 7
    assert studies.shifted(m, 0, 1).sum() == 0  # left the frame: gone, not wrapped
    out = studies.shifted(m, 2, -3)
    assert out[2, 0] == 7 and out.sum() == 7 and out.dtype == np.uint8
    assert studies.shifted(m, 9, 0).sum() == 0
    with pytest.raises(ValueError):
        studies.shifted(np.zeros((2, 2, 2)), 1, 1)


# ------------------------------------------------------------------ per-box helpers
def test_per_box_dice_in_box_order_with_nan_for_absent_labels():
    gt = np.array([[1, 1, 0, 3, 3]])
    seg = np.array([[1, 0, 0, 3, 3]])
    d = studies.per_box_dice(gt, seg)
    assert d[0] == pytest.approx(2 / 3) and math.isnan(d[1]) and d[2] == 1.0
    with pytest.raises(ValueError):
        studies.per_box_dice(gt, seg[:, :3])


def test_subset_case_relabels_and_keeps_the_original():
    gt = np.zeros((10, 10), np.uint16)
    gt[0:2, 0:2], gt[4:6, 4:6], gt[8:10, 8:10] = 1, 2, 3
    boxes = np.array([[0, 0, 1, 1], [4, 4, 5, 5], [8, 8, 9, 9]])
    case = Case("2DBox_Microscopy_1", np.zeros((10, 10, 3), np.uint8), boxes, gts=gt,
                meta={"synthetic": True})
    sub = studies.subset_case(case, [2, 0])
    assert sub.boxes.tolist() == [[8, 8, 9, 9], [0, 0, 1, 1]]
    assert sub.gts[8, 8] == 1 and sub.gts[0, 0] == 2 and sub.gts[4, 4] == 0
    assert case.gts[8, 8] == 3 and case.n_boxes == 3                  # input untouched
    assert sub.synthetic and sub.meta["subset"] == [2, 0]
    with pytest.raises(ValueError):
        studies.subset_case(case, [3])
    with pytest.raises(ValueError):
        studies.subset_case(case, [1, 1])


def test_per_box_table_sizes_dice_and_iou():
    gt = np.zeros((20, 20), np.uint16)
    gt[2:6, 2:10] = 1
    gt[12:18, 12:18] = 2
    case = Case("2DBox_US_1", np.zeros((20, 20, 3), np.uint8),
                np.array([[1, 1, 10, 6], [11, 11, 18, 18]]), gts=gt)
    good = result_of([gt == 1, gt == 2], gt.shape)
    half = result_of([gt == 1, np.zeros_like(gt, bool)], gt.shape)
    rows = studies.per_box_table(case, {"good": good, "half": half}, iou_of="good")
    assert ([r["side"] for r in rows] == [10, 8] and rows[0]["area"] == 60
            and rows[1]["gt_pixels"] == 36)
    assert rows[1]["dsc"] == {"good": 1.0, "half": 0.0} and rows[0]["iou_pred"] == 0.9


# ------------------------------------------------------------------ thresholds
def test_box_values_pools_boxes_in_both_dimensions():
    vol = np.arange(27).reshape(3, 3, 3)
    assert studies.box_values(vol, [[0, 0, 0, 0, 0, 1]]).tolist() == [0, 9]
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0] = np.arange(16).reshape(4, 4)
    img[..., 1] = 99
    assert studies.box_values(img, [[0, 0, 1, 0], [3, 3, 3, 3]]).tolist() == [0, 1, 15]
    assert studies.box_values(img, np.zeros((0, 4))).size == 0
    with pytest.raises(ValueError):
        studies.box_values(np.zeros((5, 6, 7)), [[0, 0, 1, 1]])


def pet_case():
    rng = np.random.default_rng(0)
    vol = rng.normal(40, 4, (16, 24, 24)).clip(0, 255).astype(np.uint8)
    gt = np.zeros(vol.shape, np.uint16)
    gt[6:10, 8:14, 8:14] = 1
    vol[gt == 1] = 200
    vol[0:3, 0:4, 0:4] = 250                       # "physiological uptake" outside the box
    return Case("3DBox_PET_1", vol, np.array([[7, 7, 5, 14, 14, 10]]), spacing=(4.0, 4.0, 4.0),
                gts=gt)


def test_threshold_study_pet_and_forcing():
    case = pet_case()
    s = studies.threshold_study(case)
    assert s["dsc"] == 1.0 and 40 < s["threshold"] < 200 and s["forcing"] == ["not forced"]
    assert s["ratio_before"][0] == pytest.approx(144 / 384)
    # Otsu and the authors' GHT agree; options reach segment_pet (here a stricter forcing band)
    assert studies.threshold_study(case, method="otsu")["threshold"] == s["threshold"]
    forced = studies.threshold_study(case, bounds=(0.5, 0.88))
    unforced = studies.threshold_study(case, bounds=(0.5, 0.88), force=False)
    assert forced["ratio_after"][0] >= 0.5 and forced["forcing"][0].startswith("dilated")
    assert unforced["dsc"] == 1.0 > forced["dsc"]


def test_studies_hold_measurements_only():
    """Segmenters, mask transforms and figures live in methods/ and viz (one home each)."""
    for moved in ("skull_ellipse", "ellipse_result", "ellipse_agreement", "interpolate_from_slices",
                  "threshold_panel", "relabel_result", "postprocessed"):
        assert not hasattr(studies, moved), moved
    for name in studies.__all__:
        assert callable(getattr(studies, name)), name


def test_threshold_study_rejects_other_modalities_and_missing_gt():
    case = pet_case()
    with pytest.raises(ValueError, match="PET and OCT"):
        studies.threshold_study(Case("3DBox_CT_1", case.image, case.boxes, gts=case.gts))
    with pytest.raises(ValueError, match="ground truth"):
        studies.threshold_study(Case("3DBox_PET_1", case.image, case.boxes))


# ------------------------------------------------------------------ box perturbations
def test_scaled_boxes_grow_shrink_and_clip():
    assert studies.scaled_boxes([[10, 10, 19, 29]], 0.1, (40, 40)).tolist() == [[9, 8, 20, 31]]
    assert studies.scaled_boxes([[10, 10, 19, 29]], -0.1, (40, 40)).tolist() == [[11, 12, 18, 27]]
    assert studies.scaled_boxes([[0, 0, 9, 9]], 0.5, (12, 12)).tolist() == [[0, 0, 11, 11]]
    with pytest.raises(ValueError):
        studies.scaled_boxes([[0, 0, 9, 9]], -0.6, (12, 12))
    with pytest.raises(ValueError):
        studies.scaled_boxes([[0, 0, 0, 9, 9, 9]], 0.1, (12, 12))


# ------------------------------------------------------------------ subsampling_sweep
def test_subsampling_sweep_scores_each_s_with_a_fake_model():
    gt = np.zeros((9, 12, 12), np.uint8)
    gt[1:8, 3:9, 3:9] = 1
    case = Case("3DBox_CT_0001", gt * 100, np.array([[2, 2, 1, 9, 9, 7]]), spacing=(1.0, 1.0, 1.0),
                gts=gt)
    calls = []

    def fake_segment(image, boxes, *, s):
        calls.append(s)
        res = SegmentationResult.empty(image.shape, len(boxes))
        seg = gt.astype(bool).copy()
        if s > 1:
            seg[1] = False  # coarser steps lose an end slice
        res.add_box(0, seg, method="fake", slices=list(range(1, 8, s)))
        return res

    rows = studies.subsampling_sweep(fake_segment, case, (1, 3))
    assert calls == [1, 3]
    assert [r["s"] for r in rows] == [1, 3]
    assert rows[0]["dsc"] == 1.0 and rows[1]["dsc"] < 1.0
    assert rows[0]["model_slices"] == 7 and rows[1]["model_slices"] == 3
    assert rows[0]["dice_vs_ref"] == 1.0 and rows[1]["dice_vs_ref"] < 1.0
    assert rows[1]["seconds"] >= 0
    with pytest.raises(ValueError):
        studies.subsampling_sweep(fake_segment, case, (0,))
    with pytest.raises(ValueError):
        studies.subsampling_sweep(fake_segment, Case("2DBox_US_1", np.zeros((4, 4, 3), np.uint8),
                                                      np.array([[0, 0, 2, 2]])))
