# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Box demo (browser test)
#
# Draw a box on the image: both classical methods segment what is inside it and the figure,
# Dice, NSD and time below update. The image is a **synthetic** phantom (two bright objects
# on noise) with exact ground truth. `tests/test_browser.py` opens this notebook in a real
# Chromium, runs it, drags a new box with the mouse and reads the result back from the kernel.

# %%
import json

import numpy as np

from classicseg.boxes import box_slices
from classicseg.io import Case
from classicseg.methods.postprocess import postprocess_mask
from classicseg.methods.thresholds import threshold_otsu
from classicseg.result import SegmentationResult
from classicseg.widgets import InteractiveComparison

H, W = 240, 320
yy, xx = np.mgrid[:H, :W]
gts = np.zeros((H, W), np.uint16)
gts[(yy - 90) ** 2 + (xx - 75) ** 2 <= 38 ** 2] = 1                       # disc, left
gts[((yy - 165) / 30.0) ** 2 + ((xx - 225) / 50.0) ** 2 <= 1] = 2          # ellipse, right
rng = np.random.default_rng(0)
gray = np.clip(60 + 110 * (gts > 0) + rng.normal(0, 28, (H, W)), 0, 255).astype(np.uint8)
case = Case("2DBox_Microscopy_boxdemo", np.repeat(gray[..., None], 3, axis=2),
            boxes=np.array([[30, 45, 120, 135]]), gts=gts,
            meta={"synthetic": True, "source": "tests/notebooks/browser_nb/box_demo.py"})
case


# %%
def _threshold_method(name, *, post):
    """A box-prompted threshold segmenter: Otsu on the box's gray values (+ optional clean-up)."""
    def segment(image, boxes):
        res = SegmentationResult.empty(image.shape[:2], len(boxes))
        for i, b in enumerate(boxes):
            where = box_slices(b)
            crop = image[where][..., 0]
            mask = crop > threshold_otsu(crop, 256)
            if post:
                mask = postprocess_mask(mask)
            res.add_box(i, mask, where, method=name)
        return res
    return segment


methods = {"Otsu (raw)": _threshold_method("otsu", post=False),
           "Otsu + LCC + fill": _threshold_method("otsu+pp", post=True)}
cmp = InteractiveComparison(case, methods)
cmp

# %%
# Headless runs (nbval) check the default box here; the browser test drags a new one.
assert cmp.label == 1 and cmp.last["Otsu + LCC + fill"].dsc > 0.9, cmp.last


# %%
def readback():
    """What the kernel holds now: box, scored object, Dice and each mask's centroid (x, y)."""
    cents = {}
    for name, res in cmp.results.items():
        ys, xs = np.nonzero(res.segs)
        cents[name] = [float(xs.mean()), float(ys.mean())] if xs.size else None
    return {"box": cmp.box.tolist(), "label": cmp.label, "n_updates": cmp.n_updates,
            "dice": {k: v.dsc for k, v in cmp.last.items()}, "centroid": cents}


print("READBACK " + json.dumps(readback()))
