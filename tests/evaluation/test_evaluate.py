"""``classicseg evaluate``: directory scoring, the Table-11 style summary, CSV, skipped files."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from classicseg import cli
from classicseg.evaluation.evaluate import (
    CaseRow,
    evaluate_directories,
    format_table,
    summarize,
    write_csv,
)
from classicseg.io import load_ground_truth, save_case, save_prediction
from classicseg.metrics import score_case


def _perturb(gts: np.ndarray, seed: int) -> np.ndarray:
    """A prediction that differs from the ground truth: shifted one voxel, a few voxels dropped."""
    rng = np.random.default_rng(seed)
    segs = np.roll(gts, 1, axis=-1).astype(np.uint16)
    segs[rng.random(segs.shape) < 0.05] = 0
    return segs


@pytest.fixture
def eval_dirs(tmp_path, write_case, make_case):
    """gts/ and preds/ with 2D and 3D cases, one corrupt and one missing prediction,
    one GT stored inside an image file, and one stray prediction without ground truth."""
    gt_dir, pred_dir = tmp_path / "gts", tmp_path / "preds"
    scored = {}
    for i, name in enumerate(["2DBox_US_0001", "2DBox_US_0002", "2DBox_Dermoscopy_0001",
                              "3DBox_CT_0001", "3DBox_MR_0001"]):
        case = write_case(name, seed=i, n_labels=2 + i % 2)
        segs = _perturb(case.gts, i)
        save_prediction(pred_dir / f"{name}.npz", segs)
        scored[name] = (case.gts, segs, case.spacing)
    # ground truth inside an image file (imgs, boxes, gts)
    img_case = make_case("2DBox_Endoscopy_0001", seed=7)
    save_case(img_case, gt_dir / "2DBox_Endoscopy_0001.npz")
    segs = _perturb(img_case.gts, 7)
    save_prediction(pred_dir / "2DBox_Endoscopy_0001.npz", segs)
    scored["2DBox_Endoscopy_0001"] = (img_case.gts, segs, None)
    # corrupt prediction, missing prediction, stray prediction
    write_case("2DBox_Fundus_0001", seed=8)
    (pred_dir / "2DBox_Fundus_0001.npz").write_bytes(b"PK\x03\x04 not really a zip file")
    write_case("3DBox_CT_0002", seed=9)
    save_prediction(pred_dir / "2DBox_OCT_0099.npz", np.zeros((4, 4), np.uint16))
    return gt_dir, pred_dir, scored


def _expected(scored, flavour="challenge"):
    return {n: score_case(g, s, name=n, spacing=sp if g.ndim == 3 else None, flavour=flavour)
            for n, (g, s, sp) in scored.items()}


def test_cli_table_csv_and_skipped(eval_dirs, tmp_path, capsys):
    gt_dir, pred_dir, scored = eval_dirs
    out_csv = tmp_path / "out" / "scores.csv"
    rc = cli.main(["evaluate", str(pred_dir), str(gt_dir), "--csv", str(out_csv)])
    out = capsys.readouterr().out
    assert rc == 1  # a missing and a corrupt prediction: "some cases failed"; the rest is scored
    assert "metric flavour: challenge" in out
    expected = _expected(scored)

    with open(out_csv, newline="") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(expected) | {"2DBox_Fundus_0001", "3DBox_CT_0002"}
    for name, s in expected.items():
        assert float(rows[name]["dsc"]) == s["dsc"]
        assert float(rows[name]["nsd"]) == s["nsd"]
        assert int(rows[name]["n_labels"]) == len(s["labels"])
        assert rows[name]["status"] == "ok"
        assert float(rows[name]["seconds"]) >= 0
    # missing and corrupt predictions score 0 and say why
    assert rows["3DBox_CT_0002"]["status"] == "missing prediction"
    assert rows["2DBox_Fundus_0001"]["status"] == "unreadable prediction"
    for n in ("3DBox_CT_0002", "2DBox_Fundus_0001"):
        assert float(rows[n]["dsc"]) == 0.0 and float(rows[n]["nsd"]) == 0.0

    # the table: per-modality means in MODALITIES order, then Average (= mean of modality means)
    lines = out.splitlines()
    table_rows = {ln.split()[0]: ln.split() for ln in lines if ln and ln.split()[0] in
                  ("CT", "MR", "US", "Dermoscopy", "Endoscopy", "Fundus", "Average")}
    order = [ln.split()[0] for ln in lines if ln.split() and ln.split()[0] in table_rows]
    assert order == ["CT", "MR", "US", "Dermoscopy", "Endoscopy", "Fundus", "Average"]
    ct = [expected["3DBox_CT_0001"]["dsc"], 0.0]
    assert table_rows["CT"][1] == f"{100 * np.mean(ct):.2f}" and table_rows["CT"][3] == "2"
    us = [expected["2DBox_US_0001"]["nsd"], expected["2DBox_US_0002"]["nsd"]]
    assert table_rows["US"][2] == f"{100 * np.mean(us):.2f}"
    means = [np.mean(ct), expected["3DBox_MR_0001"]["dsc"],
             np.mean([expected["2DBox_US_0001"]["dsc"], expected["2DBox_US_0002"]["dsc"]]),
             expected["2DBox_Dermoscopy_0001"]["dsc"], expected["2DBox_Endoscopy_0001"]["dsc"], 0.0]
    assert table_rows["Average"][1] == f"{100 * np.mean(means):.2f}"
    assert table_rows["Average"][3] == "8"

    # skipped files are counted and named with the problem
    assert ("6 cases scored; 3 file(s) skipped (2 missing/unreadable predictions scored DSC 0 / "
            "NSD 0)") in out
    assert "3DBox_CT_0002.npz: no prediction file" in out
    assert "2DBox_Fundus_0001.npz: corrupt or truncated .npz" in out
    assert "2DBox_OCT_0099.npz: prediction without a ground-truth file" in out


def test_csv_is_never_overwritten_without_flag(eval_dirs, tmp_path, capsys):
    gt_dir, pred_dir, _ = eval_dirs
    out_csv = tmp_path / "scores.csv"
    out_csv.write_text("keep me\n")
    rc = cli.main(["evaluate", str(pred_dir), str(gt_dir), "--csv", str(out_csv)])
    assert rc == 2
    assert "exists; add --overwrite to replace it" in capsys.readouterr().err
    assert out_csv.read_text() == "keep me\n"
    # 1: the fixture's missing and corrupt predictions; the CSV is written all the same
    assert cli.main(["evaluate", str(pred_dir), str(gt_dir), "--csv", str(out_csv), "--overwrite",
                     "--flavour", "correct"]) == 1
    assert out_csv.read_text().startswith("name,modality,dsc,nsd,n_labels,seconds,status")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp files left


def test_correct_flavour_and_missing_skip(eval_dirs):
    gt_dir, pred_dir, scored = eval_dirs
    rep = evaluate_directories(pred_dir, gt_dir, flavour="correct", missing="skip", progress=True)
    expected = _expected(scored, "correct")
    got = {r.name: r for r in rep.rows}
    assert set(got) == set(expected)  # the missing/corrupt cases are left out
    for name, s in expected.items():
        assert got[name].nsd == s["nsd"] and got[name].dsc == s["dsc"]
    assert any(got[n].nsd != v["nsd"] for n, v in _expected(scored).items())  # flavours differ
    assert "metric flavour: correct" in rep.table()
    assert sum(s.scored_as_zero for s in rep.skipped) == 0


def test_corrupt_ground_truth_is_reported_and_rest_scored(tmp_path, write_case, capsys):
    gt_dir, pred_dir = tmp_path / "gts", tmp_path / "preds"
    for i, name in enumerate(["2DBox_XRay_0001", "2DBox_XRay_0002"]):
        case = write_case(name, seed=i)
        save_prediction(pred_dir / f"{name}.npz", case.gts)
    (gt_dir / "2DBox_XRay_0002.npz").write_bytes(b"garbage")
    rep = evaluate_directories(pred_dir, gt_dir)
    assert [r.name for r in rep.rows] == ["2DBox_XRay_0001"]
    assert rep.rows[0].dsc == 1.0 and rep.rows[0].nsd == 1.0
    assert len(rep.skipped) == 1 and "2DBox_XRay_0002.npz" in rep.skipped[0].path
    assert "unreadable ground truth" in rep.skipped[0].reason and not rep.skipped[0].scored_as_zero


def test_shape_mismatch_prediction_is_reported(tmp_path, write_case):
    gt_dir, pred_dir = tmp_path / "gts", tmp_path / "preds"
    write_case("3DBox_PET_0001")
    save_prediction(pred_dir / "3DBox_PET_0001.npz", np.zeros((3, 4, 5), np.uint16))
    rep = evaluate_directories(pred_dir, gt_dir)
    assert rep.rows[0].status == "unreadable prediction" and rep.rows[0].dsc == 0.0
    assert "differs from the image's spatial shape" in rep.skipped[0].reason


def test_nothing_scored_returns_1(tmp_path, write_case, capsys):
    write_case("2DBox_OCT_0001")
    (tmp_path / "preds").mkdir()
    rc = cli.main(["evaluate", str(tmp_path / "preds"), str(tmp_path / "gts")])
    captured = capsys.readouterr()
    assert rc == 1 and "no case could be scored" in captured.err
    assert "0 cases scored; 1 file(s) skipped" in captured.out


def test_not_a_directory(tmp_path, capsys):
    rc = cli.main(["evaluate", str(tmp_path / "nope"), str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "PRED_DIR " in err and "no such directory" in err
    (tmp_path / "afile").write_text("x")
    rc = cli.main(["evaluate", str(tmp_path), str(tmp_path / "afile")])
    assert rc == 2 and "GT_DIR " in (err := capsys.readouterr().err) and "not a directory" in err


def test_summarize_average_is_mean_of_modality_means_and_skips_nan():
    rows = [CaseRow("2DBox_US_1", "US", 0.9, 0.9, 1, 0.0),
            CaseRow("2DBox_US_2", "US", 0.7, 0.5, 1, 0.0),
            CaseRow("2DBox_US_3", "US", math.nan, 0.0, 0, 0.0),
            CaseRow("3DBox_CT_1", "CT", 0.4, 0.6, 2, 0.0),
            CaseRow("2DBox_weird_1", None, 0.5, 0.5, 1, 0.0)]
    table = summarize(rows)
    assert [t["modality"] for t in table] == ["CT", "US", "unknown", "Average"]
    us = table[1]
    assert us["dsc"] == pytest.approx(0.8) and us["n"] == 3
    assert us["nsd"] == pytest.approx((0.9 + 0.5 + 0.0) / 3)
    avg = table[-1]
    assert avg["dsc"] == pytest.approx((0.4 + 0.8 + 0.5) / 3) and avg["n"] == 5
    text = format_table(table, flavour="challenge")
    assert "Average         56.67" in text
    assert summarize([]) == []


def test_write_csv_refuses_existing(tmp_path):
    p = tmp_path / "a.csv"
    write_csv([CaseRow("x", None, math.nan, 0.0, 0, 0.1)], p)
    assert p.read_text().splitlines()[1] == "x,,,0.0,0,0.1,ok"
    with pytest.raises(FileExistsError):
        write_csv([], p)


def test_ground_truth_loader_reads_both_layouts(eval_dirs):
    gt_dir, _, scored = eval_dirs
    gts, spacing = load_ground_truth(gt_dir / "2DBox_Endoscopy_0001.npz")
    np.testing.assert_array_equal(gts, scored["2DBox_Endoscopy_0001"][0])
    gts, spacing = load_ground_truth(gt_dir / "3DBox_CT_0001.npz")
    assert spacing == (0.8, 0.8, 2.5)


def test_cli_import_is_light():
    code = ("import sys, classicseg.cli as c; c.build_parser(); "
            "bad = [m for m in ('torch', 'pandas', 'scipy', 'tqdm') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
