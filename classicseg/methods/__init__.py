"""Classical segmentation methods of the paper, as pure functions on numpy arrays.

Each ``segment_*`` function takes ``(image, boxes)`` in the challenge conventions
(2D ``(H, W, 3)`` images with ``(N, 4)`` boxes, 3D ``(D, H, W)`` volumes with ``(N, 6)``
boxes, maxima inclusive) and returns a :class:`classicseg.result.SegmentationResult`.
Only numpy, scipy, scikit-image and OpenCV are used here (never torch).

- :mod:`.thresholds` -- GHT (Barron 2020), Otsu, minimum-error thresholding
- :mod:`.pet` -- pooled threshold + volume forcing (3D, bright lesions)
- :mod:`.oct` -- threshold below (2D, dark fluid)
- :mod:`.microscopy` -- channel rules, circle rule, k-means, two-channel threshold
- :mod:`.interpolation` -- shape-based interpolation and sparse-slice plans
- :mod:`.postprocess` -- largest component, hole filling, box filter
- :mod:`.ellipse` -- ellipse fit (fetal-head ultrasound)
"""

from importlib import import_module

# Public name -> submodule. Imported on first use (PEP 562), so ``import classicseg.methods``
# stays cheap: scipy.ndimage and OpenCV load only when a method is actually used.
_EXPORTS = {
    "thresholds": ["AUTHORS_GHT", "ght", "histogram", "histogram_threshold", "pooled_threshold",
                   "threshold_otsu_hist", "threshold_met_hist"],
    "pet": ["segment_pet", "force_volume"],
    "oct": ["segment_oct"],
    "microscopy": ["classify_channels", "box_has_circle", "circle_fraction", "kmeans_split",
                   "segment_kmeans", "segment_two_channel"],
    "interpolation": ["shape_interpolate", "signed_distance", "plan_sparse_slices", "fill_slices",
                      "segment_sparse_3d"],
    "postprocess": ["largest_component", "fill_holes", "box_filter", "postprocess_mask"],
    "ellipse": ["Ellipse", "fit_ellipse", "ellipse_mask"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = list(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
