"""``classicseg run IN_DIR OUT_DIR``: the paper's pipeline on a directory of challenge files.

Writes ``OUT_DIR/<name>.npz`` (key ``segs``) per case and ``OUT_DIR/run_log.jsonl``; resumable
(existing predictions are skipped unless ``--overwrite``); a bad case is reported and skipped,
and so is every ``*.npz`` entry that is no usable file (broken link, name clash). Exit status:
0 all predicted, 1 some cases failed or were not usable, 2 a usage or input error (nothing
run; the message names the argument or file). Examples::

    classicseg run imgs/ preds/                       # the paper's router
    classicseg run imgs/ preds/ --mode baseline       # LiteMedSAM everywhere (the comparison)
    classicseg run imgs/ preds/ --s CT=2 --s MR=4     # other slice steps
    classicseg run imgs/ preds/ --s adaptive          # adaptive slices, passes of s = 3
    classicseg run imgs/ preds/ --method OCT=mobileunet --postprocess off
    classicseg run imgs/ preds/ --method grabcut      # a classical box-prompted method
    classicseg run imgs/ preds/ --workers 4           # local Dask cluster
    classicseg run imgs/ preds/ --cold                # one process per case (challenge timing)

Top-level imports are light (no torch, no dask): ``classicseg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import CommandError
from ._checks import input_dir, output_dir, positive_int

#: ``--method`` values: the router's METHODS (kept literal so ``--help`` imports no pipeline;
#: tests/methods/test_toolbox_registration.py checks they agree); ``_`` may stand for ``-``.
_METHOD_CHOICES = ("auto", "medsam", "litemedsam", "ght", "kmeans", "threshold", "mobileunet",
                   "grabcut", "random-walker", "geodesic-contour", "chan-vese", "watershed",
                   "flood", "pixel-classifier", "sklearn-kmeans", "gmm")

# Kept for the other command modules (0.1 imported it from here).
_positive_int = positive_int


def _split_modality(value: str) -> tuple[str | None, str]:
    """``"CT=3"`` -> ("CT", "3"), ``"3"`` -> (None, "3"); ArgumentTypeError for an unknown
    modality (aliases such as ``mri`` are canonicalised)."""
    if "=" not in value:
        return None, value
    k, _, val = value.partition("=")
    mod = _canonical_modality(k)
    if mod is None:
        raise argparse.ArgumentTypeError(f"unknown modality {k!r} in {value!r}; use one of "
                                         f"{', '.join(_modalities())}")
    return mod, val


def _modalities() -> tuple[str, ...]:
    from ..io import MODALITIES

    return MODALITIES


def _canonical_modality(name: str) -> str | None:
    """``"mri"`` -> ``"MR"`` (the aliases file names use); None for an unknown name."""
    from ..io import parse_modality

    return name if name in _modalities() else parse_modality(f"2DBox_{name}_0.npz")


def _method(value: str) -> str:
    if value.lower().replace("_", "-") not in _METHOD_CHOICES:
        raise argparse.ArgumentTypeError(f"unknown method {value!r}; choose from "
                                         f"{', '.join(_METHOD_CHOICES)}")
    return value.lower().replace("_", "-")


def _slice_step(value: str):
    """``--s`` value: a positive integer, ``adaptive`` or ``adaptive:S`` (adaptive slices with
    the pass budget of uniform S; docs/algorithms.md §15.1)."""
    if value.strip().lower().startswith("adaptive"):
        from ..models.litemedsam.slice_selection import parse_slice_plan  # torch-free

        try:
            plan = parse_slice_plan(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return "adaptive" if plan.s == 3 else f"adaptive:{plan.s}"
    return positive_int(value)


def _keyed(convert):
    """argparse type for ``VALUE`` or ``MODALITY=VALUE``: checks both parts at parse time (so
    argparse names the option in its message) and returns the text, combined later."""
    def check(value: str) -> str:
        _, val = _split_modality(value)
        convert(val)
        return value
    check.__name__ = convert.__name__.lstrip("_")  # argparse shows it in "invalid ... value"
    return check


def _key_values(values, what: str, convert):
    """``["3"]`` -> 3; ``["CT=3", "MR=2"]`` -> {"CT": 3, "MR": 2}; modality names canonicalised."""
    if not values:
        return None
    plain = [v for v in values if "=" not in v]
    if plain and len(plain) != len(values) or len(plain) > 1:
        raise CommandError(f"--{what}", "give one value for all modalities or MODALITY=VALUE "
                                        f"pairs, not both ({' '.join(values)})")
    if plain:
        return convert(plain[0])
    out = {}
    for v in values:
        mod, val = _split_modality(v)
        out[mod] = convert(val)
    return out


def add_pipeline_arguments(parser) -> None:
    """Options that choose and tune the pipeline (shared by ``run`` and ``compare``)."""
    g = parser.add_argument_group("pipeline")
    g.add_argument("--method", action="append", metavar="METHOD|MODALITY=METHOD",
                   type=_keyed(_method),
                   help=f"force a method ({', '.join(_METHOD_CHOICES)}) for every case, or per "
                        f"modality "
                        "(repeatable, e.g. --method OCT=mobileunet); default auto = the paper's "
                        "router")
    g.add_argument("--s", action="append", metavar="S|MODALITY=S", type=_keyed(_slice_step),
                   help="LiteMedSAM slice step on 3D cases (paper: CT=3, MR=3); one number for all "
                        "or "
                        "per modality, repeatable; 'adaptive' (or adaptive:S) chooses the slices "
                        "from the predictions within the passes of uniform s = 3 (S)")
    # default None, not "auto": a --postprocess that was given can be told from the default
    g.add_argument("--postprocess", choices=("auto", "on", "off", "none", "box", "lcc", "full"),
                   help="auto: the paper's choice per method (default); none / box (zero outside "
                        "the box) / "
                        "lcc (+ largest component) / full (+ fill holes) for every method; on = "
                        "full, off = none")
    g.add_argument("--modality",
                   help="modality for files whose name does not tell it (overrides the name)")
    g.add_argument("--crop", action="store_true", help="LiteMedSAM crop-then-infer around each box")
    g.add_argument("--weights", help="LiteMedSAM checkpoint (default: the verified shipped one)")
    g.add_argument("--backend", choices=("auto", "openvino", "onnx", "torch"), default="auto",
                   help="LiteMedSAM backend: auto (default) = the fastest installed one whose "
                        "parity with the official outputs holds (openvino > onnx > torch); the "
                        "run log says which ran and why")


def add_execution_arguments(parser) -> None:
    """Options that choose how cases are executed (shared by ``run`` and ``compare``)."""
    g = parser.add_argument_group("execution")
    g.add_argument("--workers", type=positive_int,
                   help="run cases in parallel on a local Dask cluster")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="existing Dask scheduler (tcp://host:8786); paths must be shared with the "
                        "workers")
    g.add_argument("--threads", type=positive_int,
                   help="threads per case for torch/OpenCV/BLAS (default: all cores, or cores // "
                        "workers)")
    g.add_argument("--cold", action="store_true",
                   help="also time each case in a fresh process (imports + model loading, as the "
                        "challenge does)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_weights(value) -> Path:
    """``--weights``: an existing file with the official LiteMedSAM SHA-256, checked before any
    case runs (and before torch reads a byte of it)."""
    from ..models.litemedsam.weights import LITEMEDSAM_BYTES, LITEMEDSAM_SHA256, sha256_file

    p = Path(value).expanduser()
    if not p.is_file():
        raise CommandError(f"--weights {p}", "no such file" if not p.exists() else
                           "not a regular file")
    digest = sha256_file(p)
    if digest != LITEMEDSAM_SHA256:
        raise CommandError(f"--weights {p}", f"not the official LiteMedSAM checkpoint (SHA-256 "
                                             f"{digest[:16]}..., {p.stat().st_size:,} bytes; "
                                             f"expected {LITEMEDSAM_SHA256[:16]}..., "
                                             f"{LITEMEDSAM_BYTES:,} bytes): the file is "
                                             "truncated, corrupt or another model")
    return p


def options_from_args(args):
    """The :class:`~classicseg.pipeline.runner.RunOptions` of parsed execution arguments
    (CommandError for contradicting or malformed ones, e.g. ``--cold`` with ``--workers``)."""
    from ..pipeline.runner import RunOptions, check_scheduler_address

    if args.cold and (args.workers or args.scheduler):
        raise CommandError("--cold", "runs one process per case serially; drop "
                                     "--workers/--scheduler")
    if args.workers and args.scheduler:
        raise CommandError("--workers", "starts a local cluster; drop it or --scheduler")
    if args.scheduler is not None:
        try:
            check_scheduler_address(args.scheduler)
        except ValueError as e:
            raise CommandError(f"--scheduler {args.scheduler}", str(e).split(": ", 1)[-1]) from None
    return RunOptions(overwrite=args.overwrite, workers=args.workers, scheduler=args.scheduler,
                      threads=args.threads, cold=args.cold, progress=not args.no_progress)


def run_with_scheduler_errors(args, call):
    """``call()``, with an unreachable ``--scheduler`` reported as a usage error naming it."""
    from ..pipeline.runner import SchedulerError

    try:
        return call()
    except SchedulerError as e:
        raise CommandError(f"--scheduler {args.scheduler}", e.problem) from None


def pipeline_from_args(args, *, mode: str | None = None):
    """Build a :class:`~classicseg.pipeline.core.Pipeline` from parsed arguments."""
    from ..pipeline.core import Models, Pipeline

    mode = mode or getattr(args, "mode", "paper")
    if args.weights is not None:
        check_weights(args.weights)
    if args.modality is not None and _canonical_modality(args.modality) is None:
        raise CommandError(f"--modality {args.modality}", f"unknown modality; use one of "
                                                          f"{', '.join(_modalities())}")
    models = Models(weights=args.weights, backend=args.backend)
    if mode == "baseline":
        return Pipeline(mode="baseline", modality=args.modality, crop=args.crop, models=models)
    method = _key_values(args.method, "method", _method) or "auto"
    s = _key_values(args.s, "s", _slice_step)
    pp = {None: None, "auto": None, "on": "full", "off": "none"}.get(args.postprocess,
                                                                     args.postprocess)
    return Pipeline(mode="paper", method=method, s=s, postprocess=pp, modality=args.modality,
                    crop=args.crop, models=models)


def configure(parser) -> None:
    parser.add_argument("in_dir",
                        help="folder of challenge image files (2DBox_*.npz / 3DBox_*.npz)")
    parser.add_argument("out_dir",
                        help="folder for the predictions (<name>.npz, key 'segs') and "
                             "run_log.jsonl")
    parser.add_argument("--mode", choices=("paper", "baseline"), default="paper",
                        help="paper: the paper's router (default); baseline: LiteMedSAM "
                             "everywhere, every "
                             "slice, no post-processing")
    parser.add_argument("--overwrite", action="store_true",
                        help="re-predict cases that already have a prediction")
    add_pipeline_arguments(parser)
    add_execution_arguments(parser)


def _unprefixed(warning: str, row) -> str:
    """A case's warning without the file path or case name it may start with (printed first)."""
    for prefix in (f"{row.file}: ", f"{row.name}: "):
        warning = warning.split(prefix, 1)[-1] if prefix in warning[:300] else warning
    return warning


def _baseline_conflicts(args) -> list[str]:
    """The paper-pipeline options given with ``--mode baseline`` (which has no router)."""
    given = {"--method": args.method, "--s": args.s, "--postprocess": args.postprocess}
    return [flag for flag, value in given.items() if value is not None]


def run(args) -> int:
    from ..pipeline.runner import run_directory

    in_dir = input_dir(args.in_dir, "IN_DIR")
    out_dir = output_dir(args.out_dir, "OUT_DIR")
    if (in_dir / "imgs").is_dir() and not any(in_dir.glob("*.npz")):
        in_dir = in_dir / "imgs"  # the data_samples/ layout
    if out_dir.exists() and out_dir.resolve() == in_dir.resolve():
        raise CommandError(f"OUT_DIR {out_dir}", "is the input folder; predictions would "
                                                 "replace the images there")
    conflicts = _baseline_conflicts(args) if args.mode == "baseline" else []
    if conflicts:
        raise CommandError("--mode baseline", f"runs LiteMedSAM everywhere, every slice, no "
                                              f"post-processing; drop {', '.join(conflicts)}")
    pipeline = pipeline_from_args(args)
    options = options_from_args(args)
    summary = run_with_scheduler_errors(
        args, lambda: run_directory(in_dir, out_dir, pipeline, options=options))
    print(summary)
    for row in summary.rows:  # the package's warnings, case name first (no raw Python warnings)
        for w in row.warnings:
            print(f"classicseg run: {row.name}: {_unprefixed(w, row)}", file=sys.stderr)
    log = out_dir / "run_log.jsonl"
    if log.is_file():
        print(f"run log: {log}")
    if summary.log_error is not None:
        print(f"classicseg run: {summary.log_error}", file=sys.stderr)
        return 2
    return 0 if summary.complete else 1
