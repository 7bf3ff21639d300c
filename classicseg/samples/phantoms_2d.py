"""Synthetic 2D phantoms with exact ground truth: US, X-Ray, Dermoscopy, Endoscopy, Fundus,
Mammography and OCT.

Every generator is ``f(seed=0, *, hard=False) -> Case``: deterministic for a given seed
(bit-for-bit with the pinned library versions), a few hundred pixels wide so LiteMedSAM
runs in about a second on a CPU, and labelled synthetic in ``case.meta``. The ``hard``
variant keeps the anatomy but changes what makes the modality difficult (contrast, gain,
noise, distractors). Each docstring says what the phantom imitates and what it does not;
none of them is a substitute for real data when reporting accuracy.

>>> case = oct_cysts(seed=0)
>>> case.image.shape, case.image.dtype, case.synthetic
((384, 512, 3), dtype('uint8'), True)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ._common import (
    boxes_from_labels,
    draw_curve,
    fraction_inside,
    gamma_speckle,
    gray_to_rgb,
    make_case,
    radial_blob,
    smooth_field,
    superellipse,
)

__all__ = ["us_fetal_head", "xray_lungs", "dermoscopy_lesion", "dermoscopy_lesion_coarse",
           "endoscopy_polyp", "fundus_optic_disc", "mammography_mass", "oct_cysts"]


def _meta(generator, seed, hard, **extra):
    return {"synthetic": True, "generator": f"classicseg.samples.phantoms_2d.{generator}",
            "seed": int(seed), "hard": bool(hard), **extra}


def _grid(shape):
    return np.meshgrid(np.arange(shape[0], dtype=np.float64), np.arange(shape[1], dtype=np.float64),
                       indexing="ij")


def _rgb(img01: np.ndarray) -> np.ndarray:
    return np.round(np.clip(img01, 0, 1) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- ultrasound

def us_fetal_head(seed: int = 0, *, hard: bool = False):
    """Fetal-head ultrasound (HC18-like): a bright elliptical skull ring in amniotic fluid.

    Imitates: a curvilinear sector scan; fully developed, spatially correlated speckle
    (Rayleigh amplitude, log-compressed to ~50 dB); the skull echo weakening where the beam
    runs along it (specular reflection) and the acoustic shadow it casts; a midline echo
    and fluid-filled brain inside. Ground truth is the **filled ellipse** on the outer skull
    border, as in HC18 -- the label is a perfect ellipse even where the echo is missing,
    which is why an ellipse fit can beat a contour-following model (paper §4.3).
    Hard: lower gain and dynamic range, stronger drop-out of the lateral skull walls, a
    limb echo touching the head inside the box.
    Does not imitate: beam-forming physics, reverberation, depth-dependent resolution,
    fetal anatomy beyond the head outline, any measurement calibration.
    """
    rng = np.random.default_rng(seed)
    h, w = 384, 512
    yy, xx = _grid((h, w))
    apex = (-60.0, w / 2)
    rr = np.hypot(yy - apex[0], xx - apex[1])
    th = np.arctan2(xx - apex[1], yy - apex[0])
    half = np.deg2rad(38)
    sector = (np.abs(th) < half) & (rr > 90) & (rr < 440)

    # Echogenicity map in dB (before speckle): uterine wall, amniotic fluid, the head.
    echo_db = -4 + 2.5 * smooth_field(rng, (h, w), 40)
    wall = rr < 145 + 10 * smooth_field(rng, (h, w), 60)
    echo_db[wall] = 2.0
    fluid_level = 150 + 8 * smooth_field(rng, (h, w), 50)
    fluid = (rr > fluid_level) & (rr < 400 + 12 * smooth_field(rng, (h, w), 60))
    echo_db[fluid] = -32.0
    cy, cx = 230 + rng.uniform(-10, 10), w / 2 + rng.uniform(-30, 30)
    a, b = rng.uniform(100, 115), rng.uniform(78, 88)
    ang = rng.uniform(-0.5, 0.5) if not hard else rng.uniform(0.5, 0.8)
    r_ell = superellipse((h, w), (cy, cx), (b, a), angle=ang)
    thick = 9.0 / b
    skull = (r_ell <= 1.0) & (r_ell > 1.0 - thick)
    inside = r_ell <= 1.0 - thick
    echo_db[inside] = (-17 + 2.5 * smooth_field(rng, (h, w), 12))[inside]
    # Specular skull echo: strongest where the ring is perpendicular to the beam.
    gy, gx = np.gradient(r_ell)
    norm = np.hypot(gy, gx) + 1e-12
    beam_y, beam_x = (yy - apex[0]) / rr, (xx - apex[1]) / rr
    facing = np.abs(gy * beam_y + gx * beam_x) / norm
    power = 3.0 if hard else 1.5
    echo_db[skull] = (-12 + 20 * facing ** power)[skull]
    # Midline echo (falx) along the long axis, and the choroid plexus.
    ca, sa = np.cos(ang), np.sin(ang)
    u = (yy - cy) * ca - (xx - cx) * sa     # along the short axis
    v = (yy - cy) * sa + (xx - cx) * ca     # along the long axis
    midline = (np.abs(u) < 1.6) & inside & (np.abs(v) < 0.75 * a)
    echo_db[midline] = -4.0
    for sgn in (-1, 1):
        plexus = superellipse((h, w), (cy + sgn * 0.35 * b * ca, cx - sgn * 0.35 * b * sa), (9, 22),
                              angle=ang)
        echo_db[(plexus < 1) & inside] = -8.0
    if hard:  # a limb (arm) lying against the skull, inside the box
        limb = superellipse((h, w), (cy + 0.8 * b, cx + 0.7 * a), (12, 40), angle=ang + 0.6)
        echo_db[(limb < 1) & ~inside & ~skull] = 0.0
    echo = 10 ** (echo_db / 10)

    # Acoustic shadow: attenuation integrated along each beam (polar resampling).
    n_th, n_r = 256, 440
    t_ax = np.linspace(-half, half, n_th)
    r_ax = np.arange(n_r, dtype=np.float64)
    tt, rp = np.meshgrid(t_ax, r_ax, indexing="ij")
    py, px = apex[0] + rp * np.cos(tt), apex[1] + rp * np.sin(tt)
    skull_polar = ndi.map_coordinates(skull.astype(float), [py, px], order=1, cval=0.0)
    atten = np.exp(-(0.06 if not hard else 0.1) * np.cumsum(skull_polar, axis=1))
    ti = (th + half) / (2 * half) * (n_th - 1)
    trans = ndi.map_coordinates(atten, [ti, np.clip(rr, 0, n_r - 1)], order=1, mode="nearest")
    depth_gain = np.exp(-rr / 900.0)

    looks = 1.0
    speckle = gamma_speckle(rng, (h, w), looks, corr=1.2)
    intensity = echo * trans * depth_gain * speckle + 1e-5 * rng.gamma(1.0, 1.0, (h, w))
    dr = 48.0 if not hard else 36.0
    gain = 0.0 if not hard else -4.0
    db = 10 * np.log10(intensity) + gain
    img = np.clip((db + dr) / dr, 0, 1) * 255
    img = ndi.gaussian_filter(img, (0.8, 1.2))
    img = np.where(sector, img, 0)
    img = np.round(np.clip(img, 0, 255)).astype(np.uint8)

    gts = (r_ell <= 1.0).astype(np.uint16)
    boxes = boxes_from_labels(gts, 1, rng, margin=(3, 8))
    return make_case("2DBox_US_phantom", "US", gray_to_rgb(img), boxes, gts,
                     meta=_meta("us_fetal_head", seed, hard,
                                ellipse={"center_yx": [cy, cx], "semi_axes": [a, b], "angle": ang}))


# --------------------------------------------------------------------------- chest X-ray

def _lung_polygon(rng, side: int, h: int, w: int, heart_cut: float) -> np.ndarray:
    """(x, y) outline of one lung field; ``side`` -1 = image left, +1 = image right."""
    mid = w / 2
    inner = mid + side * rng.uniform(22, 30)            # mediastinal border
    outer = mid + side * rng.uniform(175, 190)          # lateral (rib) border
    top, base = rng.uniform(70, 85), rng.uniform(400, 425)
    pts = []
    # apex: rounded cap from inner to outer
    for t in np.linspace(0, 1, 12):
        x = inner + (outer - inner) * t
        y = top + 70 * (1 - np.sin(np.pi * t / 2 + 0.2)) ** 1.5 * (1 - t) + 40 * t ** 2
        pts.append((x, y))
    # lateral border bulging outwards, down to the costophrenic angle
    for t in np.linspace(0, 1, 14)[1:]:
        y = top + 40 + (base - top - 40) * t
        x = outer + side * 12 * np.sin(np.pi * t) * 0.8
        pts.append((x, y))
    # diaphragm dome back to the inner side (convex upwards)
    for t in np.linspace(0, 1, 14)[1:]:
        x = outer + (inner - outer) * t
        y = base - 50 * np.sin(np.pi * min(1.0, t * 1.15)) ** 0.8 - 25 * t
        pts.append((x, y))
    # medial border up to the apex; the heart notch on the left lung (image right)
    for t in np.linspace(0, 1, 12)[1:-1]:
        y = base - 75 - (base - 75 - top - 10) * t
        bulge = (heart_cut * np.exp(-((t - 0.15) / 0.25) ** 2) if side > 0
                 else 0.25 * heart_cut * np.exp(-((t - 0.1) / 0.2) ** 2))
        pts.append((inner + side * bulge, y))
    return np.array(pts)


def xray_lungs(seed: int = 0, *, hard: bool = False):
    """Posteroanterior chest radiograph with both lung fields as targets.

    Imitates: a projection image built as a sum of attenuations -- soft tissue of the
    thorax, air-filled lungs, mediastinum and heart, posterior ribs and clavicles crossing
    the lungs, diaphragm domes with sharp costophrenic angles, vascular markings, quantum
    noise and detector blur. Ground truth = lung fields without the heart shadow (as in the
    Montgomery/Shenzhen lung masks). Hard: under-penetrated (compressed contrast), noisier,
    an enlarged heart and a consolidation (soft-tissue density) inside one lung that still
    belongs to the label.
    Does not imitate: real anatomy variation, scatter, grids, devices, text markers.
    """
    import cv2

    rng = np.random.default_rng(seed)
    h = w = 512
    yy, xx = _grid((h, w))
    # Projected thickness of the thorax: an elliptic cylinder seen from the front.
    r_body = superellipse((h, w), (330, w / 2), (330, 238))
    body = fraction_inside((r_body - 1) * 238, width=3)
    att = 0.55 * np.sqrt(np.clip(1 - r_body ** 2, 0, 1)) * body + 0.25 * body
    att *= 1 + 0.03 * smooth_field(rng, (h, w), 50)
    heart_cut = rng.uniform(45, 60) * (1.35 if hard else 1.0)
    labels = np.zeros((h, w), np.uint16)
    lung_mask = np.zeros((h, w), np.float64)
    for i, side in enumerate((-1, 1)):
        poly = np.round(_lung_polygon(rng, side, h, w, heart_cut) * 16).astype(np.int32)
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [poly], 1, lineType=cv2.LINE_8, shift=4)
        labels[m > 0] = i + 1
        soft = np.zeros((h, w), np.float32)
        cv2.fillPoly(soft, [poly], 1.0, lineType=cv2.LINE_AA, shift=4)
        lung_mask = np.maximum(lung_mask, ndi.gaussian_filter(soft, 1.5))
    # Air in the lungs removes attenuation; vascular markings add some back near the hila.
    hila = np.exp(-(((xx - w / 2) / 110) ** 2 + ((yy - 250) / 110) ** 2))
    vessels = 0.10 * np.clip(smooth_field(rng, (h, w), 5), 0, None) * (0.3 + hila)
    att -= lung_mask * (0.52 - vessels - 0.03 * smooth_field(rng, (h, w), 40))
    # Heart: left-shifted ellipse in the lower mediastinum (over the left lung's notch).
    heart = superellipse((h, w), (330, w / 2 + 28), (62, heart_cut + 58), angle=0.3)
    above_diaphragm = fraction_inside(yy - 385, width=8)
    att += 0.30 * fraction_inside((heart - 1) * 70, width=3) * above_diaphragm
    # Mediastinum + spine (vertical band) and the darker trachea.
    att += 0.30 * np.exp(-((xx - w / 2) / 30) ** 4) * body
    att -= 0.12 * np.exp(-((xx - w / 2) / 8) ** 4) * (yy > 10) * (yy < 190)
    # Ribs: posterior ribs rise from the spine and fall laterally; clavicles on top.
    bones = np.zeros((h, w), np.float32)
    for side in (-1, 1):
        for k in range(10):
            y0 = 70 + k * 33 + rng.uniform(-3, 3)
            t = np.linspace(0, 1, 40)
            xs = w / 2 + side * (18 + 205 * t)
            ys = y0 - 30 * t + 95 * t ** 2.2
            pts = np.stack([xs, ys], 1)
            draw_curve(bones, pts, 0.10, 12)
            draw_curve(bones, pts, -0.04, 5)  # the centre of a rib is less dense than its cortex
        t = np.linspace(0, 1, 30)
        xs = w / 2 + side * (22 + 150 * t)
        ys = 62 - 20 * t + 18 * t ** 2
        draw_curve(bones, np.stack([xs, ys], 1), 0.18, 13)
    att += ndi.gaussian_filter(bones, 1.5) * body
    # Diaphragm / abdomen below the lungs is dense soft tissue (already in `att`).
    if hard:  # consolidation in the right (image-left) lower lung; it is still lung.
        cons = radial_blob((h, w), (350, w / 2 - 110), 45, rng, irregularity=0.3)
        att += 0.38 * fraction_inside(cons, width=12) * (labels == 1)
    att = ndi.gaussian_filter(att, 1.0)
    contrast = 1.0 if not hard else 0.6
    signal = np.clip(att, 0, None) ** (0.9 if not hard else 0.7) * contrast
    signal = signal + rng.normal(0, 0.010 if not hard else 0.022, (h, w))
    signal = signal + (0.0 if not hard else 0.25)  # fog of an under-penetrated film
    img = np.round(np.clip(signal / 1.05, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, 2, rng, margin=(3, 10))
    return make_case("2DBox_XRay_phantom", "XRay", gray_to_rgb(img), boxes, labels,
                     meta=_meta("xray_lungs", seed, hard))


# --------------------------------------------------------------------------- dermoscopy

def _dermoscopy(seed: int, hard: bool):
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 384, 512
    yy, xx = _grid((h, w))
    skin = np.array([0.90, 0.68, 0.60]) if not hard else np.array([0.93, 0.74, 0.66])
    tone = (1 + 0.05 * smooth_field(rng, (h, w), 60)[..., None]
            + 0.02 * smooth_field(rng, (h, w), 3)[..., None])
    img = skin[None, None, :] * tone
    # The lesion: an irregular, asymmetric blob with a pigment network and dots.
    cy, cx = h / 2 + rng.uniform(-20, 20), w / 2 + rng.uniform(-30, 30)
    radius = rng.uniform(95, 115) if not hard else rng.uniform(80, 95)
    level = radial_blob((h, w), (cy, cx), radius, rng, irregularity=0.35,
                        harmonics=(2, 3, 4, 5, 6, 8, 11), aspect=rng.uniform(1.1, 1.4),
                        angle=rng.uniform(0, np.pi))
    # A fuzzy border: the pigment fades over ~6 px, but the ground truth is the level set 0.
    frac = fraction_inside(level + 2.0 * smooth_field(rng, (h, w), 4), width=6.0)
    dist_in = np.clip(-level / radius, 0, 1)
    brown = np.array([0.55, 0.33, 0.22]) if not hard else np.array([0.78, 0.56, 0.45])
    dark = np.array([0.30, 0.17, 0.12]) if not hard else np.array([0.66, 0.46, 0.38])
    depth = np.clip(0.5 * dist_in + 0.35 * smooth_field(rng, (h, w), 25) * 0.5 + 0.25,
                    0, 1)[..., None]
    lesion_col = brown * (1 - depth) + dark * depth
    # Pigment network: a distorted honeycomb of darker lines.
    wy = yy + 4 * smooth_field(rng, (h, w), 20)
    wx = xx + 4 * smooth_field(rng, (h, w), 20)
    net = (np.abs(np.sin(wy / 4.2)) * np.abs(np.sin(wx / 4.2))) < 0.18
    lesion_col = lesion_col * (1 - 0.18 * net[..., None] * (dist_in[..., None] < 0.7))
    # Blue-grey veil in part of the lesion.
    veil = fraction_inside(radial_blob((h, w),
                                       (cy + rng.uniform(-25, 25), cx + rng.uniform(-25, 25)),
                                       radius * 0.25, rng, irregularity=0.4),
                           width=10)[..., None]
    lesion_col = lesion_col * (1 - 0.3 * veil) + np.array([0.40, 0.40, 0.48]) * 0.3 * veil
    img = img * (1 - frac[..., None]) + lesion_col * frac[..., None]
    # Dots / globules near the rim.
    for _ in range(rng.integers(15, 30)):
        t = rng.uniform(0, 2 * np.pi)
        rr = radius * rng.uniform(0.6, 1.0)
        dy, dx = cy + rr * np.sin(t), cx + rr * np.cos(t)
        if level[int(np.clip(dy, 0, h - 1)), int(np.clip(dx, 0, w - 1))] < -3:
            g = superellipse((h, w), (dy, dx), (rng.uniform(1.5, 3.5),) * 2) < 1
            img[g] = img[g] * 0.6
    # Hairs: dark curved lines on top of everything.
    hair_layer = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(6, 12) if not hard else rng.integers(30, 40)):
        p0 = rng.uniform([0, 0], [w, h])
        d = rng.normal(size=2)
        d /= np.linalg.norm(d)
        length = rng.uniform(150, 420)
        bend = rng.normal(0, 60, size=2)
        t = np.linspace(0, 1, 40)[:, None]
        pts = p0 + d * length * t + bend * 4 * t * (1 - t)
        draw_curve(hair_layer, pts, 1.0, int(rng.integers(1, 3)))
    hair = np.clip(ndi.gaussian_filter(hair_layer, 0.5), 0, 1)[..., None]
    img = img * (1 - 0.85 * hair) + np.array([0.18, 0.11, 0.08]) * 0.85 * hair
    if hard:  # air bubbles from the immersion fluid
        for _ in range(rng.integers(4, 8)):
            r0 = superellipse((h, w), rng.uniform([0, 0], [h, w]), (rng.uniform(8, 22),) * 2)
            ring = np.clip(1 - np.abs(r0 - 1) * 12, 0, 1)[..., None]
            img = img * (1 - 0.5 * ring) + 0.97 * 0.5 * ring
    # Dermatoscope vignetting: dark corners outside the round field.
    rv = np.hypot((yy - h / 2) / (h * (0.72 if not hard else 0.6)),
                  (xx - w / 2) / (w * (0.62 if not hard else 0.55)))
    vign = np.clip(1.0 - np.clip(rv - 0.75, 0, None) * 3.5, 0, 1) ** 1.5
    img = img * vign[..., None]
    img = ndi.gaussian_filter(img, (0.7, 0.7, 0))
    img += rng.normal(0, 0.012, img.shape)
    fine = (level < 0).astype(np.uint8)
    # Coarse annotation (ISIC style, paper Fig. 2): convex hull simplified to a few straight lines.
    cnts, _ = cv2.findContours(fine, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(max(cnts, key=cv2.contourArea))
    poly = cv2.approxPolyDP(hull, epsilon=0.06 * radius, closed=True)
    coarse = np.zeros((h, w), np.uint8)
    cv2.fillPoly(coarse, [poly], 1)
    coarse = np.maximum(coarse, fine)
    return rng, _rgb(img), fine.astype(np.uint16), coarse.astype(np.uint16)


def dermoscopy_lesion(seed: int = 0, *, hard: bool = False):
    """Dermoscopy of a pigmented skin lesion (ISIC-2018-like), **fine** annotation.

    Imitates: an asymmetric, lobulated pigmented lesion with a fuzzy border, pigment
    network, dots/globules and a blue-grey veil on textured skin; dark hairs crossing the
    lesion; dermatoscope vignetting; mild blur and noise. Ground truth follows the exact
    border. :func:`dermoscopy_lesion_coarse` returns the same image with the **coarse**
    annotation style also found in ISIC (convex hull, a few straight lines; paper Fig. 2).
    Hard: a light, low-contrast lesion, dense hair, air bubbles, stronger vignetting.
    Does not imitate: real lesion classes (melanoma vs naevus), polarised vs
    non-polarised light, rulers/ink marks, skin types other than light skin.
    """
    rng, img, fine, coarse = _dermoscopy(seed, hard)
    boxes = boxes_from_labels(fine, 1, rng, margin=(4, 15))
    return make_case("2DBox_Dermoscopy_phantom", "Dermoscopy", img, boxes, fine,
                     meta=_meta("dermoscopy_lesion", seed, hard, annotation="fine"))


def dermoscopy_lesion_coarse(seed: int = 0, *, hard: bool = False):
    """Same image as :func:`dermoscopy_lesion`, ground truth in the **coarse** ISIC style.

    The label is the lesion's convex hull simplified to a few straight edges (and never
    smaller than the lesion), as in the coarse ISIC-2018 annotations that the paper's
    Fig. 2 shows. Scoring a fine prediction against it (and vice versa) shows how much of
    a Dice difference comes from annotation style alone.
    """
    rng, img, fine, coarse = _dermoscopy(seed, hard)
    boxes = boxes_from_labels(fine, 1, rng, margin=(4, 15))  # same box as the fine sample
    return make_case("2DBox_Dermoscopy_phantom", "Dermoscopy", img, boxes, coarse,
                     meta=_meta("dermoscopy_lesion_coarse", seed, hard, annotation="coarse"))


# --------------------------------------------------------------------------- endoscopy

def endoscopy_polyp(seed: int = 0, *, hard: bool = False):
    """Colonoscopy frame with one polyp (Kvasir-SEG-like).

    Imitates: pink-red mucosa with haustral folds around a dark lumen, light fall-off from
    the scope tip, thin submucosal vessels, a dome-shaped polyp shaded by the head-on light
    with a pit-pattern texture, specular highlights, the octagonal black frame.
    Hard: a flat polyp of nearly the mucosa's colour, motion blur, many specular
    highlights (also on the polyp's rim).
    Does not imitate: real tissue optics, NBI/chromoendoscopy colours, bubbles/stool,
    instruments, interlacing or compression artefacts.
    """
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 384, 448
    yy, xx = _grid((h, w))
    ly, lx = h * rng.uniform(0.3, 0.45), w * rng.uniform(0.55, 0.75)   # lumen centre
    dl = np.hypot(yy - ly, xx - lx)
    light = np.clip(1.0 - np.exp(-(dl / 90.0) ** 2) * 0.85, 0.05, 1) * (
        0.85 + 0.15 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / 300 ** 2))
    warp = dl + 12 * smooth_field(rng, (h, w), 50)
    folds = 0.5 + 0.5 * np.sin(warp / 18.0)
    shade = 0.75 + 0.25 * folds
    mucosa = np.array([0.86, 0.42, 0.36])
    img = mucosa[None, None] * (shade * light)[..., None]
    img *= 1 + 0.04 * smooth_field(rng, (h, w), 8)[..., None]
    vessels = np.zeros((h, w), np.float32)
    for _ in range(14):
        p0 = rng.uniform([0, 0], [w, h])
        steps = np.cumsum(rng.normal(0, 1, (30, 2)) * 4 + rng.normal(0, 1, 2) * 5, axis=0)
        draw_curve(vessels, p0 + steps, 1.0, 1)
    img *= 1 - 0.25 * ndi.gaussian_filter(vessels, 0.6)[..., None] * np.array([0.2, 1.0, 0.8])
    # Polyp: a dome lit from the scope (near the viewer -> brighter, specular on top).
    py_, px_ = h * rng.uniform(0.6, 0.72), w * rng.uniform(0.25, 0.4)
    radius = rng.uniform(50, 62) if not hard else rng.uniform(40, 50)
    level = radial_blob((h, w), (py_, px_), radius, rng, irregularity=0.15,
                        aspect=rng.uniform(1.0, 1.25))
    inside = np.clip(-level / radius, 0, 1)
    height = np.sqrt(np.clip(1 - (1 - inside) ** 2, 0, 1)) * (1.0 if not hard else 0.25)
    gy, gx = np.gradient(ndi.gaussian_filter(height * radius, 2))
    nz = 1 / np.sqrt(1 + gy ** 2 + gx ** 2)
    lambert = (nz - 0.3 * gy * nz - 0.2 * gx * nz)
    frac = fraction_inside(level, width=3.0)[..., None]
    polyp_col = (np.array([0.92, 0.55, 0.45]) if not hard else np.array([0.88, 0.45, 0.39]))
    pit = 1 + 0.06 * smooth_field(rng, (h, w), 2.5)
    polyp = polyp_col[None, None] * (np.clip(lambert, 0.2, 1.2) * pit)[..., None]
    img = img * (1 - frac) + polyp * frac
    # Specular highlights: mucosa fold crests + the dome top.
    spec = (folds > 0.99) & (rng.random((h, w)) < (0.004 if not hard else 0.02)) & (light > 0.6)
    spec = ndi.binary_dilation(spec, iterations=2)
    top = ((lambert > 1.05) & (level < -radius * 0.4) if not hard
           else (np.abs(level) < 3) & (rng.random((h, w)) < 0.05))
    spec |= ndi.binary_dilation(top, iterations=1)
    if hard:
        spec |= ndi.binary_dilation(rng.random((h, w)) < 0.0005, iterations=2)
    specf = ndi.gaussian_filter(spec.astype(float), 0.8)[..., None]
    img = img * (1 - specf) + specf * 1.0
    if hard:  # motion blur along a random direction
        k = np.zeros((9, 9), np.float32)
        cv2.line(k, (0, 4), (8, 4), 1.0, 1)
        rot = cv2.getRotationMatrix2D((4, 4), float(rng.uniform(0, 180)), 1.0)
        k = cv2.warpAffine(k, rot, (9, 9))
        k /= k.sum()
        img = np.stack([cv2.filter2D(img[..., c].astype(np.float32), -1, k,
                                     borderType=cv2.BORDER_REFLECT)
                        for c in range(3)], -1).astype(np.float64)
    img = ndi.gaussian_filter(img, (0.6, 0.6, 0)) + rng.normal(0, 0.01, img.shape)
    # Octagonal frame of the endoscope image.
    cut = 60
    frame = ((xx + yy > cut) & ((w - 1 - xx) + yy > cut) & (xx + (h - 1 - yy) > cut)
             & ((w - 1 - xx) + (h - 1 - yy) > cut))
    img = img * frame[..., None]
    gts = (level < 0).astype(np.uint16)
    boxes = boxes_from_labels(gts, 1, rng, margin=(3, 10))
    return make_case("2DBox_Endoscopy_phantom", "Endoscopy", _rgb(img), boxes, gts,
                     meta=_meta("endoscopy_polyp", seed, hard))


# --------------------------------------------------------------------------- fundus

def _vessel_tree(rng, canvas, start, direction, width, length, depth):
    """Draw a branching random-walk vessel into ``canvas`` (recursive, bounded depth)."""
    pts = [np.array(start, float)]
    d = np.array(direction, float)
    d /= np.linalg.norm(d)
    n = int(length / 6)
    for _ in range(n):
        d = d + rng.normal(0, 0.12, 2)
        d /= np.linalg.norm(d)
        pts.append(pts[-1] + 6 * d)
    pts = np.array(pts)
    draw_curve(canvas, pts, 1.0, max(1, int(round(width))))
    if depth > 0:
        for k in rng.choice(np.arange(n // 3, n), size=2, replace=False):
            nd = d + rng.normal(0, 0.8, 2)
            _vessel_tree(rng, canvas, pts[k], nd, width * 0.65, length * 0.55, depth - 1)


def fundus_optic_disc(seed: int = 0, *, hard: bool = False):
    """Colour fundus photograph with the optic disc (REFUGE/ORIGA-like) and a haemorrhage.

    Imitates: the circular field of view, orange-red background with illumination
    fall-off, the darker macula/fovea temporal to the disc, a pale-yellow optic disc with a
    brighter cup, vessel arcades leaving the disc and crossing its rim, and a dark-red
    blot haemorrhage (second target). Ground truth: 1 = optic disc, 2 = haemorrhage.
    Hard: media haze (blur + veiling glare, as with cataract), peripapillary atrophy (a
    pale halo around the disc that is *not* disc), a smaller, fainter haemorrhage.
    Does not imitate: real vessel geometry, nerve fibre reflexes, camera artefacts,
    pathology beyond one haemorrhage.
    """
    rng = np.random.default_rng(seed)
    h = w = 512
    yy, xx = _grid((h, w))
    fov = np.hypot(yy - h / 2, xx - w / 2) < 240
    illum = np.clip(1.05 - (np.hypot(yy - h / 2, xx - w / 2) / 260) ** 3 * 0.5, 0.3, 1.1)
    base = np.array([0.80, 0.36, 0.16])
    img = base[None, None] * (illum * (1 + 0.05 * smooth_field(rng, (h, w), 30)))[..., None]
    dy_, dx_ = h / 2 + rng.uniform(-20, 20), w * rng.uniform(0.2, 0.27)
    r_disc = rng.uniform(34, 40)
    mac = np.exp(-(((yy - dy_ - 10) ** 2 + (xx - dx_ - 5.2 * r_disc) ** 2) / (70.0 ** 2)))
    img *= (1 - 0.35 * mac)[..., None]
    disc_level = radial_blob((h, w), (dy_, dx_), r_disc, rng, irregularity=0.06, aspect=0.9)
    if hard:  # peripapillary atrophy: a pale crescent outside the disc
        ppa = fraction_inside(radial_blob((h, w), (dy_, dx_ + 8), r_disc * 1.35, rng,
                                          irregularity=0.1), width=4)
        ppa = ppa * (disc_level > 0)
        img = img * (1 - 0.6 * ppa[..., None]) + np.array([0.92, 0.72, 0.52]) * 0.6 * ppa[..., None]
    disc = fraction_inside(disc_level, width=3)[..., None]
    img = img * (1 - disc) + np.array([0.97, 0.75, 0.45]) * disc * (
        1 + 0.04 * smooth_field(rng, (h, w), 6))[..., None]
    cup = fraction_inside(radial_blob((h, w), (dy_, dx_ + 3), r_disc * 0.45, rng,
                                      irregularity=0.1), width=6)
    img = img * (1 - 0.6 * cup[..., None]) + np.array([1.0, 0.9, 0.7]) * 0.6 * cup[..., None]
    # Vessel arcades (superior / inferior temporal, nasal branches).
    ves = np.zeros((h, w), np.float32)
    for ang, width in ((-0.6, 7), (0.6, 7), (-0.9, 5), (0.9, 5), (2.6, 4), (-2.6, 4), (3.1, 3)):
        _vessel_tree(rng, ves, (dx_, dy_), (np.cos(ang), np.sin(ang)), width, 230, 2)
    ves = ndi.gaussian_filter(ves, 0.8)[..., None]
    img = img * (1 - 0.6 * ves) + np.array([0.45, 0.08, 0.05]) * 0.6 * ves
    # Blot haemorrhage (second target).
    hy, hx = dy_ + rng.choice([-1, 1]) * rng.uniform(60, 110), dx_ + rng.uniform(120, 240)
    hr = rng.uniform(14, 20) if not hard else rng.uniform(8, 11)
    hem_level = radial_blob((h, w), (hy, hx), hr, rng, irregularity=0.3)
    hem = fraction_inside(hem_level, width=2.5)[..., None]
    strength = 0.75 if not hard else 0.45
    img = img * (1 - strength * hem) + np.array([0.35, 0.05, 0.03]) * strength * hem
    if hard:  # media haze: blur + veiling glare + reduced contrast
        img = ndi.gaussian_filter(img, (2.5, 2.5, 0))
        img = 0.7 * img + 0.25 * np.array([0.85, 0.6, 0.45])
    img = ndi.gaussian_filter(img, (0.7, 0.7, 0)) + rng.normal(0, 0.01, img.shape)
    img = img * fov[..., None]
    gts = np.zeros((h, w), np.uint16)
    gts[disc_level < 0] = 1
    gts[hem_level < 0] = 2
    boxes = boxes_from_labels(gts, 2, rng, margin=(2, 8))
    return make_case("2DBox_Fundus_phantom", "Fundus", _rgb(img), boxes, gts,
                     meta=_meta("fundus_optic_disc", seed, hard))


# --------------------------------------------------------------------------- mammography

def mammography_mass(seed: int = 0, *, hard: bool = False):
    """Mediolateral-oblique mammogram with a large spiculated and a small round mass.

    Imitates: the breast outline against the chest wall, the bright pectoral muscle,
    fibroglandular tissue with streaks running towards the nipple, fat, the skin line,
    noise and blur; two masses of very different size (CDD-CESM targets vary strongly in
    size). Ground truth is **coarse**, like CDD-CESM (paper Fig. 3): the convex hull of
    each mass core, simplified to a polygon -- spicules are not labelled.
    Hard: a dense breast in which the masses are almost iso-dense, smaller masses.
    Does not imitate: calcifications, contrast-enhanced (CESM) subtraction images,
    compression paddles, real parenchymal patterns (BI-RADS density classes).
    """
    import cv2

    rng = np.random.default_rng(seed)
    h, w = 512, 384
    yy, xx = _grid((h, w))
    cy = h * 0.55
    edge = (w * 0.82 * np.sqrt(np.clip(1 - ((yy - cy) / (h * 0.52)) ** 2, 0, 1))
            + 2 * smooth_field(rng, (h, w), 60))
    breast = fraction_inside(xx - edge, width=2.0)
    # Fibroglandular tissue: anisotropic streaks toward the nipple, denser centrally.
    streak = ndi.gaussian_filter(rng.standard_normal((h, w)), (2.0, 9.0))
    streak /= streak.std()
    blobs = smooth_field(rng, (h, w), 28)
    centrality = np.exp(-(((yy - cy) / 150) ** 2 + ((xx - w * 0.3) / 170) ** 2))
    dens_bias = 0.4 if not hard else 1.4
    fine = smooth_field(rng, (h, w), 7)
    dense = 1 / (1 + np.exp(-(0.8 * blobs + 0.5 * fine + 0.45 * streak + 1.6 * centrality - 1.2
                              + dens_bias)))
    tissue = 0.30 + 0.36 * dense + 0.03 * smooth_field(rng, (h, w), 3)
    pect = fraction_inside(xx - (w * 0.45) * (1 - yy / (h * 0.48)), width=2.0)
    tissue = tissue * (1 - pect) + (0.78 + 0.03 * smooth_field(rng, (h, w), 10)) * pect
    skin = np.clip(1 - np.abs(xx - edge + 3) / 3, 0, 1) * 0.15
    labels = np.zeros((h, w), np.uint16)
    specs = [(rng.uniform(0.4, 0.6) * h, rng.uniform(0.35, 0.5) * w,
              rng.uniform(28, 36) * (0.8 if hard else 1.0), True),
             (rng.uniform(0.74, 0.82) * h, rng.uniform(0.25, 0.4) * w,
              rng.uniform(7, 10) * (0.8 if hard else 1.0), False)]
    contrast = 0.22 if not hard else 0.08
    for i, (my, mx, mr, spiculated) in enumerate(specs):
        level = radial_blob((h, w), (my, mx), mr, rng, irregularity=0.25 if spiculated else 0.05)
        core = fraction_inside(level, width=4.0)
        tissue = tissue + contrast * core
        if spiculated:
            sp = np.zeros((h, w), np.float32)
            for t in rng.uniform(0, 2 * np.pi, 14):
                r0, r1 = mr * 0.9, mr * rng.uniform(1.5, 2.3)
                draw_curve(sp, np.array([[mx + r0 * np.cos(t), my + r0 * np.sin(t)],
                                         [mx + r1 * np.cos(t), my + r1 * np.sin(t)]]), 1.0, 2)
            tissue = tissue + contrast * 0.6 * ndi.gaussian_filter(sp, 0.8)
        m = (level < 0).astype(np.uint8)
        cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        hull = cv2.convexHull(max(cnts, key=cv2.contourArea))
        poly = cv2.approxPolyDP(hull, epsilon=max(1.5, 0.08 * mr), closed=True)
        coarse = np.zeros((h, w), np.uint8)
        cv2.fillPoly(coarse, [poly], 1)
        labels[(coarse > 0) | (m > 0)] = i + 1
    img = (tissue + skin) * breast
    img = ndi.gaussian_filter(img, 0.8) + rng.normal(0, 0.012, (h, w)) * breast
    img = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, 2, rng, margin=(3, 8))
    return make_case("2DBox_Mammography_phantom", "Mammography", gray_to_rgb(img), boxes, labels,
                     meta=_meta("mammography_mass", seed, hard, annotation="coarse (convex hull)"))


# --------------------------------------------------------------------------- OCT

def oct_cysts(seed: int = 0, *, hard: bool = False):
    """Retinal OCT B-scan with intraretinal cysts (RETOUCH-like fluid targets).

    Imitates: the layered retina (RNFL, GCL/IPL, INL, OPL, ONL, ELM, ellipsoid zone, RPE)
    with a foveal pit, choroid and sclera; multiplicative, spatially correlated speckle
    (gamma statistics) and log compression; dark cystoid spaces in the inner nuclear and
    outer nuclear layers -- the targets, several per image, some small; vessel shadows.
    Hard: a **different device gain/offset and lower SNR** (a washed-out image where the
    cysts are only a little darker than the ONL), more vessel shadows, smaller cysts -- so
    a threshold that works on the normal variant does not transfer (the paper's OCT test
    result: thresholds do not generalise).
    Does not imitate: axial/lateral resolution of a real device, motion artefacts,
    sub-retinal fluid or PED, the 3D volume (one B-scan only).
    """
    rng = np.random.default_rng(seed)
    h, w = 384, 512
    yy, xx = _grid((h, w))
    x1 = np.arange(w, dtype=np.float64)
    fx = w / 2 + rng.uniform(-30, 30)
    pit = np.exp(-((x1 - fx) / 55.0) ** 2)
    curve = 6 * smooth_field(rng, (1, w), 120)[0] + 0.0004 * (x1 - fx) ** 2
    ilm = 95 + curve + 32 * pit   # the foveal pit is a depression of the inner surface
    # (name, thickness at the periphery, thickness at the fovea, reflectivity)
    layers = [("RNFL", 12, 0, 0.80), ("GCL", 16, 1, 0.42), ("IPL", 11, 1, 0.55),
              ("INL", 14, 4, 0.24), ("OPL", 8, 4, 0.50), ("ONL", 28, 45, 0.16),
              ("ELM", 3, 3, 0.42), ("EZ", 4, 4, 0.85), ("IZ", 3, 3, 0.50), ("RPE", 7, 7, 1.00)]
    refl = np.full((h, w), 0.0004)
    top = ilm.copy()
    bounds = {}
    for name, t_per, t_fov, r in layers:
        t = t_per + (t_fov - t_per) * pit + 1.0 * smooth_field(rng, (1, w), 80)[0]
        bottom = top + np.clip(t, 0.5, None)
        band = (yy >= top[None]) & (yy < bottom[None])
        refl = np.where(band, r * (1 + 0.08 * smooth_field(rng, (h, w), 10)), refl)
        bounds[name] = (top.copy(), bottom.copy())
        top = bottom
    chor = (yy >= top[None]) & (yy < top[None] + 55)
    chor_tex = 0.55 + 0.25 * smooth_field(rng, (h, w), 6)
    refl = np.where(chor, np.clip(chor_tex, 0.05, None) * np.exp(-(yy - top[None]) / 60), refl)
    below = yy >= top[None] + 55
    refl = np.where(below, 0.12 * np.exp(-(yy - top[None] - 55) / 40), refl)
    # Cysts: dark ellipses in INL/ONL near the fovea.
    labels = np.zeros((h, w), np.uint16)
    n_cysts = rng.integers(4, 7)
    k = 0
    tries = 0
    while k < n_cysts and tries < 200:
        tries += 1
        layer = "ONL" if rng.random() < 0.6 else "INL"
        cx = fx + rng.uniform(-170, 170)
        ix = int(np.clip(cx, 0, w - 1))
        t0, t1 = bounds[layer][0][ix], bounds[layer][1][ix]
        if layer == "INL":
            t1 = max(t1, t0 + 14)
        ry = rng.uniform(4, max(5, min(18, (t1 - t0) * 0.6))) * (0.7 if hard else 1.0)
        rx = ry * rng.uniform(1.0, 2.2)
        cy = (t0 + t1) / 2
        r = superellipse((h, w), (cy, cx), (ry, rx)) + 0.06 * smooth_field(rng, (h, w), 6)
        m = r < 1
        if m.sum() < 20 or np.any(ndi.binary_dilation(labels > 0, iterations=4) & m):
            continue
        k += 1
        labels[m] = k
        refl = np.where(m, 0.02 + (0.0 if not hard else 0.03), refl)
        # Cysts transmit more light: a faint bright band below them (hypertransmission).
        below_c = (xx > cx - rx) & (xx < cx + rx) & (yy > cy + ry) & (yy < cy + ry + 30)
        refl = np.where(below_c & ~m, refl * 1.1, refl)
    # Vessel shadows: vertical columns of reduced signal below superficial vessels.
    for _ in range(rng.integers(2, 4) if not hard else rng.integers(5, 8)):
        vx = rng.uniform(0, w)
        vw = rng.uniform(3, 8)
        col = np.exp(-((xx - vx) / vw) ** 2) * (yy > ilm[None] + 12)
        refl = refl * (1 - 0.6 * col)
    refl = ndi.gaussian_filter(refl, (0.9, 1.3))
    # Normal: a frame-averaged scan (several looks); hard: a single noisy frame.
    speckle = gamma_speckle(rng, (h, w), 4 if not hard else 1, corr=0.9)
    noise_floor = 0.0006 if not hard else 0.03
    signal = refl * speckle + noise_floor * rng.gamma(1.0, 1.0, (h, w))
    db = 10 * np.log10(signal + 1e-6)
    lo, hi = (-31.0, 2.0) if not hard else (-34.0, 14.0)   # the device's display range
    img = np.round(np.clip((db - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, k, rng, margin=(2, 6))
    return make_case("2DBox_OCT_phantom", "OCT", gray_to_rgb(img), boxes, labels,
                     meta=_meta("oct_cysts", seed, hard))
