"""A gallery figure of samples: image, boxes and ground-truth outlines (matplotlib, lazy).

3D cases show the axial slice through the centre of their first box. Titles say
"synthetic" for phantoms and "real" (with "no GT" where there is none) otherwise.

>>> fig = gallery_figure(["oct-cysts", "pet-lesions"], columns=2)   # doctest: +SKIP
>>> fig.savefig("gallery.png")                                        # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

__all__ = ["gallery_figure", "draw_case"]


def draw_case(ax, case, *, title: str | None = None, box_color="yellow", gt_color="lime"):
    """Draw one case on a matplotlib axis (middle slice of the first box for 3D)."""
    from matplotlib.patches import Rectangle

    if case.is_3d:
        if case.n_boxes:
            z = int((case.boxes[0, 2] + case.boxes[0, 5]) // 2)
        else:
            z = case.image.shape[0] // 2
        img = case.image[z]
        gts = case.gts[z] if case.gts is not None else None
        boxes = [b[[0, 1, 3, 4]] for b in case.boxes if b[2] <= z <= b[5]]
        where = f" (slice {z}/{case.image.shape[0]})"
    else:
        img, gts, boxes, where = case.image, case.gts, list(case.boxes), ""
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    if gts is not None and gts.any():
        ax.contour(gts > 0, levels=[0.5], colors=gt_color, linewidths=0.7)
        # instance borders too (touching nuclei), thin
        edges = np.zeros(gts.shape, bool)
        edges[:-1] |= gts[:-1] != gts[1:]
        edges[:, :-1] |= gts[:, :-1] != gts[:, 1:]
        edges &= gts > 0
        ax.imshow(np.ma.masked_where(~edges, edges), cmap="summer", alpha=0.6,
                  interpolation="nearest")
    lw = 1.0 if len(boxes) < 10 else 0.5
    for x0, y0, x1, y1 in boxes:
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1,
                               fill=False, ec=box_color, lw=lw))
    if title is None:
        origin = "synthetic" if case.synthetic else "real"
        if case.gts is None:
            origin += ", no GT"
        title = f"{case.meta.get('sample', case.name)}\n{case.modality} ({origin}){where}"
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def gallery_figure(names=None, *, hard: bool = False, columns: int = 6, panel_size: float = 2.6,
                   skip_missing=True):
    """One figure with every sample (or ``names``): image, boxes (yellow), ground truth (green).

    Parameters
    ----------
    names : list of str, optional
        Sample names (default: all, in :func:`classicseg.samples.list` order).
    hard : bool
        Show the hard variants of the synthetic samples.
    columns, panel_size : layout.
    skip_missing : bool
        Leave out real samples whose package is not installed (instead of raising).

    Returns
    -------
    matplotlib.figure.Figure
    """
    # A bare Figure (no pyplot): no global state, shown once when returned in a notebook.
    from matplotlib.figure import Figure

    from . import registry

    infos = registry.list_samples() if names is None else [registry.get_info(n) for n in names]
    cases, credits = [], {}
    for info in infos:
        if skip_missing and not info.available:
            continue
        cases.append(registry.load(info.name, hard=hard and info.synthetic))
        if not info.synthetic:  # real images name their source and licence where shown
            src = info.source.split(" (")[0].split(":")[0]
            credits.setdefault(f"{src} [{info.licence.split(' (')[0].split(';')[0]}]", None)
    n = max(1, len(cases))
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(cols * panel_size, rows * panel_size * 1.05))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, case in zip(axes.ravel(), cases):
        draw_case(ax, case)
    fig.suptitle("classicseg samples: boxes (yellow), ground truth (green); "
                 "synthetic = generated phantom", fontsize=10)
    fig.tight_layout()
    if credits:
        fig.subplots_adjust(bottom=0.03 + 0.025 * len(credits))
        fig.text(0.01, 0.005, "Real images: " + "; ".join(credits)
                 + ". Details and attribution: data_samples/README.md", fontsize=6,
                 va="bottom", wrap=True)
    return fig
