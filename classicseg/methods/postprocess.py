"""Post-processing of binary masks (paper §2.9 / §4.11; docs/algorithms.md §9).

One vocabulary, :data:`POSTPROCESS`, names what runs after a segmenter, each mode adding a
step to the one before:

========  ==================================================================
``none``  nothing (LiteMedSAM's official output)
``box``   zero everything outside the box ("box filter"; the paper's LiteMedSAM)
``lcc``   box + keep the largest connected component (8-connected in 2D, 26 in 3D;
          the paper's two-channel microscopy threshold)
``full``  box + largest component + fill holes (the paper's k-means, thresholds,
          OCT and MobileUNet)
========  ==================================================================

Every segmenter takes ``postprocess=`` in this vocabulary, checks it once with
:func:`parse_postprocess`, applies it with :func:`apply_postprocess` and records the mode
that ran in each box's ``BoxRecord.extra["postprocess"]``. Segmenters that paint only
their box crop (all but LiteMedSAM) box-filter by construction, so ``"none"`` and
``"box"`` give them the same masks. The overlap policy between boxes is *not* here: it
lives in :meth:`classicseg.result.SegmentationResult.add_box` (later boxes win).

All functions return new arrays or results and never modify their input.

Examples
--------
>>> import numpy as np
>>> m = np.zeros((7, 7), bool)
>>> m[1:5, 1:5] = True; m[2, 2] = False; m[6, 6] = True   # a blob with a hole + a speck
>>> [int(apply_postprocess(m, mode).sum()) for mode in POSTPROCESS]   # crop = the box
[16, 16, 15, 16]
>>> out = apply_postprocess(m, "full")
>>> bool(out[2, 2]), bool(out[6, 6])
(True, False)
"""

from __future__ import annotations

import time
import warnings
from typing import Callable

import numpy as np
from scipy import ndimage as ndi

from ..boxes import box_slices

__all__ = ["POSTPROCESS", "parse_postprocess", "apply_postprocess", "largest_component",
           "fill_holes", "box_filter", "postprocess_mask", "relabel_result", "postprocessed"]

#: The post-processing modes, each adding one step: (box filter, largest component, fill).
_STEPS = {"none": (False, False, False), "box": (True, False, False),
          "lcc": (True, True, False), "full": (True, True, True)}
#: Post-processing modes, in order of how much they do (see the module docstring).
POSTPROCESS = tuple(_STEPS)


def _check_mode(value, arg_name: str) -> str:
    if isinstance(value, str) and value in _STEPS:
        return value
    raise ValueError(f"{arg_name} must be one of {POSTPROCESS}, got {value!r}")


def parse_postprocess(value, *, arg_name: str = "postprocess") -> str:
    """The post-processing mode ``value`` names; ``ValueError`` for anything else.

    Parameters
    ----------
    value : {"none", "box", "lcc", "full"}
        A bool is accepted for one release only (classicseg 0.1 took one): ``True`` ->
        ``"full"``, ``False`` -> ``"none"``, with a :class:`DeprecationWarning`.
    arg_name : str
        The argument's name in error messages.

    Examples
    --------
    >>> parse_postprocess("lcc")
    'lcc'
    >>> parse_postprocess("on")
    Traceback (most recent call last):
    ...
    ValueError: postprocess must be one of ('none', 'box', 'lcc', 'full'), got 'on'
    """
    if isinstance(value, (bool, np.bool_)):
        mode = "full" if value else "none"
        warnings.warn(f"{arg_name}={bool(value)} is deprecated (removed in classicseg 0.3); "
                      f"pass {arg_name}={mode!r}", DeprecationWarning, stacklevel=3)
        return mode
    return _check_mode(value, arg_name)


def _mode_from_flags(*, box: bool, lcc: bool, fill: bool) -> str:
    """The mode of the 0.1 flags (box filter, largest component, fill holes)."""
    if fill and not lcc:
        raise ValueError("fill=True with lcc=False (fill holes but keep every component) has no "
                         f"post-processing mode; use postprocess='full' or one of {POSTPROCESS}")
    return "full" if fill else "lcc" if lcc else "box" if box else "none"


def _legacy_flags(value, default: str, *, box: bool, lcc: bool, fill: bool, where: str,
                  arg_name: str = "postprocess") -> str:
    """The mode a classicseg 0.1 call (``lcc=`` / ``fill=`` flags, a bool) meant, with a
    DeprecationWarning naming the replacement. A mode passed as well is ambiguous."""
    if isinstance(value, str) and value != default:
        raise ValueError(f"{where}: pass {arg_name}={value!r} or the deprecated lcc=/fill=, "
                         "not both")
    mode = _mode_from_flags(box=box, lcc=lcc, fill=fill)
    # stacklevel 3: the warning points at the caller of the segmenter that called us
    warnings.warn(f"{where}: the 0.1 post-processing flags (lcc=, fill=, a bool {arg_name}=) are "
                  f"deprecated (removed in classicseg 0.3); this call means {arg_name}={mode!r}",
                  DeprecationWarning, stacklevel=3)
    return mode


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


def _box_where(m: np.ndarray, box) -> tuple[slice, ...]:
    """The index of ``box`` (maxima inclusive) in ``m``; parts beyond the array are dropped."""
    if len(np.asarray(box).ravel()) != 2 * m.ndim:
        raise ValueError(f"box must have {2 * m.ndim} coordinates for a {m.ndim}D mask, "
                         f"got {box!r}")
    return tuple(slice(max(s.start, 0), max(s.stop, 0)) for s in box_slices(box))


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
    where = _box_where(m, box)
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


def apply_postprocess(mask, mode: str, *, box=None, connectivity: int | None = None) -> np.ndarray:
    """Apply the post-processing ``mode`` (one of :data:`POSTPROCESS`) to a mask.

    Parameters
    ----------
    mask : array_like of bool, 2D or 3D
        A box crop (leave ``box`` as None: the crop is the box), or a larger mask with
        ``box`` giving where the box lies in it.
    mode : {"none", "box", "lcc", "full"}
    box : array_like, optional
        Zeroed outside for every mode but ``"none"``.
    connectivity : int, optional
        See :func:`largest_component` (default: full, 8 / 26).

    Examples
    --------
    >>> m = np.zeros((4, 6), bool); m[:, 0] = True; m[1:3, 3:6] = True
    >>> apply_postprocess(m, "box", box=[2, 0, 5, 3]).astype(int)   # x 2..5: the column goes
    array([[0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 1, 1, 1],
           [0, 0, 0, 0, 0, 0]])
    >>> int(apply_postprocess(m, "none", box=[2, 0, 5, 3]).sum())   # "none" ignores the box
    10
    """
    box_on, lcc, fill = _STEPS[_check_mode(mode, "mode")]
    if not (box_on and box is not None):
        return postprocess_mask(mask, lcc=lcc, fill=fill, connectivity=connectivity)
    # Everything outside the box is zeroed first, so the largest component lies inside the box
    # and every hole too (the zeroed outside is one background region touching the array
    # border, and every box edge touches it or the border): running LCC / fill on the box
    # crop and pasting it back gives the same mask as on the full array, at the cost of the
    # box instead of the image (a full-size 2D X-ray mask took longer than the model call).
    m = _as_mask(mask)
    where = _box_where(m, box)
    out = np.zeros(m.shape, bool)
    crop = m[where]
    out[where] = (postprocess_mask(crop, lcc=lcc, fill=fill, connectivity=connectivity)
                  if lcc or fill else crop)
    return out


# --------------------------------------------------------------------------- finished results

def relabel_result(result, transform: Callable[[int, np.ndarray], np.ndarray], *, method: str):
    """A new SegmentationResult with every box's mask replaced by ``transform(index, mask)``.

    Boxes are repainted in box order through :meth:`SegmentationResult.add_box` (later boxes
    win on overlap); ``seconds`` of each record is the original's plus the transform's time;
    ``extra`` is copied. The input is not modified.

    Examples
    --------
    >>> from classicseg.result import SegmentationResult
    >>> r = SegmentationResult.empty((3, 3), 1)
    >>> r.add_box(0, np.eye(3, dtype=bool), method="x")
    >>> out = relabel_result(r, lambda i, m: ~m, method="inverted")
    >>> int(out.segs.sum()), out.boxes[0].method, int(r.segs.sum())
    (6, 'inverted', 3)
    """
    from ..result import SegmentationResult

    out = SegmentationResult.empty(result.segs.shape, len(result.boxes))
    t_case = time.perf_counter()
    for i, rec in enumerate(result.boxes):
        t0 = time.perf_counter()
        mask = np.asarray(transform(i, result.segs == i + 1), dtype=bool)
        out.add_box(i, mask, method=method, reason=rec.reason,
                    seconds=rec.seconds + time.perf_counter() - t0, **rec.extra)
    out.seconds = result.seconds + time.perf_counter() - t_case
    return out


_NAMES = {"none": "no post-processing", "box": "box filter", "lcc": "box filter + LCC",
          "full": "box filter + LCC + fill"}


def postprocessed(result, boxes, *, mode: str = "full", lcc: bool | None = None,
                  fill: bool | None = None):
    """Apply a post-processing mode to every box of a finished result.

    Per box (:func:`apply_postprocess` on the box's full-size mask): ``"box"`` zeroes the
    mask outside its box (what the paper's code does for LiteMedSAM), ``"lcc"`` also keeps
    the largest connected component, ``"full"`` also fills holes (what its §4.11 describes).
    Each record's ``extra["postprocess"]`` becomes ``mode``.

    Parameters
    ----------
    result : SegmentationResult
    boxes : array_like (N, 4) or (N, 6)
        One box per record of ``result``.
    mode : {"none", "box", "lcc", "full"}
    lcc, fill : bool, optional
        Deprecated (classicseg 0.1): the flags on top of the box filter; use ``mode``.

    Examples
    --------
    >>> from classicseg.result import SegmentationResult
    >>> r = SegmentationResult.empty((5, 8), 1)
    >>> m = np.zeros((5, 8), bool); m[1:4, 1:4] = True; m[2, 2] = False; m[0, 7] = True
    >>> r.add_box(0, m, method="x")
    >>> [int(postprocessed(r, [[0, 0, 4, 4]], mode=k).segs.sum()) for k in ("box", "full")]
    [8, 9]
    """
    if lcc is not None or fill is not None:
        mode = _legacy_flags(mode, "full", box=True, lcc=True if lcc is None else bool(lcc),
                             fill=True if fill is None else bool(fill), where="postprocessed",
                             arg_name="mode")
    mode = _check_mode(mode, "mode")
    b = np.asarray(boxes)
    if len(b) != len(result.boxes):
        raise ValueError(f"{len(b)} boxes for a result with {len(result.boxes)}")
    out = relabel_result(result, lambda i, m: apply_postprocess(m, mode, box=b[i]),
                         method=_NAMES[mode])
    for rec in out.boxes:
        rec.extra["postprocess"] = mode
    return out
