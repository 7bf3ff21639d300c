"""PET (pooled threshold + volume forcing) and OCT (threshold below) segmenters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi

from classicseg.boxes import box_slices
from classicseg.methods.oct import segment_oct
from classicseg.methods.pet import force_volume, segment_pet

CROSS = ndi.generate_binary_structure(3, 1)


def pet_volume(lesions, shape=(30, 40, 40), background=20, value=200):
    """Synthetic PET volume: bright boxes ``(z0, z1, y0, y1, x0, x1)`` (exclusive ends)."""
    vol = np.full(shape, background, np.uint8)
    for z0, z1, y0, y1, x0, x1 in lesions:
        vol[z0:z1, y0:y1, x0:x1] = value
    return vol


def iterate_forcing(mask, lo, hi):
    """Volume forcing done the slow, obvious way (iterated scipy morphology), for comparison."""
    m, n = mask.copy(), mask.size
    if not m.any():
        m[tuple((s - 1) // 2 for s in m.shape)] = True
    if m.sum() < lo * n:
        while m.sum() < lo * n:
            m = ndi.binary_dilation(m, CROSS)
        return m
    prev = m
    while m.sum() > hi * n:
        prev, m = m, ndi.binary_erosion(m, CROSS, border_value=0)
    if m.sum() < lo * n and prev.sum() / n - hi <= lo - m.sum() / n:
        m = prev
    return m


# --------------------------------------------------------------------------- PET

def test_lesion_inside_the_band_is_segmented_exactly():
    vol = pet_volume([(10, 16, 12, 20, 12, 20)])          # 6*8*8 = 384 voxels
    box = [10, 10, 8, 21, 21, 17]                         # 12*12*10 = 1440 -> r = 0.27
    res = segment_pet(vol, [box])
    truth = vol > 100
    assert np.array_equal(res.segs == 1, truth)
    rec = res.boxes[0]
    assert rec.method == "ght" and "not forced" in rec.reason and rec.seconds > 0
    assert rec.extra["ratio_before"] == rec.extra["ratio_after"] == pytest.approx(384 / 1440)
    assert 20 < rec.extra["threshold"] < 200


def test_small_lesion_is_grown_within_the_box_to_the_lower_bound():
    vol = pet_volume([(14, 16, 18, 20, 18, 20)])          # 8 voxels in a 1000-voxel box
    box = [14, 14, 10, 23, 23, 19]
    res = segment_pet(vol, [box])
    m = res.segs == 1
    rec = res.boxes[0].extra
    assert rec["ratio_before"] == pytest.approx(0.008)
    assert 0.20 <= rec["ratio_after"] <= 0.88 and m.sum() == rec["ratio_after"] * 1000
    assert m[vol > 100].all()                              # grown from the lesion
    outside = np.ones(vol.shape, bool)
    outside[box_slices(box)] = False
    assert not m[outside].any()                            # never leaks out of the box


def test_large_lesion_is_eroded_and_empty_box_is_seeded():
    vol = pet_volume([(0, 30, 0, 40, 0, 40)], value=200)    # everything bright ...
    vol[5, 5, 5] = 0                                        # ... but one voxel of the box
    res = segment_pet(vol, [[5, 5, 5, 14, 14, 14]])
    assert 0.20 <= res.boxes[0].extra["ratio_after"] <= 0.88
    assert "eroded" in res.boxes[0].extra["forcing"]

    zeros = np.zeros((20, 20, 20), np.uint8)                # all-zero volume: no split at all
    box = [4, 4, 4, 15, 15, 15]
    res = segment_pet(zeros, [box])
    m = res.segs == 1
    assert res.boxes[0].extra["ratio_before"] == 0
    assert 0.20 <= res.boxes[0].extra["ratio_after"] and m[9, 9, 9]   # grown from the box centre
    assert "seeded" in res.boxes[0].reason


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))),
       st.sampled_from([(0.20, 0.88), (0.19, 0.81), (0.5, 0.5), (0.0, 1.0)]))
def test_distance_transform_forcing_equals_iterated_morphology(mask, bounds):
    forced, _ = force_volume(mask, bounds=bounds)
    assert np.array_equal(forced, iterate_forcing(mask, *bounds))


def test_forcing_works_in_2d_too():
    m = np.zeros((10, 10), bool)
    m[4:6, 4:6] = True
    grown, note = force_volume(m)
    assert 0.20 <= grown.mean() <= 0.88 and grown[m].all() and "dilated" in note
    shrunk, note = force_volume(np.ones((10, 10), bool))
    assert 0.20 <= shrunk.mean() <= 0.88 and "eroded" in note


def test_reference_cube_element_grows_one_way_only():
    m = np.zeros((11, 11, 11), bool)
    m[5, 5, 5] = True
    cross, _ = force_volume(m, bounds=(0.05, 0.9))
    cube, _ = force_volume(m, bounds=(0.05, 0.9), structure="cube2")

    def centroid(a):
        return np.array(np.nonzero(a)).mean(axis=1)

    assert np.allclose(centroid(cross), 5)                  # symmetric about the seed
    assert not np.allclose(centroid(cube), 5)               # drifts toward one corner
    with pytest.raises(ValueError, match="structure"):
        force_volume(m, structure="ball")
    for bad in [(0.9, 0.2), (-0.1, 0.5), (0.2,), "ab"]:
        with pytest.raises(ValueError, match="bounds"):
            force_volume(m, bounds=bad)


def test_reference_bounds_change_the_result():
    box = [10, 10, 10, 19, 19, 19]                          # 1000 voxels
    vol = pet_volume([(10, 20, 10, 20, 10, 19)])            # 900 voxels ...
    vol[10, 10:16, 10:19] = 20                              # ... minus 54: r = 0.846
    paper = segment_pet(vol, [box]).boxes[0].extra
    reference = segment_pet(vol, [box], bounds=(0.19, 0.81)).boxes[0].extra
    assert paper["ratio_after"] == pytest.approx(0.846) and paper["forcing"] == "not forced"
    assert 0.19 <= reference["ratio_after"] <= 0.81 and "eroded" in reference["forcing"]


def test_one_threshold_is_pooled_over_all_boxes_and_later_boxes_win():
    vol = pet_volume([(5, 10, 5, 10, 5, 10), (5, 10, 8, 14, 8, 14)])
    boxes = [[3, 3, 3, 11, 11, 11], [6, 6, 3, 16, 16, 11]]   # overlapping
    res = segment_pet(vol, boxes)
    thresholds = {b.extra["threshold"] for b in res.boxes}
    assert len(thresholds) == 1
    in_0, in_1 = np.zeros(vol.shape, bool), np.zeros(vol.shape, bool)
    in_0[box_slices(boxes[0])] = True
    in_1[box_slices(boxes[1])] = True
    both = in_0 & in_1 & (vol > 100)
    assert both.any() and np.all(res.segs[both] == 2)        # later box wins


def test_pet_handles_dtypes_and_odd_boxes_without_mutating():
    vol = pet_volume([(10, 16, 12, 20, 12, 20)])
    box = [10, 10, 8, 21, 21, 17]
    ref = segment_pet(vol, [box]).segs
    for other in (vol.astype(np.uint16) * 257, vol.astype(np.float32) / 255.0):
        assert np.array_equal(segment_pet(other, [box]).segs, ref)
    before = vol.copy()
    segment_pet(vol, [box, [0, 0, 0, 0, 0, 0], [39, 39, 29, 39, 39, 29], [0, 0, 0, 39, 39, 29]])
    assert np.array_equal(vol, before)
    one = segment_pet(vol, [[15, 15, 12, 15, 15, 12]])       # a 1-voxel box
    assert (one.segs == 1).sum() == 1


def test_pet_bad_input():
    vol = pet_volume([])
    with pytest.raises(ValueError, match="outside"):
        segment_pet(vol, [[0, 0, 0, 40, 10, 10]])
    with pytest.raises(ValueError, match="inverted"):
        segment_pet(vol, [[5, 5, 5, 4, 10, 10]])
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        segment_pet(vol, [[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="3 dimensions"):
        segment_pet(vol[0], [[0, 0, 0, 1, 1, 1]])
    with pytest.raises(ValueError, match="NaN"):
        segment_pet(np.full((4, 4, 4), np.nan), [[0, 0, 0, 1, 1, 1]])
    with pytest.warns(UserWarning, match="no boxes"):
        res = segment_pet(vol, np.zeros((0, 6)))
    assert res.segs.shape == vol.shape and not res.segs.any() and res.boxes == []


# --------------------------------------------------------------------------- OCT

def oct_image():
    img = np.full((60, 80, 3), 170, np.uint8)
    img[20:30, 10:25] = 40     # dark cyst 1
    img[35:45, 50:70] = 90     # fainter cyst 2
    return img


def test_oct_segments_dark_fluid_with_a_pooled_threshold():
    img = oct_image()
    boxes = np.array([[5, 15, 30, 35], [45, 30, 75, 50]])
    res = segment_oct(img, boxes)
    assert np.array_equal(res.segs == 1, np.pad(np.ones((10, 15), bool), ((20, 30), (10, 55))))
    assert (res.segs == 2).sum() == 200
    assert res.boxes[0].extra["threshold"] == res.boxes[1].extra["threshold"]
    assert "pooled" in res.boxes[0].reason and res.boxes[0].method == "ght"


def test_oct_per_box_threshold_and_offset():
    img = oct_image()
    boxes = np.array([[5, 15, 30, 35], [45, 30, 75, 50]])
    per_box = segment_oct(img, boxes, pool="per_box")
    t = [b.extra["threshold"] for b in per_box.boxes]
    assert t[0] != t[1] and "per-box" in per_box.boxes[0].reason
    shifted = segment_oct(img, boxes, pool="per_box", offset=200)   # T + 200: the whole box
    assert (shifted.segs == 1).sum() == 21 * 26
    assert shifted.boxes[0].extra["offset"] == 200


def test_oct_channels_dtypes_constant_images_and_overlap():
    img = oct_image()
    boxes = np.array([[5, 15, 30, 35]])
    ref = segment_oct(img, boxes).segs
    assert np.array_equal(segment_oct(img, boxes, channel="mean").segs, ref)
    assert np.array_equal(segment_oct(img[..., 0], boxes).segs, ref)              # plain (H, W)
    assert np.array_equal(segment_oct(img.astype(np.uint16) * 100, boxes).segs, ref)
    assert np.array_equal(segment_oct(img.astype(np.float64) - 1000, boxes).segs, ref)
    flat = segment_oct(np.zeros((20, 20, 3), np.uint8), [[0, 0, 19, 19]])           # no split
    assert not flat.segs.any()
    overlapping = segment_oct(img, [[5, 15, 30, 35], [15, 18, 30, 35]])
    assert (np.all(overlapping.segs[20:30, 15:25] == 2)
            and np.all(overlapping.segs[20:30, 10:15] == 1))


def test_oct_bad_input_and_no_mutation():
    img = oct_image()
    before = img.copy()
    segment_oct(img, [[0, 0, 79, 59], [79, 59, 79, 59]])   # whole image + a 1-pixel corner box
    assert np.array_equal(img, before)
    with pytest.raises(ValueError, match="pool"):
        segment_oct(img, [[0, 0, 5, 5]], pool="global")
    with pytest.raises(ValueError, match="offset"):
        segment_oct(img, [[0, 0, 5, 5]], offset="thirty")
    with pytest.raises(ValueError, match="channel"):
        segment_oct(img, [[0, 0, 5, 5]], channel=3)
    with pytest.raises(ValueError, match="outside"):
        segment_oct(img, [[0, 0, 80, 5]])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        segment_oct(np.zeros((5, 5, 4), np.uint8), [[0, 0, 1, 1]])
    with pytest.warns(UserWarning, match="no boxes"):
        assert not segment_oct(img, []).segs.any()
