"""Marker-based watershed (Beucher & Meyer 1993) with markers from the box, 2D and 3D.

The gradient magnitude is a relief; flooding it from markers, every pixel joins the marker
whose flood reaches it first, and two floods meet on the ridges -- the strongest edges
between the markers. :func:`skimage.segmentation.watershed` floods a Sobel gradient
(:func:`skimage.filters.sobel`, after a Gaussian blur against noise) from the box's outer
ring (background) and a central core (foreground) (:func:`._box.seed_labels`).
docs/algorithms.md §18.4.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> res = segment_watershed(img, [[16, 18, 44, 46]])
>>> round(dice(disk, res.segs == 1), 2), res.boxes[0].method
(1.0, 'watershed')
"""

from __future__ import annotations

from ._box import FOREGROUND, check_count, check_fraction, seed_labels, segment_boxes

__all__ = ["segment_watershed"]


def segment_watershed(image, boxes, *, sigma: float = 1.0, core: float = 0.3, ring: int = 1,
                      compactness: float = 0.0, postprocess: str = "full"):
    """Watershed of the box's gradient from box-border and box-centre markers.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (docs/algorithms.md §18).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    sigma : float
        Gaussian blur before the Sobel gradient (0: none).
    core : float in (0, 1]
        Foreground marker: the centred ellipse (ellipsoid) whose axes are ``core`` x the
        box's sides.
    ring : int
        Background marker: the box's outer ``ring`` pixels (in-plane only in 3D).
    compactness : float
        > 0: compact watershed (Neubert & Protzel 2014), regions grow more evenly.
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="watershed"``, ``extra["postprocess"]``.
    """
    from skimage.filters import gaussian, sobel
    from skimage.segmentation import watershed

    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    if not compactness >= 0:
        raise ValueError(f"compactness must be >= 0, got {compactness!r}")
    core = check_fraction(core, "core")
    ring = check_count(ring, "ring")

    def one_box(crop):
        box = gaussian(crop.box, sigma=sigma) if sigma > 0 else crop.box
        markers = seed_labels(box.shape, core=core, ring=ring)
        regions = watershed(sobel(box), markers, compactness=compactness)
        return regions == FOREGROUND, f"watershed of the Sobel gradient, sigma {sigma:g}", {}

    return segment_boxes(image, boxes, one_box, method="watershed", postprocess=postprocess,
                         what="segment_watershed")
