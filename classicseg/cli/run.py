"""``classicseg run IN_DIR OUT_DIR``: the paper's pipeline on a directory of challenge files.

Writes ``OUT_DIR/<name>.npz`` (key ``segs``) per case and ``OUT_DIR/run_log.jsonl``; resumable
(existing predictions are skipped unless ``--overwrite``); a bad case is reported and skipped.
Examples::

    classicseg run imgs/ preds/                       # the paper's router
    classicseg run imgs/ preds/ --mode baseline       # LiteMedSAM everywhere (the comparison)
    classicseg run imgs/ preds/ --s CT=2 --s MR=4     # other slice steps
    classicseg run imgs/ preds/ --method OCT=mobileunet --postprocess off
    classicseg run imgs/ preds/ --workers 4           # local Dask cluster
    classicseg run imgs/ preds/ --cold                # one process per case (challenge timing)

Top-level imports are light (no torch, no dask): ``classicseg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

_METHOD_CHOICES = ("auto", "medsam", "litemedsam", "ght", "kmeans", "threshold", "mobileunet")


def _key_values(values, what: str, convert):
    """``["3"]`` -> 3; ``["CT=3", "MR=2"]`` -> {"CT": 3, "MR": 2}; modality names canonicalised."""
    from ..io import MODALITIES, parse_modality

    if not values:
        return None
    plain = [v for v in values if "=" not in v]
    pairs = [v for v in values if "=" in v]
    if plain and (pairs or len(plain) > 1):
        raise argparse.ArgumentTypeError(f"--{what}: give one value for all modalities or MODALITY=VALUE pairs, "
                                         f"not both ({values})")
    if plain:
        return convert(plain[0])
    out = {}
    for v in pairs:
        k, _, val = v.partition("=")
        mod = k if k in MODALITIES else parse_modality(f"2DBox_{k}_0.npz")
        if mod is None:
            raise argparse.ArgumentTypeError(f"--{what} {v}: unknown modality {k!r}; use one of {MODALITIES}")
        out[mod] = convert(val)
    return out


def _method(value: str) -> str:
    if value.lower() not in _METHOD_CHOICES:
        raise argparse.ArgumentTypeError(f"unknown method {value!r}; choose from {_METHOD_CHOICES}")
    return value.lower()


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def add_pipeline_arguments(parser) -> None:
    """Options that choose and tune the pipeline (shared by ``run`` and ``compare``)."""
    g = parser.add_argument_group("pipeline")
    g.add_argument("--method", action="append", metavar="METHOD|MODALITY=METHOD",
                   help=f"force a method ({', '.join(_METHOD_CHOICES)}) for every case, or per modality "
                        "(repeatable, e.g. --method OCT=mobileunet); default auto = the paper's router")
    g.add_argument("--s", action="append", metavar="S|MODALITY=S",
                   help="LiteMedSAM slice step on 3D cases (paper: CT=3, MR=3); one number for all or "
                        "per modality, repeatable")
    g.add_argument("--postprocess", choices=("auto", "on", "off", "none", "box", "lcc", "full"), default="auto",
                   help="auto: the paper's choice per method (default); none / box (zero outside the box) / "
                        "lcc (+ largest component) / full (+ fill holes) for every method; on = full, off = none")
    g.add_argument("--modality", help="modality for files whose name does not tell it (overrides the name)")
    g.add_argument("--crop", action="store_true", help="LiteMedSAM crop-then-infer around each box")
    g.add_argument("--weights", help="LiteMedSAM checkpoint (default: the verified shipped one)")
    g.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="LiteMedSAM backend")


def add_execution_arguments(parser) -> None:
    """Options that choose how cases are executed (shared by ``run`` and ``compare``)."""
    g = parser.add_argument_group("execution")
    g.add_argument("--workers", type=_positive_int, help="run cases in parallel on a local Dask cluster")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="existing Dask scheduler (tcp://host:8786); paths must be shared with the workers")
    g.add_argument("--threads", type=_positive_int,
                   help="threads per case for torch/OpenCV/BLAS (default: all cores, or cores // workers)")
    g.add_argument("--cold", action="store_true",
                   help="also time each case in a fresh process (imports + model loading, as the challenge does)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def options_from_args(args):
    """The :class:`~classicseg.pipeline.runner.RunOptions` of parsed execution arguments
    (ValueError for contradicting ones, e.g. ``--cold`` with ``--workers``)."""
    from ..pipeline.runner import RunOptions

    if args.cold and (args.workers or args.scheduler):
        raise ValueError("--cold runs one process per case serially; drop --workers/--scheduler")
    return RunOptions(overwrite=args.overwrite, workers=args.workers, scheduler=args.scheduler,
                      threads=args.threads, cold=args.cold, progress=not args.no_progress)


def pipeline_from_args(args, *, mode: str | None = None):
    """Build a :class:`~classicseg.pipeline.core.Pipeline` from parsed arguments."""
    from ..pipeline.core import Models, Pipeline

    mode = mode or getattr(args, "mode", "paper")
    models = Models(weights=args.weights, backend=args.backend)
    if mode == "baseline":
        return Pipeline(mode="baseline", modality=args.modality, crop=args.crop, models=models)
    method = _key_values(args.method, "method", _method) or "auto"
    s = _key_values(args.s, "s", _positive_int)
    pp = {"auto": None, "on": "full", "off": "none"}.get(args.postprocess, args.postprocess)
    return Pipeline(mode="paper", method=method, s=s, postprocess=pp, modality=args.modality, crop=args.crop,
                    models=models)


def configure(parser) -> None:
    parser.add_argument("in_dir", help="folder of challenge image files (2DBox_*.npz / 3DBox_*.npz)")
    parser.add_argument("out_dir", help="folder for the predictions (<name>.npz, key 'segs') and run_log.jsonl")
    parser.add_argument("--mode", choices=("paper", "baseline"), default="paper",
                        help="paper: the paper's router (default); baseline: LiteMedSAM everywhere, every "
                             "slice, no post-processing")
    parser.add_argument("--overwrite", action="store_true", help="re-predict cases that already have a prediction")
    add_pipeline_arguments(parser)
    add_execution_arguments(parser)


def run(args) -> int:
    from ..pipeline.runner import run_directory

    in_dir = Path(args.in_dir)
    if not in_dir.is_dir():
        print(f"classicseg run: {in_dir}: not a directory", file=sys.stderr)
        return 2
    if (in_dir / "imgs").is_dir() and not any(in_dir.glob("*.npz")):
        in_dir = in_dir / "imgs"  # the data_samples/ layout
    try:
        pipeline = pipeline_from_args(args)
        options = options_from_args(args)
    except (ValueError, argparse.ArgumentTypeError) as e:
        print(f"classicseg run: {e}", file=sys.stderr)
        return 2
    summary = run_directory(in_dir, args.out_dir, pipeline, options=options)
    print(summary)
    print(f"run log: {Path(args.out_dir) / 'run_log.jsonl'}")
    return 0 if not summary.errors else 1
