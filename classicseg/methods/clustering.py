"""scikit-learn clustering per box: k-means and a Gaussian mixture, 2D and 3D.

The paper's k-means (§6, :func:`classicseg.methods.microscopy.segment_kmeans`) clusters one
intensity per pixel, and there the exact two-means split is a threshold -- that stays the
paper-parity default. Here the same idea runs on a feature vector per pixel, with
scikit-learn's estimators:

* :func:`segment_sklearn_kmeans` -- :class:`sklearn.cluster.KMeans` (Lloyd's algorithm,
  k-means++ starts): minimises the within-cluster sum of squares;
* :func:`segment_gmm` -- :class:`sklearn.mixture.GaussianMixture` (EM): maximises the
  likelihood of a mixture of Gaussians, each cluster with its own covariance, so a narrow
  bright object and a wide noisy background are split where their densities cross.

Features (``features=``): ``"intensity"`` (the luminance, in [0, 1]), ``"color"`` (the three
RGB channels, RGB inputs only) and ``"position"`` (pixel coordinates scaled to [0, 1] within
the box, times ``position_weight``: clusters become spatially compact). **Foreground rule**:
the cluster holding most pixels of the box's central core (``core``, a fraction of every
side) -- ``segment_kmeans``'s centre-window rule, scaled with the box. docs/algorithms.md §18.7.

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
>>> round(dice(disk, segment_sklearn_kmeans(img, boxes).segs == 1), 2)
1.0
>>> round(dice(disk, segment_gmm(img, boxes).segs == 1), 2)
1.0
"""

from __future__ import annotations

import numpy as np

from ._box import check_count, check_fraction, core_phase, segment_boxes

__all__ = ["segment_sklearn_kmeans", "segment_gmm", "FEATURES"]

#: Per-pixel features the clustering methods accept.
FEATURES = ("intensity", "color", "position")


def _check_features(features) -> tuple[str, ...]:
    feats = (features,) if isinstance(features, str) else tuple(features)
    bad = [f for f in feats if f not in FEATURES]
    if not feats or bad or len(set(feats)) != len(feats):
        raise ValueError(f"features must be distinct names from {FEATURES}, got {features!r}")
    return feats


def _pixels(crop, features, position_weight: float) -> np.ndarray:
    """(n_pixels, n_features) of the box's pixels, in array order."""
    box = crop.box
    cols = []
    for f in features:
        if f == "intensity":
            cols.append(box.reshape(-1, 1))
        elif f == "color":
            if crop.color is None:
                raise ValueError("features: 'color' needs an RGB (H, W, 3) image")
            cols.append(crop.color[crop.inner].reshape(-1, 3))
        else:  # position, in [0, 1] per axis
            grids = np.meshgrid(*[np.linspace(0, 1, n) for n in box.shape], indexing="ij")
            cols.append(position_weight * np.stack([g.ravel() for g in grids], axis=1))
    return np.concatenate(cols, axis=1)


def _cluster(image, boxes, make, *, method: str, what: str, features, position_weight,
             core, max_samples, random_state, postprocess):
    features = _check_features(features)
    core = check_fraction(core, "core")
    max_samples = check_count(max_samples, "max_samples", minimum=2)
    if not position_weight > 0:
        raise ValueError(f"position_weight must be > 0, got {position_weight!r}")

    def one_box(crop):
        x = _pixels(crop, features, position_weight)
        rng = np.random.default_rng(random_state)
        fit = x if len(x) <= max_samples else x[rng.choice(len(x), max_samples, replace=False)]
        est = make().fit(fit)
        labels = est.predict(x).reshape(crop.box.shape)
        fg, share = core_phase(labels, core)
        return fg, (f"{type(est).__name__} on {'+'.join(features)}; the cluster kept holds "
                    f"{share:.0%} of the core"), {}

    return segment_boxes(image, boxes, one_box, method=method, postprocess=postprocess,
                         what=what)


def segment_sklearn_kmeans(image, boxes, *, n_clusters: int = 2, features=("intensity",),
                           position_weight: float = 0.3, n_init: int = 3, core: float = 0.3,
                           max_samples: int = 20000, random_state: int = 0,
                           postprocess: str = "full"):
    """k-means (:class:`sklearn.cluster.KMeans`) on per-pixel features, per box.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (+ ``"color"`` features).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    n_clusters : int
        Clusters per box; foreground is one of them (the module's core rule).
    features : sequence of {"intensity", "color", "position"}
        Per-pixel features (see the module docstring).
    position_weight : float
        Scale of the ``"position"`` features against intensities in [0, 1].
    n_init : int
        k-means++ restarts (the best inertia is kept).
    core : float in (0, 1]
        The central fraction of every box side that decides the foreground cluster.
    max_samples : int
        The clusters are fitted on at most this many pixels (drawn with ``random_state``),
        then every pixel is assigned.
    random_state : int
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="sklearn-kmeans"``, ``extra["postprocess"]``.
    """
    from sklearn.cluster import KMeans

    n_clusters = check_count(n_clusters, "n_clusters", minimum=2)
    n_init = check_count(n_init, "n_init")
    return _cluster(image, boxes, lambda: KMeans(n_clusters, n_init=n_init,
                                                 random_state=random_state),
                    method="sklearn-kmeans", what="segment_sklearn_kmeans", features=features,
                    position_weight=position_weight, core=core, max_samples=max_samples,
                    random_state=random_state, postprocess=postprocess)


def segment_gmm(image, boxes, *, n_components: int = 2, features=("intensity",),
                covariance_type: str = "full", position_weight: float = 0.3, core: float = 0.3,
                max_samples: int = 20000, random_state: int = 0, postprocess: str = "full"):
    """Gaussian mixture (:class:`sklearn.mixture.GaussianMixture`) on per-pixel features, per box.

    Parameters
    ----------
    image : ndarray (H, W, 3), (H, W) or (D, H, W)
        Any numeric dtype; min-max rescaled, RGB as luminance (+ ``"color"`` features).
    boxes : array_like (N, 4) or (N, 6)
        Maxima inclusive.
    n_components : int
        Mixture components per box; foreground is one of them (the module's core rule).
    features : sequence of {"intensity", "color", "position"}
    covariance_type : {"full", "tied", "diag", "spherical"}
        scikit-learn's covariance model.
    position_weight, core, max_samples, random_state
        As for :func:`segment_sklearn_kmeans`.
    postprocess : {"full", "lcc", "box", "none"}
        See :mod:`classicseg.methods.postprocess`.

    Returns
    -------
    SegmentationResult, ``method="gmm"``, ``extra["postprocess"]``.
    """
    from sklearn.mixture import GaussianMixture

    n_components = check_count(n_components, "n_components", minimum=2)
    if covariance_type not in ("full", "tied", "diag", "spherical"):
        raise ValueError("covariance_type must be one of ('full', 'tied', 'diag', 'spherical'), "
                         f"got {covariance_type!r}")
    # reg_covar: a box of few grey levels gives near-singular covariances
    return _cluster(image, boxes, lambda: GaussianMixture(n_components,
                                                          covariance_type=covariance_type,
                                                          reg_covar=1e-4,
                                                          random_state=random_state),
                    method="gmm", what="segment_gmm", features=features,
                    position_weight=position_weight, core=core, max_samples=max_samples,
                    random_state=random_state, postprocess=postprocess)
