"""Figures for notebooks and reports: overlays, side-by-side comparisons, galleries, summaries.

Matplotlib only (no ipywidgets; the interactive layer is :mod:`classicseg.widgets`). Every
function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show``: notebooks
display the returned figure, scripts ``savefig`` it. Figures are created through pyplot (so
Jupyter's inline backend knows how to render them) and immediately released from pyplot's
registry, so building many figures in a loop or a test neither leaks memory nor pops up
windows. Without a display matplotlib falls back to the non-interactive Agg backend.

Conventions: label maps use the challenge's instance ids (id = box index + 1) and the same id
gets the same colour in every panel; boxes are drawn on pixel edges with inclusive maxima;
anything synthetic gets "(synthetic)" in its title.

Examples
--------
>>> import numpy as np
>>> img = np.zeros((32, 32, 3), np.uint8); gt = np.zeros((32, 32), np.uint8); gt[8:20, 8:20] = 1
>>> fig = side_by_side(img, gt, {"ght": gt}, boxes=[[6, 6, 22, 22]], scores={"ght": {"dsc": 1.0}},
...                    synthetic=True)
>>> len(fig.axes), fig.axes[0].get_title()
(3, 'image + box (synthetic)')
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "overlay", "side_by_side", "histogram_split", "threshold_panel", "failure_gallery",
    "bar_by_modality", "time_vs_dice", "label_colours", "default_slice", "figure_png",
    "robustness_figure", "method_heatmap", "pareto_figure", "show", "show_in",
]

SYNTHETIC_TAG = "(synthetic)"


# --------------------------------------------------------------------------- helpers

def _pyplot():
    # No explicit backend choice: matplotlib's automatic selection already falls back to the
    # non-interactive Agg backend when there is no display, and inside Jupyter the kernel's
    # inline/widget backend must stay in charge.
    import matplotlib.pyplot as plt

    return plt


def _new_figure(figsize, **kw):
    """A pyplot-made figure released from pyplot at once: displayable inline, never auto-shown."""
    plt = _pyplot()
    fig = plt.figure(figsize=figsize, **kw)
    plt.close(fig)
    return fig


def figure_png(fig, *, dpi: int = 80) -> bytes:
    """PNG bytes of a figure (used by the widgets to show figures in an ``ipywidgets.Image``)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def show(fig, alt: str, *, dpi: int = 80):
    """Display a finished figure in a notebook as a PNG **with alt text**, then close it.

    Screen readers, the rendered book and a reader whose image did not load get ``alt``: one
    sentence on what the figure shows (and, for real images, whose they are). Returns None, so
    a ``show(...)`` that ends a cell does not display the figure a second time.

    Examples
    --------
    >>> fig = _new_figure((2, 2))                                      # doctest: +SKIP
    >>> show(fig, "A histogram with two peaks split at 0.4 (synthetic)")  # doctest: +SKIP
    """
    from IPython.display import Image, display

    if not str(alt).strip():
        raise ValueError("alt must say what the figure shows (it is the figure's alt text)")
    img = Image(data=figure_png(fig, dpi=dpi), format="png", alt=str(alt))
    display(img)
    if getattr(fig, "number", None) is not None:  # a pyplot figure: release it
        _pyplot().close(fig)
    return None  # not the Image: as a cell's last value it would be displayed again


def show_in(output, fig, alt: str, *, dpi: int = 80):
    """Make a figure the only content of an ``ipywidgets.Output``: a PNG **with alt text**.

    For slider callbacks. Unlike ``with output: display(fig)``, the image is stored in the
    widget's ``outputs`` in the kernel, so the lesson's code (and a run without a browser,
    as under nbval) can read what the reader sees. The figure is released from pyplot and
    returned, so a callback can hand it on (e.g. as ``ipywidgets.interactive``'s ``result``).

    Examples
    --------
    >>> import ipywidgets as W                                     # doctest: +SKIP
    >>> out = W.Output()                                           # doctest: +SKIP
    >>> _ = show_in(out, _new_figure((2, 2)), "An empty test figure")  # doctest: +SKIP
    >>> len(out.outputs), "image/png" in out.outputs[0]["data"]     # doctest: +SKIP
    (1, True)
    """
    from IPython.display import Image

    if not str(alt).strip():
        raise ValueError("alt must say what the figure shows (it is the figure's alt text)")
    output.outputs = ()  # replace, never append: one figure at a time
    output.append_display_data(Image(data=figure_png(fig, dpi=dpi), format="png", alt=str(alt)))
    if getattr(fig, "number", None) is not None:
        _pyplot().close(fig)
    return fig


def _tag(title, synthetic: bool) -> str:
    title = "" if title is None else str(title)
    if synthetic and SYNTHETIC_TAG not in title:
        title = f"{title} {SYNTHETIC_TAG}".strip()
    return title


def label_colours(n: int) -> np.ndarray:
    """(n + 1, 4) RGBA table: row 0 transparent background, row k the colour of instance k.

    tab10 for up to 10 instances (distinct and colour-blind friendlier), tab20 then hsv beyond,
    cycling so any id has a colour.
    """
    from matplotlib import colormaps

    n = max(int(n), 1)
    base = colormaps["tab10"].colors if n <= 10 else colormaps["tab20"].colors
    cols = np.array([(*base[(k - 1) % len(base)], 1.0) for k in range(1, n + 1)])
    return np.vstack([np.zeros((1, 4)), cols])


def _as_display_image(image) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        a = a[..., :3]
    elif a.ndim != 2:
        raise ValueError(f"image must be 2D (H, W) or (H, W, 3), got shape {a.shape}; "
                         "pick a slice of a volume first (slice_index=)")
    if a.dtype != np.uint8:
        from .io import to_uint8

        a = to_uint8(a)
    return a


def _as_mask(mask, shape=None, what="mask") -> np.ndarray | None:
    """Label map from a mask or a SegmentationResult (anything with ``.segs``)."""
    if mask is None:
        return None
    a = np.asarray(getattr(mask, "segs", mask))
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if not (np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{what} must be an integer/bool label map, got dtype {a.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{what} has shape {a.shape}, expected {tuple(shape)}")
    return a


def _is_volume(image, boxes=None) -> bool:
    a = np.asarray(image)
    if boxes is not None and np.asarray(boxes).size:
        return np.asarray(boxes).reshape(len(boxes), -1).shape[1] == 6
    return a.ndim == 3 and a.shape[-1] not in (3, 4)


def default_slice(volume_shape, *, gt=None, boxes=None) -> int:
    """Volume slice to show: most ground truth, else the first box's centre, else the middle."""
    if gt is not None:
        areas = np.count_nonzero(np.asarray(gt).reshape(np.asarray(gt).shape[0], -1), axis=1)
        if areas.max(initial=0) > 0:
            return int(np.argmax(areas))
    if boxes is not None and np.asarray(boxes).size:
        b = np.asarray(boxes).reshape(-1, 6)[0]
        return int((b[2] + b[5]) // 2)
    return int(volume_shape[0] // 2)


def _boxes_on_slice(boxes, slice_index):
    """2D boxes [x0, y0, x1, y1] (with their instance id) visible on ``slice_index``."""
    if boxes is None:
        return []
    b = np.asarray(boxes, dtype=np.int64)
    if b.size == 0:
        return []
    b = b.reshape(-1, b.shape[-1])
    if b.shape[1] == 4:
        return [(i + 1, row) for i, row in enumerate(b)]
    if b.shape[1] != 6:
        raise ValueError(f"boxes must be (N, 4) or (N, 6), got shape {b.shape}")
    if slice_index is None:
        raise ValueError("3D boxes need slice_index= to be drawn on a 2D image")
    return [(i + 1, row[[0, 1, 3, 4]]) for i, row in enumerate(b)
            if row[2] <= slice_index <= row[5]]


# --------------------------------------------------------------------------- panels

def overlay(ax, image, mask=None, boxes=None, *, title=None, synthetic=False, slice_index=None,
            alpha: float = 0.35, contour: bool = True, box_colour=None, n_colours=None):
    """Draw an image with a filled + outlined instance overlay and boxes on ``ax``.

    Parameters
    ----------
    ax : matplotlib Axes
    image : ndarray
        (H, W) or (H, W, 3); non-uint8 images are min-max scaled for display.
    mask : ndarray or SegmentationResult, optional
        (H, W) instance map (0 = background) or bool mask; ids get the colours of
        :func:`label_colours` so the same id matches across panels.
    boxes : array-like, optional
        (N, 4) 2D boxes, or (N, 6) 3D boxes drawn when they cover ``slice_index``.
    title : str, optional
    synthetic : bool
        Append "(synthetic)" to the title.
    slice_index : int, optional
        The slice this image is (for 3D boxes; also shown as "z=").
    alpha : float
        Opacity of the filled overlay.
    contour : bool
        Also draw opaque instance outlines.
    box_colour : colour, optional
        One colour for every box (default: the instance's colour).
    n_colours : int, optional
        Size of the colour table (default: the largest id); pass the same number for panels
        that must match.

    Returns
    -------
    ax
    """
    from matplotlib.patches import Rectangle

    img = _as_display_image(image)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
    m = _as_mask(mask, img.shape[:2])
    n = int(n_colours or 0)
    if m is not None and m.size:
        n = max(n, int(m.max()))
    if boxes is not None and np.asarray(boxes).size:
        n = max(n, len(np.asarray(boxes).reshape(-1, np.asarray(boxes).shape[-1])))
    table = label_colours(n)
    if m is not None and m.any():
        ids = np.where(m <= n, m, (m - 1) % max(n, 1) + 1)  # guard ids above the table
        rgba = table[ids].copy()
        rgba[..., 3] = np.where(ids > 0, alpha, 0.0)
        ax.imshow(rgba, interpolation="nearest")
        if contour:
            from skimage.segmentation import find_boundaries

            edge = find_boundaries(m, mode="inner")
            line = table[ids].copy()
            line[..., 3] = edge.astype(float)
            ax.imshow(line, interpolation="nearest")
    for k, (x0, y0, x1, y1) in _boxes_on_slice(boxes, slice_index):
        colour = box_colour if box_colour is not None else table[min(k, n)][:3]
        # Pixel centres sit on integers, so an inclusive box spans [x0 - 0.5, x1 + 0.5].
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False,
                               edgecolor=colour, linewidth=1.5, linestyle="--"))
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    text = _tag(title, synthetic)
    if slice_index is not None:
        text = f"{text}  z={slice_index}".strip() if text else f"z={slice_index}"
    if text:
        ax.set_title(text, fontsize=9)
    return ax


def _score_text(score, seconds) -> str:
    parts = []
    if score is not None:
        if isinstance(score, Mapping):  # e.g. metrics.score_case's output
            d, s = score.get("dsc"), score.get("nsd")
        elif hasattr(score, "dsc"):  # e.g. an analysis.scores.MethodScore row
            d, s = score.dsc, getattr(score, "nsd", None)
        else:
            d, s = score, None
        if d is not None:
            parts.append(f"Dice {_fmt(d)}")
        if s is not None:
            parts.append(f"NSD {_fmt(s)}")
    if seconds is not None:
        parts.append(f"{seconds:.2f} s" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms")
    return " · ".join(parts)


def _fmt(v) -> str:
    v = float(v)
    return "n/a" if math.isnan(v) else f"{v:.3f}"


def side_by_side(image, gt, results: Mapping, *, boxes, scores=None, times=None, slice_index=None,
                 synthetic=False, title=None, panel_size: float = 3.0):
    """Image + boxes, ground truth and each method's segmentation in one row.

    Parameters
    ----------
    image : ndarray
        2D image (H, W, 3)/(H, W) or a volume (D, H, W).
    gt : ndarray or None
        Ground-truth instance map with the image's spatial shape; None drops the GT panel.
    results : dict
        Method name -> :class:`~classicseg.result.SegmentationResult` or label map.
    boxes : array-like
        (N, 4) or (N, 6) prompt boxes (inclusive maxima).
    scores : dict, optional
        Method name -> DSC float, a dict with ``dsc`` and ``nsd`` (e.g. the output of
        :func:`classicseg.metrics.score_case`) or a row with ``.dsc`` / ``.nsd`` attributes
        (:class:`classicseg.analysis.scores.MethodScore`), printed under the panel.
    times : dict, optional
        Method name -> seconds; defaults to each SegmentationResult's ``seconds``.
    slice_index : int, optional
        Volumes: slice to show (default :func:`default_slice`).
    synthetic : bool
        Tag every title "(synthetic)".
    title : str, optional
        Figure title (e.g. the case name).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel: image, [GT], then the methods in ``results`` order.
    """
    img = np.asarray(image)
    volume = _is_volume(img, boxes)
    spatial = img.shape if volume else img.shape[:2]
    gt = _as_mask(gt, spatial, "gt")
    masks = {name: _as_mask(r, spatial, f"results[{name!r}]") for name, r in results.items()}
    if volume:
        if slice_index is None:
            slice_index = default_slice(img.shape, gt=gt, boxes=boxes)
        if not 0 <= int(slice_index) < img.shape[0]:
            raise ValueError(f"slice_index {slice_index} outside the volume's "
                             f"{img.shape[0]} slices")
        slice_index = int(slice_index)
        view = img[slice_index]
        gt = None if gt is None else gt[slice_index]
        masks = {k: v[slice_index] for k, v in masks.items()}
    else:
        view, slice_index = img, None
    scores = scores or {}
    times = dict(times or {})
    for name, r in results.items():
        if name not in times and getattr(r, "seconds", None) is not None and hasattr(r, "segs"):
            times[name] = float(r.seconds)
    n_ids = max([len(np.asarray(boxes).reshape(-1, np.asarray(boxes).shape[-1]))
                 if np.asarray(boxes).size else 0]
                + [int(m.max()) for m in [gt, *masks.values()] if m is not None and m.size])
    panels = ([("image + box", None, True)]
              + ([("ground truth", gt, False)] if gt is not None else []))
    panels += [(name, m, False) for name, m in masks.items()]
    fig = _new_figure((panel_size * len(panels), panel_size + 0.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, m, with_boxes) in zip(axes, panels):
        overlay(ax, view, m, boxes if with_boxes or m is not None else None, title=name,
                synthetic=synthetic, slice_index=slice_index, n_colours=n_ids,
                box_colour="yellow" if with_boxes else "white")
        if name in masks:
            text = _score_text(scores.get(name), times.get(name))
            if text:
                ax.set_xlabel(text, fontsize=9)
    if title:
        fig.suptitle(_tag(title, synthetic), fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- lessons

def histogram_split(values, thresholds: Mapping, *, bins=100, title=None, synthetic=False,
                    log: bool = False, value_range=None):
    """Histogram of intensities with one vertical line per candidate threshold.

    Used by the PET lesson: the same box histogram split by Otsu, GHT, MET, ... .

    Parameters
    ----------
    values : array-like
        Intensities (any shape; flattened).
    thresholds : dict
        Name -> threshold value (the line is labelled with both).
    bins : int or sequence
        Passed to ``numpy.histogram``.
    log : bool
        Logarithmic count axis (long PET tails).

    Returns
    -------
    matplotlib.figure.Figure
        One axes.

    Examples
    --------
    >>> fig = histogram_split(np.r_[np.zeros(50), np.ones(10) * 5], {"otsu": 2.5}, bins=10)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['otsu = 2.5']
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values is empty; nothing to histogram")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or inf")
    counts, edges = np.histogram(v, bins=bins, range=value_range)
    fig = _new_figure((6, 3.2))
    ax = fig.add_subplot()
    ax.stairs(counts, edges, fill=True, color="0.75", label="_hist")
    from matplotlib import colormaps

    cols = colormaps["tab10"].colors
    for i, (name, t) in enumerate(thresholds.items()):
        t = float(t)
        ax.axvline(t, color=cols[i % 10], linewidth=2, label=f"{name} = {t:.4g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("intensity")
    ax.set_ylabel("count")
    if thresholds:
        ax.legend(fontsize=8)
    ax.set_title(_tag(title if title is not None else "intensity histogram", synthetic),
                 fontsize=10)
    fig.tight_layout()
    return fig


def threshold_panel(case, *, reference: Mapping[str, float] | None = None, bins: int | None = None,
                    **study_options):
    """Histogram of a PET/OCT case's pooled box values split by its threshold, Dice in the title.

    The figure behind the notebooks' GHT sliders: the threshold and scores come from
    :func:`classicseg.analysis.studies.threshold_study` with ``study_options`` (``method``,
    ``nu``, ``tau``, ``kappa``, ``omega``, ``force``), drawn with :func:`histogram_split`
    together with any ``reference`` thresholds (name -> value, e.g. Otsu's). Synthetic cases
    are tagged "(synthetic)".

    Returns
    -------
    matplotlib.figure.Figure
        One axes; the line ``chosen`` is the study's threshold.

    Examples
    --------
    >>> from classicseg.io import Case
    >>> vol = np.full((6, 12, 12), 40, np.uint8); vol[2:4, 4:8, 4:8] = 200
    >>> gt = (vol > 100).astype(np.uint8)
    >>> pet = Case("3DBox_PET_toy", vol, np.array([[3, 3, 1, 8, 8, 4]]), spacing=(4, 4, 4), gts=gt)
    >>> threshold_panel(pet, method="otsu", force=False).axes[0].get_title()
    '3DBox_PET_toy: Dice 1.000 (per box 1.00)'
    """
    from .analysis.studies import box_values, threshold_study

    study = threshold_study(case, **study_options)
    values = box_values(case.image, case.boxes)
    lines = {"chosen": study["threshold"], **dict(reference or {})}
    per_box = ", ".join(f"{d:.2f}" for d in study["dsc_per_box"])
    title = f"{case.name}: Dice {study['dsc']:.3f} (per box {per_box})"
    return histogram_split(values, lines, bins=bins or (100 if case.is_3d else 32), log=True,
                           title=title, synthetic=case.synthetic)


def _records(table) -> list[dict]:
    """Rows of a pandas DataFrame, a list of dicts or a dict of columns, as a list of dicts."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):
        return table.to_dict("records")
    if isinstance(table, Mapping):
        keys = list(table)
        cols = [list(table[k]) for k in keys]
        if len({len(c) for c in cols}) > 1:
            raise ValueError("table: columns have different lengths")
        return [dict(zip(keys, vals)) for vals in zip(*cols)]
    rows = list(table)
    if rows and not isinstance(rows[0], Mapping):
        raise ValueError("table must be a DataFrame, a dict of columns or a list of dict rows")
    return rows


def failure_gallery(rows, *, n: int = 8, synthetic=None, panel_size: float = 2.4, sort=None):
    """Grid of gallery rows, in the order given: image + boxes, GT, method A, method B per row.

    The rows are computed (and ranked) in :mod:`classicseg.analysis.failures`; this only
    draws them, e.g. ``failure_gallery(rank_by_gap(rows, a, b, absolute=True))`` for the
    largest disagreements first, or ``failure_gallery(gap_rows(rows, a, b))`` in box order.

    Parameters
    ----------
    rows : sequence of GalleryRow
        :class:`~classicseg.analysis.failures.GalleryRow` with exactly two predictions (as
        :func:`~classicseg.analysis.failures.gap_rows` / ``rank_by_gap`` / ``split_winners``
        return them). A finite ``gap`` is printed under the name.
    n : int
        Number of rows shown (the first ``n``).
    synthetic : bool, optional
        Force the "(synthetic)" tag on (or off) for every row; default: each row's own flag.
    sort : bool, optional
        Deprecated (the gallery draws rows in the order given); ``True`` ranks them by the
        absolute gap with :func:`~classicseg.analysis.failures.rank_by_gap`.

    Returns
    -------
    matplotlib.figure.Figure
        ``4 * min(n, len(rows))`` axes.

    Examples
    --------
    >>> from classicseg.analysis.failures import GalleryRow
    >>> gt = np.zeros((12, 12), np.uint8); gt[3:9, 3:9] = 1
    >>> row = GalleryRow("toy", np.zeros((12, 12, 3), np.uint8), gt, {"a": gt, "b": 0 * gt},
    ...                  {"a": 1.0, "b": 0.0}, gap=1.0)
    >>> fig = failure_gallery([row])
    >>> len(fig.axes), fig.axes[0].get_title(), fig.axes[3].get_title()
    (4, 'toy\\ngap +1.000', 'b: Dice 0.000')
    """
    rows = list(rows)
    if not rows:
        raise ValueError("failure_gallery: rows is empty")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    for i, r in enumerate(rows):
        if not hasattr(r, "preds") or not hasattr(r, "dsc"):
            raise ValueError(f"failure_gallery: row {i} is a {type(r).__name__}, not a GalleryRow "
                             "(see classicseg.analysis.failures.case_row / box_rows)")
        if len(r.preds) != 2:
            raise ValueError(f"failure_gallery: row {i} needs exactly two predictions, got "
                             f"{list(r.preds)}; compare two methods with failures.gap_rows")
    if sort is not None:
        import warnings

        warnings.warn("failure_gallery(sort=...) is deprecated: it draws rows in the order given; "
                      "rank them with classicseg.analysis.failures.rank_by_gap(..., absolute=True)",
                      DeprecationWarning, stacklevel=2)
        if sort:
            from .analysis.failures import rank_by_gap

            rows = rank_by_gap(rows, *rows[0].methods, absolute=True)
    rows = rows[:n]
    fig = _new_figure((panel_size * 4, panel_size * len(rows) + 0.3))
    axes = fig.subplots(len(rows), 4, squeeze=False)
    for i, (row_axes, r) in enumerate(zip(axes, rows)):
        img = np.asarray(r.image)
        volume = _is_volume(img, r.boxes)
        gt = _as_mask(r.gt, img.shape if volume else img.shape[:2], f"rows[{i}].gt")
        masks = {k: _as_mask(v, gt.shape, f"rows[{i}].preds[{k!r}]") for k, v in r.preds.items()}
        z = None
        if volume:
            z = r.slice_index
            z = default_slice(img.shape, gt=gt, boxes=r.boxes) if z is None else int(z)
            img, gt = img[z], gt[z]
            masks = {k: v[z] for k, v in masks.items()}
        syn = bool(r.synthetic) if synthetic is None else bool(synthetic)
        # second line: long case names would otherwise run into the next panel's title
        gap_txt = f"\ngap {r.gap:+.3f}" if r.gap is not None and not math.isnan(r.gap) else ""
        n_ids = max([int(m.max()) for m in [gt, *masks.values()] if m.size] + [1])
        overlay(row_axes[0], img, None, r.boxes, title=f"{r.name}{gap_txt}", synthetic=syn,
                slice_index=z, box_colour="yellow", n_colours=n_ids)
        overlay(row_axes[1], img, gt, None, title="ground truth", n_colours=n_ids)
        for ax, (k, m) in zip(row_axes[2:], masks.items()):
            d = r.dsc.get(k)
            overlay(ax, img, m, None, title=k if d is None else f"{k}: Dice {_fmt(d)}",
                    n_colours=n_ids)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- reports

def _group_mean(rows, by, hue, metric):
    groups, hues = [], []
    acc: dict[tuple, list] = {}
    for r in rows:
        for key in (by, hue, metric):
            if key not in r:
                raise ValueError(f"table has no column {key!r} (columns: {sorted(r)})")
        g, h = r[by], r[hue]
        if g not in groups:
            groups.append(g)
        if h not in hues:
            hues.append(h)
        v = float(r[metric])
        if not math.isnan(v):
            acc.setdefault((g, h), []).append(v)
    return groups, hues, acc


def bar_by_modality(table, *, metric: str = "dsc", by: str = "modality", hue: str = "method",
                    title=None, synthetic=False):
    """Grouped bars: mean ``metric`` per ``by`` (modality) for each ``hue`` (method), SD whiskers
    where a bar averages more than one row.

    Parameters
    ----------
    table : DataFrame, list of dict or dict of columns
        One row per case and method (e.g. the pipeline's per-case score table).
    metric, by, hue : str
        Column names (defaults match :func:`classicseg.metrics.score_case` and the reports).

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one bar per modality and method.

    Examples
    --------
    >>> t = {"modality": ["CT", "CT", "US", "US"], "method": ["a", "b", "a", "b"],
    ...      "dsc": [.9, .8, .7, .6]}
    >>> len(bar_by_modality(t).axes[0].patches)  # 2 modalities x 2 methods
    4
    """
    rows = _records(table)
    if not rows:
        raise ValueError("bar_by_modality: table is empty")
    groups, hues, acc = _group_mean(rows, by, hue, metric)
    x = np.arange(len(groups))
    width = 0.8 / max(len(hues), 1)
    fig = _new_figure((max(5.0, 0.9 * len(groups) * max(1, len(hues)) ** 0.5 + 2), 3.5))
    ax = fig.add_subplot()
    for j, h in enumerate(hues):
        means = [np.mean(acc[(g, h)]) if acc.get((g, h)) else np.nan for g in groups]
        # an SD whisker only where a bar averages more than one value (n = 1 has no spread)
        sds = [np.std(acc[(g, h)]) if len(acc.get((g, h), ())) > 1 else np.nan for g in groups]
        ax.bar(x + (j - (len(hues) - 1) / 2) * width, means, width, yerr=sds, capsize=2,
               label=str(h))
    ax.set_xticks(x, [str(g) for g in groups], rotation=30, ha="right")
    ax.set_ylabel(f"mean {metric}")
    if metric.lower() in ("dsc", "dice", "nsd"):
        ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncols=min(len(hues), 4))
    ax.set_title(_tag(title if title is not None else f"{metric} by {by}", synthetic), fontsize=10)
    fig.tight_layout()
    return fig


def time_vs_dice(table, *, time: str = "seconds", metric: str = "dsc", hue: str = "method",
                 log_time: bool = True, title=None, synthetic=False):
    """Scatter of per-case run time against ``metric``, one colour per method, medians as stars.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one scatter collection per method plus one for the medians.

    Examples
    --------
    >>> t = [{"method": "a", "seconds": 0.01, "dsc": 0.8},
    ...      {"method": "b", "seconds": 1.2, "dsc": 0.9}]
    >>> len(time_vs_dice(t).axes[0].collections)
    3
    """
    rows = _records(table)
    if not rows:
        raise ValueError("time_vs_dice: table is empty")
    from matplotlib import colormaps

    cols = colormaps["tab10"].colors
    fig = _new_figure((5.5, 3.8))
    ax = fig.add_subplot()
    _, hues, _ = _group_mean(rows, hue, hue, metric)
    med_x, med_y, med_c = [], [], []
    for j, h in enumerate(hues):
        t = np.array([float(r[time]) for r in rows if r[hue] == h])
        d = np.array([float(r[metric]) for r in rows if r[hue] == h])
        ok = np.isfinite(t) & np.isfinite(d)
        if log_time:
            ok &= t > 0
        ax.scatter(t[ok], d[ok], s=14, alpha=0.6, color=cols[j % 10], label=str(h))
        if ok.any():
            med_x.append(np.median(t[ok]))
            med_y.append(np.median(d[ok]))
            med_c.append(cols[j % 10])
    ax.scatter(med_x, med_y, marker="*", s=180, c=med_c, edgecolors="black", label="median")
    if log_time:
        ax.set_xscale("log")
    ax.set_xlabel(f"{time} per case" + (" (log)" if log_time else ""))
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    ax.set_title(_tag(title if title is not None else f"time vs {metric}", synthetic), fontsize=10)
    fig.tight_layout()
    return fig


def robustness_figure(rows, *, metric: str = "dsc", title=None, synthetic=False):
    """Box robustness curves: mean ``metric`` against the perturbation, one line per method,
    one panel per kind (jitter, scale, shift).

    Parameters
    ----------
    rows : iterable of RobustnessRow
        From :func:`classicseg.analysis.robustness.box_robustness` (averaged here over cases
        and repeats with :func:`~classicseg.analysis.robustness.summarize_robustness`).
    metric : {"dsc", "nsd", "dsc_change"}
    title : str, optional
        Figure title (the "(synthetic)" tag is added when ``synthetic``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per kind; the boxes as given (jitter 0, scale 1, shift 0) are a dotted line.

    Examples
    --------
    >>> from classicseg.analysis.robustness import RobustnessRow
    >>> rows = [RobustnessRow(m, k, a, "c", d, d, 0.1) for m in ("a", "b")
    ...         for k, a, d in [("jitter", 0, .9), ("jitter", 5, .7), ("scale", 1.0, .9)]]
    >>> fig = robustness_figure(rows)
    >>> [ax.get_xlabel() for ax in fig.axes], len(fig.axes[0].get_lines())
    (['jitter (px)', 'scale (x box size)'], 3)
    """
    from .analysis.robustness import KINDS, summarize_robustness

    summary = summarize_robustness(rows)
    if not summary:
        raise ValueError("robustness_figure: rows is empty")
    if metric not in summary[0]:
        raise ValueError(f"metric must be one of dsc, nsd, dsc_change, got {metric!r}")
    from matplotlib import colormaps

    cols = colormaps["tab10"].colors
    kinds = list(dict.fromkeys(s["kind"] for s in summary))
    methods = list(dict.fromkeys(s["method"] for s in summary))
    fig = _new_figure((3.6 * len(kinds) + 1.6, 3.4))
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds):
        for j, m in enumerate(methods):
            pts = [(s["amount"], s[metric]) for s in summary
                   if s["kind"] == kind and s["method"] == m]
            if pts:
                x, y = zip(*pts)
                # past ten methods the colours repeat: the line style and marker tell them apart
                ax.plot(x, y, marker="os^D"[j // 10 % 4], ms=4, color=cols[j % 10],
                        ls=("-", "--", ":", "-.")[j // 10 % 4], label=str(m))
        ax.axvline(KINDS[kind].neutral, color="grey", ls=":", lw=1)
        ax.set_xlabel(f"{kind} ({KINDS[kind].unit})")
        ax.set_ylabel(f"mean {metric}")
        if metric in ("dsc", "nsd"):
            ax.set_ylim(0, 1.05)
        ax.set_title(kind, fontsize=10)
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(_tag(title if title is not None else f"{metric} vs box perturbation", synthetic),
                 fontsize=11)
    fig.tight_layout()
    return fig


def _panels(rows, panel):
    """``[(panel value or None, its rows)]`` in first-seen order."""
    if panel is None:
        return [(None, rows)]
    for r in rows:
        if panel not in r:
            raise ValueError(f"table has no column {panel!r} (columns: {sorted(r)})")
    keys = list(dict.fromkeys(r[panel] for r in rows))
    return [(k, [r for r in rows if r[panel] == k]) for k in keys]


def method_heatmap(table, *, metric: str = "dsc", row: str = "method", col: str = "modality",
                   panel: str | None = None, title=None, synthetic=False, cmap: str = "viridis"):
    """Annotated heat map of mean ``metric``: one row per method, one column per modality.

    Parameters
    ----------
    table : DataFrame, list of dict or dict of columns
        One row per case and method (or already one mean per method and modality); rows with
        the same ``row``, ``col`` (and ``panel``) are averaged, NaN ignored.
    metric, row, col : str
        Column names: the value, the heat map's rows and its columns.
    panel : str, optional
        A column that splits the table into side-by-side panels (e.g. ``"group"``:
        synthetic vs real cases), each with its own columns and the same rows.
    title : str, optional
        Figure title; "(synthetic)" is added when ``synthetic``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel; each cell is annotated with its value, a method that did not run
        on a modality is an empty cell.

    Examples
    --------
    >>> t = {"modality": ["US", "US", "CT", "CT"], "method": ["a", "b", "a", "b"],
    ...      "dsc": [.9, .8, .7, .6]}
    >>> ax = method_heatmap(t).axes[0]
    >>> ax.images[0].get_array().shape, len(ax.texts), ax.get_xlabel(), ax.get_ylabel()
    ((2, 2), 4, 'modality', 'method')
    """
    rows = _records(table)
    if not rows:
        raise ValueError("method_heatmap: table is empty")
    panels = _panels(rows, panel)
    names = list(dict.fromkeys(r[row] for r in rows if row in r))
    cells = [(p, _group_mean(pr, row, col, metric)) for p, pr in panels]
    width = sum(max(len(cols), 1) for _, (_, cols, _) in cells)
    fig = _new_figure((1.6 + 0.75 * width + 1.2 * len(panels), 1.2 + 0.32 * len(names)))
    axes = fig.subplots(1, len(panels), squeeze=False,
                        width_ratios=[max(len(c[1][1]), 1) for c in cells])[0]
    bounded = metric.lower() in ("dsc", "dice", "nsd")
    for k, (ax, (p, (_, cols, acc))) in enumerate(zip(axes, cells)):
        grid = np.full((len(names), len(cols)), np.nan)
        for i, m in enumerate(names):
            for j, c in enumerate(cols):
                if acc.get((m, c)):
                    grid[i, j] = np.mean(acc[(m, c)])
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto",
                  vmin=0 if bounded else None, vmax=1 if bounded else None)
        hi = np.nanmax(grid) if np.isfinite(grid).any() else 0.0
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):  # dark text on the light (high) end of the colour map
                light = v > (0.6 if bounded else 0.6 * hi)
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if light else "white")
        ax.set_xticks(range(len(cols)), [str(c) for c in cols], rotation=40, ha="right",
                      fontsize=8)
        ax.set_yticks(range(len(names)), [str(m) for m in names] if k == 0 else [],
                      fontsize=8)
        ax.set_xlabel(col)
        if k == 0:
            ax.set_ylabel(row)
        if p is not None:
            ax.set_title(f"{p} cases" if panel == "group" else str(p), fontsize=10)
    fig.suptitle(_tag(title if title is not None else f"mean {metric} by {row} and {col}",
                      synthetic), fontsize=11)
    fig.tight_layout()
    return fig


def _macro_mean(rows, key, by):
    """Mean of ``key`` over ``rows``; with ``by``, the mean of the per-``by`` means (every
    modality counts once, as in the paper's tables)."""
    groups: dict = {}
    for r in rows:
        v = r.get(key)
        if v is not None and not math.isnan(float(v)):
            groups.setdefault(r.get(by) if by else None, []).append(float(v))
    means = [float(np.mean(v)) for v in groups.values()]
    return float(np.mean(means)) if means else math.nan


def pareto_figure(rows, *, time: str = "seconds_per_box", metric: str = "dsc",
                  hue: str = "method", by: str | None = "modality", panel: str | None = None,
                  title=None, synthetic=False):
    """Time vs quality, one point per method, the Pareto front (no faster *and* better method)
    as a dashed line.

    Parameters
    ----------
    rows : DataFrame, list of dict or dict of columns
        One row per case and method with ``time`` (seconds per box), ``metric`` and ``hue``.
    by : str or None
        Average within each value of this column first (default ``"modality"``: every modality
        weighs the same, whatever its number of cases); None: plain mean over rows.
    panel : str, optional
        A column that splits the rows into side-by-side panels (e.g. synthetic vs real).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel, log time axis; one scatter point per method (labelled), one line
        through the front. With ``by``, a method that ran on only some of the panel's
        ``by`` values is drawn hollow, labelled ``name (k/n)`` and left off the front.

    Examples
    --------
    >>> t = [{"method": "a", "seconds_per_box": 0.01, "dsc": 0.8, "modality": "US"},
    ...      {"method": "b", "seconds_per_box": 1.2, "dsc": 0.9, "modality": "US"},
    ...      {"method": "c", "seconds_per_box": 2.0, "dsc": 0.5, "modality": "US"}]
    >>> ax = pareto_figure(t).axes[0]
    >>> len(ax.collections), [len(x) for x in ax.lines[0].get_data()], ax.get_xscale()
    (3, [2, 2], 'log')
    """
    rows = _records(rows)
    if not rows:
        raise ValueError("pareto_figure: rows is empty")
    for r in rows:
        for key in (time, metric, hue):
            if key not in r:
                raise ValueError(f"rows have no column {key!r} (columns: {sorted(r)})")
    from matplotlib import colormaps

    cols = colormaps["tab20"].colors
    methods = list(dict.fromkeys(r[hue] for r in rows))
    panels = _panels(rows, panel)
    fig = _new_figure((5.0 * len(panels) + 0.4, 4.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (p, pr) in zip(axes, panels):
        pts = []
        every = {r.get(by) for r in pr} if by else set()
        for j, m in enumerate(methods):
            mine = [r for r in pr if r[hue] == m]
            t, d = _macro_mean(mine, time, by), _macro_mean(mine, metric, by)
            if mine and np.isfinite(t) and np.isfinite(d) and t > 0:
                # a method that ran on fewer modalities is a mean over other cases: drawn
                # hollow, named with its coverage, and kept off the front
                have = {r.get(by) for r in mine} if by else set()
                partial = len(have) < len(every)
                text = f"{m} ({len(have)}/{len(every)})" if partial else str(m)
                pts.append((t, d, partial))
                ax.scatter([t], [d], s=30, facecolors="none" if partial else [cols[j % 20]],
                           edgecolors=[cols[j % 20]] if partial else "black",
                           linewidths=1.2 if partial else 0.5, zorder=3, label=text)
                ax.annotate(text, (t, d), xytext=(3, 3), textcoords="offset points",
                            fontsize=7)
        front, best = [], -math.inf
        for t, d, partial in sorted(pts):  # fastest first: on the front if better than all faster
            if not partial and d > best:
                front.append((t, d))
                best = d
        if front:
            ax.plot(*zip(*front), ls="--", color="grey", lw=1, zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel(f"{time.replace('_', ' ')} (log)")
        ax.set_ylabel(f"mean {metric}" + (f" over {by}" if by else ""))
        if metric.lower() in ("dsc", "dice", "nsd"):
            ax.set_ylim(0, 1.05)
        if p is not None:
            ax.set_title(f"{p} cases" if panel == "group" else str(p), fontsize=10)
    fig.suptitle(_tag(title if title is not None else f"{time} vs {metric}", synthetic),
                 fontsize=11)
    fig.tight_layout()
    return fig


def comparison_figures(fig_dir, result, worst_cases=()) -> list:
    """The figures of a ``classicseg compare`` report, saved as PNG under ``fig_dir``.

    DSC and NSD per modality (bars), warm time vs DSC per case, with more than two pipelines
    (``--methods``) the method x modality heat map (:func:`method_heatmap`) and the seconds
    per box vs DSC Pareto plot (:func:`pareto_figure`), and each of ``worst_cases``
    (:class:`classicseg.evaluation.compare.WorstCase`) side by side. ``result`` is the
    :class:`~classicseg.evaluation.compare.CompareResult`; its ``per_case`` rows are drawn as
    they are. Returns the paths written.
    """
    from pathlib import Path

    plt = _pyplot()
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        path = fig_dir / name
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    table = [c for c in result.per_case if c["dsc"] is not None]
    tag = " (synthetic)" if any(c.get("synthetic") for c in table) else ""
    for metric in ("dsc", "nsd"):
        save(bar_by_modality(table, metric=metric, hue="pipeline",
                             title=f"{metric.upper()} per modality{tag}"),
             f"{metric}_by_modality.png")
    timed = [c for c in table if c["seconds"] is not None]
    if timed:
        save(time_vs_dice(timed, time="seconds", metric="dsc", hue="pipeline",
                          title=f"warm time vs DSC per case{tag}"), "time_vs_dice.png")
    if len({c["pipeline"] for c in table}) > 2:  # --methods: the toolbox view of the run
        save(method_heatmap(table, row="pipeline", title=f"mean DSC per modality{tag}"),
             "method_heatmap.png")
        per_box = [{**c, "seconds_per_box": c["seconds"] / c["n_boxes"]} for c in timed
                   if c.get("n_boxes")]
        if per_box:
            save(pareto_figure(per_box, hue="pipeline", title=f"seconds per box vs DSC{tag}"),
                 "pareto.png")
    for w in worst_cases:
        save(side_by_side(w.image, w.gt, w.results, boxes=w.boxes, scores=w.scores,
                          times=w.times, synthetic=w.synthetic,
                          title=f"worst {w.rank} for {w.pipeline}: {w.name}"),
             f"worst_{w.rank}_{w.name}.png")
    return written
