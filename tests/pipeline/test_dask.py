"""Scale-out: the same predictions from a Dask LocalCluster (loopback) as from a serial run."""

from __future__ import annotations

import json

import numpy as np
import pipeline_fakes
import pytest

from classicseg.io import load_prediction
from classicseg.pipeline import task
from classicseg.pipeline.core import Pipeline, clear_model_cache
from classicseg.pipeline.runner import RunOptions, dask_client, read_run_log, run_directory
from classicseg.pipeline.task import CaseLog

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

NAMES = ["2DBox_US_0001", "2DBox_US_0002", "3DBox_CT_0001", "3DBox_PET_0001", "3DBox_PET_0002"]
QUIET = RunOptions(progress=False)


@pytest.fixture(scope="module", autouse=True)
def _fakes_by_value():
    # Worker processes may not see tests/ on their path: ship the fakes by value.
    cloudpickle.register_pickle_by_value(pipeline_fakes)
    yield
    cloudpickle.unregister_pickle_by_value(pipeline_fakes)


@pytest.fixture(scope="module")
def client():
    c, cluster = dask_client(workers=2)
    info = c.scheduler_info()
    assert c.scheduler.address.startswith("tcp://127.0.0.1:")
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in info["workers"])
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def cases(write_case, tmp_path):
    for i, name in enumerate(NAMES):
        write_case(name, seed=i)
    (tmp_path / "imgs" / "2DBox_US_0003.npz").write_bytes(b"not an npz")
    return tmp_path / "imgs"


def test_dask_results_identical_to_serial(cases, tmp_path, client):
    clear_model_cache()
    pipe = Pipeline(models=pipeline_fakes.FakeModels())
    serial = run_directory(cases, tmp_path / "serial", pipe, options=QUIET)
    parallel = run_directory(cases, tmp_path / "dask", pipe, options=QUIET.replace(client=client))
    assert serial.n_ok == parallel.n_ok == len(NAMES)
    assert [r.name for r in parallel.errors] == ["2DBox_US_0003"]   # bad case reported, run went on
    for name in NAMES:
        a = load_prediction(tmp_path / "serial" / f"{name}.npz")
        b = load_prediction(tmp_path / "dask" / f"{name}.npz")
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    s_rows = {r.name: r for r in read_run_log(tmp_path / "serial")}
    d_rows = {r.name: r for r in read_run_log(tmp_path / "dask")}
    for name in NAMES:
        assert (s_rows[name].method, s_rows[name].methods, s_rows[name].reasons) == \
            (d_rows[name].method, d_rows[name].methods, d_rows[name].reasons)
    ok = [r for r in parallel.rows if r.ok]
    pids = {r.pid for r in ok}
    assert len(pids) >= 1 and all(pid != serial.rows[0].pid for pid in pids)
    # threads = cores // workers in each worker
    from classicseg.pipeline.threads import threads_per_worker
    assert {r.threads for r in ok} == {threads_per_worker(2)}


def test_model_loaded_once_per_worker(cases, tmp_path, client):
    pipe = Pipeline(models=pipeline_fakes.FakeModels(), name="once")
    summary = run_directory(cases, tmp_path / "dask", pipe,
                            options=QUIET.replace(client=client, overwrite=True))
    by_pid: dict[int, list[int]] = {}
    for r in summary.rows:
        if r.ok:
            by_pid.setdefault(r.pid, []).append(r.models_loaded)
    # every worker process loaded the (fake) LiteMedSAM at most once, however many cases it ran
    assert by_pid and all(max(v) <= 1 for v in by_pid.values())


def test_own_local_cluster_and_resume(cases, tmp_path):
    pipe = Pipeline(models=pipeline_fakes.FakeModels())
    first = run_directory(cases, tmp_path / "out", pipe,
                          options=QUIET.replace(workers=2, names=NAMES[:2]))
    second = run_directory(cases, tmp_path / "out", pipe, options=QUIET.replace(workers=2))
    assert first.n_ok == 2
    assert sorted(second.skipped) == NAMES[:2] and second.n_ok == 3


def test_a_task_that_dies_on_a_worker_gets_a_full_row(cases, tmp_path, client, monkeypatch):
    def dies(pipeline, in_path, out_path, **kw):  # stands in for a worker killed mid-case
        raise MemoryError(f"worker ran out of memory on {in_path}")

    monkeypatch.setattr(task, "run_case", dies)   # shipped by value: a local function
    out = tmp_path / "out"
    summary = run_directory(cases, out, Pipeline(models=pipeline_fakes.FakeModels()),
                            options=QUIET.replace(client=client, names=NAMES[:2]))
    assert summary.n_ok == 0 and sorted(r.name for r in summary.errors) == NAMES[:2]
    assert all(r.error.startswith("MemoryError: worker ran out of memory") for r in summary.rows)
    assert all(r.threads is not None and r.seconds is None for r in summary.rows)
    on_disk = [set(json.loads(line)) for line in (out / "run_log.jsonl").read_text().splitlines()]
    assert on_disk == [set(CaseLog.columns())] * 2   # the same columns as any other row


def test_scheduler_address_sends_cases_to_an_existing_cluster(cases, tmp_path, client):
    pipe = Pipeline(models=pipeline_fakes.FakeModels())
    summary = run_directory(cases, tmp_path / "remote", pipe,
                            options=QUIET.replace(scheduler=client.scheduler.address))
    assert summary.n_ok == len(NAMES)
    import os

    used = {r.pid for r in summary.rows if r.ok}
    assert used <= set(client.run(os.getpid).values())        # ran on the cluster's workers
    assert len(client.scheduler_info()["workers"]) == 2      # and left the cluster running


def test_ctrl_c_shuts_the_cluster_down_and_leaves_only_whole_files(cases, tmp_path, monkeypatch):
    import classicseg.pipeline.runner as runner

    def interrupt(path, row):  # Ctrl-C arrives while the client collects the first result
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_append_log", interrupt)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_directory(cases, out, Pipeline(models=pipeline_fakes.FakeModels()),
                      options=QUIET.replace(workers=2))
    assert not [p for p in out.iterdir() if p.suffix == ".tmp" or p.name.startswith(".")]
    for p in out.glob("*.npz"):  # whatever was written is complete and readable
        assert load_prediction(p).ndim in (2, 3)
    monkeypatch.undo()
    resumed = run_directory(cases, out, Pipeline(models=pipeline_fakes.FakeModels()), options=QUIET)
    assert resumed.n_ok + len(resumed.skipped) == len(NAMES)
