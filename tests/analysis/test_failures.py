"""Failure analysis: gallery rows, gap ranking, IoU-flagging statistics, model-pass counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from classicseg.analysis import failures
from classicseg.io import Case
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
    assert isinstance(row, failures.GalleryRow) and row.methods == ("perfect", "half")
    assert row.dsc["perfect"] == 1.0
    assert row.dsc["half"] == pytest.approx(0.5)   # label 2 missed: mean of 1 and 0
    assert row.seconds["perfect"] == perfect.seconds
    assert row.preds["half"] is half.segs and row.synthetic is False
    assert row.case == case.name and math.isnan(row.gap)
    with pytest.raises(AttributeError):
        row.gap = 0.0                                    # frozen: rows are values between layers
    np.testing.assert_array_equal(case.gts, gts_before)


def test_box_rows_crop_score_and_copy_iou_pred():
    case = _case_2d()
    shrunk = case.gts == 2
    shrunk[20:35, 35:45] = False                       # half of object 2
    res = _result(case, [case.gts == 1, shrunk], iou=[0.9, 0.8])
    rows = failures.box_rows(case, {"sam": res, "truth": case.gts}, margin=3)
    assert [r.name for r in rows] == ["2DBox_Microscopy_toy #1", "2DBox_Microscopy_toy #2"]
    r1, r2 = rows
    assert r1.dsc == {"sam": 1.0, "truth": 1.0}
    assert r2.dsc["sam"] == pytest.approx(2 * 150 / (300 + 150))
    assert r1.iou_pred == {"sam": 0.9} and r2.iou_pred == {"sam": 0.8}   # arrays have none
    assert r2.gt_pixels == 300 and r2.pixels == {"sam": 150, "truth": 300}
    assert r2.box_pixels == 22 * 17 and (r2.case, r2.box_index) == (case.name, 1)
    # box [24, 19, 45, 35] + margin 3 -> rows 16..38, cols 21..48 (inclusive)
    assert r2.image.shape == (23, 28, 3) and r2.gt.shape == (23, 28)
    assert r2.boxes.tolist() == [[3, 3, 24, 19]]   # the box in crop coordinates
    assert r2.gt.sum() == 300 and r2.preds["sam"].sum() == 150
    # a box at the image corner: the margin is clipped, coordinates stay consistent
    corner = failures.box_rows(case, {"truth": case.gts}, margin=6)[0]   # box [4, 4, 15, 15]
    assert corner.boxes.tolist() == [[4, 4, 15, 15]] and corner.image.shape == (22, 22, 3)


def test_box_rows_3d_keeps_the_box_slices():
    vol = np.zeros((10, 20, 30), np.uint8)
    gt = np.zeros((10, 20, 30), np.uint16)
    gt[2:6, 5:10, 8:16] = 1
    case = Case("3DBox_CT_toy", vol, np.array([[8, 5, 2, 15, 9, 5]]), gts=gt, spacing=(1, 1, 2))
    (row,) = failures.box_rows(case, {"truth": gt}, margin=2)
    assert row.image.shape == (4, 9, 12)            # z not widened, y/x by 2 each side
    assert row.boxes.tolist() == [[2, 2, 0, 9, 6, 3]]
    assert row.dsc["truth"] == 1.0 and row.box_pixels == 4 * 5 * 8


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


def _row(name, dsc, gap=math.nan):
    z = np.zeros((2, 2), np.uint8)
    return failures.GalleryRow(name, z, z, {k: z for k in dsc}, dsc, gap=gap,
                               pixels={k: 1 for k in dsc})


def test_rank_by_gap_orders_both_ways_and_restricts_methods():
    rows = [_row(n, {"a": a, "b": b, "c": 0.0})
            for n, a, b in [("x", 0.9, 0.5), ("y", 0.2, 0.8), ("z", math.nan, 0.5),
                            ("w", 0.6, 0.6)]]
    ranked = failures.rank_by_gap(rows, "a", "b")
    assert [r.name for r in ranked] == ["x", "w", "y", "z"]    # NaN last
    assert ranked[0].gap == pytest.approx(0.4) and ranked[2].gap == pytest.approx(-0.6)
    assert (ranked[0].methods == ("a", "b") and "c" not in ranked[0].dsc
            and "c" not in ranked[0].pixels)
    assert math.isnan(rows[0].gap) and "c" in rows[0].preds  # inputs not modified
    reverse = failures.rank_by_gap(rows, "b", "a")
    assert [r.name for r in reverse][:3] == ["y", "w", "x"] and reverse[0].methods == ("b", "a")
    absolute = failures.rank_by_gap(rows, "a", "b", absolute=True)
    assert [r.name for r in absolute] == ["y", "x", "w", "z"]  # |-0.6| first; NaN still last
    with pytest.raises(ValueError, match="no DSC"):
        failures.rank_by_gap(rows, "a", "missing")
    with pytest.raises(ValueError, match="different"):
        failures.rank_by_gap(rows, "a", "a")


def test_gap_rows_keep_the_input_order():
    rows = [_row("x", {"a": 0.2, "b": 0.9}), _row("y", {"a": 0.9, "b": 0.1})]
    out = failures.gap_rows(rows, "a", "b")
    assert [r.name for r in out] == ["x", "y"]
    assert [round(r.gap, 2) for r in out] == [-0.7, 0.8]


def test_split_winners():
    ranked = [_row(str(g), {}, gap=g) for g in (0.8, 0.3, 0.05, 0.0, -0.2, -0.5, math.nan)]
    a, b = failures.split_winners(ranked, n=5, min_gap=0.1)
    assert [r.gap for r in a] == [0.8, 0.3] and [r.gap for r in b] == [-0.5, -0.2]
    a, b = failures.split_winners(ranked, n=1)
    assert [r.gap for r in a] == [0.8] and [r.gap for r in b] == [-0.5]
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
    assert failures.model_passes(case, Route("litemedsam", "")) == {"encoder_passes": 1,
                                                                     "decoder_calls": 2}
    assert failures.model_passes(case, Route("kmeans", "")) == {"encoder_passes": 0,
                                                                 "decoder_calls": 0}


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
            case = Case("3DBox_MR_toy", np.zeros((z1 + 1, 8, 8), np.uint8),
                        np.array([[0, 0, z0, 7, 7, z1]]))
            up, down = lm.slice_plan(z0, z1, s)
            n = len(set(up) | set(down))
            assert failures.model_passes(case, Route("litemedsam", "", s=s)) == {
                "encoder_passes": n, "decoder_calls": n}


def test_model_passes_volume_grid_and_crop_by_hand():
    vol = np.zeros((30, 16, 16), np.uint8)
    boxes = np.array([[1, 1, 2, 8, 8, 11], [3, 3, 8, 12, 12, 20]])
    case = Case("3DBox_CT_toy", vol, boxes)
    every3 = Route("litemedsam", "", s=3)
    # box grid: {2, 5, 8, 11} + middle 6 and {8, 11, 14, 17, 20} (middle 14): 8 distinct slices
    assert failures.model_passes(case, every3) == {"encoder_passes": 8, "decoder_calls": 10}
    # volume grid: {2, 3, 6, 9, 11} and {8, 9, 12, 14, 15, 18, 20}: 11 distinct, 12 calls
    assert failures.model_passes(case, every3, grid="volume") == {"encoder_passes": 11,
                                                                   "decoder_calls": 12}
    # crop-then-infer: every box encodes its own window on each of its slices, nothing shared
    assert failures.model_passes(case, every3, crop=True) == {"encoder_passes": 10,
                                                               "decoder_calls": 10}
    assert failures.model_passes(case, Route("litemedsam", "", s=1),
                                 crop=True)["encoder_passes"] == 23
    assert failures.model_passes(_case_2d(), Route("litemedsam", ""), crop=True) == {
        "encoder_passes": 2, "decoder_calls": 2}
    with pytest.raises(ValueError, match="grid"):
        failures.model_passes(case, every3, grid="slab")


@pytest.mark.slow
def test_model_passes_counts_what_the_predictor_runs(monkeypatch):
    pytest.importorskip("torch")
    import torch

    from classicseg.models.litemedsam import LiteMedSAM

    model = LiteMedSAM.load()
    encoded, decoded = [], []

    # The predictor's real slice walk with the network stubbed out (the counts depend on the
    # plan, not on what the network sees; the real encoder would take minutes on a busy CPU).
    def encode(x):
        encoded.append(len(x))
        return torch.zeros((len(x), 256, 64, 64))

    def decode(embedding, boxes_256, **kw):
        decoded.append(len(boxes_256))
        return torch.full((len(boxes_256), 256, 256), -10.0), torch.full((len(boxes_256),), 0.5)

    monkeypatch.setattr(model, "encode", encode)
    monkeypatch.setattr(model, "decode", decode)
    rng = np.random.default_rng(0)
    vol = rng.integers(0, 40, (7, 40, 40), dtype=np.uint8)   # synthetic: two bright blocks
    vol[0:5, 6:18, 6:18] += 150
    vol[2:7, 22:36, 20:34] += 170
    case = Case("3DBox_CT_toy", vol, np.array([[5, 5, 0, 18, 18, 4], [19, 21, 2, 34, 36, 6]]))
    for s, grid, crop in [(1, "box", False), (2, "box", False), (2, "volume", False),
                          (2, "box", True), (2, "volume", True)]:
        encoded.clear(), decoded.clear()
        res = model.segment(case.image, case.boxes, s=s, grid=grid, crop=crop)
        want = failures.model_passes(case, Route("litemedsam", "", s=s), grid=grid, crop=crop)
        got = {"encoder_passes": sum(encoded), "decoder_calls": sum(decoded)}
        assert got == want, (s, grid, crop)
        assert want["decoder_calls"] == sum(len(b.extra["slices"]) for b in res.boxes)
    img2d = np.repeat(vol[3][..., None], 3, axis=2)
    flat = Case("2DBox_US_toy", img2d, case.boxes[:, [0, 1, 3, 4]])
    for crop in (False, True):
        encoded.clear(), decoded.clear()
        model.segment(flat.image, flat.boxes, crop=crop)
        want = failures.model_passes(flat, Route("litemedsam", ""), crop=crop)
        assert {"encoder_passes": sum(encoded), "decoder_calls": sum(decoded)} == want, crop


def test_flag_quality_agrees_with_the_flag_curve():
    """scikit-learn's threshold-free scores against our per-threshold counts."""
    from sklearn.metrics import precision_score, recall_score

    rng = np.random.default_rng(4)
    dsc = rng.uniform(0, 1, 80)
    iou = np.clip(dsc + rng.normal(0, 0.3, 80), 0, 1)     # informative but noisy
    q = failures.flag_quality(iou, dsc)
    assert 0.5 < q["roc_auc"] < 1 and q["average_precision"] > q["prevalence"]
    for row in failures.flag_curve(iou, dsc)[1:-1]:
        flag, fail = iou < row["threshold"], dsc < 0.5
        assert row["recall"] == pytest.approx(recall_score(fail, flag))
        assert row["precision"] == pytest.approx(precision_score(fail, flag))
    perfect = failures.flag_quality(dsc, dsc)
    assert perfect["roc_auc"] == 1.0 and perfect["average_precision"] == 1.0
    assert np.isnan(failures.flag_quality([0.9, 0.8], [0.9, 0.9])["roc_auc"])   # no failures
