"""Small measurement helpers behind the teaching notebooks (``notebooks/*.py``).

The notebooks only call classicseg, explain and plot; every computation they show lives in
the library. This module holds the few measurements that exist for teaching rather than for
the pipeline: a tolerant area overlap (what the challenge's 2D NSD really measures), a sweep
over the slice step ``s``, pooled-threshold studies for PET/OCT, per-box comparison tables
and box perturbations. Failure ranking and predicted-IoU analysis live in
:mod:`classicseg.analysis.failures`, method-by-method scores in :mod:`classicseg.analysis.scores`;
the segmenters and mask transforms the lessons use live in :mod:`classicseg.methods`
(``ellipse``, ``postprocess``, ``interpolation``) and the figures in :mod:`classicseg.viz`.

Numpy, scipy and classicseg only; no torch (models are passed in as callables).

Examples
--------
>>> import numpy as np
>>> gt = np.zeros((40, 40), bool); gt[10:30, 10:30] = True
>>> round(tolerant_area_overlap(gt, shifted(gt, 0, 6)), 3)   # 6 px shift, tolerance 2 px
0.8
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Mapping

import numpy as np
from scipy import ndimage as ndi

from ..metrics import dice, score_case

__all__ = [
    "tolerant_area_overlap", "shifted", "per_box_dice", "subsampling_sweep", "box_values",
    "threshold_study", "subset_case", "per_box_table", "scaled_boxes",
]


def _mask(a, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{what} must be a 2D or 3D mask, got shape {a.shape}")
    return a != 0


def tolerant_area_overlap(gt_mask, seg_mask, *, tolerance: float = 2.0) -> float:
    """Share of both *areas* lying within ``tolerance`` pixels of the other area.

    ``(|G ∩ D(S)| + |S ∩ D(G)|) / (|G| + |S|)``, with ``D(X)`` the pixels at Euclidean
    distance ``<= tolerance`` from ``X``. This is what the challenge's 2D NSD approximates:
    the official code scores a 2D mask as a one-voxel-thick slab whose top and bottom faces
    are "surface", so almost every pixel of the object counts as surface (see
    :mod:`classicseg.metrics`). A contour NSD, in contrast, only looks at the boundary.

    Parameters
    ----------
    gt_mask, seg_mask : array_like
        Masks of the same 2D (or 3D, isotropic voxels) shape; non-zero is foreground.
    tolerance : float
        In pixels (challenge: 2).

    Returns
    -------
    float
        In [0, 1]; NaN if both masks are empty, 0 if one is.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((20, 20), bool); a[5:15, 5:15] = True
    >>> tolerant_area_overlap(a, shifted(a, 0, 2)), tolerant_area_overlap(a, shifted(a, 0, 4))
    (1.0, 0.8)
    """
    g, s = _mask(gt_mask, "gt_mask"), _mask(seg_mask, "seg_mask")
    if g.shape != s.shape:
        raise ValueError(f"gt_mask {g.shape} and seg_mask {s.shape} differ in shape")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    ng, ns = int(g.sum()), int(s.sum())
    if ng == 0 and ns == 0:
        return math.nan
    if ng == 0 or ns == 0:
        return 0.0
    near_s = ndi.distance_transform_edt(~s) <= tolerance
    near_g = ndi.distance_transform_edt(~g) <= tolerance
    return float((np.count_nonzero(g & near_s) + np.count_nonzero(s & near_g)) / (ng + ns))


def shifted(mask, dy: int, dx: int) -> np.ndarray:
    """``mask`` (2D) moved by ``dy`` rows and ``dx`` columns; what leaves the frame is lost.

    Unlike ``np.roll`` nothing wraps around, so a shifted object never reappears on the
    opposite border.

    Examples
    --------
    >>> import numpy as np
    >>> shifted(np.eye(3, dtype=bool), 0, 1).astype(int)
    array([[0, 1, 0],
           [0, 0, 1],
           [0, 0, 0]])
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2D, got shape {m.shape}")
    out = np.zeros_like(m)
    h, w = m.shape
    dy, dx = int(dy), int(dx)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = m[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def per_box_dice(gts, segs) -> np.ndarray:
    """Dice of every instance label ``1..max(gts)`` (box order), NaN where both lack it.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.array([[1, 1, 0, 2]]); seg = np.array([[1, 0, 0, 2]])
    >>> per_box_dice(gt, seg).round(3).tolist()
    [0.667, 1.0]
    """
    g, s = np.asarray(gts), np.asarray(segs)
    if g.shape != s.shape:
        raise ValueError(f"gts {g.shape} and segs {s.shape} differ in shape")
    n = int(g.max()) if g.size else 0
    return np.array([dice(g == k, s == k) for k in range(1, n + 1)], float)


def subsampling_sweep(segment: Callable, case, s_values: Iterable[int] = (1, 2, 3, 6, 8), *,
                      flavour: str = "challenge", reference_s: int = 1) -> list[dict]:
    """Run a 3D segmenter for each slice step ``s`` and measure Dice, NSD and time.

    The paper's Table 5: LiteMedSAM on every ``s``-th slice plus shape interpolation.

    Parameters
    ----------
    segment : callable
        ``segment(image, boxes, s=s) -> SegmentationResult`` (e.g. ``LiteMedSAM.segment``).
    case : Case
        A 3D case with ground truth ``gts`` and ``spacing``.
    s_values : iterable of int
        Slice steps, each >= 1.
    flavour : {"challenge", "correct"}
        NSD flavour.
    reference_s : int
        The sweep also reports ``dice_vs_ref``: each result's Dice against the result for this
        ``s`` (how much the interpolation changes the model's own output), when that ``s`` is
        in ``s_values``.

    Returns
    -------
    list of dict
        One row per ``s``: ``s``, ``dsc``, ``nsd``, ``seconds`` (wall time of the call),
        ``model_slices`` (slices the model predicted, summed over boxes, from the result's
        ``BoxRecord.extra["slices"]`` when present), ``dice_vs_ref``, ``segs``.
    """
    if not getattr(case, "is_3d", False) or case.gts is None:
        raise ValueError("case must be a 3D Case with ground truth (gts)")
    rows = []
    for s in s_values:
        if isinstance(s, bool) or int(s) != s or s < 1:
            raise ValueError(f"s_values must be integers >= 1, got {s!r}")
        t0 = time.perf_counter()
        res = segment(case.image, case.boxes, s=int(s))
        seconds = time.perf_counter() - t0
        sc = score_case(case.gts, res.segs, spacing=case.spacing, flavour=flavour)
        slices = [len(b.extra["slices"]) for b in res.boxes if "slices" in b.extra]
        rows.append({"s": int(s), "dsc": float(sc["dsc"]), "nsd": float(sc["nsd"]),
                     "seconds": seconds, "model_slices": int(sum(slices)) if slices else None,
                     "segs": res.segs})
    ref = next((r["segs"] for r in rows if r["s"] == reference_s), None)
    for r in rows:
        r["dice_vs_ref"] = float(dice(ref != 0, r["segs"] != 0)) if ref is not None else math.nan
    return rows


# --------------------------------------------------------------------------- thresholds (PET, OCT)
def box_values(image, boxes, *, channel: int = 0) -> np.ndarray:
    """The values inside all boxes, pooled into one flat array (what the paper thresholds).

    3D volumes: every voxel of every (N, 6) box. 2D images: channel ``channel`` of every
    (N, 4) box (OCT is grayscale stored as three equal channels). Overlapping boxes count
    their shared pixels twice, as in the paper's pooling.

    Examples
    --------
    >>> import numpy as np
    >>> vol = np.arange(27).reshape(3, 3, 3)
    >>> box_values(vol, [[0, 0, 0, 0, 0, 1]]).tolist()   # x = y = 0, z = 0..1
    [0, 9]
    """
    from ..boxes import box_slices

    img = np.asarray(image)
    b = np.asarray(boxes, dtype=np.int64)
    if b.size == 0:
        return np.zeros(0, img.dtype)
    b = b.reshape(-1, b.shape[-1])
    if img.ndim == 3 and b.shape[1] == 4 and img.shape[-1] in (3, 4):
        img = img[..., channel]
    if b.shape[1] != 2 * img.ndim:
        raise ValueError(f"boxes of width {b.shape[1]} do not fit an image of shape "
                         f"{np.asarray(image).shape}")
    return np.concatenate([img[box_slices(row)].ravel() for row in b])


def threshold_study(case, *, method: str = "ght", nu: float = 1e60, tau: float = 1e-30,
                    kappa: float = 0.0, omega: float = 0.5, force: bool = True,
                    **options) -> dict:
    """Segment a PET or OCT case with one histogram threshold and score it.

    PET uses :func:`classicseg.methods.pet.segment_pet` (bright lesions, 100 bins, volume
    forcing unless ``force=False``); OCT uses :func:`classicseg.methods.oct.segment_oct`
    (dark fluid, 10 bins; ``force`` is ignored). Extra ``options`` go to that function.

    Returns
    -------
    dict
        ``threshold``, ``dsc`` and ``nsd`` (challenge flavour), ``dsc_per_box``, ``forcing``
        (per box, PET), ``ratio_before`` / ``ratio_after`` (filled fraction of each box,
        PET) and ``result`` (the SegmentationResult).
    """
    if case.gts is None:
        raise ValueError(f"{case.name}: threshold_study needs ground truth (gts)")
    params = dict(method=method, nu=nu, tau=tau, kappa=kappa, omega=omega, **options)
    if case.modality == "PET":
        from ..methods.pet import segment_pet

        res = segment_pet(case.image, case.boxes, force=force, **params)
    elif case.modality == "OCT":
        from ..methods.oct import segment_oct

        res = segment_oct(case.image, case.boxes, **params)
    else:
        raise ValueError(f"{case.name}: threshold_study handles PET and OCT cases, "
                         f"not {case.modality!r}")
    sc = score_case(case.gts, res.segs, spacing=case.spacing if case.is_3d else None)
    ex = [b.extra for b in res.boxes]
    return {"threshold": float(ex[0]["threshold"]) if ex else math.nan, "dsc": float(sc["dsc"]),
            "nsd": float(sc["nsd"]), "dsc_per_box": per_box_dice(case.gts, res.segs),
            "forcing": [e.get("forcing", "") for e in ex],
            "ratio_before": [e.get("ratio_before", math.nan) for e in ex],
            "ratio_after": [e.get("ratio_after", math.nan) for e in ex], "result": res}


# --------------------------------------------------------------------------- per-box comparisons
def subset_case(case, indices):
    """A copy of ``case`` with only the boxes ``indices`` (in that order), GT relabelled to match.

    Running an expensive method (one encoder pass per box) on a handful of boxes keeps a
    notebook fast; the ground-truth ids are renumbered so that box ``k`` of the subset is
    label ``k + 1`` again. Name and metadata are kept (``meta["subset"]`` records the indices).

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> gt = np.array([[1, 2, 3]], np.uint16)
    >>> c = Case("2DBox_Microscopy_1", np.zeros((1, 3, 3), np.uint8),
    ...          np.array([[0, 0, 0, 0], [1, 0, 1, 0], [2, 0, 2, 0]]), gts=gt)
    >>> sub = subset_case(c, [2, 0])
    >>> sub.boxes.tolist(), sub.gts.tolist()
    ([[2, 0, 2, 0], [0, 0, 0, 0]], [[2, 0, 1]])
    """
    from dataclasses import replace

    idx = np.asarray(indices, dtype=np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= case.n_boxes):
        raise ValueError(f"indices must lie in 0..{case.n_boxes - 1}, got {idx.tolist()}")
    if len(set(idx.tolist())) != idx.size:
        raise ValueError(f"indices must not repeat, got {idx.tolist()}")
    gts = None
    if case.gts is not None:
        lut = np.zeros(max(int(case.gts.max()), case.n_boxes) + 1, np.uint16)
        lut[idx + 1] = np.arange(1, idx.size + 1)
        gts = lut[case.gts]
    return replace(case, boxes=case.boxes[idx].copy(), gts=gts,
                   meta={**case.meta, "subset": idx.tolist()})


def per_box_table(case, results: Mapping, *, iou_of: str | None = None) -> list[dict]:
    """One row per box: its size and every method's Dice on it (plus a model's predicted IoU).

    Parameters
    ----------
    case : Case
        With ground truth (label = box index + 1).
    results : dict
        Method name -> SegmentationResult (or label map) for the case's boxes.
    iou_of : str, optional
        Name in ``results`` whose ``BoxRecord.extra["iou_pred"]`` is copied as ``iou_pred``.

    Returns
    -------
    list of dict
        ``box`` (index), ``side`` (longest box side in pixels), ``area`` (box pixels),
        ``gt_pixels``, ``dsc`` (method -> the Dice of the box's label) and, with ``iou_of``,
        ``iou_pred``.

    Examples
    --------
    >>> import numpy as np
    >>> from classicseg.io import Case
    >>> gt = np.zeros((10, 10), np.uint16); gt[1:4, 1:4] = 1
    >>> case = Case("2DBox_US_toy", np.zeros((10, 10, 3), np.uint8), np.array([[0, 0, 4, 4]]),
    ...             gts=gt)
    >>> per_box_table(case, {"truth": gt, "nothing": 0 * gt})
    [{'box': 0, 'side': 5, 'area': 25, 'gt_pixels': 9, 'dsc': {'truth': 1.0, 'nothing': 0.0}}]
    """
    if case.gts is None:
        raise ValueError(f"{case.name}: per_box_table needs ground truth (gts)")
    from ..boxes import box_shape

    dices = {k: per_box_dice(case.gts, getattr(r, "segs", r)) for k, r in results.items()}
    rows = []
    for i, b in enumerate(case.boxes):
        shp = box_shape(b)
        row = {"box": i, "side": int(max(shp)), "area": int(np.prod(shp)),
               "gt_pixels": int(np.count_nonzero(case.gts == i + 1)),
               "dsc": {k: float(d[i]) if i < len(d) else math.nan for k, d in dices.items()}}
        if iou_of is not None:
            row["iou_pred"] = float(results[iou_of].boxes[i].extra.get("iou_pred", math.nan))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- box perturbations
def scaled_boxes(boxes, margin: float, shape) -> np.ndarray:
    """Boxes grown (``margin > 0``) or shrunk (``margin < 0``) by ``margin`` times their size.

    Each side moves by ``margin * (width or height)``, rounded, and the result is clipped to
    the image of spatial ``shape`` ((H, W) for 2D boxes). Used to test how sensitive a method is
    to a sloppy prompt: a real annotator's box is rarely tight.

    Examples
    --------
    >>> scaled_boxes([[10, 10, 19, 29]], 0.1, (40, 40)).tolist()  # 10 x 20 box, +1 / +2 px a side
    [[9, 8, 20, 31]]
    >>> scaled_boxes([[0, 0, 9, 9]], 0.5, (12, 12)).tolist()       # clipped to the image
    [[0, 0, 11, 11]]
    """
    from ..boxes import clip_box

    b = np.asarray(boxes, dtype=np.int64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) 2D boxes, got shape {b.shape}")
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > -0.5):
        raise ValueError(f"margin must be a finite number > -0.5, got {margin!r}")
    size = np.stack([b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1], 1)
    d = np.rint(margin * size).astype(np.int64)
    out = np.concatenate([b[:, :2] - d, b[:, 2:] + d], 1)
    out[:, 2:] = np.maximum(out[:, 2:], out[:, :2])  # a shrunk box keeps at least one pixel
    return np.array([clip_box(tuple(shape)[:2], row) for row in out], dtype=np.int64).reshape(-1, 4)
