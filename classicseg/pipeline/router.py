"""Which method segments a case: the paper's modality router (Fig. 1 / Table 1).

=========================  ==================================================================
modality                   paper's final submission
=========================  ==================================================================
CT, MR                     LiteMedSAM on every s-th slice (s = 3) + shape-based interpolation
PET                        generalized histogram threshold (GHT), keep bright, volume forcing
OCT                        GHT, keep dark (cystoid fluid)
US, XRay, Fundus,          LiteMedSAM
Endoscopy
Dermoscopy, Mammography    MobileUNet specialist, only with weights trained on real images of
                           the modality (model card); otherwise LiteMedSAM
Microscopy                 RGB -> LiteMedSAM; two-channel -> mean-intensity threshold;
                           grayscale -> k-means, unless > 35 % of boxes hold a Hough circle
=========================  ==================================================================

:func:`route` returns one :class:`Route` per case (the paper decides per case, never per box);
the pipeline copies its method and reason into every box's :class:`~classicseg.result.BoxRecord`.
Every choice can be overridden: ``method=`` forces a method, ``s=`` sets the slice step
(per modality with a dict), ``postprocess=`` turns post-processing on or off, and
``mode="baseline"`` is the paper's comparison: LiteMedSAM everywhere, every slice, nothing else.
The classical box-prompted toolbox (:data:`TOOLBOX`: ``grabcut``, ``random-walker``,
``geodesic-contour``, ``chan-vese``, ``watershed``, ``flood``, ``pixel-classifier``,
``sklearn-kmeans``, ``gmm``; docs/algorithms.md §18) is never chosen by the table above, only
forced; a forced method that cannot run on a case raises :class:`MethodNotApplicable`.

Examples
--------
>>> import numpy as np
>>> from classicseg.io import Case
>>> ct = Case("3DBox_CT_0001", np.zeros((9, 16, 16), np.uint8), np.array([[2, 2, 1, 9, 9, 7]]))
>>> r = route(ct)
>>> r.method, r.s, r.postprocess
('litemedsam', 3, 'box')
>>> route(ct, mode="baseline").s
1
>>> route(ct, s={"CT": 2}).s
2
>>> route(ct, method="random_walker").method, route(ct, method="random_walker").postprocess
('random-walker', 'full')
>>> route(ct, s="adaptive").s           # adaptive slices, budget of s = 3 (docs §15.1)
'adaptive'
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..io import MODALITIES, Case

__all__ = ["Route", "route", "resolve_s", "normalize_method", "canonical_modality", "METHODS",
           "PAPER_S", "CIRCLE_FRACTION_LIMIT", "mobileunet_weights_available",
           "mobileunet_default_status", "TOOLBOX", "CLASSICAL", "MethodNotApplicable"]

#: The classical box-prompted toolbox (beyond the paper; docs/algorithms.md §18): forced only.
TOOLBOX = ("grabcut", "random-walker", "geodesic-contour", "chan-vese", "watershed", "flood",
           "pixel-classifier", "sklearn-kmeans", "gmm")
#: Methods a case can get (the paper's router picks among the first five); ``--method`` also
#: accepts ``medsam`` and ``auto``.
METHODS = ("litemedsam", "ght", "kmeans", "threshold", "mobileunet") + TOOLBOX
#: Every classical (model-free) method: what ``classicseg compare --methods all`` runs.
CLASSICAL = ("ght", "kmeans", "threshold") + TOOLBOX
_ALIASES = {"medsam": "litemedsam", "lite_medsam": "litemedsam", "litemedsam": "litemedsam",
            "ght": "ght", "threshold": "threshold", "kmeans": "kmeans", "k-means": "kmeans",
            "mobileunet": "mobileunet", "auto": "auto",
            **{m: m for m in TOOLBOX}, **{m.replace("-", "_"): m for m in TOOLBOX}}
#: Paper's slice step for sparse LiteMedSAM on 3D volumes (paper §2.1); other modalities: 1.
PAPER_S = {"CT": 3, "MR": 3}
#: "more than 35 % of the bounding boxes contain circular objects" -> LiteMedSAM (paper §2.5).
CIRCLE_FRACTION_LIMIT = 0.35
_MEDSAM_MODALITIES = ("US", "XRay", "Fundus", "Endoscopy")
_SPECIALIST_MODALITIES = ("Dermoscopy", "Mammography")


@dataclass(frozen=True)
class Route:
    """How one case is segmented.

    Attributes
    ----------
    method : str
        ``litemedsam``, ``ght``, ``kmeans``, ``threshold``, ``mobileunet``, a forced
        toolbox method (:data:`TOOLBOX`) or ``empty`` (no boxes).
    reason : str
        One human sentence: why this method (recorded in every box's ``BoxRecord``).
    modality : str or None
        Modality the decision used.
    s : int or str
        Slice step for LiteMedSAM on 3D boxes (1 = every slice), or ``"adaptive"`` /
        ``"adaptive:S"`` (adaptive slice selection with the pass budget of uniform ``S``).
    postprocess : str
        ``"none"``; ``"box"`` (zero predictions outside their box); ``"lcc"`` (+ largest
        connected component); ``"full"`` (+ fill holes; paper §2.9). Methods that only
        paint inside the box (all but LiteMedSAM) always box-filter.
    variant : str
        Method flavour: ``pet`` / ``oct`` for GHT, ``grayscale`` / ``two-channel`` / ``rgb``
        for microscopy, ``""`` otherwise.
    details : dict
        Numbers behind the decision, e.g. ``{"circle_fraction": 0.12}``.
    """

    method: str
    reason: str
    modality: str | None = None
    s: int = 1
    postprocess: str = "none"
    variant: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"method": self.method, "reason": self.reason, "modality": self.modality,
                "s": self.s, "postprocess": self.postprocess, "variant": self.variant,
                "details": dict(self.details)}


def normalize_method(method: str) -> str:
    """Canonical method name (``medsam`` -> ``litemedsam``); ValueError names the choices."""
    key = str(method).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"method must be one of {('auto', 'medsam') + METHODS}, got {method!r}")
    return _ALIASES[key]


def resolve_s(s, modality: str | None, *, mode: str = "paper") -> int | str:
    """Slice step for a modality: ``s`` is None (paper: CT/MR 3, else 1), an int,
    ``"adaptive"`` / ``"adaptive:S"`` (returned in that form), or a mapping modality -> one
    of those (missing modalities keep the paper's value)."""
    if mode == "baseline":
        return 1
    default = PAPER_S.get(modality, 1)
    if s is None:
        value = default
    elif isinstance(s, Mapping):
        bad = [k for k in s if k not in MODALITIES]
        if bad:
            raise ValueError(f"s: unknown modality key(s) {bad}; use {MODALITIES}")
        value = s.get(modality, default)
    else:
        value = s
    if isinstance(value, str) and value.strip().lower().startswith("adaptive"):
        from ..models.litemedsam.slice_selection import parse_slice_plan  # torch-free

        plan = parse_slice_plan(value)  # InvalidInputError naming s
        return "adaptive" if plan.s == 3 else f"adaptive:{plan.s}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"s must be a positive integer (or 'adaptive'), got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"s must be >= 1 (1 = predict every slice), got {value}")
    return value


def mobileunet_weights_available(modality: str) -> bool:
    """True if MobileUNet weights for ``modality`` are installed (never imports torch).

    Installed is not enough for the router's default: see :func:`mobileunet_default_status`.
    """
    from ..models.mobileunet.weights import WeightsError, mobileunet_weights_path

    try:
        mobileunet_weights_path(modality)
    except WeightsError:
        return False
    return True


def mobileunet_default_status(modality: str) -> tuple[bool, str]:
    """``(the router may pick MobileUNet, why)``: only weights whose model card says they were
    trained on **real** images of ``modality`` (the shipped phantom-trained weights are teaching
    material and never a default; docs/real-data.md). Reads the card only, never torch."""
    from ..models.mobileunet.weights import default_weights_status

    return default_weights_status(modality)


#: The paper's post-processing per method (§2.9: box filter for every method; largest
#: component + hole filling for all but LiteMedSAM; two-channel microscopy, §2.5 /
#: docs/algorithms.md §7: largest component, no filling).
_PAPER_POSTPROCESS = {"litemedsam": "box", "ght": "full", "kmeans": "full", "threshold": "lcc",
                      "mobileunet": "full",
                      # the toolbox: each function's own default (GrabCut's smoothness term
                      # already removes specks; the others get the classical methods' "full")
                      **{m: "full" for m in TOOLBOX}, "grabcut": "box"}
#: The router's on/off switch (``--postprocess on/off``), mapped once into the vocabulary.
_SWITCH = {True: "full", False: "none"}


def _postprocess_for(method: str, variant: str, postprocess, mode: str) -> str:
    """The mode the method will run (parsed once here; the pipeline passes it on unchanged)."""
    from ..methods.postprocess import POSTPROCESS, parse_postprocess

    if postprocess is None:
        return "none" if mode == "baseline" else _PAPER_POSTPROCESS[method]
    if isinstance(postprocess, bool):
        return _SWITCH[postprocess]
    try:
        return parse_postprocess(postprocess)
    except ValueError:
        raise ValueError(f"postprocess must be None, True, False or one of {POSTPROCESS}, "
                         f"got {postprocess!r}") from None


# ---------------------------------------------------------------- the paper's decisions
# One function per modality rule: (case, modality, knobs) -> (method, variant, reason, details).
# route() looks the rule up in _BY_MODALITY; a new modality is one entry, not one more elif.

def _sparse_litemedsam(case: Case, mod: str, **_) -> tuple[str, str, str, dict]:
    why = f"{mod}: LiteMedSAM on sparse slices + shape-based interpolation (paper §2.1)"
    return "litemedsam", "", why, {}


def _ght_pet(case: Case, mod: str, **_) -> tuple[str, str, str, dict]:
    why = ("PET: generalized histogram threshold over all boxes, keep bright + volume forcing "
           "(paper §2.2)")
    return "ght", "pet", why, {}


def _ght_oct(case: Case, mod: str, **_) -> tuple[str, str, str, dict]:
    why = "OCT: generalized histogram threshold over all boxes, keep dark (paper §2.2)"
    return "ght", "oct", why, {}


def _litemedsam(case: Case, mod: str, **_) -> tuple[str, str, str, dict]:
    return "litemedsam", "", f"{mod}: LiteMedSAM (paper Table 1)", {}


def _specialist(case: Case, mod: str, *, mobileunet_available, **_) -> tuple[str, str, str, dict]:
    # Safe on real data: a specialist is a default only when its card says it learnt from real
    # images of this modality; phantom-trained weights dropped real dermoscopy from ~90 to ~58
    # DSC (docs/real-data.md), so they are never picked unasked.
    if mobileunet_available is not None:
        usable = bool(mobileunet_available(mod))
        status = "a MobileUNet trained on real images is available" if usable else (
            f"no MobileUNet trained on real {mod} images is installed")
    else:
        usable, status = mobileunet_default_status(mod)
    if usable:
        return ("mobileunet", "", f"{mod}: MobileUNet specialist (paper §2.4/§2.6; {status})",
                {"mobileunet": status})
    why = (f"{mod}: the paper uses a trained MobileUNet, but {status} -> LiteMedSAM "
           "(phantom-trained weights run only with --method mobileunet)")
    return "litemedsam", "", why, {"mobileunet": status}


def _microscopy(case: Case, mod: str, *, circle_limit: float, **_) -> tuple[str, str, str, dict]:
    from ..methods.microscopy import circle_fraction, classify_channels

    if case.is_3d:
        raise ValueError(f"{case.name}: 3D microscopy is not part of the paper's router; "
                         "force a method")
    kind = classify_channels(case.image)
    if kind == "rgb":
        return "litemedsam", "rgb", "Microscopy RGB -> LiteMedSAM", {}
    if kind == "two-channel":
        return ("threshold", "two-channel",
                "Microscopy two-channel (one channel all zeros) -> global mean-intensity threshold",
                {})
    frac = float(circle_fraction(case.image, case.boxes))
    details = {"circle_fraction": frac}
    seen = f"Microscopy grayscale, {frac:.0%} of boxes contain a Hough circle"
    if frac > circle_limit:
        return "litemedsam", "grayscale", f"{seen} (> {circle_limit:.0%}) -> LiteMedSAM", details
    return "kmeans", "grayscale", f"{seen} (<= {circle_limit:.0%}) -> k-means", details


#: modality -> the paper's rule for it (Fig. 1 / Table 1).
_BY_MODALITY: dict[str, Callable[..., tuple[str, str, str, dict]]] = {
    **{m: _sparse_litemedsam for m in PAPER_S},
    "PET": _ght_pet,
    "OCT": _ght_oct,
    **{m: _litemedsam for m in _MEDSAM_MODALITIES},
    **{m: _specialist for m in _SPECIALIST_MODALITIES},
    "Microscopy": _microscopy,
}


# Forced methods: (case, modality) -> (variant, note added to the reason); raises
# MethodNotApplicable where the method cannot run on the case.

class MethodNotApplicable(ValueError):
    """A forced method cannot run on this case (e.g. a 2D-only method on a 3D volume).

    ``classicseg compare --methods`` leaves such a case out for that method, with a note,
    instead of counting it as a failed run."""

def _forced_2d_only(what: str, variant: str) -> Callable[[Case, str | None], tuple[str, str]]:
    def check(case: Case, mod: str | None) -> tuple[str, str]:
        if case.is_3d:
            raise MethodNotApplicable(f"{case.name}: {what} works on 2D images only; "
                                      "this case is 3D")
        return variant, ""
    return check


def _forced_ght(case: Case, mod: str | None) -> tuple[str, str]:
    if case.is_3d:
        return "pet", " (3D: keep bright + volume forcing)"
    return "oct", " (2D: keep dark)"


def _forced_mobileunet(case: Case, mod: str | None) -> tuple[str, str]:
    if case.is_3d:
        raise MethodNotApplicable(f"{case.name}: MobileUNet works on 2D images only; "
                                  "this case is 3D")
    if mod is None:
        raise ValueError(f"{case.name}: MobileUNet weights are per modality; give modality=")
    return "", ""


_FORCED: dict[str, Callable[[Case, str | None], tuple[str, str]]] = {
    "litemedsam": lambda case, mod: ("", ""),
    "ght": _forced_ght,
    "kmeans": _forced_2d_only("method 'kmeans'", "grayscale"),
    "threshold": _forced_2d_only("method 'threshold'", "two-channel"),
    "mobileunet": _forced_mobileunet,
    # the toolbox runs on 2D and 3D boxes alike, except GrabCut (OpenCV's is 2D)
    **{m: (lambda case, mod: ("", "")) for m in TOOLBOX},
    "grabcut": _forced_2d_only("method 'grabcut'", ""),
}


def route(case: Case, *, method: str = "auto", s=None, postprocess=None, mode: str = "paper",
          modality: str | None = None,
          mobileunet_available: Callable[[str], bool] | None = None,
          circle_limit: float = CIRCLE_FRACTION_LIMIT) -> Route:
    """Choose the method for ``case`` as the paper does, or as overridden.

    Parameters
    ----------
    case : Case
        The case; its modality comes from the file name (``case.modality``).
    method : str
        ``"auto"`` (the paper's router) or a forced method: ``medsam``/``litemedsam``,
        ``ght`` (3D: PET flavour, keep bright; 2D: OCT flavour, keep dark), ``kmeans``,
        ``threshold`` (two-channel mean threshold), ``mobileunet``, or one of the classical
        toolbox (:data:`TOOLBOX`; docs/algorithms.md §18): ``grabcut`` (2D only),
        ``random-walker``, ``geodesic-contour``, ``chan-vese``, ``watershed``, ``flood``,
        ``pixel-classifier``, ``sklearn-kmeans``, ``gmm`` (``_`` for ``-`` also accepted).
    s : int or dict, optional
        Slice step for LiteMedSAM on 3D cases; a dict sets it per modality
        (default: the paper's CT/MR 3, otherwise 1).
    postprocess : None, bool or str
        None: the paper's choice (LiteMedSAM: box filter; two-channel threshold: largest
        component; other methods: largest component + fill holes). True: ``"full"`` for
        every method. False: ``"none"``. Or one of ``"none"``, ``"box"``, ``"lcc"``, ``"full"``.
    mode : {"paper", "baseline"}
        ``"baseline"``: LiteMedSAM everywhere, s = 1, no post-processing.
    modality : str, optional
        Overrides the modality parsed from the file name (needed when it cannot be parsed).
    mobileunet_available : callable, optional
        ``modality -> bool``: may the specialist run by default? Default: installed weights
        whose model card says they were trained on real images of the modality
        (:func:`mobileunet_default_status`).
    circle_limit : float
        Microscopy circle rule: LiteMedSAM if the circle fraction is above this.

    Returns
    -------
    Route

    Raises
    ------
    ValueError
        Unknown modality with ``method="auto"``, or bad options.
    MethodNotApplicable
        (a ValueError) A forced method that cannot handle the case (e.g. k-means or GrabCut
        on a 3D volume).
    """
    if mode not in ("paper", "baseline"):
        raise ValueError(f"mode must be 'paper' or 'baseline', got {mode!r}")
    forced = normalize_method(method)
    mod = case.modality
    if modality is not None:
        mod = canonical_modality(modality)
    if case.n_boxes == 0:
        warnings.warn(f"{case.name}: no boxes; writing an empty prediction", stacklevel=2)
        return Route("empty", "no boxes in the case -> empty prediction", mod)

    if mode == "baseline":
        if forced not in ("auto", "litemedsam"):
            raise ValueError(f"baseline mode is LiteMedSAM everywhere; "
                             f"method={method!r} contradicts it")
        return Route("litemedsam",
                     "baseline: LiteMedSAM everywhere (every slice, no post-processing)",
                     mod, s=1, postprocess="none")

    if forced != "auto":
        chosen, details = forced, {}
        variant, note = _FORCED[forced](case, mod)
        reason = f"forced by method={method!r}{note}"
    else:
        if mod is None:
            raise ValueError(f"{case.name}: cannot tell the modality from the file name; "
                             f"give the modality (--modality / modality=, one of "
                             f"{MODALITIES}) or force a method (--method / method=)")
        if mod not in _BY_MODALITY:  # pragma: no cover - the registry covers MODALITIES
            raise ValueError(f"{case.name}: no route for modality {mod!r}")
        chosen, variant, reason, details = _BY_MODALITY[mod](
            case, mod, mobileunet_available=mobileunet_available, circle_limit=circle_limit)

    step = resolve_s(s, mod, mode=mode) if (chosen == "litemedsam" and case.is_3d) else 1
    if step != 1:
        reason += f", s={step}"
    pp = _postprocess_for(chosen, variant, postprocess, mode)
    return Route(chosen, reason, mod, s=step, postprocess=pp, variant=variant, details=details)


def canonical_modality(modality: str) -> str:
    """Canonical name of a modality override (``"oct"``, ``"X-Ray"``...); ValueError if unknown."""
    from ..io import _ALIASES as IO_ALIASES  # one alias table for file names and overrides

    if modality in MODALITIES:
        return modality
    canon = IO_ALIASES.get(str(modality).replace("-", "").lower())
    if canon is None:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    return canon
