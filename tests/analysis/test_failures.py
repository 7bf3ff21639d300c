"""Failure-analysis helpers: gallery rows, gap ranking, IoU-flagging statistics, model-pass counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classicseg.io import Case
from classicseg.analysis import failures
from classicseg.pipeline.router import Route
from classicseg.result import SegmentationResult


def _case_2d():
    gt = np.zeros((40, 50), np.uint16)
    gt[5:15, 5:15] = 1          # 100 px
    gt[20:35, 25:45] = 2        # 300 px
    boxes = np.array([[4, 4, 15, 15], [24, 19, 45, 35]])
    return Case("2DBox_Microscopy_toy", np.zeros((40, 50, 3), np.uint8), boxes, gts=gt)


def _result(case, masks, iou=None):
    res = SegmentationResult.empty(case.spatial_shape, case.n_boxes)
    for i, m in enumerate(masks):
        extra = {} if iou is None else {"iou_pred": iou[i]}
        res.add_box(i, m, method="m", reason="test", seconds=0.5, **extra)
    return res


def test_case_row_scores_every_method_and_keeps_inputs_untouched():
    case = _case_2d()
    gts_before = case.gts.copy()
    perfect = _result(case, [case.gts == 1, case.gts == 2])
    half = _result(case, [case.gts == 1, np.zeros_like(case.gts, bool)])
    row = failures.case_row(case, {"perfect": perfect, "half": half})
    assert row["dice"]["perfect"] == 1.0
    assert row["dice"]["half"] == pytest.approx(0.5)   # label 2 missed: mean of 1 and 0
    assert row["seconds"]["perfect"] == perfect.seconds
    assert row["preds"]["half"] is half.segs and row["synthetic"] is False
    np.testing.assert_array_equal(case.gts, gts_before)


def test_box_rows_crop_score_and_copy_iou_pred():
    case = _case_2d()
    shrunk = case.gts == 2
    shrunk[20:35, 35:45] = False                       # half of object 2
    res = _result(case, [case.gts == 1, shrunk], iou=[0.9, 0.8])
    rows = failures.box_rows(case, {"sam": res, "truth": case.gts}, margin=3)
    assert [r["name"] for r in rows] == ["2DBox_Microscopy_toy #1", "2DBox_Microscopy_toy #2"]
    r1, r2 = rows
    assert r1["dice"] == {"sam": 1.0, "truth": 1.0}
    assert r2["dice"]["sam"] == pytest.approx(2 * 150 / (300 + 150))
    assert r1["iou_pred"] == {"sam": 0.9} and r2["iou_pred"] == {"sam": 0.8}   # arrays have none
    assert r2["gt_pixels"] == 300 and r2["pixels"] == {"sam": 150, "truth": 300}
    assert r2["box_pixels"] == 22 * 17
    # box [24, 19, 45, 35] + margin 3 -> rows 16..38, cols 21..48 (inclusive)
    assert r2["image"].shape == (23, 28, 3) and r2["gt"].shape == (23, 28)
    assert r2["boxes"].tolist() == [[3, 3, 24, 19]]   # the box in crop coordinates
    assert r2["gt"].sum() == 300 and r2["preds"]["sam"].sum() == 150
    # a box at the image corner: the margin is clipped, coordinates stay consistent
    corner = failures.box_rows(case, {"truth": case.gts}, margin=6)[0]   # box [4, 4, 15, 15]
    assert corner["boxes"].tolist() == [[4, 4, 15, 15]] and corner["image"].shape == (22, 22, 3)


def test_box_rows_3d_keeps_the_box_slices():
    vol = np.zeros((10, 20, 30), np.uint8)
    gt = np.zeros((10, 20, 30), np.uint16)
    gt[2:6, 5:10, 8:16] = 1
    case = Case("3DBox_CT_toy", vol, np.array([[8, 5, 2, 15, 9, 5]]), gts=gt, spacing=(1, 1, 2))
    (row,) = failures.box_rows(case, {"truth": gt}, margin=2)
    assert row["image"].shape == (4, 9, 12)            # z not widened, y/x by 2 each side
    assert row["boxes"].tolist() == [[2, 2, 0, 9, 6, 3]]
    assert row["dice"]["truth"] == 1.0 and row["box_pixels"] == 4 * 5 * 8


def test_rows_refuse_bad_input():
    case = _case_2d()
    with pytest.raises(ValueError, match="shape"):
        failures.case_row(case, {"bad": np.zeros((3, 3), np.uint16)})
    with pytest.raises(ValueError, match="at least one"):
        failures.box_rows(case, {})
    with pytest.raises(ValueError, match="margin"):
        failures.box_rows(case, {"t": case.gts}, margin=-1)
    no_gt = Case("2DBox_US_x", case.image, case.boxes)
    with pytest.raises(ValueError, match="ground truth"):
        failures.case_row(no_gt, {"t": case.gts})


def test_rank_by_gap_orders_both_ways_and_restricts_methods():
    rows = [{"name": n, "dice": {"a": a, "b": b, "c": 0.0}, "preds": {"a": 1, "b": 2, "c": 3}}
            for n, a, b in [("x", 0.9, 0.5), ("y", 0.2, 0.8), ("z", math.nan, 0.5), ("w", 0.6, 0.6)]]
    ranked = failures.rank_by_gap(rows, "a", "b")
    assert [r["name"] for r in ranked] == ["x", "w", "y", "z"]    # NaN last
    assert ranked[0]["gap"] == pytest.approx(0.4) and ranked[2]["gap"] == pytest.approx(-0.6)
    assert list(ranked[0]["preds"]) == ["a", "b"] and "c" not in ranked[0]["dice"]
    assert "gap" not in rows[0] and "c" in rows[0]["preds"]        # inputs not modified
    reverse = failures.rank_by_gap(rows, "b", "a")
    assert [r["name"] for r in reverse][:3] == ["y", "w", "x"]
    with pytest.raises(ValueError, match="no Dice"):
        failures.rank_by_gap(rows, "a", "missing")
    with pytest.raises(ValueError, match="different"):
        failures.rank_by_gap(rows, "a", "a")


def test_split_winners():
    ranked = [{"gap": g} for g in (0.8, 0.3, 0.05, 0.0, -0.2, -0.5, math.nan)]
    a, b = failures.split_winners(ranked, n=5, min_gap=0.1)
    assert [r["gap"] for r in a] == [0.8, 0.3] and [r["gap"] for r in b] == [-0.5, -0.2]
    a, b = failures.split_winners(ranked, n=1)
    assert [r["gap"] for r in a] == [0.8] and [r["gap"] for r in b] == [-0.5]
    with pytest.raises(ValueError):
        failures.split_winners(ranked, n=0)
    with pytest.raises(ValueError):
        failures.split_winners(ranked, min_gap=-1)


def test_flag_failures_counts():
    iou = [0.95, 0.9, 0.6, 0.5, 0.85, np.nan]
    dsc = [0.9, 0.2, 0.3, 0.95, 0.4, 0.0]          # the NaN pair is dropped
    f = failures.flag_failures(iou, dsc, threshold=0.7, fail_below=0.5)
    assert (f["n"], f["failures"], f["flagged"], f["caught"], f["false_alarms"]) == (5, 3, 2, 1, 1)
    assert f["recall"] == pytest.approx(1 / 3) and f["precision"] == pytest.approx(0.5)
    none = failures.flag_failures(iou, dsc, threshold=0.1)
    assert none["flagged"] == 0 and math.isnan(none["precision"])
    with pytest.raises(ValueError, match="same length"):
        failures.flag_failures([0.5], [0.5, 0.6], threshold=0.5)


def test_flag_curve_runs_from_nothing_to_everything():
    iou, dsc = [0.3, 0.9, 0.7, 0.7], [0.1, 0.95, 0.2, 0.8]
    curve = failures.flag_curve(iou, dsc)
    assert [c["flagged"] for c in curve] == [0, 1, 3, 4]
    assert curve[-1]["recall"] == 1.0 and curve[1]["precision"] == 1.0
    assert [c["flagged"] for c in failures.flag_curve(iou, dsc, thresholds=[0.5])] == [1]


def test_spearman():
    assert failures.spearman([1, 2, 3, 4], [2, 4, 8, 16]) == pytest.approx(1.0)
    assert failures.spearman([1, 2, 3, np.nan], [3, 2, 1, 0]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="at least 3"):
        failures.spearman([1, 2], [1, 2])


def test_model_passes_2d_and_other_methods():
    case = _case_2d()
    assert failures.model_passes(case, Route("litemedsam", "")) == {"encoder_passes": 1, "decoder_calls": 2}
    assert failures.model_passes(case, Route("kmeans", "")) == {"encoder_passes": 0, "decoder_calls": 0}


def test_model_passes_3d_shares_slices_between_boxes():
    vol = np.zeros((30, 16, 16), np.uint8)
    boxes = np.array([[1, 1, 2, 8, 8, 11], [3, 3, 8, 12, 12, 20]])  # slices 2..11 and 8..20 overlap
    case = Case("3DBox_CT_toy", vol, boxes)
    dense = failures.model_passes(case, Route("litemedsam", "", s=1))
    assert dense == {"encoder_passes": 19, "decoder_calls": 10 + 13}
    sparse = failures.model_passes(case, Route("litemedsam", "", s=3))
    assert sparse["encoder_passes"] < dense["encoder_passes"] and sparse["decoder_calls"] < 23


def test_model_passes_matches_litemedsam_slice_plan():
    # the slices LiteMedSAM's 3D walk predicts (its own plan) are what we count
    lm = pytest.importorskip("classicseg.models.litemedsam")
    rng = np.random.default_rng(0)
    for _ in range(20):
        z0 = int(rng.integers(0, 10))
        z1 = z0 + int(rng.integers(0, 25))
        for s in (1, 2, 3, 5):
            case = Case("3DBox_MR_toy", np.zeros((z1 + 1, 8, 8), np.uint8), np.array([[0, 0, z0, 7, 7, z1]]))
            up, down = lm.slice_plan(z0, z1, s)
            n = len(set(up) | set(down))
            assert failures.model_passes(case, Route("litemedsam", "", s=s)) == {"encoder_passes": n, "decoder_calls": n}
