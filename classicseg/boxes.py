"""Box helpers shared by every method.

Boxes follow the challenge convention: 2D ``[x_min, y_min, x_max, y_max]`` and 3D
``[x_min, y_min, z_min, x_max, y_max, z_max]``, all maxima **inclusive** (the official
LiteMedSAM script treats them so; the paper's reference code slices ``[min:max)`` and
silently drops the last row/column/slice of every box -- we do not copy that bug).
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_slices", "box_shape", "box_center", "box_volume", "box_mask", "clip_box"]


def _as_box(box) -> np.ndarray:
    b = np.asarray(box)
    if b.ndim != 1 or b.size not in (4, 6):
        raise ValueError(f"box must have 4 (2D) or 6 (3D) coordinates, got shape {b.shape}")
    return b.astype(np.int64)


def box_slices(box) -> tuple[slice, ...]:
    """Array slices selecting the inclusive box, in array axis order.

    Returns ``(rows, cols)`` for a 2D box and ``(slices, rows, cols)`` for a 3D box.

    Examples
    --------
    >>> box_slices([2, 1, 4, 3])
    (slice(1, 4, None), slice(2, 5, None))
    """
    b = _as_box(box)
    if b.size == 4:
        x0, y0, x1, y1 = b
        return (slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))
    x0, y0, z0, x1, y1, z1 = b
    return (slice(int(z0), int(z1) + 1), slice(int(y0), int(y1) + 1), slice(int(x0), int(x1) + 1))


def box_shape(box) -> tuple[int, ...]:
    """Shape of the box crop in array axis order (inclusive maxima)."""
    return tuple(s.stop - s.start for s in box_slices(box))


def box_volume(box) -> int:
    """Number of pixels/voxels inside the inclusive box."""
    return int(np.prod(box_shape(box)))


def box_center(box) -> tuple[int, ...]:
    """Integer centre of the box in array axis order (floor of the midpoint)."""
    return tuple((s.start + s.stop - 1) // 2 for s in box_slices(box))


def box_mask(shape, box) -> np.ndarray:
    """Boolean array of ``shape`` that is True inside the inclusive box."""
    m = np.zeros(shape, dtype=bool)
    m[box_slices(box)] = True
    return m


def clip_box(box, shape) -> np.ndarray:
    """Clip a box to an image of array ``shape`` ((H, W) or (D, H, W)); returns int64."""
    b = _as_box(box).copy()
    if b.size == 4:
        h, w = shape[-2], shape[-1]
        hi = np.array([w - 1, h - 1, w - 1, h - 1])
    else:
        d, h, w = shape[-3], shape[-2], shape[-1]
        hi = np.array([w - 1, h - 1, d - 1, w - 1, h - 1, d - 1])
    return np.clip(b, 0, hi)
