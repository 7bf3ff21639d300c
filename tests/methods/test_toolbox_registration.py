"""The box-prompted toolbox is registered: router (forcing, 2D-only checks, post-processing),
pipeline runners, ``classicseg run --method`` and ``classicseg compare --methods all``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from toolbox_cases import ball_3d, disk_2d

from classicseg.cli import CommandError
from classicseg.cli import compare as compare_cmd
from classicseg.cli import run as run_cmd
from classicseg.io import Case, load_prediction
from classicseg.metrics import dice
from classicseg.pipeline.core import Pipeline
from classicseg.pipeline.router import (
    CLASSICAL,
    METHODS,
    TOOLBOX,
    MethodNotApplicable,
    normalize_method,
    route,
)

CASE_2D = Case("2DBox_Fundus_toolbox", *disk_2d(rgb=True)[::2])
CASE_3D = Case("3DBox_CT_toolbox", *ball_3d()[::2])


def test_toolbox_names_and_aliases():
    assert set(TOOLBOX) <= set(METHODS) and set(TOOLBOX) <= set(CLASSICAL)
    assert normalize_method("random_walker") == "random-walker"
    assert normalize_method("Pixel_Classifier") == "pixel-classifier"
    assert run_cmd._METHOD_CHOICES == ("auto", "medsam") + METHODS  # --help stays literal


@pytest.mark.parametrize("method", TOOLBOX)
def test_every_toolbox_method_can_be_forced(method):
    r = route(CASE_2D, method=method)
    assert (r.method, r.s) == (method, 1) and r.reason.startswith("forced by method=")
    assert r.postprocess == ("box" if method == "grabcut" else "full")
    assert route(CASE_2D, method=method, postprocess="lcc").postprocess == "lcc"
    res = Pipeline(method=method).segment(CASE_2D)
    assert res.extra["route"]["method"] == method
    assert res.boxes[0].method == method and res.boxes[0].extra["postprocess"] == r.postprocess
    assert dice(disk_2d()[1], res.segs) >= 0.9


@pytest.mark.parametrize("method", TOOLBOX)
def test_only_grabcut_refuses_volumes(method):
    if method == "grabcut":
        with pytest.raises(MethodNotApplicable, match="grabcut.*2D images only"):
            route(CASE_3D, method=method)
    else:
        assert route(CASE_3D, method=method).method == method


def test_compare_methods_all_and_dedup():
    assert compare_cmd._methods(["all"]) == list(CLASSICAL)
    assert compare_cmd._methods(["random_walker", "all"])[0] == "random-walker"
    assert len(compare_cmd._methods(["gmm", "all"])) == len(CLASSICAL)
    with pytest.raises(CommandError, match="--methods nope"):
        compare_cmd._methods(["nope"])


def test_compare_leaves_a_method_out_where_it_cannot_run(tmp_path):
    from pipeline_fakes import FakeModels

    from classicseg.evaluation.compare import compare_directories
    from classicseg.io import save_case
    from classicseg.pipeline.runner import RunOptions

    for case, gt in ((CASE_2D, disk_2d()[1]), (CASE_3D, ball_3d()[1])):
        save_case(case, tmp_path / "ds" / "imgs" / f"{case.name}.npz")
        (tmp_path / "ds" / "gts").mkdir(exist_ok=True)
        np.savez(tmp_path / "ds" / "gts" / f"{case.name}.npz", gts=gt.astype(np.uint8))
    res = compare_directories(tmp_path / "ds", out_dir=tmp_path / "r", methods=["grabcut"],
                              options=RunOptions(progress=False), figures=None,
                              paper=Pipeline(models=FakeModels()),
                              baseline=Pipeline(mode="baseline", models=FakeModels()))
    assert res.complete and not res.errors
    assert any(n.startswith("not applicable: grabcut on 3DBox_CT_toolbox") for n in res.notes)
    grab = [c for c in res.per_case if c["pipeline"] == "grabcut"]
    assert [c["name"] for c in grab] == ["2DBox_Fundus_toolbox"] and grab[0]["dsc"] >= 0.9


def test_cli_run_method_grabcut_on_a_sample(tmp_path):
    from classicseg import samples

    samples.write(tmp_path / "ds", ["fundus-optic-disc"])
    out = tmp_path / "preds"
    proc = subprocess.run([sys.executable, "-m", "classicseg", "run", str(tmp_path / "ds" / "imgs"),
                           str(out), "--method", "grabcut"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    (pred,) = out.glob("*.npz")
    segs = load_prediction(pred)
    assert segs.any() and "grabcut" in (out / "run_log.jsonl").read_text()
