"""Histogram thresholds: Barron's generalized histogram threshold (GHT) and its special cases.

GHT (Barron, ECCV 2020) scores every split of a histogram (counts ``n_i`` at bin centres
``x_i``; split ``k`` puts bins ``0..k`` in class 0) with four hyper-parameters::

    v_c  = max(1e-30, (p_c nu tau^2 + d_c) / (p_c nu + w_c))
    f(k) = sum_c [ -d_c / v_c - w_c ln v_c + 2 (w_c + kappa omega_c) ln w_c ]

(``w_c`` class weight, ``p_c`` its fraction, ``d_c`` its scatter, ``omega_0 = omega``,
``omega_1 = 1 - omega``) and returns the mean of ``x_k`` over all maximising splits.
``nu -> inf, tau -> 0`` is Otsu's method; ``nu = tau = kappa = 0`` is minimum-error
thresholding (Kittler & Illingworth); a large ``kappa`` tends to the ``omega``-percentile.

The paper's authors used ``nu = 1e60, tau = 1e-30, kappa = 0, omega = 0.5``
(:data:`AUTHORS_GHT`, the default here), which is numerically *plain Otsu*: the variances
all fall below the 1e-30 clip. (One caveat: when two Otsu splits tie exactly -- e.g. on a
perfectly symmetric histogram such as ``[2, 6, 10, 6, 2, 1, 2, 6, 10, 6, 2]`` -- the two
formulas round differently; Otsu's averages the tied splits (4.5), GHT's last bit picks
one (4.0).) Values ``> t`` form the upper class (bright PET lesions); values ``< t`` the
lower one (dark OCT fluid).

:func:`ght` reproduces the reference implementation (github.com/jonbarron/hist_thresh)
operation for operation, so it matches its published outputs to the last bit, even on
the numerically fragile cases.

Examples
--------
>>> import numpy as np
>>> counts = np.array([0, 5, 9, 5, 0, 0, 4, 8, 4, 0], float)
>>> ght(counts), threshold_otsu_hist(counts)      # the paper's setting is Otsu
(4.0, 4.0)
>>> threshold_met_hist(counts)  # MET on a coarse histogram: isolates one end bin
1.0
>>> values = np.r_[np.full(50, 10.0), np.full(50, 200.0)]
>>> histogram_threshold(values, bins=100) < 200
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["AUTHORS_GHT", "ght", "threshold_otsu_hist", "threshold_met_hist",
           "histogram", "histogram_threshold", "pooled_threshold"]

#: The paper's GHT setting -- numerically identical to Otsu's method.
AUTHORS_GHT = {"nu": 1e60, "tau": 1e-30, "kappa": 0.0, "omega": 0.5}

_EPS = 1e-30
_METHODS = ("ght", "otsu", "met")


# --------------------------------------------------------------------------- histogram maths

def _prepare(counts, bin_centers):
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size < 2:
        raise ValueError(f"counts must be a 1D histogram with at least 2 bins, got shape {n.shape}")
    if not np.isfinite(n).all() or np.any(n < 0):
        raise ValueError("counts must be finite and >= 0")
    if bin_centers is None:
        x = np.arange(n.size, dtype=np.float64)
    else:
        x = np.asarray(bin_centers, dtype=np.float64)
        if x.shape != n.shape:
            raise ValueError(f"bin_centers has shape {x.shape}, counts has shape {n.shape}")
        if not np.isfinite(x).all() or np.any(np.diff(x) < 0):
            raise ValueError("bin_centers must be finite and non-decreasing")
    return n, x


def _class_stats(n, x):
    """Per-split class statistics in the reference's exact order of operations.

    Class 0 sums are prefix sums from the left; class 1 sums are cumulative sums of the
    *reversed* arrays (not total minus prefix), and the scatter is ``sum(n x^2) - w mu^2``,
    not clamped at 0. Reordering any of this changes the last bits, and on fragile
    histograms (one class a single bin, true scatter 0) it changes the answer.
    """
    def left(z):
        return np.cumsum(z)[:-1]

    def right(z):
        return np.cumsum(z[::-1])[-2::-1]

    w0 = np.maximum(_EPS, left(n))
    w1 = np.maximum(_EPS, right(n))
    p0 = w0 / (w0 + w1)
    p1 = w1 / (w0 + w1)  # not 1 - p0: differs when a class is empty
    nx, nxx = n * x, n * x ** 2
    mu0 = left(nx) / w0
    mu1 = right(nx) / w1
    d0 = left(nxx) - w0 * mu0 ** 2
    d1 = right(nxx) - w1 * mu1 ** 2
    return w0, w1, p0, p1, mu0, mu1, d0, d1


def _mean_of_maxima(x, score):
    """Mean of ``x[k]`` over every split whose score equals the maximum exactly (the reference's tie rule)."""
    best = np.max(score)
    if not np.isfinite(best):
        raise ValueError("histogram scores are not finite; check the parameters")
    return float(np.mean(x[:-1][score == best]))


def _check_params(nu, tau, kappa, omega):
    for name, v in (("nu", nu), ("tau", tau), ("kappa", kappa), ("omega", omega)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
    if omega > 1:
        raise ValueError(f"omega must lie in [0, 1], got {omega!r}")


def ght(counts, bin_centers=None, *, nu: float = 1e60, tau: float = 1e-30, kappa: float = 0.0,
        omega: float = 0.5, return_scores: bool = False):
    """Barron's generalized histogram threshold.

    Parameters
    ----------
    counts : array_like, shape (N,)
        Histogram weights (>= 0, need not be integers), N >= 2.
    bin_centers : array_like, shape (N,), optional
        Non-decreasing bin values (uneven spacing allowed); default ``0, 1, ..., N-1``.
    nu, tau, kappa, omega : float
        GHT hyper-parameters (``nu, tau, kappa >= 0``, ``0 <= omega <= 1``; ``tau`` in
        the units of ``bin_centers``, ``nu`` and ``kappa`` in the units of ``counts``).
        Defaults: the paper's setting :data:`AUTHORS_GHT` (= Otsu).
    return_scores : bool
        Also return the score ``f(k)`` of every split ``k = 0..N-2`` (for plotting).

    Returns
    -------
    t : float
        The threshold: mean of ``bin_centers[k]`` over all splits with the maximal score
        (values ``<= t`` are class 0, ``> t`` class 1).
    scores : ndarray, shape (N-1,), only if ``return_scores``.

    Examples
    --------
    >>> counts = [0, 3, 9, 3, 0, 0, 0, 2, 6, 2]
    >>> ght(counts)                          # splits 4 and 5 tie exactly: their mean
    4.5
    >>> ght(counts, nu=0, tau=0, kappa=0)    # MET-like
    1.0
    >>> ght(counts, nu=0, tau=0, kappa=1e6, omega=0.8)   # -> the 80th percentile
    7.0
    """
    n, x = _prepare(counts, bin_centers)
    _check_params(nu, tau, kappa, omega)
    w0, w1, p0, p1, _, _, d0, d1 = _class_stats(n, x)
    v0 = np.maximum(_EPS, (p0 * nu * tau ** 2 + d0) / (p0 * nu + w0))
    v1 = np.maximum(_EPS, (p1 * nu * tau ** 2 + d1) / (p1 * nu + w1))
    f0 = -d0 / v0 - w0 * np.log(v0) + 2 * (w0 + kappa * omega) * np.log(w0)
    f1 = -d1 / v1 - w1 * np.log(v1) + 2 * (w1 + kappa * (1 - omega)) * np.log(w1)
    score = f0 + f1
    t = _mean_of_maxima(x, score)
    return (t, score) if return_scores else t


def threshold_otsu_hist(counts, bin_centers=None) -> float:
    """Otsu's threshold of a histogram: maximise the between-class variance ``w0 w1 (mu0 - mu1)^2``.

    Computed from Otsu's own criterion (not via :func:`ght`), so that the equality with
    GHT at the paper's setting is a real check. Same conventions and tie rule as :func:`ght`.

    Examples
    --------
    >>> threshold_otsu_hist([4, 4, 0, 0, 0, 4, 4])   # splits 1..4 tie: their mean
    2.5
    """
    n, x = _prepare(counts, bin_centers)
    w0, w1, _, _, mu0, mu1, _, _ = _class_stats(n, x)
    return _mean_of_maxima(x, w0 * w1 * (mu0 - mu1) ** 2)


def threshold_met_hist(counts, bin_centers=None) -> float:
    """Minimum-error threshold (Kittler & Illingworth 1986) of a histogram.

    Minimises ``w0 ln v0 + w1 ln v1 - 2 (w0 ln w0 + w1 ln w1)`` with ``v_c = max(1e-30,
    d_c / w_c)`` (GHT's ``nu = tau = kappa = 0`` case, written out). Same conventions
    and tie rule as :func:`ght`.

    Examples
    --------
    >>> threshold_met_hist([4, 14, 32, 61, 88, 100, 88, 61, 33, 16,
    ...                     13, 21, 37, 53, 60, 53, 36, 19, 8, 3])
    9.0
    """
    n, x = _prepare(counts, bin_centers)
    w0, w1, _, _, _, _, d0, d1 = _class_stats(n, x)
    v0 = np.maximum(_EPS, d0 / w0)
    v1 = np.maximum(_EPS, d1 / w1)
    cost = w0 * np.log(v0) + w1 * np.log(v1) - 2 * (w0 * np.log(w0) + w1 * np.log(w1))
    return _mean_of_maxima(x, -cost)


# --------------------------------------------------------------------------- from values

def _check_values(values) -> np.ndarray:
    v = np.asarray(values)
    if v.dtype == bool or not (np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)):
        raise ValueError(f"values must be numeric, got dtype {v.dtype}")
    if v.size == 0:
        raise ValueError("values is empty: nothing to threshold")
    if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
        raise ValueError("values contain NaN or inf")
    return v


def histogram(values, bins: int, *, counts_by_value=None):
    """Equal-width histogram over ``[min, max]`` of ``values``: ``(counts, lo, width)``.

    The bins are those of ``np.histogram(values, bins)`` (last bin closed), but each
    value's bin is computed exactly as ``floor((v - lo) * bins / (hi - lo))`` -- in integer
    arithmetic for integer data -- whereas numpy compares against rounded float edges and
    can put a value lying exactly on an edge into the lower bin depending on ``lo``
    (so shifting an image by a constant could change its histogram).

    Parameters
    ----------
    values : array_like
        Any numeric values (ignored when ``counts_by_value`` is given).
    bins : int >= 2
    counts_by_value : ndarray, optional
        Fast path for integer images: ``np.bincount`` of non-negative integer values
        (index = value). Binning then costs O(max value), not O(number of values).

    Returns
    -------
    counts : ndarray of float64, shape (bins,); lo : float; width : float
        Bin ``i`` has centre ``lo + (i + 0.5) * width``. A constant input has
        ``width == 0`` and all counts in bin 0.

    Examples
    --------
    >>> counts, lo, width = histogram([0, 1, 2, 3, 9], bins=3)
    >>> counts.tolist(), lo, width
    ([3.0, 1.0, 1.0], 0.0, 3.0)
    """
    bins = int(bins)
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    if counts_by_value is not None:
        cbv = np.asarray(counts_by_value)
        nz = np.flatnonzero(cbv)
        if nz.size == 0:
            raise ValueError("values is empty: nothing to threshold")
        lo_i, hi_i = int(nz[0]), int(nz[-1])
        weights = cbv[lo_i:hi_i + 1].astype(np.float64)
        v = np.arange(lo_i, hi_i + 1, dtype=np.int64)
    else:
        v = _check_values(values).ravel()
        weights = None
        lo_i, hi_i = v.min(), v.max()
    counts = np.zeros(bins, np.float64)
    if hi_i == lo_i:
        counts[0] = weights.sum() if weights is not None else v.size
        return counts, float(lo_i), 0.0
    if np.issubdtype(v.dtype, np.integer) and (int(hi_i) - int(lo_i)) * bins < 2 ** 62:
        # exact: (v - lo) * bins // (hi - lo) in int64 arithmetic
        span = int(hi_i) - int(lo_i)
        idx = (v.astype(np.int64) - int(lo_i)) * bins // span
    else:
        span = float(hi_i) - float(lo_i)
        idx = np.floor((v - lo_i) * (bins / span)).astype(np.int64)
    np.minimum(idx, bins - 1, out=idx)  # the maximum lands in the last (closed) bin
    counts += np.bincount(idx, weights=weights, minlength=bins)[:bins]
    return counts, float(lo_i), span / bins


def histogram_threshold(values, *, bins: int, method: str = "ght", nu: float = 1e60,
                        tau: float = 1e-30, kappa: float = 0.0, omega: float = 0.5,
                        counts_by_value=None) -> float:
    """Threshold of a set of values from an equal-width histogram over ``[min, max]``.

    Parameters
    ----------
    values : array_like
        Values to threshold (any shape, any numeric dtype).
    bins : int
        Number of bins (the paper: 100 for PET, 10 for OCT).
    method : {"ght", "otsu", "met"}
        GHT with ``nu, tau, kappa, omega`` (default: the paper's setting, = Otsu), or the
        named special cases.
    nu, tau, kappa, omega : float
        GHT hyper-parameters; ``tau`` is in the units of ``values``.
    counts_by_value : ndarray, optional
        ``np.bincount`` of integer values, instead of ``values`` (fast path for uint8).

    Returns
    -------
    float
        A bin-centre value (or the mean of tied centres); values ``> t`` are the upper
        class. If all values are equal there is no split and that value is returned
        (so ``values > t`` is empty).

    Notes
    -----
    The split is computed on bin *indices* (``tau`` rescaled to bins) and mapped back to
    values. GHT is equivariant under ``x -> a x + b`` (with ``tau -> a tau``), so this is
    the same split as ``ght(counts, bin_centers)`` in exact arithmetic; on indices the
    prefix sums are exact integers, so shifting the data shifts the threshold exactly.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = np.r_[rng.normal(50, 5, 500), rng.normal(150, 5, 500)]
    >>> 60 < histogram_threshold(v, bins=100) < 140
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    counts, lo, width = histogram(values, bins, counts_by_value=counts_by_value)
    if width == 0:
        return lo
    if method == "otsu":
        k = threshold_otsu_hist(counts)
    elif method == "met":
        k = threshold_met_hist(counts)
    else:
        k = ght(counts, nu=nu, tau=tau / width, kappa=kappa, omega=omega)
    return lo + (k + 0.5) * width


def pooled_threshold(regions, *, bins: int, method: str = "ght", nu: float = 1e60,
                     tau: float = 1e-30, kappa: float = 0.0, omega: float = 0.5) -> float:
    """:func:`histogram_threshold` of the values of several arrays pooled together.

    Used for the paper's "one threshold from the voxels of all boxes". Small unsigned
    integer arrays (uint8/uint16, the challenge's images) are histogrammed with
    ``np.bincount`` and never concatenated, so pooling costs no extra memory.

    Parameters
    ----------
    regions : sequence of array_like
        E.g. the box crops of one image (overlapping boxes count their shared voxels twice).
    bins, method, nu, tau, kappa, omega
        As in :func:`histogram_threshold`.

    Examples
    --------
    >>> a = np.array([10, 10, 200], np.uint8); b = np.array([[12, 198]], np.uint8)
    >>> pooled_threshold([a, b], bins=10) == histogram_threshold(np.r_[a, b.ravel()], bins=10)
    True
    """
    arrays = [np.asarray(r) for r in regions]
    if not arrays or all(a.size == 0 for a in arrays):
        raise ValueError("regions hold no values: nothing to threshold")
    kw = dict(bins=bins, method=method, nu=nu, tau=tau, kappa=kappa, omega=omega)
    if all(a.dtype in (np.uint8, np.uint16) for a in arrays):
        size = 256 if all(a.dtype == np.uint8 for a in arrays) else 65536
        counts = sum(np.bincount(a.ravel(), minlength=size) for a in arrays)
        return histogram_threshold(None, counts_by_value=counts, **kw)
    return histogram_threshold(np.concatenate([_check_values(a).ravel() for a in arrays]), **kw)
