"""``classicseg`` command line: one module per command, a thin face over the package.

Each sub-command lives in a module of this package exposing ``configure(parser)`` and
``run(args) -> int``; this file only lists them, so ``classicseg --help`` stays fast
(nothing heavy is imported until a command runs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
import warnings

# name -> (module, one-line help)
COMMANDS = {
    "run": ("classicseg.cli.run",
            "predict a directory of challenge files with the paper's pipeline (or --mode "
            "baseline)"),
    "compare": ("classicseg.cli.compare",
                "baseline vs the paper's pipeline on a directory: Tables 11/12, CSV, figures"),
    "evaluate": ("classicseg.cli.evaluate", "score a directory of predictions against ground truth "
    "(DSC, NSD)"),
    "samples": ("classicseg.cli.samples",
                "list, write (challenge .npz) or draw the built-in real and synthetic sample "
                "cases"),
    "train": ("classicseg.cli.train", "train a model (MobileUNet specialist) on box crops"),
    "models": ("classicseg.cli.models",
               "prepare LiteMedSAM's cached artefacts (ONNX export, compiled backends, parity "
               "verdicts) or show them"),
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="classicseg",
        description="Classical interactive segmentation next to LiteMedSAM on challenge .npz "
                    "files.",
    )
    parser.add_argument("--version", action="version", version=f"classicseg {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (also CLASSICSEG_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        # also accepted after the command; SUPPRESS keeps a top-level --debug from being reset
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the Python traceback of an error (also CLASSICSEG_DEBUG=1)")
        importlib.import_module(module).configure(p)
    return parser


class CommandError(Exception):
    """A usage or input problem a command reports as ``classicseg <command>: <subject>: <problem>``.

    Raise it from a command's ``run`` (or return 2 after printing the same form); the boundary in
    :func:`main` prints it without a traceback and exits with ``status``.
    """

    def __init__(self, subject, problem: str = "", *, status: int = 2):
        super().__init__(f"{subject}: {problem}" if problem else str(subject))
        self.status = status


def _debug_requested(args) -> bool:
    env = os.environ.get("CLASSICSEG_DEBUG", "")
    return bool(getattr(args, "debug", False)) or env not in ("", "0")


def _describe(exc: BaseException) -> tuple[str, int]:
    """One line for an exception at the command boundary, and the exit status."""
    if isinstance(exc, CommandError):
        return str(exc), exc.status
    if isinstance(exc, OSError) and exc.filename is not None:
        # e.g. "out/run_log.jsonl: Permission denied" -- the file first, as every message here
        target = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
        return f"{exc.filename}{target}: {exc.strerror or exc}", 2
    if isinstance(exc, (OSError, ValueError, ImportError)):
        # the package's own errors (ChallengeFileError, WeightsError, validation) are ValueErrors
        # whose text already names the file or argument
        return str(exc) or type(exc).__name__, 2
    return (f"internal error: {type(exc).__name__}: {exc} (this is a bug in classicseg; rerun with "
            "--debug for the traceback and report it)"), 1


def _quiet_broken_pipe() -> int:
    # The reader went away (`classicseg samples list | head`): stop quietly. Point stdout at
    # devnull so the interpreter's final flush cannot raise again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a Unix tool killed by the closed pipe reports


@contextlib.contextmanager
def _reported_warnings(command: str):
    """Print a warning that reaches the top as ``classicseg <command>: warning: <message>``:
    the commands report their per-case warnings themselves (case name first), and anything
    else must not appear as Python's raw ``file:line: UserWarning`` with a source line."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"classicseg {command}: warning: {message}", file=file or sys.stderr)

    previous, warnings.showwarning = warnings.showwarning, show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv=None) -> int:
    """Run the ``classicseg`` command; returns the exit status (never raises, never a traceback
    unless ``--debug`` or ``CLASSICSEG_DEBUG=1``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    with _reported_warnings(args.command):
        return _run(args)


def _run(args) -> int:
    try:
        status = int(importlib.import_module(args._module).run(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at exit
        return status
    except KeyboardInterrupt:
        print(f"classicseg {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as exc:  # the one boundary: every error becomes one clear line
        if _debug_requested(args):
            traceback.print_exc()
        message, status = _describe(exc)
        print(f"classicseg {args.command}: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
