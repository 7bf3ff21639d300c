"""A trainable pixel classifier per box (the ilastik idea), 2D and 3D.

Every pixel is described by multiscale features -- Gaussian-smoothed intensity, gradient
magnitude and Hessian eigenvalues at a range of scales
(:func:`skimage.feature.multiscale_basic_features`) -- and a random forest
(:class:`sklearn.ensemble.RandomForestClassifier`) learns foreground from background on
pixels the box labels for free: its outer ring (background) and a central core
(foreground). The forest then classifies the rest of the box. This is scikit-image's
"trainable segmentation" example (:func:`skimage.future.fit_segmenter` /
:func:`~skimage.future.predict_segmenter`) with the box's seeds in place of scribbles.
docs/algorithms.md §18.6.

Examples
--------
>>> import numpy as np
>>> from classicseg.metrics import dice
>>> rng = np.random.default_rng(0)
>>> img = rng.normal(40, 10, (64, 64)).clip(0, 255).astype(np.uint8)
>>> yy, xx = np.mgrid[:64, :64]
>>> disk = (yy - 32) ** 2 + (xx - 30) ** 2 <= 12 ** 2
>>> img[disk] = 200                                                # synthetic bright disk
>>> res = segment_pixel_classifier(img, [[16, 18, 44, 46]])
>>> round(dice(disk, res.segs == 1), 2), res.boxes[0].method
(0.95, 'pixel-classifier')
"""

from __future__ import annotations

import numpy as np

from ._box import FOREGROUND, check_count, check_fraction, seed_labels, segment_boxes

__all__ = ["segment_pixel_classifier"]


def segment_pixel_classifier(image, boxes, *, n_estimators: int = 25, max_depth: int | None = 10,
                             sigma_min: float = 1.0, sigma_max: float = 4.0, core: float = 0.5,
                             ring: int = 2, max_samples: int = 4000, margin: int = 8,
                             random_state: int = 0, postprocess: str = "full"):
    """Random forest on multiscale features, trained on the box's ring and core, per box.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype, min-max rescaled; an RGB image gives features per channel.
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    n_estimators, max_depth : int
        Forest size (small: one forest is trained per box).
    sigma_min, sigma_max : float
        Range of feature scales (pixels); ``sigma_max`` is capped at a quarter of the box's
        shortest side.
    core : float in (0, 1]
        Foreground training pixels: the centred ellipse whose axes are ``core`` x the box's
        sides (half: the forest must see more of the object than the other methods' 0.3
        seeds -- trained on the flat centre alone it calls the object's rim background).
    ring : int
        Background training pixels: the box's outer ``ring`` pixels (in-plane only in 3D).
    max_samples : int
        At most this many training pixels per class (drawn with ``random_state``).
    margin : int
        Context pixels around the box for the features (fewer edge effects).
    random_state : int
        Seed of the sampling and the forest (``n_jobs=1``: deterministic, one core).
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="pixel-classifier"``, ``extra["postprocess"]``.
    """
    from skimage.feature import multiscale_basic_features
    from skimage.future import fit_segmenter, predict_segmenter
    from sklearn.ensemble import RandomForestClassifier

    n_estimators = check_count(n_estimators, "n_estimators")
    if max_depth is not None:
        max_depth = check_count(max_depth, "max_depth")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got {sigma_min!r}, {sigma_max!r}")
    core = check_fraction(core, "core")
    ring = check_count(ring, "ring")
    max_samples = check_count(max_samples, "max_samples")
    margin = check_count(margin, "margin", minimum=0)

    def one_box(crop):
        shape = crop.box.shape
        hi = float(np.clip(min(shape[-2:]) / 4, sigma_min, sigma_max))
        multichannel = crop.color is not None
        feats = multiscale_basic_features(crop.color if multichannel else crop.gray,
                                          sigma_min=sigma_min, sigma_max=hi,
                                          channel_axis=-1 if multichannel else None)[crop.inner]
        seeds = seed_labels(shape, core=core, ring=ring)
        rng = np.random.default_rng(random_state)
        for label in np.unique(seeds[seeds > 0]):  # balance and bound the training set
            where = np.flatnonzero(seeds == label)
            if where.size > max_samples:
                drop = rng.choice(where, where.size - max_samples, replace=False)
                seeds.flat[drop] = 0
        clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, n_jobs=1,
                                     random_state=random_state)
        clf = fit_segmenter(seeds, feats, clf)
        pred = predict_segmenter(feats, clf)
        return pred == FOREGROUND, (f"random forest ({n_estimators} trees) on "
                                    f"{feats.shape[-1]} features, sigma {sigma_min:g}..{hi:g}"), {}

    return segment_boxes(image, boxes, one_box, method="pixel-classifier",
                         postprocess=postprocess, what="segment_pixel_classifier", margin=margin)
