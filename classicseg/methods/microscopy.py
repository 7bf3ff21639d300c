"""Microscopy: channel classification, the circle rule, k-means and the two-channel threshold.

The paper routes microscopy images by their channels (docs/algorithms.md §2, §6, §7):

* RGB -> LiteMedSAM;
* two-channel (exactly one channel all zero) -> one global intensity threshold;
* grayscale -> k-means (k = 2) per box, unless more than 35 % of the boxes contain a
  circle (Canny + Hough) -> LiteMedSAM.

This module provides the pieces (:func:`classify_channels`, :func:`circle_fraction`,
:func:`segment_kmeans`, :func:`segment_two_channel`); the router combines them.

k-means on one intensity with k = 2 has an exact solution: the optimal clusters are the
two sides of a split of the sorted values, and the split minimising the within-cluster
sum of squares is Otsu's threshold on the histogram of the distinct values. The default
``backend="exact"`` computes that (deterministic, and a single pass over a bincount);
``backend="opencv"`` runs the reference code's ``cv2.kmeans`` (10 random restarts of
Lloyd's algorithm), seeded, which reaches the same optimum or a local one near it.

Examples
--------
>>> import numpy as np
>>> img = np.full((60, 60, 3), 20, np.uint8)
>>> img[20:30, 20:32] = 200                                   # a bright cell
>>> classify_channels(img)
'grayscale'
>>> res = segment_kmeans(img, np.array([[15, 15, 36, 34]]))
>>> int((res.segs == 1).sum()), res.boxes[0].method
(120, 'kmeans')
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from ..io import to_uint8
from ._common import check_boxes, check_rgb_image, crops, start_result
from .postprocess import _legacy_flags, apply_postprocess, parse_postprocess
from .thresholds import threshold_otsu

__all__ = ["classify_channels", "box_has_circle", "circle_fraction", "kmeans_split",
           "segment_kmeans", "segment_two_channel"]

_BACKENDS = ("exact", "opencv")
_STATISTICS = ("mean", "median")


# --------------------------------------------------------------------------- routing rules

def classify_channels(image, *, gray_tolerance: float = 0.0) -> str:
    """Classify a microscopy image as ``"grayscale"``, ``"two-channel"`` or ``"rgb"``.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
    gray_tolerance : float
        Also call the image grayscale when the mean absolute difference between every
        pair of channels is at most this (the reference code's "almost grayscale" rule
        uses 5, on channels 0 and 1 only; the paper has no such rule, so default 0).

    Returns
    -------
    str
        ``"two-channel"`` if exactly one channel is all zero (this wins over grayscale);
        ``"grayscale"`` if all three channels are equal (the reference code compares
        only channels 0 and 1; we check all) or the image is 2D; else ``"rgb"``.

    Examples
    --------
    >>> img = np.zeros((4, 4, 3), np.uint8); img[..., 0] = 9; img[..., 1] = 5
    >>> classify_channels(img)
    'two-channel'
    """
    img = check_rgb_image(image)
    if img.ndim == 2:
        return "grayscale"
    zero = [not img[..., c].any() for c in range(3)]
    if sum(zero) == 1:
        return "two-channel"
    c0, c1, c2 = (img[..., c] for c in range(3))
    if np.array_equal(c0, c1) and np.array_equal(c1, c2):
        return "grayscale"
    if gray_tolerance > 0:
        diffs = [np.abs(a.astype(np.float64) - b).mean() for a, b in ((c0, c1), (c1, c2), (c0, c2))]
        if max(diffs) <= gray_tolerance:
            return "grayscale"
    return "rgb"


def _gray_uint8(image: np.ndarray) -> np.ndarray:
    """A uint8 grayscale version for OpenCV (Canny needs 8 bits)."""
    if image.ndim == 3:
        c0 = image[..., 0]
        if np.array_equal(c0, image[..., 1]) and np.array_equal(c0, image[..., 2]):
            image = c0
        elif image.dtype == np.uint8:
            image = np.rint(image.mean(axis=2)).astype(np.uint8)  # channel mean, same scale
        else:
            image = image.astype(np.float64).mean(axis=2)
    return image if image.dtype == np.uint8 else to_uint8(image)  # other dtypes: min-max to uint8


def box_has_circle(crop, *, canny=(50, 150), dp: float = 1, min_dist: float = 20,
                   param1: float = 50, param2: float = 30, radius=(5, 100)) -> bool:
    """Whether OpenCV's Hough transform finds a circle in a uint8 grayscale crop.

    As the reference code: ``Canny(crop, 50, 150)``, then ``HoughCircles`` on the edge
    image (gradient method, dp = 1, minimum distance 20, param1 = 50, param2 = 30,
    radius 5-100 px).

    Examples
    --------
    >>> crop = np.zeros((100, 100), np.uint8)
    >>> _ = cv2.circle(crop, (50, 50), 20, 255, -1, lineType=cv2.LINE_AA)
    >>> box_has_circle(crop), box_has_circle(np.zeros((100, 100), np.uint8))
    (True, False)
    """
    crop = np.ascontiguousarray(crop)
    if crop.dtype != np.uint8 or crop.ndim != 2:
        raise ValueError(f"crop must be a 2D uint8 array, got {crop.dtype} {crop.shape}")
    edges = cv2.Canny(crop, canny[0], canny[1])
    circles = cv2.HoughCircles(edges, cv2.HOUGH_GRADIENT, dp=dp, minDist=min_dist, param1=param1,
                               param2=param2, minRadius=int(radius[0]), maxRadius=int(radius[1]))
    return circles is not None and len(circles) > 0


def circle_fraction(image, boxes, **hough) -> float:
    """Fraction of boxes whose crop contains at least one Hough circle.

    The paper routes a grayscale microscopy image to LiteMedSAM when this is > 0.35.
    Keyword arguments go to :func:`box_has_circle`. With no boxes the fraction is 0.0
    (the reference code divides by zero there).

    Examples
    --------
    >>> img = np.zeros((100, 200, 3), np.uint8)
    >>> _ = cv2.circle(img, (50, 50), 20, (255, 255, 255), -1, lineType=cv2.LINE_AA)
    >>> circle_fraction(img, np.array([[0, 0, 99, 99], [100, 0, 199, 99]]))
    0.5
    """
    img = check_rgb_image(image)
    boxes = check_boxes(boxes, img.shape[:2])
    if len(boxes) == 0:
        return 0.0
    gray = _gray_uint8(img)
    hits = sum(box_has_circle(crop, **hough) for _, _, crop in crops(gray, boxes))
    return hits / len(boxes)


# --------------------------------------------------------------------------- k-means

def kmeans_split(values) -> float:
    """Exact 1D two-means: the threshold ``t`` whose split ``values <= t | values > t``
    has the least within-cluster sum of squares.

    In 1D the optimal two clusters are always the two sides of some split of the
    sorted values, and minimising their total scatter is maximising Otsu's
    between-class variance -- so this is Otsu on the histogram of the *distinct* values
    (one bin per value; no binning error). Exactly tied splits are averaged, as in
    :func:`classicseg.methods.thresholds.threshold_ght`. Returns the value itself when all values
    are equal.

    Examples
    --------
    >>> kmeans_split(np.array([1, 2, 2, 3, 10, 11, 12]))  # splits at 3..9 tie: their mean
    6.0
    """
    v = np.asarray(values).ravel()
    if v.size == 0:
        raise ValueError("values is empty")
    lo, hi = v.min(), v.max()
    if lo == hi:
        return float(lo)
    if np.issubdtype(v.dtype, np.integer) and int(hi) - int(lo) <= 1 << 16:
        counts = np.bincount(v.astype(np.int64) - int(lo), minlength=int(hi) - int(lo) + 1)
        centres = np.arange(counts.size, dtype=np.float64) + float(lo)
    else:
        centres, counts = np.unique(v.astype(np.float64), return_counts=True)
    return threshold_otsu(hist=(counts, centres))


def _window(shape, size: int) -> tuple[slice, slice]:
    # size x size window at the crop centre, clipped to the crop (the reference code
    # wraps around through negative indices on boxes smaller than the window).
    out = []
    for n in shape:
        start = max(n // 2 - size // 2, 0)
        out.append(slice(start, min(start + size, n)))
    return tuple(out)


def _kmeans_labels_opencv(crop, *, seed, attempts, max_iter, eps):
    """cv2.kmeans on the raw values (k = 2); returns upper-cluster flags."""
    data = crop.reshape(-1, 1).astype(np.float32)
    cv2.setRNGSeed(int(seed))  # OpenCV's global RNG: makes the random restarts repeatable
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, int(max_iter), float(eps))
    _, labels, centres = cv2.kmeans(data, 2, None, criteria, int(attempts),
                                    cv2.KMEANS_RANDOM_CENTERS)
    upper = int(np.argmax(centres[:, 0]))
    return (labels.reshape(crop.shape) == upper)


def segment_kmeans(image, boxes, *, seed: int = 0, backend: str = "exact", window: int = 10,
                   attempts: int = 10, max_iter: int = 100, eps: float = 0.2, channel: int = 0,
                   skip_large_fraction: float | None = None, invert_border_rule: bool = False,
                   border_fraction: float = 0.9, postprocess: str = "full"):
    """k-means (k = 2) per box on the raw intensities, foreground by the centre window.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        Grayscale microscopy image, any numeric dtype; values are used unnormalised.
    boxes : array_like (N, 4)
        ``[x_min, y_min, x_max, y_max]``, maxima inclusive.
    seed : int
        Seed of OpenCV's random restarts (``backend="opencv"``; the exact backend is
        deterministic anyway).
    backend : {"exact", "opencv"}
        Exact 1D two-means (default; see :func:`kmeans_split`) or ``cv2.kmeans`` with
        ``attempts`` random restarts, ``max_iter`` iterations and tolerance ``eps``
        (the reference code's 10 / 100 / 0.2).
    window : int
        Foreground = the cluster holding most pixels of the ``window x window`` window at
        the box centre (clipped to small boxes); an exact tie picks the brighter cluster.
    channel : int
        Which channel of an (H, W, 3) image to cluster (all are equal for grayscale).
    skip_large_fraction : float, optional
        Reference-code rule, off by default: leave boxes covering more than this
        fraction of the image empty (the reference uses 0.08).
    invert_border_rule : bool
        Reference-code rule, off by default: invert the mask if any border row or
        column of the box is more than ``border_fraction`` foreground.
    postprocess : {"full", "lcc", "box", "none"}
        Paper: ``"full"`` (largest 8-connected component + hole filling); see
        :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="kmeans"`` (``"skipped"`` for skipped boxes), with
    ``extra["threshold"]`` (exact backend), ``extra["inverted"]`` and
    ``extra["postprocess"]`` (the mode that ran).
    """
    img = check_rgb_image(image)
    postprocess = parse_postprocess(postprocess)
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if int(window) < 1:
        raise ValueError(f"window must be >= 1, got {window!r}")
    if skip_large_fraction is not None and not 0 < skip_large_fraction <= 1:
        raise ValueError(f"skip_large_fraction must be in (0, 1] or None, "
                         f"got {skip_large_fraction!r}")
    if img.ndim == 3:
        if not (isinstance(channel, (int, np.integer)) and 0 <= channel < 3):
            raise ValueError(f"channel must be 0, 1 or 2, got {channel!r}")
        img = img[..., int(channel)]
    boxes = check_boxes(boxes, img.shape)
    res, t_case = start_result(img.shape, boxes, "segment_kmeans")
    for i, where, crop in crops(img, boxes):
        t0 = time.perf_counter()
        if skip_large_fraction is not None and crop.size > skip_large_fraction * img.size:
            res.add_box(i, np.zeros(crop.shape, bool), where, method="skipped",
                        seconds=time.perf_counter() - t0,
                        reason=f"k-means: box covers {crop.size / img.size:.1%} of the image "
                               f"> {skip_large_fraction:.0%} (reference rule), left empty")
            continue
        thr = None
        if crop.min() == crop.max():
            fg = np.ones(crop.shape, bool)  # one cluster only, and it holds the centre window
            how = "constant crop: one cluster"
        else:
            if backend == "exact":
                thr = kmeans_split(crop)
                upper = crop > thr
            else:
                upper = _kmeans_labels_opencv(crop, seed=seed, attempts=attempts, max_iter=max_iter,
                                              eps=eps)
            frac = upper[_window(crop.shape, int(window))].mean()
            fg = upper if frac >= 0.5 else ~upper
            how = (f"{'upper' if frac >= 0.5 else 'lower'} cluster holds "
                   f"{max(frac, 1 - frac):.0%} of the centre window")
        inverted = False
        if invert_border_rule:
            borders = (fg[0], fg[-1], fg[:, 0], fg[:, -1])
            if any(b.mean() > border_fraction for b in borders):
                fg, inverted = ~fg, True
                how += "; inverted (border rule)"
        fg = apply_postprocess(fg, postprocess)
        res.add_box(i, fg, where, method="kmeans", reason=f"k-means ({backend}): {how}",
                    seconds=time.perf_counter() - t0, threshold=thr, inverted=inverted,
                    postprocess=postprocess)
    res.seconds = time.perf_counter() - t_case
    return res


# --------------------------------------------------------------------------- two-channel

def segment_two_channel(image, boxes, *, statistic: str = "mean", postprocess: str = "lcc",
                        lcc: bool | None = None, fill: bool | None = None):
    """One global threshold for two-channel microscopy, then per box: crop, LCC, box filter.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        Any numeric dtype. The channel-mean image is thresholded.
    boxes : array_like (N, 4)
    statistic : {"mean", "median"}
        Threshold = mean image intensity (paper) or the median of the channel-mean image
        (reference code). Foreground = channel mean ``>`` threshold.
    postprocess : {"lcc", "full", "box", "none"}
        Paper: ``"lcc"`` (largest 8-connected component per box, no hole filling); see
        :mod:`classicseg.methods.postprocess`.
    lcc, fill : bool, optional
        Deprecated (classicseg 0.1 flags, defaults True / False); use ``postprocess``.

    Returns
    -------
    SegmentationResult, ``method="two-channel-threshold"``, ``extra["threshold"]`` and
    ``extra["postprocess"]`` (the mode that ran).

    Examples
    --------
    >>> img = np.zeros((30, 30, 3), np.uint8); img[10:20, 10:20, 0] = 200; img[..., 1] = 10
    >>> res = segment_two_channel(img, np.array([[5, 5, 24, 24]]))
    >>> int((res.segs == 1).sum())
    100
    """
    img = check_rgb_image(image)
    if lcc is not None or fill is not None:
        postprocess = _legacy_flags(postprocess, "lcc", box=False,
                                    lcc=True if lcc is None else bool(lcc), fill=bool(fill),
                                    where="segment_two_channel")
    postprocess = parse_postprocess(postprocess)
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    boxes = check_boxes(boxes, img.shape[:2])
    res, t_case = start_result(img.shape[:2], boxes, "segment_two_channel")
    if len(boxes) == 0:
        return res
    t0 = time.perf_counter()
    if statistic == "mean":
        thr = float(img.mean(dtype=np.float64))  # = mean of the channel-mean image
    else:
        thr = float(np.median(img.mean(axis=2, dtype=np.float64) if img.ndim == 3 else img))
    t_shared = (time.perf_counter() - t0) / len(boxes)
    for i, where, crop in crops(img, boxes):
        t0 = time.perf_counter()
        gray = crop.mean(axis=2, dtype=np.float64) if crop.ndim == 3 else crop
        fg = gray > thr
        fg = apply_postprocess(fg, postprocess)
        res.add_box(i, fg, where, method="two-channel-threshold",
                    reason=f"two-channel: global {statistic} threshold {thr:.4g}, pixels above",
                    seconds=time.perf_counter() - t0 + t_shared, threshold=thr,
                    postprocess=postprocess)
    res.seconds = time.perf_counter() - t_case
    return res
