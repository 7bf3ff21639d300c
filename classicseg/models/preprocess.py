"""The 256 x 256 input pipeline shared by LiteMedSAM-style models and MobileUNet.

Numpy/OpenCV only (no torch), so it can be tested and reused anywhere. The steps are the
ones of the official LiteMedSAM inference script (docs/algorithms.md §10.3), which the
paper re-uses for its MobileUNet box crops (docs/algorithms.md §11):

1. resize so the longest side is 256: scale = 256 / max(H, W), new size
   ``int(dim * scale + 0.5)``, OpenCV area interpolation;
2. min-max normalise over all channels of the *resized* image (denominator clipped at 1e-8);
3. zero-pad bottom/right to 256 x 256.

A prediction made at 256 x 256 is mapped back by cropping the un-padded part and resizing
it to the original size (:func:`resize_mask_back`).

Examples
--------
>>> import numpy as np
>>> crop = np.random.default_rng(0).integers(0, 255, (40, 100, 3), dtype=np.uint8)
>>> x, (newh, neww) = preprocess_for_256(crop)
>>> x.shape, x.dtype, (newh, neww)
((256, 256, 3), dtype('float32'), (102, 256))
>>> float(x[:newh, :neww].min()), float(x[:newh, :neww].max()), float(x[newh:].max())
(0.0, 1.0, 0.0)
>>> logits = np.zeros((256, 256), np.float32); logits[:newh, :neww] = 1.0
>>> resize_mask_back(logits, (newh, neww), crop.shape[:2]).shape
(40, 100)
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["resize_longest_side", "normalize_minmax", "pad_to_square", "preprocess_for_256",
           "resize_mask_back", "longest_side_size"]


def longest_side_size(hw, target: int = 256) -> tuple[int, int]:
    """``(newh, neww)`` after scaling the longest side of ``hw`` to ``target``.

    Rounds as the official LiteMedSAM script does: ``int(dim * scale + 0.5)``.

    >>> longest_side_size((40, 100))
    (102, 256)
    """
    h, w = int(hw[0]), int(hw[1])
    if h < 1 or w < 1:
        raise ValueError(f"image size must be positive, got {(h, w)}")
    if target < 1:
        raise ValueError(f"target must be a positive integer, got {target}")
    scale = target / max(h, w)
    return max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))


def resize_longest_side(img, target: int = 256) -> np.ndarray:
    """Resize ``img`` ((H, W) or (H, W, C)) so its longest side is ``target`` (area interpolation).

    The dtype is kept; a single-channel (H, W, 1) input keeps its channel axis (OpenCV
    would drop it).
    """
    a = np.asarray(img)
    if a.ndim not in (2, 3):
        raise ValueError(f"img must be (H, W) or (H, W, C), got shape {a.shape}")
    newh, neww = longest_side_size(a.shape[:2], target)
    out = cv2.resize(a, (neww, newh), interpolation=cv2.INTER_AREA)
    if a.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def normalize_minmax(img) -> np.ndarray:
    """Min-max normalise over all values to [0, 1] as float32 (a constant image gives zeros)."""
    a = np.asarray(img, dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / max(hi - lo, 1e-8)


def pad_to_square(img, size: int = 256) -> np.ndarray:
    """Zero-pad ``img`` at the bottom and right to ``size`` x ``size`` (channels untouched)."""
    a = np.asarray(img)
    h, w = a.shape[:2]
    if h > size or w > size:
        raise ValueError(f"image of size {(h, w)} does not fit into {size} x {size}")
    pad = [(0, size - h), (0, size - w)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, pad)


def preprocess_for_256(img, size: int = 256) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize longest side -> min-max -> zero-pad: the model input for one image or box crop.

    Parameters
    ----------
    img : ndarray
        (H, W, 3) image (any numeric dtype) or (H, W) grayscale, repeated to 3 channels.
    size : int
        Model input size (256 for LiteMedSAM and MobileUNet).

    Returns
    -------
    x : ndarray, (size, size, 3) float32 in [0, 1]
    (newh, neww) : the size of the resized, un-padded part of ``x``.
    """
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"img must be (H, W, 3) or (H, W), got shape {np.shape(img)}")
    if not np.all(np.isfinite(a)):
        raise ValueError("img contains NaN or inf")
    resized = normalize_minmax(resize_longest_side(a, size))
    return pad_to_square(resized, size), resized.shape[:2]


def resize_mask_back(logits_or_mask, newhw, out_hw) -> np.ndarray:
    """Crop the un-padded ``newhw`` part of a (size, size) prediction and resize it to ``out_hw``.

    Float logits/probabilities are resized bilinearly (half-pixel centres, like torch's
    ``align_corners=False``) and returned as float32 -- threshold them afterwards; a boolean
    or integer mask is resized with nearest neighbour and keeps its dtype.
    """
    a = np.asarray(logits_or_mask)
    if a.ndim != 2:
        raise ValueError(f"logits_or_mask must be 2D, got shape {a.shape}")
    newh, neww = int(newhw[0]), int(newhw[1])
    outh, outw = int(out_hw[0]), int(out_hw[1])
    if not (0 < newh <= a.shape[0] and 0 < neww <= a.shape[1]):
        raise ValueError(f"newhw {newhw} does not fit into the prediction of shape {a.shape}")
    if outh < 1 or outw < 1:
        raise ValueError(f"out_hw must be positive, got {out_hw}")
    part = a[:newh, :neww]
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        # OpenCV cannot resize bool/int64; uint8 (or int32 labels) through nearest keeps values
        # exact.
        work = part.astype(np.uint8 if a.dtype == bool else np.int32)
        out = cv2.resize(work, (outw, outh), interpolation=cv2.INTER_NEAREST)
        return out.astype(a.dtype)
    return cv2.resize(part.astype(np.float32), (outw, outh), interpolation=cv2.INTER_LINEAR)
