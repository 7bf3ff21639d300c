"""Run a pipeline over a directory of challenge files: serially, on Dask, or one process per case.

:func:`run_directory` writes ``OUT_DIR/<name>.npz`` (key ``segs``) for every case of
``IN_DIR`` and appends one JSON line per case to ``OUT_DIR/run_log.jsonl`` (name, modality,
methods and reasons, warm seconds, status, error). It is

* **resumable** -- cases whose prediction exists are skipped unless ``overwrite=True``;
* **robust** -- a case that fails (corrupt file, bad boxes, a method error) is logged with
  ``status="error"`` and the run goes on; an ``*.npz`` entry that is no usable file (a broken
  link, a name clash, see :func:`classicseg.io.scan_case_files`) is logged with
  ``status="skipped"`` and listed in :attr:`RunSummary.excluded`;
* **Ctrl-C safe** -- predictions are written atomically (temp file + rename) and the log
  line only after the file, so an interrupt leaves no half-written file and a rerun
  resumes where it stopped;
* **scalable** -- ``workers=N`` runs cases on a local ``dask.distributed`` cluster
  (N processes, one thread each, loopback only); ``scheduler="tcp://..."`` sends them to an
  existing cluster (IN_DIR and OUT_DIR must be visible at the same paths on every worker).
  Each worker loads LiteMedSAM once (per-process model cache) and the predictions are
  identical to a serial run.

Execution options (overwrite, workers, scheduler, threads, cold, progress, names, client)
travel together as one :class:`RunOptions`, shared with
:func:`classicseg.evaluation.compare.compare_directories`.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from classicseg.io import Case, save_case
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> vol = np.zeros((6, 20, 20), np.uint8); vol[2:5, 5:12, 5:12] = 200
>>> _ = save_case(Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 12, 12, 5]]), spacing=(1, 1, 1)),
...               d / "in" / "3DBox_PET_0001.npz")
>>> quiet = RunOptions(progress=False)
>>> summary = run_directory(d / "in", d / "out", options=quiet)
>>> summary.n_ok, sorted(p.name for p in (d / "out").iterdir())
(1, ['3DBox_PET_0001.npz', 'run_log.jsonl'])
>>> run_directory(d / "in", d / "out", options=quiet).skipped   # resumable
['3DBox_PET_0001']
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import SkippedEntry, scan_case_files
from . import task
from . import threads as _threads
from .coldstart import run_cold
from .core import Pipeline
from .task import CaseLog, case_stem

__all__ = ["run_directory", "RunOptions", "RunSummary", "read_run_log", "dask_client", "LOG_NAME",
           "SchedulerError", "check_scheduler_address"]

LOG_NAME = "run_log.jsonl"


@dataclass(frozen=True)
class RunOptions:
    """How cases are executed (shared by :func:`run_directory` and ``compare_directories``).

    Parameters
    ----------
    overwrite : bool
        Re-predict cases whose prediction exists (default: skip them -- resumable).
    workers : int, optional
        Run on a local Dask cluster of this many single-threaded processes.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    client : dask.distributed.Client, optional
        Reuse this client (and its cluster) instead of starting one; it is left open.
    threads : int, optional
        Threads per case (torch/OpenCV/BLAS). Default: all cores serially, the fair share
        (cores // workers) on a local cluster, untouched on a remote one.
    cold : bool
        One fresh Python process per case (imports and model loading included, as the
        challenge times it); the row gets ``cold_seconds``. Serial only; needs the default
        model provider.
    progress : bool
        Show a tqdm progress bar.
    names : iterable of str, optional
        Only these case names (file stems).

    Examples
    --------
    >>> RunOptions(workers=2).distributed
    True
    >>> RunOptions(cold=True, workers=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cold=True times one process per case serially; ...
    """

    overwrite: bool = False
    workers: int | None = None
    scheduler: str | None = None
    client: Any = field(default=None, compare=False, repr=False)
    threads: int | None = None
    cold: bool = False
    progress: bool = True
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.workers is not None and int(self.workers) < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers!r}")
        if self.threads is not None and int(self.threads) < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads!r}")
        if self.cold and self.distributed:
            raise ValueError("cold=True times one process per case serially; "
                             "it cannot be combined with workers/scheduler")
        if self.scheduler is not None:
            check_scheduler_address(self.scheduler)
        if self.names is not None and not isinstance(self.names, tuple):
            names = (self.names,) if isinstance(self.names, str) else tuple(self.names)
            object.__setattr__(self, "names", names)  # frozen: hashable, not shared

    @property
    def distributed(self) -> bool:
        """True when cases go to a Dask cluster."""
        return bool(self.workers or self.scheduler or self.client is not None)

    def replace(self, **changes) -> "RunOptions":
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)


_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(RunOptions))


def options_from_legacy(options: RunOptions | None, legacy: dict, *, caller: str) -> RunOptions:
    """``options``, or the :class:`RunOptions` that 0.1-style keyword arguments describe
    (with a DeprecationWarning; the keywords go away in classicseg 0.3)."""
    if not legacy:
        return options if options is not None else RunOptions()
    unknown = sorted(set(legacy) - set(_OPTION_NAMES))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword argument(s) {unknown}")
    if options is not None:
        raise TypeError(f"{caller}(): pass either options= or the old keywords {sorted(legacy)}, "
                        "not both")
    warnings.warn(f"{caller}(..., {', '.join(f'{k}=' for k in legacy)}) is deprecated; pass "
                  f"options=RunOptions({', '.join(f'{k}=...' for k in legacy)}) "
                  "(the keywords go away in classicseg 0.3)", DeprecationWarning, stacklevel=3)
    return RunOptions(**legacy)


class SchedulerError(ConnectionError):
    """The Dask scheduler at ``address`` cannot be reached: ``"scheduler <address>: <problem>"``."""

    def __init__(self, address: str, problem: str):
        self.address, self.problem = str(address), problem
        super().__init__(f"scheduler {self.address}: {problem}")


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
# [scheme://]host:port, host a name, an IPv4 address or a bracketed IPv6 address
_ADDRESS = re.compile(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>[\w.-]+|\[[0-9a-fA-F:.]+\]):(?P<port>\d{1,5})/?")


def check_scheduler_address(address: str) -> str:
    """``address`` if it has the form of a Dask scheduler address (``tcp://host:8786``,
    ``host:8786``), else ValueError saying what is wrong -- before any connection is tried.

    Examples
    --------
    >>> check_scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> check_scheduler_address("http://head:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scheduler 'http://head:8786': unknown scheme 'http'; use one of ...
    """
    m = _ADDRESS.fullmatch(str(address).strip())
    if m is None:
        raise ValueError(f"scheduler {address!r}: not a Dask scheduler address; expected "
                         "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    if m["scheme"] is not None and m["scheme"] not in _SCHEMES:
        raise ValueError(f"scheduler {address!r}: unknown scheme {m['scheme']!r}; use one of "
                         f"{', '.join(s + '://' for s in _SCHEMES)}")
    if not 0 < int(m["port"]) < 65536:
        raise ValueError(f"scheduler {address!r}: port {m['port']} is outside 1..65535")
    return str(address).strip()


@dataclass
class RunSummary:
    """What a run did: one log row per processed case, the names it skipped because their
    prediction exists, the input entries it could not use (:attr:`excluded`), wall time, and
    why the run log could not be written (:attr:`log_error`, None when it was)."""

    out_dir: Path
    rows: list[CaseLog] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    excluded: list[SkippedEntry] = field(default_factory=list)
    wall_seconds: float = 0.0
    log_error: str | None = None

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.rows)

    @property
    def errors(self) -> list[CaseLog]:
        return [r for r in self.rows if not r.ok]

    @property
    def backends(self) -> dict[str, str]:
        """LiteMedSAM backend that ran -> why (``--backend auto``: its parity verdict)."""
        return {r.backend: r.backend_reason or "" for r in self.rows if r.backend}

    @property
    def complete(self) -> bool:
        """True when every input entry was predicted (or already was) and logged."""
        return not self.errors and not self.excluded and self.log_error is None

    def __str__(self) -> str:
        s = (f"{self.n_ok} predicted, {len(self.errors)} failed, {len(self.skipped)} skipped "
             f"(exist)")
        if self.excluded:
            s += f", {len(self.excluded)} input file(s) not usable"
        s += f" in {self.wall_seconds:.1f} s -> {self.out_dir}"
        for backend, reason in self.backends.items():
            s += f"\n  LiteMedSAM backend: {backend} ({reason})"
        for r in self.errors:
            s += f"\n  FAILED {r.name}: {r.error}"
        for e in self.excluded:
            s += f"\n  NOT USED {e.path}: {e.reason}"
        return s


def _append_log(path: Path, row: CaseLog) -> None:
    # One write of one line, flushed and fsynced: an interrupt loses at most this line.
    line = row.to_json() + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_run_log(path) -> list[CaseLog]:
    """Rows of a ``run_log.jsonl`` (a path to the file or its folder) as :class:`CaseLog`;
    a truncated last line (the run was killed while writing it) is ignored, and a folder
    without a log gives no rows."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_NAME
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(CaseLog.from_json(line))
        except (ValueError, TypeError, AttributeError):  # a broken line, or JSON that is no row
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


def run_directory(in_dir, out_dir, pipeline: Pipeline | None = None, *,
                  options: RunOptions | None = None, **legacy) -> RunSummary:
    """Predict every case of ``in_dir`` into ``out_dir`` (challenge format) with a log.

    Parameters
    ----------
    in_dir, out_dir : path-like
        Challenge image files in; ``<name>.npz`` predictions (key ``segs``) and
        ``run_log.jsonl`` out.
    pipeline : Pipeline, optional
        Default: the paper's pipeline, ``Pipeline()``.
    options : RunOptions, optional
        How to execute (default ``RunOptions()``: serial, skip existing predictions,
        progress bar). The 0.1 keywords (``overwrite=``, ``workers=``, ...) still work
        for one release, with a DeprecationWarning.

    Returns
    -------
    RunSummary
        One :class:`~classicseg.pipeline.task.CaseLog` per processed case, the skipped names.
    """
    opts = options_from_legacy(options, legacy, caller="run_directory")
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    pipeline = pipeline or Pipeline()
    files, excluded = scan_case_files(in_dir)
    if not files:
        raise FileNotFoundError(errno.ENOENT, _no_cases(excluded), str(in_dir))
    if opts.names is not None:
        wanted = set(opts.names)
        files = [p for p in files if case_stem(p) in wanted]
        excluded = [e for e in excluded if case_stem(e.path) in wanted]
    summary = RunSummary(out_dir, excluded=excluded)
    todo = []
    for p in files:
        if (out_dir / p.name).exists() and not opts.overwrite:
            summary.skipped.append(case_stem(p))
        else:
            todo.append((p, out_dir / p.name))
    client = cluster = None
    if todo and opts.distributed and opts.client is None:
        # connect before anything is written: an unreachable scheduler leaves no trace
        client, cluster = dask_client(opts.workers, opts.scheduler)
        opts = opts.replace(client=client)
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    rows, bar = (), None
    try:
        log = _prepare_output(out_dir)
        for entry in excluded:
            _log_row(summary, log, CaseLog.failure(entry.path, pipeline.name, entry.reason,
                                                   status="skipped"))
        bar = tqdm(total=len(todo), desc=f"classicseg {pipeline.name}", unit="case",
                   disable=not opts.progress or None, file=sys.stderr)
        if not todo:
            pass  # nothing to do: in particular, start no cluster
        elif opts.distributed:
            rows = _iter_dask(pipeline, todo, out_dir, opts)
        elif opts.cold:
            rows = (run_cold(pipeline, p, o, overwrite=opts.overwrite, n_threads=opts.threads)
                    for p, o in todo)
        else:
            _threads.set_threads(opts.threads)
            rows = (task.run_case(pipeline, p, o, overwrite=opts.overwrite) for p, o in todo)
        for row in rows:
            _log_row(summary, log, row)
            summary.rows.append(row)
            took = f" {row.seconds:.2f}s" if row.seconds is not None else ""
            bar.set_postfix_str(f"{row.name} {row.status}{took}")
            bar.update(1)
    finally:
        if hasattr(rows, "close"):  # cancels the Dask futures at once, also on Ctrl-C
            rows.close()
        if client is not None:  # ours: shut it down (a given client is left open)
            client.close()
        if cluster is not None:
            cluster.close()
        if bar is not None:
            bar.close()
        summary.wall_seconds = time.perf_counter() - t0
    return summary


def _no_cases(excluded: list[SkippedEntry]) -> str:
    if not excluded:
        return "no .npz challenge files in this folder"
    shown = "; ".join(str(e) for e in excluded[:3]) + ("; ..." if len(excluded) > 3 else "")
    return f"no usable .npz challenge files in this folder ({len(excluded)} not usable: {shown})"


def _prepare_output(out_dir: Path) -> Path:
    """Create ``out_dir`` and check, before any work, that predictions and the run log can be
    written there; OSErrors name the folder or file and say what is wrong."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "the output folder exists and is not a directory",
                                 str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:  # predictions are written as temp file + rename inside out_dir
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        raise type(e)(e.errno, f"the output folder is not writable ({e.strerror}); nothing was run",
                      str(out_dir)) from None
    log = out_dir / LOG_NAME
    try:  # an existing log must take appends (a new one can be made: the folder is writable)
        if os.path.lexists(log):
            with open(log, "a", encoding="utf-8"):
                pass
    except OSError as e:
        raise type(e)(e.errno, f"cannot write the run log ({e.strerror}); nothing was run",
                      str(log)) from None
    return log


def _log_row(summary: RunSummary, log: Path, row: CaseLog) -> None:
    """Append ``row`` to the run log; a log that stops being writable (disk full) is noted in
    ``summary.log_error`` once, and the run goes on (its predictions are still worth having)."""
    if summary.log_error is not None:
        return
    try:
        _append_log(log, row)
    except OSError as e:
        summary.log_error = (f"{log}: the run log could not be written ({e.strerror or e}); "
                             "rows from this one on are missing from it")


def dask_client(workers: int | None = None, scheduler: str | None = None):
    """``(client, cluster)``: a client of ``scheduler``, or of a new local cluster of ``workers``
    single-threaded processes bound to 127.0.0.1 without dashboard (cluster None when remote)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        address = check_scheduler_address(scheduler)
        try:  # the connect timeout is dask's (distributed.comm.timeouts.connect, 30 s)
            return Client(address), None
        except (OSError, ValueError, TimeoutError) as e:
            raise SchedulerError(address, f"cannot connect ({e})") from None
    if not workers or int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    # Loopback only, no dashboard; the scheduler's small HTTP endpoint gets a free loopback
    # port (never 0.0.0.0, never a fixed port that a second run would collide with).
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    return Client(cluster), cluster


def _iter_dask(pipeline, todo, out_dir: Path, opts: RunOptions):
    """Yield log rows as cases finish on a Dask cluster (local or remote)."""
    from dask.distributed import as_completed

    client, cluster = opts.client, None
    own = client is None
    if own:
        client, cluster = dask_client(opts.workers, opts.scheduler)
    threads = opts.threads
    if threads is None and not opts.scheduler:  # local cluster: share this machine's cores fairly
        n_workers = int(opts.workers or len(client.scheduler_info()["workers"]) or 1)
        threads = _threads.threads_per_worker(n_workers)
    futures = {}
    try:
        # One copy of the pipeline per worker, not one per task.
        pipe = client.scatter(pipeline, broadcast=True)
        for p, o in todo:
            fut = client.submit(task.run_case, pipe, str(p), str(o), overwrite=opts.overwrite,
                                n_threads=threads, pure=False,
                                key=f"classicseg-{case_stem(p)}-{os.getpid()}-{time.time_ns()}")
            futures[fut] = p
        for fut in as_completed(list(futures)):
            try:
                yield fut.result()
            except Exception as e:  # a worker died (e.g. out of memory): report the case, go on
                yield CaseLog.failure(futures[fut], pipeline.name, f"{type(e).__name__}: {e}",
                                      threads=threads)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()
        if cluster is not None:
            cluster.close()
        if not opts.scheduler:
            _remove_stale_temps(out_dir, [case_stem(p) for p, _ in todo])


def __getattr__(name):
    # 0.1 kept the per-case task here; it lives in pipeline.task now.
    if name == "run_case":
        warnings.warn("classicseg.pipeline.runner.run_case moved to "
                      "classicseg.pipeline.task.run_case; the old path goes away in classicseg 0.3",
                      DeprecationWarning, stacklevel=2)
        return task.run_case
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
