"""``classicseg compare IN_DIR [GT_DIR]``: baseline vs the paper's pipeline, as Tables 11 and 12.

Runs LiteMedSAM everywhere (baseline) and the paper's router on the same cases, scores both,
prints the per-modality tables and writes ``report.md``, ``summary.csv``, ``per_case.csv``
and figures to ``--out`` (default ``reports/<IN_DIR name>/``). Examples::

    classicseg compare data_samples/                  # imgs/ + gts/ inside one folder
    classicseg compare imgs/ gts/ --out reports/val --workers 4
    classicseg compare data_samples/ --methods kmeans ght --cold --overwrite

Top-level imports are light (no torch, no dask).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .run import (add_execution_arguments, add_pipeline_arguments, options_from_args,
                  pipeline_from_args)


def configure(parser) -> None:
    parser.add_argument("in_dir", help="challenge image files, or a folder with imgs/ and gts/ (data_samples/)")
    parser.add_argument("gt_dir", nargs="?", help="ground-truth files (default: IN_DIR/gts, or 'gts' inside the images)")
    parser.add_argument("--gt", dest="gt_opt", metavar="GT_DIR", help="same as the GT_DIR argument")
    parser.add_argument("--out", help="report folder (default: reports/<IN_DIR name>/)")
    parser.add_argument("--methods", nargs="+", default=[], metavar="METHOD",
                        help="also run these forced methods on every case they apply to "
                             "(medsam, ght, kmeans, threshold, mobileunet)")
    parser.add_argument("--flavour", choices=("challenge", "correct"), default="challenge",
                        help="metric flavour: the official CVPR24 numbers (default) or physically correct NSD")
    parser.add_argument("--overwrite", action="store_true", help="recompute an existing report from scratch")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the predictions of an existing report, run what is missing, rewrite the report")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.add_argument("--worst", type=int, default=3, help="worst cases shown side by side (default 3)")
    add_pipeline_arguments(parser)
    add_execution_arguments(parser)


def run(args) -> int:
    from .. import viz
    from ..evaluation.compare import command_line, compare_directories
    from ..pipeline.router import normalize_method

    gt_dir = args.gt_dir or args.gt_opt
    if args.gt_dir and args.gt_opt and Path(args.gt_dir) != Path(args.gt_opt):
        print("classicseg compare: GT_DIR given twice with different values", file=sys.stderr)
        return 2
    try:
        paper = pipeline_from_args(args, mode="paper")
        baseline = pipeline_from_args(args, mode="baseline")
        methods = [normalize_method(m) for m in args.methods]
        if "auto" in methods:
            raise ValueError("--methods: 'auto' is the paper pipeline, which always runs")
        options = options_from_args(args)
    except (ValueError, argparse.ArgumentTypeError) as e:
        print(f"classicseg compare: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        result = compare_directories(
            args.in_dir, gt_dir, args.out, paper=paper, baseline=baseline, methods=methods,
            options=options, flavour=args.flavour, resume=args.resume,
            figures=None if args.no_figures else viz.comparison_figures,
            worst=args.worst, command=command_line())
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError) as e:
        print(f"classicseg compare: {e}", file=sys.stderr)
        return 2
    print(result.text())
    print(f"\nreport: {result.out_dir / 'report.md'} (+ summary.csv, per_case.csv, "
          f"{len(result.figures)} figures); wall time {time.perf_counter() - t0:.1f} s")
    return 0
