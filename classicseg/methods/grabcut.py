"""GrabCut (Rother, Kolmogorov & Blake 2004): the classical box-prompted segmenter, 2D.

GrabCut models the colours inside and outside a rectangle with two Gaussian mixtures and
alternates between re-fitting them and a min-cut of the graph-cut energy (colour
likelihood + contrast-sensitive smoothness). OpenCV's :func:`cv2.grabCut` does all of it;
this wrapper gives it the box as ``rect`` (``GC_INIT_WITH_RECT``: outside = sure
background, inside = probable foreground), on a window of the box plus ``margin`` pixels
of context (the background model needs pixels outside the box; the window keeps the graph
small). docs/algorithms.md §18.1.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> res = segment_grabcut(img, [[16, 18, 44, 46]])
>>> round(dice(disk, res.segs == 1), 2), res.boxes[0].method
(1.0, 'grabcut')
"""

from __future__ import annotations

import numpy as np

from ._box import check_count, segment_boxes

__all__ = ["segment_grabcut"]


def segment_grabcut(image, boxes, *, iterations: int = 5, margin: int = 10,
                    postprocess: str = "box"):
    """GrabCut per box with the box as the rectangle (:func:`cv2.grabCut`), 2D only.

    Parameters
    ----------
    image : ndarray (H, W, 3) or (H, W)
        Any numeric dtype, min-max rescaled to uint8 (:func:`classicseg.io.to_uint8`);
        grayscale is given to OpenCV as three equal channels.
    boxes : array_like (N, 4)
        ``[x_min, y_min, x_max, y_max]``, maxima inclusive.
    iterations : int
        GrabCut iterations (GMM re-fit + min-cut); OpenCV's sample uses 5.
    margin : int
        Context pixels around the box (the background colour model is fitted there). A box
        side on the image border has none: its outermost row or column is then taken as
        background.
    postprocess : {"box", "lcc", "full", "none"}
        See :mod:`classicseg.methods.postprocess` (default: the box filter only -- GrabCut's
        own smoothness term already removes specks).

    Returns
    -------
    SegmentationResult, ``method="grabcut"``, ``extra["postprocess"]``.

    Raises
    ------
    InvalidInputError
        Bad ``image`` (also a 3D volume) or ``boxes``.
    """
    import cv2

    iterations = check_count(iterations, "iterations")
    margin = check_count(margin, "margin", minimum=0)

    def one_box(crop):
        rgb = (crop.color if crop.color is not None else crop.gray[..., None].repeat(3, -1))
        u8 = np.ascontiguousarray(np.round(rgb * 255), dtype=np.uint8)
        (y, x), (h, w) = ((s.start for s in crop.inner),
                          (s.stop - s.start for s in crop.inner))
        # no context on a side: the box's own outer row/column plays the background there
        y0, x0 = y + (y == 0), x + (x == 0)
        y1 = y + h - (y + h == u8.shape[0])
        x1 = x + w - (x + w == u8.shape[1])
        if y1 - y0 < 1 or x1 - x0 < 1:
            return np.ones((h, w), bool), "box too small for GrabCut: filled", {}
        mask = np.zeros(u8.shape[:2], np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(u8, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, iterations,
                        cv2.GC_INIT_WITH_RECT)
        except cv2.error as e:  # degenerate colour models (e.g. two grey levels only)
            return np.ones((h, w), bool), f"cv2.grabCut failed ({e.err}): filled", {}
        fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
        return fg[crop.inner], f"cv2.grabCut, {iterations} iterations, margin {margin}", {}

    return segment_boxes(image, boxes, one_box, method="grabcut", postprocess=postprocess,
                         what="segment_grabcut", margin=margin, allow_3d=False)
