"""Figures: right panels, right colours and boxes, synthetic labelling, no pyplot leaks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from classicseg import viz  # noqa: E402
from classicseg.analysis.failures import GalleryRow, rank_by_gap  # noqa: E402
from classicseg.analysis.studies import threshold_study  # noqa: E402
from classicseg.result import SegmentationResult  # noqa: E402


def _image_gt():
    img = np.zeros((32, 40, 3), np.uint8)
    gt = np.zeros((32, 40), np.uint16)
    gt[4:12, 4:12] = 1
    gt[18:28, 20:36] = 2
    img[gt > 0] = 200
    boxes = np.array([[3, 3, 12, 12], [19, 17, 36, 28]])
    return img, gt, boxes


def _figure_rgb(fig):
    import cv2

    return cv2.imdecode(np.frombuffer(viz.figure_png(fig), np.uint8), cv2.IMREAD_COLOR)


def test_functions_never_leave_figures_in_pyplot():
    import matplotlib.pyplot as plt

    img, gt, boxes = _image_gt()
    before = plt.get_fignums()
    viz.side_by_side(img, gt, {"a": gt}, boxes=boxes)
    viz.histogram_split(np.arange(10.0), {"t": 4})
    assert plt.get_fignums() == before


def test_overlay_draws_mask_colours_and_inclusive_boxes():
    from matplotlib.patches import Rectangle

    img, gt, boxes = _image_gt()
    fig = viz._new_figure((4, 4))
    ax = fig.add_subplot()
    viz.overlay(ax, img, gt, boxes, title="case", synthetic=True, alpha=1.0, contour=False)
    assert ax.get_title() == "case (synthetic)"
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 2
    assert rects[0].get_xy() == (2.5, 2.5) and rects[0].get_width() == 10  # pixels 3..12 inclusive
    # With alpha=1 the top image layer is the label colour table itself.
    top = ax.get_images()[-1].get_array()
    table = viz.label_colours(2)
    np.testing.assert_allclose(top[8, 8], table[1])
    np.testing.assert_allclose(top[20, 25], table[2])
    assert top[0, 0][3] == 0  # background transparent


def test_overlay_filters_3d_boxes_by_slice_and_needs_a_slice():
    fig = viz._new_figure((3, 3))
    ax = fig.add_subplot()
    boxes = np.array([[1, 1, 0, 5, 5, 2], [2, 2, 4, 6, 6, 6]])
    viz.overlay(ax, np.zeros((10, 10), np.uint8), None, boxes, slice_index=1)
    assert len(ax.patches) == 1 and "z=1" in ax.get_title()
    with pytest.raises(ValueError, match="slice_index"):
        viz.overlay(fig.add_subplot(), np.zeros((10, 10), np.uint8), None, boxes)
    with pytest.raises(ValueError, match="image"):
        viz.overlay(ax, np.zeros((3, 10, 10), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        viz.overlay(ax, np.zeros((10, 10), np.uint8), np.zeros((4, 4), np.uint8))


def test_side_by_side_panels_scores_and_synthetic_titles():
    img, gt, boxes = _image_gt()
    res = SegmentationResult.empty(gt.shape, 2)
    res.add_box(0, gt == 1, method="a", seconds=0.5)
    res.seconds = 0.5
    fig = viz.side_by_side(img, gt, {"A": res, "B": gt}, boxes=boxes,
                           scores={"A": {"dsc": 0.5, "nsd": float("nan")}, "B": 1.0},
                           synthetic=True, title="2DBox_US_1")
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == [
        "image + box (synthetic)", "ground truth (synthetic)", "A (synthetic)", "B (synthetic)"]
    assert fig.axes[2].get_xlabel() == "Dice 0.500 · NSD n/a · 0.50 s"
    assert fig.axes[3].get_xlabel() == "Dice 1.000"
    assert "(synthetic)" in fig._suptitle.get_text()
    # Without GT: no GT panel; without the flag: no tag.
    fig2 = viz.side_by_side(img, None, {"A": res}, boxes=boxes, times={"A": 0.002})
    assert [ax.get_title() for ax in fig2.axes] == ["image + box", "A"]
    assert fig2.axes[1].get_xlabel() == "2.0 ms"
    # score_methods rows are drawn as they are (no re-scoring in viz)
    from classicseg.analysis.scores import MethodScore

    row = MethodScore("A", dsc=0.25, nsd=0.75, seconds=0.5, result=res)
    fig3 = viz.side_by_side(img, gt, {"A": res}, boxes=boxes, scores={"A": row})
    assert fig3.axes[2].get_xlabel() == "Dice 0.250 · NSD 0.750 · 0.50 s"


def test_side_by_side_volume_picks_the_gt_slice():
    vol = np.zeros((7, 16, 16), np.uint8)
    gt = np.zeros_like(vol)
    gt[2:5, 4:10, 4:10] = 1
    gt[4, 2:14, 2:14] = 1  # slice 4 has the largest area
    boxes = np.array([[2, 2, 2, 13, 13, 4]])
    fig = viz.side_by_side(vol, gt, {"m": gt}, boxes=boxes)
    assert len(fig.axes) == 3 and all("z=4" in ax.get_title() for ax in fig.axes)
    fig = viz.side_by_side(vol, gt, {"m": gt}, boxes=boxes, slice_index=2)
    assert "z=2" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="slice_index"):
        viz.side_by_side(vol, gt, {"m": gt}, boxes=boxes, slice_index=7)
    with pytest.raises(ValueError, match="results"):
        viz.side_by_side(vol, gt, {"m": gt[0]}, boxes=boxes)


def test_side_by_side_pixels_show_the_segmentation():
    img, gt, boxes = _image_gt()
    empty = np.zeros_like(gt)
    a = _figure_rgb(viz.side_by_side(img, gt, {"m": empty}, boxes=boxes))
    b = _figure_rgb(viz.side_by_side(img, gt, {"m": gt}, boxes=boxes))
    assert a.shape == b.shape
    # Only the method panel (the right third) differs between an empty and a full prediction.
    diff = np.any(a != b, axis=2)
    cols = np.nonzero(diff.any(axis=0))[0]
    assert cols.size and cols.min() > a.shape[1] * 0.6


def test_histogram_split_lines_and_labels():
    rng = np.random.default_rng(0)
    v = np.r_[rng.normal(10, 1, 500), rng.normal(30, 2, 100)]
    fig = viz.histogram_split(v, {"otsu": 20.0, "ght": 25.5}, bins=50, synthetic=True, log=True)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and "(synthetic)" in ax.get_title()
    xs = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert xs == [20.0, 25.5]
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        viz.histogram_split([], {})
    with pytest.raises(ValueError, match="NaN"):
        viz.histogram_split([1.0, np.nan], {})


def _rows(n=3):
    img, gt, boxes = _image_gt()
    rows = []
    for i, gap in enumerate([0.1, -0.8, 0.4][:n]):
        rows.append(GalleryRow(f"case{i}", img, gt, {"a": gt, "b": np.zeros_like(gt)},
                               {"a": 0.5 + gap / 2, "b": 0.5 - gap / 2}, boxes=boxes,
                               synthetic=i == 1))
    return rows


def test_failure_gallery_draws_rows_in_the_order_given():
    ranked = rank_by_gap(_rows(), "a", "b", absolute=True)     # the ranking lives in analysis
    fig = viz.failure_gallery(ranked, n=2)
    assert len(fig.axes) == 8
    titles = [fig.axes[i].get_title() for i in (0, 4)]
    assert (titles[0].startswith("case1") and "(synthetic)" in titles[0]
            and "gap -0.800" in titles[0])
    assert titles[1].startswith("case2") and "(synthetic)" not in titles[1]
    assert fig.axes[2].get_title() == "a: Dice 0.100"
    fig = viz.failure_gallery(_rows()[::-1], n=10, synthetic=True)  # no ranking in viz
    assert len(fig.axes) == 12 and all("(synthetic)" in fig.axes[i].get_title() for i in (0, 4, 8))
    assert [fig.axes[i].get_title().split()[0] for i in (0, 4, 8)] == ["case2", "case1", "case0"]
    assert "gap" not in fig.axes[0].get_title()                  # unranked rows: no gap yet


def test_failure_gallery_sort_is_deprecated_and_ranks_in_analysis():
    with pytest.warns(DeprecationWarning, match="rank_by_gap"):
        fig = viz.failure_gallery(_rows(), n=1, sort=True)
    assert fig.axes[0].get_title().startswith("case1")            # the largest |gap|
    with pytest.warns(DeprecationWarning):
        fig = viz.failure_gallery(_rows(), n=1, sort=False)
    assert fig.axes[0].get_title().startswith("case0")


def test_failure_gallery_draws_volumes_and_rejects_bad_rows():
    vol = np.zeros((5, 12, 12), np.uint8)
    gt = np.zeros_like(vol)
    gt[1:4, 3:8, 3:8] = 1
    gt[2, 2:9, 2:9] = 1                                          # most ground truth on z = 2
    row = GalleryRow("vol", vol, gt, {"x": gt, "y": gt}, {"x": 1.0, "y": 1.0}, gap=0.0,
                     boxes=np.array([[2, 2, 1, 8, 8, 3]]))
    fig = viz.failure_gallery([row])
    assert len(fig.axes) == 4 and "z=2" in fig.axes[0].get_title()   # the slice with most GT
    fig = viz.failure_gallery([dataclasses.replace(row, slice_index=3)])
    assert "z=3" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="GalleryRow"):
        viz.failure_gallery([{"image": vol, "gt": gt, "preds": {"x": gt, "y": gt}}])
    with pytest.raises(ValueError, match="two predictions"):
        viz.failure_gallery([dataclasses.replace(row, preds={"x": gt})])
    with pytest.raises(ValueError, match="empty"):
        viz.failure_gallery([])


def test_threshold_panel_draws_the_study_threshold():
    from classicseg.io import Case

    rng = np.random.default_rng(0)
    vol = rng.normal(40, 4, (16, 24, 24)).clip(0, 255).astype(np.uint8)
    gt = np.zeros(vol.shape, np.uint16)
    gt[6:10, 8:14, 8:14] = 1
    vol[gt == 1] = 200
    case = Case("3DBox_PET_1", vol, np.array([[7, 7, 5, 14, 14, 10]]), spacing=(4.0, 4.0, 4.0),
                gts=gt, meta={"synthetic": True})
    study = threshold_study(case)
    fig = viz.threshold_panel(case, reference={"Otsu": 100.0})
    ax = fig.axes[0]
    assert ax.get_title() == "3DBox_PET_1: Dice 1.000 (per box 1.00) (synthetic)"
    lines = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert lines == sorted([study["threshold"], 100.0])
    assert [t.get_text().split(" = ")[0] for t in ax.get_legend().get_texts()] == ["chosen", "Otsu"]


def _table():
    rows = []
    for mod, base in [("CT", 0.8), ("US", 0.6), ("OCT", 0.4)]:
        for method, off in [("ght", 0.0), ("litemedsam", 0.1)]:
            for k in range(3):
                rows.append({"modality": mod, "method": method, "dsc": base + off + 0.01 * k,
                             "seconds": 0.01 * (1 + 50 * off) * (k + 1)})
    return rows


def test_bar_by_modality_means():
    fig = viz.bar_by_modality(_table(), synthetic=True)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and "(synthetic)" in ax.get_title()
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 6
    # Bars are drawn method by method: ght CT, US, OCT, then litemedsam CT, US, OCT.
    np.testing.assert_allclose(heights, [0.81, 0.61, 0.41, 0.91, 0.71, 0.51])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["CT", "US", "OCT"]
    with pytest.raises(ValueError, match="column 'nsd'"):
        viz.bar_by_modality(_table(), metric="nsd")


def test_time_vs_dice_scatter_and_medians():
    pd = pytest.importorskip("pandas")
    fig = viz.time_vs_dice(pd.DataFrame(_table()))
    ax = fig.axes[0]
    assert len(ax.collections) == 3 and ax.get_xscale() == "log"
    medians = ax.collections[-1].get_offsets()
    assert medians.shape == (2, 2)
    np.testing.assert_allclose(medians[:, 1], [0.61, 0.71])
    with pytest.raises(ValueError, match="empty"):
        viz.time_vs_dice([])


def test_figure_png_is_a_png():
    img, gt, boxes = _image_gt()
    png = viz.figure_png(viz.side_by_side(img, gt, {}, boxes=boxes))
    assert png[:4] == b"\x89PNG"


def _toolbox_rows():
    """Two panels (synthetic, real), three methods; grabcut never ran on real XRay."""
    rows = []
    for group, mods in (("synthetic", ("US", "OCT")), ("real", ("US", "XRay"))):
        for mod in mods:
            for method, dsc, t in (("litemedsam", 0.9, 0.5), ("grabcut", 0.7, 0.05),
                                   ("flood", 0.3, 0.001)):
                if group == "real" and mod == "XRay" and method == "grabcut":
                    continue
                for k in range(2):  # two cases: the cell is their mean
                    rows.append({"group": group, "modality": mod, "method": method,
                                 "dsc": dsc + 0.02 * k, "seconds_per_box": t})
    return rows


def test_method_heatmap_cells_panels_and_labels():
    fig = viz.method_heatmap(_toolbox_rows(), panel="group", synthetic=True)
    assert len(fig.axes) == 2 and "(synthetic)" in fig._suptitle.get_text()
    syn, real = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["synthetic cases", "real cases"]
    assert syn.get_ylabel() == "method" and syn.get_xlabel() == "modality"
    assert [t.get_text() for t in syn.get_yticklabels()] == ["litemedsam", "grabcut", "flood"]
    assert [t.get_text() for t in real.get_xticklabels()] == ["US", "XRay"]
    grid = real.images[0].get_array()
    assert grid.shape == (3, 2)
    np.testing.assert_allclose(grid[0], [0.91, 0.91])
    assert np.ma.is_masked(grid[1, 1])  # grabcut did not run on real XRay: an empty cell
    assert len(syn.texts) == 6 and len(real.texts) == 5
    assert real.texts[0].get_text() == "0.91"
    with pytest.raises(ValueError, match="column 'group'"):
        viz.method_heatmap([{"method": "a", "modality": "US", "dsc": 1.0}], panel="group")
    with pytest.raises(ValueError, match="empty"):
        viz.method_heatmap([])


def test_pareto_figure_points_front_and_log_time():
    fig = viz.pareto_figure(_toolbox_rows(), panel="group")
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "seconds per box (log)"
    assert ax.get_ylabel() == "mean dsc over modality"
    assert len(ax.collections) == 3  # one point per method
    xs = sorted(float(c.get_offsets()[0, 0]) for c in ax.collections)
    np.testing.assert_allclose(xs, [0.001, 0.05, 0.5])
    # every method is faster-but-worse than the next: all three on the front
    fx, fy = ax.lines[0].get_data()
    np.testing.assert_allclose(fy, [0.31, 0.71, 0.91])
    slow_and_bad = _toolbox_rows() + [{"group": "real", "modality": "US", "method": "slow",
                                       "dsc": 0.1, "seconds_per_box": 9.0}]
    real = viz.pareto_figure(slow_and_bad, panel="group").axes[1]
    # grabcut skipped real XRay (off the front), "slow" is dominated: flood and litemedsam
    assert len(real.collections) == 4 and len(real.lines[0].get_data()[0]) == 2
    with pytest.raises(ValueError, match="column 'seconds_per_box'"):
        viz.pareto_figure([{"method": "a", "dsc": 1.0}])


def test_comparison_figures_add_heatmap_and_pareto_beyond_two_pipelines(tmp_path):
    from types import SimpleNamespace

    def case(pipeline, name, mod, dsc, seconds=0.2, n_boxes=2):
        return {"pipeline": pipeline, "name": name, "modality": mod, "dsc": dsc, "nsd": dsc,
                "seconds": seconds, "n_boxes": n_boxes, "synthetic": True}

    two = [case(p, n, m, d) for p, d in (("baseline", 0.8), ("paper", 0.9))
           for n, m in (("a", "US"), ("b", "OCT"))]
    names = {p.name for p in viz.comparison_figures(tmp_path / "two", SimpleNamespace(
        per_case=two))}
    assert "method_heatmap.png" not in names and "time_vs_dice.png" in names
    three = two + [case("grabcut", n, m, 0.5, seconds=0.02) for n, m in (("a", "US"),
                                                                        ("b", "OCT"))]
    written = viz.comparison_figures(tmp_path / "three", SimpleNamespace(per_case=three))
    assert {"method_heatmap.png", "pareto.png"} <= {p.name for p in written}
    assert all(p.is_file() for p in written)


def test_pareto_figure_marks_methods_that_skipped_a_modality():
    rows = _toolbox_rows() + [{"group": "real", "modality": "US", "method": "unet",
                               "dsc": 0.99, "seconds_per_box": 0.01}]
    real = viz.pareto_figure(rows, panel="group").axes[1]
    names = [t.get_text() for t in real.texts]
    assert "unet (1/2)" in names and "grabcut (1/2)" in names and "flood" in names
    # the partial ones (unet: better and faster than all) stay off the front
    np.testing.assert_allclose(real.lines[0].get_data()[1], [0.31, 0.91])
