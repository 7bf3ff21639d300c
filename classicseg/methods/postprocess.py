"""Post-processing of binary masks (paper §4.11; ALGORITHMS.md §9).

For k-means, thresholds, OCT and MobileUNet the paper keeps the largest connected
component (8-connectivity in 2D, 26 in 3D), fills holes and zeroes everything outside the
box ("box filter"). The overlap policy between boxes is *not* here: it lives in
:meth:`classicseg.result.SegmentationResult.add_box` (later boxes win).

All functions return new arrays and never modify their input.

Examples
--------
>>> import numpy as np
>>> m = np.zeros((7, 7), bool)
>>> m[1:5, 1:5] = True; m[2, 2] = False; m[6, 6] = True   # a ring-ish blob + a speck
>>> out = postprocess_mask(m)
>>> int(out.sum()), bool(out[2, 2]), bool(out[6, 6])
(16, True, False)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..boxes import box_slices

__all__ = ["largest_component", "fill_holes", "box_filter", "postprocess_mask"]


def _as_mask(mask, name="mask") -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D or 3D array, got shape {m.shape}")
    return m.astype(bool, copy=False)


def largest_component(mask, *, connectivity: int | None = None) -> np.ndarray:
    """Keep only the largest connected component of a binary mask.

    Parameters
    ----------
    mask : array_like of bool, 2D or 3D
    connectivity : int, optional
        Neighbourhood as in :func:`scipy.ndimage.generate_binary_structure`: 1 = faces
        (4 / 6), ``mask.ndim`` = full (8 in 2D, 26 in 3D, the default).

    Returns
    -------
    ndarray of bool (a new array). Ties go to the component found first in raster order;
    an empty mask stays empty.

    Examples
    --------
    >>> m = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]], bool)
    >>> largest_component(m).astype(int)  # the diagonal is one 8-connected component
    array([[0, 0, 0, 0],
           [0, 0, 0, 1],
           [0, 0, 1, 0],
           [0, 1, 0, 0]])
    >>> largest_component(m, connectivity=1).astype(int)   # 4-connected: the pair wins
    array([[1, 1, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0]])
    """
    m = _as_mask(mask)
    connectivity = m.ndim if connectivity is None else int(connectivity)
    if not 1 <= connectivity <= m.ndim:
        raise ValueError(f"connectivity must be in 1..{m.ndim}, got {connectivity}")
    labels, n = ndi.label(m, structure=ndi.generate_binary_structure(m.ndim, connectivity))
    if n <= 1:
        return m.copy()
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask) -> np.ndarray:
    """Fill holes (background not connected to the array border) in a binary mask.

    Holes are defined with face connectivity of the background, the dual of the
    full-connectivity foreground used by :func:`largest_component`.

    Examples
    --------
    >>> m = np.ones((3, 3), bool); m[1, 1] = False
    >>> bool(fill_holes(m).all())
    True
    """
    m = _as_mask(mask)
    out = m.copy()
    if not m.any():
        return out
    # Every hole lies inside the mask's bounding box, and everything outside that box is
    # background connected to the border; so filling the box padded with one background
    # ring is exact, and far cheaper than scipy's whole-array flood for small masks.
    where = ndi.find_objects(m.view(np.uint8))[0]
    inner = (slice(1, -1),) * m.ndim
    out[where] = ndi.binary_fill_holes(np.pad(m[where], 1))[inner]
    return out


def box_filter(mask, box) -> np.ndarray:
    """Zero every pixel outside ``box`` (maxima inclusive, 2D ``[x0, y0, x1, y1]`` or 3D
    ``[x0, y0, z0, x1, y1, z1]``). Parts of the box beyond the array are ignored.

    Examples
    --------
    >>> box_filter(np.ones((3, 4), bool), [1, 0, 2, 1]).astype(int)
    array([[0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    m = _as_mask(mask)
    if len(np.asarray(box).ravel()) != 2 * m.ndim:
        raise ValueError(f"box must have {2 * m.ndim} coordinates for a {m.ndim}D mask, got {box!r}")
    where = tuple(slice(max(s.start, 0), max(s.stop, 0)) for s in box_slices(box))
    out = np.zeros(m.shape, bool)
    out[where] = m[where]
    return out


def postprocess_mask(mask, *, lcc: bool = True, fill: bool = True, box=None,
                     connectivity: int | None = None) -> np.ndarray:
    """The paper's post-processing: box filter, largest component, hole filling.

    The box filter comes first so that the component kept is the largest one *inside*
    the box (filtering afterwards could cut the kept component down to a fragment).

    Parameters
    ----------
    mask : array_like of bool, 2D or 3D
        A full-size mask, or a box crop (then leave ``box`` as None: the crop is the box).
    lcc, fill : bool
        Keep the largest connected component / fill holes.
    box : array_like, optional
        Zero everything outside this box first.
    connectivity : int, optional
        See :func:`largest_component` (default: full, 8 / 26).

    Returns
    -------
    ndarray of bool (a new array; never has pixels outside ``mask`` and ``box`` except
    filled holes, which lie inside the mask's own outline).
    """
    m = _as_mask(mask)
    out = box_filter(m, box) if box is not None else m.copy()
    if lcc:
        out = largest_component(out, connectivity=connectivity)
    if fill:
        out = fill_holes(out)
    return out
