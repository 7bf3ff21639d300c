"""Failure analysis: where two methods disagree most, and whether LiteMedSAM knows it failed.

The one place the failure gallery is computed (:func:`classicseg.viz.failure_gallery` and
:class:`classicseg.widgets.FailureGallery` only draw the rows they are given):

* :class:`GalleryRow` -- one row: a case (or one box's neighbourhood), its ground truth,
  every method's prediction, DSC and LiteMedSAM's ``iou_pred``;
* :func:`case_row` / :func:`box_rows` -- one row per case or per box (cropped around it);
* :func:`gap_rows` / :func:`rank_by_gap` / :func:`split_winners` -- the DSC gap between two
  methods, rows ranked by it, and the rows each method wins most clearly;
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
>>> good = SegmentationResult.empty((20, 20), 1); good.add_box(0, gt == 1, method="a")
>>> bad = SegmentationResult.empty((20, 20), 1); bad.add_box(0, gt == 2, method="b")
>>> [round(r.gap, 2) for r in rank_by_gap([case_row(case, {"a": good, "b": bad})], "a", "b")]
[1.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np

from ..boxes import box_slices
from ..io import Case
from ..metrics import dice, score_case
from ..result import SegmentationResult

__all__ = ["GalleryRow", "case_row", "box_rows", "gap_rows", "rank_by_gap", "split_winners",
           "flag_failures", "flag_curve", "flag_quality", "spearman", "model_passes"]


@dataclass(frozen=True, eq=False)
class GalleryRow:
    """One row of a failure gallery: what was segmented, the truth and each method's answer.

    Made by :func:`case_row` (a whole case) or :func:`box_rows` (one box, cropped around
    it); :func:`gap_rows` / :func:`rank_by_gap` set :attr:`gap` and keep two methods.

    Attributes
    ----------
    name : str
        Case name, or ``"<case> #<label>"`` for a box.
    image, gt : ndarray
        The image (or crop) and its ground-truth instance map (a box row: binary crop).
    preds : mapping of str -> ndarray
        Method name -> predicted instance map (a box row: binary crop), same shape as ``gt``.
    dsc : mapping of str -> float
        Method name -> DSC (a case row: the challenge's case DSC; a box row: the Dice of the
        box's label on the full image).
    boxes : ndarray or None
        The prompt boxes in the row's coordinates.
    case : str or None
        The case the row comes from.
    modality : str or None
    synthetic : bool
        Drawn with a "(synthetic)" tag.
    seconds : mapping of str -> float
        Case rows: each method's run time (NaN for plain arrays).
    iou_pred : mapping of str -> float
        Box rows: LiteMedSAM's own quality estimate, for results that report one.
    box_index, gt_pixels, box_pixels : int or None
        Box rows: the box's index, its object's and its own size in pixels.
    pixels : mapping of str -> int
        Box rows: method name -> predicted pixels of the box's label.
    gap : float
        ``dsc[a] - dsc[b]`` once :func:`gap_rows` compared two methods, else NaN.
    slice_index : int or None
        Volumes: the slice to draw (default: the one with most ground truth).
    """

    name: str
    image: np.ndarray
    gt: np.ndarray
    preds: Mapping[str, Any]
    dsc: Mapping[str, float]
    boxes: np.ndarray | None = None
    case: str | None = None
    modality: str | None = None
    synthetic: bool = False
    seconds: Mapping[str, float] = field(default_factory=dict)
    iou_pred: Mapping[str, float] = field(default_factory=dict)
    box_index: int | None = None
    gt_pixels: int | None = None
    box_pixels: int | None = None
    pixels: Mapping[str, int] = field(default_factory=dict)
    gap: float = math.nan
    slice_index: int | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        """The method names, in ``preds`` order."""
        return tuple(self.preds)

    def __repr__(self) -> str:  # arrays would flood a notebook
        gap = "" if math.isnan(self.gap) else f", gap={self.gap:+.3f}"
        dsc = ", ".join(f"{k}: {v:.3f}" for k, v in self.dsc.items())
        return f"GalleryRow({self.name!r}, dsc={{{dsc}}}{gap})"


def _segs(result, shape, what: str) -> np.ndarray:
    segs = result.segs if isinstance(result, SegmentationResult) else np.asarray(result)
    if segs.shape != tuple(shape):
        raise ValueError(f"{what}: prediction shape {segs.shape} differs from the case's "
                         f"{tuple(shape)}")
    return segs


def _check_case(case: Case, results: Mapping) -> None:
    if case.gts is None:
        raise ValueError(f"{case.name}: the case has no ground truth (gts) to score against")
    if not results:
        raise ValueError("results: give at least one method name -> SegmentationResult")


def case_row(case: Case, results: Mapping, *, flavour: str = "challenge") -> GalleryRow:
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
    GalleryRow
        ``dsc`` is the challenge's case DSC (mean over labels), ``seconds`` each result's
        run time (NaN for plain arrays).
    """
    _check_case(case, results)
    spacing = case.spacing if case.is_3d else None
    preds = {k: _segs(v, case.spatial_shape, f"results[{k!r}]") for k, v in results.items()}
    return GalleryRow(
        name=case.name, image=case.image, gt=case.gts, preds=preds, boxes=case.boxes,
        case=case.name, modality=case.modality, synthetic=case.synthetic,
        dsc={k: float(score_case(case.gts, p, spacing=spacing, flavour=flavour)["dsc"])
             for k, p in preds.items()},
        seconds={k: float(getattr(v, "seconds", math.nan)) for k, v in results.items()})


def box_rows(case: Case, results: Mapping, *, margin: int = 8) -> list[GalleryRow]:
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
    list of GalleryRow
        Per box: ``name`` ``"<case> #<label>"``, binary crops of GT and predictions, the box
        in crop coordinates, ``dsc`` (the Dice of the box's label on the full image),
        ``iou_pred``, ``gt_pixels``, ``pixels`` and ``box_pixels``.

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> gt = np.zeros((30, 30), np.uint16); gt[5:9, 5:9] = 1; gt[20:25, 20:25] = 2
    >>> case = Case("2DBox_US_toy", np.zeros((30, 30, 3), np.uint8),
    ...             np.array([[4, 4, 9, 9], [19, 19, 25, 25]]), gts=gt)
    >>> rows = box_rows(case, {"gt itself": gt}, margin=2)
    >>> [(r.name, r.dsc["gt itself"], r.image.shape) for r in rows]
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
            has_record = isinstance(v, SegmentationResult) and i < len(v.boxes)
            extra = v.boxes[i].extra if has_record else {}
            if "iou_pred" in extra:
                iou[k] = float(extra["iou_pred"])
        rows.append(GalleryRow(
            name=f"{case.name} #{label}", image=case.image[where], gt=g[where].astype(np.uint8),
            preds={k: (p[where] == label).astype(np.uint8) for k, p in preds.items()},
            dsc={k: dice(g, p == label) for k, p in preds.items()}, boxes=local[None],
            case=case.name, modality=case.modality, synthetic=case.synthetic, iou_pred=iou,
            box_index=i, gt_pixels=int(g.sum()),
            box_pixels=int(np.prod([sl.stop - sl.start for sl in box_slices(box)])),
            pixels={k: int((p == label).sum()) for k, p in preds.items()}))
    return rows


def _restrict(mapping: Mapping, names: tuple[str, str]) -> dict:
    return {k: mapping[k] for k in names if k in mapping}


def gap_rows(rows: Iterable[GalleryRow], a: str, b: str) -> list[GalleryRow]:
    """The rows compared on two methods, in their order: ``gap = dsc[a] - dsc[b]`` set and
    the per-method mappings restricted to ``a`` and ``b`` (in that order).

    What :func:`classicseg.viz.failure_gallery` draws when the order of the rows (e.g. box
    order) matters more than the ranking; :func:`rank_by_gap` sorts these rows.

    Examples
    --------
    >>> z = np.zeros((2, 2), np.uint8)
    >>> rows = [GalleryRow("x", z, z, {"p": z, "q": z, "r": z}, {"p": .9, "q": .5, "r": 0.})]
    >>> [(r.methods, round(r.gap, 1)) for r in gap_rows(rows, "q", "p")]
    [(('q', 'p'), -0.4)]
    """
    if a == b:
        raise ValueError(f"a and b must name two different methods, got {a!r} twice")
    pair = (a, b)
    out = []
    for r in rows:
        if a not in r.dsc or b not in r.dsc:
            raise ValueError(f"row {r.name!r} has no DSC for both {a!r} and {b!r} "
                             f"(has {sorted(r.dsc)})")
        out.append(replace(r, gap=float(r.dsc[a]) - float(r.dsc[b]), preds=_restrict(r.preds, pair),
                           dsc=_restrict(r.dsc, pair), seconds=_restrict(r.seconds, pair),
                           iou_pred=_restrict(r.iou_pred, pair), pixels=_restrict(r.pixels, pair)))
    return out


def rank_by_gap(rows: Iterable[GalleryRow], a: str, b: str, *,
                absolute: bool = False) -> list[GalleryRow]:
    """Rows ranked by the DSC gap ``dsc[a] - dsc[b]``, largest first (NaN gaps last).

    Parameters
    ----------
    rows : iterable of GalleryRow
        From :func:`case_row` / :func:`box_rows`.
    a, b : str
        The two methods compared.
    absolute : bool
        Rank by ``|gap|`` instead: the largest disagreement either way first (what a
        gallery of "where the two differ most" shows). Ties keep the input order.

    Returns
    -------
    list of GalleryRow
        The rows of :func:`gap_rows` (``gap`` set, mappings restricted to ``a`` and ``b``),
        sorted. With signed ranking the first rows are where ``a`` wins most, the last
        where ``b`` wins most.

    Examples
    --------
    >>> z = np.zeros((2, 2), np.uint8)
    >>> rows = [GalleryRow(n, z, z, {"p": z, "q": z}, {"p": p, "q": q})
    ...         for n, p, q in [("x", .9, .5), ("y", .2, .8), ("w", .5, .5)]]
    >>> [(r.name, round(r.gap, 1)) for r in rank_by_gap(rows, "p", "q")]
    [('x', 0.4), ('w', 0.0), ('y', -0.6)]
    >>> [r.name for r in rank_by_gap(rows, "p", "q", absolute=True)]
    ['y', 'x', 'w']
    """
    def key(r: GalleryRow) -> float:
        if math.isnan(r.gap):
            return math.inf
        return -abs(r.gap) if absolute else -r.gap

    return sorted(gap_rows(rows, a, b), key=key)


def split_winners(ranked: Iterable[GalleryRow], *, n: int = 3,
                  min_gap: float = 0.0) -> tuple[list[GalleryRow], list[GalleryRow]]:
    """The rows each method wins most clearly, from :func:`rank_by_gap`'s output.

    Parameters
    ----------
    ranked : iterable of GalleryRow
        Rows with ``gap`` set (``dsc[a] - dsc[b]``), e.g. from :func:`rank_by_gap`.
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
    >>> z = np.zeros((2, 2), np.uint8)
    >>> rows = [GalleryRow(str(g), z, z, {}, {}, gap=g) for g in (0.5, 0.01, -0.2, -0.7)]
    >>> a, b = split_winners(rows, n=2, min_gap=0.05)
    >>> [r.gap for r in a], [r.gap for r in b]
    ([0.5], [-0.7, -0.2])
    """
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    if not min_gap >= 0:
        raise ValueError(f"min_gap must be >= 0, got {min_gap!r}")
    valid = [r for r in ranked if not math.isnan(float(r.gap))]
    a_wins = sorted((r for r in valid if r.gap > min_gap), key=lambda r: -r.gap)[: int(n)]
    b_wins = sorted((r for r in valid if r.gap < -min_gap), key=lambda r: r.gap)[: int(n)]
    return a_wins, b_wins


def _pairs(iou_pred, dice_values) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(iou_pred, dtype=np.float64).ravel()
    y = np.asarray(dice_values, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"iou_pred and dice must have the same length, got {x.size} and {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def flag_failures(iou_pred, dice_values, *, threshold: float, fail_below: float = 0.5) -> dict:
    """How well "flag a box when ``iou_pred < threshold``" finds boxes with Dice < ``fail_below``.

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
        thresholds = (np.concatenate([np.unique(x), [np.nextafter(x.max(), np.inf)]]) if x.size
                      else [])
    return [flag_failures(x, y, threshold=float(t), fail_below=fail_below) for t in thresholds]


def flag_quality(iou_pred, dice_values, *, fail_below: float = 0.5) -> dict:
    """How well the predicted IoU ranks failures, threshold-free (scikit-learn's metrics).

    A low predicted IoU should mean a failure (Dice < ``fail_below``), so the score of
    "failure" is ``-iou_pred``. Returns ``roc_auc`` (0.5 = no better than chance, 1 = every
    failure ranked below every success), ``average_precision`` (area under the precision-recall
    curve; chance = the failure rate), ``prevalence``, ``n`` and ``failures``. NaN scores when
    every box fails or none does.

    Examples
    --------
    >>> q = flag_quality([0.9, 0.95, 0.6, 0.85], [0.9, 0.3, 0.2, 0.95])
    >>> q["roc_auc"], q["prevalence"]
    (0.5, 0.5)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    x, y = _pairs(iou_pred, dice_values)
    fail = y < fail_below
    out = {"n": int(x.size), "failures": int(fail.sum()),
           "prevalence": float(fail.mean()) if x.size else math.nan,
           "roc_auc": math.nan, "average_precision": math.nan}
    if 0 < fail.sum() < x.size:
        out["roc_auc"] = float(roc_auc_score(fail, -x))
        out["average_precision"] = float(average_precision_score(fail, -x))
    return out


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


def model_passes(case: Case, route, *, grid: str = "box", crop: bool = False) -> dict:
    """LiteMedSAM work a route implies: encoder passes and decoder calls (nothing is run).

    The encoder dominates the run time on a CPU. Whole-image inference encodes each 2D image
    or predicted slice once, shared by every box on it (boxes overlapping in z share slices,
    more of them with ``grid="volume"``); crop-then-infer encodes one window per box and
    slice. Each box on each predicted slice costs one decoder call. The slices are those of
    :func:`classicseg.models.litemedsam.geometry.slice_plan`, the predictor's own plan.

    Parameters
    ----------
    case : Case
    route : classicseg.pipeline.router.Route
        E.g. ``Pipeline().route(case)``; only ``method`` and ``s`` are used. Methods other
        than ``"litemedsam"`` cost no model passes.
    grid : {"box", "volume"}
        Where sparse slices sit (``LiteMedSAM.segment(grid=...)``).
    crop : bool
        Crop-then-infer (``LiteMedSAM.segment(crop=True)``, ``Pipeline(crop=True)``).

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
    >>> every, third = Route("litemedsam", "", s=1), Route("litemedsam", "", s=3)
    >>> model_passes(ct, every), model_passes(ct, third)
    ({'encoder_passes': 22, 'decoder_calls': 22}, {'encoder_passes': 9, 'decoder_calls': 9})
    >>> two = Case("3DBox_CT_toy", ct.image, np.array([[2, 2, 2, 9, 9, 23], [2, 2, 4, 9, 9, 23]]))
    >>> [model_passes(two, third, grid=g)["encoder_passes"] for g in ("box", "volume")]
    [16, 11]
    >>> model_passes(two, third, crop=True)    # one window per box and slice
    {'encoder_passes': 17, 'decoder_calls': 17}
    """
    from ..models.litemedsam.geometry import slice_plan

    if grid not in ("box", "volume"):
        raise ValueError(f"grid must be 'box' or 'volume', got {grid!r}")
    if route.method != "litemedsam" or case.n_boxes == 0:
        return {"encoder_passes": 0, "decoder_calls": 0}
    if not case.is_3d:
        n = int(case.n_boxes)
        return {"encoder_passes": n if crop else 1, "decoder_calls": n}
    if not isinstance(route.s, int):  # adaptive: slices depend on the predictions; count the
        # passes its budget allows per box (an upper bound: it may stop early)
        from ..models.litemedsam.slice_selection import parse_slice_plan

        plan = parse_slice_plan(route.s)
        calls = sum(plan.budget_for(z0, z1)
                    for _, _, z0, _, _, z1 in np.asarray(case.boxes, dtype=np.int64))
        return {"encoder_passes": calls, "decoder_calls": calls}
    plans = [set().union(*slice_plan(z0, z1, int(route.s), grid))
             for _, _, z0, _, _, z1 in np.asarray(case.boxes, dtype=np.int64)]
    calls = sum(len(p) for p in plans)
    # whole-image slices are encoded once for all boxes (the predictor's embedding cache)
    return {"encoder_passes": calls if crop else len(set().union(*plans)), "decoder_calls": calls}
