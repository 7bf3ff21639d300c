"""``classicseg compare IN_DIR [GT_DIR]``: baseline vs the paper's pipeline, as Tables 11 and 12.

Runs LiteMedSAM everywhere (baseline) and the paper's router on the same cases, scores both,
prints the per-modality tables and writes ``report.md``, ``summary.csv``, ``per_case.csv``
and figures to ``--out`` (default ``reports/<IN_DIR name>/``). Exit status: 0 every case ran
and was scored, 1 some case runs failed or files were not usable (the report is written all
the same), 2 a usage or input error. Examples::

    classicseg compare data_samples/                  # imgs/ + gts/ inside one folder
    classicseg compare imgs/ gts/ --out reports/val --workers 4
    classicseg compare data_samples/ --methods kmeans ght --cold --overwrite
    classicseg compare data_samples/ --methods all    # + every classical method, heat map,
                                                      # Pareto plot (time per box vs DSC)
    classicseg compare data_samples/ --box-jitter 5 --box-scale 1.2 --out reports/loose

Top-level imports are light (no torch, no dask).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from . import CommandError
from ._checks import input_dir, non_negative_int, output_dir
from .run import (
    add_execution_arguments,
    add_pipeline_arguments,
    options_from_args,
    pipeline_from_args,
    run_with_scheduler_errors,
)


def configure(parser) -> None:
    parser.add_argument("in_dir",
                        help="challenge image files, or a folder with imgs/ and gts/ "
                             "(data_samples/)")
    parser.add_argument("gt_dir", nargs="?",
                        help="ground-truth files (default: IN_DIR/gts, or 'gts' inside the images)")
    parser.add_argument("--gt", dest="gt_opt", metavar="GT_DIR", help="same as the GT_DIR argument")
    parser.add_argument("--out", help="report folder (default: reports/<IN_DIR name>/)")
    parser.add_argument("--methods", nargs="+", default=[], metavar="METHOD",
                        help="also run these forced methods on every case they apply to "
                             "(medsam, ght, kmeans, threshold, mobileunet, or the classical "
                             "toolbox: grabcut, random-walker, geodesic-contour, chan-vese, "
                             "watershed, flood, pixel-classifier, sklearn-kmeans, gmm); 'all' = "
                             "every classical method (cases a method cannot run on, e.g. 3D for "
                             "grabcut, are left out for it with a note)")
    parser.add_argument("--flavour", choices=("challenge", "correct"), default="challenge",
                        help="metric flavour: the official CVPR24 numbers (default) or physically "
                             "correct NSD")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute an existing report from scratch")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the predictions of an existing report, run what is missing, "
                             "rewrite the report")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--worst", type=non_negative_int, default=3,
                        help="worst cases shown side by side (default 3)")
    boxes = parser.add_argument_group(
        "box perturbation", "rerun the comparison on the boxes a user might draw: every pipeline "
        "gets the same perturbed boxes (seeded per case), the ground truth is unchanged")
    boxes.add_argument("--box-jitter", metavar="PX",
                       help="move each side of every box by a random whole number of pixels in "
                            "[-PX, +PX] (the challenge's training used about 5; default 0)")
    boxes.add_argument("--box-scale", metavar="F",
                       help="scale every box about its centre: 1.2 = 20%% larger, 0.8 = smaller "
                            "(default 1)")
    boxes.add_argument("--box-shift", metavar="DX,DY",
                       help="move every box by DX, DY pixels (DX,DY,DZ for 3D; negative values: "
                            "--box-shift=-5,3)")
    boxes.add_argument("--box-seed", metavar="N", help="seed of the jitter (default 0)")
    add_pipeline_arguments(parser)
    add_execution_arguments(parser)


def _methods(names) -> list[str]:
    """Canonical forced methods, in order, each once; ``all`` = every classical method
    (``router.CLASSICAL``; a case a method cannot run on is left out for it, with a note)."""
    from ..pipeline.router import CLASSICAL, normalize_method

    methods = []
    for m in names:
        if str(m).strip().lower() == "all":
            methods += CLASSICAL
            continue
        try:
            methods.append(normalize_method(m))
        except ValueError as e:
            raise CommandError(f"--methods {m}", str(e)) from None
    if "auto" in methods:
        raise CommandError("--methods auto", "the paper pipeline always runs; name forced methods")
    return list(dict.fromkeys(methods))


def _shift_values(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


#: option attribute -> (option, parser of its text, BoxPerturbation keyword, what is expected)
_BOX_OPTIONS = {
    "box_jitter": ("--box-jitter", int, "jitter", "a whole number of pixels >= 0"),
    "box_scale": ("--box-scale", float, "scale",
                  "a number > 0 (1 = the boxes as given, 1.2 = 20% larger)"),
    "box_shift": ("--box-shift", _shift_values, "shift",
                  "DX,DY or DX,DY,DZ whole pixels, e.g. --box-shift=-5,3"),
    "box_seed": ("--box-seed", int, "seed", "an integer >= 0"),
}


def _box_perturbation(args):
    """The :class:`~classicseg.boxes.BoxPerturbation` of the ``--box-*`` options; None when
    the boxes stay as given."""
    from ..boxes import BoxPerturbation
    from ..validation import InvalidInputError

    values = {}
    for attr, (option, parse, key, expected) in _BOX_OPTIONS.items():
        text = getattr(args, attr, None)
        if text is None:
            continue
        try:
            values[key] = parse(text)
            BoxPerturbation(**{key: values[key]})  # checks this one value
        except (ValueError, InvalidInputError):
            raise CommandError(f"{option} {text}", f"expected {expected}") from None
    perturbation = BoxPerturbation(**values)
    if perturbation.identity:
        return None
    if args.cold:
        raise CommandError("--cold", "a fresh process per case rebuilds a plain pipeline and "
                                     "cannot perturb the boxes; drop --cold or the --box-* options")
    return perturbation


def run(args) -> int:
    from .. import viz
    from ..evaluation.compare import command_line, compare_directories

    if args.gt_dir and args.gt_opt and Path(args.gt_dir) != Path(args.gt_opt):
        raise CommandError("GT_DIR", f"given twice with different values ({args.gt_dir}, "
                                     f"--gt {args.gt_opt})")
    if args.overwrite and args.resume:
        raise CommandError("--overwrite", "recomputes everything, --resume reuses what exists; "
                                          "give one of them")
    in_dir = input_dir(args.in_dir, "IN_DIR")
    gt_dir = args.gt_dir or args.gt_opt
    if gt_dir is not None:
        input_dir(gt_dir, "GT_DIR")
    # the same default as compare_directories, so the checks below see the real folder
    out = output_dir(args.out or Path("reports") / in_dir.resolve().name, "--out")
    if (out / "report.md").exists() and not (args.overwrite or args.resume):
        raise CommandError(f"--out {out}", "holds a report (report.md); add --overwrite to "
                                           "recompute it or --resume to reuse its predictions")
    paper = pipeline_from_args(args, mode="paper")
    baseline = pipeline_from_args(args, mode="baseline")
    methods = _methods(args.methods)
    box_perturbation = _box_perturbation(args)
    options = options_from_args(args)
    t0 = time.perf_counter()
    result = run_with_scheduler_errors(args, lambda: compare_directories(
        in_dir, gt_dir, out, paper=paper, baseline=baseline, methods=methods,
        options=options, flavour=args.flavour, resume=args.resume,
        figures=None if args.no_figures else viz.comparison_figures,
        worst=args.worst, command=command_line(), box_perturbation=box_perturbation))
    for warning in result.warnings:
        print(f"classicseg compare: {warning}", file=sys.stderr)
    print(result.text())
    print(f"\nreport: {result.out_dir / 'report.md'} (+ summary.csv, per_case.csv, "
          f"{len(result.figures)} figures); wall time {time.perf_counter() - t0:.1f} s")
    return 0 if result.complete else 1
