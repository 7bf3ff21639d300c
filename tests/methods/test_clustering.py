"""scikit-learn k-means and Gaussian mixture per box (classicseg.methods.clustering)."""

from __future__ import annotations

import numpy as np
import pytest
from toolbox_cases import (
    ball_3d,
    check_bad_input,
    check_box_filtering,
    check_clear_contrast,
    disk_2d,
)

from classicseg.methods.clustering import segment_gmm, segment_sklearn_kmeans
from classicseg.methods.microscopy import segment_kmeans

METHODS = {"sklearn-kmeans": segment_sklearn_kmeans, "gmm": segment_gmm}


@pytest.mark.parametrize("case", ["gray", "rgb", "3d"])
@pytest.mark.parametrize("method", list(METHODS))
def test_clustering_finds_a_clear_object(method, case):
    img, gt, box = ball_3d() if case == "3d" else disk_2d(rgb=case == "rgb")
    check_clear_contrast(METHODS[method], img, gt, box, method=method, postprocess="full")


@pytest.mark.parametrize("features", [("intensity", "color"), ("intensity", "position"),
                                      "color"])
def test_clustering_feature_sets_on_rgb(features):
    img, gt, box = disk_2d(rgb=True)
    for method, fn in METHODS.items():
        check_clear_contrast(fn, img, gt, box, method=method, postprocess="full",
                             features=features)


def test_sklearn_kmeans_on_intensity_matches_the_exact_two_means():
    # one intensity, k = 2: Lloyd's optimum is the exact split of segment_kmeans (paper §6)
    img, _, box = disk_2d()
    exact = segment_kmeans(img, box).segs
    ours = segment_sklearn_kmeans(img, box).segs
    assert (exact != ours).sum() <= 2


def test_clustering_foreground_is_the_core_cluster_also_when_dark():
    img, gt, box = disk_2d()
    for method, fn in METHODS.items():
        check_clear_contrast(fn, 255 - img, gt, box, method=method, postprocess="full")


@pytest.mark.parametrize("method", list(METHODS))
def test_clustering_keeps_to_its_boxes(method):
    check_box_filtering(METHODS[method])


@pytest.mark.parametrize("method", list(METHODS))
def test_clustering_bad_input(method):
    fn = METHODS[method]
    check_bad_input(fn)
    img, _, box = disk_2d()
    for kw, name in (({"features": ("intensity", "texture")}, "features"),
                     ({"features": ()}, "features"), ({"position_weight": 0}, "position_weight"),
                     ({"core": 2}, "core"), ({"max_samples": 1}, "max_samples")):
        with pytest.raises(ValueError, match=name):
            fn(img, box, **kw)
    with pytest.raises(ValueError, match="features: 'color' needs an RGB"):
        fn(img[..., None].repeat(1, -1)[..., 0], box, features=("color",))
    with pytest.raises(ValueError, match="n_clusters|n_components"):
        fn(img, box, **({"n_clusters": 1} if method == "sklearn-kmeans" else {"n_components": 1}))
    assert np.array_equal(fn(img, box).segs, fn(img, box).segs)   # seeded
