"""``classicseg evaluate PRED_DIR GT_DIR``: score predictions against ground truth (DSC, NSD).

Exit status: 0 when every case was scored, 1 when a prediction or ground-truth file was
missing or unreadable (the table still shows the rest), 2 for a usage or input error.
"""

from __future__ import annotations

import sys

from ..evaluation.evaluate import MISSING_POLICIES, evaluate_directories, write_csv
from . import CommandError
from ._checks import input_dir, output_file


def configure(parser) -> None:
    parser.add_argument("pred_dir", help="folder of prediction .npz files (key 'segs')")
    parser.add_argument("gt_dir",
                        help="folder of ground-truth .npz files (key 'gts'), same file names")
    parser.add_argument("--flavour", choices=("challenge", "correct"), default="challenge",
                        help="challenge: the official CVPR24 numbers (default); correct: "
                             "physically correct NSD")
    parser.add_argument("--missing", choices=MISSING_POLICIES, default="zero",
                        help="a missing/unreadable prediction scores 0 (default, as in the "
                             "challenge) or is skipped")
    parser.add_argument("--csv", metavar="PATH",
                        help="also write the per-case scores to this CSV file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")


def run(args) -> int:
    from ..io import scan_case_files

    input_dir(args.pred_dir, "PRED_DIR")
    gt_dir = input_dir(args.gt_dir, "GT_DIR")
    if args.csv:  # checked before the (possibly long) scoring, not after it
        output_file(args.csv, "--csv", overwrite=args.overwrite)
    gt_files, gt_unusable = scan_case_files(gt_dir)
    if not gt_files and not gt_unusable:
        raise CommandError(f"GT_DIR {gt_dir}", "no .npz ground-truth files in this folder")
    report = evaluate_directories(args.pred_dir, gt_dir, flavour=args.flavour, missing=args.missing)
    for warning in report.warnings:
        print(f"classicseg evaluate: {warning}", file=sys.stderr)
    print(report.table())
    if args.csv:
        write_csv(report.rows, args.csv, overwrite=True)  # checked above, --overwrite or new
        print(f"per-case scores written to {args.csv}")
    if report.n_scored == 0:
        print("classicseg evaluate: no case could be scored", file=sys.stderr)
        return 1
    return 0 if report.complete else 1
