"""pytest plugin: keep the notebook executions nbval does anyway, and measure them.

``make test`` runs every lesson under nbval (``--nbval-lax``). Each executed cell's outputs
(``IPyNbCell.test_outputs``) are collected here and, at session end, written as
``build/executed/<name>.ipynb`` -- the lesson with its outputs, which ``make book`` renders
without executing anything again -- plus ``build/executed/timings.json``:

``{"<name>": {"wall_s", "cells_s", "slowest_cell", "slowest_cell_s", "peak_rss_bytes",
"peak_rss_mib", "cells_run", "cells_total", "complete", "failed_cells", "measured_at"}}``

* ``wall_s``: first cell's set-up (kernel start included) to the last cell's teardown;
* ``peak_rss_bytes``: the largest RSS of the kernel process plus its descendants alive at
  once, sampled with psutil every 0.1 s from a thread (the kernel pid comes from nbval's
  ``RunningKernel.km.provisioner``);
* ``complete``: every code cell of the notebook ran (a ``-k`` selection gives a partial copy).

Entries of notebooks not run in this session are kept, so two partial runs add up. Without
nbval items in the session the plugin writes nothing. Numbers are reported, never asserted
(issue 15 part 6: every notebook under 90 s and 1.5 GB). Registered by the root ``conftest.py``.
Output folder: ``$CLASSICSEG_EXECUTED_DIR`` or ``build/executed`` under the pytest rootdir.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

#: How often the kernel's memory is sampled (seconds).
SAMPLE_EVERY_S = 0.1


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def _kernel_pid(nbfile) -> int | None:
    """The kernel process id of an nbval ``IPyNbFile`` (None before its kernel starts)."""
    km = getattr(getattr(nbfile, "kernel", None), "km", None)
    prov = getattr(km, "provisioner", None)
    pid = getattr(prov, "pid", None) or getattr(getattr(prov, "process", None), "pid", None)
    return int(pid) if pid else None


class _RssSampler(threading.Thread):
    """Peak RSS of one process tree, sampled until :meth:`stop` (psutil)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True, name=f"nbcapture-rss-{pid}")
        self.pid, self.peak = pid, 0
        self._halt = threading.Event()

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass  # a child that just ended
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(SAMPLE_EVERY_S)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=2)
        return self.peak


class _Notebook:
    """What one notebook's nbval run produced."""

    def __init__(self, nbfile):
        self.nbfile = nbfile
        self.path = Path(str(nbfile.fspath))
        self.start = time.perf_counter()
        self.end = self.start
        self.outputs: dict[int, list] = {}   # code-cell index -> outputs
        self.counts: dict[int, int] = {}     # code-cell index -> execution count
        self.seconds: dict[int, float] = {}
        self.failed: list[int] = []
        self.sampler: _RssSampler | None = None
        self.peak = 0

    def watch_kernel(self) -> None:
        if self.sampler is None:
            pid = _kernel_pid(self.nbfile)
            if pid is not None:
                self.sampler = _RssSampler(pid)
                self.sampler.sample()
                self.sampler.start()

    def stop(self) -> None:
        if self.sampler is not None and self.sampler.is_alive():
            self.peak = max(self.peak, self.sampler.stop())


def _as_output(out, count: int):
    """nbval's raw output node -> a valid nbformat v4 output."""
    from nbformat.v4 import new_output

    kind = out.get("output_type")
    if kind == "stream":
        return new_output("stream", name=out.get("name", "stdout"), text=out.get("text", ""))
    if kind == "error":
        return new_output("error", ename=out.get("ename", ""), evalue=out.get("evalue", ""),
                          traceback=list(out.get("traceback", [])))
    if kind == "execute_result":
        return new_output("execute_result", data=dict(out.get("data", {})),
                          metadata=dict(out.get("metadata", {})), execution_count=count)
    return new_output("display_data", data=dict(out.get("data", {})),
                      metadata=dict(out.get("metadata", {})))


class NotebookCapture:
    """The plugin object: one per session (see the module docstring)."""

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.notebooks: dict[str, _Notebook] = {}

    def _record(self, item) -> _Notebook:
        key = str(item.parent.fspath)
        if key not in self.notebooks:
            self.notebooks[key] = _Notebook(item.parent)
        return self.notebooks[key]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if not _is_nbval_cell(item):
            yield
            return
        rec = self._record(item)
        yield
        rec.end = time.perf_counter()
        if nextitem is None or getattr(nextitem, "parent", None) is not item.parent:
            rec.stop()  # the kernel has been shut down in this item's teardown

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        if not _is_nbval_cell(item):
            yield
            return
        rec = self._record(item)
        rec.watch_kernel()  # the kernel starts in the notebook's set-up, before the first call
        t0 = time.perf_counter()
        outcome = yield
        rec.seconds[item.cell_num] = time.perf_counter() - t0
        count = len(rec.counts) + 1
        rec.counts[item.cell_num] = count
        if item.test_outputs is not None:
            rec.outputs[item.cell_num] = [_as_output(o, count) for o in item.test_outputs]
        if outcome.excinfo is not None and outcome.excinfo[0] is not pytest.skip.Exception:
            rec.failed.append(item.cell_num)

    def pytest_sessionfinish(self, session):
        if not self.notebooks:
            return  # no nbval in this session: nothing to write
        from classicseg.io import atomic_write

        timings_path = self.out_dir / "timings.json"
        try:
            timings = json.loads(timings_path.read_text())
        except (OSError, ValueError):
            timings = {}
        for rec in self.notebooks.values():
            rec.stop()
            nb, n_code = self._executed(rec)
            name = rec.path.stem
            atomic_write(self.out_dir / f"{name}.ipynb",
                         lambda f, nb=nb: f.write(_dumps(nb).encode()), overwrite=True)
            slowest = max(rec.seconds, key=rec.seconds.get) if rec.seconds else None
            timings[name] = {
                "wall_s": round(rec.end - rec.start, 2),
                "cells_s": round(sum(rec.seconds.values()), 2),
                "slowest_cell": slowest,
                "slowest_cell_s": round(rec.seconds[slowest], 2) if slowest is not None else None,
                "peak_rss_bytes": rec.peak,
                "peak_rss_mib": round(rec.peak / 2**20, 1),
                "cells_run": len(rec.seconds),
                "cells_total": n_code,
                "complete": len(rec.seconds) == n_code,
                "failed_cells": sorted(rec.failed),
                "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        atomic_write(timings_path,
                     lambda f: f.write((json.dumps(timings, indent=2, sort_keys=True)
                                        + "\n").encode()), overwrite=True)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"nbcapture: {len(self.notebooks)} executed notebook(s) and "
                                f"timings -> {self.out_dir}")

    @staticmethod
    def _executed(rec: _Notebook):
        """A copy of the notebook nbval read, with the captured outputs put in."""
        nb = copy.deepcopy(rec.nbfile.nb)
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        for i, cell in enumerate(code_cells):
            cell.outputs = rec.outputs.get(i, [])
            cell.execution_count = rec.counts.get(i)
        return nb, len(code_cells)


def _dumps(nb) -> str:
    import nbformat

    return nbformat.writes(nb, version=4)


def pytest_configure(config):
    if getattr(config.option, "collectonly", False):
        return
    out = os.environ.get("CLASSICSEG_EXECUTED_DIR") or config.rootpath / "build" / "executed"
    config.pluginmanager.register(NotebookCapture(Path(out)), "classicseg-nbcapture")


#: Issue 15 part 6: what one lesson may take on 2 CPU cores (reported, never asserted).
BUDGET_S, BUDGET_BYTES, SUITE_BUDGET_S = 90.0, 1.5e9, 480.0


def summary(timings: dict) -> str:
    """A plain-text table of ``timings.json``, heaviest last, with the lesson budgets flagged.

    >>> print(summary({"00_tour": {"wall_s": 37.6, "peak_rss_bytes": 668241920,
    ...                            "slowest_cell": 11, "slowest_cell_s": 20.8,
    ...                            "complete": True}}))  # doctest: +NORMALIZE_WHITESPACE
    notebook  wall_s  peak_MiB  slowest_cell  flags
    00_tour     37.6     637.3   11 (20.8 s)
    total       37.6 s for 1 notebook(s) (suite budget 480 s)
    """
    rows = [("notebook", "wall_s", "peak_MiB", "slowest_cell", "flags")]
    items = sorted(timings.items(), key=lambda kv: kv[1].get("peak_rss_bytes", 0))
    for name, t in items:
        flags = [f for f, bad in (("partial", not t.get("complete")),
                                  (">90s", t.get("wall_s", 0) > BUDGET_S),
                                  (">1.5GB", t.get("peak_rss_bytes", 0) > BUDGET_BYTES),
                                  ("FAILED", bool(t.get("failed_cells")))) if bad]
        rows.append((name, f"{t.get('wall_s', 0):.1f}", f"{t.get('peak_rss_bytes', 0) / 2**20:.1f}",
                     f"{t.get('slowest_cell')} ({t.get('slowest_cell_s', 0):.1f} s)",
                     " ".join(flags)))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([r[0].ljust(width[0])] + [r[i].rjust(width[i]) for i in (1, 2)]
                       + [r[3].rjust(width[3]), r[4]]).rstrip() for r in rows]
    total = sum(t.get("wall_s", 0) for _, t in items)
    lines.append(f"total {total:.1f} s for {len(items)} notebook(s) "
                 f"(suite budget {SUITE_BUDGET_S:.0f} s)")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    path = Path(sys.argv[1] if len(sys.argv) > 1 else "build/executed/timings.json")
    if not path.is_file():
        print(f"no {path}: run the notebooks under pytest first (make test)")
        sys.exit(0)
    print(summary(json.loads(path.read_text())))
