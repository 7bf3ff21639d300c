"""Box helpers shared by every method.

Boxes follow the challenge convention: 2D ``[x_min, y_min, x_max, y_max]`` and 3D
``[x_min, y_min, z_min, x_max, y_max, z_max]``, all maxima **inclusive** (the official
LiteMedSAM script treats them so; the paper's reference code slices ``[min:max)`` and
silently drops the last row/column/slice of every box -- we do not copy that bug).
"""

from __future__ import annotations

import warnings

import numpy as np

from .validation import check_box

__all__ = ["box_slices", "box_shape", "box_mask", "clip_box"]


def _as_box(box) -> np.ndarray:
    # whole numbers, min <= max (no image bounds here): classicseg.validation.check_box
    return check_box(box)


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


def box_mask(shape, box) -> np.ndarray:
    """Boolean array of ``shape`` that is True inside the inclusive box."""
    m = np.zeros(shape, dtype=bool)
    m[box_slices(box)] = True
    return m


def clip_box(shape, box) -> np.ndarray:
    """Clip a box to an image of array ``shape`` ((H, W) for a 2D box, (D, H, W) for 3D).

    Shape first, like :func:`box_mask`. The 0.1 order ``clip_box(box, shape)`` still works
    for one release (with a DeprecationWarning): a box has 4 or 6 coordinates and a shape 2
    or 3 entries, so the two orders cannot be confused.

    Returns
    -------
    ndarray of int64, the box with every coordinate inside the image.

    Examples
    --------
    >>> clip_box((100, 200), [-5, 10, 250, 120]).tolist()
    [0, 10, 199, 99]
    """
    if np.size(shape) in (4, 6) and np.size(box) == np.size(shape) // 2:
        warnings.warn("clip_box(box, shape) is now clip_box(shape, box) (shape first, as "
                      "box_mask); the old order goes away in classicseg 0.3",
                      DeprecationWarning, stacklevel=2)
        shape, box = box, shape
    b = _as_box(box).copy()
    if len(shape) != b.size // 2:
        raise ValueError(f"a {b.size}-coordinate box needs a shape of {b.size // 2} entries "
                         f"(array axes), got {tuple(shape)}")
    if b.size == 4:
        h, w = shape
        hi = np.array([w - 1, h - 1, w - 1, h - 1])
    else:
        d, h, w = shape
        hi = np.array([w - 1, h - 1, d - 1, w - 1, h - 1, d - 1])
    return np.clip(b, 0, hi)
