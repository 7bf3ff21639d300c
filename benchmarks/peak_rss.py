"""Peak memory and run time of each notebook, as a student's kernel would see them.

Executes every notebook with nbclient in a fresh ``python3`` kernel (all cells, in order), then
asks that same kernel for its peak resident set size (``getrusage``: the kernel itself, and the
largest child process it started, e.g. a CLI run or a dask worker); a sampler (psutil, every
0.2 s) also records the largest sum over the kernel and its descendants alive at once.
mybinder.org gives about 2 GB per user; the Jupyter server and the browser tab's kernel
connection add roughly 150 MB on top of the kernel (measure it with ``--server`` below on the
real image if it matters).

Usage::

    .venv/bin/python benchmarks/peak_rss.py                  # notebooks/[0-9][0-9]_*.(ipynb|py)
    .venv/bin/python benchmarks/peak_rss.py notebooks/03_pet.ipynb tests/browser_nb/box_demo.py
    .venv/bin/python benchmarks/peak_rss.py --json reports/peak_rss.json

``.py`` files are read as jupytext percent notebooks. Output: one line per notebook with the
wall time, the slowest cell and the peak RSS in MiB; the heaviest notebook last.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import json as _json, resource as _resource, sys as _sys
_self = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
_kids = _resource.getrusage(_resource.RUSAGE_CHILDREN).ru_maxrss
_scale = 1 if _sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
print("PEAK_RSS " + _json.dumps({"self": _self * _scale, "children": _kids * _scale}))
"""


def _read(path: Path):
    import nbformat

    if path.suffix == ".py":
        import jupytext

        return jupytext.read(path, fmt="py:percent")
    return nbformat.read(path, as_version=4)


def _cell_seconds(cell) -> float | None:
    t = cell.get("metadata", {}).get("execution", {})
    a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (a and b):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def measure(path: Path, *, timeout: int = 1800, skip_tag: str | None = None) -> dict:
    """Run one notebook in a fresh kernel; return wall time, slowest cell and peak RSS (bytes)."""
    import nbformat
    from nbclient import NotebookClient

    nb = _read(path)
    if skip_tag:
        nb.cells = [c for c in nb.cells if skip_tag not in c.get("metadata", {}).get("tags", [])]
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    sampler = _TreeSampler(client)
    sampler.start()
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        sampler.stop()
    wall = time.perf_counter() - t0
    probe = None
    for out in nb.cells[-1].get("outputs", []):
        text = out.get("text", "")
        if text.startswith("PEAK_RSS "):
            probe = json.loads(text.split(" ", 1)[1])
    if probe is None:
        raise RuntimeError(f"{path}: the memory probe cell printed nothing")
    timed = [(s, i) for i, c in enumerate(nb.cells[:-1]) if c.cell_type == "code"
             for s in [_cell_seconds(c)] if s is not None]
    slowest = max(timed) if timed else (None, None)
    return {"notebook": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
            "seconds": round(wall, 1),
            "slowest_cell_seconds": None if slowest[0] is None else round(slowest[0], 1),
            "slowest_cell_index": slowest[1], "peak_rss_bytes": probe["self"],
            "peak_rss_children_bytes": probe["children"], "peak_tree_rss_bytes": sampler.peak}


class _TreeSampler(threading.Thread):
    """Samples the summed RSS of the kernel and all its descendants (what a 2 GB limit sees at
    once); getrusage gives exact per-process peaks but cannot add up processes alive together."""

    def __init__(self, client, interval: float = 0.2):
        super().__init__(daemon=True)
        self.client, self.interval, self.peak = client, interval, 0
        self._halt = threading.Event()

    def _kernel_pid(self):
        km = getattr(self.client, "km", None)
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    def run(self):
        import psutil

        root = None
        while not self._halt.wait(self.interval):
            try:
                if root is None:
                    pid = self._kernel_pid()
                    if pid is None:
                        continue
                    root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                root = None  # kernel gone (or restarted): look it up again

    def stop(self):
        self._halt.set()
        self.join(timeout=5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--json", type=Path, help="also write the results to this file")
    ap.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    ap.add_argument("--skip-tag", default=None,
                    help="leave out cells with this tag (e.g. nbval-skip)")
    args = ap.parse_args(argv)
    paths = args.notebooks
    if not paths:
        nbdir = REPO / "notebooks"
        found = {p.stem: p for p in sorted(nbdir.glob("[0-9][0-9]_*.py"))}
        found.update({p.stem: p for p in sorted(nbdir.glob("[0-9][0-9]_*.ipynb"))})  # prefer .ipynb
        paths = [found[k] for k in sorted(found)]
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 2
    rows = []
    for p in paths:
        p = p.resolve()
        try:
            row = measure(p, timeout=args.timeout, skip_tag=args.skip_tag)
        except Exception as exc:  # report and go on: one broken notebook must not hide the others
            print(f"{p.name}: FAILED ({type(exc).__name__}: {str(exc)[:300]})", flush=True)
            rows.append({"notebook": str(p), "error": f"{type(exc).__name__}: {exc}"[:2000]})
            continue
        rows.append(row)
        mib = row["peak_rss_bytes"] / 2**20
        kids = row["peak_rss_children_bytes"] / 2**20
        print(f"{row['notebook']}: {row['seconds']:.1f} s "
              f"(slowest cell #{row['slowest_cell_index']}: "
              f"{row['slowest_cell_seconds']} s), kernel peak RSS {mib:.0f} MiB"
              + (f", largest child {kids:.0f} MiB" if kids else "")
              + f", kernel + children together {row['peak_tree_rss_bytes'] / 2**20:.0f} MiB "
              "(sampled)", flush=True)
    ok = [r for r in rows if "error" not in r]
    if ok:
        def peak(r):
            return max(r["peak_rss_bytes"], r["peak_rss_children_bytes"], r["peak_tree_rss_bytes"])

        top = max(ok, key=peak)
        print(f"heaviest: {top['notebook']} peak RSS {peak(top) / 2**20:.0f} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"python": sys.version.split()[0], "rows": rows}, indent=1))
    return 1 if len(ok) < len(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
