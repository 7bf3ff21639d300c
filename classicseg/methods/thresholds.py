"""Histogram thresholds as one family: Otsu, minimum error (MET) and Barron's GHT.

Every ``threshold_*`` function takes either values (any numeric array; an equal-width
histogram of ``nbins`` bins over ``[min, max]`` is built from them) or a histogram
``hist=`` -- counts, or a tuple ``(counts, bin_centers)`` as in
:func:`skimage.filters.threshold_otsu` -- and returns the threshold in value units.
Values ``> t`` form the upper class (bright PET lesions); values ``< t`` the lower one
(dark OCT fluid).

GHT (Barron, ECCV 2020; ``docs/algorithms.md`` §3) scores every split of a histogram
(counts ``n_i`` at bin centres ``x_i``; split ``k`` puts bins ``0..k`` in class 0) with four
hyper-parameters, :class:`GHTParams`::

    v_c  = max(1e-30, (p_c nu tau^2 + d_c) / (p_c nu + w_c))
    f(k) = sum_c [ -d_c / v_c - w_c ln v_c + 2 (w_c + kappa omega_c) ln w_c ]

(``w_c`` class weight, ``p_c`` its fraction, ``d_c`` its scatter, ``omega_0 = omega``,
``omega_1 = 1 - omega``) and returns the mean of ``x_k`` over all maximising splits.
``nu -> inf, tau -> 0`` is Otsu's method; ``nu = tau = kappa = 0`` is minimum-error
thresholding (Kittler & Illingworth); a large ``kappa`` tends to the ``omega``-percentile.

The paper's authors used ``nu = 1e60, tau = 1e-30, kappa = 0, omega = 0.5`` (``GHTParams()``,
the default here), which is numerically *plain Otsu*: the variances all fall below the 1e-30
clip. (One caveat: when two Otsu splits tie exactly -- e.g. on a perfectly symmetric
histogram such as ``[2, 6, 10, 6, 2, 1, 2, 6, 10, 6, 2]`` -- the two formulas round
differently; Otsu's averages the tied splits (4.5), GHT's last bit picks one (4.0).)

:func:`ght_scores` reproduces the reference implementation (github.com/jonbarron/hist_thresh)
operation for operation, so it matches its published outputs to the last bit, even on the
numerically fragile cases.

Examples
--------
>>> import numpy as np
>>> counts = np.array([0, 5, 9, 5, 0, 0, 4, 8, 4, 0], float)
>>> threshold_ght(hist=counts), threshold_otsu(hist=counts)   # the paper's setting is Otsu
(4.0, 4.0)
>>> threshold_met(hist=counts)  # MET on a coarse histogram: isolates one end bin
1.0
>>> values = np.r_[np.full(50, 10.0), np.full(50, 200.0)]
>>> 10 <= threshold_otsu(values, 100) < 200
True
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

__all__ = ["GHTParams", "threshold_otsu", "threshold_met", "threshold_ght", "ght_scores",
           "histogram", "pooled_threshold",
           # deprecated 0.1 names (warn, then call the family above); gone in 0.3
           "threshold_otsu_hist", "threshold_met_hist", "ght", "histogram_threshold"]

_EPS = 1e-30
_REMOVAL = "it goes away in classicseg 0.3"


@dataclass(frozen=True)
class GHTParams:
    """GHT hyper-parameters; the default is the paper's authors' setting (= Otsu).

    Parameters
    ----------
    nu, tau, kappa : float >= 0
        ``tau`` is in the units of the values (or of ``bin_centers``), ``nu`` and ``kappa``
        in the units of the counts.
    omega : float in [0, 1]

    Examples
    --------
    >>> GHTParams()
    GHTParams(nu=1e+60, tau=1e-30, kappa=0.0, omega=0.5)
    >>> GHTParams(nu=0, tau=0, kappa=0)          # minimum error thresholding
    GHTParams(nu=0.0, tau=0.0, kappa=0.0, omega=0.5)
    """

    nu: float = 1e60
    tau: float = 1e-30
    kappa: float = 0.0
    omega: float = 0.5

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{f.name} must be a number, got {v!r}") from None
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"{f.name} must be finite and >= 0, got {v!r}")
            object.__setattr__(self, f.name, v)  # frozen: plain floats, for a clean repr
        if self.omega > 1:
            raise ValueError(f"omega must lie in [0, 1], got {self.omega!r}")


# --------------------------------------------------------------------------- histogram maths

def _prepare(counts, bin_centers=None):
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


def _unpack_hist(hist):
    """``hist=`` as scikit-image takes it: counts, or a pair ``(counts, bin_centers)``.

    Only a tuple of two 1D sequences is a pair (``bin_centers`` may be None: ``0 .. N-1``),
    so a 2-bin histogram ``(3, 5)`` stays counts.
    """
    if (isinstance(hist, tuple) and len(hist) == 2 and np.ndim(hist[0]) == 1
            and (hist[1] is None or np.ndim(hist[1]) == 1)):
        return _prepare(*hist)
    return _prepare(hist)


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


def _otsu_scores(n, x, params=None):
    # Otsu's own criterion (not GHT's limit), so that their equality is a real check
    w0, w1, _, _, mu0, mu1, _, _ = _class_stats(n, x)
    return w0 * w1 * (mu0 - mu1) ** 2


def _met_scores(n, x, params=None):
    # GHT's nu = tau = kappa = 0 case written out: minus Kittler & Illingworth's cost
    w0, w1, _, _, _, _, d0, d1 = _class_stats(n, x)
    v0 = np.maximum(_EPS, d0 / w0)
    v1 = np.maximum(_EPS, d1 / w1)
    return -(w0 * np.log(v0) + w1 * np.log(v1) - 2 * (w0 * np.log(w0) + w1 * np.log(w1)))


def _ght_scores(n, x, params):
    nu, tau, kappa, omega = params.nu, params.tau, params.kappa, params.omega
    w0, w1, p0, p1, _, _, d0, d1 = _class_stats(n, x)
    v0 = np.maximum(_EPS, (p0 * nu * tau ** 2 + d0) / (p0 * nu + w0))
    v1 = np.maximum(_EPS, (p1 * nu * tau ** 2 + d1) / (p1 * nu + w1))
    f0 = -d0 / v0 - w0 * np.log(v0) + 2 * (w0 + kappa * omega) * np.log(w0)
    f1 = -d1 / v1 - w1 * np.log(v1) + 2 * (w1 + kappa * (1 - omega)) * np.log(w1)
    return f0 + f1


#: method name -> score of every split (higher is better); the one registry of the family.
_SCORES = {"ght": _ght_scores, "otsu": _otsu_scores, "met": _met_scores}


def _mean_of_maxima(x, score):
    """Mean of ``x[k]`` over the splits of exactly maximal score (the reference's tie rule)."""
    best = np.max(score)
    if not np.isfinite(best):
        raise ValueError("histogram scores are not finite; check the parameters")
    return float(np.mean(x[:-1][score == best]))


def _check_method(method: str) -> str:
    if method not in _SCORES:
        raise ValueError(f"method must be one of {tuple(_SCORES)}, got {method!r}")
    return method


def _check_params(params) -> GHTParams:
    if not isinstance(params, GHTParams):
        raise TypeError(f"params must be a GHTParams, got {type(params).__name__} "
                        "(a dict d works as GHTParams(**d))")
    return params


def _on_bins(method: str, counts, lo: float, width: float, params: GHTParams) -> float:
    """Threshold in value units from an equal-width histogram ``(counts, lo, width)``.

    The split is computed on bin *indices* (``tau`` rescaled to bins) and mapped back to
    values. GHT is equivariant under ``x -> a x + b`` (with ``tau -> a tau``), so this is the
    split of ``(counts, bin_centers)`` in exact arithmetic; on indices the prefix sums are
    exact integers, so shifting the data shifts the threshold exactly. No split (all values
    equal, ``width == 0``): that value, so ``values > t`` is empty.
    """
    if width == 0:
        return lo
    if method == "ght":
        params = replace(params, tau=params.tau / width)
    idx = np.arange(counts.size, dtype=np.float64)
    k = _mean_of_maxima(idx, _SCORES[method](counts, idx, params))
    return lo + (k + 0.5) * width


def _threshold(method: str, image, nbins, hist, params: GHTParams) -> float:
    if hist is not None:
        if image is not None:
            raise ValueError("give the values (image) or a histogram (hist=), not both")
        n, x = _unpack_hist(hist)
        return _mean_of_maxima(x, _SCORES[method](n, x, params))
    if image is None:
        raise ValueError("give the values (image) or a histogram (hist=)")
    return _on_bins(method, *histogram(image, nbins), params)


# --------------------------------------------------------------------------- the family

def threshold_otsu(image=None, nbins: int = 256, *, hist=None) -> float:
    """Otsu's threshold: maximise the between-class variance ``w0 w1 (mu0 - mu1)^2``.

    Parameters
    ----------
    image : array_like, optional
        Values to threshold (any shape, any numeric dtype), histogrammed into ``nbins``
        equal-width bins over ``[min, max]`` (see :func:`histogram`).
    nbins : int >= 2
        Bins for ``image`` (the paper: 100 for PET, 10 for OCT); ignored with ``hist``.
    hist : array_like or tuple, optional
        Instead of ``image``: counts (>= 0, N >= 2; bin centres ``0 .. N-1``), or a tuple
        ``(counts, bin_centers)`` with non-decreasing centres (uneven spacing allowed).

    Returns
    -------
    float
        With ``image``: a bin centre (or the mean of tied centres); values ``> t`` are the
        upper class, and all-equal values return that value (no split). With ``hist``: the
        mean of ``bin_centers[k]`` over the splits ``k`` of best score (bins ``<= k``: class 0).

    Examples
    --------
    >>> threshold_otsu(hist=[4, 4, 0, 0, 0, 4, 4])   # splits 1..4 tie: their mean
    2.5
    >>> threshold_otsu([10, 11, 12, 50, 51, 52], nbins=4)  # bins 0..2 tie: centre of bin 1
    25.75
    """
    return _threshold("otsu", image, nbins, hist, GHTParams())


def threshold_met(image=None, nbins: int = 256, *, hist=None) -> float:
    """Minimum-error threshold (Kittler & Illingworth 1986).

    Minimises ``w0 ln v0 + w1 ln v1 - 2 (w0 ln w0 + w1 ln w1)`` with ``v_c = max(1e-30,
    d_c / w_c)`` -- GHT's ``nu = tau = kappa = 0`` case, written out.

    Parameters
    ----------
    image : array_like, optional
        Values to threshold (any shape, any numeric dtype), histogrammed into ``nbins``
        equal-width bins over ``[min, max]`` (see :func:`histogram`).
    nbins : int >= 2
        Bins for ``image`` (the paper: 100 for PET, 10 for OCT); ignored with ``hist``.
    hist : array_like or tuple, optional
        Instead of ``image``: counts (>= 0, N >= 2; bin centres ``0 .. N-1``), or a tuple
        ``(counts, bin_centers)`` with non-decreasing centres (uneven spacing allowed).

    Returns
    -------
    float
        With ``image``: a bin centre (or the mean of tied centres); values ``> t`` are the
        upper class, and all-equal values return that value (no split). With ``hist``: the
        mean of ``bin_centers[k]`` over the splits ``k`` of best score (bins ``<= k``: class 0).

    Examples
    --------
    >>> threshold_met(hist=[4, 14, 32, 61, 88, 100, 88, 61, 33, 16,
    ...                     13, 21, 37, 53, 60, 53, 36, 19, 8, 3])
    9.0
    """
    return _threshold("met", image, nbins, hist, GHTParams())


def threshold_ght(image=None, nbins: int = 256, *, hist=None,
                  params: GHTParams = GHTParams()) -> float:
    """Barron's generalized histogram threshold (GHT).

    Parameters
    ----------
    image : array_like, optional
        Values to threshold (any shape, any numeric dtype), histogrammed into ``nbins``
        equal-width bins over ``[min, max]`` (see :func:`histogram`).
    nbins : int >= 2
        Bins for ``image`` (the paper: 100 for PET, 10 for OCT); ignored with ``hist``.
    hist : array_like or tuple, optional
        Instead of ``image``: counts (>= 0, N >= 2; bin centres ``0 .. N-1``), or a tuple
        ``(counts, bin_centers)`` with non-decreasing centres (uneven spacing allowed).
    params : GHTParams
        ``nu, tau, kappa, omega``; default: the paper's setting (= Otsu).

    Returns
    -------
    float
        With ``image``: a bin centre (or the mean of tied centres); values ``> t`` are the
        upper class, and all-equal values return that value (no split). With ``hist``: the
        mean of ``bin_centers[k]`` over the splits ``k`` of best score (bins ``<= k``: class 0).

    Examples
    --------
    >>> counts = [0, 3, 9, 3, 0, 0, 0, 2, 6, 2]
    >>> threshold_ght(hist=counts)                       # splits 3..6 tie: their mean
    4.5
    >>> threshold_ght(hist=counts, params=GHTParams(nu=0, tau=0, kappa=0))   # MET-like
    1.0
    >>> threshold_ght(hist=counts, params=GHTParams(0, 0, kappa=1e6, omega=0.8))  # 80th pct
    7.0
    """
    return _threshold("ght", image, nbins, hist, _check_params(params))


def ght_scores(hist, *, params: GHTParams = GHTParams()) -> np.ndarray:
    """GHT's score ``f(k)`` of every split ``k = 0..N-2`` of a histogram (for plots and parity).

    :func:`threshold_ght` returns the mean of ``bin_centers[k]`` over the maxima of these.

    Parameters
    ----------
    hist : array_like or tuple
        Counts, or ``(counts, bin_centers)``, as in :func:`threshold_ght`.
    params : GHTParams

    Returns
    -------
    ndarray of float64, shape (N-1,)

    Examples
    --------
    >>> s = ght_scores([0, 3, 9, 3, 0, 0, 0, 2, 6, 2])
    >>> s.shape, np.flatnonzero(s == s.max()).tolist()   # four tied splits
    ((9,), [3, 4, 5, 6])
    """
    n, x = _unpack_hist(hist)
    return _ght_scores(n, x, _check_params(params))


# --------------------------------------------------------------------------- from values

def _check_values(values) -> np.ndarray:
    v = np.asarray(values)
    numeric = np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)
    if v.dtype == bool or not numeric:
        raise ValueError(f"values must be numeric, got dtype {v.dtype}")
    if v.size == 0:
        raise ValueError("values is empty: nothing to threshold")
    if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
        raise ValueError("values contain NaN or inf")
    return v


def _renamed_keywords(**old_to_new):
    """Accept a keyword's 0.1 name for one release, with a DeprecationWarning."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= and {new}=")
                    warnings.warn(f"{fn.__name__}({old}=...) is now {fn.__name__}({new}=...); "
                                  f"{_REMOVAL}", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


@_renamed_keywords(values="image", bins="nbins")
def histogram(image, nbins: int = 256, *, counts_by_value=None):
    """Equal-width histogram over ``[min, max]`` of the values: ``(counts, lo, width)``.

    The bins are those of ``np.histogram(image, nbins)`` (last bin closed), but each
    value's bin is computed exactly as ``floor((v - lo) * nbins / (hi - lo))`` -- in integer
    arithmetic for integer data -- whereas numpy compares against rounded float edges and
    can put a value lying exactly on an edge into the lower bin depending on ``lo``
    (so shifting an image by a constant could change its histogram).

    Parameters
    ----------
    image : array_like
        Any numeric values (ignored when ``counts_by_value`` is given).
    nbins : int >= 2
    counts_by_value : ndarray, optional
        ``np.bincount`` of non-negative integer values (index = value): binning then costs
        O(max value), not O(number of values). uint8 / uint16 images take this path by
        themselves.

    Returns
    -------
    counts : ndarray of float64, shape (nbins,); lo : float; width : float
        Bin ``i`` has centre ``lo + (i + 0.5) * width``. A constant input has
        ``width == 0`` and all counts in bin 0.

    Examples
    --------
    >>> counts, lo, width = histogram([0, 1, 2, 3, 9], 3)
    >>> counts.tolist(), lo, width
    ([3.0, 1.0, 1.0], 0.0, 3.0)
    """
    bins = int(nbins)
    if bins < 2:
        raise ValueError(f"nbins must be >= 2, got {nbins}")
    if counts_by_value is None:
        v = _check_values(image)
        if v.dtype in (np.uint8, np.uint16):
            counts_by_value = np.bincount(v.ravel())  # same bins, far cheaper than per value
    if counts_by_value is not None:
        cbv = np.asarray(counts_by_value)
        nz = np.flatnonzero(cbv)
        if nz.size == 0:
            raise ValueError("values is empty: nothing to threshold")
        lo_i, hi_i = int(nz[0]), int(nz[-1])
        weights = cbv[lo_i:hi_i + 1].astype(np.float64)
        v = np.arange(lo_i, hi_i + 1, dtype=np.int64)
    else:
        v = v.ravel()
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


def _legacy_params(name: str, params: GHTParams, legacy: dict) -> GHTParams:
    """0.1 keywords ``nu, tau, kappa, omega`` -> a GHTParams, with a DeprecationWarning."""
    unknown = set(legacy) - {f.name for f in fields(GHTParams)}
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {sorted(unknown)}")
    if not legacy:
        return params
    warnings.warn(f"{name}({', '.join(f'{k}=' for k in legacy)}...) is now "
                  f"{name}(params=GHTParams(...)); {_REMOVAL}", DeprecationWarning, stacklevel=3)
    return replace(params, **legacy)


@_renamed_keywords(bins="nbins")
def pooled_threshold(regions, nbins: int = 256, *, method: str = "ght",
                     params: GHTParams = GHTParams(), **legacy) -> float:
    """One threshold from the values of several arrays pooled together.

    Used for the paper's "one threshold from the voxels of all boxes". Small unsigned
    integer arrays (uint8/uint16, the challenge's images) are histogrammed with
    ``np.bincount`` and never concatenated, so pooling costs no extra memory.

    Parameters
    ----------
    regions : sequence of array_like
        E.g. the box crops of one image (overlapping boxes count their shared voxels twice).
    nbins : int >= 2
    method : {"ght", "otsu", "met"}
        :func:`threshold_ght` (with ``params``), :func:`threshold_otsu` or :func:`threshold_met`.
    params : GHTParams
        Used by ``method="ght"`` only.

    Returns
    -------
    float
        ``threshold_<method>(concatenated values, nbins)``.

    Examples
    --------
    >>> a = np.array([10, 10, 200], np.uint8); b = np.array([[12, 198]], np.uint8)
    >>> pooled_threshold([a, b], 10) == threshold_ght(np.r_[a, b.ravel()], 10)
    True
    """
    params = _legacy_params("pooled_threshold", _check_params(params), legacy)
    _check_method(method)
    arrays = [np.asarray(r) for r in regions]
    if not arrays or all(a.size == 0 for a in arrays):
        raise ValueError("regions hold no values: nothing to threshold")
    if all(a.dtype in (np.uint8, np.uint16) for a in arrays):
        size = 256 if all(a.dtype == np.uint8 for a in arrays) else 65536
        counts = sum(np.bincount(a.ravel(), minlength=size) for a in arrays)
        binned = histogram(None, nbins, counts_by_value=counts)
    else:
        binned = histogram(np.concatenate([_check_values(a).ravel() for a in arrays]), nbins)
    return _on_bins(method, *binned, params)


# --------------------------------------------------------------------------- 0.1 names (deprecated)

def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"classicseg.methods.thresholds.{old} is deprecated: use {new}; {_REMOVAL}",
                  DeprecationWarning, stacklevel=3)


def _pair(counts, bin_centers):
    return np.asarray(counts) if bin_centers is None else (counts, bin_centers)


def threshold_otsu_hist(counts, bin_centers=None) -> float:
    """Deprecated alias: ``threshold_otsu(hist=(counts, bin_centers))``."""
    _deprecated("threshold_otsu_hist", "threshold_otsu(hist=(counts, bin_centers))")
    return threshold_otsu(hist=_pair(counts, bin_centers))


def threshold_met_hist(counts, bin_centers=None) -> float:
    """Deprecated alias: ``threshold_met(hist=(counts, bin_centers))``."""
    _deprecated("threshold_met_hist", "threshold_met(hist=(counts, bin_centers))")
    return threshold_met(hist=_pair(counts, bin_centers))


def ght(counts, bin_centers=None, *, nu: float = 1e60, tau: float = 1e-30, kappa: float = 0.0,
        omega: float = 0.5, return_scores: bool = False):
    """Deprecated alias: ``threshold_ght(hist=..., params=GHTParams(...))``, :func:`ght_scores`."""
    _deprecated("ght", "threshold_ght(hist=(counts, bin_centers), params=GHTParams(...)) "
                       "and ght_scores(...)")
    hist, params = _pair(counts, bin_centers), GHTParams(nu, tau, kappa, omega)
    t = threshold_ght(hist=hist, params=params)
    return (t, ght_scores(hist, params=params)) if return_scores else t


def histogram_threshold(values, *, bins: int, method: str = "ght", nu: float = 1e60,
                        tau: float = 1e-30, kappa: float = 0.0, omega: float = 0.5,
                        counts_by_value=None) -> float:
    """Deprecated alias: ``threshold_<method>(values, bins)``, ``params=GHTParams(...)`` for GHT."""
    _deprecated("histogram_threshold",
                "threshold_ght / threshold_otsu / threshold_met(values, nbins)")
    _check_method(method)
    params = GHTParams(nu, tau, kappa, omega)
    return _on_bins(method, *histogram(values, bins, counts_by_value=counts_by_value), params)


def __getattr__(name):
    if name == "AUTHORS_GHT":  # the 0.1 dict; GHTParams() is the same setting
        _deprecated("AUTHORS_GHT", "GHTParams()")
        return asdict(GHTParams())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
