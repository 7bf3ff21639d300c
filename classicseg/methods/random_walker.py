"""Random walker (Grady 2006) seeded from the box, 2D and 3D.

Each unlabelled pixel gets the probability that a random walk started there first reaches
a foreground seed rather than a background one, on a graph whose edge weights fall with
the intensity difference (``exp(-beta * diff^2)``); the walker solves the equivalent
sparse linear system (a combinatorial Dirichlet problem). scikit-image's
:func:`skimage.segmentation.random_walker` does all of it; the box gives the seeds: its
outer ring is background, a central core foreground (:func:`._box.seed_labels`).
docs/algorithms.md §18.2.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> res = segment_random_walker(img, [[16, 18, 44, 46]])
>>> round(dice(disk, res.segs == 1), 2), res.boxes[0].method
(1.0, 'random-walker')
"""

from __future__ import annotations

from ._box import FOREGROUND, check_count, check_fraction, seed_labels, segment_boxes

__all__ = ["segment_random_walker"]

_MODES = (None, "bf", "cg", "cg_j", "cg_mg")
#: Largest 3D box (voxels) solved directly: the direct solve's fill-in grows fast in 3D.
_DIRECT_3D = 30_000


def segment_random_walker(image, boxes, *, beta: float = 3000.0, core: float = 0.3,
                          ring: int = 1, mode: str | None = None, tol: float = 1e-4,
                          postprocess: str = "full"):
    """Random walker per box (:func:`skimage.segmentation.random_walker`), seeds from the box.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (docs/algorithms.md §18).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    core : float in (0, 1]
        Foreground seeds: the centred ellipse (ellipsoid) whose axes are ``core`` x the
        box's sides.
    ring : int
        Background seeds: the box's outer ``ring`` pixels (in-plane only in 3D).
    beta : float
        Edge-weight sharpness on intensities in [0, 1] (not scikit-image's 130, which is
        tuned for a wider range: docs/algorithms.md §18.2).
    mode : {None, "bf", "cg", "cg_j", "cg_mg"}
        scikit-image's solver. None: ``"bf"`` (a direct sparse solve: exact, and fast for
        any 2D box and 3D boxes up to 30,000 voxels), else ``"cg_j"`` (Jacobi-preconditioned
        conjugate gradients: slow to converge at this ``beta``, and may warn that
        probabilities leave [0, 1]). ``"cg_mg"`` needs pyamg.
    tol : float
        Tolerance of the conjugate-gradient solvers.
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="random-walker"``, ``extra["postprocess"]``.
    """
    from skimage.segmentation import random_walker

    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    core = check_fraction(core, "core")
    ring = check_count(ring, "ring")

    def one_box(crop):
        labels = seed_labels(crop.box.shape, core=core, ring=ring)
        if not (labels == 0).any():  # every pixel is a seed (a box a few pixels wide)
            return labels == FOREGROUND, "seeds only (box too small to walk)", {}
        solver = mode or ("bf" if labels.ndim == 2 or labels.size <= _DIRECT_3D else "cg_j")
        out = random_walker(crop.box, labels, beta=beta, mode=solver, tol=tol)
        return out == FOREGROUND, f"random walker, beta {beta:g}, core {core:g}", {}

    return segment_boxes(image, boxes, one_box, method="random-walker", postprocess=postprocess,
                         what="segment_random_walker")
