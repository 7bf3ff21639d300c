"""Failure analysis: where two methods disagree most, and whether LiteMedSAM knows it failed.

Small helpers behind the notebooks' failure gallery (no plotting here; the rows feed
:func:`classicseg.viz.failure_gallery` and :class:`classicseg.widgets.FailureGallery`):

* :func:`case_row` / :func:`box_rows` -- one gallery row per case or per box (cropped
  around the box), with every method's prediction, Dice and LiteMedSAM's ``iou_pred``;
* :func:`rank_by_gap` / :func:`split_winners` -- rows ranked by the Dice gap between two
  methods, and the cases each method wins most clearly;
* :func:`flag_failures` / :func:`flag_curve` / :func:`spearman` -- can a threshold on the
  decoder's predicted IoU flag the boxes whose real Dice is low?
* :func:`model_passes` -- how many encoder passes and decoder calls a route costs (the
  dominant cost of LiteMedSAM on a CPU), without running anything.

Examples
--------
>>> import numpy as np
>>> from classicseg.io import Case
>>> from classicseg.result import SegmentationResult
>>> img = np.zeros((20, 20, 3), np.uint8); gt = np.zeros((20, 20), np.uint16); gt[5:10, 5:10] = 1
>>> case = Case("2DBox_US_toy", img, np.array([[4, 4, 10, 10]]), gts=gt)
>>> good = SegmentationResult.empty((20, 20), 1); good.add_box(0, gt == 1, method="a", reason="", seconds=0)
>>> bad = SegmentationResult.empty((20, 20), 1); bad.add_box(0, gt == 2, method="b", reason="", seconds=0)
>>> [round(r["gap"], 2) for r in rank_by_gap([case_row(case, {"a": good, "b": bad})], "a", "b")]
[1.0]
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..boxes import box_slices
from ..io import Case
from ..metrics import dice, score_case
from ..result import SegmentationResult

__all__ = ["case_row", "box_rows", "rank_by_gap", "split_winners", "flag_failures", "flag_curve",
           "spearman", "model_passes"]


def _segs(result, shape, what: str) -> np.ndarray:
    segs = result.segs if isinstance(result, SegmentationResult) else np.asarray(result)
    if segs.shape != tuple(shape):
        raise ValueError(f"{what}: prediction shape {segs.shape} differs from the case's {tuple(shape)}")
    return segs


def _check_case(case: Case, results: Mapping) -> None:
    if case.gts is None:
        raise ValueError(f"{case.name}: the case has no ground truth (gts) to score against")
    if not results:
        raise ValueError("results: give at least one method name -> SegmentationResult")


def case_row(case: Case, results: Mapping, *, flavour: str = "challenge") -> dict:
    """One gallery row for a whole case: image, ground truth, predictions and case DSC per method.

    Parameters
    ----------
    case : Case
        With ground truth (``case.gts``).
    results : mapping of str -> SegmentationResult or ndarray
        Each method's prediction (instance map of the case's spatial shape).
    flavour : {"challenge", "correct"}
        Passed to :func:`classicseg.metrics.score_case` (DSC does not depend on it).

    Returns
    -------
    dict
        ``name``, ``modality``, ``synthetic``, ``image``, ``gt``, ``boxes``, ``preds``
        (name -> instance map), ``dice`` (name -> case DSC, the challenge's mean over labels),
        ``seconds`` (name -> run time, NaN for plain arrays).
    """
    _check_case(case, results)
    spacing = case.spacing if case.is_3d else None
    preds = {k: _segs(v, case.spatial_shape, f"results[{k!r}]") for k, v in results.items()}
    return {"name": case.name, "modality": case.modality, "synthetic": case.synthetic, "image": case.image,
            "gt": case.gts, "boxes": case.boxes, "preds": preds,
            "dice": {k: float(score_case(case.gts, p, spacing=spacing, flavour=flavour)["dsc"])
                     for k, p in preds.items()},
            "seconds": {k: float(getattr(v, "seconds", math.nan)) for k, v in results.items()}}


def box_rows(case: Case, results: Mapping, *, margin: int = 8) -> list[dict]:
    """One gallery row per box: the box's neighbourhood, its instance in GT and predictions.

    Box ``i`` is scored as label ``i + 1`` of each prediction (the challenge rule, so a mask
    that a later, overlapping box painted over is lost here too).

    Parameters
    ----------
    case : Case
        With ground truth.
    results : mapping of str -> SegmentationResult or ndarray
        Each method's prediction; a SegmentationResult's ``BoxRecord.extra["iou_pred"]``
        (LiteMedSAM's own quality estimate) is copied into the row.
    margin : int >= 0
        Pixels of context around the box (in-plane; 3D boxes keep their slices).

    Returns
    -------
    list of dict
        Per box: ``name`` (``"<case> #<label>"``), ``case``, ``box_index``, ``modality``,
        ``synthetic``, ``image``, ``gt`` (binary crop), ``preds`` (binary crops), ``boxes``
        (the box in crop coordinates), ``dice`` (name -> Dice of the box's label, on the full
        image), ``iou_pred`` (name -> float, for results that report one), ``gt_pixels``,
        ``pixels`` (name -> predicted pixels of the label) and ``box_pixels`` (the box's size).

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> gt = np.zeros((30, 30), np.uint16); gt[5:9, 5:9] = 1; gt[20:25, 20:25] = 2
    >>> case = Case("2DBox_US_toy", np.zeros((30, 30, 3), np.uint8),
    ...             np.array([[4, 4, 9, 9], [19, 19, 25, 25]]), gts=gt)
    >>> rows = box_rows(case, {"gt itself": gt}, margin=2)
    >>> [(r["name"], r["dice"]["gt itself"], r["image"].shape) for r in rows]
    [('2DBox_US_toy #1', 1.0, (10, 10, 3)), ('2DBox_US_toy #2', 1.0, (11, 11, 3))]
    """
    _check_case(case, results)
    if int(margin) < 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    margin = int(margin)
    preds = {k: _segs(v, case.spatial_shape, f"results[{k!r}]") for k, v in results.items()}
    shape = case.spatial_shape
    rows = []
    for i, box in enumerate(np.asarray(case.boxes)):
        label = i + 1
        where = list(box_slices(box))
        # widen the two in-plane axes (the last two) by the margin, clipped to the image
        for ax in (-2, -1):
            sl = where[ax]
            where[ax] = slice(max(sl.start - margin, 0), min(sl.stop + margin, shape[ax]))
        where = tuple(where)
        offset = [where[-1].start, where[-2].start]  # x, y of the crop's corner
        local = np.array(box, dtype=np.int64)
        if local.size == 4:
            local = local - np.array(offset * 2)
        else:  # [x0, y0, z0, x1, y1, z1]
            z0 = where[0].start
            local = local - np.array(offset + [z0] + offset + [z0])
        g = case.gts == label
        iou = {}
        for k, v in results.items():
            if isinstance(v, SegmentationResult) and i < len(v.boxes) and "iou_pred" in v.boxes[i].extra:
                iou[k] = float(v.boxes[i].extra["iou_pred"])
        rows.append({
            "name": f"{case.name} #{label}", "case": case.name, "box_index": i, "modality": case.modality,
            "synthetic": case.synthetic, "image": case.image[where], "gt": g[where].astype(np.uint8),
            "preds": {k: (p[where] == label).astype(np.uint8) for k, p in preds.items()},
            "boxes": local[None], "dice": {k: dice(g, p == label) for k, p in preds.items()},
            "iou_pred": iou, "gt_pixels": int(g.sum()),
            "pixels": {k: int((p == label).sum()) for k, p in preds.items()},
            "box_pixels": int(np.prod([sl.stop - sl.start for sl in box_slices(box)]))})
    return rows


def _gap(row: dict, a: str, b: str) -> float:
    d = row.get("dice") or {}
    if a not in d or b not in d:
        raise ValueError(f"row {row.get('name', '?')!r} has no Dice for both {a!r} and {b!r} (has {sorted(d)})")
    return float(d[a]) - float(d[b])


def rank_by_gap(rows, a: str, b: str) -> list[dict]:
    """Rows ranked by the Dice gap ``dice[a] - dice[b]``, largest first (NaN gaps last).

    Parameters
    ----------
    rows : iterable of dict
        Rows of :func:`case_row` / :func:`box_rows` (any dicts with a ``dice`` mapping).
    a, b : str
        The two methods compared.

    Returns
    -------
    list of dict
        Shallow copies with ``gap`` set and the per-method mappings (``preds``, ``dice``,
        ``iou_pred``, ``seconds``, ``pixels``) restricted to ``a`` and ``b`` in that order
        (what :func:`classicseg.viz.failure_gallery` expects).
        The first rows are where ``a`` wins most, the last where ``b`` wins most.

    Examples
    --------
    >>> rows = [{"name": "x", "dice": {"p": .9, "q": .5}}, {"name": "y", "dice": {"p": .2, "q": .8}}]
    >>> [(r["name"], round(r["gap"], 1)) for r in rank_by_gap(rows, "p", "q")]
    [('x', 0.4), ('y', -0.6)]
    """
    if a == b:
        raise ValueError(f"a and b must name two different methods, got {a!r} twice")
    out = []
    for r in rows:
        g = _gap(r, a, b)
        new = dict(r, gap=g)
        for key in ("preds", "dice", "iou_pred", "seconds", "pixels"):
            if isinstance(r.get(key), Mapping):
                new[key] = {k: r[key][k] for k in (a, b) if k in r[key]}
        out.append(new)
    out.sort(key=lambda r: -r["gap"] if not math.isnan(r["gap"]) else math.inf)
    return out


def split_winners(ranked, *, n: int = 3, min_gap: float = 0.0) -> tuple[list[dict], list[dict]]:
    """The rows each method wins most clearly, from :func:`rank_by_gap`'s output.

    Parameters
    ----------
    ranked : list of dict
        Rows with ``gap`` (``dice[a] - dice[b]``), e.g. from :func:`rank_by_gap`.
    n : int >= 1
        At most this many rows per side.
    min_gap : float >= 0
        Only gaps larger than this count as a win (ties and noise are left out).

    Returns
    -------
    (a_wins, b_wins) : tuple of lists
        ``a_wins``: gap > min_gap, largest first; ``b_wins``: gap < -min_gap, most negative first.

    Examples
    --------
    >>> rows = [{"gap": g} for g in (0.5, 0.01, -0.2, -0.7)]
    >>> a, b = split_winners(rows, n=2, min_gap=0.05)
    >>> [r["gap"] for r in a], [r["gap"] for r in b]
    ([0.5], [-0.7, -0.2])
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    if not min_gap >= 0:
        raise ValueError(f"min_gap must be >= 0, got {min_gap!r}")
    valid = [r for r in ranked if not math.isnan(float(r["gap"]))]
    a_wins = sorted((r for r in valid if r["gap"] > min_gap), key=lambda r: -r["gap"])[: int(n)]
    b_wins = sorted((r for r in valid if r["gap"] < -min_gap), key=lambda r: r["gap"])[: int(n)]
    return a_wins, b_wins


def _pairs(iou_pred, dice_values) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(iou_pred, dtype=np.float64).ravel()
    y = np.asarray(dice_values, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"iou_pred and dice must have the same length, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def flag_failures(iou_pred, dice_values, *, threshold: float, fail_below: float = 0.5) -> dict:
    """How well "flag a box when ``iou_pred < threshold``" finds the boxes with Dice < ``fail_below``.

    Parameters
    ----------
    iou_pred, dice_values : array_like of float
        Per box: the decoder's predicted IoU and the real Dice (pairs with a NaN are dropped).
    threshold : float
        Boxes with ``iou_pred < threshold`` are flagged.
    fail_below : float
        A box whose real Dice is below this is a failure.

    Returns
    -------
    dict
        ``threshold``, ``fail_below``, ``n``, ``failures``, ``flagged``, ``caught``
        (flagged failures), ``false_alarms`` (flagged non-failures), ``recall``
        (caught / failures; NaN without failures) and ``precision`` (caught / flagged; NaN
        when nothing is flagged).

    Examples
    --------
    >>> flag_failures([0.9, 0.95, 0.6, 0.85], [0.9, 0.3, 0.2, 0.95], threshold=0.8)["recall"]
    0.5
    """
    x, y = _pairs(iou_pred, dice_values)
    fail, flag = y < fail_below, x < threshold
    caught = int((fail & flag).sum())
    return {"threshold": float(threshold), "fail_below": float(fail_below), "n": int(x.size),
            "failures": int(fail.sum()), "flagged": int(flag.sum()), "caught": caught,
            "false_alarms": int((flag & ~fail).sum()),
            "recall": caught / int(fail.sum()) if fail.any() else math.nan,
            "precision": caught / int(flag.sum()) if flag.any() else math.nan}


def flag_curve(iou_pred, dice_values, *, fail_below: float = 0.5, thresholds=None) -> list[dict]:
    """:func:`flag_failures` for a series of thresholds (default: every distinct ``iou_pred``
    value plus one above the largest, so the curve ends with every box flagged).

    Examples
    --------
    >>> [r["flagged"] for r in flag_curve([0.9, 0.7, 0.8], [1, 0, 1])]
    [0, 1, 2, 3]
    """
    x, y = _pairs(iou_pred, dice_values)
    if thresholds is None:
        thresholds = np.concatenate([np.unique(x), [np.nextafter(x.max(), np.inf)]]) if x.size else []
    return [flag_failures(x, y, threshold=float(t), fail_below=fail_below) for t in thresholds]


def spearman(x, y) -> float:
    """Spearman rank correlation of two equally long samples (pairs with a NaN dropped).

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [10, 20, 25, 100]), spearman([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
    from scipy.stats import spearmanr

    a, b = _pairs(x, y)
    if a.size < 3:
        raise ValueError(f"need at least 3 complete pairs for a rank correlation, got {a.size}")
    return float(spearmanr(a, b).statistic)


def _middle_slice(z_min: int, z_max: int) -> int:
    # same formula as classicseg.models.litemedsam.middle_slice (that module imports torch)
    return int((int(z_max) - int(z_min)) / 2 + int(z_min))


def model_passes(case: Case, route) -> dict:
    """LiteMedSAM work a route implies: encoder passes and decoder calls (nothing is run).

    The encoder (one pass per distinct 2D image or slice; boxes on the same slice share it)
    dominates the run time on a CPU; each box on each predicted slice costs one decoder call.

    Parameters
    ----------
    case : Case
    route : classicseg.pipeline.router.Route
        E.g. ``Pipeline().route(case)``; only ``method`` and ``s`` are used. Methods other
        than ``"litemedsam"`` cost no model passes.

    Returns
    -------
    dict
        ``encoder_passes``, ``decoder_calls``.

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> from classicseg.pipeline.router import Route
    >>> ct = Case("3DBox_CT_toy", np.zeros((30, 16, 16), np.uint8), np.array([[2, 2, 2, 9, 9, 23]]))
    >>> model_passes(ct, Route("litemedsam", "", s=1)), model_passes(ct, Route("litemedsam", "", s=3))
    ({'encoder_passes': 22, 'decoder_calls': 22}, {'encoder_passes': 9, 'decoder_calls': 9})
    """
    from ..methods.interpolation import plan_sparse_slices

    if route.method != "litemedsam" or case.n_boxes == 0:
        return {"encoder_passes": 0, "decoder_calls": 0}
    if not case.is_3d:
        return {"encoder_passes": 1, "decoder_calls": int(case.n_boxes)}
    s = int(route.s)
    slices: set[int] = set()
    calls = 0
    for x0, y0, z0, x1, y1, z1 in np.asarray(case.boxes, dtype=np.int64):
        planned = set(range(z0, z1 + 1)) if s == 1 else \
            set(plan_sparse_slices(z0, z1, s).tolist()) | {_middle_slice(z0, z1)}
        slices |= planned
        calls += len(planned)
    return {"encoder_passes": len(slices), "decoder_calls": calls}
