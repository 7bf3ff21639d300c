"""Synthetic microscopy phantoms: the four channel situations of the paper's router.

* :func:`microscopy_dark_cells` -- grayscale, small dark irregular cells on a bright
  background (the paper's Fig. 7 case where LiteMedSAM fails and k-means works).
* :func:`microscopy_round_nuclei` -- grayscale, bright round nuclei: the Hough-circle
  rule (> 35 % of boxes contain a circle) should send it to LiteMedSAM.
* :func:`microscopy_two_channel` -- fluorescence with one channel all zeros: the
  mean-intensity threshold case.
* :func:`microscopy_he` -- RGB, H&E-stained tissue with nuclei as targets.

All are 512 x 512 with many boxes (20-60), some tiny, which is what makes microscopy
expensive for a box-by-box model. Deterministic for a given seed.

>>> case = microscopy_two_channel(seed=0)
>>> bool((case.image[..., 2] == 0).all()), case.n_boxes > 15
(True, True)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ._common import boxes_from_labels, fraction_inside, gray_to_rgb, make_case, smooth_field

__all__ = ["microscopy_dark_cells", "microscopy_round_nuclei", "microscopy_two_channel",
           "microscopy_he"]

_SHAPE = (512, 512)


def _meta(generator, seed, hard, **extra):
    return {"synthetic": True, "generator": f"classicseg.samples.phantoms_microscopy.{generator}",
            "seed": int(seed), "hard": bool(hard), **extra}


def _blob_patch(rng, radius, *, irregularity, aspect, harmonics=(2, 3, 4, 5)):
    """Signed level (< 0 inside, ~pixels) of a star-shaped blob on its own small patch."""
    half = int(np.ceil(radius * np.sqrt(max(aspect, 1.0)) * (1 + irregularity))) + 3
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    ang = rng.uniform(0, np.pi)
    ca, sa = np.cos(ang), np.sin(ang)
    u, v = ca * yy - sa * xx, sa * yy + ca * xx
    u = u * aspect
    theta = np.arctan2(u, v)
    # semi-axes r/sqrt(a) and r*sqrt(a): the area of a circle of radius r
    rho = np.hypot(u, v) / np.sqrt(aspect)
    border = np.ones_like(theta)
    for k in harmonics:
        border += (irregularity / k * rng.uniform(0.3, 1.0)
                   * np.cos(k * theta + rng.uniform(0, 2 * np.pi)))
    return rho - radius * border


def _place(rng, n, radius_fn, *, irregularity, aspect_fn, gap=3, touching=0.0, forbidden=None,
           max_tries=4000):
    """Place ``n`` non-overlapping blobs; returns (labels, levels) with per-object patches.

    ``touching`` > 0 lets a new object overlap existing ones by that fraction of its area
    (it then only takes the free pixels), which makes clumps. No object touches
    ``forbidden`` (a boolean image), e.g. the lumen of a gland.
    """
    h, w = _SHAPE
    labels = np.zeros(_SHAPE, np.uint16)
    placed = []
    tries = 0
    while len(placed) < n and tries < max_tries:
        tries += 1
        r = radius_fn()
        lev = _blob_patch(rng, r, irregularity=irregularity, aspect=aspect_fn())
        ph, pw = lev.shape
        y0, x0 = int(rng.integers(2, h - ph - 2)), int(rng.integers(2, w - pw - 2))
        sl = (slice(y0, y0 + ph), slice(x0, x0 + pw))
        inside = lev < 0
        if inside.sum() < 9:
            continue
        grown = ndi.binary_dilation(inside, iterations=gap) if gap else inside
        clash = labels[sl][grown] > 0
        if clash.mean() > touching or (forbidden is not None and forbidden[sl][grown].any()):
            continue
        free = inside & (labels[sl] == 0)
        if free.sum() < 9:
            continue
        labels[sl][free] = len(placed) + 1
        placed.append((sl, lev))
    if len(placed) < n:  # pragma: no cover - only with absurd parameters
        raise RuntimeError(f"could place only {len(placed)} of {n} objects")
    return labels, placed


def _paint(canvas, placed, values, *, width=1.5, labels=None):
    """Alpha-blend each object's value into ``canvas`` with a partial-volume edge."""
    for i, ((sl, lev), val) in enumerate(zip(placed, values)):
        frac = fraction_inside(lev, width=width)
        if labels is not None:  # an object only covers its own pixels + its soft rim
            own = (labels[sl] == 0) | (labels[sl] == i + 1)
            frac = frac * own
        region = canvas[sl]
        if np.ndim(val) == 0 or region.ndim == 2:
            canvas[sl] = region * (1 - frac) + val * frac
        else:
            canvas[sl] = region * (1 - frac[..., None]) + np.asarray(val) * frac[..., None]


def microscopy_dark_cells(seed: int = 0, *, hard: bool = False):
    """Grayscale bright-field/phase image: small, dark, irregular cells on a bright background.

    Imitates: uneven illumination, dark elongated or lobulated cells (some only a few
    pixels wide) with granular interiors and a faint bright halo, optical blur and noise;
    boxes a few percent of the image wide -- the setting where the paper saw LiteMedSAM fail
    (its Fig. 7) and k-means on the box crop succeed. Cells are elongated on purpose, so the
    Hough-circle rule does **not** fire (< 35 % of boxes with a circle).
    Hard: lower contrast, a steeper illumination gradient, clumps of touching cells and
    more tiny cells.
    Does not imitate: DIC shading, out-of-focus ghosts, any particular cell line.
    """
    rng = np.random.default_rng(seed)
    n = 40 if not hard else 50

    def radius():
        return (rng.uniform(3.0, 5.0) if rng.random() < (0.2 if not hard else 0.35)
                else rng.uniform(7, 18))

    labels, placed = _place(rng, n, radius, irregularity=0.3,
                            aspect_fn=lambda: rng.uniform(1.6, 2.8), gap=3,
                            touching=0.0 if not hard else 0.25)
    yy, xx = np.mgrid[0:512, 0:512].astype(np.float64)
    grad = (0.06 if not hard else 0.16) * ((xx - 256) / 256 * 0.8 + (yy - 256) / 256 * 0.6)
    img = 0.78 + grad + 0.03 * smooth_field(rng, _SHAPE, 60)
    halo = np.zeros(_SHAPE)
    for sl, lev in placed:
        halo[sl] = np.maximum(halo[sl], np.clip(1 - np.abs(lev - 2.0) / 1.5, 0, 1))
    img = img + 0.06 * halo
    gran = 0.05 * smooth_field(rng, _SHAPE, 1.5)
    level = 0.40 if not hard else 0.60
    values = [level + rng.uniform(-0.06, 0.06) for _ in placed]
    _paint(img, placed, values, labels=labels)
    img = img + gran * (labels > 0)
    img = ndi.gaussian_filter(img, 1.0) + rng.normal(0, 0.02, _SHAPE)
    img8 = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, len(placed), rng, margin=(1, 3))
    return make_case("2DBox_Microscopy_phantom", "Microscopy", gray_to_rgb(img8), boxes, labels,
                     meta=_meta("microscopy_dark_cells", seed, hard, channels="grayscale"))


def microscopy_round_nuclei(seed: int = 0, *, hard: bool = False):
    """Grayscale fluorescence (DAPI-like): bright, round nuclei on a dark background.

    Imitates: nearly circular nuclei of varied brightness with chromatin texture, optical
    blur, background haze and shot-noise-like grain. The nuclei are round on purpose so that
    the paper's Hough-circle rule (> 35 % of boxes with a circle) routes the case to
    LiteMedSAM. Hard: dim and bright nuclei mixed, touching clumps, more noise.
    Does not imitate: mitotic figures, apoptotic fragments, saturated pixels.
    """
    rng = np.random.default_rng(seed)
    n = 30 if not hard else 40
    labels, placed = _place(rng, n,
                            lambda: rng.uniform(16, 24) if not hard else rng.uniform(14, 22),
                            irregularity=0.05, aspect_fn=lambda: rng.uniform(1.0, 1.15),
                            gap=4 if not hard else 0,
                            touching=0.0 if not hard else 0.2)
    img = 0.06 + 0.02 * smooth_field(rng, _SHAPE, 80)
    lo = 0.55 if not hard else 0.2
    values = [rng.uniform(lo, 0.9) for _ in placed]
    _paint(img, placed, values, labels=labels)
    chrom = 1 + 0.12 * smooth_field(rng, _SHAPE, 2.0)
    img = np.where(labels > 0, img * chrom, img)
    img = ndi.gaussian_filter(img, 1.2)
    img = img + rng.normal(0, 0.015 if not hard else 0.04, _SHAPE)
    img8 = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, len(placed), rng, margin=(1, 3))
    return make_case("2DBox_Microscopy_phantom", "Microscopy", gray_to_rgb(img8), boxes, labels,
                     meta=_meta("microscopy_round_nuclei", seed, hard, channels="grayscale"))


def microscopy_two_channel(seed: int = 0, *, hard: bool = False):
    """Two-channel fluorescence: cytoplasm in red, nuclei in green, blue **all zeros**.

    Imitates: the NeurIPS-CellSeg fluorescence images stored as RGB with one empty channel
    (the paper's two-channel rule). Targets are whole cells (irregular cytoplasm outlines)
    with a nucleus inside, on a dark background -- the image mean is a good threshold.
    Hard: some cells far dimmer than the rest (they fall under the mean-intensity
    threshold), autofluorescent debris inside boxes, touching cells.
    Does not imitate: channel cross-talk, photobleaching, real marker patterns.
    """
    rng = np.random.default_rng(seed)
    n = 24 if not hard else 28
    labels, placed = _place(rng, n, lambda: rng.uniform(14, 26), irregularity=0.25,
                            aspect_fn=lambda: rng.uniform(1.0, 1.6), gap=2,
                            touching=0.0 if not hard else 0.2)
    red = 0.03 + 0.01 * smooth_field(rng, _SHAPE, 50)
    green = 0.03 + 0.01 * smooth_field(rng, _SHAPE, 50)
    if hard:
        bright = [rng.uniform(0.1, 0.18) if rng.random() < 0.3 else rng.uniform(0.45, 0.75)
                  for _ in placed]
    else:
        bright = [rng.uniform(0.35, 0.7) for _ in placed]
    _paint(red, placed, bright, labels=labels)
    red = np.where(labels > 0, red * (1 + 0.15 * smooth_field(rng, _SHAPE, 3)), red)
    # Nucleus: a smaller round blob at each cell's centre of mass.
    for i, ((sl, lev), b) in enumerate(zip(placed, bright)):
        own = labels[sl] == i + 1
        cy, cx = ndi.center_of_mass(own)
        r = np.sqrt(own.sum() / np.pi) * 0.42
        yy, xx = np.mgrid[0:lev.shape[0], 0:lev.shape[1]]
        nuc = fraction_inside(np.hypot(yy - cy, xx - cx) - r, width=1.5) * own
        green[sl] = green[sl] * (1 - nuc) + min(1.0, 1.3 * b + 0.1) * nuc
    if hard:  # autofluorescent debris (not cells), some inside boxes
        for _ in range(30):
            y, x = rng.integers(5, 507, 2)
            red[y - 2:y + 3, x - 2:x + 3] += 0.6
    red = ndi.gaussian_filter(red, 1.0) + rng.normal(0, 0.01, _SHAPE)
    green = ndi.gaussian_filter(green, 1.0) + rng.normal(0, 0.01, _SHAPE)
    img = np.zeros(_SHAPE + (3,), np.uint8)
    img[..., 0] = np.round(np.clip(red, 0, 1) * 255)
    img[..., 1] = np.round(np.clip(green, 0, 1) * 255)
    boxes = boxes_from_labels(labels, len(placed), rng, margin=(1, 3))
    return make_case("2DBox_Microscopy_phantom", "Microscopy", img, boxes, labels,
                     meta=_meta("microscopy_two_channel", seed, hard, channels="two-channel"))


# Ruifrok & Johnston optical-density vectors of haematoxylin and eosin.
_H = np.array([0.650, 0.704, 0.286])
_E = np.array([0.072, 0.990, 0.105])


def microscopy_he(seed: int = 0, *, hard: bool = False):
    """RGB H&E histology: purple nuclei (targets) in pink, fibrous stroma.

    Imitates: Beer-Lambert stain mixing of haematoxylin and eosin (Ruifrok-Johnston
    optical densities), fibre-like stroma texture, white luminal spaces, round and
    elongated nuclei with chromatin texture, blur and noise. Hard: a different stain
    balance (weaker haematoxylin, stronger eosin), slight defocus and crowded, touching
    nuclei.
    Does not imitate: tissue architecture (glands, vessels), JPEG/scanner artefacts,
    any diagnosis.
    """
    rng = np.random.default_rng(seed)
    n = 45 if not hard else 55
    white = fraction_inside(1.3 - smooth_field(rng, _SHAPE, 70), width=0.2)  # luminal spaces
    labels, placed = _place(rng, n, lambda: rng.uniform(5, 11), irregularity=0.12,
                            aspect_fn=lambda: rng.uniform(1.0, 2.2), gap=2 if not hard else 0,
                            touching=0.0 if not hard else 0.3, forbidden=white > 0.1)
    fib = ndi.gaussian_filter(rng.standard_normal(_SHAPE), (1.0, 6.0))
    fib = ndi.rotate(fib, float(rng.uniform(0, 180)), reshape=False, order=1, mode="reflect")
    fib /= fib.std()
    c_e = 0.45 + 0.10 * fib + 0.08 * smooth_field(rng, _SHAPE, 40)
    c_e = np.clip(c_e * (1 - white) + 0.03 * white, 0.02, None)
    c_h = np.full(_SHAPE, 0.10)   # haematoxylin counterstain everywhere
    _paint(c_h, placed, [rng.uniform(0.8, 1.3) for _ in placed], labels=labels)
    c_h = np.where(labels > 0, c_h * (1 + 0.2 * smooth_field(rng, _SHAPE, 1.5)), c_h)
    h_str, e_str = (1.0, 1.0) if not hard else (0.7, 1.35)
    od = c_h[..., None] * _H * h_str + c_e[..., None] * _E * e_str * 0.6
    rgb = np.exp(-od * 1.6)
    rgb = (ndi.gaussian_filter(rgb, (0.8 if not hard else 1.6,) * 2 + (0,))
           + rng.normal(0, 0.012, rgb.shape))
    img = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, len(placed), rng, margin=(1, 3))
    return make_case("2DBox_Microscopy_phantom", "Microscopy", img, boxes, labels,
                     meta=_meta("microscopy_he", seed, hard, channels="rgb"))
