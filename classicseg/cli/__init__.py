"""``classicseg`` command line: one module per command, a thin face over the package.

Each sub-command lives in a module of this package exposing ``configure(parser)`` and
``run(args) -> int``; this file only lists them, so ``classicseg --help`` stays fast
(nothing heavy is imported until a command runs).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS = {
    "run": ("classicseg.cli.run",
            "predict a directory of challenge files with the paper's pipeline (or --mode baseline)"),
    "compare": ("classicseg.cli.compare",
                "baseline vs the paper's pipeline on a directory: Tables 11/12, CSV, figures"),
    "evaluate": ("classicseg.cli.evaluate", "score a directory of predictions against ground truth (DSC, NSD)"),
    "samples": ("classicseg.cli.samples",
                "list, write (challenge .npz) or draw the built-in real and synthetic sample cases"),
    "train": ("classicseg.cli.train", "train a model (MobileUNet specialist) on box crops"),
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="classicseg",
        description="Classical interactive segmentation next to LiteMedSAM on challenge .npz files.",
    )
    parser.add_argument("--version", action="version", version=f"classicseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).configure(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
