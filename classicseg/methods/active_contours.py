"""Morphological active contours initialised from the box, 2D and 3D.

Two curve (surface) evolutions of scikit-image, both in the morphological form of
Marquez-Neila, Baumela & Alvarez (2014) -- level sets evolved by dilations, erosions and
a curvature smoothing operator instead of PDEs:

* :func:`segment_geodesic_contour` -- **geodesic active contour** (Caselles, Kimmel &
  Sapiro 1997): the contour starts on the box outline and shrinks (balloon -1) until it
  sits on strong edges of :func:`skimage.segmentation.inverse_gaussian_gradient` (small
  on edges), via :func:`skimage.segmentation.morphological_geodesic_active_contour`; in
  3D slice by slice (a tight box has no edge at its first and last slices).
* :func:`segment_chan_vese` -- **Chan-Vese** (2001), edge-free: the two regions whose mean
  intensities fit the image best (plus a length penalty), via
  :func:`skimage.segmentation.morphological_chan_vese`, started from the ellipse (ellipsoid)
  inscribed in the box; foreground = the region covering most of the box core.

docs/algorithms.md §18.3.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> boxes = [[16, 18, 44, 46]]
>>> round(dice(disk, segment_geodesic_contour(img, boxes).segs == 1), 2)
1.0
>>> round(dice(disk, segment_chan_vese(img, boxes).segs == 1), 2)
1.0
"""

from __future__ import annotations

import numpy as np

from ._box import centred_ellipse, check_count, check_fraction, core_phase, segment_boxes

__all__ = ["segment_geodesic_contour", "segment_chan_vese", "inscribed_ellipse"]


def inscribed_ellipse(shape) -> np.ndarray:
    """The ellipse (2D) or ellipsoid (3D) inscribed in an array of ``shape``, as a mask.

    Examples
    --------
    >>> inscribed_ellipse((3, 5)).astype(int)
    array([[0, 1, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [0, 1, 1, 1, 0]])
    """
    return centred_ellipse(shape)


def _iterations(num_iter, shape) -> int:
    # A morphological contour moves about one pixel per iteration: half the longest side
    # (+ slack) lets it cross the box whatever the object's size.
    return max(shape) // 2 + 20 if num_iter is None else check_count(num_iter, "num_iter")


def segment_geodesic_contour(image, boxes, *, num_iter: int | None = None, sigma: float = 1.0,
                             alpha: float = 100.0, smoothing: int = 1, balloon: float = -1.0,
                             threshold="auto", postprocess: str = "full"):
    """Morphological geodesic active contour per box, shrinking from the box outline.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (docs/algorithms.md §18).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    num_iter : int, optional
        Iterations (default: half the box's longest in-plane side + 20, enough to cross
        the box).
    sigma, alpha : float
        :func:`~skimage.segmentation.inverse_gaussian_gradient`'s smoothing and steepness
        (intensities are in [0, 1]).
    smoothing : int
        Curvature smoothing steps per iteration.
    balloon : float
        Balloon force; negative shrinks the contour where the image has no edge.
    threshold : float or "auto"
        Edge-map values below this stop the contour (``"auto"``: scikit-image's 40th
        percentile).
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="geodesic-contour"``, ``extra["num_iter"]``,
    ``extra["postprocess"]``.
    """
    from skimage.segmentation import (
        inverse_gaussian_gradient,
        morphological_geodesic_active_contour,
    )

    if not sigma > 0 or not alpha > 0:
        raise ValueError(f"sigma and alpha must be > 0, got sigma={sigma!r}, alpha={alpha!r}")
    smoothing = check_count(smoothing, "smoothing", minimum=0)

    def evolve(gray, inner, n):
        edges = inverse_gaussian_gradient(gray, alpha=alpha, sigma=sigma)
        init = np.zeros(gray.shape, np.int8)
        init[inner] = 1  # the box itself; the two-pixel margin lets its outline move
        ls = morphological_geodesic_active_contour(edges, n, init, smoothing=smoothing,
                                                   threshold=threshold, balloon=balloon)
        return ls[inner] > 0

    def one_box(crop):
        n = _iterations(num_iter, crop.box.shape[-2:])
        if crop.gray.ndim == 2:
            mask, how = evolve(crop.gray, crop.inner, n), ""
        else:
            # slice by slice: a tight 3D box has no edge at its first and last slices (the
            # object's ends), so a 3D balloon would shrink through the object along z
            z, plane = crop.inner[0], crop.inner[1:]
            mask = np.stack([evolve(crop.gray[k], plane, n) for k in range(z.start, z.stop)])
            how = " per slice"
        return (mask, f"geodesic active contour{how}, {n} iterations, balloon {balloon:g}",
                {"num_iter": n})

    return segment_boxes(image, boxes, one_box, method="geodesic-contour",
                         postprocess=postprocess, what="segment_geodesic_contour", margin=2)


def segment_chan_vese(image, boxes, *, num_iter: int | None = None, smoothing: int = 1,
                      lambda1: float = 1.0, lambda2: float = 1.0, core: float = 0.3,
                      postprocess: str = "full"):
    """Morphological Chan-Vese per box, started from the ellipse inscribed in the box.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (docs/algorithms.md §18).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    num_iter : int, optional
        Iterations (default: half the box's longest side + 20).
    smoothing : int
        Curvature smoothing steps per iteration (the length penalty).
    lambda1, lambda2 : float
        Weights of the inside / outside fit terms (equal: plain Chan-Vese).
    core : float in (0, 1]
        Foreground = the region covering most of the central ``core`` fraction of the box
        (the evolution may end with the object outside the level set).
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="chan-vese"``, ``extra["num_iter"]``,
    ``extra["postprocess"]``.
    """
    from skimage.segmentation import morphological_chan_vese

    smoothing = check_count(smoothing, "smoothing", minimum=0)
    core = check_fraction(core, "core")
    if not lambda1 > 0 or not lambda2 > 0:
        raise ValueError(f"lambda1 and lambda2 must be > 0, got {lambda1!r}, {lambda2!r}")

    def one_box(crop):
        box = crop.box
        n = _iterations(num_iter, box.shape)
        init = inscribed_ellipse(box.shape).astype(np.int8)
        ls = morphological_chan_vese(box, n, init_level_set=init, smoothing=smoothing,
                                     lambda1=lambda1, lambda2=lambda2)
        fg, share = core_phase(ls, core)
        return fg, (f"Chan-Vese, {n} iterations; the region kept holds {share:.0%} of the "
                    "core"), {"num_iter": n}

    return segment_boxes(image, boxes, one_box, method="chan-vese", postprocess=postprocess,
                         what="segment_chan_vese")
