"""Torch-free geometry of LiteMedSAM inference: the 256 frame, prompt boxes, slice walks.

Pure functions on numbers and numpy arrays, kept apart from the network (as
segment-anything keeps ``ResizeLongestSide.get_preprocess_shape`` apart from the model), so
that analyses (encoder-pass counts, slice plans) never need torch.
"""

from __future__ import annotations

import numpy as np

from ..preprocess import pad_to_square, resize_longest_side

__all__ = ["SIZE", "BOX_SHIFT", "scale_boxes_256", "box_from_mask_256", "middle_slice",
           "slice_plan", "context_window"]

SIZE = 256        # model input side
BOX_SHIFT = 3     # px added around a propagated box in the 256 frame (official bbox_shift)


def scale_boxes_256(boxes, original_hw) -> np.ndarray:
    """Boxes ``[x0, y0, x1, y1]`` into the 256 frame as the official script does:
    ``int(c * 256 / max(H, W))`` -- truncation, no rounding, no clipping.

    Examples
    --------
    >>> scale_boxes_256([[94, 0, 383, 302]], (303, 384)).tolist()
    [[62, 0, 255, 201]]
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.trunc(b * (SIZE / max(int(original_hw[0]), int(original_hw[1])))).astype(np.int64)


def box_from_mask_256(mask_u8: np.ndarray, shift: int = BOX_SHIFT) -> np.ndarray | None:
    """Prompt box for the next slice from a slice mask (official ``get_bbox256``).

    The uint8 mask (values 0 / label) is resized into the 256 frame with the image's own
    area interpolation (so the label value matters where it is upsampled), padded, and its
    tight box grown by ``shift`` px, clipped to [0, 256] (the official upper clip is 256,
    not 255). Returns None when no pixel survives the resize.

    Examples
    --------
    >>> m = np.zeros((128, 128), np.uint8); m[10:20, 30:40] = 1
    >>> box_from_mask_256(m).tolist()
    [57, 17, 82, 42]
    """
    small = resize_longest_side(mask_u8, SIZE)
    if small.max() == 0:
        return None
    ys, xs = np.nonzero(pad_to_square(small, SIZE))
    return np.array([max(0, xs.min() - shift), max(0, ys.min() - shift),
                     min(SIZE, xs.max() + shift), min(SIZE, ys.max() + shift)], np.int64)


def middle_slice(z_min: int, z_max: int) -> int:
    """The official seed slice ``int((z_max - z_min) / 2 + z_min)`` (true division, then
    truncation).

    >>> middle_slice(2, 23)
    12
    """
    return int((int(z_max) - int(z_min)) / 2 + int(z_min))


def slice_plan(z_min: int, z_max: int, s: int = 1,
               grid: str = "box") -> tuple[list[int], list[int]]:
    """Slices a 3D box predicts, in walk order: ``(up, down)``.

    ``up`` starts at the middle slice and goes to ``z_max``; ``down`` goes from below the
    middle to ``z_min``. With ``s = 1``: every slice. With ``s > 1`` the planned slices
    plus the middle slice (the seed):

    * ``grid="box"`` (the paper): ``plan_sparse_slices(z_min, z_max, s)``, i.e.
      ``z_min, z_min + s, ...`` and ``z_max``;
    * ``grid="volume"``: the slices ``z`` with ``z % s == 0`` plus ``z_min`` and ``z_max``.
      Every box of a volume then uses the same grid, so boxes that overlap in z share
      their slice embeddings (faster with several boxes; at most ``s`` slices apart too).

    Examples
    --------
    >>> slice_plan(5, 9)
    ([7, 8, 9], [6, 5])
    >>> slice_plan(2, 23, 3)
    ([12, 14, 17, 20, 23], [11, 8, 5, 2])
    >>> slice_plan(2, 23, 3, grid="volume")
    ([12, 15, 18, 21, 23], [9, 6, 3, 2])
    """
    z_min, z_max = int(z_min), int(z_max)
    mid = middle_slice(z_min, z_max)
    if grid not in ("box", "volume"):
        raise ValueError(f"grid must be 'box' or 'volume', got {grid!r}")
    if s == 1:
        planned = set(range(z_min, z_max + 1))
    elif grid == "box":
        from ...methods.interpolation import plan_sparse_slices
        planned = set(plan_sparse_slices(z_min, z_max, s).tolist())
    else:
        planned = set(range(-(-z_min // s) * s, z_max + 1, s)) | {z_min, z_max}
    planned.add(mid)
    return (sorted(z for z in planned if z >= mid),
            sorted((z for z in planned if z < mid), reverse=True))


def context_window(box, spatial_hw, context: float) -> tuple[slice, slice]:
    """Square window of side ``context * max(box height, box width)`` centred on a 2D box
    (clipped to the image), as (rows, cols) slices. ``context = 1`` is the tight box.

    Examples
    --------
    >>> context_window([10, 10, 19, 14], (100, 100), 2.0)
    (slice(3, 23, None), slice(5, 25, None))
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = y1 - y0 + 1, x1 - x0 + 1
    side = max(h, w, int(round(context * max(h, w))))
    out = []
    for lo, hi, n, extent in ((y0, y1, spatial_hw[0], h), (x0, x1, spatial_hw[1], w)):
        extra = side - extent
        out.append(slice(max(0, lo - extra // 2), min(int(n), hi + 1 + extra - extra // 2)))
    return tuple(out)
