"""`classicseg compare`: baseline vs paper pipeline, report files hold the printed numbers."""

from __future__ import annotations

import argparse
import csv
import math
import re

import numpy as np
import pytest
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)

from classicseg import viz
from classicseg.cli import CommandError
from classicseg.cli import compare as compare_cmd
from classicseg.evaluation import report as report_mod
from classicseg.evaluation.compare import compare_directories, resolve_dirs
from classicseg.pipeline.core import Pipeline
from classicseg.pipeline.runner import RunOptions, read_run_log

NAMES = ["2DBox_US_0001", "3DBox_CT_0001", "3DBox_PET_0001", "3DBox_PET_0002"]
QUIET = RunOptions(progress=False)


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
    return dict(paper=Pipeline(models=FakeModels()),
                baseline=Pipeline(mode="baseline", models=FakeModels()))


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_writes_report_with_the_printed_numbers(samples, tmp_path):
    out = tmp_path / "report"
    res = compare_directories(samples, out_dir=out, options=QUIET, figures=viz.comparison_figures,
                              **_pipes())
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
        assert cells[2 + 2 * k] == f"{100 * float(r['dsc']):.2f}"
        assert cells[3 + 2 * k] == f"{100 * float(r['nsd']):.2f}"
        assert cells[1] == r["n"]
        assert float(timing[r["modality"]][1 + k]) == pytest.approx(float(r["seconds"]), rel=5e-3)
        if r["pipeline"] == "paper":
            speedup = float(timing[r["modality"]][3].rstrip("x"))
            assert speedup == pytest.approx(float(r["speedup"]), rel=0.05)
    # per-case CSV: one row per pipeline and case, scores in [0, 1], real method names
    per_case = _read_csv(out / "per_case.csv")
    assert len(per_case) == 2 * len(NAMES)
    paper = {r["name"]: r for r in per_case if r["pipeline"] == "paper"}
    assert paper["3DBox_PET_0001"]["method"] == "ght"
    assert paper["3DBox_CT_0001"]["method"] == "litemedsam"
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
    out = tmp_path / "r"
    compare_directories(samples, out_dir=out, options=QUIET, figures=False, **_pipes())
    logs = {p: read_run_log(out / "predictions" / p) for p in ("baseline", "paper")}
    order = sorted((r.finished_unix, p, r.name) for p, rows in logs.items() for r in rows)
    assert [(p, n) for _, p, n in order] == [(p, n) for n in sorted(NAMES)
                                             for p in ("baseline", "paper")]


def test_compare_refuses_to_overwrite_and_resumes(samples, tmp_path):
    out = tmp_path / "report"
    compare_directories(samples, out_dir=out, options=QUIET, figures=False, **_pipes())
    with pytest.raises(FileExistsError, match="--overwrite"):
        compare_directories(samples, out_dir=out, options=QUIET, figures=False, **_pipes())
    (out / "predictions" / "paper" / "3DBox_PET_0002.npz").unlink()
    res = compare_directories(samples, out_dir=out, options=QUIET, figures=False, resume=True,
                              **_pipes())
    assert len(res.per_case) == 8 and not res.errors


def test_compare_scores_failed_cases_as_zero(samples, tmp_path):
    (samples / "imgs" / "2DBox_US_0002.npz").write_bytes(b"garbage")
    gt = np.zeros((48, 56), np.uint16)
    gt[5:10, 5:10] = 1
    np.savez(samples / "gts" / "2DBox_US_0002.npz", gts=gt)
    res = compare_directories(samples, out_dir=tmp_path / "r", options=QUIET, figures=False,
                              **_pipes())
    bad = [c for c in res.per_case if c["name"] == "2DBox_US_0002"]
    assert len(bad) == 2 and all(c["dsc"] == 0 and c["status"] == "run error" for c in bad)
    assert len(res.errors) == 2 and "failed" in res.text()


def test_compare_extra_forced_method_skips_what_it_cannot_run(samples, tmp_path):
    res = compare_directories(samples, out_dir=tmp_path / "r", options=QUIET, figures=False,
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
    with pytest.raises(CommandError, match="holds a report .* add --overwrite"):
        compare_cmd.run(args)                              # refuses to overwrite


def test_failed_runs_carry_their_whole_log_row(samples, tmp_path):
    (samples / "imgs" / "2DBox_US_0002.npz").write_bytes(b"garbage")
    res = compare_directories(samples, out_dir=tmp_path / "r", options=QUIET, figures=False,
                              **_pipes())
    assert {e["pipeline"] for e in res.errors} == {"baseline", "paper"}
    assert all(e["name"] == "2DBox_US_0002" and e["where"] and "cold_seconds" in e
               for e in res.errors)
    assert "## Failed case runs" in (tmp_path / "r" / "report.md").read_text()


def test_compare_old_keywords_warn_and_names_are_refused(samples, tmp_path):
    with pytest.warns(DeprecationWarning, match="options=RunOptions"):
        res = compare_directories(samples, out_dir=tmp_path / "r", progress=False, figures=False,
                                  overwrite=True, **_pipes())
    assert len(res.per_case) == 2 * len(NAMES)
    with pytest.raises(ValueError, match="names"):
        compare_directories(samples, out_dir=tmp_path / "n", options=QUIET.replace(names=["x"]),
                            **_pipes())
    with pytest.raises(TypeError, match="unexpected keyword"):
        compare_directories(samples, out_dir=tmp_path / "n", options=QUIET, flavor="challenge",
                            **_pipes())


def test_compare_on_a_given_dask_client_leaves_it_open(samples, tmp_path):
    distributed = pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    import pipeline_fakes

    cloudpickle.register_pickle_by_value(pipeline_fakes)
    client = distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=None)
    try:
        res = compare_directories(samples, out_dir=tmp_path / "r", figures=False,
                                  options=QUIET.replace(client=client), **_pipes())
        assert not res.errors and len(res.per_case) == 2 * len(NAMES)
        assert client.status == "running"
        assert "execution: a given Dask client" in (tmp_path / "r" / "report.md").read_text()
    finally:
        client.close()
        cloudpickle.unregister_pickle_by_value(pipeline_fakes)


def test_report_tables_from_numbers_alone():
    summary = [{"pipeline": p, "modality": m, "n": 2, "dsc": d, "nsd": d, "seconds": t,
                "cold_seconds": None, "speedup": 2.0 if p == "paper" else 1.0}
               for p, t in (("baseline", 2.0), ("paper", 1.0))
               for m, d in (("PET", 0.5), ("CT", 0.9))]
    per_case = [{"pipeline": p, "name": "2DBox_US_1", "modality": "US", "seconds": t,
                 "method": "litemedsam", "shape": "4x4x3", "n_boxes": 1}
                for p, t in (("baseline", 1.0), ("paper", 1.25))]
    t = report_mod.tables(["baseline", "paper"], summary, per_case, flavour="challenge", cold=False)
    quality = t["quality"].splitlines()
    assert [ln.split("|")[1].strip() for ln in quality[4:]] == ["CT", "PET"]    # paper's order
    assert "| 90.00" in t["quality"] and "2x" in t["time"]
    assert "span 0.80x-0.80x" in t["time"]      # same LiteMedSAM computation in both: timing noise
    assert "2DBox_US_1" in t["cases"] and "4x4x3" in t["cases"]
    assert report_mod.format_percent(float("nan")) == report_mod.format_seconds(None) == "n/a"


def test_paper_table11_old_path_is_deprecated():
    import classicseg.evaluation.compare as compare

    with pytest.warns(DeprecationWarning, match="evaluation.report.PAPER_TABLE11"):
        assert compare.PAPER_TABLE11 is report_mod.PAPER_TABLE11
    assert report_mod.PAPER_TABLE11["PET"][2] == 66.80


def test_a_worst_case_that_cannot_be_read_never_stops_the_report(samples, tmp_path, monkeypatch):
    # The figure step reloads the worst cases; one that fails to load is noted, the rest drawn.
    from classicseg.evaluation import compare as cmp

    real = cmp.load_case
    first = []

    def flaky(path, *a, **k):
        if not first:
            first.append(path)
            raise cmp.ChallengeFileError(path, "corrupt or truncated .npz: BadZipFile: test")
        return real(path, *a, **k)

    monkeypatch.setattr(cmp, "load_case", flaky)
    out = tmp_path / "report"
    res = compare_directories(samples, out_dir=out, options=QUIET, figures=viz.comparison_figures,
                              **_pipes())
    assert (out / "report.md").is_file() and (out / "per_case.csv").is_file()
    assert len(res.notes) == 1 and first[0].name in res.notes[0]
    assert "## Notes" in (out / "report.md").read_text()
    # the next-worst case took its place
    assert len(list((out / "figures").glob("worst_*.png"))) == 3


def test_figures_must_be_a_drawing_function(samples, tmp_path):
    with pytest.raises(TypeError, match="comparison_figures"):
        compare_directories(samples, out_dir=tmp_path / "r", options=QUIET, figures=True,
                            **_pipes())
