"""`classicseg run`: predictions, run log, resumability, bad cases, Ctrl-C, cold start, threads."""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)

from classicseg.cli import CommandError
from classicseg.cli import run as run_cmd
from classicseg.io import load_prediction
from classicseg.pipeline import threads
from classicseg.pipeline.core import Pipeline, clear_model_cache
from classicseg.pipeline.runner import RunOptions, read_run_log, run_directory
from classicseg.pipeline.task import CaseLog, run_case

NAMES = ["2DBox_US_0001", "3DBox_CT_0001", "3DBox_PET_0001"]


@pytest.fixture
def cases(write_case, tmp_path):
    for i, name in enumerate(NAMES):
        write_case(name, seed=i)
    return tmp_path / "imgs"


QUIET = RunOptions(progress=False)


def _pipe(**kw):
    return Pipeline(models=FakeModels(**kw))


def test_run_writes_predictions_and_log(cases, tmp_path):
    out = tmp_path / "out"
    summary = run_directory(cases, out, _pipe(), options=QUIET)
    assert summary.n_ok == 3 and summary.errors == [] and summary.skipped == []
    for name in NAMES:
        segs = load_prediction(out / f"{name}.npz")
        assert segs.dtype == np.uint16 and segs.max() >= 1
    rows = {r.name: r for r in read_run_log(out)}
    assert set(rows) == set(NAMES)
    assert rows["3DBox_PET_0001"].method == "ght"
    assert rows["3DBox_CT_0001"].method == "litemedsam"
    assert any("s=3" in reason for reason in rows["3DBox_CT_0001"].reasons)
    assert rows["2DBox_US_0001"].methods == {"litemedsam": 2}
    for r in rows.values():
        assert r.status == "ok" and r.seconds > 0 and r.error is None
        assert r.modality in ("US", "CT", "PET") and r.n_boxes == 2


def test_run_is_resumable(cases, tmp_path):
    out = tmp_path / "out"
    run_directory(cases, out, _pipe(), options=QUIET)
    before = (out / "2DBox_US_0001.npz").stat().st_mtime_ns
    again = run_directory(cases, out, _pipe(), options=QUIET)
    assert sorted(again.skipped) == sorted(NAMES) and again.rows == []
    (out / "3DBox_CT_0001.npz").unlink()
    third = run_directory(cases, out, _pipe(), options=QUIET)
    assert [r.name for r in third.rows] == ["3DBox_CT_0001"] and len(third.skipped) == 2
    assert (out / "2DBox_US_0001.npz").stat().st_mtime_ns == before   # untouched
    forced = run_directory(cases, out, _pipe(), options=QUIET.replace(overwrite=True))
    assert forced.n_ok == 3 and forced.skipped == []
    assert len(read_run_log(out)) == 3 + 1 + 3


def test_one_corrupt_case_is_reported_and_skipped(cases, tmp_path):
    (cases / "2DBox_US_0002.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    bad_boxes = np.zeros((20, 20, 3), np.uint8)
    np.savez(cases / "2DBox_US_0003.npz", imgs=bad_boxes, boxes=np.array([[5, 5, 40, 40]]))
    out = tmp_path / "out"
    summary = run_directory(cases, out, _pipe(), options=QUIET)
    assert summary.n_ok == 3
    errors = {r.name: r.error for r in summary.errors}
    assert set(errors) == {"2DBox_US_0002", "2DBox_US_0003"}
    assert "corrupt" in errors["2DBox_US_0002"] and "outside the image" in errors["2DBox_US_0003"]
    assert all(r.where.count(":") >= 1 for r in summary.errors)
    assert not (out / "2DBox_US_0002.npz").exists()
    assert {r.name: r.status for r in read_run_log(out)}["2DBox_US_0003"] == "error"
    assert "FAILED 2DBox_US_0002" in str(summary)


def test_ctrl_c_leaves_no_half_written_file_and_resumes(cases, tmp_path):
    out = tmp_path / "out"
    # NAMES sorted: 2DBox_US (model call 1), 3DBox_CT (call 2 -> Ctrl-C), 3DBox_PET
    with pytest.raises(KeyboardInterrupt):
        run_directory(cases, out, _pipe(interrupt_at=2), options=QUIET)
    assert sorted(p.name for p in out.iterdir()) == ["2DBox_US_0001.npz", "run_log.jsonl"]
    assert [r.name for r in read_run_log(out)] == ["2DBox_US_0001"]
    clear_model_cache()
    resumed = run_directory(cases, out, _pipe(), options=QUIET)
    assert resumed.skipped == ["2DBox_US_0001"] and resumed.n_ok == 2
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_during_write_leaves_no_file(cases, tmp_path, monkeypatch):
    import classicseg.io as cio

    def interrupted_rename(src, dst):  # Ctrl-C after the temp file is written, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(cio.os, "replace", interrupted_rename)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_directory(cases, out, _pipe(), options=QUIET)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == []   # no prediction, no temp file, no log line


def test_run_case_never_raises_for_a_bad_case(tmp_path):
    row = run_case(_pipe(), tmp_path / "2DBox_US_9.npz", tmp_path / "o" / "2DBox_US_9.npz")
    assert row.status == "error" and "file not found" in row.error


def test_zero_box_case_gives_empty_prediction_and_warning(tmp_path):
    from classicseg.io import atomic_savez

    atomic_savez(tmp_path / "in" / "2DBox_US_0001.npz", imgs=np.zeros((10, 12, 3), np.uint8),
                 boxes=np.zeros((0, 4), np.int64))
    summary = run_directory(tmp_path / "in", tmp_path / "out", _pipe(), options=QUIET)
    row = summary.rows[0]
    assert row.status == "ok" and row.method == "empty"
    assert any("no boxes" in w for w in row.warnings)
    assert load_prediction(tmp_path / "out" / "2DBox_US_0001.npz").shape == (10, 12)


def test_cold_start_times_a_fresh_process(cases, tmp_path):
    summary = run_directory(cases, tmp_path / "out", Pipeline(),
                            options=QUIET.replace(cold=True, names=["3DBox_PET_0001"]))
    row = summary.rows[0]
    assert row.status == "ok", row
    assert row.pid != os.getpid()
    assert row.cold_seconds > row.seconds > 0   # start-up + imports are included
    assert load_prediction(tmp_path / "out" / "3DBox_PET_0001.npz").max() >= 1


def test_cold_start_refuses_fake_models(cases, tmp_path):
    with pytest.raises(ValueError, match="default model provider"):
        run_directory(cases, tmp_path / "out", _pipe(), options=QUIET.replace(cold=True))


# ---------------------------------------------------------------- one log row

#: The columns of a 0.1 run log (ok rows; "where" on error rows): still on disk, same names.
V01_COLUMNS = {"name", "file", "pipeline", "status", "modality", "method", "reason", "methods",
               "reasons", "n_boxes", "shape", "seconds", "read_seconds", "write_seconds", "error",
               "warnings", "host", "pid", "threads", "models_loaded", "finished_unix", "where"}


def _log_keys(out) -> list[set]:
    lines = (Path(out) / "run_log.jsonl").read_text().splitlines()
    return [set(json.loads(line)) for line in lines]


def test_every_row_on_disk_has_every_column(cases, tmp_path, monkeypatch):
    import classicseg.pipeline.coldstart as coldstart

    (cases / "2DBox_US_0002.npz").write_bytes(b"not an npz")
    out = tmp_path / "out"
    summary = run_directory(cases, out, _pipe(), options=QUIET)
    assert summary.n_ok == 3 and [r.name for r in summary.errors] == ["2DBox_US_0002"]

    def crashed(cmd, **kw):  # the fresh process died before printing its row
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="Segmentation fault")

    monkeypatch.setattr(coldstart.subprocess, "run", crashed)
    cold = run_directory(cases, out, Pipeline(), options=QUIET.replace(cold=True, overwrite=True,
                                                                      names=["3DBox_PET_0001"]))
    row = cold.rows[0]
    assert row.status == "error" and "exited with 1: Segmentation fault" in row.error
    assert row.cold_seconds is not None and row.name == "3DBox_PET_0001"
    keys = _log_keys(out)
    assert len(keys) == 5                                   # 3 ok, 1 bad file, 1 crashed process
    assert all(k == set(CaseLog.columns()) for k in keys)   # ok, error and cold-failure rows alike
    assert V01_COLUMNS | {"cold_seconds", "backend", "backend_reason"} == set(CaseLog.columns())


def test_caselog_round_trip_and_old_logs(tmp_path):
    row = run_case(_pipe(), tmp_path / "missing.npz", tmp_path / "o.npz")
    assert CaseLog.from_json(row.to_json()) == row
    assert json.loads(row.to_json())["status"] == "error"
    old = {"name": "2DBox_US_1", "file": "2DBox_US_1.npz", "pipeline": "paper", "status": "error",
           "error": "KilledWorker: x", "seconds": None, "from_the_future": 1}  # 0.1 Dask failure
    (tmp_path / "run_log.jsonl").write_text(json.dumps(old) + "\n" + '{"name": "trunc')
    rows = read_run_log(tmp_path)
    assert len(rows) == 1 and rows[0].error == "KilledWorker: x" and rows[0].methods == {}
    assert read_run_log(tmp_path / "no_log_here") == []
    with pytest.warns(DeprecationWarning, match="row.status"):
        assert rows[0]["status"] == "error"          # 0.1 dict access, for one release
    with pytest.warns(DeprecationWarning):
        assert rows[0].get("nope", 7) == 7


def test_failure_row_fills_what_is_known(tmp_path):
    row = CaseLog.failure(tmp_path / "3DBox_CT_7.npz", "paper", "MemoryError: out of memory",
                          threads=2)
    assert (row.name, row.file, row.status, row.threads, row.seconds) == \
        ("3DBox_CT_7", "3DBox_CT_7.npz", "error", 2, None)
    assert row.finished_unix > 0 and not row.ok


# ---------------------------------------------------------------- options

def test_run_options_validate():
    assert RunOptions(names=["a", "b"]).names == ("a", "b")
    assert RunOptions(names="a").names == ("a",)
    assert not RunOptions().distributed and RunOptions(scheduler="tcp://x:1").distributed
    for bad in ({"workers": 0}, {"threads": 0}, {"cold": True, "workers": 2},
                {"cold": True, "scheduler": "s"}):
        with pytest.raises(ValueError):
            RunOptions(**bad)
    with pytest.raises(ValueError, match="cold"):
        QUIET.replace(cold=True, workers=2)     # replace validates again


def test_old_keywords_still_work_with_a_warning(cases, tmp_path):
    with pytest.warns(DeprecationWarning, match=r"options=RunOptions\(progress=..., names=...\)"):
        summary = run_directory(cases, tmp_path / "out", _pipe(), progress=False,
                                names=["3DBox_PET_0001"])
    assert summary.n_ok == 1 and [r.name for r in summary.rows] == ["3DBox_PET_0001"]
    with pytest.raises(TypeError, match="unexpected keyword"):
        run_directory(cases, tmp_path / "out", _pipe(), progres=False)
    with pytest.raises(TypeError, match="not both"):
        run_directory(cases, tmp_path / "out", _pipe(), options=QUIET, overwrite=True)


def test_run_case_old_path_is_a_deprecated_alias():
    import classicseg.pipeline.runner as runner

    with pytest.warns(DeprecationWarning, match="pipeline.task.run_case"):
        assert runner.run_case is run_case
    with pytest.raises(AttributeError):
        runner.no_such_name  # noqa: B018


# ---------------------------------------------------------------- no import cycle

def _sibling_imports(path: Path) -> set[str]:
    """Modules of classicseg.pipeline that ``path`` imports, anywhere (function bodies too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found.update(n.split(".")[0] for n in names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "classicseg.pipeline."):
            found.add(node.module.split(".")[2])
    return found


def test_pipeline_modules_import_one_way():
    import classicseg.pipeline as pkg

    folder = Path(pkg.__file__).parent
    graph = {p.stem: _sibling_imports(p) & {q.stem for q in folder.glob("*.py")}
             for p in folder.glob("*.py") if p.stem != "__init__"}
    assert "runner" not in graph["coldstart"] and "runner" not in graph["task"]
    assert "task" in graph["runner"] and "task" in graph["coldstart"]
    # depth-first search for a cycle
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in graph.get(m, ()):
            assert state.get(n) != 1, f"import cycle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize("module", ["task", "coldstart", "runner"])
def test_each_module_imports_alone_in_a_fresh_process(module):
    import sys

    code = f"import classicseg.pipeline.{module} as m; print(m.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == f"classicseg.pipeline.{module}"


# ---------------------------------------------------------------- threads

def test_set_threads_sets_every_library(monkeypatch):
    import cv2

    before = cv2.getNumThreads()
    try:
        assert threads.set_threads(1) == 1
        assert threads.get_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert cv2.getNumThreads() == 1
        import threadpoolctl
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info())
    finally:
        threads.set_threads(max(before, 1))
    with pytest.raises(ValueError):
        threads.set_threads(0)


def test_threads_per_worker():
    assert threads.threads_per_worker(2, cpus=8) == 4
    assert threads.threads_per_worker(16, cpus=8) == 1
    with pytest.raises(ValueError):
        threads.threads_per_worker(0)


# ---------------------------------------------------------------- CLI

def _parse(argv):
    parser = argparse.ArgumentParser()
    run_cmd.configure(parser)
    return parser.parse_args(argv)


def test_cli_options_build_the_pipeline(capsys):
    args = _parse(["in", "out", "--s", "CT=2", "--s", "MR=4", "--method", "OCT=mobileunet",
                   "--postprocess", "off"])
    pipe = run_cmd.pipeline_from_args(args)
    assert pipe.s == {"CT": 2, "MR": 4} and pipe.method == {"OCT": "mobileunet"}
    assert pipe.postprocess == "none"
    assert run_cmd.pipeline_from_args(_parse(["in", "out", "--s", "5"])).s == 5
    medsam = run_cmd.pipeline_from_args(_parse(["in", "out", "--method", "medsam"]))
    assert medsam.method == "medsam"
    base = run_cmd.pipeline_from_args(_parse(["in", "out", "--mode", "baseline"]))
    assert base.mode == "baseline" and base.name == "baseline"
    with pytest.raises(CommandError, match="--s: give one value for all modalities"):
        run_cmd.pipeline_from_args(_parse(["in", "out", "--s", "3", "--s", "CT=2"]))
    # a malformed value is refused by argparse, which names the option
    for bad, why in ((["--s", "Brain=2"], "argument --s: unknown modality 'Brain'"),
                     (["--method", "sam2"], "argument --method: unknown method 'sam2'"),
                     (["--s", "0"], "argument --s: expected a positive integer, got '0'")):
        with pytest.raises(SystemExit):
            _parse(["in", "out"] + bad)
        assert why in capsys.readouterr().err


def test_cli_run_on_data_samples_layout(write_case, tmp_path, capsys):
    write_case("3DBox_PET_0001")
    write_case("3DBox_PET_0002", seed=3)
    rc = run_cmd.run(_parse([str(tmp_path), str(tmp_path / "out"), "--no-progress"]))
    out = capsys.readouterr().out
    assert rc == 0 and "2 predicted, 0 failed" in out
    assert sorted(p.name for p in (tmp_path / "out").glob("*.npz")) == ["3DBox_PET_0001.npz",
                                                                        "3DBox_PET_0002.npz"]
    with pytest.raises(CommandError, match="IN_DIR .*nope: no such directory"):
        run_cmd.run(_parse([str(tmp_path / "nope"), str(tmp_path / "out")]))
    with pytest.raises(CommandError, match="--cold: runs one process per case serially"):
        run_cmd.run(_parse([str(tmp_path), str(tmp_path / "o2"), "--cold", "--workers", "2"]))


def test_cli_module_is_light():
    import subprocess
    import sys

    code = ("import sys, argparse; import classicseg.cli.run as r, classicseg.cli.compare as c; "
            "r.configure(argparse.ArgumentParser()); c.configure(argparse.ArgumentParser()); "
            "print(sorted(m for m in ('torch', 'dask', 'distributed', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == "[]"


def test_unusable_entries_are_in_the_summary_and_the_log(cases, tmp_path):
    (cases / "2DBox_US_gone.npz").symlink_to(tmp_path / "nowhere.npz")
    summary = run_directory(cases, tmp_path / "out", _pipe(), options=QUIET)
    assert summary.n_ok == 3 and not summary.complete
    assert [(e.path.name, e.reason) for e in summary.excluded] == [
        ("2DBox_US_gone.npz", "broken symbolic link (its target is missing)")]
    assert "1 input file(s) not usable" in str(summary)
    assert "NOT USED " in str(summary) and "2DBox_US_gone.npz: broken symbolic link" in str(summary)
    rows = read_run_log(tmp_path / "out")
    skipped = [r for r in rows if r.status == "skipped"]
    assert [(r.name, r.error) for r in skipped] == [
        ("2DBox_US_gone", "broken symbolic link (its target is missing)")]


def test_a_folder_without_cases_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .npz challenge files") as e:
        run_directory(tmp_path / "empty", tmp_path / "out", _pipe(), options=QUIET)
    assert e.value.filename == str(tmp_path / "empty") and not (tmp_path / "out").exists()
    (tmp_path / "empty" / "2DBox_US_x.npz").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no usable .npz .*2DBox_US_x\.npz: broken"):
        run_directory(tmp_path / "empty", tmp_path / "out", _pipe(), options=QUIET)


def test_output_problems_are_found_before_any_work(cases, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a directory") as e:
        run_directory(cases, tmp_path / "afile", _pipe(), options=QUIET)
    assert e.value.filename == str(tmp_path / "afile")
    (tmp_path / "out" / "run_log.jsonl").mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match="cannot write the run log"):
        run_directory(cases, tmp_path / "out", _pipe(), options=QUIET)
    assert list((tmp_path / "out").glob("*.npz")) == []


def test_a_run_log_that_stops_taking_writes_is_reported(cases, tmp_path, monkeypatch):
    from classicseg.pipeline import runner

    def disk_full(path, row):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(runner, "_append_log", disk_full)
    summary = run_directory(cases, tmp_path / "out", _pipe(), options=QUIET)
    assert summary.n_ok == 3 and len(list((tmp_path / "out").glob("*.npz"))) == 3
    assert summary.log_error.endswith("run_log.jsonl: the run log could not be written (No space "
                                      "left on device); rows from this one on are missing from it")
    assert not summary.complete


@pytest.mark.parametrize("address, problem", [
    ("garbage", "not a Dask scheduler address"),
    ("http://head:8786", "unknown scheme 'http'"),
    ("tcp://head:0", "outside 1..65535"),
])
def test_scheduler_address_is_checked_before_connecting(address, problem):
    from classicseg.pipeline.runner import check_scheduler_address

    with pytest.raises(ValueError, match=problem):
        RunOptions(scheduler=address)
    assert check_scheduler_address("head:8786") == "head:8786"
    assert check_scheduler_address("tcp://[::1]:8786") == "tcp://[::1]:8786"
