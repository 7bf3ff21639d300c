"""Post-processing (the none/box/lcc/full vocabulary, largest component, hole filling, box
filter, finished-result helpers), every segmenter's ``postprocess=``, and the ellipse fit."""

import warnings

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi

from classicseg.methods.ellipse import Ellipse, ellipse_mask, fit_ellipse
from classicseg.methods.microscopy import segment_kmeans, segment_two_channel
from classicseg.methods.oct import segment_oct
from classicseg.methods.pet import segment_pet
from classicseg.methods.postprocess import (
    POSTPROCESS,
    apply_postprocess,
    box_filter,
    fill_holes,
    largest_component,
    parse_postprocess,
    postprocess_mask,
    postprocessed,
    relabel_result,
)
from classicseg.result import SegmentationResult


@st.composite
def mask_and_box(draw):
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    mask = draw(arrays(bool, shape))
    lo = [draw(st.integers(0, n - 1)) for n in shape]
    hi = [draw(st.integers(a, n - 1)) for a, n in zip(lo, shape)]
    # box order is (x, y[, z]); array order is ([z,] y, x)
    box = lo[::-1] + hi[::-1]
    return mask, box, tuple(slice(a, b + 1) for a, b in zip(lo, hi))


@settings(max_examples=150, deadline=None)
@given(mask_and_box(), st.booleans(), st.booleans())
def test_postprocess_never_adds_pixels_outside_the_box(mb, lcc, fill):
    mask, box, where = mb
    before = mask.copy()
    out = postprocess_mask(mask, lcc=lcc, fill=fill, box=box)
    outside = np.ones(mask.shape, bool)
    outside[where] = False
    assert not out[outside].any()
    assert np.array_equal(mask, before)  # the caller's array is untouched
    if not fill:
        assert np.all(out <= mask)       # without filling, only removes pixels


@settings(max_examples=100, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_component_and_fill_properties(mask):
    lcc = largest_component(mask)
    assert np.all(lcc <= mask)
    assert np.array_equal(largest_component(lcc), lcc)   # idempotent
    filled = fill_holes(mask)
    assert np.all(filled >= mask)
    assert np.array_equal(fill_holes(filled), filled)
    if mask.any():
        assert lcc.any()


@settings(max_examples=100, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9))))
def test_fill_holes_on_the_bounding_box_equals_scipy_on_the_whole_array(mask):
    assert np.array_equal(fill_holes(mask), ndi.binary_fill_holes(mask))
    assert np.array_equal(fill_holes(mask[0]), ndi.binary_fill_holes(mask[0]))


def test_connectivity_2d_and_3d():
    diag = np.eye(4, dtype=bool)
    assert largest_component(diag).sum() == 4                  # 8-connected by default
    assert largest_component(diag, connectivity=1).sum() == 1
    cube = np.zeros((3, 3, 3), bool)
    cube[0, 0, 0] = cube[1, 1, 1] = cube[2, 2, 2] = True        # corner-touching voxels
    assert largest_component(cube).sum() == 3                   # 26-connected
    assert largest_component(cube, connectivity=2).sum() == 1   # 18-connected: not joined
    with pytest.raises(ValueError, match="connectivity"):
        largest_component(cube, connectivity=4)
    assert not largest_component(np.zeros((3, 3), bool)).any()


def test_fill_holes_and_box_filter():
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[2:5, 2:5] = False
    assert fill_holes(ring).sum() == 25
    open_ring = ring.copy()
    open_ring[3, 5] = False                  # a gap to the outside: no hole to fill
    assert np.array_equal(fill_holes(open_ring), open_ring)
    kept = box_filter(np.ones((4, 6), bool), [1, 2, 3, 3])  # x 1..3, y 2..3 inclusive
    assert kept.sum() == 6 and kept[2:4, 1:4].all()
    vol = box_filter(np.ones((5, 4, 4), bool), [0, 0, 1, 3, 3, 2])
    assert vol.sum() == 2 * 16 and vol[1:3].all()
    with pytest.raises(ValueError, match="coordinates"):
        box_filter(np.ones((4, 4), bool), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="2D or 3D"):
        largest_component(np.ones(5, bool))


def test_box_filter_runs_before_the_largest_component():
    m = np.zeros((10, 10), bool)
    m[0:3, 0:9] = True        # big blob, mostly outside the box
    m[6:9, 6:9] = True        # smaller blob, inside the box
    out = postprocess_mask(m, box=[5, 5, 9, 9])
    assert out.sum() == 9 and out[6:9, 6:9].all()


# --------------------------------------------------------------------------- the vocabulary

def test_parse_postprocess_accepts_exactly_the_modes():
    assert POSTPROCESS == ("none", "box", "lcc", "full")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mode string never warns
        assert [parse_postprocess(m) for m in POSTPROCESS] == list(POSTPROCESS)
    for bad in ("LCC", "on", "", None, 1, 0, "box+lcc"):
        with pytest.raises(ValueError,
                           match=r"postprocess must be one of \('none', 'box', 'lcc', 'full'\)"):
            parse_postprocess(bad)
    with pytest.raises(ValueError, match="^mode must be one of"):
        parse_postprocess("fill", arg_name="mode")


def test_parse_postprocess_maps_the_old_bool_with_a_warning():
    with pytest.warns(DeprecationWarning, match="postprocess='full'"):
        assert parse_postprocess(True) == "full"
    with pytest.warns(DeprecationWarning, match="postprocess='none'"):
        assert parse_postprocess(np.False_) == "none"


def _blob_hole_speck_outside():
    """A 20 x 20 blob with a 4 x 4 hole and a speck inside box [4, 4, 39, 39], a blob outside."""
    blob, hole, speck, outside = (np.zeros((48, 48), bool) for _ in range(4))
    blob[8:28, 8:28] = True
    hole[10:14, 10:14] = True
    blob &= ~hole
    speck[33:35, 33:35] = True
    outside[42:47, 42:47] = True   # bigger than the speck, but outside the box
    return blob, hole, speck, outside


def test_apply_postprocess_modes_add_one_step_each():
    blob, hole, speck, outside = _blob_hole_speck_outside()
    mask = blob | speck | outside
    box = [4, 4, 39, 39]
    expected = {"none": mask, "box": blob | speck, "lcc": blob, "full": blob | hole}
    for mode, want in expected.items():
        got = apply_postprocess(mask, mode, box=box)
        assert np.array_equal(got, want), mode
        assert got is not mask
    crop = (blob | speck)[4:40, 4:40]   # a crop is its own box: "box" == "none"
    assert np.array_equal(apply_postprocess(crop, "box"), crop)
    assert np.array_equal(apply_postprocess(crop, "lcc"), blob[4:40, 4:40])
    with pytest.raises(ValueError, match="mode must be one of"):
        apply_postprocess(mask, True)   # a parsed mode only: no bool here


@settings(max_examples=100, deadline=None)
@given(mask_and_box())
def test_modes_are_nested_and_equal_the_flags(mb):
    mask, box, _ = mb
    none, boxed, lcc, full = (apply_postprocess(mask, m, box=box) for m in POSTPROCESS)
    assert np.array_equal(none, mask)
    assert np.all(lcc <= boxed) and np.all(boxed <= none) and np.all(lcc <= full)
    assert np.array_equal(full, postprocess_mask(mask, box=box))
    assert np.array_equal(lcc, postprocess_mask(mask, fill=False, box=box))


def _result_of(mask):
    r = SegmentationResult.empty(mask.shape, 1)
    r.add_box(0, mask, method="raw", reason="r", seconds=1.0, iou_pred=0.5)
    return r


def test_postprocessed_applies_a_mode_to_a_finished_result():
    blob, hole, speck, outside = _blob_hole_speck_outside()
    raw = _result_of(blob | speck | outside)
    box = [[4, 4, 39, 39]]
    want = {"none": blob | speck | outside, "box": blob | speck, "lcc": blob, "full": blob | hole}
    for mode, mask in want.items():
        out = postprocessed(raw, box, mode=mode)
        assert np.array_equal(out.segs == 1, mask), mode
        rec = out.boxes[0]
        assert rec.extra == {"iou_pred": 0.5, "postprocess": mode} and rec.seconds >= 1.0
    assert np.array_equal(postprocessed(raw, box).segs == 1, blob | hole)   # default: "full"
    assert np.array_equal(raw.segs == 1, blob | speck | outside)             # input untouched
    assert "postprocess" not in raw.boxes[0].extra
    with pytest.raises(ValueError, match="2 boxes for a result with 1"):
        postprocessed(raw, box * 2)
    with pytest.raises(ValueError, match="mode must be one of"):
        postprocessed(raw, box, mode="on")


def test_postprocessed_old_flags_still_work_with_a_warning():
    blob, hole, speck, outside = _blob_hole_speck_outside()
    raw, box = _result_of(blob | speck | outside), [[4, 4, 39, 39]]
    for flags, mode in ((dict(lcc=False, fill=False), "box"), (dict(fill=False), "lcc"),
                        (dict(lcc=True, fill=True), "full")):
        with pytest.warns(DeprecationWarning, match=f"means mode={mode!r}"):
            old = postprocessed(raw, box, **flags)
        assert np.array_equal(old.segs, postprocessed(raw, box, mode=mode).segs)
        assert old.boxes[0].extra["postprocess"] == mode
    with pytest.raises(ValueError, match="has no post-processing mode"):
        postprocessed(raw, box, lcc=False)   # box + fill holes, all components: not a mode
    with pytest.raises(ValueError, match="not both"):
        postprocessed(raw, box, mode="box", lcc=True)


def test_relabel_result_repaints_in_box_order():
    r = SegmentationResult.empty((4, 4), 2)
    r.add_box(0, np.eye(4, dtype=bool), method="a", seconds=1.0, k=0)
    r.add_box(1, np.fliplr(np.eye(4, dtype=bool)), method="b", seconds=2.0, k=1)
    out = relabel_result(r, lambda i, m: np.ones_like(m), method="all")
    assert (out.segs == 2).all()                       # later boxes win
    assert [b.extra["k"] for b in out.boxes] == [0, 1] and out.methods == ["all", "all"]
    assert [b.seconds >= s for b, s in zip(out.boxes, (1.0, 2.0))] == [True, True]
    assert (r.segs == 1).sum() == 4 and (r.segs == 2).sum() == 4   # input untouched


# --------------------------------------------------------------------------- every segmenter

def _crop_case(kind):
    """Image, boxes and the blob / hole / speck masks for one crop-painting segmenter."""
    blob, hole, speck, _ = _blob_hole_speck_outside()
    fg = blob | speck
    if kind == "oct":     # dark fluid on a bright retina
        img = np.where(fg, 30, 180).astype(np.uint8)[..., None].repeat(3, axis=2)
    elif kind == "kmeans":
        img = np.where(fg, 200, 20).astype(np.uint8)[..., None].repeat(3, axis=2)
    else:                 # two-channel: channel 2 all zero
        img = np.stack([np.where(fg, 200, 0), np.full(fg.shape, 10), np.zeros(fg.shape)], 2)
        img = img.astype(np.uint8)
    return img, np.array([[4, 4, 39, 39]]), blob, hole, speck


_SEGMENTERS = {"oct": segment_oct, "kmeans": segment_kmeans, "two-channel": segment_two_channel}
_PAPER = {"oct": "full", "kmeans": "full", "two-channel": "lcc"}


@pytest.mark.parametrize("kind", list(_SEGMENTERS))
@pytest.mark.parametrize("mode", POSTPROCESS)
def test_2d_segmenters_run_and_record_the_mode(kind, mode):
    img, boxes, blob, hole, speck = _crop_case(kind)
    res = _SEGMENTERS[kind](img, boxes, postprocess=mode)
    want = {"none": blob | speck, "box": blob | speck, "lcc": blob, "full": blob | hole}[mode]
    assert np.array_equal(res.segs == 1, want)
    assert res.boxes[0].extra["postprocess"] == mode
    default = _SEGMENTERS[kind](img, boxes)
    assert default.boxes[0].extra["postprocess"] == _PAPER[kind]
    with pytest.raises(ValueError, match="postprocess must be one of"):
        _SEGMENTERS[kind](img, boxes, postprocess="yes")


def _pet_volume():
    vol = np.full((20, 20, 20), 10, np.uint8)
    vol[4:16, 4:16, 4:16] = 200    # 1728-voxel lesion, 42 % of the box: never forced
    vol[6:8, 6:8, 6:8] = 10        # an enclosed 8-voxel hole
    vol[2, 2, 2] = 200             # a speck, not 26-connected to the lesion
    return vol, np.array([[2, 2, 2, 17, 17, 17]])


@pytest.mark.parametrize("mode, voxels, hole, speck", [
    ("none", 1721, False, True), ("box", 1721, False, True),
    ("lcc", 1720, False, False), ("full", 1728, True, False)])
def test_pet_runs_and_records_the_mode(mode, voxels, hole, speck):
    vol, boxes = _pet_volume()
    res = segment_pet(vol, boxes, postprocess=mode)
    rec = res.boxes[0]
    assert rec.extra["postprocess"] == mode and rec.extra["forcing"] == "not forced"
    assert int((res.segs == 1).sum()) == voxels
    assert bool(res.segs[6, 6, 6]) is hole and bool(res.segs[2, 2, 2]) is speck
    assert segment_pet(vol, boxes).boxes[0].extra["postprocess"] == "full"


def _ours(record):
    """The post-processing warning among those recorded (other modules may warn too)."""
    return next(w for w in record if "postprocess" in str(w.message))


def test_old_postprocess_keywords_still_work_with_a_warning():
    img, boxes, blob, hole, speck = _crop_case("oct")
    with pytest.warns(DeprecationWarning, match="postprocess='none'") as rec:
        old = segment_oct(img, boxes, postprocess=False)
    assert _ours(rec).filename == __file__
    assert old.boxes[0].extra["postprocess"] == "none"
    assert np.array_equal(old.segs == 1, blob | speck)
    with pytest.warns(DeprecationWarning, match="postprocess='full'"):
        old = segment_kmeans(*_crop_case("kmeans")[:2], postprocess=True)
    assert old.boxes[0].extra["postprocess"] == "full"
    img, boxes, blob, hole, speck = _crop_case("two-channel")
    for flags, mode in ((dict(lcc=False), "none"), (dict(lcc=True), "lcc"),
                        (dict(fill=True), "full")):
        with pytest.warns(DeprecationWarning, match=f"means postprocess={mode!r}") as rec:
            old = segment_two_channel(img, boxes, **flags)
        assert _ours(rec).filename == __file__   # the warning points at the caller
        assert old.boxes[0].extra["postprocess"] == mode
        assert np.array_equal(old.segs, segment_two_channel(img, boxes, postprocess=mode).segs)
    with pytest.raises(ValueError, match="not both"):
        segment_two_channel(img, boxes, postprocess="full", lcc=True)


# --------------------------------------------------------------------------- ellipse

@pytest.mark.parametrize("centre, axes, angle", [((80, 60), (100, 60), 30),
                                                 ((50, 70), (40, 90), 0),
                                                 ((64, 64), (70, 70), 0),
                                                 ((70, 50), (120, 50), 135)])
def test_ellipse_fit_recovers_a_drawn_ellipse(centre, axes, angle):
    m = np.zeros((140, 160), np.uint8)
    cv2.ellipse(m, (tuple(map(float, centre)), tuple(map(float, axes)), float(angle)), 1, -1)
    e = fit_ellipse(m.astype(bool))
    assert (e.center_x == pytest.approx(centre[0], abs=1)
            and e.center_y == pytest.approx(centre[1], abs=1))
    assert e.semi_major == pytest.approx(max(axes) / 2, abs=1.5)
    assert e.semi_minor == pytest.approx(min(axes) / 2, abs=1.5)
    redrawn = ellipse_mask(m.shape, e)
    dice = 2 * (redrawn & (m > 0)).sum() / (redrawn.sum() + m.sum())
    assert dice > 0.97
    a, b = e.semi_major, e.semi_minor
    assert (2 * np.pi * b <= e.circumference <= 2 * np.pi * a
            and e.area == pytest.approx(np.pi * a * b))


def test_ellipse_fit_uses_the_largest_component_and_rejects_bad_masks():
    m = np.zeros((100, 100), np.uint8)
    cv2.ellipse(m, ((40.0, 40.0), (50.0, 30.0), 0.0), 1, -1)
    m[90:93, 90:93] = 1
    e = fit_ellipse(m)
    assert e.center_x == pytest.approx(40, abs=1)
    with pytest.raises(ValueError, match="empty"):
        fit_ellipse(np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="at least 5"):
        fit_ellipse(np.pad(np.ones((1, 2), bool), 2))
    with pytest.raises(ValueError, match="2D"):
        fit_ellipse(np.ones((3, 3, 3), bool))
    with pytest.raises(ValueError, match="invalid"):
        ellipse_mask((10, 10), Ellipse(5, 5, -1, 3, 0))
