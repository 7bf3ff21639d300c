"""Checks the commands share: argument types that name the problem, and up-front checks of
the folders and files a command reads or writes (a clear message instead of a raw OSError
halfway through the work).

Every failure is a :class:`~classicseg.cli.CommandError` (or, for argument types, an
``argparse.ArgumentTypeError`` that argparse prefixes with the option's name).

Examples
--------
>>> positive_int("3")
3
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected a positive integer, got '0'
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import CommandError

__all__ = ["positive_int", "non_negative_int", "positive_float", "input_dir", "output_dir",
           "output_file"]


def _number(value: str, convert, what: str, ok) -> int | float:
    try:
        n = convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}") from None
    if not ok(n):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return n


def positive_int(value: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(value, int, "a positive integer", lambda n: n >= 1)


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(value, int, "an integer >= 0", lambda n: n >= 0)


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0 (``nan`` and ``inf`` are refused)."""
    return _number(value, float, "a positive number", lambda x: 0 < x < float("inf"))


def input_dir(path, what: str) -> Path:
    """``path`` as a Path if it is a directory; else CommandError naming ``what`` and the path."""
    p = Path(path)
    if not p.exists():
        broken = p.is_symlink()  # exists() follows links: a dangling or looping one is "absent"
        raise CommandError(f"{what} {p}", "a broken or looping symbolic link" if broken else
                           "no such directory")
    if not p.is_dir():
        raise CommandError(f"{what} {p}", "not a directory")
    return p


def _ancestor_problem(p: Path) -> str | None:
    """Why no folder can be made at ``p``: its nearest existing ancestor is a file."""
    for parent in p.parents:
        if parent.exists():
            return None if parent.is_dir() else f"{parent} is not a directory"
    return None


def output_dir(path, what: str) -> Path:
    """``path`` as a Path if it is a directory or can become one (nothing is created)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CommandError(f"{what} {p}", "exists and is not a directory")
    problem = _ancestor_problem(p)
    if problem:
        raise CommandError(f"{what} {p}", problem)
    return p


def output_file(path, what: str, *, overwrite: bool, formats=None,
                create_parent: bool = True) -> Path:
    """``path`` as a Path if a file can be written there without losing anything.

    Refused: a directory; an existing file unless ``overwrite`` (the message names
    ``--overwrite``); a name whose ending is not in ``formats`` (when given); a parent that is
    a file, or that is missing when ``create_parent`` is False.
    """
    p = Path(path)
    if p.is_dir():
        raise CommandError(f"{what} {p}", "is a directory; give a file name")
    if formats is not None:
        fmt = p.suffix[1:].lower()
        if fmt not in formats:
            shown = f"'.{fmt}'" if fmt else "no file ending"
            raise CommandError(f"{what} {p}", f"unknown image format ({shown}); use one of "
                                              f"{', '.join('.' + f for f in sorted(formats))}")
    problem = _ancestor_problem(p)
    if problem is None and not create_parent and not p.parent.is_dir():
        problem = f"its folder {p.parent} does not exist"
    if problem:
        raise CommandError(f"{what} {p}", problem)
    if os.path.lexists(p) and not overwrite:
        raise CommandError(f"{what} {p}", "exists; add --overwrite to replace it")
    return p
