"""GHT parity with Barron's reference outputs, its special cases, and histogram thresholds."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import filters

from classicseg.methods import thresholds
from classicseg.methods.thresholds import (
    GHTParams,
    ght_scores,
    histogram,
    pooled_threshold,
    threshold_ght,
    threshold_met,
    threshold_otsu,
)

REFERENCE = Path(__file__).resolve().parents[1] / "data"  # vendored: tests/data/README.md
VECTORS = REFERENCE / "ght_vectors.json"
CASES = json.loads(VECTORS.read_text())
FRAGILE = "bimodal10_nonuniform_met_like"


def params(case):
    return GHTParams(**{k: case[k] for k in ("nu", "tau", "kappa", "omega")})


def hist(case):
    return case["counts"], case["bin_centers"]


def rel_err(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


MET_LIKE = GHTParams(nu=0, tau=0, kappa=0)
BY_NAME = {"otsu": threshold_otsu, "met": threshold_met, "ght": threshold_ght}


# --------------------------------------------------------------------------- parity

def test_vectors_file_has_all_65_cases():
    assert len(CASES) == 65 and any(c["name"] == FRAGILE for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_ght_matches_reference(case):
    t = threshold_ght(hist=hist(case), params=params(case))
    assert rel_err(t, case["threshold"]) <= 1e-9 or t == case["threshold"]
    scores = ght_scores(hist(case), params=params(case))
    np.testing.assert_allclose(scores, case["scores"], rtol=1e-12)
    # the special cases against the reference's own Otsu / MET / weighted-percentile functions
    assert threshold_otsu(hist=hist(case)) == case["otsu"]
    assert threshold_met(hist=hist(case)) == case["met"]
    percentile = GHTParams(nu=0, tau=0, kappa=1e60, omega=case["omega"])
    assert threshold_ght(hist=hist(case), params=percentile) == case["wprctile"]


def test_fragile_case_reproduces_the_reference_not_exact_arithmetic():
    case = next(c for c in CASES if c["name"] == FRAGILE)
    t = threshold_ght(hist=hist(case), params=params(case))
    assert t == pytest.approx(-1.8986207330792397, rel=1e-12)       # the reference's answer
    assert case["threshold_high_precision"] != pytest.approx(t)       # exact arithmetic differs
    assert threshold_met(hist=hist(case)) == pytest.approx(1.5259506201968862)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_authors_setting_is_otsu_on_every_vector(case):
    t = threshold_ght(hist=hist(case))  # the default GHTParams() is the authors' setting
    assert t == case["ght_otsu_limit"]
    assert t == threshold_otsu(hist=hist(case))


def test_met_like_ght_equals_met_except_on_the_fragile_histogram():
    fragile = next(c for c in CASES if c["name"] == FRAGILE)
    differ = {json.dumps(hist(c)) for c in CASES
              if threshold_ght(hist=hist(c), params=GHTParams(0, 0, 0, c["omega"]))
              != threshold_met(hist=hist(c))}
    assert differ == {json.dumps(hist(fragile))}


def test_authors_setting_is_otsu_on_random_histograms():
    rng = np.random.default_rng(1)
    for _ in range(200):
        nbins = int(rng.integers(8, 257))
        counts = rng.random(nbins) * rng.integers(1, 1000)
        centres = np.sort(rng.normal(0, 50, nbins))
        t = threshold_ght(hist=(counts, centres))
        assert t == threshold_otsu(hist=(counts, centres))
        # and agrees with scikit-image's Otsu (no ties among random real counts)
        assert t == filters.threshold_otsu(hist=(counts, centres))


def test_otsu_hist_equals_scikit_image_on_images():
    rng = np.random.default_rng(2)
    img = np.r_[rng.normal(60, 12, 4000), rng.normal(170, 20, 3000)].clip(0, 255).astype(np.uint8)
    counts = np.bincount(img, minlength=256)
    assert threshold_otsu(hist=counts) == filters.threshold_otsu(img)


def test_ties_are_averaged_and_integer_counts_are_safe():
    assert threshold_otsu(hist=[4, 4, 0, 0, 0, 4, 4]) == 2.5  # splits 1..4 tie
    assert threshold_ght(hist=[0, 0, 7, 0]) == 1.0            # one occupied bin: mean of 0..2
    big = np.array([0, 200, 255, 10, 0, 0, 3, 250, 240, 1], np.uint8)   # uint8 n*x^2 would overflow
    centres = np.linspace(0, 250, 10)
    assert threshold_ght(hist=(big, centres)) == threshold_ght(hist=(big.astype(float), centres))


@pytest.mark.parametrize("hist_arg, match", [
    ([1, -1, 2], ">= 0"),
    ([1], "at least 2"),
    (([1, 2, 3], [0, 2, 1]), "non-decreasing"),
    (([1, 2, 3], [0, 1]), "shape"),
    ([1, np.nan, 3], "finite"),
])
def test_hist_rejects_bad_input(hist_arg, match):
    for fn in BY_NAME.values():
        with pytest.raises(ValueError, match=match):
            fn(hist=hist_arg)


@pytest.mark.parametrize("kwargs, match", [
    ({"nu": -1}, "nu"), ({"omega": 1.5}, "omega"), ({"tau": np.inf}, "tau"),
    ({"kappa": "x"}, "kappa"),
])
def test_ght_params_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GHTParams(**kwargs)


def test_image_and_hist_are_exclusive_and_params_typed():
    with pytest.raises(ValueError, match="not both"):
        threshold_otsu([1, 2, 3], hist=[1, 2, 3])
    with pytest.raises(ValueError, match="hist="):
        threshold_met()
    with pytest.raises(TypeError, match="GHTParams"):
        threshold_ght(hist=[1, 2, 3], params={"nu": 0})


# --------------------------------------------------------------------------- GHTParams

def test_ght_params_default_is_the_authors_setting_and_frozen():
    p = GHTParams()
    assert (p.nu, p.tau, p.kappa, p.omega) == (1e60, 1e-30, 0.0, 0.5)
    with pytest.raises(AttributeError):
        p.nu = 0.0                          # frozen: a default can't be changed by accident
    assert GHTParams(nu=1e60, tau=1e-30, kappa=0, omega=0.5) == p and hash(p) == hash(GHTParams())
    assert isinstance(GHTParams(nu=0).nu, float)


# --------------------------------------------------------------------------- values vs hist=

@pytest.mark.parametrize("name", BY_NAME)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float64])
def test_values_equal_their_histogram(name, dtype):
    """threshold(values, nbins) is threshold(hist=(counts, centres)) of their own histogram."""
    rng = np.random.default_rng(5)
    v = np.r_[rng.normal(60, 8, 700), rng.normal(170, 15, 300)].clip(0, 255).astype(dtype)
    fn = BY_NAME[name]
    for nbins in (10, 100, 256):
        counts, lo, width = histogram(v, nbins)
        centres = lo + (np.arange(nbins) + 0.5) * width
        assert fn(v, nbins) == pytest.approx(fn(hist=(counts, centres)), abs=1e-9)
        assert fn(v.reshape(20, 50), nbins) == fn(v, nbins)       # any shape
    counts = np.bincount(v.astype(np.int64))                      # scikit-image-style counts only
    assert fn(hist=counts) == fn(hist=(counts, np.arange(counts.size)))


def test_values_and_hist_with_ght_params_use_the_value_units_of_tau():
    rng = np.random.default_rng(6)
    v = np.r_[rng.normal(40, 4, 600), rng.normal(90, 12, 400)]
    counts, lo, width = histogram(v, 64)
    centres = lo + (np.arange(64) + 0.5) * width
    for p in (GHTParams(nu=50, tau=3.0), MET_LIKE, GHTParams(0, 0, kappa=1e6, omega=0.3)):
        assert threshold_ght(v, 64, params=p) == pytest.approx(
            threshold_ght(hist=(counts, centres), params=p), abs=1e-9)


def test_a_two_bin_tuple_is_counts_not_a_pair():
    assert threshold_otsu(hist=(3, 5)) == threshold_otsu(hist=[3, 5]) == 0.0


# --------------------------------------------------------------------------- from values

def test_histogram_matches_numpy_off_the_edges():
    rng = np.random.default_rng(3)
    v = rng.normal(size=5000)
    counts, lo, width = histogram(v, 37)
    np_counts, edges = np.histogram(v, 37)
    assert np.array_equal(counts, np_counts)
    np.testing.assert_allclose(lo + (np.arange(37) + 0.5) * width, (edges[:-1] + edges[1:]) / 2)


def test_histogram_of_small_unsigned_ints_takes_the_bincount_path_with_the_same_bins():
    v = np.random.default_rng(7).integers(3, 250, 5000)
    for nbins in (7, 100):
        a, b = histogram(v.astype(np.uint8), nbins), histogram(v.astype(np.int64), nbins)
        assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]


def test_thresholds_of_values_and_constant_input():
    rng = np.random.default_rng(4)
    v = np.r_[rng.normal(50, 5, 800), rng.normal(150, 8, 400)]
    for fn in BY_NAME.values():
        assert 65 < fn(v, 100) < 135
        assert fn(np.full(10, 7, np.uint8), 10) == 7.0  # no split: the value
        with pytest.raises(ValueError, match="empty"):
            fn([], 10)
        with pytest.raises(ValueError, match="NaN"):
            fn([1.0, np.nan], 10)
        with pytest.raises(ValueError, match="nbins"):
            fn(v, 1)
        with pytest.raises(ValueError, match="numeric"):
            fn(v > 100, 10)
    assert threshold_ght(v, 100) == threshold_otsu(v, 100)
    with pytest.raises(ValueError, match="method"):
        pooled_threshold([v], 10, method="kittler")


int_values = arrays(np.int64, st.integers(2, 200), elements=st.integers(0, 255))


@settings(max_examples=150, deadline=None)
@given(int_values, st.integers(1, 10_000), st.sampled_from([10, 100]),
       st.sampled_from(list(BY_NAME)))
def test_threshold_moves_with_an_intensity_shift(values, shift, nbins, name):
    t = BY_NAME[name](values, nbins)
    t_shifted = BY_NAME[name](values + shift, nbins)
    assert t_shifted >= t                                       # monotone ...
    assert t_shifted - shift == pytest.approx(t, abs=1e-9)     # ... and exactly equivariant
    assert np.array_equal(values > t, values + shift > t_shifted)  # same partition


@settings(max_examples=80, deadline=None)
@given(st.lists(arrays(np.uint8, st.integers(1, 50)), min_size=1, max_size=4),
       st.sampled_from([10, 100]), st.sampled_from(list(BY_NAME)))
def test_pooled_threshold_equals_threshold_of_concatenation(regions, nbins, name):
    pooled = pooled_threshold(regions, nbins, method=name)
    assert pooled == BY_NAME[name](np.concatenate(regions), nbins)
    as_float = [r.astype(np.float32) for r in regions]           # slow path, same answer
    assert pooled_threshold(as_float, nbins, method=name) == pytest.approx(pooled, abs=1e-9)


def test_pooled_threshold_passes_ght_params():
    v = np.r_[np.full(30, 10, np.uint8), np.full(5, 120, np.uint8), np.full(40, 200, np.uint8)]
    p = GHTParams(0, 0, kappa=1e6, omega=0.8)
    assert pooled_threshold([v[:40], v[40:]], 50, params=p) == threshold_ght(v, 50, params=p)


# --------------------------------------------------------------------------- 0.1 names

def _old(fn, *args, **kwargs):
    with pytest.warns(DeprecationWarning, match="0.3"):
        return fn(*args, **kwargs)


@pytest.mark.parametrize("case", CASES[::8], ids=lambda c: c["name"])
def test_deprecated_aliases_warn_and_agree(case):
    counts, centres = hist(case)
    p = params(case)
    kw = {"nu": p.nu, "tau": p.tau, "kappa": p.kappa, "omega": p.omega}
    pair = (counts, centres)
    assert _old(thresholds.threshold_otsu_hist, counts, centres) == threshold_otsu(hist=pair)
    assert _old(thresholds.threshold_met_hist, counts, centres) == threshold_met(hist=pair)
    assert _old(thresholds.threshold_otsu_hist, counts) == threshold_otsu(hist=counts)
    assert _old(thresholds.ght, counts, centres, **kw) == threshold_ght(hist=pair, params=p)
    t, scores = _old(thresholds.ght, counts, centres, **kw, return_scores=True)
    assert t == case["threshold"] or rel_err(t, case["threshold"]) <= 1e-9
    np.testing.assert_array_equal(scores, ght_scores((counts, centres), params=p))


def test_deprecated_constant_and_keywords_warn_and_agree():
    authors = _old(getattr, thresholds, "AUTHORS_GHT")
    assert authors == {"nu": 1e60, "tau": 1e-30, "kappa": 0.0, "omega": 0.5}
    assert GHTParams(**authors) == GHTParams()
    import classicseg.methods as methods
    assert _old(getattr, methods, "AUTHORS_GHT") == authors        # the package path warns too
    v = np.random.default_rng(8).integers(0, 255, 500).astype(np.uint8)
    for method, fn in BY_NAME.items():
        assert _old(thresholds.histogram_threshold, v, bins=10, method=method, nu=0.0) == \
            (fn(v, 10, params=GHTParams(nu=0.0)) if method == "ght" else fn(v, 10))
    expected = threshold_ght(v, 10, params=GHTParams(tau=2.0))
    assert _old(pooled_threshold, [v], bins=10, tau=2.0) == expected
    assert _old(histogram, values=v, bins=10)[1:] == histogram(v, 10)[1:]
    with pytest.raises(TypeError, match="unexpected"):
        pooled_threshold([v], 10, mu=1.0)
