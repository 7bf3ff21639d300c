"""Region growing: flood fill from the box's most typical core pixel, 2D and 3D.

The region grows from one seed over every connected pixel whose intensity lies within a
tolerance of the seed's. :func:`skimage.segmentation.flood` does the flooding; the box
gives the seed -- the pixel of the box core (a central fraction of every side) whose
intensity is closest to the core's median -- and the tolerance, half the way from the seed's
intensity to the median of the box's outer ring (the background), after a light Gaussian
blur against noise; or ``k`` times the core's standard deviation. docs/algorithms.md §18.5.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> res = segment_flood(img, [[16, 18, 44, 46]])
>>> round(dice(disk, res.segs == 1), 2), res.boxes[0].method
(1.0, 'flood')
"""

from __future__ import annotations

import numpy as np

from ._box import BACKGROUND, check_count, check_fraction, core_slices, seed_labels, segment_boxes

__all__ = ["segment_flood"]

#: Smallest tolerance (intensities in [0, 1]): half a grey level of the uint8 image.
_MIN_TOLERANCE = 0.5 / 255


def segment_flood(image, boxes, *, tolerance: float | None = None, gap: float = 0.5,
                  k: float | None = None, core: float = 0.3, ring: int = 1,
                  sigma: float = 1.0, connectivity: int = 1, postprocess: str = "full"):
    """Flood fill (:func:`skimage.segmentation.flood`) per box from its most typical core pixel.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled to [0, 1], RGB as luminance
        (docs/algorithms.md §18).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    tolerance : float, optional
        A fixed tolerance in [0, 1] intensity units (overrides ``gap`` and ``k``).
    gap : float in (0, 1]
        Default rule: tolerance = ``gap`` x the distance from the seed's intensity to the
        median of the box's outer ``ring`` (0.5: the midpoint between object and
        background), at least half a grey level.
    k : float, optional
        Instead: tolerance = ``k`` x the standard deviation of the (blurred) core -- for
        textured objects; fails on flat ones (a flat core has no spread).
    core : float in (0, 1]
        The central ``core`` fraction of every box side, where the seed comes from.
    ring : int
        The box's outer ``ring`` pixels give the background level (in-plane only in 3D).
    sigma : float
        Gaussian blur before flooding (0: none).
    connectivity : int
        1: face neighbours (4 / 6); ``ndim``: full (8 / 26).
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess` (``"full"`` fills the noise holes a
        flood leaves).

    Returns
    -------
    SegmentationResult, ``method="flood"``, ``extra["seed"]`` (in box coordinates),
    ``extra["tolerance"]``, ``extra["postprocess"]``.
    """
    from skimage.filters import gaussian
    from skimage.segmentation import flood

    if k is not None and not k > 0:
        raise ValueError(f"k must be > 0 or None, got {k!r}")
    gap = check_fraction(gap, "gap")
    ring = check_count(ring, "ring")
    connectivity = check_count(connectivity, "connectivity")
    if tolerance is not None and not 0 <= tolerance <= 1:
        raise ValueError(f"tolerance must be in [0, 1] (intensities are rescaled) or None, "
                         f"got {tolerance!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    core = check_fraction(core, "core")

    def one_box(crop):
        box = gaussian(crop.box, sigma=sigma) if sigma > 0 else crop.box
        if not 1 <= connectivity <= box.ndim:
            raise ValueError(f"connectivity must be in 1..{box.ndim}, got {connectivity!r}")
        where = core_slices(box.shape, core)
        centre = box[where]
        flat = int(np.argmin(np.abs(centre - np.median(centre))))
        seed = tuple(int(i) + s.start for i, s in zip(np.unravel_index(flat, centre.shape),
                                                        where))
        if tolerance is not None:
            tol = float(tolerance)
        elif k is not None:
            tol = max(k * float(centre.std()), _MIN_TOLERANCE)
        else:
            background = np.median(box[seed_labels(box.shape, core=core, ring=ring) == BACKGROUND])
            tol = max(gap * abs(float(box[seed]) - float(background)), _MIN_TOLERANCE)
        grown = flood(box, seed, tolerance=tol, connectivity=connectivity)
        return grown, f"flood from {seed}, tolerance {tol:.3g}", {"seed": seed, "tolerance": tol}

    return segment_boxes(image, boxes, one_box, method="flood", postprocess=postprocess,
                         what="segment_flood")
