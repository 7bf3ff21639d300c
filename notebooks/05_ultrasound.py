# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Ultrasound: LiteMedSAM, an ellipse, and the "task adapter" idea — on real fetal heads
#
# **Learning goals.** After this notebook you can
# 1. check the paper's observation (§2.3) on real data: fetal-head labels (HC18) are perfect
#    ellipses, so a "prediction bias" — forcing the output to be an ellipse — matches the
#    "label bias";
# 2. calibrate a Dice score with trivial baselines (fill the box; the ellipse inscribed in the
#    box) before believing a model's number;
# 3. measure the paper's §4.3 suggestion — LiteMedSAM + an ellipse fit — on six real heads (Dice,
#    NSD, head circumference), against a model-free skull-echo ellipse;
# 4. show why the paper did not ship it (the same prior hurts other targets) and try the simplest
#    "task adapter" (§4.13).
#
# **Prerequisites.** Notebook 00 (file format, boxes, DSC/NSD). What an ellipse fit is (least
# squares through boundary points). **Time:** about 30 minutes.
#
# **Data.**
# * Six **real** fetal-head ultrasound images with expert labels, bundled in `data_samples/`
#   (`us-hc18-082`, `-085`, `-178`, `-355`, `-640`, `-325`; 800 × 540 px, heads 7.5–46 % of the
#   image, two with a shadowed skull echo). Source: HC18 Grand Challenge training set (Radboud
#   University Medical Center, Nijmegen); label = a trained sonographer's ellipse outline,
#   filled. **Licence: CC BY 4.0.** Attribution:
#
#   > Contains images and annotations from the HC18 Grand Challenge training set:
#   > T. L. A. van den Heuvel, D. de Bruijn, C. L. de Korte, B. van Ginneken, "Automated
#   > measurement of fetal head circumference using 2D ultrasound images", Zenodo, 2018,
#   > doi:10.5281/zenodo.1327317 (paper: PLoS ONE 13(8):e0200412, 2018), licensed under
#   > CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Changes: the annotated ellipse
#   > outline was filled into a mask, a bounding box was derived, the grayscale image was
#   > replicated to 3 channels, and both were stored as .npz.
# * **Synthetic** phantoms, only where the real heads cannot teach: `us-fetal-head` (the same
#   head with and without skull drop-out, §4) and the other targets of §5 (lungs, polyp, optic
#   disc, skin lesion) — the only redistributable real cases with labels are fetal heads.
#
# The boxes are the tight boxes of the labels, as in the challenge. The paper's numbers
# (validation data, all ultrasound tasks) are quoted as the paper's.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from classicseg import samples, viz
from classicseg.analysis import studies
from classicseg.boxes import box_mask
from classicseg.methods.ellipse import (
    Ellipse,
    ellipse_agreement,
    ellipse_mask,
    ellipse_result,
    fit_ellipse,
    skull_ellipse,
)
from classicseg.metrics import dice, score_case
from classicseg.models.litemedsam import LiteMedSAM

model = LiteMedSAM.load()
names = [s.name for s in samples.list() if s.bundled and s.modality == "US"]
heads = {n: samples.load(n) for n in names}
CREDIT = "HC18, CC BY 4.0 (van den Heuvel et al. 2018)"

fig, axes = plt.subplots(2, 3, figsize=(12, 5.6))
for ax, (n, c) in zip(axes.flat, heads.items()):
    viz.overlay(ax, c.image, c.gts, boxes=c.boxes,
                title=f"{n}: head {100 * (c.gts > 0).mean():.1f} % of the image")
fig.suptitle(f"Six real fetal heads with their labels and boxes — {CREDIT}")
plt.show()

labels = pd.DataFrame({
    "head % of image": {n: 100 * (c.gts > 0).mean() for n, c in heads.items()},
    "Dice(label, its fitted ellipse)": {n: ellipse_agreement(c.gts == 1) for n, c in heads.items()},
    "label HC (px)": {n: fit_ellipse(c.gts == 1).circumference for n, c in heads.items()},
    "tilt (deg)": {n: (fit_ellipse(c.gts == 1).angle + 45) % 90 - 45 for n, c in heads.items()},
})
assert all(not c.synthetic and c.n_boxes == 1 for c in heads.values())
assert labels["Dice(label, its fitted ellipse)"].min() > 0.998     # the labels ARE ellipses
assert labels["head % of image"].min() < 8 and labels["head % of image"].max() > 46
labels.round(3)

# %% [markdown]
# Every label agrees with its own fitted ellipse at Dice > 0.998: the sonographer drew an
# ellipse, whatever the image shows under it — including where the skull echo is missing (640).
# `tilt` is the ellipse's rotation from the image axes: 085 is tilted most, then 355.
#
# ## 1 · What is a Dice worth here? Two baselines that never look at the image
#
# * **box fill**: the whole box is the head.
# * **box ellipse**: the ellipse inscribed in the box (axes = the box's width and height).
#
# An axis-aligned ellipse fills π/4 of its tight box, so the box fill scores
# Dice = 2·(π/4)/(1 + π/4) ≈ 0.880 on *any* such head; and the inscribed ellipse *is* the label
# when the label is not tilted. A box that is 5 % looser on each side (a sloppy user) shows how
# much of this comes from the box, not from any skill.

# %%
baselines = {
    "box fill": lambda im, b: box_mask(im.shape[:2], b[0]),
    "box ellipse": lambda im, b: ellipse_mask(im.shape[:2], Ellipse(
        (b[0, 0] + b[0, 2]) / 2, (b[0, 1] + b[0, 3]) / 2, b[0, 2] - b[0, 0] + 1,
        b[0, 3] - b[0, 1] + 1, 0.0)),
}
rows = []
for n, c in heads.items():
    loose = studies.scaled_boxes(c.boxes, 0.05, c.spatial_shape)
    row = {"case": n}
    for name, fn in baselines.items():
        row[name] = score_case(c.gts, fn(c.image, c.boxes).astype(np.uint8))["dsc"]
    row["box ellipse, box 5 % looser"] = score_case(
        c.gts, baselines["box ellipse"](c.image, loose).astype(np.uint8))["dsc"]
    rows.append(row)
calibration = pd.DataFrame(rows).set_index("case")
fill_theory = 2 * (np.pi / 4) / (1 + np.pi / 4)
print(f"box fill, theory for an axis-aligned ellipse: {fill_theory:.4f}")
assert (calibration["box fill"] - fill_theory).abs().max() < 0.005
assert calibration["box ellipse"].mean() > 0.975
assert calibration["box ellipse"].idxmin() == "us-hc18-085"        # the tilted head
assert calibration["box ellipse, box 5 % looser"].max() < 0.92
calibration.round(4)

# %% [markdown]
# With the challenge's tight boxes, **a Dice of 0.88 needs no image at all, and the inscribed
# ellipse reaches about 0.98** (lowest for the tilted 085 and 355). With a slightly looser box the
# inscribed ellipse falls to about 0.90. Keep these two numbers in mind for the next table.
#
# ## 2 · LiteMedSAM, LiteMedSAM + ellipse, and a model-free skull ellipse
#
# * **LiteMedSAM**: follows the echo it sees.
# * **LiteMedSAM + ellipse**: the ellipse fitted to LiteMedSAM's mask, filled (the paper's
#   "prediction bias", §4.3).
# * **skull ellipse**: no model — Otsu threshold inside the box, keep the largest bright
#   component (the skull ring), fill the ellipse fitted to its outline (milliseconds).

# %%
rows, results = [], {}
for n, c in heads.items():
    sam = model.segment(c.image, c.boxes)
    results[n] = {"LiteMedSAM": sam, "LiteMedSAM + ellipse": ellipse_result(sam),
                  "skull ellipse": skull_ellipse(c.image, c.boxes)}
    for name, r in results[n].items():
        s = score_case(c.gts, r.segs)
        rows.append({"case": n, "method": name, "dsc": s["dsc"], "nsd": s["nsd"],
                     "seconds": r.seconds})
    for name, fn in baselines.items():
        s = score_case(c.gts, fn(c.image, c.boxes).astype(np.uint8))
        rows.append({"case": n, "method": name, "dsc": s["dsc"], "nsd": s["nsd"],
                     "seconds": np.nan})
scores = pd.DataFrame(rows)
order = ["box fill", "box ellipse", "skull ellipse", "LiteMedSAM", "LiteMedSAM + ellipse"]
dsc = scores.pivot(index="case", columns="method", values="dsc")[order]
nsd = scores.pivot(index="case", columns="method", values="nsd")[order]
summary = pd.DataFrame({"mean DSC": dsc.mean(), "mean NSD": nsd.mean(),
                        "median seconds": scores.groupby("method")["seconds"].median()})
summary.loc[order].round(4)

# %%
dsc.round(4)

# %%
gain = dsc["LiteMedSAM + ellipse"] - dsc["LiteMedSAM"]
print("Dice gain of the ellipse fit over LiteMedSAM per case:", gain.round(4).to_dict())
# the paper's prediction bias helps on real heads -- a little, not everywhere
assert gain.mean() > 0 and (gain > 0).sum() >= 5 and gain.abs().max() < 0.01
assert nsd["LiteMedSAM + ellipse"].mean() > nsd["LiteMedSAM"].mean()
# ... and the inscribed box ellipse beats it on every head
assert (dsc["LiteMedSAM + ellipse"] < dsc["box ellipse"]).all()
# LiteMedSAM beats filling the box -- except on the tilted 085
assert dsc["LiteMedSAM"].mean() > dsc["box fill"].mean() + 0.05
assert dsc.loc["us-hc18-085", "LiteMedSAM"] < dsc.loc["us-hc18-085", "box fill"]
# the model-free skull ellipse: excellent on some rings, lost on others
assert dsc["skull ellipse"].max() > 0.9 and dsc["skull ellipse"].min() < 0.5

# %% [markdown]
# What the numbers show on these six real heads:
# * The ellipse fit improves LiteMedSAM on five of six heads, by less than one Dice point each
#   (see `gain`); NSD moves the same way. The paper's claim holds in direction, but it is small.
# * The inscribed **box ellipse, which never looks at the image, beats both** — because the
#   challenge's box is the tight box of an ellipse label. A Dice near 0.95 is therefore not a
#   strong result on HC18; with these boxes it is *below* a no-model baseline.
# * The skull ellipse is fine where the whole ring is bright (085, 355) and collapses where it
#   breaks into arcs (082, 178, 640 — exercise 3).
#
# Why is LiteMedSAM below the box ellipse? Its masks lie inside the label and are smaller:

# %%
inside = pd.DataFrame({
    "area / label area": {n: (r["LiteMedSAM"].segs == 1).sum() / (heads[n].gts == 1).sum()
                          for n, r in results.items()},
    "share of the mask inside the label": {
        n: ((r["LiteMedSAM"].segs == 1) & (heads[n].gts == 1)).sum()
        / (r["LiteMedSAM"].segs == 1).sum() for n, r in results.items()},
})
assert (inside["area / label area"] < 1).all()
assert inside["share of the mask inside the label"].min() > 0.97
inside.round(3)

# %%
from IPython.display import display

for n in ("us-hc18-085", "us-hc18-640"):
    c = heads[n]
    shown = {**results[n], "box ellipse": baselines["box ellipse"](c.image, c.boxes)}
    display(viz.side_by_side(c.image, c.gts, shown, boxes=c.boxes,
                             scores={k: v for k, v in dsc.loc[n].items() if k in shown},
                             title=f"{n} (real; {CREDIT})"))

# %% [markdown]
# LiteMedSAM stops at the inner side of the bright skull echo (085) or where the echo fades
# (the shadowed top of 640), while the sonographer's ellipse runs along the outside of the skull. An ellipse
# fitted to a mask that is too small is an ellipse that is too small: the prior fixes the
# *shape*, not the *size*.
#
# ## 3 · The measurement: head circumference
#
# HC18 is a measurement task: the head circumference (HC) of the fitted ellipse, by Ramanujan's
# formula. Here in pixels (the release's pixel sizes are not bundled), relative to the label's:

# %%
masks = {
    "LiteMedSAM + ellipse": {n: r["LiteMedSAM + ellipse"].segs for n, r in results.items()},
    "box ellipse": {n: baselines["box ellipse"](c.image, c.boxes) for n, c in heads.items()},
    "skull ellipse": {n: r["skull ellipse"].segs for n, r in results.items()},
}
hc = pd.DataFrame({"label HC (px)": labels["label HC (px)"]})
for method, by_case in masks.items():
    hc[f"{method} error %"] = pd.Series({
        n: 100 * (fit_ellipse(m).circumference / hc.loc[n, "label HC (px)"] - 1)
        for n, m in by_case.items()})
assert (hc["LiteMedSAM + ellipse error %"] < 0).all()          # always too small ...
assert hc["LiteMedSAM + ellipse error %"].min() < -10          # ... by up to > 10 %
assert hc["box ellipse error %"].abs().max() < 0.5
hc.round(2)

# %% [markdown]
# LiteMedSAM + ellipse underestimates every head circumference (by 0.8–12 %, worst on 085); the
# inscribed box ellipse is within half a percent — again because the box already encodes the
# answer. The skull ellipse's errors follow its Dice.
#
# ## 4 · What only a phantom can show: the same head with and without skull drop-out
#
# On real images the skull ellipse's failures mix several causes (faint echo, small head,
# bright tissue nearby). The **synthetic** `us-fetal-head` phantom isolates one: the same
# head (seed 0) with a clean ring and, in its `hard` variant, with a broken, weaker echo.

# %%
phantom = {hard: samples.load("us-fetal-head", hard=hard) for hard in (False, True)}
skull = {hard: dice(c.gts == 1, skull_ellipse(c.image, c.boxes).segs == 1)
         for hard, c in phantom.items()}
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
for a, (hard, c) in zip(ax, phantom.items()):
    viz.overlay(a, c.image, skull_ellipse(c.image, c.boxes).segs, boxes=c.boxes,
                title=f"skull ellipse, {'hard' if hard else 'normal'}: Dice {skull[hard]:.3f}",
                synthetic=True)
plt.show()
assert skull[False] > 0.95 and skull[True] < 0.75
print({("hard" if k else "normal"): round(v, 3) for k, v in skull.items()})

# %% [markdown]
# Same anatomy, same label: only the echo changed, and the model-free ellipse goes from
# excellent to useless. That is the cause behind 082, 178 and 640 above.
#
# ## 5 · The same prior on other tasks
#
# The paper (§2.3) could not ship the ellipse because ultrasound covers many tasks (breast
# lesions, thyroid, heart, kidney) and the task is unknown at test time. Apply the ellipse to
# LiteMedSAM's masks of other targets (**synthetic** phantoms) next to the real heads:

# %%
others = {"xray-lungs": "lung field", "endoscopy-polyp": "polyp",
          "fundus-optic-disc": "optic disc / bleed", "dermoscopy-lesion": "skin lesion"}
rows = []
for name, target in others.items():
    c = samples.load(name)
    sam = model.segment(c.image, c.boxes)
    ell = ellipse_result(sam)
    for i in range(c.n_boxes):
        rows.append({"sample": f"{name} (synthetic)", "box": i, "target": target,
                     "LiteMedSAM": dice(c.gts == i + 1, sam.segs == i + 1),
                     "LiteMedSAM + ellipse": dice(c.gts == i + 1, ell.segs == i + 1),
                     "ellipse agreement": ellipse_agreement(sam.segs == i + 1)})
for n, r in results.items():                      # the real heads of section 2, not run again
    rows.append({"sample": f"{n} (real)", "box": 0, "target": "fetal head (real)",
                 "LiteMedSAM": dsc.loc[n, "LiteMedSAM"],
                 "LiteMedSAM + ellipse": dsc.loc[n, "LiteMedSAM + ellipse"],
                 "ellipse agreement": ellipse_agreement(r["LiteMedSAM"].segs == 1)})
tasks = pd.DataFrame(rows)
tasks["gain"] = tasks["LiteMedSAM + ellipse"] - tasks["LiteMedSAM"]
not_head = tasks[tasks.target != "fetal head (real)"]
assert tasks[tasks.target == "lung field"].gain.min() < -0.05   # a lung is no ellipse
assert not_head.gain.mean() < 0
tasks.round(3)

# %% [markdown]
# ## 6 · A task adapter, the simplest possible
#
# The paper proposes (§4.13) a "task adapter" that tells MedSAM what it is segmenting; the
# authors' image classifier for "is this fetal-head ultrasound?" did not work. A cruder,
# model-free signal is in the prediction itself: **how elliptical is LiteMedSAM's own mask?**
# Use the ellipse only when the mask agrees with its fitted ellipse at Dice ≥ 0.975. (That gate
# was chosen on the synthetic heads of an earlier version of this lesson, before the real heads
# were added — so the real heads are held out for it.)

# %%
gate = 0.975
tasks["gated"] = np.where(tasks["ellipse agreement"] >= gate, tasks["LiteMedSAM + ellipse"],
                          tasks["LiteMedSAM"])
policy = pd.DataFrame({
    "never ellipse": tasks.groupby("target")["LiteMedSAM"].mean(),
    "always ellipse": tasks.groupby("target")["LiteMedSAM + ellipse"].mean(),
    "gated (agreement ≥ 0.975)": tasks.groupby("target")["gated"].mean(),
    "share gated": tasks.groupby("target")["ellipse agreement"].apply(
        lambda a: (a >= gate).mean()),
    "min agreement": tasks.groupby("target")["ellipse agreement"].min()})
assert policy.loc["fetal head (real)", "share gated"] >= 5 / 6
assert (policy.drop("fetal head (real)")["share gated"] == 0).all()
assert policy["gated (agreement ≥ 0.975)"].mean() > policy["always ellipse"].mean()
assert policy["gated (agreement ≥ 0.975)"].mean() >= policy["never ellipse"].mean()
policy.round(3)

# %% [markdown]
# The gate applies the ellipse to the real heads and keeps it away from every other target, so
# it is better than always using the ellipse and at least as good as never using it. Two
# cautions: the margin is thin (the least elliptical real head sits just above 0.975, see
# `min agreement`), and the other targets are phantoms — a real breast lesion or kidney can be
# just as elliptical. The paper's own ultrasound numbers (validation set, all tasks): LiteMedSAM
# **94.78** Dice vs a trained MobileUNet **79.12** (Table 7) — so they kept LiteMedSAM.
#
# ## 7 · Draw your own box
#
# The inscribed ellipse wins only with a tight box. Draw a box on the shadowed head 640;
# below, the cell makes it 5 % looser on each side and both methods run again.

# %%
from classicseg.widgets import InteractiveComparison

head = heads["us-hc18-640"]
compare = InteractiveComparison(head, {
    "LiteMedSAM + ellipse": lambda im, b: ellipse_result(model.segment(im, b)),
    "box ellipse": baselines["box ellipse"]})
tight = {k: v.dsc for k, v in compare.last.items()}
compare

# %%
compare.box = studies.scaled_boxes(head.boxes, 0.05, head.spatial_shape)[0]
loose = {k: v.dsc for k, v in compare.last.items()}
print("tight box:", {k: round(v, 4) for k, v in tight.items()})
print("5 % looser box:", {k: round(v, 4) for k, v in loose.items()})
assert compare.n_updates == 2
assert tight["box ellipse"] > tight["LiteMedSAM + ellipse"]
assert loose["box ellipse"] < loose["LiteMedSAM + ellipse"]

# %% [markdown]
# With the loose box the order flips: LiteMedSAM reads the image, the inscribed ellipse only
# reads the box.
#
# ## Summary
#
# * Real HC18 labels are ellipses (Dice > 0.998 with their own fit). With the challenge's tight
#   boxes, filling the box already gives Dice ≈ 0.88 and the inscribed ellipse about 0.98.
# * On six real heads the ellipse fit improves LiteMedSAM on five, by less than a Dice point;
#   LiteMedSAM's masks are too small (inside the skull echo), so every head circumference comes
#   out short (by up to 12 %) — the ellipse fixes the shape, not the size.
# * The model-free skull ellipse works on unbroken rings and collapses on broken ones (the
#   phantom isolates that cause).
# * The same prior hurts targets that are not ellipses; a shape gate separates the real heads
#   from the phantom targets here, with a thin margin.
#
# ## Exercises
#
# **Exercise 1.** Run LiteMedSAM + ellipse on all six heads with the 5 % looser boxes
# (`studies.scaled_boxes(c.boxes, 0.05, c.spatial_shape)`). Does it beat the inscribed box
# ellipse everywhere? What happens to its head-circumference error?
#
# <details><summary>Solution</summary>
#
# ```python
# for n, c in heads.items():
#     loose = studies.scaled_boxes(c.boxes, 0.05, c.spatial_shape)
#     r = ellipse_result(model.segment(c.image, loose))
#     box = baselines["box ellipse"](c.image, loose)
#     hc_err = 100 * (fit_ellipse(r.segs == 1).circumference / labels.loc[n, "label HC (px)"] - 1)
#     print(n, round(dice(c.gts == 1, r.segs == 1), 4), round(dice(c.gts == 1, box), 4),
#           round(hc_err, 1))
# ```
# Expect LiteMedSAM to move by about a Dice point or less (640: 0.972 → 0.964 in section 7)
# while the inscribed ellipse drops to about 0.90 (section 1). A fair baseline uses the same
# boxes a user would draw.
# </details>
#
# **Exercise 2.** Check the gate on more held-out cases: the synthetic heads with seeds 1–3
# (both variants) and `samples.load("endoscopy-polyp", seed=1)`. Does 0.975 still separate them?
#
# <details><summary>Solution</summary>
#
# ```python
# for seed in (1, 2, 3):
#     for hard in (False, True):
#         c = samples.load("us-fetal-head", seed=seed, hard=hard)
#         print(seed, hard, ellipse_agreement(model.segment(c.image, c.boxes).segs == 1))
# c = samples.load("endoscopy-polyp", seed=1)
# print("polyp", ellipse_agreement(model.segment(c.image, c.boxes).segs == 1))
# ```
# Compare the margins on both sides of the gate: a single shape number is a weak task detector,
# and the synthetic polyp of section 5 already sits at 0.963.
# </details>
#
# **Exercise 3.** Why does the skull ellipse fail on the real head 178? Show the Otsu mask of the
# box crop and its largest component (`classicseg.methods.postprocess.largest_component`).
#
# <details><summary>Solution</summary>
#
# ```python
# from classicseg.boxes import box_slices
# from classicseg.methods.postprocess import largest_component
# c = heads["us-hc18-178"]
# t = results["us-hc18-178"]["skull ellipse"].boxes[0].extra["threshold"]
# crop = c.image[box_slices(c.boxes[0])][..., 0]
# fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
# ax[0].imshow(crop > t); ax[1].imshow(largest_component(crop > t))
# ```
# The skull is bright only where the beam hits it square on (top and bottom); at the sides the
# echo fades, so the thresholded ring breaks into arcs. The largest component is one arc, and
# the ellipse fitted to one arc is a much smaller ellipse.
# </details>
