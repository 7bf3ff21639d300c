"""``classicseg compare --box-jitter/--box-scale/--box-shift/--box-seed``: perturbed boxes, same
for every pipeline, stated in the report; bad values are usage errors naming the option."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from pipeline_fakes import FakeLiteMedSAM, fresh_models  # noqa: F401  (autouse fixture)

from classicseg.boxes import BoxPerturbation
from classicseg.cli import main
from classicseg.io import load_case, load_prediction
from classicseg.pipeline.core import Models, Pipeline

NAMES = ("2DBox_Microscopy_0001", "2DBox_OCT_0001")


@pytest.fixture
def data(write_case, tmp_path, monkeypatch):
    # LiteMedSAM (the baseline) is the test fake: a few ms instead of seconds per image
    monkeypatch.setattr(Models, "load_litemedsam", lambda self: FakeLiteMedSAM())
    root = tmp_path / "ds"
    for i, name in enumerate(NAMES):
        write_case(name, root=root, seed=i)
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_box_jitter_perturbs_every_pipeline_the_same_way_and_says_so(data, tmp_path, capsys):
    out = tmp_path / "rep"
    status = main(["compare", str(data), "--out", str(out), "--methods", "kmeans",
                   "--box-jitter", "5", "--box-seed", "3", "--no-progress", "--no-figures"])
    printed = capsys.readouterr().out
    assert status == 0
    want = BoxPerturbation(jitter=5, seed=3)
    assert printed.startswith(f"boxes perturbed: {want.describe()}")
    report = (out / "report.md").read_text()
    assert "**Boxes perturbed**: each side jittered by up to ±5 px (seed 3)" in report
    assert json.loads((out / "box_perturbation.json").read_text()) == want.as_dict()
    for f in ("per_case.csv", "summary.csv"):
        rows = _rows(out / f)
        assert rows and all((r["box_jitter"], r["box_seed"]) == ("5", "3") for r in rows), f
    # the predictions are those of the perturbed boxes, for the baseline and a forced method
    for name in NAMES:
        case = load_case(data / "imgs" / f"{name}.npz")
        moved = replace(case, boxes=want.apply(case.boxes, case.spatial_shape, name=name))
        assert not np.array_equal(moved.boxes, case.boxes)
        base = load_prediction(out / "predictions" / "baseline" / f"{name}.npz",
                               shape=case.spatial_shape)
        assert np.array_equal(base, FakeLiteMedSAM().segment(moved.image, moved.boxes).segs)
        km = load_prediction(out / "predictions" / "kmeans" / f"{name}.npz",
                             shape=case.spatial_shape)
        assert np.array_equal(km, Pipeline(method="kmeans").segment(moved).segs)
    # resuming without the perturbation would mix boxes: refused
    status = main(["compare", str(data), "--out", str(out), "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "made with perturbed boxes (box_jitter 5" in err and "--overwrite" in err


def test_without_box_options_nothing_changes(data, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["compare", str(data), "--out", str(out), "--box-scale", "1", "--no-progress",
                 "--no-figures"]) == 0
    assert "boxes perturbed" not in capsys.readouterr().out
    assert not (out / "box_perturbation.json").exists()
    assert "Boxes perturbed" not in (out / "report.md").read_text()
    assert "box_jitter" not in (out / "per_case.csv").read_text()


@pytest.mark.parametrize("args, says", [
    (["--box-jitter", "-3"], "--box-jitter -3: expected a whole number of pixels >= 0"),
    (["--box-jitter", "2.5"], "--box-jitter 2.5: expected a whole number"),
    (["--box-scale", "0"], "--box-scale 0: expected a number > 0"),
    (["--box-scale", "nan"], "--box-scale nan: expected a number > 0"),
    (["--box-shift", "5"], "--box-shift 5: expected DX,DY"),
    (["--box-shift=-5,x"], "--box-shift -5,x: expected DX,DY"),
    (["--box-seed", "-1"], "--box-seed -1: expected an integer >= 0"),
    (["--box-jitter", "5", "--cold"], "--cold: "),
])
def test_bad_box_options_are_usage_errors_naming_the_option(data, tmp_path, capsys, args, says):
    out = tmp_path / "rep"
    status = main(["compare", str(data), "--out", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"classicseg compare: {says}"), err
    assert "Traceback" not in err and not out.exists()


def test_perturbed_pipeline_keeps_settings_and_pickles(make_case):
    import pickle

    from classicseg.evaluation.compare import PerturbedPipeline

    case = make_case("2DBox_OCT_0001")
    p = BoxPerturbation(scale=1.5, shift=(2, 1))
    pipe = PerturbedPipeline.wrap(Pipeline(method="ght", name="mine", postprocess="lcc"), p)
    assert (pipe.name, pipe.method, pipe.postprocess) == ("mine", "ght", "lcc")
    again = pickle.loads(pickle.dumps(pipe))                   # Dask workers get it this way
    res = again.segment(case)
    moved = replace(case, boxes=p.apply(case.boxes, case.spatial_shape, name=case.name))
    plain = Pipeline(method="ght", postprocess="lcc").segment(moved)
    assert np.array_equal(res.segs, plain.segs)
    assert res.extra["box_perturbation"] == p.as_dict()
