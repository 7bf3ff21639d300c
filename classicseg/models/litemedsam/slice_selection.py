"""Which slices of a 3D box get a LiteMedSAM pass: the paper's uniform step, or adaptive.

Torch-free and pure numpy: the predictor hands in a ``predict(z, source)`` callback and
this module decides *which* slice comes next and *which mask its prompt is taken from*.
See docs/algorithms.md §15.1.

* **uniform** (the paper, today's walk): every ``s``-th slice from the box's first slice,
  plus the last one and the middle slice (the seed), exactly
  :func:`~classicseg.models.litemedsam.geometry.slice_plan`.
* **adaptive**: predict the middle slice (the seed, prompted with the user's box), then
  the last and the first slice, then repeatedly bisect the gap between two predicted slices
  ``i < j`` with the highest score

      score(i, j) = d(i, j) * (j - i - 1)          (d in [0, 1]; j - i - 1 slices to fill)

  where ``d`` is the disagreement of the gap (``criterion``): ``"masks"``, 1 - Dice of the
  two predicted masks; ``"image"``, 1 - Dice between the shape-interpolated mask at the gap's
  middle and a nearest-mean classification of that slice's pixels (object / background
  means learnt from the two predicted slices); ``"both"``, their mean. It stops at the pass
  ``budget`` (default: as many passes as uniform ``s``), when every gap has ``d <= tol``,
  or when no gap is left.

Prompts of adaptive slices (``prompt``): ``"nearest"`` (default), the box of the nearest
predicted slice's mask + 3 px, ties toward the middle slice -- the official walk's rule, which
prompts from the neighbour on the middle side; ``"interpolated"``, the box of the
shape-interpolated mask at that slice (ends: as ``"nearest"``); ``"box"``, the user's 3D box
projected to 2D. An empty source mask falls back to the user's box, as in the official walk.
``seed="halves"`` walks to each end through the half-way slice first (middle, half-way up,
top, half-way down, bottom; budget >= 5), so an end is prompted from half as far away.

Examples
--------
>>> SlicePlan().walk(2, 23)                               # the paper: uniform s = 3
([12, 14, 17, 20, 23], [11, 8, 5, 2])
>>> plan = parse_slice_plan("adaptive")
>>> plan.kind, plan.budget_for(2, 23)                     # as many passes as s = 3
('adaptive', 9)
>>> import numpy as np
>>> disc = lambda r: np.hypot(*np.mgrid[-8:9, -8:9]) <= r
>>> grows = lambda z, src: disc(max(0, z - 10))           # constant below z = 10, grows above
>>> adaptive_walk(grows, 0, 20, budget=6).order           # seed, ends, then the worst gaps
[10, 20, 0, 15, 12, 17]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...validation import InvalidInputError
from .geometry import middle_slice, slice_plan

__all__ = ["SlicePlan", "parse_slice_plan", "adaptive_walk", "AdaptiveWalk", "gap_disagreement",
           "KINDS", "CRITERIA", "PROMPTS"]

KINDS = ("uniform", "adaptive")
CRITERIA = ("masks", "image", "both")
PROMPTS = ("nearest", "interpolated", "box")
SEEDS = ("ends", "halves")
GRIDS = ("box", "volume")


def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or int(value) < 1:
        raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _choice(value, name: str, choices) -> str:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {choices}, got {value!r}")
    return value


@dataclass(frozen=True)
class SlicePlan:
    """How a 3D box's slices are chosen for LiteMedSAM passes.

    Parameters
    ----------
    kind : {"uniform", "adaptive"}
    s : int >= 1
        Uniform: the slice step (paper: 3). Adaptive: the budget is as many passes as
        uniform ``s`` would make on the same box (unless ``budget`` is given).
    budget : int >= 1, optional
        Adaptive: passes per box (at least the seed and both ends are always predicted).
    tol : float in [0, 1]
        Adaptive: stop early once every gap's disagreement ``d`` is at most ``tol``.
    criterion, prompt, seed : see the module docstring.
    grid : {"box", "volume"}
        Uniform only: see :func:`~classicseg.models.litemedsam.geometry.slice_plan`.

    Examples
    --------
    >>> SlicePlan("adaptive", s=4).name, SlicePlan(s=1).name
    ('adaptive-s4', 's1')
    """

    kind: str = "uniform"
    s: int = 3
    budget: int | None = None
    tol: float = 0.0
    criterion: str = "masks"
    prompt: str = "nearest"
    seed: str = "ends"
    grid: str = "box"

    def __post_init__(self):
        _choice(self.kind, "kind", KINDS)
        _positive_int(self.s, "s")
        if self.budget is not None:
            _positive_int(self.budget, "budget")
        if isinstance(self.tol, (bool, np.bool_)) or not isinstance(self.tol, (int, float)) \
                or not 0.0 <= float(self.tol) <= 1.0:
            raise InvalidInputError(f"tol must be a number in [0, 1], got {self.tol!r}")
        _choice(self.criterion, "criterion", CRITERIA)
        _choice(self.prompt, "prompt", PROMPTS)
        _choice(self.seed, "seed", SEEDS)
        _choice(self.grid, "grid", GRIDS)
        if self.kind == "adaptive" and self.grid != "box":
            raise InvalidInputError("grid='volume' is a uniform plan; adaptive plans choose "
                                    "their own slices")

    @property
    def name(self) -> str:
        """Short label: ``s3`` (uniform), ``adaptive-s3`` / ``adaptive-b7`` (adaptive)."""
        if self.kind == "uniform":
            return f"s{self.s}"
        return "adaptive-" + (f"b{self.budget}" if self.budget is not None else f"s{self.s}")

    def walk(self, z_min: int, z_max: int) -> tuple[list[int], list[int]]:
        """Uniform plan: the slices in walk order ``(up, down)``, exactly as the predictor
        has always walked them (:func:`~classicseg.models.litemedsam.geometry.slice_plan`)."""
        if self.kind != "uniform":
            raise InvalidInputError("an adaptive plan's slices depend on the predictions; "
                                    "run adaptive_walk")
        z_min, z_max = _span(z_min, z_max)
        return slice_plan(z_min, z_max, self.s, self.grid)

    def budget_for(self, z_min: int, z_max: int) -> int:
        """Passes this plan spends on box slices ``z_min..z_max`` (adaptive: at most)."""
        z_min, z_max = _span(z_min, z_max)
        if self.kind == "adaptive" and self.budget is not None:
            return min(self.budget, z_max - z_min + 1)
        return sum(len(part) for part in slice_plan(z_min, z_max, self.s, self.grid))


def _span(z_min, z_max) -> tuple[int, int]:
    for name, v in (("z_min", z_min), ("z_max", z_max)):
        if isinstance(v, (bool, np.bool_)) or not float(v).is_integer() or v < 0:
            raise InvalidInputError(f"{name} must be an integer >= 0, got {v!r}")
    if int(z_min) > int(z_max):
        raise InvalidInputError(f"z_min ({z_min}) must not exceed z_max ({z_max})")
    return int(z_min), int(z_max)


def parse_slice_plan(value) -> SlicePlan:
    """A slice plan from what users type: an int ``s``, ``"uniform"`` (s = 3), ``"adaptive"``
    (budget of uniform s = 3), ``"adaptive:S"`` (budget of uniform ``S``) or a SlicePlan.

    >>> parse_slice_plan(2).walk(0, 4), parse_slice_plan("adaptive:4").name
    (([2, 4], [0]), 'adaptive-s4')
    """
    if isinstance(value, SlicePlan):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        kind, _, step = text.partition(":")
        if kind in KINDS and (not step or step.isdigit()):
            return SlicePlan(kind, s=int(step) if step else 3)
        if text.isdigit():
            return SlicePlan(s=int(text))
        raise InvalidInputError(f"s must be an integer >= 1, 'uniform', 'adaptive' or "
                                f"'adaptive:S', got {value!r}")
    return SlicePlan(s=_positive_int(value, "s"))


# --------------------------------------------------------------------------- adaptive

def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _interpolated(masks: dict, i: int, j: int, k: int) -> np.ndarray:
    from ...methods.interpolation import shape_interpolate
    return shape_interpolate(masks[i], masks[j], (k - i) / (j - i))


def _image_evidence(image: np.ndarray, mask_i, mask_j, img_i, img_j) -> np.ndarray | None:
    """Nearest-mean object/background labelling of ``image`` with the means of two predicted
    slices (None when either class is missing there)."""
    fg = np.concatenate([img_i[mask_i], img_j[mask_j]])
    bg = np.concatenate([img_i[~mask_i], img_j[~mask_j]])
    if fg.size == 0 or bg.size == 0:
        return None
    mu_fg, mu_bg = float(fg.mean()), float(bg.mean())
    return np.abs(image - mu_fg) < np.abs(image - mu_bg)


def gap_disagreement(masks: dict, i: int, j: int, *, criterion: str = "masks",
                     image=None, region=None) -> float:
    """Disagreement ``d`` in [0, 1] of the gap between predicted slices ``i < j``.

    Parameters
    ----------
    masks : dict[int, ndarray of bool (H, W)]
        Predicted slices.
    i, j : int
        The gap's predicted end slices.
    criterion : {"masks", "image", "both"}
        See the module docstring.
    image : ndarray (D, H, W), optional
        The volume; needed by ``"image"`` / ``"both"`` (slice ``k`` is ``image[k]``).
    region : tuple of two slices, optional
        In-plane part of the slices to compare (the box); default the whole slice.

    Examples
    --------
    >>> a = np.zeros((4, 4), bool); a[:2] = True
    >>> gap_disagreement({0: a, 4: a}, 0, 4), gap_disagreement({0: a, 4: ~a}, 0, 4)
    (0.0, 1.0)
    """
    _choice(criterion, "criterion", CRITERIA)
    where = tuple(region) if region is not None else (slice(None), slice(None))
    mi, mj = (np.asarray(masks[z], bool)[where] for z in (i, j))
    d_masks = 1.0 - _dice(mi, mj)
    if criterion == "masks":
        return d_masks
    if image is None:
        raise InvalidInputError(f"criterion={criterion!r} needs the image volume")
    k = (i + j) // 2
    img = [np.asarray(image[z], np.float64)[where] for z in (i, j, k)]
    evidence = _image_evidence(img[2], mi, mj, img[0], img[1])
    shape = _interpolated(masks, i, j, k)[where]
    d_image = 0.0 if evidence is None else 1.0 - _dice(shape, evidence)
    return d_image if criterion == "image" else 0.5 * (d_masks + d_image)


@dataclass
class AdaptiveWalk:
    """An adaptive walk's record: predicted ``masks`` (z -> bool mask), the ``order`` of the
    passes, each pass's prompt ``sources`` (the z its prompt mask came from, ``"interp"`` or
    ``"box"``) and, per bisection, the chosen gap ``(i, j, score)``."""

    masks: dict = field(default_factory=dict)
    order: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    bisections: list = field(default_factory=list)


def _nearest(done, z: int, mid: int) -> int:
    """The predicted slice closest to ``z``; ties go toward the middle slice."""
    return min(done, key=lambda p: (abs(p - z), abs(p - mid)))


def adaptive_walk(predict: Callable[[int, np.ndarray | None], np.ndarray], z_min: int,
                  z_max: int, *, budget: int, tol: float = 0.0, criterion: str = "masks",
                  prompt: str = "nearest", seed: str = "ends", image=None,
                  region=None) -> AdaptiveWalk:
    """Run an adaptive slice walk over box slices ``z_min..z_max``.

    Parameters
    ----------
    predict : callable ``(z, source) -> mask``
        One LiteMedSAM pass on slice ``z``; ``source`` is the 2D mask the prompt box is
        taken from (official rule: its box + 3 px in the 256 frame), or None for the user's
        box. Returns the slice's bool mask (H, W).
    z_min, z_max : int
        The box's first and last slice (inclusive).
    budget : int >= 1
        Passes at most; the seed and both ends are predicted whatever the budget.
    tol, criterion, prompt, seed, image, region
        See :class:`SlicePlan` and :func:`gap_disagreement`.

    Returns
    -------
    AdaptiveWalk
        Its ``masks`` hold ``z_min`` and ``z_max``, ready for
        :func:`~classicseg.methods.interpolation.fill_slices`.

    Examples
    --------
    >>> blank = lambda z, src: np.zeros((4, 4), bool)
    >>> adaptive_walk(blank, 3, 9, budget=7).order         # nothing disagrees: stop early
    [6, 9, 3]
    """
    if not callable(predict):
        raise InvalidInputError("predict must be a function (z, source) -> 2D mask")
    z_min, z_max = _span(z_min, z_max)
    budget = _positive_int(budget, "budget")
    _choice(criterion, "criterion", CRITERIA)
    _choice(prompt, "prompt", PROMPTS)
    _choice(seed, "seed", SEEDS)
    mid = middle_slice(z_min, z_max)
    walk = AdaptiveWalk()

    def run(z: int, source) -> None:
        given = isinstance(source, np.ndarray)  # an interpolated mask
        src_mask = source if given else None if source == "box" else walk.masks[source]
        mask = np.asarray(predict(z, src_mask), bool)
        if mask.ndim != 2:
            raise InvalidInputError(f"predict({z}, ...) must return a 2D mask, "
                                    f"got shape {mask.shape}")
        walk.masks[z] = mask
        walk.order.append(z)
        walk.sources.append("interp" if given else source)

    run(mid, "box")  # the official seed: the user's box on the middle slice
    halves = seed == "halves" and budget >= 5
    for end in dict.fromkeys((z_max, z_min)):  # up first, then down, as the official walk
        half = (mid + end) // 2 if end > mid else -(-(mid + end) // 2)
        for z in ((half, end) if halves and abs(end - mid) >= 2 else (end,)):
            if z not in walk.masks:
                run(z, "box" if prompt == "box" else _nearest(walk.masks, z, mid))
    while len(walk.order) < budget:
        done = sorted(walk.masks)
        gaps = [(i, j) for i, j in zip(done[:-1], done[1:]) if j - i >= 2]
        if not gaps:
            break
        d = {g: gap_disagreement(walk.masks, *g, criterion=criterion, image=image,
                                 region=region) for g in gaps}
        if max(d.values()) <= tol:
            break
        # highest score, then the longer gap, then the lower one: deterministic
        i, j = max(gaps, key=lambda g: (d[g] * (g[1] - g[0] - 1), g[1] - g[0], -g[0]))
        k = (i + j) // 2
        walk.bisections.append((i, j, d[(i, j)] * (j - i - 1)))
        if prompt == "box":
            run(k, "box")
        elif prompt == "interpolated":
            run(k, _interpolated(walk.masks, i, j, k))
        else:
            run(k, _nearest(walk.masks, k, mid))
    return walk
