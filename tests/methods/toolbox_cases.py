"""Synthetic phantoms and shared checks for the box-prompted toolbox tests (test_grabcut.py ...).

Every phantom is synthetic: a bright disk (2D) or ellipsoid (3D) on dark Gaussian noise,
with noise inside the object too, and a box 2 px larger than the object on every side.
"""

from __future__ import annotations

import numpy as np
import pytest

from classicseg.metrics import dice
from classicseg.result import SegmentationResult
from classicseg.validation import InvalidInputError

#: Dice a method must reach on the clear-contrast phantoms (issue 16's bar).
DICE_BAR = 0.9


def disk_2d(*, rgb: bool = False, seed: int = 0, shape=(80, 84), centre=(40, 38), r=14):
    """(image, gt, box): a bright disk on dark noise; RGB = a reddish disk on grey."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    gt = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= r ** 2
    img = rng.normal(50, 12, shape)
    img[gt] += 140
    if rgb:
        img = np.stack([img, 0.8 * img, 0.6 * img + 20], axis=-1)
    box = [centre[1] - r - 2, centre[0] - r - 2, centre[1] + r + 2, centre[0] + r + 2]
    return img.clip(0, 255).astype(np.uint8), gt, np.array([box])


def ball_3d(*, seed: int = 0, shape=(20, 40, 40), centre=(10, 20, 19), radii=(6, 11, 11)):
    """(volume, gt, box): a bright ellipsoid on dark noise, box (N, 6) 2 px larger."""
    rng = np.random.default_rng(seed)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    gt = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1
    vol = rng.normal(50, 12, shape)
    vol[gt] += 140
    (cz, cy, cx), (rz, ry, rx) = centre, radii
    box = [cx - rx - 2, cy - ry - 2, cz - rz - 2, cx + rx + 2, cy + ry + 2, cz + rz + 2]
    return vol.clip(0, 255).astype(np.uint8), gt, np.array([box])


def check_clear_contrast(segment, image, gt, boxes, *, method: str, postprocess: str,
                         **kw) -> float:
    """The method finds the object (Dice >= DICE_BAR) and records what ran; returns Dice."""
    res = segment(image, boxes, **kw)
    assert isinstance(res, SegmentationResult)
    assert res.segs.shape == gt.shape and res.segs.dtype == np.uint16
    assert set(np.unique(res.segs)) <= {0, 1}
    d = dice(gt, res.segs == 1)
    assert d >= DICE_BAR, f"{method}: Dice {d:.3f} < {DICE_BAR}"
    rec = res.boxes[0]
    assert rec.method == method and rec.reason.startswith(method)
    assert rec.extra["postprocess"] == postprocess and rec.seconds > 0
    return d


def check_box_filtering(segment, **kw):
    """Two boxes, bright structure outside both: labels 1 and 2 each only inside their box,
    nothing painted outside the boxes (also without post-processing)."""
    img, gt, box = disk_2d()
    img = img.copy()
    img[:, :6] = 230                     # a bright band outside every box
    second = np.array([[60, 50, 80, 76]])  # mostly background, touches the image border
    boxes = np.concatenate([box, second])
    res = segment(img, boxes, postprocess="none", **kw)
    inside = np.zeros(gt.shape, bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        mine = np.zeros(gt.shape, bool)
        mine[y0:y1 + 1, x0:x1 + 1] = True
        assert not ((res.segs == i + 1) & ~mine).any(), f"label {i + 1} outside its box"
        inside |= mine
    assert not res.segs[~inside].any()
    assert (res.segs == 1).any()
    assert [b.extra["postprocess"] for b in res.boxes] == ["none", "none"]


def check_bad_input(segment, *, allow_3d: bool = True):
    """The shared validator's errors, naming the argument."""
    img, _, box = disk_2d()
    with pytest.raises(InvalidInputError, match=r"boxes\[0\].*outside"):
        segment(img, [[70, 70, 90, 90]])
    with pytest.raises(InvalidInputError, match="boxes"):
        segment(img, [[1, 2, 3]])
    with pytest.raises(InvalidInputError, match=r"boxes\[0\].*inverted"):
        segment(img, [[30, 30, 10, 40]])
    with pytest.raises(InvalidInputError, match="image"):
        segment(np.zeros((8, 8, 2)), [[0, 0, 3, 3]])
    with pytest.raises(InvalidInputError, match="image"):
        segment(img.astype(bool), box)
    with pytest.raises(ValueError, match="postprocess"):
        segment(img, box, postprocess="on")
    vol, _, box3 = ball_3d()
    if not allow_3d:
        with pytest.raises(InvalidInputError, match="image.*2D images only"):
            segment(vol, box3)
    else:
        with pytest.raises(InvalidInputError, match=r"boxes must have shape \(N, 4\)"):
            segment(vol, box3[:, :5])
        with pytest.raises(InvalidInputError, match="image"):
            segment(vol, box)   # 2D boxes: a 2D image is expected
    with pytest.warns(UserWarning, match="no boxes"):
        assert not segment(img, np.zeros((0, 4))).segs.any()
