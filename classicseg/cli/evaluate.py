"""``classicseg evaluate PRED_DIR GT_DIR``: score predictions against ground truth (DSC, NSD)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..evaluation.evaluate import MISSING_POLICIES, evaluate_directories, write_csv


def configure(parser) -> None:
    parser.add_argument("pred_dir", help="folder of prediction .npz files (key 'segs')")
    parser.add_argument("gt_dir", help="folder of ground-truth .npz files (key 'gts'), same file names")
    parser.add_argument("--flavour", choices=("challenge", "correct"), default="challenge",
                        help="challenge: the official CVPR24 numbers (default); correct: physically correct NSD")
    parser.add_argument("--missing", choices=MISSING_POLICIES, default="zero",
                        help="a missing/unreadable prediction scores 0 (default, as in the challenge) or is skipped")
    parser.add_argument("--csv", metavar="PATH", help="also write the per-case scores to this CSV file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")


def run(args) -> int:
    for d in (args.pred_dir, args.gt_dir):
        if not Path(d).is_dir():
            print(f"classicseg evaluate: {d}: not a directory", file=sys.stderr)
            return 2
    if args.csv and Path(args.csv).exists() and not args.overwrite:
        print(f"classicseg evaluate: {args.csv} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    report = evaluate_directories(args.pred_dir, args.gt_dir, flavour=args.flavour, missing=args.missing)
    print(report.table())
    if args.csv:
        write_csv(report.rows, args.csv, overwrite=args.overwrite)
        print(f"per-case scores written to {args.csv}")
    if report.n_scored == 0:
        print("classicseg evaluate: no case could be scored", file=sys.stderr)
        return 1
    return 0
