"""Synthetic 3D phantoms with exact ground truth: CT, MR and PET.

Organs are ellipsoids deformed by low-frequency noise -- smooth from slice to slice, which
is what shape-based interpolation between sparse LiteMedSAM slices relies on. Slices are
thick (2.5-6 mm) and rendered with partial volume (each voxel averages three sub-slices),
so the ground truth (the organ surface at the slice centre) is exact while edge voxels
are mixed, as in a real scanner. Volumes are small, (28-72, 96-160, 128-160) voxels, and
each target spans at most 15 slices, so LiteMedSAM at s = 1 needs at most 15 encoder
passes per box. Deterministic for a given seed.

>>> case = pet_lesions(seed=0)
>>> case.is_3d, case.spacing, case.synthetic
(True, (4.0, 4.0, 6.0), True)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ._common import boxes_from_labels, fraction_inside, make_case, smooth_field

__all__ = ["ct_kidneys", "mr_prostate", "pet_lesions"]


def _meta(generator, seed, hard, **extra):
    return {"synthetic": True, "generator": f"classicseg.samples.phantoms_3d.{generator}",
            "seed": int(seed), "hard": bool(hard), **extra}


class _Organ:
    """A deformed ellipsoid rendered in its own bounding box.

    ``frac`` is the partial-volume fraction (mean over ``sub`` sub-slices per slice),
    ``inside`` the exact label at the slice centre, ``sl`` the box in the volume.
    """

    def __init__(self, rng, shape, center, radii, *, angle=0.0, amp=0.06, scale=(2.0, 12.0, 12.0),
                 sub=3):
        center = np.asarray(center, np.float64)
        radii = np.asarray(radii, np.float64)
        r_ip = max(radii[1], radii[2]) * (1 + 4 * amp) + 2
        ext = np.array([radii[0] * (1 + 4 * amp) + 1, r_ip, r_ip])
        lo = np.maximum(np.floor(center - ext).astype(int), 0)
        hi = np.minimum(np.ceil(center + ext).astype(int) + 1, shape)
        if np.any(hi <= lo):
            raise ValueError(f"organ at {center.tolist()} lies outside the volume {shape}")
        self.sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        nz, ny, nx = (hi - lo)
        offsets = (np.arange(sub) + 0.5) / sub - 0.5
        z = (np.arange(lo[0], hi[0])[:, None] + offsets[None, :]).ravel()
        y = np.arange(lo[1], hi[1], dtype=np.float64)
        x = np.arange(lo[2], hi[2], dtype=np.float64)
        dz = (z[:, None, None] - center[0]) / radii[0]
        dy0, dx0 = y[None, :, None] - center[1], x[None, None, :] - center[2]
        ca, sa = np.cos(angle), np.sin(angle)
        dy, dx = (ca * dy0 - sa * dx0) / radii[1], (sa * dy0 + ca * dx0) / radii[2]
        r = np.sqrt(dz ** 2 + dy ** 2 + dx ** 2)
        field = smooth_field(rng, (nz * sub, ny, nx), (scale[0] * sub, scale[1], scale[2]))
        level = (r - 1.0 - amp * field) * min(radii[1], radii[2])   # ~ voxels from the surface
        level = level.reshape(nz, sub, ny, nx)
        self.frac = fraction_inside(level, width=1.0).mean(axis=1)
        self.inside = level[:, sub // 2] < 0
        self.r = r.reshape(nz, sub, ny, nx)[:, sub // 2]      # normalised radius at slice centres

    def paint(self, vol, value, where=None):
        """Blend ``value`` (scalar or local array) into ``vol`` with the partial-volume fraction."""
        f = self.frac if where is None else self.frac * where
        vol[self.sl] = vol[self.sl] * (1 - f) + value * f

    def label(self, labels, k):
        labels[self.sl][self.inside] = k


def _percentile_uint8(vol, lo_pct=0.5, hi_pct=99.5):
    """Clip to percentiles and rescale to uint8 (the MedSAM pre-processing of MR/PET)."""
    lo, hi = np.percentile(vol, [lo_pct, hi_pct])
    return np.round(np.clip((vol - lo) / max(hi - lo, 1e-12), 0, 1) * 255).astype(np.uint8)


def _cylinder(shape, cy, cx, ry, rx, rng, amp=0.03):
    """Partial-volume fraction of an elliptic cylinder along z (a body outline)."""
    d, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    r = r - amp * smooth_field(rng, (h, w), 30)
    return np.broadcast_to(fraction_inside((r - 1) * min(ry, rx), width=1.0), shape)


# --------------------------------------------------------------------------- CT

def ct_kidneys(seed: int = 0, *, hard: bool = False):
    """Abdominal CT (portal-venous phase) with both kidneys as targets (KiTS/AMOS-like).

    Imitates: Hounsfield units of air, fat, muscle, contrast-enhanced liver, spleen,
    aorta/IVC, kidneys with cortex, medulla and sinus fat inside perirenal fat, vertebra,
    psoas, bowel with gas; 5 mm slices with partial volume, correlated noise (~12 HU),
    displayed with an abdominal window (W 400 / L 40). 1.8 mm pixels (a 288 mm field of
    view on 160 pixels). Kidneys are smooth, so shape-based interpolation between
    sparse slices works well. Ground truth: 1 = kidney on the image left (patient right),
    2 = kidney on the image right.
    Hard: non-contrast phase (kidneys 32 HU vs liver 58 HU), noisier (22 HU), lobulated
    kidneys that change shape quickly between slices, and the liver pressing on the
    right kidney (little fat between them).
    Does not imitate: real anatomy or its variation, beam hardening/streaks, tumours.
    """
    rng = np.random.default_rng(seed)
    shape = (32, 160, 160)
    d, h, w = shape
    cy, cx = 84.0, 80.0
    hu = np.full(shape, -1000.0)
    body = _cylinder(shape, cy, cx, 62, 74, rng)
    hu = hu * (1 - body) + 45.0 * body                           # skin + abdominal wall muscle
    fat = _cylinder(shape, cy, cx, 57, 69, rng)
    hu = hu * (1 - fat) + (-105.0) * fat                          # subcutaneous fat
    cav = _cylinder(shape, cy + 2, cx, 49, 61, rng, amp=0.04)
    inner = 35.0 + 10 * smooth_field(rng, shape, (2, 10, 10))
    hu = hu * (1 - cav) + inner * cav  # abdominal cavity (mesentery, bowel)
    contrast = not hard
    # Retroperitoneal fat in the back of the cavity, where the kidneys lie.
    retro = _Organ(rng, shape, (d / 2, cy + 22, cx), (40, 22, 56), amp=0.05)
    retro.paint(hu, -95.0)
    # Bowel loops with gas.
    for _ in range(7):
        bz, by, bx = rng.uniform(2, d - 2), cy - rng.uniform(10, 35), cx + rng.uniform(-35, 35)
        loop = _Organ(rng, shape, (bz, by, bx),
                      (rng.uniform(3, 6), rng.uniform(7, 11), rng.uniform(7, 11)), amp=0.1)
        loop.paint(hu, 25.0 + 10 * rng.standard_normal())
        gas = _Organ(rng, shape, (bz, by - 2, bx), (1.5, 3.5, 4), amp=0.1)
        gas.paint(hu, -950.0)
    # Liver (image left = patient right) and spleen; hard: the liver reaches the right kidney.
    liver_c = (6.0, cy - 4, cx - 30) if not hard else (9.0, cy + 6, cx - 32)
    liver = _Organ(rng, shape, liver_c, (16, 36, 32), amp=0.05, angle=0.3)
    liver.paint(hu, (105.0 if contrast else 58.0)
                + 6 * smooth_field(rng, liver.frac.shape, (2, 6, 6)))
    spleen = _Organ(rng, shape, (7.0, cy + 12, cx + 46), (9, 22, 12), amp=0.05, angle=-0.5)
    spleen.paint(hu, 115.0 if contrast else 48.0)
    # Spine, canal, psoas, great vessels.
    vert = _Organ(rng, shape, (d / 2, cy + 34, cx), (60, 13, 14), amp=0.02)
    vert.paint(hu, 650.0)
    marrow = _Organ(rng, shape, (d / 2, cy + 34, cx), (60, 10.5, 11.5), amp=0.02)
    marrow.paint(hu, 260.0)
    _Organ(rng, shape, (d / 2, cy + 52, cx), (60, 5.5, 6), amp=0.02).paint(hu, 20.0)
    for s in (-1, 1):
        _Organ(rng, shape, (d / 2 + 4, cy + 30, cx + s * 22), (14, 9, 8), amp=0.05).paint(hu, 50.0)
    _Organ(rng, shape, (d / 2, cy + 18, cx + 8), (60, 5.5, 5.5), amp=0.01).paint(
        hu, 175.0 if contrast else 42.0)
    _Organ(rng, shape, (d / 2, cy + 16, cx - 12), (60, 6.5, 7.5), amp=0.02).paint(
        hu, 140.0 if contrast else 40.0)
    # Kidneys: perirenal fat, cortex, medulla, sinus fat.
    labels = np.zeros(shape, np.uint16)
    amp, scale = (0.05, (3.0, 14.0, 14.0)) if not hard else (0.16, (1.2, 5.0, 5.0))
    for k, s in enumerate((-1, 1)):
        kc = (d / 2 + rng.uniform(-1.5, 1.5), cy + 21 + rng.uniform(-2, 2),
              cx + s * rng.uniform(38, 42))
        # z radius shrinks with the lobulation so the box stays within 15 slices
        rad = (rng.uniform(5.9, 6.4) / (1 + 1.5 * amp), rng.uniform(20, 23), rng.uniform(12, 14))
        ang = -s * rng.uniform(0.3, 0.5)
        fat_margin = 6.0 if not (hard and s < 0) else 1.5
        peri = _Organ(rng, shape, kc, (rad[0] + 1.2, rad[1] + fat_margin, rad[2] + fat_margin),
                      angle=ang, amp=0.05)
        peri.paint(hu, -90.0)
        kid = _Organ(rng, shape, kc, rad, angle=ang, amp=amp, scale=scale)
        cortex = 190.0 if contrast else 34.0
        medulla = 120.0 if contrast else 30.0
        tex = 5 * smooth_field(rng, kid.frac.shape, (1, 3, 3))
        kid.paint(hu, cortex + tex)
        kid.paint(hu, medulla + tex, where=(kid.r < 0.62))
        sinus_c = (kc[0], kc[1] - 2, kc[2] - s * rad[2] * 0.55)
        sinus = _Organ(rng, shape, sinus_c, (rad[0] * 0.6, rad[1] * 0.35, rad[2] * 0.45),
                       angle=ang, amp=0.05)
        sinus.paint(hu, -60.0 if contrast else -40.0)
        kid.label(labels, k + 1)
    noise = ndi.gaussian_filter(rng.standard_normal(shape), (0, 0.8, 0.8))
    noise /= noise.std()
    hu = hu + (12.0 if not hard else 22.0) * noise
    img = np.round(np.clip((hu + 160.0) / 400.0, 0, 1) * 255).astype(np.uint8)
    boxes = boxes_from_labels(labels, 2, rng, margin=(2, 6))
    return make_case("3DBox_CT_phantom", "CT", img, boxes, labels, spacing=(1.8, 1.8, 5.0),
                     meta=_meta("ct_kidneys", seed, hard, window="W400/L40"))


# --------------------------------------------------------------------------- MR

def mr_prostate(seed: int = 0, *, hard: bool = False):
    """T2-weighted small-field-of-view pelvic MR with the prostate and the bladder as targets.

    Imitates: bright fat and urine, dark muscle (obturator internus), femoral heads with
    marrow and dark cortex, the rectum with gas, a prostate with a nodular central gland
    and a brighter peripheral zone inside a dark capsule, a receive-coil **bias field**
    (brighter near the coil), **Rician** magnitude noise, 3.6 mm slices with partial
    volume, percentile-clipped to uint8 as MedSAM pre-processing does. Ground truth:
    1 = prostate, 2 = bladder (PROMISE12/AMOS-MR-like).
    Hard: a strong bias field, low SNR and a low-contrast peripheral zone (the gland
    border fades into the surrounding tissue).
    Does not imitate: DWI/ADC, seminal vesicles, neurovascular bundles, motion.
    """
    rng = np.random.default_rng(seed)
    shape = (28, 160, 160)
    d, h, w = shape
    cy, cx = 80.0, 80.0
    sig = np.zeros(shape)
    body = _cylinder(shape, cy + 5, cx, 110, 130, rng)
    sig = sig * (1 - body) + (0.72 + 0.05 * smooth_field(rng, shape, (2, 8, 8))) * body
    for s in (-1, 1):
        _Organ(rng, shape, (d / 2, cy + 5, cx + s * 50), (40, 32, 11), amp=0.05,
               angle=s * 0.25).paint(sig, 0.22)
        head = _Organ(rng, shape, (d * 0.62, cy - 8, cx + s * 76), (12, 22, 22), amp=0.02)
        head.paint(sig, 0.05)
        _Organ(rng, shape, (d * 0.62, cy - 8, cx + s * 76), (11, 19, 19), amp=0.02).paint(sig, 0.6)
    pubis = _Organ(rng, shape, (d * 0.3, cy - 52, cx), (10, 9, 22), amp=0.05)
    pubis.paint(sig, 0.08)
    rect = _Organ(rng, shape, (d / 2, cy + 34, cx), (40, 13, 15), amp=0.06)
    rect.paint(sig, 0.28)
    _Organ(rng, shape, (d / 2, cy + 34, cx), (40, 7, 9), amp=0.15).paint(sig, 0.03)
    labels = np.zeros(shape, np.uint16)
    pc = (9.0 + rng.uniform(-0.5, 0.5), cy + 4, cx + rng.uniform(-3, 3))
    prad = (rng.uniform(5.6, 6.1), rng.uniform(16, 18), rng.uniform(21, 24))
    capsule = _Organ(rng, shape, pc, (prad[0] + 0.3, prad[1] + 1.5, prad[2] + 1.5), amp=0.04)
    capsule.paint(sig, 0.18)
    pro = _Organ(rng, shape, pc, prad, amp=0.04, scale=(3.0, 12.0, 12.0))
    nodular = 0.42 + 0.07 * smooth_field(rng, pro.frac.shape, (1, 3, 3))
    pro.paint(sig, nodular)
    yl = np.arange(pro.sl[1].start, pro.sl[1].stop)[None, :, None]
    pz = (yl > pc[1] + 0.15 * prad[1]) & (pro.r > 0.55)
    pro.paint(sig, 0.68 if not hard else 0.5, where=pz)
    pro.label(labels, 1)
    bc = (d - 7.0 + rng.uniform(-0.5, 0.5), cy - 20, cx + rng.uniform(-3, 3))
    brad = (rng.uniform(6.0, 6.6), rng.uniform(24, 28), rng.uniform(32, 36))
    # the bladder wall
    _Organ(rng, shape, bc, (brad[0] + 0.3, brad[1] + 2, brad[2] + 2), amp=0.03).paint(sig, 0.3)
    blad = _Organ(rng, shape, bc, brad, amp=0.03, scale=(3.0, 16.0, 16.0))
    blad.paint(sig, 0.95)
    blad.label(labels, 2)
    # Receive-coil bias: smooth multiplicative field + brighter posteriorly (near the coil).
    yy = np.arange(h, dtype=np.float64)[None, :, None]
    strength = 0.15 if not hard else 0.45
    bias = np.exp(strength * smooth_field(rng, shape, (12, 60, 60))
                  + (0.2 if not hard else 0.5) * (yy - cy) / h)
    s = sig * bias
    sigma = 0.025 if not hard else 0.07
    s = np.sqrt((s + sigma * rng.standard_normal(shape)) ** 2
                + (sigma * rng.standard_normal(shape)) ** 2)
    img = _percentile_uint8(s)
    boxes = boxes_from_labels(labels, 2, rng, margin=(2, 6))
    return make_case("3DBox_MR_phantom", "MR", img, boxes, labels, spacing=(1.25, 1.25, 3.6),
                     meta=_meta("mr_prostate", seed, hard, sequence="T2-weighted"))


# --------------------------------------------------------------------------- PET

def pet_lesions(seed: int = 0, *, hard: bool = False):
    """Whole-torso FDG-PET with small hot lesions (AutoPET-like), values in SUV before scaling.

    Imitates: physiological uptake **outside the boxes** -- myocardium (SUV ~6), kidneys
    and renal pelvis, a very hot bladder (SUV ~25), liver (2.3), spleen, marrow, bowel --
    low-uptake lungs and fat, a ~7 mm FWHM point-spread function (partial volume: small
    lesions lose their peak), Poisson counting noise, reconstruction smoothing, 4 x 4 x 6 mm
    voxels and percentile clipping to uint8. Two lesions: a lung nodule (high contrast to
    lung) and a liver lesion (low contrast: SUV ~5 on a liver of 2.3).
    Ground truth: the lesions' surfaces before blurring (1 = lung nodule, 2 = liver lesion).
    Hard: fewer counts (noisier), weaker lesions, and lesions next to hot organs -- a
    para-cardiac node whose box contains myocardium and a pelvic node beside the bladder --
    so a threshold pooled over the boxes is pulled up by physiological uptake.
    Does not imitate: the CT half of PET/CT, attenuation/scatter physics, motion,
    brain uptake (the field of view is the torso).
    """
    rng = np.random.default_rng(seed)
    shape = (72, 96, 128)
    d, h, w = shape
    cy, cx = 50.0, 64.0
    suv = np.zeros(shape)
    body = _cylinder(shape, cy, cx, 40, 58, rng)
    suv = suv * (1 - body) + (0.35 + 0.05 * smooth_field(rng, shape, 6)) * body
    muscle = _cylinder(shape, cy, cx, 36, 53, rng)
    suv = suv * (1 - muscle) + 0.75 * muscle
    lungs = []
    for s in (-1, 1):
        lung = _Organ(rng, shape, (12.0, cy - 2, cx + s * 25), (14, 26, 20), amp=0.05)
        lung.paint(suv, 0.4)
        lungs.append(lung)
    # mediastinal blood pool
    _Organ(rng, shape, (12.0, cy - 5, cx), (16, 12, 8), amp=0.05).paint(suv, 1.5)
    heart_c = (17.0, cy - 8, cx + 10)
    heart = _Organ(rng, shape, heart_c, (5, 14, 16), amp=0.04, angle=0.5)
    myo = 6.0 * (1 + 0.15 * smooth_field(rng, heart.frac.shape, 3))
    heart.paint(suv, myo)
    _Organ(rng, shape, heart_c, (3.5, 9.5, 11), amp=0.04, angle=0.5).paint(suv, 1.6)
    liver = _Organ(rng, shape, (30.0, cy - 2, cx - 20), (9, 24, 26), amp=0.05, angle=0.2)
    liver.paint(suv, 2.3 + 0.15 * smooth_field(rng, liver.frac.shape, 3))
    _Organ(rng, shape, (29.0, cy + 12, cx + 36), (5, 15, 9), amp=0.05).paint(suv, 2.0)  # spleen
    for s in (-1, 1):
        kc = (38.0, cy + 18, cx + s * 24)
        _Organ(rng, shape, kc, (4, 9, 6), amp=0.05).paint(suv, 3.2)
        _Organ(rng, shape, kc, (1.5, 3, 2.5), amp=0.1).paint(suv, 12.0)  # renal pelvis
    _Organ(rng, shape, (36.0, cy + 28, cx), (40, 6, 6), amp=0.02).paint(suv, 1.8)  # marrow
    for _ in range(6):  # bowel
        _Organ(rng, shape,
               (rng.uniform(40, 56), cy - rng.uniform(0, 20), cx + rng.uniform(-30, 30)),
               (2.5, 6, 7), amp=0.15).paint(suv, rng.uniform(1.5, 3.2))
    bladder_c = (64.0, cy - 4, cx)
    _Organ(rng, shape, bladder_c, (4, 12, 14), amp=0.04).paint(suv, 25.0)
    # Lesions.
    labels = np.zeros(shape, np.uint16)
    if not hard:
        specs = [((10.0 + rng.uniform(-1, 1), cy - 4, cx - 28 + rng.uniform(-3, 3)),
                  (1.6, 2.6, 2.6), 7.0),
                 ((30.0 + rng.uniform(-1, 1), cy - 6 + rng.uniform(-3, 3), cx - 24),
                  (2.4, 4.0, 4.5), 5.0)]
    else:
        # touching the myocardium / the bladder wall: each box holds part of a hot organ
        specs = [((heart_c[0], heart_c[1] - 2, heart_c[2] - 18.5), (1.8, 3.0, 3.0), 3.8),
                 ((bladder_c[0] - 1, bladder_c[1] + 5, bladder_c[2] - 16.0), (2.2, 3.5, 3.5), 3.5)]
    for k, (c, r, v) in enumerate(specs):
        les = _Organ(rng, shape, c, r, amp=0.08, scale=(1.5, 3.0, 3.0))
        les.paint(suv, v * (1 + 0.1 * smooth_field(rng, les.frac.shape, 1.5)))
        les.label(labels, k + 1)
    # Scanner: PSF (7 mm FWHM -> sigma 3 mm), Poisson counts, post-reconstruction smoothing.
    spacing_zyx = (6.0, 4.0, 4.0)
    psf = ndi.gaussian_filter(suv, [3.0 / s for s in spacing_zyx])
    counts_per_suv = 30.0 if not hard else 9.0
    noisy = rng.poisson(np.clip(psf, 0, None) * counts_per_suv) / counts_per_suv
    recon = ndi.gaussian_filter(noisy, [2.0 / s for s in spacing_zyx])
    img = _percentile_uint8(recon)
    boxes = boxes_from_labels(labels, len(specs), rng, margin=(0, 1), margin_z=(0, 1))
    return make_case("3DBox_PET_phantom", "PET", img, boxes, labels, spacing=(4.0, 4.0, 6.0),
                     meta=_meta("pet_lesions", seed, hard, lesion_suv=[float(s[2]) for s in specs]))
