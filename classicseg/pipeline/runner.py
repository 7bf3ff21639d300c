"""Run a pipeline over a directory of challenge files: serially, on Dask, or one process per case.

:func:`run_directory` writes ``OUT_DIR/<name>.npz`` (key ``segs``) for every case of
``IN_DIR`` and appends one JSON line per case to ``OUT_DIR/run_log.jsonl`` (name, modality,
methods and reasons, warm seconds, status, error). It is

* **resumable** -- cases whose prediction exists are skipped unless ``overwrite=True``;
* **robust** -- a case that fails (corrupt file, bad boxes, a method error) is logged with
  ``status="error"`` and the run goes on;
* **Ctrl-C safe** -- predictions are written atomically (temp file + rename) and the log
  line only after the file, so an interrupt leaves no half-written file and a rerun
  resumes where it stopped;
* **scalable** -- ``workers=N`` runs cases on a local ``dask.distributed`` cluster
  (N processes, one thread each, loopback only); ``scheduler="tcp://..."`` sends them to an
  existing cluster (IN_DIR and OUT_DIR must be visible at the same paths on every worker).
  Each worker loads LiteMedSAM once (per-process model cache) and the predictions are
  identical to a serial run.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from classicseg.io import Case, save_case
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> vol = np.zeros((6, 20, 20), np.uint8); vol[2:5, 5:12, 5:12] = 200
>>> _ = save_case(Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 12, 12, 5]]), spacing=(1, 1, 1)),
...               d / "in" / "3DBox_PET_0001.npz")
>>> summary = run_directory(d / "in", d / "out", progress=False)
>>> summary.n_ok, sorted(p.name for p in (d / "out").iterdir())
(1, ['3DBox_PET_0001.npz', 'run_log.jsonl'])
>>> run_directory(d / "in", d / "out", progress=False).skipped   # resumable
['3DBox_PET_0001']
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..io import list_case_files, load_case, save_prediction
from . import threads as _threads
from .core import Pipeline, model_load_count

__all__ = ["run_directory", "run_case", "RunSummary", "read_run_log", "dask_client", "LOG_NAME"]

LOG_NAME = "run_log.jsonl"


@dataclass
class RunSummary:
    """What a run did: one log row per processed case, the names it skipped, wall time."""

    out_dir: Path
    rows: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def n_ok(self) -> int:
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def errors(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    def __str__(self) -> str:
        s = (f"{self.n_ok} predicted, {len(self.errors)} failed, {len(self.skipped)} skipped (exist) "
             f"in {self.wall_seconds:.1f} s -> {self.out_dir}")
        for r in self.errors:
            s += f"\n  FAILED {r['name']}: {r['error']}"
        return s


def _stem(path: Path) -> str:
    return path.name[:-4] if path.name.lower().endswith(".npz") else path.stem


def _summarize_boxes(res) -> tuple[dict, list[str]]:
    methods: dict[str, int] = {}
    reasons: list[str] = []
    for b in res.boxes:
        methods[b.method] = methods.get(b.method, 0) + 1
        if b.reason not in reasons:
            reasons.append(b.reason)
    return methods, reasons


def run_case(pipeline: Pipeline, in_path, out_path, *, overwrite: bool = False,
             n_threads: int | None = None) -> dict:
    """Segment one file and write its prediction; returns the log row (never raises for a
    bad case -- the error goes into the row -- except on KeyboardInterrupt).

    This is the task a Dask worker runs; ``n_threads`` is applied first so parallel
    workers share the cores instead of oversubscribing them.
    """
    if n_threads is not None and _threads.get_threads() != n_threads:
        _threads.set_threads(n_threads)
    in_path, out_path = Path(in_path), Path(out_path)
    row = {"name": _stem(in_path), "file": in_path.name, "pipeline": pipeline.name, "status": "error",
           "modality": None, "method": None, "reason": None, "methods": {}, "reasons": [], "n_boxes": None, "shape": None,
           "seconds": None, "read_seconds": None, "write_seconds": None, "error": None, "warnings": [],
           "host": socket.gethostname(), "pid": os.getpid(), "threads": _threads.get_threads()}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            case = load_case(in_path, modality=pipeline.modality)
            row["read_seconds"] = time.perf_counter() - t0
            row.update(modality=case.modality, n_boxes=case.n_boxes, shape=list(case.image.shape))
            res = pipeline.segment(case)
            route = res.extra.get("route", {})
            row["method"], row["reason"] = route.get("method"), route.get("reason")
            row["methods"], row["reasons"] = _summarize_boxes(res)
            row["seconds"] = res.seconds
            t1 = time.perf_counter()
            save_prediction(out_path, res.segs, overwrite=overwrite)
            row["write_seconds"] = time.perf_counter() - t1
        row["warnings"] = sorted({str(w.message) for w in caught})
        row["status"] = "ok"
    except KeyboardInterrupt:
        raise
    except Exception as e:  # one bad case must never stop the run
        row["error"] = f"{type(e).__name__}: {e}"
        frame = traceback.extract_tb(e.__traceback__)[-1]  # where it broke, for the bug report
        row["where"] = f"{frame.filename}:{frame.lineno} in {frame.name}"
    row["models_loaded"] = model_load_count()
    row["finished_unix"] = time.time()
    return row


def _append_log(path: Path, row: dict) -> None:
    # One write of one line, flushed and fsynced: an interrupt loses at most this line.
    line = json.dumps(row, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_run_log(path) -> list[dict]:
    """Rows of a ``run_log.jsonl`` (a path to the file or its folder); a truncated last
    line (the run was killed while writing it) is ignored."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_NAME
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _remove_stale_temps(out_dir: Path, names) -> None:
    # classicseg.io.atomic_write's temp files are ".<file name>.<random>.tmp"; a worker
    # killed mid-write (cluster shut down on Ctrl-C) can leave one behind.
    for name in names:
        for tmp in out_dir.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass


def run_directory(in_dir, out_dir, pipeline: Pipeline | None = None, *, overwrite: bool = False,
                  workers: int | None = None, scheduler: str | None = None, cold: bool = False,
                  threads: int | None = None, progress: bool = True, names=None, client=None) -> RunSummary:
    """Predict every case of ``in_dir`` into ``out_dir`` (challenge format) with a log.

    Parameters
    ----------
    in_dir, out_dir : path-like
        Challenge image files in; ``<name>.npz`` predictions (key ``segs``) and
        ``run_log.jsonl`` out.
    pipeline : Pipeline, optional
        Default: the paper's pipeline, ``Pipeline()``.
    overwrite : bool
        Re-predict cases whose prediction exists (default: skip them -- resumable).
    workers : int, optional
        Run on a local Dask cluster of this many single-threaded processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    cold : bool
        One fresh Python process per case (imports and model loading included, as the
        challenge times it); the row gets ``cold_seconds``. Serial only; uses the default
        model provider.
    threads : int, optional
        Threads per case (torch/OpenCV/BLAS). Default: all cores serially, the fair share
        (cores // workers) on a local cluster, untouched on a remote one.
    progress : bool
        Show a tqdm progress bar.
    names : iterable of str, optional
        Only these case names (file stems).
    client : dask.distributed.Client, optional
        Reuse this client (and its cluster) instead of starting one; it is left open.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    pipeline = pipeline or Pipeline()
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if cold and (workers or scheduler or client):
        raise ValueError("cold=True times one process per case serially; it cannot be combined with workers/scheduler")
    files = list_case_files(in_dir)
    if names is not None:
        wanted = set(names)
        files = [p for p in files if _stem(p) in wanted]
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(out_dir)
    todo = []
    for p in files:
        if (out_dir / p.name).exists() and not overwrite:
            summary.skipped.append(_stem(p))
        else:
            todo.append((p, out_dir / p.name))
    log = out_dir / LOG_NAME
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"classicseg {pipeline.name}", unit="case", disable=not progress or None,
               file=sys.stderr)
    rows = ()
    try:
        if not todo:
            pass  # nothing to do: in particular, start no cluster
        elif workers or scheduler or client is not None:
            rows = _iter_dask(pipeline, todo, out_dir, overwrite=overwrite, workers=workers,
                              scheduler=scheduler, threads=threads, client=client)
        elif cold:
            from .coldstart import run_cold
            rows = (run_cold(pipeline, p, o, overwrite=overwrite, n_threads=threads) for p, o in todo)
        else:
            _threads.set_threads(threads)
            rows = (run_case(pipeline, p, o, overwrite=overwrite) for p, o in todo)
        for row in rows:
            _append_log(log, row)
            summary.rows.append(row)
            bar.set_postfix_str(f"{row['name']} {row['status']} "
                                + (f"{row['seconds']:.2f}s" if row.get("seconds") is not None else ""))
            bar.update(1)
    finally:
        if hasattr(rows, "close"):  # shuts a Dask cluster down at once, also on Ctrl-C
            rows.close()
        bar.close()
        summary.wall_seconds = time.perf_counter() - t0
    return summary


def dask_client(workers: int | None = None, scheduler: str | None = None):
    """``(client, cluster)``: a client of ``scheduler``, or of a new local cluster of ``workers``
    single-threaded processes bound to 127.0.0.1 without dashboard (cluster None when remote)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    if not workers or int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    # Loopback only, no dashboard; the scheduler's small HTTP endpoint gets a free loopback
    # port (never 0.0.0.0, never a fixed port that a second run would collide with).
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    return Client(cluster), cluster


def _iter_dask(pipeline, todo, out_dir: Path, *, overwrite, workers, scheduler, threads, client=None):
    """Yield log rows as cases finish on a Dask cluster (local or remote)."""
    from dask.distributed import as_completed

    own = client is None
    cluster = None
    if own:
        client, cluster = dask_client(workers, scheduler)
    if threads is None and not scheduler:  # local cluster: share this machine's cores fairly
        threads = _threads.threads_per_worker(int(workers or len(client.scheduler_info()["workers"]) or 1))
    futures = {}
    try:
        # One copy of the pipeline per worker, not one per task.
        pipe = client.scatter(pipeline, broadcast=True)
        for p, o in todo:
            fut = client.submit(run_case, pipe, str(p), str(o), overwrite=overwrite, n_threads=threads,
                                pure=False, key=f"classicseg-{_stem(p)}-{os.getpid()}-{time.time_ns()}")
            futures[fut] = p
        for fut in as_completed(list(futures)):
            try:
                yield fut.result()
            except Exception as e:  # a worker died (e.g. out of memory): report the case, go on
                p = futures[fut]
                yield {"name": _stem(p), "file": p.name, "pipeline": pipeline.name, "status": "error",
                       "error": f"{type(e).__name__}: {e}", "seconds": None}
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()
        if not scheduler:
            _remove_stale_temps(out_dir, [_stem(p) for p, _ in todo])
