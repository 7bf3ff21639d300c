"""Jupyter widgets: draw a box, see every method's segmentation and score update.

* :class:`BoxSelector` -- one prompt box on an image or a volume slice, drawn with the mouse.
  Backends: ``jupyter-bbox-widget`` (primary; an anywidget, no lab extension) or ipympl's
  interactive matplotlib canvas with a ``RectangleSelector`` (fallback).
* :class:`InteractiveComparison` -- a BoxSelector plus a side-by-side figure (image + box, ground
  truth, each method) with Dice / NSD / time under each panel, recomputed when the box changes.
* :class:`ToolboxComparison` -- the same with a method picker and sliders that loosen, tighten
  and jitter the drawn box before the methods see it.
* :class:`FailureGallery` -- browse the cases where two methods disagree most.

For small and 3D targets: small images are shown upscaled, "zoom to box" (``zoom=``) shows a
window around the box, a box set from code on a volume brings its middle slice into view, the
box is drawn in a bright colour, and a "computing…" line shows while the methods run. The
comparison widgets keep LiteMedSAM's image embeddings
(:class:`~classicseg.models.litemedsam.embedding_cache.EmbeddingCache`): encode once per image
or slice, then every new box only runs the decoder. Displayed outside a live kernel
(nbconvert, a book), a widget shows a static PNG of its current figure, with alt text.

Every widget starts with a sensible box and computes at construction, so notebooks run headless
(nbval, nbconvert) with no human; setting ``.box`` from Python behaves exactly like drawing it,
which is how tests and notebooks "move" the box. ipywidgets, jupyter-bbox-widget and ipympl are
imported inside this module only, so ``import classicseg`` stays light.

Box conventions: boxes are returned in the Case conventions, ``[x0, y0, x1, y1]`` for an image
and ``[x0, y0, z0, x1, y1, z1]`` for a volume, in pixels with **inclusive** maxima. A widget
rectangle lies on pixel edges: ``{"x": x0, "width": x1 - x0 + 1}``.

Examples
--------
>>> import numpy as np
>>> sel = BoxSelector(np.zeros((40, 60, 3), np.uint8))  # no box given: the central 50 %
>>> sel.box.tolist()
[15, 10, 44, 29]
>>> seen = []
>>> _ = sel.on_change(seen.append)
>>> sel.box = [5, 5, 20, 20]
>>> seen[-1].tolist()
[5, 5, 20, 20]
"""

from __future__ import annotations

import contextlib
import html
import math
import time
from collections.abc import Callable, Mapping

import numpy as np

from .boxes import box_slices
from .io import Case, to_uint8
from .validation import InvalidInputError, check_boxes

__all__ = [
    "BoxSelector", "InteractiveComparison", "ToolboxComparison", "FailureGallery", "image_png",
    "widget_to_box", "box_to_widget", "extents_to_box", "box_to_extents", "default_box",
    "target_label",
]

BACKENDS = ("auto", "bbox", "ipympl")


# --------------------------------------------------------------------------- conversions

def image_png(image) -> bytes:
    """PNG bytes of a 2D image (H, W) or (H, W, 3); non-uint8 input is min-max scaled.

    Examples
    --------
    >>> image_png(np.zeros((4, 5), np.uint8))[:4]
    b'\\x89PNG'
    """
    import cv2

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 4:
        a = a[..., :3]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)) or a.size == 0:
        raise ValueError(f"image must be a non-empty (H, W) or (H, W, 3) array, "
                         f"got shape {a.shape}")
    a = to_uint8(a)
    if a.ndim == 3:
        a = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2BGR)  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(a))
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input, checked above
        raise ValueError("image: PNG encoding failed")
    return buf.tobytes()


def _finite(d: Mapping, key: str) -> float:
    try:
        v = float(d[key])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"widget box {dict(d)!r} lacks a numeric {key!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"widget box {dict(d)!r}: {key!r} is not finite")
    return v


def _clip_edges(x0: float, x1: float, size: int) -> tuple[int, int]:
    """Pixel-edge interval -> inclusive indices of the pixels whose centre (i + 0.5) it covers,
    clipped to 0..size-1; at least one pixel. (Not round(): Python rounds halves to even,
    which would make a drag between pixel centres lopsided.)"""
    lo, hi = sorted((x0, x1))
    i0 = int(np.clip(math.ceil(lo - 0.5), 0, size - 1))
    i1 = int(np.clip(math.floor(hi - 0.5), 0, size - 1))
    return i0, max(i0, i1)


def widget_to_box(bbox: Mapping, shape) -> np.ndarray:
    """Box ``[x0, y0, x1, y1]`` (inclusive pixels, clipped to ``shape`` = (H, W, ...)) from a
    jupyter-bbox-widget dict ``{"x", "y", "width", "height"}`` in pixel-edge coordinates.

    A pixel belongs to the box when its centre lies inside the rectangle; negative sizes (dragged
    up/left) are normalised; a degenerate rectangle still selects one pixel.

    Examples
    --------
    >>> widget_to_box({"x": 10.4, "y": 5, "width": 19.8, "height": 10}, (100, 100)).tolist()
    [10, 5, 29, 14]
    >>> widget_to_box({"x": -5, "y": 90, "width": 20, "height": 30}, (100, 100)).tolist()
    [0, 90, 14, 99]
    """
    x, y = _finite(bbox, "x"), _finite(bbox, "y")
    w, h = _finite(bbox, "width"), _finite(bbox, "height")
    x0, x1 = _clip_edges(x, x + w, int(shape[1]))
    y0, y1 = _clip_edges(y, y + h, int(shape[0]))
    return np.array([x0, y0, x1, y1], np.int64)


def box_to_widget(box, label: str = "box") -> dict:
    """jupyter-bbox-widget dict for an inclusive 2D box (the inverse of :func:`widget_to_box`).

    Examples
    --------
    >>> box_to_widget([10, 5, 29, 14])
    {'x': 10, 'y': 5, 'width': 20, 'height': 10, 'label': 'box'}
    """
    x0, y0, x1, y1 = (int(v) for v in _box2d(box))
    return {"x": x0, "y": y0, "width": x1 - x0 + 1, "height": y1 - y0 + 1, "label": label}


def extents_to_box(extents, shape) -> np.ndarray:
    """Box from a matplotlib ``RectangleSelector.extents`` ``(xmin, xmax, ymin, ymax)`` in data
    coordinates of ``imshow`` (pixel centres on integers, so edges at ``i - 0.5``).

    Examples
    --------
    >>> extents_to_box((9.5, 29.5, 4.5, 14.5), (100, 100)).tolist()
    [10, 5, 29, 14]
    """
    xmin, xmax, ymin, ymax = (float(v) for v in extents)
    if not all(math.isfinite(v) for v in (xmin, xmax, ymin, ymax)):
        raise ValueError(f"extents {extents!r} are not finite")
    x0, x1 = _clip_edges(xmin + 0.5, xmax + 0.5, int(shape[1]))
    y0, y1 = _clip_edges(ymin + 0.5, ymax + 0.5, int(shape[0]))
    return np.array([x0, y0, x1, y1], np.int64)


def box_to_extents(box) -> tuple[float, float, float, float]:
    """``(xmin, xmax, ymin, ymax)`` selector extents of an inclusive 2D box."""
    x0, y0, x1, y1 = (int(v) for v in _box2d(box))
    return (x0 - 0.5, x1 + 0.5, y0 - 0.5, y1 + 0.5)


def _box2d(box) -> np.ndarray:
    b = np.asarray(box)
    if b.shape == (6,):
        b = b[[0, 1, 3, 4]]
    if b.shape != (4,):
        raise ValueError(f"box must have 4 (2D) or 6 (3D) coordinates, got shape {b.shape}")
    return b


def default_box(shape, *, volume: bool) -> np.ndarray:
    """The central 50 % of an image (H, W, ...) or a volume (D, H, W), inclusive.

    Examples
    --------
    >>> default_box((40, 60, 3), volume=False).tolist()
    [15, 10, 44, 29]
    >>> default_box((8, 40, 60), volume=True).tolist()
    [15, 10, 2, 44, 29, 5]
    """
    def half(n):
        return n // 4, max(n // 4, n - 1 - n // 4)

    if volume:
        d, h, w = shape[:3]
        (z0, z1), (y0, y1), (x0, x1) = half(d), half(h), half(w)
        return np.array([x0, y0, z0, x1, y1, z1], np.int64)
    h, w = shape[:2]
    (y0, y1), (x0, x1) = half(h), half(w)
    return np.array([x0, y0, x1, y1], np.int64)


def target_label(gts, box) -> int:
    """The ground-truth instance a box is meant to select: the label with the most voxels inside
    the box (ties: the smaller label); 0 when the box holds no labelled voxel.

    Examples
    --------
    >>> g = np.zeros((10, 10), np.uint8); g[1:4, 1:4] = 1; g[5:9, 5:9] = 2
    >>> target_label(g, [4, 4, 9, 9]), target_label(g, [0, 0, 9, 9]), target_label(g, [0, 5, 3, 9])
    (2, 2, 0)
    """
    crop = np.asarray(gts)[box_slices(box)]
    counts = np.bincount(crop.ravel().astype(np.int64)) if crop.size else np.zeros(1, np.int64)
    counts[0] = 0
    return int(np.argmax(counts)) if counts.max() > 0 else 0


# --------------------------------------------------------------------------- box selector

def _import_ipympl():
    """``ipympl.backend_nbagg`` without its side effect on the user's plots.

    Importing the ``ipympl`` package while matplotlib is loaded calls
    ``matplotlib.use("module://ipympl.backend_nbagg")``: every later pyplot figure in the notebook
    would become a widget. The selector only needs ipympl's Canvas class, so the previous
    backend (and fallback flag) are put back.
    """
    import importlib
    import sys

    if "ipympl" in sys.modules or "matplotlib" not in sys.modules:
        return importlib.import_module("ipympl.backend_nbagg")
    import matplotlib

    prev, fallback = (matplotlib.rcParams._get("backend"),
                      matplotlib.rcParams._get("backend_fallback"))
    mod = importlib.import_module("ipympl.backend_nbagg")
    if matplotlib.rcParams._get("backend") is not prev:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.switch_backend(prev)
        else:
            matplotlib.rcParams._set("backend", prev)
    matplotlib.rcParams._set("backend_fallback", fallback)
    return mod


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    try:
        import jupyter_bbox_widget  # noqa: F401

        return "bbox"
    except ImportError:
        pass
    try:
        _import_ipympl()
        return "ipympl"
    except ImportError:
        raise ImportError("BoxSelector needs jupyter-bbox-widget or ipympl: "
                          "pip install 'classicseg[notebooks]'") from None


class BoxSelector:
    """Draw one prompt box on an image or on a slice of a volume.

    Parameters
    ----------
    image_or_volume : Case or ndarray
        A :class:`~classicseg.io.Case` (its first box is the default box), a 2D image (H, W, 3)
        or (H, W), or a volume (D, H, W).
    box : array-like, optional
        Starting box: [x0, y0, x1, y1], or [x0, y0, z0, x1, y1, z1] for a volume (a 4-value box
        on a volume keeps the default z range). Clipped to the image.
    on_change : callable, optional
        Called with the new box (int64 array, Case conventions) whenever it changes: drawn with
        the mouse, moved on the z-range slider, or assigned to :attr:`box`.
    backend : {"auto", "bbox", "ipympl"}
        "bbox" = jupyter-bbox-widget; "ipympl" = matplotlib ``RectangleSelector`` on an ipympl
        canvas; "auto" takes the first one installed.
    slice_index : int, optional
        Volumes: the slice shown first (default: the middle slice of the box's z range, the
        slice LiteMedSAM's 3D walk starts from). A box set from code moves the view to its
        middle slice when its z range changes or leaves the slice shown.
    zoom : float >= 1, optional
        Show only a square window ``zoom`` times the box's longest side around the box (the
        window follows the box); None shows the whole image. The "zoom to box" toggle switches
        it on (factor 3) and off.
    min_display : int
        Images (or zoom windows) smaller than this many pixels on their longest side are
        upscaled (nearest neighbour, an integer factor) so small targets can be drawn on.

    Attributes
    ----------
    widget : ipywidgets.Widget
        The box to display (the selector itself also displays as it).
    slice_slider, z_slider : ipywidgets.IntSlider / IntRangeSlider or None
        Volumes only: the slice shown and the box's z range.
    zoom_button : ipywidgets.ToggleButton
        "zoom to box".
    view : tuple (rows, cols, scale)
        The image window shown (slices) and its display upscaling factor.

    Examples
    --------
    >>> sel = BoxSelector(np.zeros((40, 60), np.uint8), box=[20, 10, 29, 19], zoom=2.0,
    ...                   backend="bbox")
    >>> sel.view              # a window of the image's aspect around the box, 14x larger
    (slice(5, 25, None), slice(10, 40, None), 14.0)
    """

    #: colour of the box on the image: yellow shows on dark and bright images alike
    COLOR = "#ffd400"
    #: zoom factor of the "zoom to box" toggle
    ZOOM = 3.0

    def __init__(self, image_or_volume, *, box=None, on_change: Callable | None = None,
                 backend: str = "auto", slice_index: int | None = None, label: str = "box",
                 zoom: float | None = None, min_display: int = 384):
        import ipywidgets as W

        case_box = None
        if isinstance(image_or_volume, Case):
            self.volume = image_or_volume.is_3d
            self.image = image_or_volume.image
            if image_or_volume.n_boxes:
                case_box = image_or_volume.boxes[0]
        else:
            a = np.asarray(image_or_volume)
            if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4)):
                self.volume = False
            elif a.ndim == 3:
                self.volume = True
            else:
                raise ValueError(f"image_or_volume must be (H, W), (H, W, 3) or (D, H, W), "
                                 f"got shape {a.shape}")
            if a.size == 0:
                raise ValueError(f"image_or_volume is empty, shape {a.shape}")
            self.image = a
        self.shape = self.image.shape if self.volume else self.image.shape[:2]
        self.label = label
        self.backend = _resolve_backend(backend)
        self._callbacks: list[Callable] = []
        self._slice_callbacks: list[Callable] = []
        self._muted = False
        self._quiet_slice = False
        self._zoom = self._check_zoom(zoom)
        if isinstance(min_display, bool) or int(min_display) != min_display or min_display < 1:
            raise InvalidInputError(f"min_display must be an integer >= 1, got {min_display!r}")
        self.min_display = int(min_display)

        start = default_box(self.shape, volume=self.volume)
        if case_box is not None:
            start = self._validate(case_box, start)
        if box is not None:
            start = self._validate(box, start)
        self._box = start

        self.slice_slider = self.z_slider = None
        controls = []
        if self.volume:
            z0, z1 = int(start[2]), int(start[5])
            if slice_index is None:
                slice_index = (z0 + z1) // 2
            if not 0 <= int(slice_index) < self.shape[0]:
                raise ValueError(f"slice_index {slice_index} outside the volume's "
                                 f"{self.shape[0]} slices")
            self.slice_slider = W.IntSlider(value=int(slice_index), min=0, max=self.shape[0] - 1,
                                            description="slice", continuous_update=False)
            self.z_slider = W.IntRangeSlider(value=(z0, z1), min=0, max=self.shape[0] - 1,
                                             description="box z", continuous_update=False)
            self.slice_slider.observe(self._on_slice, names="value")
            self.z_slider.observe(self._on_z, names="value")
            controls = [self.slice_slider, self.z_slider]
        elif slice_index is not None:
            raise ValueError("slice_index is only meaningful for a volume")
        self.zoom_button = W.ToggleButton(value=self._zoom is not None,
                                          description="zoom to box", icon="search")
        self.zoom_button.observe(self._on_zoom_button, names="value")
        controls.append(self.zoom_button)

        self.view = self._compute_view(start)
        if self.backend == "bbox":
            self._build_bbox()
        else:
            self._build_ipympl()
        self.widget = W.VBox([*controls, self._canvas])
        if on_change is not None:
            self.on_change(on_change)

    # ----------------------------------------------------------------- public API

    @property
    def box(self) -> np.ndarray:
        """Current box (copy): [x0, y0, x1, y1], or [x0, y0, z0, x1, y1, z1] for a volume."""
        return self._box.copy()

    @box.setter
    def box(self, value) -> None:
        new = self._validate(value, self._box)
        moved = False
        if self.volume and self.z_slider is not None:
            with self._mute():
                self.z_slider.value = (int(new[2]), int(new[5]))
            moved = self._follow_slice(new)
        self._refresh_view(new)
        if not self._commit(new) and moved:
            self._notify_slice()

    @property
    def box2d(self) -> np.ndarray:
        """The in-plane part [x0, y0, x1, y1] of the box."""
        return _box2d(self._box).copy()

    @property
    def slice_index(self) -> int | None:
        """Slice shown (volumes), else None. Assignable."""
        return None if self.slice_slider is None else int(self.slice_slider.value)

    @slice_index.setter
    def slice_index(self, value) -> None:
        if self.slice_slider is None:
            raise ValueError("slice_index is only meaningful for a volume")
        if not 0 <= int(value) < self.shape[0]:
            raise ValueError(f"slice_index {value} outside the volume's {self.shape[0]} slices")
        self.slice_slider.value = int(value)

    def on_change(self, callback: Callable) -> Callable:
        """Register ``callback(box)`` for box changes; returns it (usable as a decorator)."""
        if not callable(callback):
            raise ValueError(f"on_change needs a callable, got {callback!r}")
        self._callbacks.append(callback)
        return callback

    def on_slice(self, callback: Callable) -> Callable:
        """Register ``callback(slice_index)`` for changes of the displayed slice (volumes).

        When a box set from code moves the slice and changes the box, only the ``on_change``
        callbacks run (they see the new :attr:`slice_index`), so a viewer redraws once."""
        self._slice_callbacks.append(callback)
        return callback

    @property
    def zoom(self) -> float | None:
        """Zoom factor around the box (None: the whole image). Assignable."""
        return self._zoom

    @zoom.setter
    def zoom(self, value) -> None:
        self._zoom = self._check_zoom(value)
        with self._mute():
            self.zoom_button.value = self._zoom is not None
        self._refresh_view(self._box, force=True)

    def _repr_mimebundle_(self, **kwargs):
        return _with_static(self.widget._repr_mimebundle_(**kwargs), self.snapshot_png(),
                            f"image{' slice ' + str(self.slice_index) if self.volume else ''} "
                            f"with the prompt box {self._box.tolist()} drawn in yellow")

    def snapshot_png(self) -> bytes:
        """PNG of what the selector shows now: the (zoomed, upscaled) image and the box."""
        import cv2

        img = to_uint8(self._display_image())
        # a copy: the display image may be the caller's own array, and we draw on it
        img = (np.repeat(img[..., None], 3, axis=2) if img.ndim == 2
               else np.array(img[..., :3], order="C", copy=True))
        d = self._to_display(self._box)
        rgb = tuple(int(self.COLOR[i:i + 2], 16) for i in (1, 3, 5))
        cv2.rectangle(img, (int(d["x"]), int(d["y"])),
                      (int(d["x"] + d["width"]) - 1, int(d["y"] + d["height"]) - 1), rgb,
                      max(1, min(img.shape[:2]) // 150))
        return image_png(img)

    def __repr__(self) -> str:
        kind = f"volume {self.shape}" if self.volume else f"image {self.shape}"
        return f"BoxSelector({kind}, box={self._box.tolist()}, backend={self.backend!r})"

    # ----------------------------------------------------------------- internals

    def _validate(self, value, previous) -> np.ndarray:
        """One box by the rules of :func:`classicseg.validation.check_boxes` (same errors as
        every other entry point), except that a box sticking out of the image is clipped."""
        b = np.asarray(value)
        if self.volume and b.size == 4 and b.ndim in (1, 2) and b.dtype.kind in "iuf":
            # an in-plane box: keep the z range
            x0, y0, x1, y1 = b.ravel()
            b = np.array([x0, y0, previous[2], x1, y1, previous[5]])
        b = check_boxes(b, self.shape, clip=True)
        if len(b) != 1:
            raise InvalidInputError(f"box must be one box, got {len(b)} boxes")
        return b[0]

    @contextlib.contextmanager
    def _mute(self):
        """Ignore the widget events caused by our own display updates."""
        prev, self._muted = self._muted, True
        try:
            yield
        finally:
            self._muted = prev

    def _commit(self, new: np.ndarray) -> bool:
        """Store a new box and notify; False when it is the box already held."""
        if np.array_equal(new, self._box):
            return False
        self._box = new
        for cb in list(self._callbacks):
            cb(self._box.copy())
        return True

    def _current_slice_image(self) -> np.ndarray:
        return self.image[self.slice_index] if self.volume else self.image

    def _on_slice(self, change) -> None:
        self._show_image()
        if not self._quiet_slice:
            self._notify_slice()

    def _notify_slice(self) -> None:
        for cb in list(self._slice_callbacks):
            cb(self.slice_index)

    def _follow_slice(self, box) -> bool:
        """Show the box's middle slice when its z range changed or excludes the slice shown;
        True when the slice moved (slice callbacks are left to the caller)."""
        z0, z1 = int(box[2]), int(box[5])
        z = self.slice_index
        if (z0, z1) == (int(self._box[2]), int(self._box[5])) and z0 <= z <= z1:
            return False
        mid = int((z1 - z0) / 2 + z0)  # the official middle slice (predictor's seed)
        if mid == z:
            return False
        self._quiet_slice = True
        try:
            self.slice_slider.value = mid
        finally:
            self._quiet_slice = False
        return True

    # zoom and upscaling ---------------------------------------------------------

    @staticmethod
    def _check_zoom(zoom) -> float | None:
        if zoom is None:
            return None
        try:
            z = float(zoom)
        except (TypeError, ValueError):
            z = float("nan")
        if isinstance(zoom, bool) or not (math.isfinite(z) and z >= 1):
            raise InvalidInputError(f"zoom must be None or a finite number >= 1, got {zoom!r}")
        return z

    def _compute_view(self, box) -> tuple[slice, slice, float]:
        """(rows, cols, scale): the window shown and its display upscaling.

        The picture keeps one size (the whole image upscaled by an integer factor), so the
        widget does not jump when zooming: a zoom window has the image's aspect ratio."""
        h, w = self.shape[-2:]
        k0 = int(min(32, max(1, math.ceil(self.min_display / max(h, w)))))
        self._display_hw = (h * k0, w * k0)
        if self._zoom is None:
            return slice(0, h), slice(0, w), float(k0)
        from .models.litemedsam.geometry import context_window

        r, c = context_window(_box2d(box), (h, w), self._zoom)
        rh, cw = r.stop - r.start, c.stop - c.start
        win_h = min(h, max(rh, math.ceil(cw * h / w)))
        win_w = min(w, max(cw, round(win_h * w / h)))
        r0 = int(np.clip(r.start - (win_h - rh) // 2, 0, h - win_h))
        c0 = int(np.clip(c.start - (win_w - cw) // 2, 0, w - win_w))
        return slice(r0, r0 + win_h), slice(c0, c0 + win_w), self._display_hw[1] / win_w

    def _scales(self) -> tuple[float, float]:
        """Display pixels per image pixel, (rows, cols)."""
        rows, cols, _ = self.view
        return (self._display_hw[0] / (rows.stop - rows.start),
                self._display_hw[1] / (cols.stop - cols.start))

    def _refresh_view(self, box, *, force: bool = False) -> None:
        """Recompute the window for ``box``; redraw the image when it changed, then the box."""
        view = self._compute_view(box)
        if force or view != self.view:
            self.view = view
            self._show_image()
        self._show_box(box)

    def _on_zoom_button(self, change) -> None:
        if self._muted:
            return
        self.zoom = self.ZOOM if change["new"] else None

    def _to_display(self, box) -> dict:
        rows, cols, _ = self.view
        ky, kx = self._scales()
        x0, y0, x1, y1 = (int(v) for v in _box2d(box))

        def r(v):  # whole pixels when the scale is whole, else 2 decimals
            return int(v) if float(v).is_integer() else round(v, 2)

        return {"x": r((x0 - cols.start) * kx), "y": r((y0 - rows.start) * ky),
                "width": r((x1 - x0 + 1) * kx), "height": r((y1 - y0 + 1) * ky),
                "label": self.label}

    def _from_display(self, bbox: Mapping) -> np.ndarray:
        rows, cols, _ = self.view
        ky, kx = self._scales()
        image_edges = {"x": _finite(bbox, "x") / kx + cols.start,
                       "y": _finite(bbox, "y") / ky + rows.start,
                       "width": _finite(bbox, "width") / kx,
                       "height": _finite(bbox, "height") / ky}
        return widget_to_box(image_edges, self.shape[-2:])

    def _display_image(self) -> np.ndarray:
        """The slice shown, cut to the window and upscaled (nearest neighbour)."""
        import cv2

        rows, cols, _ = self.view
        img = to_uint8(self._current_slice_image()[rows, cols])
        hd, wd = self._display_hw
        if img.shape[:2] == (hd, wd):
            return img
        return cv2.resize(np.ascontiguousarray(img), (wd, hd), interpolation=cv2.INTER_NEAREST)

    def _on_z(self, change) -> None:
        if self._muted:
            return
        z0, z1 = (int(v) for v in change["new"])
        new = self._box.copy()
        new[2], new[5] = z0, z1
        self._commit(new)

    def _from_drawing(self, box2d: np.ndarray) -> None:
        new = self._box.copy()
        if self.volume:
            new[[0, 1, 3, 4]] = box2d
        else:
            new[:] = box2d
        if self._zoom is not None:  # the window follows the drawn box
            self._refresh_view(new)
        self._commit(new)

    # jupyter-bbox-widget backend ------------------------------------------------

    def _build_bbox(self) -> None:
        from jupyter_bbox_widget import BBoxWidget

        self._canvas = BBoxWidget(image_bytes=image_png(self._display_image()),
                                  bboxes=[self._to_display(self._box)], colors=[self.COLOR],
                                  classes=[self.label], label=self.label, hide_buttons=True)
        self._canvas.observe(self._on_bboxes, names="bboxes")

    def _on_bboxes(self, change) -> None:
        if self._muted:
            return
        boxes = list(change["new"] or [])
        if not boxes:
            # Deleting the box leaves nothing to segment: keep (and redraw) the last one.
            self._show_box(self._box)
            return
        latest = boxes[-1]
        if _finite(latest, "width") == 0 or _finite(latest, "height") == 0:
            # On mouse-down the widget syncs a new 0 x 0 rectangle; the drawn one arrives on
            # mouse-up. Touching the list now (trimming it) would abort the drag in the browser.
            return
        # The widget appends a newly drawn rectangle: the latest one is the prompt. Keep only it
        # on screen so the picture always shows the box the numbers belong to.
        box2d = self._from_display(latest)
        if len(boxes) > 1:
            self._show_box(box2d)
        self._from_drawing(box2d)

    # ipympl backend ------------------------------------------------------------

    def _build_ipympl(self) -> None:
        from matplotlib.figure import Figure
        from matplotlib.widgets import RectangleSelector

        nbagg = _import_ipympl()
        Canvas, FigureManager = nbagg.Canvas, nbagg.FigureManager
        img = to_uint8(self._current_slice_image())
        h, w = img.shape[:2]
        fig = Figure(figsize=(min(8.0, 5.0 * w / max(h, w) + 0.5),
                              min(8.0, 5.0 * h / max(h, w) + 0.5)))
        canvas = Canvas(fig)
        FigureManager(canvas, 0)  # wires toolbar and event handling to the canvas
        canvas.header_visible = False
        ax = fig.add_axes((0, 0, 1, 1))
        self._im = ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_axis_off()
        # useblit=False: blitting needs a drawn background the ipympl canvas may not have yet.
        self._selector = RectangleSelector(ax, self._on_select, useblit=False, interactive=True,
                                           button=[1], minspanx=0.5, minspany=0.5,
                                           spancoords="data",
                                           props=dict(edgecolor=self.COLOR, fill=False,
                                                      linewidth=2))
        self._fig, self._canvas, self._ax = fig, canvas, ax
        self._set_limits()
        self._selector.extents = box_to_extents(self._box)
        canvas.draw_idle()

    def _on_select(self, eclick, erelease) -> None:
        if self._muted:
            return
        self._from_drawing(extents_to_box(self._selector.extents, self.shape[-2:]))

    # shared display updates ----------------------------------------------------

    def _show_box(self, box) -> None:
        with self._mute():
            if self.backend == "bbox":
                self._canvas.bboxes = [self._to_display(box)]
                # Sent even when unchanged here: a change made while the widget handles the
                # front end's own update of `bboxes` can be dropped, leaving the drawn and the
                # old rectangle on screen.
                self._canvas.send_state("bboxes")
            else:
                # Setting extents does not call onselect (matplotlib behaviour); _commit does
                # the notifying for programmatic changes.
                self._selector.extents = box_to_extents(box)
                self._canvas.draw_idle()

    def _show_image(self) -> None:
        if self.backend == "bbox":
            self._canvas.image_bytes = image_png(self._display_image())
        else:
            # matplotlib zooms by axis limits (and scales the canvas itself)
            self._im.set_data(to_uint8(self._current_slice_image()))
            self._set_limits()
            self._canvas.draw_idle()

    def _set_limits(self) -> None:
        rows, cols, _ = self.view
        self._ax.set_xlim(cols.start - 0.5, cols.stop - 0.5)
        self._ax.set_ylim(rows.stop - 0.5, rows.start - 0.5)


# --------------------------------------------------------------------------- comparison viewer

class InteractiveComparison:
    """Draw a box; every method segments it; see the masks, Dice, NSD and time side by side.

    Parameters
    ----------
    case : Case
        The image (2D or 3D) with, optionally, ground truth ``gts`` (scores need it).
    methods : dict
        Name -> ``callable(image, boxes) -> SegmentationResult`` (or a label map), called with
        the case image and the current box as a (1, 4) / (1, 6) array.
    slice_index : int, optional
        Volumes: slice shown first.
    box : array-like, optional
        Starting box (default: the case's first box, else the central 50 %).
    backend : str
        BoxSelector backend.
    flavour : {"challenge", "correct"}
        NSD flavour (see :mod:`classicseg.metrics`).
    zoom : float >= 1, optional
        Zoom the selector and the figure to a window ``zoom`` times the box around the box
        (see :class:`BoxSelector`); the selector's "zoom to box" toggle changes it live.
    cache : bool
        Encode once, prompt many: every LiteMedSAM model found in ``methods`` (a bound
        ``model.segment``, a ``functools.partial`` or a lambda that calls it) keeps its image
        embeddings while the widget runs it, so a new box on the same image (or the same
        slices) only re-runs the decoder. See :attr:`caches`.

    Attributes
    ----------
    selector : BoxSelector
    caches : list of EmbeddingCache
        One :class:`~classicseg.models.litemedsam.embedding_cache.EmbeddingCache` per
        LiteMedSAM model found (empty with ``cache=False``); ``misses`` counts encoder passes.
    status : ipywidgets.HTML
        "computing…" while the methods run, then what ran and how long it took.
    last : dict
        Method name -> :class:`~classicseg.analysis.scores.MethodScore` (``dsc``, ``nsd``,
        ``seconds``, ``result``; ``error`` when the method raised) for the current box.
    results : dict
        Method name -> SegmentationResult (or label map) for the current box (methods that
        ran).
    label : int
        Ground-truth instance scored against (see :func:`target_label`); 0 without GT.
    figure : matplotlib.figure.Figure
        The side-by-side figure shown now.
    n_updates : int
        How many times the methods were run.

    The ground-truth object is the GT instance with the most voxels inside the box, so a box
    around any object of the case is scored against that object. Running, timing and scoring
    is :func:`classicseg.analysis.scores.score_methods`; the widget only draws its rows.
    """

    def __init__(self, case: Case, methods: Mapping[str, Callable], *, slice_index=None, box=None,
                 backend: str = "auto", flavour: str = "challenge", zoom: float | None = None,
                 cache: bool = True):
        import ipywidgets as W

        if not isinstance(case, Case):
            raise ValueError(f"case must be a classicseg Case, got {type(case).__name__}")
        if not methods or not all(callable(f) for f in methods.values()):
            raise ValueError("methods must be a non-empty dict of name -> callable(image, boxes)")
        self.case, self.methods, self.flavour = case, dict(methods), flavour
        self.last: dict = {}
        self.results: dict = {}
        self.label = 0
        self.figure = None
        self.n_updates = 0
        self.caches = _embedding_caches(self.methods) if cache else []
        self.selector = BoxSelector(case, box=box, backend=backend, slice_index=slice_index,
                                    zoom=zoom)
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.scores = W.HTML()
        self.status = W.HTML()
        self.widget = W.VBox([self.selector.widget, self.status, self.scores, self.image])
        self._compute(self.selector.box, raise_errors=True)
        self.selector.on_change(self._compute)
        self.selector.on_slice(lambda _z: self._render())
        self.selector.zoom_button.observe(lambda _c: self._render(), names="value")

    @property
    def box(self) -> np.ndarray:
        return self.selector.box

    @box.setter
    def box(self, value) -> None:
        self.selector.box = value

    def _compute(self, box, *, raise_errors: bool = False) -> None:
        from dataclasses import replace

        from .analysis.scores import score_methods

        case = self.case
        gts = case.gts
        self.label = target_label(gts, box) if gts is not None else 0
        # The drawn box as a one-box case whose ground truth is the object it selects.
        target = None if gts is None else (gts == self.label).astype(np.uint8)
        # the box the methods get: the drawn one here; ToolboxComparison perturbs it
        self.prompt_box = self._prompt(np.asarray(box, np.int64))
        one_box = replace(case, boxes=self.prompt_box[None], gts=target)
        methods = self._active_methods()
        # Shown while the methods run: widget messages reach the browser at once.
        self.status.value = (f"<span class='classicseg-status' data-state='computing'>"
                             f"computing… ({html.escape(', '.join(methods))})</span>")
        self.image.layout.opacity = "0.5"
        t0 = time.perf_counter()
        try:
            with contextlib.ExitStack() as stack:
                for c in self.caches:
                    stack.enter_context(c)
                rows = score_methods(one_box, methods, flavour=self.flavour,
                                     catch=not raise_errors)
        finally:
            self.image.layout.opacity = "1"
        seconds = time.perf_counter() - t0
        self.last = {r.method: r for r in rows}
        self.results = {r.method: r.result for r in rows if r.ok}
        self.n_updates += 1
        encodes = (f" · encoder passes {sum(c.misses for c in self.caches)}, "
                   f"embeddings reused {sum(c.hits for c in self.caches)}" if self.caches else "")
        self.status.value = (f"<span class='classicseg-status' data-state='done' "
                             f"data-updates='{self.n_updates}'>update {self.n_updates}: "
                             f"{len(rows)} method(s) in {seconds:.2f} s{encodes}</span>")
        self._render()

    def _render(self) -> None:
        from . import viz

        case = self.case
        gt_show = None
        if case.gts is not None:
            gt_show = ((case.gts == self.label).astype(np.uint8) if self.label
                       else np.zeros(case.gts.shape, np.uint8))
        ran = {k: r for k, r in self.last.items() if r.ok}
        scores = ran if case.gts is not None else {}
        times = {k: r.seconds for k, r in ran.items()}
        image, results, boxes = case.image, self.results, self.prompt_box[None]
        if self.selector.zoom is not None:
            image, gt_show, results, boxes = _zoom_panels(self.selector.view, image, gt_show,
                                                          results, boxes, case.is_3d)
        fig = viz.side_by_side(image, gt_show, results, boxes=boxes,
                               scores=scores, times=times, slice_index=self.selector.slice_index,
                               synthetic=case.synthetic, title=case.name)
        self.figure = fig
        self.image.value = viz.figure_png(fig)
        rows = []
        for name, r in self.last.items():
            if not r.ok:
                rows.append(f"<tr><td>{html.escape(name)}</td><td colspan=3 style='color:#b00'>"
                            f"{html.escape(r.error)}</td></tr>")
            else:
                rows.append(f"<tr><td>{html.escape(name)}</td><td>{viz._fmt(r.dsc)}</td>"
                            f"<td>{viz._fmt(r.nsd)}</td><td>{r.seconds:.3f}</td></tr>")
        note = " (synthetic)" if case.synthetic else ""
        if case.is_3d and case.spacing is None:
            note += " spacing unknown: NSD tolerance in voxels"
        self.scores.value = (
            f"<div class='classicseg-scores' data-box='{self.selector.box.tolist()}'>"
            f"box {self.selector.box.tolist()} · GT object {self.label}{html.escape(note)}"
            "<table><tr><th>method</th><th>Dice</th><th>NSD</th><th>seconds</th></tr>"
            + "".join(rows) + "</table></div>")

    def _prompt(self, box: np.ndarray) -> np.ndarray:
        """The box the methods run on, from the drawn ``box`` (here: unchanged)."""
        return box

    def _active_methods(self) -> dict:
        """The methods that run now (here: all)."""
        return self.methods

    def alt_text(self) -> str:
        """A sentence describing the figure shown now (the static fallback's alt text)."""
        parts = [f"{name}: Dice {r.dsc:.3f}" if r.ok and r.dsc is not None
                 and self.case.gts is not None else f"{name}: {'ran' if r.ok else 'failed'}"
                 for name, r in self.last.items()]
        where = (f", slice {self.selector.slice_index}" if self.case.is_3d else "")
        return (f"{self.case.name}{' (synthetic)' if self.case.synthetic else ''}: image with "
                f"prompt box {self.prompt_box.tolist()}{where}, ground truth and each method's "
                f"mask; " + "; ".join(parts))

    def _repr_mimebundle_(self, **kwargs):
        # The live widget, plus a static snapshot that renderers without the widget state
        # (nbconvert, a book, a closed kernel) show instead.
        return _with_static(self.widget._repr_mimebundle_(**kwargs), self.image.value,
                            self.alt_text())


class ToolboxComparison(InteractiveComparison):
    """:class:`InteractiveComparison` with a method picker and box-perturbation sliders.

    The drawn box is what the user meant; the methods run on it *perturbed* as a sloppier
    user would draw it (:class:`~classicseg.boxes.BoxPerturbation`: scaled about its centre,
    then every side jittered, with a fixed seed), and are scored against the object the drawn
    box selects. Moving a slider (or setting :attr:`scale` / :attr:`jitter`) re-runs the
    picked methods, so one sees which methods care about the box.

    Parameters
    ----------
    case, methods
        As for :class:`InteractiveComparison`.
    selected : iterable of str, optional
        Names of ``methods`` that run first (default: all).
    scale : float in [0.5, 2]
        Box size factor (> 1 loosens, < 1 tightens).
    jitter : int in [0, 40]
        Every side moves by up to ± ``jitter`` px.
    seed : int >= 0
        Seed of the jitter (the same box for the same settings).
    **kwargs
        :class:`InteractiveComparison` keywords (``box``, ``backend``, ``flavour``, ...).

    Attributes
    ----------
    prompt_box : ndarray
        The perturbed box the methods ran on (drawn in the figure's first panel).
    selected : tuple of str
        The picked methods; setting it is like clicking the picker.
    scale, jitter : float, int
        Setting them is like moving the sliders.

    Examples
    --------
    >>> from classicseg.boxes import box_mask
    >>> from classicseg.io import Case
    >>> gt = np.zeros((40, 40), np.uint8); gt[10:30, 10:30] = 1
    >>> case = Case("2DBox_US_toy", np.zeros((40, 40, 3), np.uint8), np.array([[10, 10, 29, 29]]),
    ...             gts=gt)
    >>> fill = lambda im, b: box_mask(im.shape[:2], b[0])   # a baseline: fill the box
    >>> cmp = ToolboxComparison(case, {"fill": fill}, backend="bbox")
    >>> round(cmp.last["fill"].dsc, 3)
    1.0
    >>> cmp.scale = 1.5                                   # 5 px looser on every side
    >>> cmp.prompt_box.tolist(), round(cmp.last["fill"].dsc, 3), cmp.n_updates
    ([5, 5, 34, 34], 0.615, 2)
    """

    _SCALE = (0.5, 2.0)
    _JITTER = (0, 40)

    def __init__(self, case: Case, methods: Mapping[str, Callable], *, selected=None,
                 scale: float = 1.0, jitter: int = 0, seed: int = 0, **kwargs):
        import ipywidgets as W

        from .boxes import BoxPerturbation

        names = list(methods) if isinstance(methods, Mapping) else []
        self._selected = self._check_selected(names if selected is None else selected, names)
        self._perturbation = BoxPerturbation(jitter=jitter, scale=scale, seed=seed)
        self._check_range("scale", self._perturbation.scale, self._SCALE)
        self._check_range("jitter", self._perturbation.jitter, self._JITTER)
        self.picker = W.SelectMultiple(options=names, value=self._selected,
                                       description="methods", rows=min(len(names), 8))
        self.scale_slider = W.FloatSlider(value=self._perturbation.scale, min=self._SCALE[0],
                                          max=self._SCALE[1], step=0.05, description="box scale")
        self.jitter_slider = W.IntSlider(value=self._perturbation.jitter, min=self._JITTER[0],
                                         max=self._JITTER[1], description="jitter (px)")
        super().__init__(case, methods, **kwargs)
        self.widget = W.VBox([W.HBox([self.picker, W.VBox([self.scale_slider,
                                                           self.jitter_slider])]),
                              *self.widget.children])
        self.picker.observe(self._on_picker, names="value")
        self.scale_slider.observe(self._on_slider, names="value")
        self.jitter_slider.observe(self._on_slider, names="value")

    @staticmethod
    def _check_selected(selected, names) -> tuple:
        chosen = (selected,) if isinstance(selected, str) else tuple(selected)
        if not chosen or any(n not in names for n in chosen):
            raise ValueError(f"selected must name one or more of {names}, got {list(chosen)}")
        return chosen

    @staticmethod
    def _check_range(name: str, value, bounds) -> None:
        if not bounds[0] <= value <= bounds[1]:
            raise InvalidInputError(f"{name} must be in [{bounds[0]}, {bounds[1]}], got {value}")

    @property
    def selected(self) -> tuple:
        return self._selected

    @selected.setter
    def selected(self, value) -> None:
        self.picker.value = self._check_selected(value, list(self.methods))

    @property
    def scale(self) -> float:
        return self._perturbation.scale

    @scale.setter
    def scale(self, value) -> None:
        self._check_range("scale", float(value), self._SCALE)
        self.scale_slider.value = float(value)

    @property
    def jitter(self) -> int:
        return self._perturbation.jitter

    @jitter.setter
    def jitter(self, value) -> None:
        from .boxes import BoxPerturbation

        self._check_range("jitter", BoxPerturbation(jitter=value).jitter, self._JITTER)
        self.jitter_slider.value = int(value)

    def _prompt(self, box: np.ndarray) -> np.ndarray:
        return self._perturbation.apply(box[None], self.case.spatial_shape,
                                        name=self.case.name)[0]

    def _active_methods(self) -> dict:
        return {k: self.methods[k] for k in self._selected}

    def _on_picker(self, change) -> None:
        if not change["new"]:  # nothing picked: keep the last figure
            return
        self._selected = tuple(change["new"])
        self._compute(self.selector.box)

    def _on_slider(self, _change) -> None:
        from dataclasses import replace

        self._perturbation = replace(self._perturbation, scale=float(self.scale_slider.value),
                                     jitter=int(self.jitter_slider.value))
        self._compute(self.selector.box)


# --------------------------------------------------------------------------- failure gallery

class FailureGallery:
    """Browse gallery rows one at a time, in the order given, with a dropdown.

    Parameters
    ----------
    rows : sequence of GalleryRow
        As for :func:`classicseg.viz.failure_gallery`, ranked beforehand, e.g.
        ``rank_by_gap(box_rows, a, b, absolute=True)`` for the largest disagreements first
        (:mod:`classicseg.analysis.failures`).
    n : int
        Number of rows offered (the first ``n``).

    Attributes
    ----------
    rows : list of GalleryRow
        The rows offered.
    figure : matplotlib.figure.Figure
        The figure of the selected row.
    index : int
        Position of the selected row (assignable).
    """

    def __init__(self, rows, *, n: int = 8):
        import ipywidgets as W

        self.rows = list(rows)[:n]
        if not self.rows:
            raise ValueError("FailureGallery: rows is empty")
        options = [(f"{i + 1}. {r.name}", i) for i, r in enumerate(self.rows)]
        self.dropdown = W.Dropdown(options=options, value=0, description="case")
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%"))
        self.widget = W.VBox([self.dropdown, self.image])
        self.figure = None
        self.dropdown.observe(lambda ch: self._show(ch["new"]), names="value")
        self._show(0)

    @property
    def index(self) -> int:
        return int(self.dropdown.value)

    @index.setter
    def index(self, i) -> None:
        if not 0 <= int(i) < len(self.rows):
            raise ValueError(f"index {i} outside 0..{len(self.rows) - 1}")
        self.dropdown.value = int(i)

    def _show(self, i: int) -> None:
        from . import viz

        self.figure = viz.failure_gallery([self.rows[i]], n=1)
        self.image.value = viz.figure_png(self.figure)

    def _repr_mimebundle_(self, **kwargs):
        return _with_static(self.widget._repr_mimebundle_(**kwargs), self.image.value,
                            f"failure gallery, case {self.rows[self.index].name}")


# --------------------------------------------------------------------------- helpers

def _with_static(bundle, png: bytes, alt: str):
    """Add a static PNG (and an ``<img>`` with alt text) to a widget's mime bundle.

    Jupyter front-ends with the widget manager render the widget view; nbconvert skips a
    widget view whose state was not saved and takes the next format, so an executed notebook
    converted to HTML (or a book) still shows the figure."""
    import base64

    data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
    data = dict(data)
    if png:
        b64 = base64.b64encode(png).decode("ascii")
        data["image/png"] = b64
        data["text/html"] = (f"<img class='classicseg-static' alt='{html.escape(alt, True)}' "
                             f"src='data:image/png;base64,{b64}'/>")
        meta = {**meta, "image/png": {"alt": alt}}
    return data, meta


def _embedding_caches(methods: Mapping[str, Callable]) -> list:
    """One EmbeddingCache per distinct LiteMedSAM model the method callables use."""
    import functools
    import sys

    mod = sys.modules.get("classicseg.models.litemedsam.predictor")
    if mod is None:  # no LiteMedSAM was ever loaded, so none is in use
        return []
    from .models.litemedsam.embedding_cache import EmbeddingCache

    found: dict[int, object] = {}

    def visit(obj, depth=0):
        if depth > 3:
            return
        if isinstance(obj, mod.LiteMedSAM):
            found.setdefault(id(obj), obj)
        elif isinstance(obj, functools.partial):
            for o in (obj.func, *obj.args, *obj.keywords.values()):
                visit(o, depth + 1)
        elif callable(obj):
            visit(getattr(obj, "__self__", None), depth + 1)
            for cell in getattr(obj, "__closure__", None) or ():
                with contextlib.suppress(ValueError):  # an empty cell
                    visit(cell.cell_contents, depth + 1)
            code, glob = getattr(obj, "__code__", None), getattr(obj, "__globals__", {})
            for name in (code.co_names if code is not None else ()):
                if isinstance(glob.get(name), mod.LiteMedSAM):  # a lambda on a global model
                    visit(glob[name], depth + 1)

    for f in methods.values():
        visit(f)
    return [EmbeddingCache(m) for m in found.values()]


def _zoom_panels(view, image, gt, results: Mapping, boxes, is_3d: bool):
    """Cut image, ground truth, masks and boxes to the selector's window (in-plane)."""
    rows, cols, _ = view
    where = (slice(None), rows, cols) if is_3d else (rows, cols)

    def cut(a):
        return None if a is None else np.asarray(getattr(a, "segs", a))[where]

    shift = [cols.start, rows.start] + ([0] if is_3d else [])
    size = [cols.stop - cols.start, rows.stop - rows.start] + ([image.shape[0]] if is_3d else [])
    # a perturbed prompt box may reach past the window: draw its part inside
    b = np.asarray(boxes, np.int64) - np.array(shift * 2)
    b = np.clip(b, 0, np.array(size * 2) - 1)
    return cut(image), cut(gt), {n: cut(r) for n, r in results.items()}, b
