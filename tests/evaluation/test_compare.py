"""`classicseg compare`: baseline vs paper pipeline, report files hold the printed numbers."""

from __future__ import annotations

import argparse
import csv
import math
import re

import numpy as np
import pytest

from classicseg.cli import compare as compare_cmd
from classicseg.evaluation.compare import compare_directories, resolve_dirs
from classicseg.pipeline.core import Pipeline
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)

NAMES = ["2DBox_US_0001", "3DBox_CT_0001", "3DBox_PET_0001", "3DBox_PET_0002"]


@pytest.fixture
def samples(write_case, tmp_path):
    root = tmp_path / "ds"
    for i, name in enumerate(NAMES):
        write_case(name, root=root, seed=i)
    # as classicseg.samples.write lays it out (file + origin columns)
    (root / "MANIFEST.tsv").write_text("file\tmodality\torigin\n"
                                       + "".join(f"{n}.npz\t?\tsynthetic\n" for n in NAMES))
    return root


def _pipes():
    return dict(paper=Pipeline(models=FakeModels()), baseline=Pipeline(mode="baseline", models=FakeModels()))


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_writes_report_with_the_printed_numbers(samples, tmp_path):
    out = tmp_path / "report"
    res = compare_directories(samples, out_dir=out, progress=False, **_pipes())
    assert res.pipelines == ["baseline", "paper"]
    for f in ("report.md", "summary.csv", "per_case.csv", "figures/dsc_by_modality.png",
              "figures/nsd_by_modality.png", "figures/time_vs_dice.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert len(list((out / "figures").glob("worst_*.png"))) == 3
    report = (out / "report.md").read_text()
    printed = res.text()
    assert res.tables["quality"] in report and res.tables["time"] in report
    assert "Synthetic data" in report
    summary = _read_csv(out / "summary.csv")
    assert {(r["pipeline"], r["modality"]) for r in summary} == \
        {(p, m) for p in ("baseline", "paper") for m in ("CT", "PET", "US", "Average")}
    # every DSC/NSD in summary.csv appears, rounded as printed, in its table row
    quality_part, time_part = printed.split("Mean time per case")

    def table(text):
        return {ln.split("|")[1].strip().strip("*"): [c.strip() for c in ln.split("|")[1:-1]]
                for ln in text.splitlines() if ln.startswith("| ")}

    quality, timing = table(quality_part), table(time_part)
    for r in summary:
        cells = quality[r["modality"]]
        k = ["baseline", "paper"].index(r["pipeline"])
        assert cells[2 + 2 * k] == f"{100 * float(r['dsc']):.2f}" and cells[3 + 2 * k] == f"{100 * float(r['nsd']):.2f}"
        assert cells[1] == r["n"]
        assert float(timing[r["modality"]][1 + k]) == pytest.approx(float(r["seconds"]), rel=5e-3)
        if r["pipeline"] == "paper":
            assert float(timing[r["modality"]][3].rstrip("x")) == pytest.approx(float(r["speedup"]), rel=0.05)
    # per-case CSV: one row per pipeline and case, scores in [0, 1], real method names
    per_case = _read_csv(out / "per_case.csv")
    assert len(per_case) == 2 * len(NAMES)
    paper = {r["name"]: r for r in per_case if r["pipeline"] == "paper"}
    assert paper["3DBox_PET_0001"]["method"] == "ght" and paper["3DBox_CT_0001"]["method"] == "litemedsam"
    assert "s=3" in paper["3DBox_CT_0001"]["reason"]
    assert all(0 <= float(r["dsc"]) <= 1 and float(r["seconds"]) > 0 for r in per_case)
    # the modality mean is the mean of the per-case values
    pet = [float(r["dsc"]) for r in per_case if r["pipeline"] == "paper" and r["modality"] == "PET"]
    pet_row = next(r for r in summary if r["pipeline"] == "paper" and r["modality"] == "PET")
    assert math.isclose(float(pet_row["dsc"]), sum(pet) / 2)
    # speed-up = baseline time / paper time, per modality
    base = {r["modality"]: float(r["seconds"]) for r in summary if r["pipeline"] == "baseline"}
    for r in summary:
        if r["pipeline"] == "paper":
            assert math.isclose(float(r["speedup"]), base[r["modality"]] / float(r["seconds"]))


def test_serial_compare_interleaves_pipelines_case_by_case(samples, tmp_path):
    from classicseg.pipeline.runner import read_run_log

    out = tmp_path / "r"
    compare_directories(samples, out_dir=out, progress=False, figures=False, **_pipes())
    logs = {p: read_run_log(out / "predictions" / p) for p in ("baseline", "paper")}
    order = sorted((r["finished_unix"], p, r["name"]) for p, rows in logs.items() for r in rows)
    assert [(p, n) for _, p, n in order] == [(p, n) for n in sorted(NAMES) for p in ("baseline", "paper")]


def test_compare_refuses_to_overwrite_and_resumes(samples, tmp_path):
    out = tmp_path / "report"
    compare_directories(samples, out_dir=out, progress=False, figures=False, **_pipes())
    with pytest.raises(FileExistsError, match="--overwrite"):
        compare_directories(samples, out_dir=out, progress=False, figures=False, **_pipes())
    (out / "predictions" / "paper" / "3DBox_PET_0002.npz").unlink()
    res = compare_directories(samples, out_dir=out, progress=False, figures=False, resume=True, **_pipes())
    assert len(res.per_case) == 8 and not res.errors


def test_compare_scores_failed_cases_as_zero(samples, tmp_path):
    (samples / "imgs" / "2DBox_US_0002.npz").write_bytes(b"garbage")
    gt = np.zeros((48, 56), np.uint16)
    gt[5:10, 5:10] = 1
    np.savez(samples / "gts" / "2DBox_US_0002.npz", gts=gt)
    res = compare_directories(samples, out_dir=tmp_path / "r", progress=False, figures=False, **_pipes())
    bad = [c for c in res.per_case if c["name"] == "2DBox_US_0002"]
    assert len(bad) == 2 and all(c["dsc"] == 0 and c["status"] == "run error" for c in bad)
    assert len(res.errors) == 2 and "failed" in res.text()


def test_compare_extra_forced_method_skips_what_it_cannot_run(samples, tmp_path):
    res = compare_directories(samples, out_dir=tmp_path / "r", progress=False, figures=False,
                              methods=["ght"], **_pipes())
    assert res.pipelines == ["baseline", "paper", "ght"]
    ght = [c for c in res.per_case if c["pipeline"] == "ght"]
    assert len(ght) == len(NAMES) and all(c["method"] == "ght" for c in ght)
    assert "ght DSC" in res.tables["quality"]


def test_resolve_dirs(samples, tmp_path):
    assert resolve_dirs(samples) == (samples / "imgs", samples / "gts")
    assert resolve_dirs(samples / "imgs", samples) == (samples / "imgs", samples / "gts")
    assert resolve_dirs(samples / "imgs") == (samples / "imgs", samples / "imgs")
    with pytest.raises(NotADirectoryError):
        resolve_dirs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .npz"):
        resolve_dirs(tmp_path / "empty")


def test_cli_compare_prints_what_it_writes(samples, tmp_path, capsys, monkeypatch):
    real = compare_cmd.pipeline_from_args

    def with_fake_models(args, *, mode=None):
        pipe = real(args, mode=mode)
        pipe.models = FakeModels()
        return pipe

    monkeypatch.setattr(compare_cmd, "pipeline_from_args", with_fake_models)
    parser = argparse.ArgumentParser()
    compare_cmd.configure(parser)
    out = tmp_path / "cli"
    args = parser.parse_args([str(samples), "--out", str(out), "--no-progress", "--no-figures"])
    assert compare_cmd.run(args) == 0
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    table_lines = [ln for ln in printed.splitlines() if ln.startswith("|")]
    assert table_lines and all(ln in report for ln in table_lines)
    assert re.search(r"\| PET +\| 2 +\|", printed)
    assert compare_cmd.run(args) == 2                      # refuses to overwrite
    assert "exists" in capsys.readouterr().err
