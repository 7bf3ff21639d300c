"""The common result of "a method segmented a case", used by every method and the pipeline.

Examples
--------
>>> import numpy as np
>>> res = SegmentationResult.empty((4, 5), n_boxes=2)
>>> res.add_box(0, np.ones((2, 2), bool), (slice(0, 2), slice(0, 2)), method="ght",
...             reason="test", seconds=0.01)
>>> res.add_box(1, np.ones((2, 2), bool), (slice(1, 3), slice(1, 3)), method="ght",
...             reason="test", seconds=0.01)
>>> res.segs  # later boxes win where they overlap
array([[1, 1, 0, 0, 0],
       [1, 2, 2, 0, 0],
       [0, 2, 2, 0, 0],
       [0, 0, 0, 0, 0]], dtype=uint16)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SegmentationResult", "BoxRecord"]


@dataclass
class BoxRecord:
    """What happened to one box: which method produced it, why, and how long it took."""

    method: str = ""
    reason: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)  # e.g. {"iou_pred": 0.93, "threshold": 87.0}


@dataclass
class SegmentationResult:
    """Instance mask (uint16, id = box index + 1) plus per-box provenance and timing.

    Overlap policy -- the one place it lives: boxes are painted in box order and a later
    box overwrites an earlier one where their masks overlap (the official LiteMedSAM
    script does the same).
    """

    segs: np.ndarray
    boxes: list[BoxRecord]
    seconds: float = 0.0  # wall time of the whole case (warm, in-process)
    extra: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, shape, n_boxes: int) -> "SegmentationResult":
        return cls(segs=np.zeros(tuple(shape), np.uint16),
                   boxes=[BoxRecord() for _ in range(n_boxes)])

    def add_box(self, index: int, mask, where=None, *, method: str, reason: str = "",
                seconds: float = 0.0, **extra) -> None:
        """Paint box ``index``'s boolean ``mask`` (full-size, or a crop placed at ``where``
        -- a tuple of slices) with label ``index + 1`` and record its provenance."""
        mask = np.asarray(mask, dtype=bool)
        target = self.segs if where is None else self.segs[where]
        if target.shape != mask.shape:
            raise ValueError(f"mask shape {mask.shape} does not fit target region {target.shape}")
        target[mask] = index + 1
        rec = self.boxes[index]
        rec.method, rec.reason, rec.seconds = method, reason, float(seconds)
        rec.extra.update(extra)

    @property
    def methods(self) -> list[str]:
        return [b.method for b in self.boxes]

