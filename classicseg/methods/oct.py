"""OCT cystoid fluid (2D, dark): histogram threshold *below*, then post-processing.

The paper (docs/algorithms.md §5) pools the pixel values of all boxes, computes one GHT
threshold ``T`` from a 10-bin histogram, and takes the pixels ``< T`` of each box
(fluid is dark); no volume forcing; then largest 8-connected component, hole filling
and box filter. The reference code instead thresholds every box on its own and its
challenge submission used ``T + 30``: reproduce it with ``pool="per_box", offset=30``.

OCT images are grayscale stored as (H, W, 3); like the reference code we read channel 0
(``channel="mean"`` averages the channels instead -- identical for true grayscale).

Examples
--------
>>> import numpy as np
>>> img = np.full((40, 40, 3), 180, np.uint8); img[15:25, 12:28] = 30   # a dark cyst
>>> res = segment_oct(img, np.array([[5, 5, 34, 34]]))
>>> int((res.segs == 1).sum())
160
"""

from __future__ import annotations

import time

import numpy as np

from ._common import check_boxes, check_rgb_image, crops, start_result
from .postprocess import apply_postprocess, parse_postprocess
from .thresholds import GHTParams, pooled_threshold

__all__ = ["segment_oct"]

_POOLS = ("all", "per_box")


def _channel(image: np.ndarray, channel) -> np.ndarray:
    if image.ndim == 2:
        return image
    if channel == "mean":
        return image.mean(axis=2)
    if isinstance(channel, (int, np.integer)) and 0 <= channel < image.shape[2]:
        return image[..., int(channel)]  # a view: no copy of the image
    raise ValueError(f"channel must be 0, 1, 2 or 'mean', got {channel!r}")


def segment_oct(image, boxes, *, bins: int = 10, pool: str = "all", offset: float = 0.0,
                channel=0, method: str = "ght", nu: float = 1e60, tau: float = 1e-30,
                kappa: float = 0.0, omega: float = 0.5, postprocess: str = "full"):
    """Segment dark OCT fluid: pixels below a histogram threshold, per box.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        Any numeric dtype (the challenge uses uint8).
    boxes : array_like (N, 4)
        ``[x_min, y_min, x_max, y_max]``, maxima inclusive.
    bins : int
        Histogram bins (paper: 10).
    pool : {"all", "per_box"}
        One threshold from the pixels of all boxes (paper) or one per box (reference code).
    offset : float
        Added to the threshold before use (reference submission: 30).
    channel : int or "mean"
        Which channel to threshold (default 0, as the reference code).
    method, nu, tau, kappa, omega
        The threshold; default GHT at the authors' setting (= Otsu).
    postprocess : {"full", "lcc", "box", "none"}
        Paper: ``"full"`` (largest 8-connected component + hole filling); see
        :mod:`classicseg.methods.postprocess`. The box filter is implicit: boxes are
        segmented on their crops.

    Returns
    -------
    SegmentationResult with ``extra["threshold"]`` (before the offset) and
    ``extra["postprocess"]`` (the mode that ran) per box.
    """
    img = check_rgb_image(image)
    postprocess = parse_postprocess(postprocess)
    if pool not in _POOLS:
        raise ValueError(f"pool must be one of {_POOLS}, got {pool!r}")
    try:
        offset = float(offset)
        ok = bool(np.isfinite(offset))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"offset must be a finite number, got {offset!r}")
    gray = _channel(img, channel)
    boxes = check_boxes(boxes, gray.shape)
    res, t_case = start_result(gray.shape, boxes, "segment_oct")
    if len(boxes) == 0:
        return res
    kw = dict(method=method, params=GHTParams(nu, tau, kappa, omega))
    t_shared, thr = 0.0, None
    if pool == "all":
        t0 = time.perf_counter()
        thr = pooled_threshold([c for _, _, c in crops(gray, boxes)], bins, **kw)
        t_shared = (time.perf_counter() - t0) / len(boxes)
    for i, where, crop in crops(gray, boxes):
        t0 = time.perf_counter()
        t = thr if pool == "all" else pooled_threshold([crop], bins, **kw)
        m = apply_postprocess(crop < t + offset, postprocess)
        scope = "pooled" if pool == "all" else "per-box"
        shift = f" + {offset:g}" if offset else ""
        res.add_box(i, m, where, method=method,
                    reason=f"OCT: {scope} {method.upper()} threshold {t:.4g}{shift} "
                           f"({bins} bins), pixels below",
                    seconds=time.perf_counter() - t0 + t_shared, threshold=t, offset=offset,
                    postprocess=postprocess)
    res.seconds = time.perf_counter() - t_case
    return res
