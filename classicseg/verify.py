"""Small checks for the lessons: every number a notebook states is verified where it is stated.

A bare ``assert`` fails with a line of code; a student needs a sentence. These helpers raise
:class:`LessonCheckError` (an ``AssertionError``, so nbval and pytest treat it as a failed
check) with the claim in words, the value found and what to do.

Examples
--------
>>> verify(2 > 1, "two is more than one")
>>> verify_between(0.93, 0.9, 1.0, "LiteMedSAM's Dice on the head")
0.93
>>> verify_greater(0.95, 0.90, "LiteMedSAM", "the box fill")
>>> verify_between(0.5, 0.9, 1.0, "the Dice")
Traceback (most recent call last):
...
classicseg.verify.LessonCheckError: the text says the Dice lies in [0.9, 1.0], but it is 0.5. ...
"""

from __future__ import annotations

import math

__all__ = ["LessonCheckError", "verify", "verify_between", "verify_greater", "verify_close"]

_HINT = ("If you changed an input above, that is expected -- otherwise re-run the notebook "
         "from the top (Kernel -> Restart and Run All).")


class LessonCheckError(AssertionError):
    """A number in a lesson is not what its text says."""


def _fail(message: str):
    raise LessonCheckError(f"{message}. {_HINT}")


def verify(condition, claim: str) -> None:
    """Check that ``claim`` (a sentence of the lesson) holds."""
    if not bool(condition):
        _fail(f"the text says {claim}, but that is not what this run found")


def verify_between(value, low, high, what: str):
    """Check ``low <= value <= high``; returns ``value`` so the check can wrap a computation."""
    v = float(value)
    if math.isnan(v) or not float(low) <= v <= float(high):
        _fail(f"the text says {what} lies in [{low}, {high}], but it is {v:.4g}")
    return value


def verify_greater(a, b, a_name: str, b_name: str, *, by: float = 0.0) -> None:
    """Check ``a > b + by`` (``a_name`` beats ``b_name``, by more than ``by``)."""
    if not float(a) > float(b) + float(by):
        margin = f" by more than {by:g}" if by else ""
        _fail(f"the text says {a_name} ({float(a):.4g}) beats {b_name} ({float(b):.4g}){margin}")


def verify_close(value, expected, what: str, *, tol: float) -> None:
    """Check ``|value - expected| <= tol``."""
    if not abs(float(value) - float(expected)) <= float(tol):
        _fail(f"the text says {what} is {expected} (± {tol:g}), but it is {float(value):.4g}")
