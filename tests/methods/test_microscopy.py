"""Microscopy: channel rules, circle rule, k-means per box, two-channel threshold."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from classicseg.methods.microscopy import (
    box_has_circle,
    circle_fraction,
    classify_channels,
    kmeans_split,
    segment_kmeans,
    segment_two_channel,
)


def cells_image(dark_cells=False):
    """Synthetic grayscale microscopy: three rectangular 'cells' with mild noise."""
    rng = np.random.default_rng(0)
    bg, fg = (200, 60) if dark_cells else (30, 180)
    img = rng.normal(bg, 4, (80, 100)).clip(0, 255)
    cells = [(10, 20, 10, 25), (40, 55, 30, 42), (60, 70, 70, 90)]   # y0, y1, x0, x1 (exclusive)
    for y0, y1, x0, x1 in cells:
        img[y0:y1, x0:x1] = rng.normal(fg, 4, (y1 - y0, x1 - x0)).clip(0, 255)
    img = np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)
    boxes = np.array([[x0 - 4, y0 - 4, x1 + 3, y1 + 3] for y0, y1, x0, x1 in cells])
    truth = np.zeros((80, 100), np.uint16)
    for i, (y0, y1, x0, x1) in enumerate(cells):
        truth[y0:y1, x0:x1] = i + 1
    return img, boxes, truth


# --------------------------------------------------------------------------- routing rules

def test_classify_channels():
    gray = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4)[..., None], 3, axis=2)
    assert classify_channels(gray) == "grayscale"
    assert classify_channels(gray[..., 0]) == "grayscale"
    assert classify_channels(np.zeros((3, 4, 3), np.uint8)) == "grayscale"
    for c in range(3):
        two = gray.copy() + 1
        two[..., (c + 1) % 3] += 3
        two[..., c] = 0
        assert classify_channels(two) == "two-channel"  # wins over grayscale
    c2_differs = gray.copy()
    c2_differs[..., 2] += 1
    assert classify_channels(c2_differs) == "rgb"       # the reference code checks c0 == c1 only
    assert classify_channels(c2_differs, gray_tolerance=1) == "grayscale"
    rgb = np.random.default_rng(0).integers(1, 255, (5, 5, 3)).astype(np.uint8)
    assert classify_channels(rgb) == "rgb"
    one = np.zeros((3, 4, 3), np.uint8)
    one[..., 0] = 7                                     # two zero channels: not "exactly one"
    assert classify_channels(one) == "rgb"
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        classify_channels(np.zeros((3, 3, 2), np.uint8))


def test_circle_rule():
    img = np.zeros((100, 300, 3), np.uint8)
    cv2.circle(img, (50, 50), 20, (255, 255, 255), -1, lineType=cv2.LINE_AA)
    cv2.circle(img, (150, 45), 20, (200, 200, 200), -1, lineType=cv2.LINE_AA)
    boxes = np.array([[0, 0, 99, 99], [100, 0, 199, 99], [200, 0, 299, 99]])
    assert circle_fraction(img, boxes) == pytest.approx(2 / 3)
    assert circle_fraction(img, boxes[2:]) == 0.0
    # rescaled to uint8
    assert circle_fraction(img.astype(np.uint16) * 256, boxes) == pytest.approx(2 / 3)
    assert circle_fraction(img, np.zeros((0, 4))) == 0.0        # no boxes: no division by zero
    assert circle_fraction(img, [[5, 5, 5, 5]]) == 0.0          # 1-pixel box
    with pytest.raises(ValueError, match="uint8"):
        box_has_circle(np.zeros((10, 10), np.float32))


# --------------------------------------------------------------------------- k-means

@settings(max_examples=150, deadline=None)
@given(arrays(np.uint8, st.integers(2, 60)))
def test_exact_split_is_the_optimal_two_means(values):
    if values.min() == values.max():
        assert kmeans_split(values) == values[0]
        return
    t = kmeans_split(values)
    v = values.astype(float)

    def sse(mask):
        return sum(((v[m] - v[m].mean()) ** 2).sum() for m in (mask, ~mask) if m.any())

    best = min(sse(v <= u) for u in np.unique(v)[:-1])   # brute force over every split
    assert (v <= t).any() and (v > t).any()
    assert sse(v <= t) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_kmeans_segments_cells_with_both_backends():
    img, boxes, truth = cells_image()
    exact = segment_kmeans(img, boxes)
    assert np.array_equal(exact.segs, truth)
    assert all(b.method == "kmeans" and b.extra["threshold"] is not None for b in exact.boxes)
    cv = segment_kmeans(img, boxes, backend="opencv", seed=3)
    assert np.array_equal(cv.segs, truth)
    again = segment_kmeans(img, boxes, backend="opencv", seed=3)
    assert np.array_equal(cv.segs, again.segs)                  # seeded: deterministic


def test_centre_window_picks_dark_cells_too():
    img, boxes, truth = cells_image(dark_cells=True)
    res = segment_kmeans(img, boxes)
    assert np.array_equal(res.segs, truth)
    assert "lower cluster" in res.boxes[0].reason


def test_kmeans_small_boxes_border_boxes_constant_crops_and_dtypes():
    img, boxes, truth = cells_image()
    tiny = segment_kmeans(img, [[12, 12, 14, 14], [0, 0, 0, 0], [95, 75, 99, 79]])
    assert (tiny.segs[12:15, 12:15] == 1).sum() >= 5    # 3x3 box: majority cluster of the window
    assert tiny.segs[0, 0] == 2                         # 1-pixel box: constant crop, one cluster
    assert "constant" in tiny.boxes[1].reason
    # raw values: a uint16 / float image gives the same masks as the uint8 one
    for other in (img[..., 0].astype(np.uint16) * 100, img[..., 0].astype(np.float32) + 0.5):
        assert np.array_equal(segment_kmeans(other, boxes).segs, truth)
    # a box whose window half-covers the cell edge still works (window clipped, no wrap-around)
    edge = segment_kmeans(img, [[8, 18, 13, 23]])               # 6x6 box at the cell's corner
    assert edge.segs.sum() > 0


def test_kmeans_reference_rules_are_opt_in():
    img, boxes, truth = cells_image()
    big = np.array([[0, 0, 99, 79]])
    skipped = segment_kmeans(img, big, skip_large_fraction=0.08)
    assert skipped.boxes[0].method == "skipped" and not skipped.segs.any()
    assert segment_kmeans(img, big).segs.any()                  # off by default
    # a box drawn inside a cell, reaching into background on one side only
    inside = np.array([[10, 10, 29, 19]])                       # x 10..29, cell spans x 10..24
    plain = segment_kmeans(img, inside, postprocess=False)
    assert plain.segs[10:20, 10:25].all()
    inverted = segment_kmeans(img, inside, invert_border_rule=True, postprocess=False)
    assert inverted.boxes[0].extra["inverted"] and not inverted.segs[10:20, 10:25].any()


def test_kmeans_overlap_no_mutation_and_bad_input():
    img, boxes, truth = cells_image()
    before = img.copy()
    res = segment_kmeans(img, [[5, 5, 30, 30], [15, 8, 28, 21]])
    assert np.array_equal(img, before)
    assert np.all(res.segs[10:20, 15:25] == 2) and np.all(res.segs[10:20, 10:15] == 1)
    with pytest.raises(ValueError, match="backend"):
        segment_kmeans(img, boxes, backend="sklearn")
    with pytest.raises(ValueError, match="outside"):
        segment_kmeans(img, [[0, 0, 100, 10]])
    with pytest.raises(ValueError, match="skip_large_fraction"):
        segment_kmeans(img, boxes, skip_large_fraction=8)
    with pytest.warns(UserWarning, match="no boxes"):
        assert not segment_kmeans(img, []).segs.any()


# --------------------------------------------------------------------------- two-channel

def test_two_channel_threshold_mean_and_median():
    img = np.zeros((40, 40, 3), np.uint8)
    img[..., 1] = 20                      # channel 1: dim everywhere; channel 2 all zero
    img[5:15, 5:15, 0] = 240              # a bright nucleus ...
    img[20:38, 20:38, 0] = 30             # ... and a dim, large one
    img[8, 8] = 0                         # a hole
    boxes = np.array([[0, 0, 19, 19], [18, 18, 39, 39]])
    mean = segment_two_channel(img, boxes)
    median = segment_two_channel(img, boxes, statistic="median")
    assert mean.boxes[0].extra["threshold"] == pytest.approx(img.mean())
    assert median.boxes[0].extra["threshold"] == pytest.approx(np.median(img.mean(axis=2)))
    assert (mean.segs == 1).sum() == 99 and (mean.segs == 2).sum() == 18 * 18
    assert (median.segs == 1).sum() == 99 and (median.segs == 2).sum() == 18 * 18
    assert mean.boxes[0].method == "two-channel-threshold"
    assert (segment_two_channel(img, boxes, fill=True).segs == 1).sum() == 100
    with pytest.raises(ValueError, match="statistic"):
        segment_two_channel(img, boxes, statistic="mode")


def test_two_channel_keeps_the_largest_component_per_box():
    img = np.zeros((30, 30, 3), np.uint8)
    img[2:12, 2:12, 0] = 200
    img[20:22, 20:22, 0] = 200            # a speck in the same box
    res = segment_two_channel(img, [[0, 0, 29, 29]])
    assert (res.segs == 1).sum() == 100
    assert (segment_two_channel(img, [[0, 0, 29, 29]], lcc=False).segs == 1).sum() == 104


def test_two_channel_odd_inputs_and_no_mutation():
    img = np.zeros((20, 20, 3), np.uint16)
    img[5:10, 5:10, 0] = 4000
    before = img.copy()
    res = segment_two_channel(img, [[0, 0, 19, 19], [7, 7, 7, 7], [19, 19, 19, 19]])
    assert np.array_equal(img, before)
    assert (res.segs == 1).sum() == 25 - 1 and res.segs[7, 7] == 2  # the 1-pixel box wins its pixel
    assert res.segs[19, 19] == 0                                    # background 1-pixel box: empty
    assert not segment_two_channel(np.zeros((8, 8, 3)), [[0, 0, 7, 7]]).segs.any()  # constant
    with pytest.warns(UserWarning, match="no boxes"):
        assert not segment_two_channel(img, np.zeros((0, 4), int)).segs.any()
    with pytest.raises(ValueError, match="whole numbers"):
        segment_two_channel(img, [[0.5, 0, 3, 3]])
