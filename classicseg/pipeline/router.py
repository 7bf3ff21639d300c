"""Which method segments a case: the paper's modality router (Fig. 1 / Table 1).

=========================  ==================================================================
modality                   paper's final submission
=========================  ==================================================================
CT, MR                     LiteMedSAM on every s-th slice (s = 3) + shape-based interpolation
PET                        generalized histogram threshold (GHT), keep bright, volume forcing
OCT                        GHT, keep dark (cystoid fluid)
US, XRay, Fundus,          LiteMedSAM
Endoscopy
Dermoscopy, Mammography    MobileUNet specialist (LiteMedSAM when no trained weights exist)
Microscopy                 RGB -> LiteMedSAM; two-channel -> mean-intensity threshold;
                           grayscale -> k-means, unless > 35 % of boxes hold a Hough circle
=========================  ==================================================================

:func:`route` returns one :class:`Route` per case (the paper decides per case, never per box);
the pipeline copies its method and reason into every box's :class:`~classicseg.result.BoxRecord`.
Every choice can be overridden: ``method=`` forces a method, ``s=`` sets the slice step
(per modality with a dict), ``postprocess=`` turns post-processing on or off, and
``mode="baseline"`` is the paper's comparison: LiteMedSAM everywhere, every slice, nothing else.

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
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..io import MODALITIES, Case

__all__ = ["Route", "route", "resolve_s", "normalize_method", "canonical_modality", "METHODS", "PAPER_S",
           "CIRCLE_FRACTION_LIMIT", "mobileunet_weights_available"]

#: Methods the router can choose; ``--method`` also accepts ``medsam`` and ``auto``.
METHODS = ("litemedsam", "ght", "kmeans", "threshold", "mobileunet")
_ALIASES = {"medsam": "litemedsam", "lite_medsam": "litemedsam", "litemedsam": "litemedsam",
            "ght": "ght", "threshold": "threshold", "kmeans": "kmeans", "k-means": "kmeans",
            "mobileunet": "mobileunet", "auto": "auto"}
#: Paper's slice step for sparse LiteMedSAM on 3D volumes (§2.1); every other modality: 1.
PAPER_S = {"CT": 3, "MR": 3}
#: "more than 35 % of the bounding boxes contain circular objects" -> LiteMedSAM (§2.5).
CIRCLE_FRACTION_LIMIT = 0.35
_MEDSAM_MODALITIES = ("US", "XRay", "Fundus", "Endoscopy")
_SPECIALIST_MODALITIES = ("Dermoscopy", "Mammography")
_POSTPROCESS = ("none", "box", "lcc", "full")


@dataclass(frozen=True)
class Route:
    """How one case is segmented.

    Attributes
    ----------
    method : str
        ``litemedsam``, ``ght``, ``kmeans``, ``threshold``, ``mobileunet`` or ``empty``
        (no boxes).
    reason : str
        One human sentence: why this method (recorded in every box's ``BoxRecord``).
    modality : str or None
        Modality the decision used.
    s : int
        Slice step for LiteMedSAM on 3D boxes (1 = every slice).
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
        return {"method": self.method, "reason": self.reason, "modality": self.modality, "s": self.s,
                "postprocess": self.postprocess, "variant": self.variant, "details": dict(self.details)}


def normalize_method(method: str) -> str:
    """Canonical method name (``medsam`` -> ``litemedsam``); ValueError names the choices."""
    key = str(method).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"method must be one of {('auto', 'medsam') + METHODS}, got {method!r}")
    return _ALIASES[key]


def resolve_s(s, modality: str | None, *, mode: str = "paper") -> int:
    """Slice step for a modality: ``s`` is None (paper: CT/MR 3, else 1), an int, or a
    mapping modality -> int (missing modalities keep the paper's value)."""
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
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"s must be a positive integer, got {value!r}")
    value = int(value)
    if value < 1:
        raise ValueError(f"s must be >= 1 (1 = predict every slice), got {value}")
    return value


def mobileunet_weights_available(modality: str) -> bool:
    """True if trained MobileUNet weights for ``modality`` are installed (never imports torch)."""
    from ..models.mobileunet.weights import WeightsError, mobileunet_weights_path

    try:
        mobileunet_weights_path(modality)
    except WeightsError:
        return False
    return True


def _postprocess_for(method: str, variant: str, postprocess, mode: str) -> str:
    if isinstance(postprocess, str):
        if postprocess not in _POSTPROCESS:
            raise ValueError(f"postprocess must be None, True, False or one of {_POSTPROCESS}, got {postprocess!r}")
        return postprocess
    if postprocess is True:
        return "full"
    if postprocess is False or mode == "baseline":
        return "none"
    if postprocess is not None:
        raise ValueError(f"postprocess must be None, True, False or one of {_POSTPROCESS}, got {postprocess!r}")
    # Paper §2.9: box filter for every method; largest component + fill holes for all but
    # LiteMedSAM. Two-channel microscopy (§2.5 / ALGORITHMS §7): largest component, no filling.
    if method == "litemedsam":
        return "box"
    return "lcc" if method == "threshold" else "full"


def _microscopy(case: Case, circle_limit: float) -> tuple[str, str, str, dict]:
    from ..methods.microscopy import circle_fraction, classify_channels

    kind = classify_channels(case.image)
    if kind == "rgb":
        return "litemedsam", "rgb", "Microscopy RGB -> LiteMedSAM", {}
    if kind == "two-channel":
        return ("threshold", "two-channel",
                "Microscopy two-channel (one channel all zeros) -> global mean-intensity threshold", {})
    frac = float(circle_fraction(case.image, case.boxes))
    details = {"circle_fraction": frac}
    if frac > circle_limit:
        return ("litemedsam", "grayscale",
                f"Microscopy grayscale, {frac:.0%} of boxes contain a Hough circle (> {circle_limit:.0%}) -> LiteMedSAM",
                details)
    return ("kmeans", "grayscale",
            f"Microscopy grayscale, {frac:.0%} of boxes contain a Hough circle (<= {circle_limit:.0%}) -> k-means",
            details)


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
        ``threshold`` (two-channel mean threshold), ``mobileunet``.
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
        ``modality -> bool``; default looks for installed weights.
    circle_limit : float
        Microscopy circle rule: LiteMedSAM if the circle fraction is above this.

    Returns
    -------
    Route

    Raises
    ------
    ValueError
        Unknown modality with ``method="auto"``, a method that cannot handle the case
        (e.g. k-means on a 3D volume), or bad options.
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
            raise ValueError(f"baseline mode is LiteMedSAM everywhere; method={method!r} contradicts it")
        return Route("litemedsam", "baseline: LiteMedSAM everywhere (every slice, no post-processing)",
                     mod, s=1, postprocess="none")

    details: dict = {}
    variant = ""
    if forced != "auto":
        chosen, reason = forced, f"forced by method={method!r}"
        if forced == "ght":
            variant = "pet" if case.is_3d else "oct"
            reason += " (3D: keep bright + volume forcing)" if case.is_3d else " (2D: keep dark)"
        elif forced in ("kmeans", "threshold") and case.is_3d:
            raise ValueError(f"{case.name}: method {forced!r} works on 2D images only; this case is 3D")
        elif forced == "threshold":
            variant = "two-channel"
        elif forced == "kmeans":
            variant = "grayscale"
        elif forced == "mobileunet":
            if case.is_3d:
                raise ValueError(f"{case.name}: MobileUNet works on 2D images only; this case is 3D")
            if mod is None:
                raise ValueError(f"{case.name}: MobileUNet weights are per modality; give modality=")
    else:
        if mod is None:
            raise ValueError(f"{case.name}: cannot tell the modality from the file name; pass modality= "
                             f"(one of {MODALITIES}) or force a method")
        if mod in PAPER_S:
            chosen = "litemedsam"
            reason = f"{mod}: LiteMedSAM on sparse slices + shape-based interpolation (paper §2.1)"
        elif mod == "PET":
            chosen, variant = "ght", "pet"
            reason = "PET: generalized histogram threshold over all boxes, keep bright + volume forcing (paper §2.2)"
        elif mod == "OCT":
            chosen, variant = "ght", "oct"
            reason = "OCT: generalized histogram threshold over all boxes, keep dark (paper §2.2)"
        elif mod in _MEDSAM_MODALITIES:
            chosen, reason = "litemedsam", f"{mod}: LiteMedSAM (paper Table 1)"
        elif mod in _SPECIALIST_MODALITIES:
            available = (mobileunet_available or mobileunet_weights_available)(mod)
            if available:
                chosen, reason = "mobileunet", f"{mod}: MobileUNet specialist (paper §2.4/§2.6)"
            else:
                chosen = "litemedsam"
                reason = (f"{mod}: the paper uses a trained MobileUNet, but no MobileUNet weights for {mod} "
                          "are installed -> LiteMedSAM")
        elif mod == "Microscopy":
            if case.is_3d:
                raise ValueError(f"{case.name}: 3D microscopy is not part of the paper's router; force a method")
            chosen, variant, reason, details = _microscopy(case, circle_limit)
        else:  # pragma: no cover - MODALITIES is exhaustive above
            raise ValueError(f"{case.name}: no route for modality {mod!r}")

    step = resolve_s(s, mod, mode=mode) if (chosen == "litemedsam" and case.is_3d) else 1
    if step > 1:
        reason += f", s={step}"
    pp = _postprocess_for(chosen, variant, postprocess, mode)
    return Route(chosen, reason, mod, s=step, postprocess=pp, variant=variant, details=details)


def canonical_modality(modality: str) -> str:
    """Canonical modality name for a user override (``"oct"``, ``"X-Ray"``, ...); ValueError if unknown."""
    from ..io import _ALIASES as IO_ALIASES  # one alias table for file names and overrides

    if modality in MODALITIES:
        return modality
    canon = IO_ALIASES.get(str(modality).replace("-", "").lower())
    if canon is None:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    return canon
