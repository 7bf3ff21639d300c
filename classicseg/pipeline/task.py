"""One case in, one prediction and one log row out: the unit of work of every runner.

:func:`run_case` is what a serial run, a Dask worker and a cold-start process all execute;
:class:`CaseLog` is its row of ``run_log.jsonl``. This module is the one place that builds a
log row, so every row -- a success, a bad case, a worker that died, a cold-start process
that crashed -- has the same columns.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from classicseg.io import Case, save_case
>>> from classicseg.pipeline.core import Pipeline
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> vol = np.zeros((6, 20, 20), np.uint8); vol[2:5, 5:12, 5:12] = 200
>>> case = Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 12, 12, 5]]))
>>> p = save_case(case, d / "3DBox_PET_0001.npz")
>>> log = run_case(Pipeline(), p, d / "out" / p.name)
>>> log.status, log.method, log.methods
('ok', 'ght', {'ght': 1})
>>> CaseLog.from_json(log.to_json()) == log
True
>>> CaseLog.failure(p, "paper", "worker died").status
'error'
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..io import load_case, save_prediction
from . import threads as _threads
from .core import model_load_count

__all__ = ["CaseLog", "run_case", "case_stem"]


def case_stem(path) -> str:
    """Case name of a challenge file: ``imgs/2DBox_US_0001.npz`` -> ``2DBox_US_0001``."""
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".npz") else Path(name).stem


@dataclass
class CaseLog:
    """One row of ``run_log.jsonl``: what happened to one case.

    Every row has every column; a column that does not apply (no route for a file that
    could not be read, no ``cold_seconds`` in a warm run) is None. The JSON keys are the
    attribute names.

    Attributes
    ----------
    name, file : str
        Case name (file stem) and file name.
    pipeline : str
        :attr:`Pipeline.name <classicseg.pipeline.core.Pipeline.name>`.
    status : {"ok", "error", "skipped"}
        ``"skipped"``: the input entry is no usable file (a broken link, a name clash); ``error``
        says why.
    modality, method, reason : str or None
        The route of the case (:class:`~classicseg.pipeline.router.Route`).
    methods : dict
        Method -> number of boxes it segmented.
    reasons : list of str
        The distinct per-box reasons.
    n_boxes : int or None
    shape : list of int or None
        Image shape.
    seconds : float or None
        Warm time of the segmentation (models loaded); ``read_seconds`` / ``write_seconds``
        are reading the case and writing the prediction.
    cold_seconds : float or None
        Wall time of a fresh process for this case (``cold=True`` runs only).
    error, where : str or None
        ``"Type: message"`` and ``file:line in function`` of a failure.
    warnings : list of str
        Distinct warnings raised while segmenting.
    host, pid, threads : str, int, int or None
        Where it ran and with how many threads.
    models_loaded : int or None
        Models the process had loaded after this case (1 per worker = loaded once).
    finished_unix : float or None
        ``time.time()`` when the row was made.
    backend, backend_reason : str or None
        LiteMedSAM cases: the backend and precision that ran (``"openvino fp32"``) and why
        (``--backend auto``: the parity verdict it rests on); None for other methods.
    """

    name: str
    file: str
    pipeline: str
    status: str = "error"
    modality: str | None = None
    method: str | None = None
    reason: str | None = None
    methods: dict = field(default_factory=dict)
    reasons: list = field(default_factory=list)
    n_boxes: int | None = None
    shape: list | None = None
    seconds: float | None = None
    read_seconds: float | None = None
    write_seconds: float | None = None
    error: str | None = None
    warnings: list = field(default_factory=list)
    host: str | None = None
    pid: int | None = None
    threads: int | None = None
    where: str | None = None
    models_loaded: int | None = None
    finished_unix: float | None = None
    cold_seconds: float | None = None
    backend: str | None = None
    backend_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The column names, in log order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def failure(cls, in_path, pipeline: str, error: str, *, status: str = "error",
                **columns) -> "CaseLog":
        """The row of a case whose run failed outside :func:`run_case` (a Dask worker died,
        a cold-start process crashed; ``status="skipped"``: an input entry that is no usable
        file); ``columns`` fill what is known."""
        in_path = Path(in_path)
        return cls(name=case_stem(in_path), file=in_path.name, pipeline=pipeline, status=status,
                   error=error, finished_unix=time.time(), **columns)

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        """One JSON line (no newline), keys = :meth:`columns`."""
        return json.dumps(self.as_dict(), default=str)

    @classmethod
    def from_json(cls, data) -> "CaseLog":
        """From :meth:`to_json`'s text or its dict; keys this version does not know are
        dropped, columns an older log lacks are None."""
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        known = set(cls.columns())
        return cls(**{k: v for k, v in data.items() if k in known})

    # Rows were dicts in 0.1; ``row["status"]`` keeps working for one release.
    def _legacy(self, key: str):
        warnings.warn(f"run log rows are CaseLog objects now: use row.{key}, not row[{key!r}] "
                      "(dict access goes away in classicseg 0.3)", DeprecationWarning, stacklevel=3)
        if key not in self.columns():
            raise KeyError(key)
        return getattr(self, key)

    def __getitem__(self, key: str):
        return self._legacy(key)

    def get(self, key: str, default=None):
        """Deprecated dict-style access (0.1 rows were dicts); use the attribute."""
        try:
            return self._legacy(key)
        except KeyError:
            return default


def _describe_error(e: Exception) -> str:
    """``"Type: message"`` of a failure; an OSError as ``Type: <file>: <reason>`` (not errno
    numbers and reprs)."""
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{type(e).__name__}: {e.filename}: {e.strerror}"
    return f"{type(e).__name__}: {e}"


def _summarize_boxes(res) -> tuple[dict, list[str]]:
    methods: dict[str, int] = {}
    reasons: list[str] = []
    for b in res.boxes:
        methods[b.method] = methods.get(b.method, 0) + 1
        if b.reason not in reasons:
            reasons.append(b.reason)
    return methods, reasons


def run_case(pipeline, in_path, out_path, *, overwrite: bool = False,
             n_threads: int | None = None) -> CaseLog:
    """Segment one file and write its prediction atomically.

    Parameters
    ----------
    pipeline : Pipeline
    in_path, out_path : path-like
        Challenge image file in, ``segs`` prediction out.
    overwrite : bool
        Replace an existing prediction.
    n_threads : int, optional
        Applied first, so parallel workers share the cores instead of oversubscribing them.

    Returns
    -------
    CaseLog
        Never raises for a bad case -- the error goes into the row -- except on
        KeyboardInterrupt.
    """
    if n_threads is not None and _threads.get_threads() != n_threads:
        _threads.set_threads(n_threads)
    in_path, out_path = Path(in_path), Path(out_path)
    log = CaseLog(name=case_stem(in_path), file=in_path.name, pipeline=pipeline.name,
                  host=socket.gethostname(), pid=os.getpid(), threads=_threads.get_threads())
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            case = load_case(in_path, modality=pipeline.modality)
            log.read_seconds = time.perf_counter() - t0
            log.modality, log.n_boxes = case.modality, case.n_boxes
            log.shape = list(case.image.shape)
            res = pipeline.segment(case)
            route = res.extra.get("route", {})
            log.method, log.reason = route.get("method"), route.get("reason")
            log.methods, log.reasons = _summarize_boxes(res)
            log.seconds = res.seconds
            if res.extra.get("backend"):  # LiteMedSAM ran: which backend, and why
                log.backend = f"{res.extra['backend']} {res.extra.get('precision', 'fp32')}"
                log.backend_reason = res.extra.get("backend_reason")
            t1 = time.perf_counter()
            save_prediction(out_path, res.segs, overwrite=overwrite)
            log.write_seconds = time.perf_counter() - t1
        log.warnings = sorted({str(w.message) for w in caught})
        log.status = "ok"
    except KeyboardInterrupt:
        raise
    except Exception as e:  # one bad case must never stop the run
        log.error = _describe_error(e)
        frame = traceback.extract_tb(e.__traceback__)[-1]  # where it broke, for the bug report
        log.where = f"{frame.filename}:{frame.lineno} in {frame.name}"
    log.models_loaded = model_load_count()
    log.finished_unix = time.time()
    return log
