"""Widgets work headless: default boxes, coordinate conversions, programmatic "drawing"."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from classicseg import widgets  # noqa: E402
from classicseg.analysis.failures import GalleryRow, rank_by_gap  # noqa: E402
from classicseg.analysis.scores import MethodScore  # noqa: E402
from classicseg.boxes import box_mask  # noqa: E402
from classicseg.result import SegmentationResult  # noqa: E402
from classicseg.widgets import (  # noqa: E402
    BoxSelector,
    FailureGallery,
    InteractiveComparison,
    box_to_extents,
    box_to_widget,
    extents_to_box,
    image_png,
    target_label,
    widget_to_box,
)

# jupyter-bbox-widget 0.7 and ipympl 0.10 trip traitlets deprecations; not our code.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Traits should be given as instances:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Passing unrecognized arguments to super:DeprecationWarning"),
]

BACKENDS = ["bbox", "ipympl"]


def _need(module):
    # find_spec, not importorskip: importing ipympl switches pyplot's backend for the whole
    # test session (classicseg.widgets imports it carefully; a test must not undo that).
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def _backend_available(name):
    _need("jupyter_bbox_widget" if name == "bbox" else "ipympl")


def _valid(box, shape, volume):
    b = np.asarray(box)
    if volume:
        d, h, w = shape
        hi = [w - 1, h - 1, d - 1]
        k = 3
    else:
        h, w = shape[:2]
        hi = [w - 1, h - 1]
        k = 2
    return (b.shape == (2 * k,) and b.dtype.kind == "i" and np.all(b[:k] <= b[k:])
            and np.all(b >= 0) and np.all(b[k:] <= hi))


# --------------------------------------------------------------------------- conversions

def test_png_roundtrip_keeps_pixels_and_channel_order():
    import cv2

    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0] = 200  # pure red: a BGR/RGB mix-up would turn it blue
    rgb[2, 3] = (1, 2, 3)
    png = image_png(rgb)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, rgb)
    gray = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000  # non-uint8 -> scaled
    g = cv2.imdecode(np.frombuffer(image_png(gray), np.uint8), cv2.IMREAD_UNCHANGED)
    assert g.shape == (3, 4) and g.min() == 0 and g.max() == 255


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 5)), np.zeros((0, 4)), np.zeros(5)])
def test_png_rejects_non_images(bad):
    with pytest.raises(ValueError, match="image"):
        image_png(bad)


@pytest.mark.parametrize("box", [[0, 0, 0, 0], [3, 4, 10, 20], [0, 5, 49, 39]])
def test_widget_and_extent_conversions_roundtrip(box):
    shape = (40, 50)
    assert widget_to_box(box_to_widget(box), shape).tolist() == box
    assert extents_to_box(box_to_extents(box), shape).tolist() == box


def test_widget_to_box_rounds_clips_and_normalises():
    shape = (30, 40)  # H, W
    # Pixel i is in when its centre i + 0.5 is inside: x from 2.6 misses pixel 2 (centre 2.5) -> 3.
    assert widget_to_box({"x": 2.6, "y": 1.4, "width": 5.0, "height": 3.0},
                         shape).tolist() == [3, 1, 7, 3]
    # Dragged up-left (negative size) == the same rectangle drawn down-right.
    assert (widget_to_box({"x": 12, "y": 9, "width": -10, "height": -5}, shape).tolist()
            == widget_to_box({"x": 2, "y": 4, "width": 10, "height": 5}, shape).tolist()
            == [2, 4, 11, 8])
    # Partly outside: clipped to the image.
    assert widget_to_box({"x": -7, "y": 25, "width": 60, "height": 30},
                         shape).tolist() == [0, 25, 39, 29]
    # A click without a drag still selects one pixel.
    assert widget_to_box({"x": 5.2, "y": 5.2, "width": 0, "height": 0},
                         shape).tolist() == [5, 5, 5, 5]
    # The ipympl path agrees with the bbox path on the same rectangle (edges shifted by 0.5).
    assert extents_to_box((1.5, 11.5, 3.5, 8.5), shape).tolist() == [2, 4, 11, 8]


@pytest.mark.parametrize("bad", [{"x": 1, "y": 2, "width": 3},
                                 {"x": "a", "y": 0, "width": 1, "height": 1},
                                 {"x": math.nan, "y": 0, "width": 1, "height": 1}])
def test_widget_to_box_rejects_malformed_dicts(bad):
    with pytest.raises(ValueError, match="widget box"):
        widget_to_box(bad, (10, 10))


def test_target_label_is_the_object_with_most_voxels_in_the_box():
    g = np.zeros((20, 20), np.uint8)
    g[2:6, 2:6] = 1
    g[8:18, 8:18] = 2
    assert target_label(g, [1, 1, 9, 9]) == 1  # 16 voxels of 1 vs 4 of 2
    assert target_label(g, [0, 0, 19, 19]) == 2
    assert target_label(g, [10, 0, 19, 5]) == 0


# --------------------------------------------------------------------------- BoxSelector

@pytest.mark.parametrize("backend", BACKENDS)
def test_default_box_2d_is_valid_and_central(backend):
    _backend_available(backend)
    img = np.zeros((40, 60, 3), np.uint8)
    sel = BoxSelector(img, backend=backend)
    assert _valid(sel.box, img.shape, False)
    assert sel.box.tolist() == [15, 10, 44, 29]
    assert sel.slice_index is None and sel.slice_slider is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_box_3d_is_valid_with_slice_slider(backend):
    _backend_available(backend)
    vol = np.zeros((9, 30, 40), np.uint8)
    sel = BoxSelector(vol, backend=backend)
    assert _valid(sel.box, vol.shape, True)
    z0, z1 = sel.box[2], sel.box[5]
    assert z0 <= sel.slice_index <= z1
    assert sel.slice_slider.max == 8 and tuple(sel.z_slider.value) == (z0, z1)
    assert sel.box2d.tolist() == sel.box[[0, 1, 3, 4]].tolist()


def test_default_box_comes_from_the_case(make_case):
    case = make_case("3DBox_CT_0001")
    sel = BoxSelector(case, backend="bbox")
    assert sel.box.tolist() == case.boxes[0].tolist()
    assert sel.slice_index == (case.boxes[0][2] + case.boxes[0][5]) // 2
    case2 = make_case("2DBox_US_0001")
    assert BoxSelector(case2).box.tolist() == case2.boxes[0].tolist()
    # An explicit box beats the case's box.
    assert BoxSelector(case2, box=[1, 2, 3, 4]).box.tolist() == [1, 2, 3, 4]


def test_bbox_widget_shows_image_and_box():
    _need("jupyter_bbox_widget")
    import cv2

    img = np.zeros((20, 30, 3), np.uint8)
    img[5, 6] = (255, 0, 0)
    sel = BoxSelector(img, box=[2, 3, 12, 9], backend="bbox", min_display=1)  # no upscaling
    shown = cv2.imdecode(np.frombuffer(sel._canvas.image_bytes, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape == (20, 30, 3) and tuple(shown[5, 6]) == (0, 0, 255)  # BGR red
    assert sel._canvas.bboxes == [{"x": 2, "y": 3, "width": 11, "height": 7, "label": "box"}]


@pytest.mark.parametrize("backend", BACKENDS)
def test_programmatic_box_change_calls_back_and_updates_display(backend):
    _backend_available(backend)
    seen = []
    sel = BoxSelector(np.zeros((40, 40, 3), np.uint8), backend=backend, on_change=seen.append,
                      min_display=1)
    sel.box = [5, 6, 20, 30]
    assert [b.tolist() for b in seen] == [[5, 6, 20, 30]]
    sel.box = [5, 6, 20, 30]  # unchanged: no second call
    assert len(seen) == 1
    if backend == "bbox":
        assert widget_to_box(sel._canvas.bboxes[0], (40, 40)).tolist() == [5, 6, 20, 30]
    else:
        assert extents_to_box(sel._selector.extents, (40, 40)).tolist() == [5, 6, 20, 30]
    seen[0][0] = 99  # callbacks get copies, not the selector's state
    assert sel.box[0] == 5


def test_programmatic_box_is_clipped_and_validated():
    sel = BoxSelector(np.zeros((40, 50, 3), np.uint8))
    sel.box = [-5, 10, 80, 45]
    assert sel.box.tolist() == [0, 10, 49, 39]
    for bad, msg in [([1, 2, 3], "4"), ([5, 5, 1, 1], "inverted"), ([60, 60, 70, 70], "outside"),
                     ([1.5, 2, 3, 4], "whole"), ([0, 0, 0, 1, 1, 1], "6 coordinates")]:
        with pytest.raises(ValueError, match=msg):
            sel.box = bad
    assert sel.box.tolist() == [0, 10, 49, 39]  # a rejected box changes nothing


def test_drawing_a_new_box_in_the_bbox_widget_replaces_the_old_one():
    _need("jupyter_bbox_widget")
    seen = []
    sel = BoxSelector(np.zeros((40, 40, 3), np.uint8), backend="bbox", on_change=seen.append,
                      min_display=1)
    # What the front end sends after a drag: the old box plus the new one, float coordinates.
    sel._canvas.bboxes = sel._canvas.bboxes + [
        {"x": 3.2, "y": 4.0, "width": 10.1, "height": 8.0, "label": "box"}]
    assert sel.box.tolist() == [3, 4, 12, 11]
    assert [b.tolist() for b in seen] == [[3, 4, 12, 11]]
    assert len(sel._canvas.bboxes) == 1  # only the active prompt stays on screen
    # Mouse-down syncs a 0 x 0 rectangle before the drag: ignored, and the list is left alone.
    sel._canvas.bboxes = sel._canvas.bboxes + [
        {"x": 30, "y": 30, "width": 0, "height": 0, "label": "box"}]
    assert sel.box.tolist() == [3, 4, 12, 11] and len(sel._canvas.bboxes) == 2 and len(seen) == 1
    # Deleting every box keeps the last prompt (and puts it back on screen).
    sel._canvas.bboxes = []
    assert sel.box.tolist() == [3, 4, 12, 11] and len(sel._canvas.bboxes) == 1 and len(seen) == 1


def test_mouse_drag_on_the_ipympl_canvas_changes_the_box():
    _need("ipympl")
    from matplotlib.backend_bases import MouseEvent

    seen = []
    sel = BoxSelector(np.zeros((30, 30), np.uint8), backend="ipympl", on_change=seen.append)
    fig, ax = sel._fig, sel._selector.ax
    fig.canvas.draw()

    def send(kind, x, y):
        px, py = ax.transData.transform((x, y))
        fig.canvas.callbacks.process(kind, MouseEvent(kind, fig.canvas, px, py, button=1))

    send("button_press_event", 3.8, 4.8)
    send("motion_notify_event", 12.2, 20.3)
    send("button_release_event", 12.2, 20.3)
    assert sel.box.tolist() == [4, 5, 12, 20]  # the pixels whose centres the drag covers
    assert [b.tolist() for b in seen] == [[4, 5, 12, 20]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_volume_slice_and_z_range(backend):
    _backend_available(backend)
    vol = np.zeros((6, 20, 20), np.uint8)
    vol[4] = 255
    seen, slices = [], []
    sel = BoxSelector(vol, backend=backend, box=[2, 3, 1, 10, 12, 3], on_change=seen.append)
    sel.on_slice(slices.append)
    sel.slice_index = 4
    assert slices == [4] and seen == []  # changing the view does not change the prompt
    if backend == "bbox":
        import cv2

        shown = cv2.imdecode(np.frombuffer(sel._canvas.image_bytes, np.uint8), cv2.IMREAD_UNCHANGED)
        assert shown.min() == 255
    else:
        assert sel._im.get_array().min() == 255
    sel.z_slider.value = (0, 5)
    assert sel.box.tolist() == [2, 3, 0, 10, 12, 5]
    sel.box = [1, 1, 8, 8]  # a 2D box on a volume keeps the z range
    assert sel.box.tolist() == [1, 1, 0, 8, 8, 5]
    sel.box = [1, 1, 2, 8, 8, 3]
    assert tuple(sel.z_slider.value) == (2, 3)
    assert [b.tolist() for b in seen][-1] == [1, 1, 2, 8, 8, 3] and len(seen) == 3
    with pytest.raises(ValueError, match="slice_index"):
        sel.slice_index = 6


def test_selector_input_errors():
    with pytest.raises(ValueError, match="backend"):
        BoxSelector(np.zeros((5, 5), np.uint8), backend="qt")
    with pytest.raises(ValueError, match="image_or_volume"):
        BoxSelector(np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="slice_index"):
        BoxSelector(np.zeros((5, 5), np.uint8), slice_index=2)


def test_import_classicseg_does_not_import_widget_libraries():
    import subprocess
    import sys

    code = ("import sys, classicseg; "
            "bad = [m for m in ('ipywidgets', 'jupyter_bbox_widget', 'ipympl', 'torch') "
            "if m in sys.modules]; "
            "print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# --------------------------------------------------------------------------- InteractiveComparison

def _box_fill(image, boxes):
    """Segment a box as the whole box (a deliberately crude 'method')."""
    shape = image.shape if boxes.shape[1] == 6 else image.shape[:2]
    res = SegmentationResult.empty(shape, len(boxes))
    for i, b in enumerate(boxes):
        res.add_box(i, box_mask(shape, b), method="box")
    return res


def _bright(image, boxes):
    """Bright pixels inside the box (returns a plain label map, which is accepted too)."""
    shape = image.shape if boxes.shape[1] == 6 else image.shape[:2]
    gray = image if image.ndim == len(shape) else image[..., 0]
    return ((gray > 100) & box_mask(shape, boxes[0])).astype(np.uint16)


@pytest.mark.parametrize("name", ["2DBox_US_0001", "3DBox_CT_0001"])
def test_comparison_recomputes_when_the_box_changes(make_case, name):
    case = make_case(name)
    calls = []

    def counted(image, boxes):
        calls.append(boxes.copy())
        return _box_fill(image, boxes)

    cmp = InteractiveComparison(case, {"box": counted, "bright": _bright}, backend="bbox")
    assert cmp.n_updates == 1 and len(calls) == 1
    assert calls[0].tolist() == [case.boxes[0].tolist()]
    first = dict(cmp.last)
    assert set(first) == {"box", "bright"} and cmp.label == 1
    assert all(isinstance(r, MethodScore) for r in first.values())  # analysis computes the rows
    assert first["bright"].dsc > 0.95  # intensity finds the block exactly (up to noise)
    assert first["box"].dsc > 0.99  # the fixture's boxes are tight around its blocks
    assert cmp.results["box"] is first["box"].result
    png_before = cmp.image.value

    # Loosen the box around object 1 (still object 1): the box-filling method gets worse.
    k = len(case.boxes[0]) // 2
    loose = np.concatenate([np.maximum(case.boxes[0][:k] - 1, 0), case.boxes[0][k:] + 1])
    cmp.box = loose
    assert cmp.n_updates == 2 and calls[-1].tolist() == [cmp.box.tolist()]
    assert cmp.label == 1
    assert cmp.last["box"].dsc < first["box"].dsc
    assert cmp.image.value != png_before
    assert str(cmp.box.tolist()) in cmp.scores.value

    # A box on the other object is scored against that object.
    cmp.box = case.boxes[1]
    assert cmp.label == 2 and cmp.last["bright"].dsc > 0.95
    for rec in cmp.last.values():
        assert rec.seconds >= 0 and 0 <= rec.nsd <= 1
        assert f"<td>{rec.dsc:.3f}</td>" in cmp.scores.value  # the table shows the rows' numbers
    assert "synthetic" in cmp.figure.axes[0].get_title()
    assert len(cmp.figure.axes) == 4  # image, GT, two methods


def test_comparison_slice_change_redraws_without_recomputing(make_case):
    case = make_case("3DBox_CT_0001")
    cmp = InteractiveComparison(case, {"box": _box_fill})
    before = cmp.image.value
    z = cmp.selector.slice_index
    cmp.selector.slice_index = 0 if z else 1
    assert cmp.n_updates == 1 and cmp.image.value != before
    assert f"z={cmp.selector.slice_index}" in cmp.figure.axes[0].get_title()


def test_comparison_reports_a_failing_method_without_hiding_the_others(make_case):
    case = make_case("2DBox_US_0001")
    state = {"fail": False}

    def flaky(image, boxes):
        if state["fail"]:
            raise RuntimeError("boom")
        return _box_fill(image, boxes)

    cmp = InteractiveComparison(case, {"flaky": flaky, "bright": _bright})
    state["fail"] = True
    cmp.box = case.boxes[1]
    assert cmp.last["flaky"].error == "RuntimeError: boom" and "flaky" not in cmp.results
    assert cmp.last["bright"].dsc > 0.9
    assert "boom" in cmp.scores.value


def test_comparison_errors_at_construction_are_raised(make_case):
    case = make_case("2DBox_US_0001")
    with pytest.raises(ValueError, match="shape"):
        InteractiveComparison(case, {"wrong": lambda im, b: np.zeros((3, 3), np.uint16)})
    with pytest.raises(ValueError, match="methods"):
        InteractiveComparison(case, {})
    with pytest.raises(ValueError, match="Case"):
        InteractiveComparison(case.image, {"box": _box_fill})


def test_comparison_without_ground_truth_still_runs(make_case):
    case = make_case("2DBox_US_0001")
    case.gts = None
    cmp = InteractiveComparison(case, {"box": _box_fill})
    assert math.isnan(cmp.last["box"].dsc) and cmp.label == 0
    assert len(cmp.figure.axes) == 2  # no GT panel


# --------------------------------------------------------------------------- FailureGallery

def test_failure_gallery_widget_offers_rows_in_the_order_given_and_switches(make_case):
    rows = []
    for i, gap in enumerate([0.1, -0.6, 0.3]):
        c = make_case("2DBox_US_0001", seed=i)
        rows.append(GalleryRow(f"c{i}", c.image, c.gts, {"a": c.gts, "b": np.zeros_like(c.gts)},
                               {"a": 0.5 + gap / 2, "b": 0.5 - gap / 2}, boxes=c.boxes,
                               synthetic=True))
    g = FailureGallery(rank_by_gap(rows, "a", "b", absolute=True), n=2)  # ranked in analysis
    assert [r.name for r in g.rows] == ["c1", "c2"]
    assert [o[0] for o in g.dropdown.options] == ["1. c1", "2. c2"]
    first = g.image.value
    assert "c1" in g.figure.axes[0].get_title() and "synthetic" in g.figure.axes[0].get_title()
    g.index = 1
    assert "c2" in g.figure.axes[0].get_title() and g.image.value != first
    with pytest.raises(ValueError, match="index"):
        g.index = 5
    assert [r.name for r in FailureGallery(rows, n=3).rows] == ["c0", "c1", "c2"]  # no re-ranking
    with pytest.raises(ValueError, match="empty"):
        FailureGallery([])


def test_widgets_module_exports():
    for name in widgets.__all__:
        assert hasattr(widgets, name), name


def test_ipympl_selector_leaves_the_users_matplotlib_backend_alone():
    _need("ipympl")
    import subprocess
    import sys

    # A fresh interpreter: importing ipympl would switch pyplot to the widget backend.
    code = ("import matplotlib, matplotlib.pyplot as plt; before = matplotlib.get_backend(); "
            "import numpy as np; from classicseg.widgets import BoxSelector; "
            "BoxSelector(np.zeros((8, 8), np.uint8), backend='ipympl'); "
            "after = matplotlib.get_backend(); print(before, after); assert before == after")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# --------------------------------------------------------------------------- small and 3D targets

def _decode_png(png):
    import cv2

    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)


def test_small_images_are_upscaled_and_drawing_maps_back_to_image_pixels():
    _need("jupyter_bbox_widget")
    sel = BoxSelector(np.zeros((40, 50), np.uint8), box=[5, 6, 20, 30], backend="bbox")
    assert sel.view == (slice(0, 40), slice(0, 50), 8)  # ceil(384 / 50)
    assert _decode_png(sel._canvas.image_bytes).shape == (320, 400)
    assert sel._canvas.bboxes == [{"x": 40, "y": 48, "width": 128, "height": 200,
                                   "label": "box"}]
    assert sel._canvas.colors == [BoxSelector.COLOR]  # a visible yellow, not the default blue
    # a rectangle drawn on the upscaled picture, in its pixels
    sel._canvas.bboxes = sel._canvas.bboxes + [{"x": 80, "y": 16, "width": 80, "height": 160,
                                                "label": "box"}]
    assert sel.box.tolist() == [10, 2, 19, 21]


def test_zoom_crops_around_the_box_and_follows_it():
    _need("jupyter_bbox_widget")
    img = np.zeros((200, 300, 3), np.uint8)
    img[100, 150] = 255
    sel = BoxSelector(img, box=[140, 90, 159, 109], zoom=2.0, backend="bbox")
    rows, cols, k = sel.view  # the image's aspect ratio, so the picture keeps its size
    assert (rows, cols) == (slice(80, 120), slice(120, 180)) and k == 10
    shown = _decode_png(sel._canvas.image_bytes)
    assert shown.shape == (400, 600, 3)
    assert shown[(100 - 80) * 10, (150 - 120) * 10].max() == 255  # the same pixel, zoomed
    assert sel._canvas.bboxes[0]["x"] == (140 - 120) * 10
    assert sel.zoom_button.value
    sel.box = [10, 10, 29, 29]  # the window follows a box set from code
    assert sel.view[:2] == (slice(0, 40), slice(0, 60))
    assert _decode_png(sel._canvas.image_bytes).shape == (400, 600, 3)
    sel.zoom_button.value = False  # the toggle: whole image again
    assert sel.zoom is None and sel.view[:2] == (slice(0, 200), slice(0, 300))
    assert _decode_png(sel._canvas.image_bytes).shape[:2] == (200 * sel.view[2],
                                                              300 * sel.view[2])
    with pytest.raises(ValueError, match="zoom"):
        sel.zoom = 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_volume_slice_follows_a_box_set_from_code(backend):
    _backend_available(backend)
    vol = np.zeros((20, 30, 30), np.uint8)
    slices = []
    sel = BoxSelector(vol, box=[2, 2, 0, 10, 10, 3], backend=backend)
    sel.on_slice(slices.append)
    assert sel.slice_index == 1
    sel.box = [2, 2, 10, 10, 10, 17]  # box -> its middle slice (the 3D walk's seed)
    assert sel.slice_index == 13 and slices == []  # on_change listeners redraw, not twice
    sel.slice_index = 11
    sel.box = [3, 3, 10, 12, 12, 17]  # in-plane change, slice inside the box: it stays
    assert sel.slice_index == 11
    sel.box = [3, 3, 10, 12, 12, 17]  # same box: nothing
    sel.slice_index = 2
    sel.box = [3, 3, 10, 12, 12, 17]  # unchanged box, slice outside it: the slice moves back
    assert sel.slice_index == 13 and slices[-1] == 13


def test_comparison_caches_litemedsam_embeddings_across_drags(make_case):
    from models.test_embedding_cache import fake_litemedsam  # tests/ is on sys.path

    case = make_case("2DBox_US_0001")
    model = fake_litemedsam()
    other = case.boxes[1]
    uncached = model.segment(case.image, other[None]).segs
    runner = model._runner
    runner.encoded = runner.decoded = 0
    cmp = InteractiveComparison(case, {"LiteMedSAM": model.segment,
                                       "lambda": lambda im, b: model.segment(im, b)},
                                backend="bbox")
    assert len(cmp.caches) == 1 and runner.encoded == 1  # one model found, one pass
    cmp.box = other            # drag 1
    cmp.box = case.boxes[0]    # drag 2
    assert cmp.n_updates == 3 and runner.encoded == 1 and runner.decoded == 6
    assert (cmp.caches[0].misses, cmp.caches[0].hits) == (1, 5)
    cmp.box = other
    np.testing.assert_array_equal(cmp.results["LiteMedSAM"].segs > 0, uncached > 0)
    assert "encoder passes 1" in cmp.status.value and "done" in cmp.status.value
    assert "encode" not in vars(model)  # the model is left as it was between updates
    plain = InteractiveComparison(case, {"LiteMedSAM": model.segment}, backend="bbox",
                                  cache=False)
    plain.box = other
    assert plain.caches == [] and runner.encoded == 3


def test_comparison_shows_computing_while_the_methods_run(make_case):
    case = make_case("2DBox_US_0001")
    seen = []
    holder = []

    def spy(image, boxes):
        if holder:
            seen.append((holder[0].status.value, holder[0].image.layout.opacity))
        return _box_fill(image, boxes)

    cmp = InteractiveComparison(case, {"spy": spy}, backend="bbox")
    holder.append(cmp)
    cmp.box = case.boxes[1]
    assert "computing" in seen[0][0] and seen[0][1] == "0.5"
    assert "computing" not in cmp.status.value and cmp.image.layout.opacity == "1"


def test_comparison_zoom_crops_the_figure_panels(make_case):
    case = make_case("2DBox_US_0001")
    cmp = InteractiveComparison(case, {"box": _box_fill}, backend="bbox", zoom=2.0)
    rows, cols, _ = cmp.selector.view
    shown = cmp.figure.axes[0].images[0].get_array()
    assert shown.shape[:2] == (rows.stop - rows.start, cols.stop - cols.start)
    assert shown.shape[:2] != case.image.shape[:2]
    cmp.selector.zoom = None
    cmp.box = case.boxes[1]
    assert cmp.figure.axes[0].images[0].get_array().shape[:2] == case.image.shape[:2]


def test_static_fallback_rides_along_with_the_widget(make_case):
    import base64

    case = make_case("2DBox_US_0001")
    cmp = InteractiveComparison(case, {"box": _box_fill}, backend="bbox")
    data, meta = cmp._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert base64.b64decode(data["image/png"]) == cmp.image.value
    assert "alt=" in data["text/html"] and case.name in meta["image/png"]["alt"]
    assert "Dice" in meta["image/png"]["alt"]
    sel_data, _ = cmp.selector._repr_mimebundle_()
    snap = _decode_png(base64.b64decode(sel_data["image/png"]))
    assert snap.shape[:2] == _decode_png(cmp.selector._canvas.image_bytes).shape[:2]
    assert (snap[..., 1] > 150).any()  # the yellow box is drawn in the snapshot


def test_static_snapshot_draws_on_a_copy_of_a_large_image():
    _need("jupyter_bbox_widget")
    img = np.full((400, 420, 3), 40, np.uint8)  # shown 1:1, so the display is the array itself
    sel = BoxSelector(img, box=[50, 60, 200, 220], backend="bbox")
    assert sel.view[2] == 1
    snap = _decode_png(sel.snapshot_png())
    assert (snap != 40).any()          # the box is in the snapshot ...
    assert (img == 40).all()           # ... and not in the caller's image
