"""Building blocks shared by the phantom generators (private).

Everything here is deterministic given a ``numpy.random.Generator``: no global RNG, no
threads whose scheduling could change results, no wall-clock input.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..io import Case, to_uint8

__all__ = [
    "smooth_field", "superellipse", "radial_blob", "fraction_inside", "boxes_from_labels",
    "gray_to_rgb", "window", "make_case", "gamma_speckle", "draw_curve",
]


def _spline_matrix(n_coarse: int, positions: np.ndarray, order: int) -> np.ndarray:
    """(len(positions), n_coarse) matrix that spline-interpolates a 1D signal at ``positions``.

    Spline interpolation is linear in the data, so interpolating each unit impulse gives
    the matrix; applying one matrix per axis equals N-D ``map_coordinates`` on a regular
    grid (a tensor-product spline) at a fraction of its cost.
    """
    # Rows of the identity are impulses; sampling the columns at their own integer positions
    # leaves that axis untouched (an interpolating spline passes through its samples).
    rows, cols = np.meshgrid(positions, np.arange(n_coarse, dtype=np.float64), indexing="ij")
    return ndi.map_coordinates(np.eye(n_coarse), [rows, cols], order=order, mode="nearest")


def smooth_field(rng: np.random.Generator, shape, scale, *, order: int = 3) -> np.ndarray:
    """Zero-mean, unit-std random field whose features are about ``scale`` pixels wide.

    ``scale`` is a number or one number per axis. White noise on a grid ``scale`` times
    coarser is up-sampled with a cubic (``order=3``) spline, one axis at a time: much
    faster than a large-sigma Gaussian filter on the full grid, same kind of texture.
    """
    shape = tuple(int(s) for s in shape)
    scales = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(shape),))
    coarse_shape = tuple(max(2, int(np.ceil(s / c)) + 3) for s, c in zip(shape, scales))
    field = rng.standard_normal(coarse_shape)
    for ax, (s, c, n) in enumerate(zip(shape, scales, coarse_shape)):
        # fine index i sits at coarse position i / scale + 1 (one coarse cell of margin)
        m = _spline_matrix(n, np.arange(s) / c + 1.0, order)
        field = np.moveaxis(np.tensordot(m, field, axes=(1, ax)), 0, ax)
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field


def superellipse(shape, center, radii, *, angle: float = 0.0) -> np.ndarray:
    """Normalised radius ``r`` (<1 inside) of an ellipse/ellipsoid, float64.

    ``center`` and ``radii`` are in array axis order; ``angle`` (radians) rotates the
    last two axes (the image plane).
    """
    grids = np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij",
                        sparse=True)
    d = [g - c for g, c in zip(grids, center)]
    if angle:
        ca, sa = np.cos(angle), np.sin(angle)
        y, x = d[-2], d[-1]
        d[-2], d[-1] = ca * y - sa * x, sa * y + ca * x
    r2 = sum((di / ri) ** 2 for di, ri in zip(d, radii))
    return np.sqrt(r2)


def radial_blob(shape, center, radius: float, rng: np.random.Generator, *,
                irregularity: float = 0.15, harmonics=(2, 3, 4, 5, 7), aspect: float = 1.0,
                angle: float = 0.0) -> np.ndarray:
    """Signed "level" of a 2D star-shaped blob: ``< 0`` inside, ``0`` on the border.

    The border radius is ``radius * (1 + sum_k a_k cos(k theta + phi_k))`` with random
    amplitudes ``a_k ~ irregularity / k`` -- lobulated like a skin lesion or a cell, and
    exactly known, so the ground truth is exact. The value is in units of pixels
    (approximately the distance to the border), which makes partial-volume edges easy.
    """
    yy, xx = np.meshgrid(np.arange(shape[0], dtype=np.float64),
                         np.arange(shape[1], dtype=np.float64), indexing="ij")
    dy, dx = yy - center[0], xx - center[1]
    if angle:
        ca, sa = np.cos(angle), np.sin(angle)
        dy, dx = ca * dy - sa * dx, sa * dy + ca * dx
    dy = dy * aspect
    theta = np.arctan2(dy, dx)
    rho = np.hypot(dy, dx)
    border = np.ones_like(theta)
    for k in harmonics:
        a = irregularity / k * rng.uniform(0.3, 1.0)
        border += a * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return rho - radius * border


def fraction_inside(level: np.ndarray, *, width: float = 1.0) -> np.ndarray:
    """Partial-volume fraction (0..1) from a signed level in pixels (< 0 inside)."""
    return np.clip(0.5 - level / width, 0.0, 1.0)


def boxes_from_labels(labels: np.ndarray, n: int, rng: np.random.Generator | None = None,
                      *, margin=(0, 0), margin_z=(0, 0)) -> np.ndarray:
    """Inclusive bounding boxes of labels 1..n, enlarged by a random margin and clipped.

    2D labels give (n, 4) ``[x0, y0, x1, y1]``; 3D labels give (n, 6)
    ``[x0, y0, z0, x1, y1, z1]``. ``margin``/``margin_z`` are inclusive (lo, hi) pixel
    ranges drawn per side, as annotators' boxes are rarely tight.
    """
    objs = ndi.find_objects(labels, max_label=n)
    out = []
    for i, sl in enumerate(objs):
        if sl is None:
            raise ValueError(f"label {i + 1} is empty; cannot make its box")
        lo = np.array([s.start for s in sl])
        hi = np.array([s.stop - 1 for s in sl])
        k = labels.ndim
        for ax in range(k):
            m = margin_z if (k == 3 and ax == 0) else margin
            if rng is not None and m[1] > 0:
                lo[ax] -= rng.integers(m[0], m[1] + 1)
                hi[ax] += rng.integers(m[0], m[1] + 1)
            elif m[0] > 0:
                lo[ax] -= m[0]
                hi[ax] += m[0]
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, np.array(labels.shape) - 1)
        lo, hi = lo[::-1], hi[::-1]  # array order -> (x, y[, z])
        out.append(np.concatenate([lo, hi]))
    return np.array(out, dtype=np.int64).reshape(len(out), 2 * labels.ndim)


def gray_to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W, 3) with three identical channels (the challenge's grayscale)."""
    return np.repeat(np.asarray(img, np.uint8)[..., None], 3, axis=2)


def window(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Linear display window [lo, hi] -> uint8 (like a CT window/level)."""
    return np.round(np.clip((values - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)


def gamma_speckle(rng: np.random.Generator, shape, looks: float, *,
                  corr: float = 0.0) -> np.ndarray:
    """Multiplicative speckle with mean 1: gamma(looks) intensity noise, optionally correlated.

    Fully developed speckle in intensity is exponential (``looks=1``); averaging several
    looks gives gamma statistics. ``corr`` (pixels) blurs the complex field first so
    speckle grains are larger than a pixel, as in real OCT/US images.
    """
    if corr > 0:
        # Correlated speckle: |complex Gaussian filtered|^2, summed over looks.
        n = max(1, int(round(looks)))
        acc = np.zeros(shape)
        for _ in range(n):
            re = ndi.gaussian_filter(rng.standard_normal(shape), corr)
            im = ndi.gaussian_filter(rng.standard_normal(shape), corr)
            acc += re * re + im * im
        return acc / acc.mean()
    return rng.gamma(looks, 1.0 / looks, size=shape)


def draw_curve(canvas: np.ndarray, pts: np.ndarray, value, thickness: int) -> None:
    """Draw an anti-aliased polyline (x, y points) into ``canvas`` in place (OpenCV)."""
    import cv2

    cv2.polylines(canvas, [np.round(pts * 16).astype(np.int32)], False, value, thickness,
                  lineType=cv2.LINE_AA, shift=4)


def make_case(name: str, modality: str, image: np.ndarray, boxes: np.ndarray,
              gts: np.ndarray | None, *, spacing=None, meta: dict) -> Case:
    """Generated arrays as a validated :class:`~classicseg.io.Case` (uint8 image, uint16 gts)."""
    if image.dtype != np.uint8:
        image = to_uint8(image)
    if gts is not None:
        gts = np.asarray(gts).astype(np.uint16)
    return Case(name=name, image=np.ascontiguousarray(image), boxes=np.asarray(boxes, np.int64),
                modality=modality,
                spacing=None if spacing is None else tuple(float(s) for s in spacing),
                gts=gts, meta=dict(meta))
