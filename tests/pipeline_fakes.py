"""Fast stand-ins for the models, injected into :class:`classicseg.pipeline.core.Pipeline`.

A real LiteMedSAM encoder pass costs ~1.5 s here, so pipeline tests use :class:`FakeModels`:
its "LiteMedSAM" thresholds each box crop at the crop's mean (deterministic, a few ms) and
records the arguments it got, so tests can check what the pipeline asked for (e.g. ``s``).
Module-level classes, so Dask workers can unpickle them.
"""

from __future__ import annotations

import numpy as np
import pytest

from classicseg.boxes import box_slices
from classicseg.pipeline.core import Models, clear_model_cache
from classicseg.result import SegmentationResult


class FakeLiteMedSAM:
    """Box-prompted "segmenter": pixels brighter than their box's mean, per box, later boxes win."""

    method = "litemedsam"

    def __init__(self, interrupt_at: int | None = None):
        self.interrupt_at = interrupt_at  # call number that raises KeyboardInterrupt (Ctrl-C tests)
        self.calls = []

    def segment(self, image, boxes, *, s=1, crop=False, postprocess=False, lcc=False, fill=False):
        image = np.asarray(image)
        self.calls.append({"shape": image.shape, "s": s, "crop": crop, "postprocess": postprocess,
                           "lcc": lcc, "fill": fill})
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        gray = (image if image.ndim == 3 and len(boxes) and np.asarray(boxes).shape[1] == 6
                else image[..., 0])
        res = SegmentationResult.empty(gray.shape, len(boxes))
        for i, box in enumerate(boxes):
            where = box_slices(box)
            crop_ = gray[where].astype(float)
            mask = crop_ > crop_.mean() if crop_.max() > crop_.min() else np.ones(crop_.shape, bool)
            res.add_box(i, mask, where, method="litemedsam", reason="fake LiteMedSAM", seconds=0.0,
                        s=int(s), iou_pred=0.9)
        return res


class FakeModels(Models):
    """Model provider whose LiteMedSAM is :class:`FakeLiteMedSAM`; no MobileUNet weights."""

    def __init__(self, *, mobileunet: bool = False, interrupt_at: int | None = None):
        super().__init__(warmup=False)  # so `calls` lists exactly the pipeline's calls
        self.with_mobileunet = mobileunet
        self.interrupt_at = interrupt_at

    def _key(self, name, *extra):
        return super()._key(name, *extra) + (self.interrupt_at,)

    def load_litemedsam(self):
        return FakeLiteMedSAM(self.interrupt_at)

    def load_mobileunet(self, modality):
        return FakeMobileUNet()

    def has_mobileunet(self, modality):
        return self.with_mobileunet


class FakeMobileUNet(FakeLiteMedSAM):
    def segment(self, image, boxes, *, postprocess=True):
        res = super().segment(image, boxes)
        for rec in res.boxes:
            rec.method = "mobileunet"
        return res


@pytest.fixture(autouse=True)
def fresh_models():
    """Each test starts and ends with an empty per-process model cache (import it to use it)."""
    clear_model_cache()
    yield
    clear_model_cache()
