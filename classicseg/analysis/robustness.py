"""How much does each method care about the box? Jitter, loosen, tighten and shift it.

The challenge hands every method a tight box; a user draws a sloppy one. :func:`box_robustness`
re-runs every method on perturbed boxes (:func:`classicseg.boxes.perturb_boxes`, seeded per
case so that every method sees the same boxes) and scores each prediction against the case's
unchanged ground truth with :func:`classicseg.metrics.score_case`. Methods run through the
pipeline (:class:`classicseg.pipeline.core.Pipeline`), so a method name is anything
:func:`classicseg.pipeline.router.normalize_method` accepts, plus ``"paper"`` (the paper's
router, also ``"auto"``) and ``"baseline"`` (LiteMedSAM everywhere, no post-processing).

Kinds of perturbation (:data:`KINDS`): ``jitter`` (each side by up to ± amount px, at random),
``scale`` (box size x amount about the centre), ``shift`` (amount px right *and* down). The
amounts ``jitter 0``, ``scale 1`` and ``shift 0`` are the boxes as given.

LiteMedSAM encodes each image once per call; across perturbations only the boxes change, so
the default model provider (:class:`EmbeddingCacheModels`) keeps image embeddings and the
encoder runs once per image. The encoder time saved is added back to each row's ``seconds``,
so times are what an uncached run costs.

Examples
--------
>>> import numpy as np
>>> from classicseg.io import Case
>>> img = np.zeros((40, 40, 3), np.uint8); img[10:30, 10:30] = 200
>>> gt = (img[..., 0] > 0).astype(np.uint8)
>>> case = Case("2DBox_Microscopy_toy", img, np.array([[8, 8, 31, 31]]), gts=gt)
>>> rows = box_robustness([case], ["kmeans"], perturbations={"scale": (1.0, 1.5)})
>>> [(r.kind, r.amount, round(r.dsc, 3)) for r in rows]
[('scale', 1.0, 1.0), ('scale', 1.5, 1.0)]
>>> summarize_robustness(rows)[0]["dsc"]
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

from ..boxes import BoxPerturbation
from ..io import Case
from ..metrics import score_case
from ..pipeline.core import Models, Pipeline

__all__ = ["RobustnessRow", "box_robustness", "summarize_robustness", "robustness_table",
           "method_pipeline", "EmbeddingCacheModels", "KINDS", "DEFAULT_PERTURBATIONS",
           "NEUTRAL"]


@dataclass(frozen=True)
class _Kind:
    #: amount -> BoxPerturbation keywords
    perturbation: Callable[[float], dict]
    #: the amount that leaves the boxes as given
    neutral: float
    #: True: the amount draws at random (repeats differ)
    random: bool = False
    unit: str = "px"


#: kind -> how an amount becomes a :class:`~classicseg.boxes.BoxPerturbation`.
KINDS: dict[str, _Kind] = {
    "jitter": _Kind(lambda a: {"jitter": a}, 0, random=True),
    "scale": _Kind(lambda a: {"scale": a}, 1.0, unit="x box size"),
    "shift": _Kind(lambda a: {"shift": (a, a)}, 0),
}
#: kind -> the amount that is no perturbation (the reference of ``dsc_change``).
NEUTRAL = {k: v.neutral for k, v in KINDS.items()}
#: jitter as in the challenge's training (about ±5 px) and beyond; loosen / tighten by 20-50 %.
DEFAULT_PERTURBATIONS: dict[str, tuple] = {"jitter": (0, 5, 10, 20),
                                           "scale": (0.8, 1.0, 1.2, 1.5),
                                           "shift": (0, 5, 10)}


@dataclass(frozen=True)
class RobustnessRow:
    """One method on one case with one perturbed box set.

    Attributes
    ----------
    method : str
        The pipeline's name (``"paper"``, ``"baseline"``, ``"litemedsam"``, ``"kmeans"``, ...).
    kind : str
        ``"jitter"``, ``"scale"`` or ``"shift"`` (:data:`KINDS`).
    amount : float
        Pixels (jitter, shift) or the size factor (scale).
    case : str
    dsc, nsd : float
        Case scores against the unchanged ground truth; 0 when the method failed (challenge
        practice, as for ``classicseg compare``'s baseline and paper pipelines).
    seconds : float
        Warm time of the segmentation (encoder time of a cached embedding added back); NaN
        when the method failed.
    repeat : int
        Which draw of a random perturbation (0 for the others).
    modality : str or None
    route : str or None
        The method that actually ran (the paper's router may change its mind with the box).
    error : str or None
        ``"Type: message"`` when the method failed on this box set.
    """

    method: str
    kind: str
    amount: float
    case: str
    dsc: float
    nsd: float
    seconds: float
    repeat: int = 0
    modality: str | None = None
    route: str | None = None
    error: str | None = None


# --------------------------------------------------------------------------- embedding cache

class EmbeddingCacheModels(Models):
    """:class:`~classicseg.pipeline.core.Models` whose LiteMedSAM keeps image embeddings.

    A study that re-prompts the same image with many boxes pays the encoder once per image.
    :attr:`seconds_saved` is the encoder time the cache saved so far (what
    :func:`box_robustness` adds back to its times).

    Parameters
    ----------
    max_entries : int
        Embeddings kept (4 MiB each; a 3D volume needs one per slice).
    **kwargs
        As for :class:`~classicseg.pipeline.core.Models`.
    """

    def __init__(self, *, max_entries: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.max_entries = int(max_entries)
        self._cache = None

    def _key(self, name: str, *extra) -> tuple:
        return super()._key(name, *extra) + (self.max_entries,)

    def load_litemedsam(self):
        from ..models.litemedsam.embedding_cache import EmbeddingCache

        model = super().load_litemedsam()
        # this Models' own copy of the model keeps the cache switched on for its lifetime
        model.embedding_cache = EmbeddingCache(model, max_entries=self.max_entries)
        model.embedding_cache.__enter__()
        return model

    def litemedsam(self):
        model = super().litemedsam()
        self._cache = getattr(model, "embedding_cache", None)
        return model

    @property
    def seconds_saved(self) -> float:
        """Encoder seconds the cache has saved (0 before LiteMedSAM is used)."""
        return self._cache.seconds_saved if self._cache is not None else 0.0


# --------------------------------------------------------------------------- the study

#: study names that are pipelines rather than forced methods
_PIPELINES: dict[str, Callable[[Models], Pipeline]] = {
    "paper": lambda models: Pipeline(models=models),
    "auto": lambda models: Pipeline(models=models),
    "baseline": lambda models: Pipeline(mode="baseline", models=models),
}


def method_pipeline(method, *, models: Models | None = None) -> Pipeline:
    """The :class:`~classicseg.pipeline.core.Pipeline` a study runs for ``method``.

    ``"paper"`` / ``"auto"``: the paper's router; ``"baseline"``: LiteMedSAM everywhere;
    any other name is forced on every case (``"kmeans"``, ``"medsam"``, and whatever the
    router registers); a :class:`Pipeline` is used as it is.

    Examples
    --------
    >>> method_pipeline("medsam").name, method_pipeline("auto").name
    ('litemedsam', 'paper')
    """
    if isinstance(method, Pipeline):
        return method
    models = models if models is not None else Models()
    key = str(method).strip().lower()
    if key in _PIPELINES:
        return _PIPELINES[key](models)
    from ..pipeline.router import normalize_method

    canon = normalize_method(method)  # ValueError naming the choices
    return Pipeline(method=canon, name=canon, models=models)


def _amounts(perturbations) -> list[tuple[str, float]]:
    if perturbations is None:
        perturbations = DEFAULT_PERTURBATIONS
    if isinstance(perturbations, Mapping):
        pairs = [(k, a) for k, amounts in perturbations.items() for a in amounts]
    else:
        pairs = [tuple(p) for p in perturbations]
    for p in pairs:
        if len(p) != 2 or p[0] not in KINDS:
            raise ValueError(f"perturbations: {p!r} is not (kind, amount) with kind one of "
                             f"{sorted(KINDS)}")
    return pairs


def _run(pipe: Pipeline, case: Case, models) -> tuple[float, float, float, str | None, str | None]:
    saved = getattr(models, "seconds_saved", 0.0)
    try:
        res = pipe.segment(case)
    except Exception as exc:  # one failing box set must not hide the rest
        return 0.0, 0.0, math.nan, None, f"{type(exc).__name__}: {exc}"
    seconds = res.seconds + (getattr(models, "seconds_saved", 0.0) - saved)
    spacing = (case.spacing or (1.0, 1.0, 1.0)) if case.is_3d else None  # unknown: voxels
    s = score_case(case.gts, res.segs, spacing=spacing)
    return float(s["dsc"]), float(s["nsd"]), seconds, res.extra.get("route", {}).get("method"), None


def _applicable(pipe: Pipeline, case: Case) -> bool:
    try:
        pipe.route(case)
    except ValueError:  # e.g. k-means on a volume: not applicable, as compare skips it
        return False
    return True


def box_robustness(cases: Iterable[Case], methods, *, perturbations=None, seed: int = 0,
                   n_repeats: int = 1, models: Models | None = None,
                   progress: bool = False) -> list[RobustnessRow]:
    """Run every method on every case with perturbed boxes and score each prediction.

    Parameters
    ----------
    cases : iterable of Case
        With ground truth (``gts``); the boxes are perturbed, the ground truth is not.
    methods : iterable of str or Pipeline
        See :func:`method_pipeline`. A method that cannot run on a case (its route raises,
        e.g. k-means on a 3D volume) is skipped for that case, for every perturbation.
    perturbations : mapping or iterable of (kind, amount), optional
        ``{"jitter": (0, 5), "scale": (1.0, 1.5)}`` or ``[("jitter", 5), ...]``; default
        :data:`DEFAULT_PERTURBATIONS`.
    seed : int >= 0
        Jitter of case ``c``, repeat ``r`` from ``default_rng([seed, crc32(c), r])``
        (:class:`~classicseg.boxes.BoxPerturbation`): every method gets the same boxes, and
        ``classicseg compare --box-jitter J --box-seed seed`` the same as repeat 0.
    n_repeats : int >= 1
        Draws of each random perturbation (jitter > 0); the others run once.
    models : Models, optional
        Model provider; default a fresh :class:`EmbeddingCacheModels`.
    progress : bool
        A tqdm bar over the runs.

    Returns
    -------
    list of RobustnessRow
        Case by case, perturbation by perturbation, repeat by repeat, method by method.
    """
    cases = list(cases)
    for c in cases:
        if c.gts is None:
            raise ValueError(f"cases: {c.name} has no ground truth (gts) to score against")
    if isinstance(n_repeats, bool) or int(n_repeats) != n_repeats or n_repeats < 1:
        raise ValueError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")
    models = models if models is not None else EmbeddingCacheModels()
    pipes = [method_pipeline(m, models=models) for m in methods]
    names = [p.name for p in pipes]
    if not pipes or len(set(names)) != len(names):
        raise ValueError(f"methods must be a non-empty list of different methods, got {names}")
    pairs = _amounts(perturbations)
    plans = [(case, kind, amount, r, BoxPerturbation(seed=seed, **KINDS[kind].perturbation(amount)))
             for case in cases for kind, amount in pairs
             for r in range(n_repeats if KINDS[kind].random and amount != KINDS[kind].neutral
                            else 1)]
    ok = {(c.name, p.name): _applicable(p, c) for c in cases for p in pipes}
    from tqdm.auto import tqdm

    rows = []
    with tqdm(total=sum(ok.values()) * len(plans) // max(len(cases), 1), disable=not progress,
              desc="box robustness", unit="run") as bar:
        for case, kind, amount, r, perturbation in plans:
            boxes = perturbation.apply(case.boxes, case.spatial_shape, name=case.name, repeat=r)
            moved = replace(case, boxes=boxes)  # same name, image and ground truth
            for pipe in pipes:
                if not ok[case.name, pipe.name]:
                    continue
                dsc, nsd, seconds, ran, error = _run(pipe, moved, models)
                rows.append(RobustnessRow(pipe.name, kind, amount, case.name, dsc, nsd, seconds,
                                          r, case.modality, ran, error))
                bar.update(1)
    return rows


# --------------------------------------------------------------------------- summaries

def _mean(values) -> float:
    v = [x for x in values if not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


def summarize_robustness(rows: Iterable[RobustnessRow]) -> list[dict]:
    """Mean DSC / NSD / seconds per method, kind and amount (over cases and repeats).

    Each dict: ``method, kind, amount, n, dsc, nsd, seconds, failed`` and ``dsc_change``
    (mean DSC minus the same method's at the kind's neutral amount, over the same cases;
    NaN when that amount was not run). Rows come in first-seen method order, then kind,
    then ascending amount.

    Examples
    --------
    >>> rows = [RobustnessRow("a", "jitter", 0, "c", 0.9, 0.8, 0.1),
    ...         RobustnessRow("a", "jitter", 5, "c", 0.7, 0.6, 0.1, repeat=0),
    ...         RobustnessRow("a", "jitter", 5, "c", 0.5, 0.4, 0.1, repeat=1)]
    >>> [(s["amount"], s["n"], round(s["dsc"], 2), round(s["dsc_change"], 2))
    ...  for s in summarize_robustness(rows)]
    [(0, 1, 0.9, 0.0), (5, 2, 0.6, -0.3)]
    """
    groups: dict[tuple, list[RobustnessRow]] = {}
    for r in rows:
        groups.setdefault((r.method, r.kind, r.amount), []).append(r)
    order = {m: i for i, m in enumerate(dict.fromkeys(k[0] for k in groups))}
    kinds = {k: i for i, k in enumerate(KINDS)}
    out = []
    for (method, kind, amount), g in sorted(groups.items(),
                                            key=lambda kv: (order[kv[0][0]], kinds.get(kv[0][1]),
                                                            kv[0][2])):
        ref = groups.get((method, kind, NEUTRAL.get(kind)))
        change = math.nan
        if ref is not None:
            base = {r.case: r.dsc for r in ref}
            deltas = [r.dsc - base[r.case] for r in g if r.case in base]
            change = _mean(deltas)
        out.append({"method": method, "kind": kind, "amount": amount, "n": len(g),
                    "dsc": _mean(r.dsc for r in g), "nsd": _mean(r.nsd for r in g),
                    "seconds": _mean(r.seconds for r in g),
                    "failed": sum(r.error is not None for r in g), "dsc_change": change})
    return out


def robustness_table(rows: Iterable[RobustnessRow], *, kind: str, metric: str = "dsc") -> str:
    """Markdown table for one ``kind``: one line per method, one column per amount (mean
    ``metric``, or ``dsc_change``).

    Examples
    --------
    >>> rows = [RobustnessRow("kmeans", "scale", a, "c", d, d, 0.1)
    ...         for a, d in [(1.0, 0.9), (1.5, 0.6)]]
    >>> print(robustness_table(rows, kind="scale"))
    | method | scale 1 | scale 1.5 |
    |--------|---------|-----------|
    | kmeans | 0.900   | 0.600     |
    """
    from ..evaluation.report import markdown_table

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    summary = [s for s in summarize_robustness(rows) if s["kind"] == kind]
    amounts = sorted({s["amount"] for s in summary})
    methods = list(dict.fromkeys(s["method"] for s in summary))
    cell = {(s["method"], s["amount"]): s[metric] for s in summary}
    body = [[m] + [("n/a" if math.isnan(v := cell.get((m, a), math.nan)) else f"{v:.3f}")
                   for a in amounts] for m in methods]
    return markdown_table(["method"] + [f"{kind} {a:g}" for a in amounts], body)
