"""Classical segmentation methods of the paper, as pure functions on numpy arrays.

Each ``segment_*`` function takes ``(image, boxes)`` in the challenge conventions
(2D ``(H, W, 3)`` images with ``(N, 4)`` boxes, 3D ``(D, H, W)`` volumes with ``(N, 6)``
boxes, maxima inclusive) and returns a :class:`classicseg.result.SegmentationResult`.
Only numpy, scipy, scikit-image, OpenCV and scikit-learn are used here (never torch).

- :mod:`.thresholds` -- Otsu, minimum-error and GHT (Barron 2020) thresholds, one family
- :mod:`.pet` -- pooled threshold + volume forcing (3D, bright lesions)
- :mod:`.oct` -- threshold below (2D, dark fluid)
- :mod:`.microscopy` -- channel rules, circle rule, k-means, two-channel threshold
- :mod:`.interpolation` -- shape-based interpolation and sparse-slice plans
- :mod:`.postprocess` -- the one post-processing vocabulary (none / box / lcc / full)
- :mod:`.ellipse` -- ellipse fit, the model-free skull-ellipse segmenter (fetal-head US)

The classical box-prompted toolbox (beyond the paper; docs/algorithms.md §18), each a thin
wrapper over its library with the box as the prompt:

- :mod:`.grabcut` -- GrabCut (``cv2.grabCut``, the box as ``rect``; 2D)
- :mod:`.random_walker` -- random walker from box-border / box-core seeds
- :mod:`.active_contours` -- morphological geodesic active contour and Chan-Vese
- :mod:`.watershed` -- marker-based watershed of the gradient
- :mod:`.region_growing` -- flood fill from the box core
- :mod:`.pixel_classifier` -- random forest on multiscale features, trained per box
- :mod:`.clustering` -- scikit-learn k-means and Gaussian mixture per box
"""

import lazy_loader as _lazy

# Imported on first use, so ``import classicseg.methods`` stays cheap: scipy.ndimage,
# OpenCV and scikit-learn load only when a method is actually used.
__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "thresholds": ["GHTParams", "threshold_otsu", "threshold_met", "threshold_ght", "ght_scores",
                   "histogram", "pooled_threshold"],
    "pet": ["segment_pet", "force_volume"],
    "oct": ["segment_oct"],
    "microscopy": ["classify_channels", "box_has_circle", "circle_fraction", "kmeans_split",
                   "segment_kmeans", "segment_two_channel"],
    "interpolation": ["shape_interpolate", "signed_distance", "plan_sparse_slices", "fill_slices",
                      "segment_sparse_3d", "interpolate_from_slices"],
    "postprocess": ["POSTPROCESS", "parse_postprocess", "apply_postprocess", "largest_component",
                    "fill_holes", "box_filter", "postprocess_mask", "relabel_result",
                    "postprocessed"],
    "ellipse": ["Ellipse", "fit_ellipse", "ellipse_mask", "ellipse_result", "ellipse_agreement",
                "skull_ellipse"],
    "baselines": ["TRIVIAL_BASELINES", "trivial_baselines"],
    "grabcut": ["segment_grabcut"],
    "random_walker": ["segment_random_walker"],
    "active_contours": ["segment_geodesic_contour", "segment_chan_vese", "inscribed_ellipse"],
    "watershed": ["segment_watershed"],
    "region_growing": ["segment_flood"],
    "pixel_classifier": ["segment_pixel_classifier"],
    "clustering": ["segment_sklearn_kmeans", "segment_gmm"],
})
_lazy_getattr = __getattr__
#: 0.1 threshold names, resolved by the thresholds module on every use (so they warn each time).
_DEPRECATED = ("AUTHORS_GHT", "ght", "histogram_threshold", "threshold_otsu_hist",
               "threshold_met_hist")


def __getattr__(name):
    if name in _DEPRECATED:
        from . import thresholds

        return getattr(thresholds, name)
    return _lazy_getattr(name)
