"""Cold-start timing as the challenge measures it: one fresh process per case.

The challenge timed one container run per case, so Python start-up, imports and model
loading count. ``python -m classicseg.pipeline.coldstart IN.npz OUT.npz --options JSON``
segments one case in a new interpreter (:func:`~classicseg.pipeline.task.run_case`) and
prints its :class:`~classicseg.pipeline.task.CaseLog` as the last stdout line; :func:`run_cold`
starts that process and adds ``cold_seconds`` (its whole wall time) next to the in-process
(warm) ``seconds``.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from classicseg.io import Case, save_case
>>> from classicseg.pipeline.core import Pipeline
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> vol = np.zeros((6, 20, 20), np.uint8); vol[2:5, 5:12, 5:12] = 200
>>> p = save_case(Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 12, 12, 5]])),
...               d / "3DBox_PET_0001.npz")
>>> log = run_cold(Pipeline(), p, d / "out" / p.name)
>>> log.status, log.cold_seconds > log.seconds
('ok', True)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from . import threads
from .core import Models, Pipeline
from .task import CaseLog, run_case

__all__ = ["run_cold", "pipeline_from_options"]


def _options(pipeline) -> dict:
    if type(pipeline.models) is not Models:
        raise ValueError("cold-start timing rebuilds the pipeline in a new process and needs the "
                         "default model provider (classicseg.pipeline.core.Models), "
                         f"not {type(pipeline.models).__name__}")
    m = pipeline.models
    return {**pipeline.options(),
            "models": {"weights": m.weights, "backend": m.backend, "optimize": m.optimize,
                       "device": m.device,
                       "warmup": False}}  # a challenge container gets no warm-up pass either


def pipeline_from_options(options: dict):
    """Rebuild a :class:`~classicseg.pipeline.core.Pipeline` from :meth:`Pipeline.options`."""
    opts = dict(options)
    models = Models(**opts.pop("models", {}))
    return Pipeline(models=models, **opts)


def run_cold(pipeline, in_path, out_path, *, overwrite: bool = False, n_threads: int | None = None,
             timeout: float | None = None) -> CaseLog:
    """Segment one case in a fresh ``python`` process; the row's ``cold_seconds`` is the
    process's wall time (start-up, imports, model loading, reading, segmenting, writing)."""
    cmd = [sys.executable, "-m", "classicseg.pipeline.coldstart", str(in_path), str(out_path),
           "--options", json.dumps(_options(pipeline))]
    if overwrite:
        cmd.append("--overwrite")
    if n_threads is not None:
        cmd += ["--threads", str(int(n_threads))]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    cold = time.perf_counter() - t0
    lines = proc.stdout.strip().splitlines()
    try:
        log = CaseLog.from_json(lines[-1])
    except (IndexError, ValueError, TypeError, AttributeError):  # no row: the process crashed
        error = f"cold-start process exited with {proc.returncode}: {proc.stderr.strip()[-500:]}"
        log = CaseLog.failure(in_path, pipeline.name, error, threads=n_threads)
    log.cold_seconds = cold
    return log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m classicseg.pipeline.coldstart",
        description="Segment one challenge file in this (fresh) process.")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--options", default="{}", help="JSON from Pipeline.options()")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads.set_threads(args.threads)
    log = run_case(pipeline_from_options(json.loads(args.options)), args.input, args.output,
                   overwrite=args.overwrite)
    print(log.to_json())
    return 0 if log.ok else 1


if __name__ == "__main__":  # pragma: no cover - exercised through run_cold
    sys.exit(main())
