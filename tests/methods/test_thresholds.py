"""GHT parity with Barron's reference outputs, its special cases, and histogram thresholds."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from skimage.filters import threshold_otsu

from classicseg.methods.thresholds import (
    AUTHORS_GHT, ght, histogram, histogram_threshold, pooled_threshold, threshold_met_hist,
    threshold_otsu_hist)

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
VECTORS = REFERENCE / "ght_vectors.json"
CASES = json.loads(VECTORS.read_text()) if VECTORS.is_file() else []
needs_vectors = pytest.mark.skipif(not CASES, reason=f"GHT parity vectors not found at {VECTORS} "
                                                     "(the shared reference folder is absent)")
FRAGILE = "bimodal10_nonuniform_met_like"


def params(case):
    return {k: case[k] for k in ("nu", "tau", "kappa", "omega")}


def rel_err(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


# --------------------------------------------------------------------------- parity

@needs_vectors
def test_vectors_file_has_all_65_cases():
    assert len(CASES) == 65 and any(c["name"] == FRAGILE for c in CASES)


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_ght_matches_reference(case):
    t, scores = ght(case["counts"], case["bin_centers"], **params(case), return_scores=True)
    assert rel_err(t, case["threshold"]) <= 1e-9 or t == case["threshold"]
    np.testing.assert_allclose(scores, case["scores"], rtol=1e-12)
    # the special cases against the reference's own Otsu / MET / weighted-percentile functions
    assert threshold_otsu_hist(case["counts"], case["bin_centers"]) == case["otsu"]
    assert threshold_met_hist(case["counts"], case["bin_centers"]) == case["met"]
    assert ght(case["counts"], case["bin_centers"], nu=0, tau=0, kappa=1e60,
               omega=case["omega"]) == case["wprctile"]


@needs_vectors
def test_fragile_case_reproduces_the_reference_not_exact_arithmetic():
    case = next(c for c in CASES if c["name"] == FRAGILE)
    t = ght(case["counts"], case["bin_centers"], **params(case))
    assert t == pytest.approx(-1.8986207330792397, rel=1e-12)       # the reference's answer
    assert case["threshold_high_precision"] != pytest.approx(t)       # exact arithmetic differs
    assert threshold_met_hist(case["counts"], case["bin_centers"]) == pytest.approx(1.5259506201968862)


@needs_vectors
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_authors_setting_is_otsu_on_every_vector(case):
    t = ght(case["counts"], case["bin_centers"], **AUTHORS_GHT)
    assert t == case["ght_otsu_limit"]
    assert t == threshold_otsu_hist(case["counts"], case["bin_centers"])


@needs_vectors
def test_met_like_ght_equals_met_except_on_the_fragile_histogram():
    fragile = next(c for c in CASES if c["name"] == FRAGILE)
    differ = {json.dumps([c["counts"], c["bin_centers"]]) for c in CASES
              if ght(c["counts"], c["bin_centers"], nu=0, tau=0, kappa=0, omega=c["omega"])
              != threshold_met_hist(c["counts"], c["bin_centers"])}
    assert differ == {json.dumps([fragile["counts"], fragile["bin_centers"]])}


def test_authors_setting_is_otsu_on_random_histograms():
    rng = np.random.default_rng(1)
    for _ in range(200):
        nbins = int(rng.integers(8, 257))
        counts = rng.random(nbins) * rng.integers(1, 1000)
        centres = np.sort(rng.normal(0, 50, nbins))
        t = ght(counts, centres, **AUTHORS_GHT)
        assert t == threshold_otsu_hist(counts, centres)
        # and agrees with scikit-image's Otsu (no ties among random real counts)
        assert t == threshold_otsu(hist=(counts, centres))


def test_otsu_hist_equals_scikit_image_on_images():
    rng = np.random.default_rng(2)
    img = np.r_[rng.normal(60, 12, 4000), rng.normal(170, 20, 3000)].clip(0, 255).astype(np.uint8)
    counts = np.bincount(img, minlength=256)
    assert threshold_otsu_hist(counts) == threshold_otsu(img)


def test_ties_are_averaged_and_integer_counts_are_safe():
    assert threshold_otsu_hist([4, 4, 0, 0, 0, 4, 4]) == 2.5  # splits 1..4 tie
    assert ght([0, 0, 7, 0]) == 1.0                           # one occupied bin: mean of 0..2
    big = np.array([0, 200, 255, 10, 0, 0, 3, 250, 240, 1], np.uint8)   # uint8 n*x^2 would overflow
    centres = np.linspace(0, 250, 10)
    assert ght(big, centres) == ght(big.astype(float), centres)


@pytest.mark.parametrize("kwargs, match", [
    ({"counts": [1, -1, 2]}, ">= 0"),
    ({"counts": [1]}, "at least 2"),
    ({"counts": [1, 2, 3], "bin_centers": [0, 2, 1]}, "non-decreasing"),
    ({"counts": [1, 2, 3], "bin_centers": [0, 1]}, "shape"),
    ({"counts": [1, 2, 3], "nu": -1}, "nu"),
    ({"counts": [1, 2, 3], "omega": 1.5}, "omega"),
    ({"counts": [1, np.nan, 3]}, "finite"),
])
def test_ght_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ght(**kwargs)


# --------------------------------------------------------------------------- from values

def test_histogram_matches_numpy_off_the_edges():
    rng = np.random.default_rng(3)
    v = rng.normal(size=5000)
    counts, lo, width = histogram(v, 37)
    np_counts, edges = np.histogram(v, 37)
    assert np.array_equal(counts, np_counts)
    np.testing.assert_allclose(lo + (np.arange(37) + 0.5) * width, (edges[:-1] + edges[1:]) / 2)


def test_histogram_threshold_methods_and_constant_input():
    rng = np.random.default_rng(4)
    v = np.r_[rng.normal(50, 5, 800), rng.normal(150, 8, 400)]
    for method in ("ght", "otsu", "met"):
        assert 65 < histogram_threshold(v, bins=100, method=method) < 135
    assert histogram_threshold(v, bins=100) == histogram_threshold(v, bins=100, method="otsu")
    assert histogram_threshold(np.full(10, 7, np.uint8), bins=10) == 7.0  # no split: the value
    with pytest.raises(ValueError, match="empty"):
        histogram_threshold([], bins=10)
    with pytest.raises(ValueError, match="NaN"):
        histogram_threshold([1.0, np.nan], bins=10)
    with pytest.raises(ValueError, match="method"):
        histogram_threshold(v, bins=10, method="kittler")
    with pytest.raises(ValueError, match="bins"):
        histogram_threshold(v, bins=1)


int_values = arrays(np.int64, st.integers(2, 200), elements=st.integers(0, 255))


@settings(max_examples=150, deadline=None)
@given(int_values, st.integers(1, 10_000), st.sampled_from([10, 100]), st.sampled_from(["ght", "otsu", "met"]))
def test_threshold_moves_with_an_intensity_shift(values, shift, bins, method):
    t = histogram_threshold(values, bins=bins, method=method)
    t_shifted = histogram_threshold(values + shift, bins=bins, method=method)
    assert t_shifted >= t                                       # monotone ...
    assert t_shifted - shift == pytest.approx(t, abs=1e-9)     # ... and exactly equivariant
    assert np.array_equal(values > t, values + shift > t_shifted)  # same partition


@settings(max_examples=80, deadline=None)
@given(st.lists(arrays(np.uint8, st.integers(1, 50)), min_size=1, max_size=4), st.sampled_from([10, 100]))
def test_pooled_threshold_equals_threshold_of_concatenation(regions, bins):
    pooled = pooled_threshold(regions, bins=bins)
    assert pooled == histogram_threshold(np.concatenate(regions), bins=bins)
    as_float = [r.astype(np.float32) for r in regions]           # slow path, same answer
    assert pooled_threshold(as_float, bins=bins) == pytest.approx(pooled, abs=1e-9)
