"""Trivial baselines: what the box alone gives, to calibrate what a Dice means.

A method that does not beat these has learnt nothing beyond the prompt:

* ``"box fill"`` -- every pixel of the box;
* ``"inscribed ellipse"`` -- the ellipse (ellipsoid in 3D) inscribed in the box;
* ``"Otsu in the box"`` -- one Otsu split of the box's intensities, keeping the side that
  holds most of the box's central third (the object is assumed to sit in the middle).

Examples
--------
>>> import numpy as np
>>> img = np.zeros((40, 40), np.uint8); img[10:30, 12:28] = 200
>>> maps = trivial_baselines(img, [[8, 6, 31, 33]])
>>> sorted(maps), int((maps["Otsu in the box"] == 1).sum())
(['Otsu in the box', 'box fill', 'inscribed ellipse'], 320)
"""

from __future__ import annotations

import numpy as np

from ..validation import check_boxes, check_image
from ._box import centred_ellipse
from .thresholds import threshold_otsu

__all__ = ["TRIVIAL_BASELINES", "trivial_baselines"]

#: Names of the baselines, in the order :func:`trivial_baselines` returns them.
TRIVIAL_BASELINES = ("box fill", "inscribed ellipse", "Otsu in the box")


def _otsu_in_box(crop: np.ndarray) -> np.ndarray:
    if np.ptp(crop) == 0:
        return np.ones(crop.shape, bool)
    mask = crop > threshold_otsu(crop)
    centre = tuple(slice(n // 3, n - n // 3) if n >= 3 else slice(None) for n in crop.shape)
    return ~mask if mask[centre].mean() < 0.5 else mask


def trivial_baselines(image, boxes) -> dict[str, np.ndarray]:
    """Label maps (box *k* -> label *k* + 1, later boxes win) of the three prompt-only baselines.

    Parameters
    ----------
    image : ndarray
        2D ``(H, W)`` / ``(H, W, 3)`` (colour is averaged) or 3D ``(D, H, W)``.
    boxes : array_like
        ``(N, 4)`` ``[x0, y0, x1, y1]`` or ``(N, 6)`` ``[x0, y0, z0, x1, y1, z1]``, inclusive.

    Returns
    -------
    dict
        ``{name: uint16 label map}`` for the names in :data:`TRIVIAL_BASELINES`.
    """
    b = np.asarray(boxes)
    is_3d = b.ndim == 2 and b.shape[1] == 6   # the boxes say 2D or 3D, as in every method
    raw = np.asarray(image)
    img = check_image(raw, ndim=3 if is_3d else raw.ndim, arg_name="image").astype(np.float64)
    gray = img if (img.ndim == 2 or is_3d) else img.mean(axis=-1)
    bxs = check_boxes(boxes, gray.shape, arg_name="boxes")
    out = {name: np.zeros(gray.shape, np.uint16) for name in TRIVIAL_BASELINES}
    for i, b in enumerate(np.asarray(bxs, dtype=np.int64)):
        if len(b) == 6:
            x0, y0, z0, x1, y1, z1 = b
            sl = (slice(z0, z1 + 1), slice(y0, y1 + 1), slice(x0, x1 + 1))
        else:
            x0, y0, x1, y1 = b
            sl = (slice(y0, y1 + 1), slice(x0, x1 + 1))
        crop = gray[sl]
        masks = (np.ones(crop.shape, bool), centred_ellipse(crop.shape), _otsu_in_box(crop))
        for name, m in zip(TRIVIAL_BASELINES, masks):
            out[name][sl][m] = i + 1
    return out
