# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11 · Inside LiteMedSAM: the 256-px frame, encode once / prompt many, and the IoU head
#
# ## Overview
#
# **Learning goals.** After this notebook you can
# 1. show the 256 × 256 image LiteMedSAM really sees, and why a small box becomes a few pixels
#    of it — and what crop-then-infer (`segment(..., crop=True)`) changes;
# 2. run the model in its two halves, the heavy image **encoder** and the light prompt
#    **decoder** (`encode` / `decode` / `logits_to_mask`), and measure which one costs the time;
# 3. prompt one image many times for the price of one encoder pass ("encode once, prompt
#    many", `EmbeddingCache`);
# 4. read the decoder's predicted IoU against the real Dice of each box, and say why it cannot
#    flag failures on its own.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Tour](00_tour.ipynb): boxes, DSC | Necessary | the score used here |
# | [04 · Microscopy](04_microscopy.ipynb) | Helpful | the nuclei image, classical methods on it |
# | [09 · Failure gallery](09_failure_gallery.ipynb) §3 | Helpful | the IoU question on phantoms |
# | [10 · Classical toolbox](10_classical_toolbox.ipynb) | Helpful | box robustness, cached |
# | Transformers, SAM's architecture | Not needed | one sentence each below |
#
# **Time to learn**: ~25 minutes; runs in about 60 s on a 2-core laptop CPU (four encoder
# passes plus one in an exercise; each takes 0.4–6 s depending on the load).
#
# > **Data.**
# > * **Real** fluorescence nuclei, `microscopy-nuclei-stardist`, bundled in `data_samples/`:
# >   the StarDist 0.9.2 example image (**BSD-3-Clause**, © Uwe Schmidt, Martin Weigert; from
# >   the 2018 Data Science Bowl, BBBC038v1, see `data_samples/README.md` and
# >   `data_samples/MANIFEST.tsv`), 512 × 512 px with 125 labelled nuclei; here every sixth
# >   nucleus (21 boxes), to keep the notebook fast.
# > * No synthetic data. The model is the genuine LiteMedSAM checkpoint (MedSAM authors),
# >   verified by its SHA-256.
# >
# > Boxes are the tight boxes of the labels, as in the challenge, except where we loosen them.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from classicseg import samples, viz
from classicseg.analysis.failures import flag_curve, flag_quality, spearman
from classicseg.metrics import dice
from classicseg.models.litemedsam import LiteMedSAM
from classicseg.models.litemedsam.embedding_cache import EmbeddingCache
from classicseg.models.litemedsam.geometry import SIZE, context_window, scale_boxes_256
from classicseg.verify import verify, verify_between, verify_greater

model = LiteMedSAM.load()        # backend="auto": the fastest installed backend whose parity holds
print(f"backend: {model.backend} ({model.precision})\nwhy: {model.backend_reason}")

nuclei = samples.load("microscopy-nuclei-stardist")
picked = np.arange(0, len(nuclei.boxes), 6)      # every sixth nucleus: 21 of 125
boxes = nuclei.boxes[picked]
truth = [nuclei.gts == j + 1 for j in picked]   # box j is the tight box of label j + 1
print(f"{nuclei.name}: image {nuclei.image.shape}, {len(nuclei.boxes)} nuclei, "
      f"using {len(boxes)} boxes")
verify(len(boxes) == 21 and nuclei.image.shape[:2] == (512, 512),
       "we use 21 boxes of the 512 x 512 image")

# %% [markdown]
# ## 1 · The 256-px frame the model sees
#
# LiteMedSAM never sees your image. `preprocess` resizes it so that its **longest side is
# 256 px**, min-max normalises it and zero-pads it to 256 × 256 (`SIZE`); boxes go into the
# same frame with `scale_boxes_256` (`int(c * 256 / max(H, W))`, truncated as in the official
# script). The encoder then turns the 256 frame into a 64 × 64 grid of embedding cells, one
# per 4 × 4 px of the frame. A nucleus box of ~30 px in the 512-px image is ~15 px in the
# frame: three to four embedding cells across (printed below).

# %%
prep = model.preprocess(nuclei.image)
frame = prep.array[0].transpose(1, 2, 0)          # (256, 256, 3), values in [0, 1]
boxes_256 = scale_boxes_256(boxes, prep.original_size)
side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 1
side_256 = np.maximum(boxes_256[:, 2] - boxes_256[:, 0], boxes_256[:, 3] - boxes_256[:, 1])
print(f"model input {prep.array.shape}, un-padded part {prep.new_size} of {prep.original_size}")
print(f"median box side: {np.median(side):.0f} px in the image, {np.median(side_256):.0f} px in "
      f"the 256 frame = {np.median(side_256) / 4:.1f} embedding cells")
verify(prep.array.shape == (1, 3, SIZE, SIZE), "the model input is 1 x 3 x 256 x 256")
verify_between(np.median(side), 25, 35, "the median box side in the image (px, ~30)")
verify_between(np.median(side_256), 12, 17, "the median box side in the 256 frame (px, ~15)")
verify_between(np.median(side_256) / 4, 2, 4, "the median box spans this many embedding cells")

# %% [markdown]
# **Crop-then-infer** (`segment(..., crop=True, context=2.0)`) cuts a square window of twice
# the box's longest side around each box (`context_window`) and gives *that* to the model: the
# same nucleus now fills half of the 256 frame. The price: one encoder pass per box instead of
# one per image.

# %%
small = np.argsort(side)[:3]                      # the three smallest picked nuclei
k = small[0]
rows, cols = context_window(boxes[k], prep.original_size, 2.0)
window = nuclei.image[rows, cols]
crop_prep = model.preprocess(window)
local = boxes[k] - np.array([cols.start, rows.start, cols.start, rows.start])
crop_box_256 = scale_boxes_256(local[None], window.shape[:2])[0]
crop_side = max(crop_box_256[2] - crop_box_256[0], crop_box_256[3] - crop_box_256[1])
print(f"box #{picked[k] + 1}: {side[k]} px in the image, {side_256[k]} px in the whole-image "
      f"frame, {crop_side} px in the crop's frame (window {window.shape[:2]})")
verify_greater(crop_side, 5 * side_256[k], "the box in the crop's frame", "5x the whole frame's")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.9))
panels = [(nuclei.image, boxes[k], f"image {nuclei.image.shape[0]} px"),
          (frame, boxes_256[k], f"what the model sees: {SIZE} px"),
          (crop_prep.array[0].transpose(1, 2, 0), crop_box_256, "crop-then-infer: 256 px")]
for ax, (im, b, title) in zip(axes, panels):
    ax.imshow(im, cmap="gray")
    ax.add_patch(Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, color="yellow"))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.suptitle("One nucleus box, three frames (real: StarDist / BBBC038)", fontsize=10)
viz.show(fig, alt="Real fluorescence nuclei (StarDist/BBBC038): the same small nucleus box in "
              "the 512 px image, in the 256 px model input where it is only a few pixels wide, "
              "and in the crop-then-infer input where it fills half the frame.")

# %% [markdown]
# ## 2 · Two halves: a heavy encoder, a light decoder
#
# `encode` runs the TinyViT image encoder on the 256 frame and returns an embedding of shape
# (1, 256, 64, 64). `decode` takes that embedding and boxes in the 256 frame and returns
# low-resolution logits (one 256 × 256 map per box) and the decoder's **predicted IoU** per
# box; `logits_to_mask` crops the logits to the un-padded part, upsamples them to the image
# and thresholds at 0. We run the encoder inside an `EmbeddingCache` (section 3), which
# records its time.

# %%
cache = EmbeddingCache(model)
with cache:
    embedding = model.encode(prep.array)           # a miss: the encoder runs
t_encode = cache.seconds_encode
t0 = time.perf_counter()
logits, iou_manual = model.decode(embedding, boxes_256[:1])
t_decode_one = time.perf_counter() - t0
mask0 = model.logits_to_mask(logits[0], prep.new_size, prep.original_size)
print(f"embedding {tuple(embedding.shape)}, logits {tuple(logits.shape)}, "
      f"mask {mask0.shape}, predicted IoU {float(iou_manual[0]):.2f}, "
      f"Dice {dice(truth[0], mask0):.2f}")
print(f"encoder pass {t_encode:.2f} s; one decoder call {t_decode_one:.3f} s "
      f"({t_encode / t_decode_one:.0f}x) -- absolute times depend on your machine and its load")
verify(tuple(embedding.shape) == (1, 256, 64, 64), "the embedding is 1 x 256 x 64 x 64")
verify_greater(t_encode, t_decode_one, "an encoder pass", "a decoder call")

# %% [markdown]
# The encoder pass costs several times a decoder call (the printed ratio; it varies with the
# machine, so only the ordering is checked). This is why the official script encodes each
# image **once** and decodes every box against the same embedding, and why crop-then-infer,
# one encoder pass per box, is so much slower on images with many boxes.
#
# ## 3 · Encode once, prompt many
#
# `EmbeddingCache` keeps embeddings by the content of the 256 frame: while it is active, the
# model's `encode` only runs for frames it has not seen. `cache.segment(image, boxes)` is
# `model.segment` with the cache on. The frame is already in the cache, so segmenting all 21
# boxes — and then 21 loosened boxes — needs no further encoder pass.

# %%
t0 = time.perf_counter()
whole = cache.segment(nuclei.image, boxes)
t_whole = time.perf_counter() - t0
loose_boxes = np.clip(boxes + np.array([-3, -3, 3, 3]), 0, 511)   # 3 px looser on every side
loose = cache.segment(nuclei.image, loose_boxes)
print(cache, f"-- encoder time saved so far: {cache.seconds_saved:.2f} s")
print(f"21 boxes from the cached embedding: {t_whole:.2f} s")
verify(cache.misses == 1 and cache.hits == 2,
       "the one encoder pass of section 2 served both segment calls")
verify(np.array_equal(whole.segs == 1, mask0),
       "segment() and the hand-made encode/decode/logits_to_mask give the same mask")

# %%
dsc = np.array([dice(t, whole.segs == i + 1) for i, t in enumerate(truth)])
dsc_loose = np.array([dice(t, loose.segs == i + 1) for i, t in enumerate(truth)])
iou_pred = np.array([b.extra["iou_pred"] for b in whole.boxes])
iou_pred_loose = np.array([b.extra["iou_pred"] for b in loose.boxes])
print(f"mean Dice: tight boxes {dsc.mean():.3f}, 3 px looser {dsc_loose.mean():.3f}; "
      f"mean predicted IoU: {iou_pred.mean():.3f} vs {iou_pred_loose.mean():.3f}")
verify_greater(dsc.mean(), dsc_loose.mean(), "the tight boxes' mean Dice", "the loose boxes'",
               by=0.02)
verify(abs(iou_pred.mean() - iou_pred_loose.mean()) < (dsc.mean() - dsc_loose.mean()) / 2,
       "the mean predicted IoU moves less than half as much as the mean Dice")

# %% [markdown]
# Loosening every box by only 3 px lowers the mean Dice by several points: on objects this
# small, 3 px is a large share of the box. (Lesson 10 measures this box sensitivity for every
# method.) Note the model's own predicted IoU: it hardly moves. Keep that in mind for
# section 4.
#
# Now crop-then-infer on the three smallest nuclei: three more encoder passes.

# %%
cropped = model.segment(nuclei.image, boxes[small], crop=True)
crop_table = pd.DataFrame({
    "nucleus": picked[small] + 1, "box side (px)": side[small],
    "Dice whole image": dsc[small],
    "Dice crop-then-infer": [dice(truth[s], cropped.segs == i + 1) for i, s in enumerate(small)],
    "predicted IoU whole": iou_pred[small],
    "predicted IoU crop": [b.extra["iou_pred"] for b in cropped.boxes]})
gain = crop_table["Dice crop-then-infer"] - crop_table["Dice whole image"]
print(crop_table.round(3).to_string(index=False))
verify((gain > 0.1).sum() == 1 and (gain < -0.1).sum() == 2,
       "crop-then-infer helps one small nucleus by over 0.1 and hurts the other two by over 0.1")

# %% [markdown]
# On these three small real nuclei crop-then-infer is **not** a free win: one nucleus gains
# more than 0.1 Dice, the other two lose more than 0.1. A bigger object in the frame gives the
# decoder more embedding cells, but the crop also removes the context (the neighbouring
# nuclei, the background level) the encoder was trained with. Three boxes show the mechanism
# in both directions, not how often each happens; `classicseg run --crop` on a whole
# directory, scored with `classicseg evaluate`, measures it.
#
# ## 4 · The IoU head: a confidence, not a check
#
# Besides the mask, the decoder has a small **IoU head** that predicts the IoU of its own mask
# with the object. It was trained on SAM's data to rank the decoder's candidate masks; it never
# sees your ground truth. Is it good enough to flag the boxes that failed? No box here has a
# Dice below 0.5, so we call a box a failure below **Dice 0.7**.

# %%
real_iou = dsc / (2 - dsc)                     # IoU from Dice: IoU = D / (2 - D)
rho = spearman(iou_pred, dsc)
quality = flag_quality(iou_pred, dsc, fail_below=0.7)
curve = pd.DataFrame(flag_curve(iou_pred, dsc, fail_below=0.7))
catch_all = curve[curve.recall >= 1].iloc[0]
print(f"Spearman(predicted IoU, Dice) = {rho:.2f} over {len(dsc)} boxes; "
      f"ROC AUC {quality['roc_auc']:.2f} for {quality['failures']} failures")
over = (iou_pred > real_iou).mean()
print(f"mean predicted IoU {iou_pred.mean():.2f} vs mean real IoU {real_iou.mean():.2f}; "
      f"predicted above real for {over:.0%} of the boxes")
print(f"catching every failure means flagging {int(catch_all.flagged)} of {len(dsc)} boxes "
      f"(threshold {catch_all.threshold:.2f}), {int(catch_all.false_alarms)} false alarms")
verify_between(rho, 0.3, 0.9, "the Spearman correlation (a real but loose ranking)")
verify(quality["failures"] == 3, "three boxes have Dice below 0.7")
verify_greater(iou_pred.mean(), real_iou.mean(), "the mean predicted IoU", "the mean real IoU",
               by=0.05)
verify(over > 0.8, "for most boxes (over 80 %) the predicted IoU is above the real IoU")
verify(catch_all.flagged / len(dsc) > 0.4, "catching every failure flags over 40 % of the boxes")

# %%
fig, ax = plt.subplots(figsize=(5.5, 4.2))
ax.scatter(iou_pred, real_iou, s=18, label="whole image, tight box")
ax.scatter(iou_pred_loose, dsc_loose / (2 - dsc_loose), s=18, marker="x",
           label="whole image, 3 px looser box")
ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="predicted = real")
ax.set(xlabel="LiteMedSAM's predicted IoU", ylabel="real IoU of the box", xlim=(0.3, 1),
       ylim=(0.3, 1), title="Predicted vs real IoU, 21 nuclei (real: StarDist)")
ax.legend(fontsize=7)
viz.show(fig, alt="Scatter of predicted IoU against real IoU for 21 real StarDist nuclei with "
              "tight and loosened boxes; most points lie below the diagonal, so the model is "
              "over-confident, and the points form a loose cloud.")

# %% [markdown]
# On this real image the predicted IoU does carry information: it ranks the boxes better than
# chance (Spearman and ROC AUC printed above) — better than on the phantoms of lesson 09. It
# still cannot flag failures on its own:
#
# * it is **over-confident**: the mean predicted IoU is well above the real one, and most points
#   (printed share) lie below the diagonal, so its value does not tell you how good a mask is;
# * catching **every** failure takes a threshold that flags about half of all boxes, most of
#   them false alarms (printed above); and where the threshold should be changes from image to image
#   (lesson 09 shows one whose worst case is its most confident);
# * the reason is built in: the head scores the mask against what the decoder itself
#   believes the object is. A box that is too loose, or a nucleus merged with its neighbour, is
#   segmented *and* scored from the same wrong belief: with the 3 px looser boxes of section 3
#   the mean Dice dropped by several points while the mean predicted IoU hardly moved (the
#   crosses in the plot sit lower, not further left).
#
# 21 boxes of one image are a mechanism, not a benchmark; lesson 09 §4 runs the same check on
# real challenge cases when they are available.
#
# ## Exercises
#
# **Exercise 1.** Use the cache: prompt the 21 nuclei with boxes shifted 4 px to the right
# (`boxes + [4, 0, 4, 0]`) through `cache.segment`. Check that no encoder pass was added, and
# compare the mean Dice with the tight boxes'.
#
# <details><summary>Hint</summary>
#
# `cache.misses` counts encoder passes; it should stay 1. A shift cuts a strip of every nucleus
# off: the mean Dice drops. Solution in the cell tagged `solution`.
# </details>

# %%
shifted_boxes = ...   # your code: np.clip(boxes + ..., 0, 511)
# then: shifted = cache.segment(nuclei.image, shifted_boxes); cache.misses; mean Dice

# %% tags=["solution"]
shifted_boxes = np.clip(boxes + np.array([4, 0, 4, 0]), 0, 511)
shifted = cache.segment(nuclei.image, shifted_boxes)
dsc_shifted = np.array([dice(t, shifted.segs == i + 1) for i, t in enumerate(truth)])
print(cache, f"mean Dice shifted {dsc_shifted.mean():.3f} vs tight {dsc.mean():.3f}")
verify(cache.misses == 1, "the shifted boxes needed no new encoder pass")
verify_greater(dsc.mean(), dsc_shifted.mean(), "the tight boxes", "the shifted boxes")

# %% [markdown]
# **Exercise 2.** The worst whole-image nucleus (lowest Dice in `dsc`) is one of the three
# cropped above, at `context=2.0`. Segment it with crop-then-infer at `context=4.0` (one more
# encoder pass). Does more context bring its Dice back towards the whole-image value?
#
# <details><summary>Hint</summary>
#
# `model.segment(nuclei.image, boxes[[w]], crop=True, context=4.0)` with `w = dsc.argmin()`.
# The whole image is the limit of a very large context: here the gain of cropping came from
# the tight window, and most of it is gone at context 4. Solution in the cell tagged
# `solution`.
# </details>

# %%
w = ...   # your code: the index of the worst box, then model.segment(..., crop=True, context=c)

# %% tags=["solution"]
w = int(dsc.argmin())
verify(w in small, "the worst box is one of the three smallest (section 3 cropped it)")
by_context = {2.0: float(crop_table.set_index("nucleus").loc[picked[w] + 1,
                                                             "Dice crop-then-infer"]),
              4.0: dice(truth[w], model.segment(nuclei.image, boxes[[w]], crop=True,
                                                context=4.0).segs == 1)}
print(f"nucleus #{picked[w] + 1}: whole image {dsc[w]:.3f}, "
      + ", ".join(f"context {c:g}: {v:.3f}" for c, v in by_context.items()))
verify(abs(by_context[4.0] - dsc[w]) < abs(by_context[2.0] - dsc[w]),
       "with context 4 the crop's Dice is closer to the whole-image Dice than with context 2")

# %% [markdown]
# ## Key points (summary)
#
# * LiteMedSAM sees a 256 × 256 frame (longest side 256, min-max normalised, zero-padded); a
#   small box becomes a few embedding cells. Crop-then-infer enlarges it but removes context —
#   on three small real nuclei it helped one and hurt two.
# * The encoder pass is the cost; a decoder call per box is cheap. Encode each image once and
#   decode every box against it — `EmbeddingCache` does this across calls, e.g. while a box is
#   dragged or perturbed.
# * `model.backend` and `model.backend_reason` say which runtime ran and why.
# * The decoder's predicted IoU ranks boxes loosely within an image but is over-confident and
#   has no threshold that carries over: it is the model's confidence, not a quality check.
#
# ## What's next
#
# * This is the last lesson. [09 · Failure gallery](09_failure_gallery.ipynb) asks the IoU
#   question across cases; [10 · Classical toolbox](10_classical_toolbox.ipynb) uses an
#   embedding cache for its box-robustness curves. `docs/algorithms.md` §10 and §15 describe
#   the inference exactly.
#
# ## References
#
# * Kirillov, A. et al. *Segment Anything*. ICCV 2023. doi:10.1109/ICCV51070.2023.00371
# * Ma, J. et al. *Segment anything in medical images* (MedSAM). Nat. Commun. 15, 654 (2024).
#   doi:10.1038/s41467-024-44824-z
# * Marinov, Z., Jaus, A., Kleesiek, J., Stiefelhagen, R. *Taking a Step Back: Revisiting
#   Classical Approaches for Efficient Interactive Segmentation of Medical Images* (CVPR 2024
#   MedSAM-on-Laptop challenge).
# * The challenge: CVPR 2024 *Segment Anything in Medical Images on Laptop*,
#   https://www.codabench.org/competitions/1847/
# * Caicedo, J. C. et al. *Nucleus segmentation across imaging experiments: the 2018 Data
#   Science Bowl*. Nat. Methods 16 (2019) — the nuclei image.
#
# ## Glossary
#
# * **256 frame** — the 256 × 256 model input: the image resized (longest side 256) and padded.
# * **Encoder pass** — one run of the image encoder (TinyViT) on one 256 frame; the expensive
#   step, independent of the boxes.
# * **Embedding** — the encoder's output, 256 features on a 64 × 64 grid of cells (4 × 4 px of
#   the frame each); every box is decoded against it.
# * **Decoder call** — one run of the prompt encoder + mask decoder for one box.
# * **Crop-then-infer** — give the model a window around the box instead of the whole image.
# * **IoU head** — the decoder's small output that predicts the IoU of its own mask.
# * **IoU / Dice** — overlap of two masks: |A∩B| / |A∪B| and 2|A∩B| / (|A| + |B|);
#   IoU = Dice / (2 − Dice).
# * **Spearman** — rank correlation: 1 when two scores order the boxes the same way.
# * **ROC AUC** — the chance that a random failure gets a lower predicted IoU than a random
#   success (0.5 = chance).
