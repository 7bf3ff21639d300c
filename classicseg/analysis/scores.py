"""Run, time and score several methods on one case -- the comparison every lesson makes.

:func:`score_methods` is what notebooks 02, 04 and 06 do by hand and what
:class:`classicseg.widgets.InteractiveComparison` shows for a drawn box: each method segments
the case, the call is timed, and the prediction is scored with
:func:`classicseg.metrics.score_case`. The rows are :class:`MethodScore` records.

Examples
--------
>>> import numpy as np
>>> from classicseg.io import Case
>>> gt = np.zeros((20, 20), np.uint8); gt[5:10, 5:10] = 1
>>> case = Case("2DBox_US_toy", np.zeros((20, 20, 3), np.uint8), np.array([[4, 4, 10, 10]]), gts=gt)
>>> rows = score_methods(case, {"truth": lambda im, b: gt, "nothing": lambda im, b: 0 * gt})
>>> [(r.method, r.dsc) for r in rows]
[('truth', 1.0), ('nothing', 0.0)]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..io import Case
from ..metrics import score_case

__all__ = ["MethodScore", "score_methods"]


@dataclass(frozen=True)
class MethodScore:
    """One method's run on one case.

    Attributes
    ----------
    method : str
        The method's name (its key in ``methods``).
    dsc, nsd : float
        Case DSC and NSD (:func:`classicseg.metrics.score_case`); NaN without ground truth
        or when the method failed.
    seconds : float
        Wall time of the method's call; NaN when it failed.
    result : SegmentationResult or ndarray or None
        What the method returned (None when it failed).
    error : str or None
        ``"<ExceptionType>: <message>"`` when the method raised (see ``catch``), else None.
    """

    method: str
    dsc: float
    nsd: float
    seconds: float
    result: Any = field(default=None, repr=False, compare=False)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the method ran (its scores may still be NaN without ground truth)."""
        return self.error is None

    @property
    def segs(self) -> np.ndarray | None:
        """The predicted label map (``result.segs`` or the returned array)."""
        if self.result is None:
            return None
        return np.asarray(getattr(self.result, "segs", self.result))


def _label_map(out, shape, name: str) -> np.ndarray:
    segs = np.asarray(getattr(out, "segs", out))
    if segs.shape != tuple(shape):
        raise ValueError(f"method {name!r} returned a mask of shape {segs.shape}, "
                         f"expected {tuple(shape)}")
    return segs.astype(np.uint8) if segs.dtype == bool else segs


def score_methods(case: Case, methods: Mapping[str, Callable], *, flavour: str = "challenge",
                  catch: bool = False) -> list[MethodScore]:
    """Run every method on ``case``, time it and score its prediction.

    Parameters
    ----------
    case : Case
        Image and boxes; ground truth ``gts`` for scores (without it DSC and NSD are NaN).
        3D cases without spacing are scored in voxels (spacing 1, 1, 1).
    methods : mapping of str -> callable
        Name -> ``fn(image, boxes) -> SegmentationResult`` (or a label map of the case's
        spatial shape), called as ``fn(case.image, case.boxes)``.
    flavour : {"challenge", "correct"}
        NSD flavour (see :mod:`classicseg.metrics`).
    catch : bool
        Record a method's exception in its row (``error``) instead of raising, so one
        failing method does not hide the others. A wrong output shape is an error too.

    Returns
    -------
    list of MethodScore
        One row per method, in ``methods`` order.

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> case = Case("2DBox_US_toy", np.zeros((8, 8, 3), np.uint8), np.array([[1, 1, 5, 5]]))
    >>> def broken(image, boxes):
    ...     raise RuntimeError("boom")
    >>> (row,) = score_methods(case, {"broken": broken}, catch=True)
    >>> row.error, row.ok
    ('RuntimeError: boom', False)
    """
    if not methods or not all(callable(f) for f in methods.values()):
        raise ValueError("methods must be a non-empty mapping of name -> callable(image, boxes)")
    spacing = None
    if case.is_3d:  # unknown spacing: score in voxels rather than warn on every call
        spacing = case.spacing if case.spacing is not None else (1.0, 1.0, 1.0)
    rows = []
    for name, fn in methods.items():
        t0 = time.perf_counter()
        try:
            out = fn(case.image, case.boxes)
            seconds = time.perf_counter() - t0
            segs = _label_map(out, case.spatial_shape, name)
        except Exception as exc:
            if not catch:
                raise
            rows.append(MethodScore(name, math.nan, math.nan, math.nan,
                                    error=f"{type(exc).__name__}: {exc}"))
            continue
        dsc = nsd = math.nan
        if case.gts is not None:
            s = score_case(case.gts, segs, spacing=spacing, flavour=flavour)
            dsc, nsd = float(s["dsc"]), float(s["nsd"])
        rows.append(MethodScore(name, dsc, nsd, seconds, out))
    return rows
