"""Real images that ship inside installable packages (see docs/algorithms.md §16).

Files are located through ``importlib.metadata`` and read with tifffile / nibabel /
pydicom / scikit-image; the packages themselves (stardist pulls TensorFlow, nilearn is
slow to import) are never imported. A missing package raises
:class:`SampleDataUnavailable` saying ``pip install "classicseg[samples]"``.

With ground truth: the StarDist nuclei image (125 instances) and the MNI152 template
(lateral ventricles from its tissue-probability maps), and -- stored as files in the
repository's ``data_samples/``, not derived from a package -- six HC18 fetal heads
(:func:`bundled_case`, CC BY 4.0). Without ground truth (boxes drawn
by us, for box-drawing demos): a fundus photograph, a phase image of a cell and an IHC
histology image from scikit-image, and ultrasound, chest X-ray and CT images from
pydicom-data.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from pathlib import Path

import numpy as np

from ..io import load_case, to_uint8
from ._common import boxes_from_labels, gray_to_rgb, make_case

__all__ = ["SampleDataUnavailable", "INSTALL_HINT", "microscopy_nuclei_stardist",
           "mr_ventricles_mni152", "fundus_retina_skimage", "microscopy_cell_skimage",
           "microscopy_ihc_skimage", "us_pelvis_pydicom", "xray_chest_pydicom",
           "ct_abdomen_pydicom", "DATA_SAMPLES_ENV", "data_samples_dir", "bundled_paths",
           "bundled_case"]

INSTALL_HINT = 'pip install "classicseg[samples]"'


class SampleDataUnavailable(ImportError):
    """A real sample needs a package (or a file inside it) that is not installed."""


def _distribution(name: str):
    """``importlib.metadata.distribution`` (a separate function so tests can simulate absence)."""
    return importlib.metadata.distribution(name)


def package_file(dist_name: str, rel_path: str) -> tuple[Path, str]:
    """Absolute path of a data file inside an installed distribution, and its version."""
    try:
        dist = _distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise SampleDataUnavailable(
            f"this sample reads a file shipped in the '{dist_name}' package, which is not "
            f"installed; install the sample-data extra: {INSTALL_HINT}") from None
    path = Path(dist.locate_file(rel_path))
    if not path.is_file():
        raise SampleDataUnavailable(f"{rel_path} is missing from {dist_name} {dist.version} "
                                    f"(looked at {path}); reinstall it: {INSTALL_HINT}")
    return path, dist.version


def _import(module: str, dist_name: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SampleDataUnavailable(
            f"reading this sample needs '{dist_name}': {INSTALL_HINT}") from None


def _meta(generator, **extra):
    return {"synthetic": False, "generator": f"classicseg.samples.real.{generator}", "seed": None,
            "hard": False, **extra}


# --------------------------------------------------------------------------- with ground truth

def microscopy_nuclei_stardist():
    """Fluorescence nuclei (2018 Data Science Bowl image shipped with StarDist), 125 instances.

    ``stardist/data/images/img2d.tif`` (512 x 512 uint16, values 0-235) min-max scaled to
    uint8 and repeated to three channels; ``mask2d.tif`` relabelled to 1..125 in the order
    of its original ids; one tight box per nucleus -- the many-small-boxes situation where
    the paper says MedSAM fails.
    """
    tifffile = _import("tifffile", "tifffile")
    img_path, version = package_file("stardist", "stardist/data/images/img2d.tif")
    mask_path, _ = package_file("stardist", "stardist/data/images/mask2d.tif")
    img = tifffile.imread(img_path)
    mask = tifffile.imread(mask_path)
    ids = np.unique(mask)
    ids = ids[ids > 0]
    lut = np.zeros(int(mask.max()) + 1, np.uint16)
    lut[ids] = np.arange(1, len(ids) + 1)
    labels = lut[mask]
    boxes = boxes_from_labels(labels, len(ids))
    return make_case("2DBox_Microscopy_real", "Microscopy", gray_to_rgb(to_uint8(img)), boxes,
                     labels,
                     meta=_meta("microscopy_nuclei_stardist", package=f"stardist {version}",
                                files=["stardist/data/images/img2d.tif",
                                       "stardist/data/images/mask2d.tif"],
                                channels="grayscale"))


_MNI = "nilearn/datasets/data/mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"


def mr_ventricles_mni152(*, z_start: int = 54, n_slices: int = 20, thickness: int = 3,
                         threshold: float = 0.6):
    """MNI152 (ICBM 2009a symmetric) T1 template with both lateral ventricles as targets.

    The 1 mm template from the nilearn wheel is reoriented to axial slices (anterior up,
    patient left on the image right, as radiologists view it), cropped to the brain, and
    every ``thickness`` = 3 slices are averaged into one 3 mm slice (partial volume, like
    a thick-slice clinical scan) -- 20 slices around the ventricles. Ground truth: CSF
    probability ``1 - p(GM) - p(WM) > threshold`` inside the brain; the two large
    components are the lateral ventricles (1 = image left, 2 = image right), each
    down-sampled by majority vote. The labels are therefore template-derived, not a
    manual delineation.
    """
    nib = _import("nibabel", "nibabel")
    from scipy import ndimage as ndi

    vols = {}
    version = None
    for key in ("t1", "gm", "wm"):
        path, version = package_file("nilearn", _MNI.format(key))
        a = np.asanyarray(nib.load(str(path)).dataobj)
        # RAS (x, y, z) -> (z, y, x) with anterior at the top and patient left on the right
        vols[key] = np.ascontiguousarray(a.transpose(2, 1, 0)[:, ::-1, ::-1]).astype(np.float64)
    t1 = vols["t1"]
    csf = np.clip(255.0 - vols["gm"] - vols["wm"], 0, 255) / 255.0 * (t1 > 10)
    # The lateral ventricles: the two largest CSF components that lie entirely inside a
    # central region of the brain (the outer CSF around the cortex always reaches its border).
    roi = (slice(40, 150), slice(40, 180), slice(50, 148))
    lab = np.zeros(csf.shape, np.int32)
    lab[roi], _ = ndi.label(csf[roi] > threshold, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(lab.ravel())
    objs = ndi.find_objects(lab)
    inner = [i for i in range(1, len(sizes)) if objs[i - 1] is not None and
             all(o.start > r.start and o.stop < r.stop for o, r in zip(objs[i - 1], roi))]
    # the two largest, image-left first
    pair = sorted(sorted(inner, key=lambda i: -sizes[i])[:2], key=lambda i: objs[i - 1][2].start)
    z0, z1 = z_start, z_start + n_slices * thickness
    ys, xs = np.nonzero(t1.max(axis=0) > 10)
    y0, y1 = max(ys.min() - 6, 0), min(ys.max() + 7, t1.shape[1])
    x0, x1 = max(xs.min() - 6, 0), min(xs.max() + 7, t1.shape[2])

    def slab(a):
        a = a[z0:z1, y0:y1, x0:x1]
        return a.reshape(n_slices, thickness, *a.shape[1:]).mean(axis=1)

    img = np.round(slab(t1)).astype(np.uint8)
    labels = np.zeros(img.shape, np.uint16)
    for k, i in enumerate(pair):
        labels[slab((lab == i).astype(np.float64)) >= 0.5] = k + 1
    boxes = boxes_from_labels(labels, 2)
    return make_case("3DBox_MR_real", "MR", img, boxes, labels,
                     spacing=(1.0, 1.0, float(thickness)),
                     meta=_meta("mr_ventricles_mni152", package=f"nilearn {version}",
                                files=[_MNI.format(k) for k in ("t1", "gm", "wm")],
                                crop_zyx_1mm=[[z0, z1], [int(y0), int(y1)], [int(x0), int(x1)]],
                                gt=f"CSF probability > {threshold}, lateral ventricles"))


# --------------------------------------------------------------------------- files in data_samples/

#: Environment variable naming a folder laid out like ``data_samples/`` (``imgs/`` + ``gts/``)
#: that holds the bundled real files, for installs without the repository.
DATA_SAMPLES_ENV = "CLASSICSEG_DATA_SAMPLES"


def data_samples_dir() -> Path:
    """The folder of the bundled real files: ``$CLASSICSEG_DATA_SAMPLES``, else the
    repository's ``data_samples/`` (next to the ``classicseg`` package of a checkout)."""
    env = os.environ.get(DATA_SAMPLES_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data_samples"


def bundled_paths(file: str) -> tuple[Path, Path]:
    """``(imgs/<file>, gts/<file>)`` in :func:`data_samples_dir`; SampleDataUnavailable if absent.

    Examples
    --------
    >>> img, gt = bundled_paths("2DBox_US_hc18-082.npz")
    >>> img.parent.name, gt.parent.name, img.name == gt.name
    ('imgs', 'gts', True)
    """
    root = data_samples_dir()
    paths = (root / "imgs" / file, root / "gts" / file)
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        raise SampleDataUnavailable(
            f"{file} is a real case stored as a file in the classicseg repository's "
            f"data_samples/ (missing: {', '.join(missing)}); use a checkout or point "
            f"{DATA_SAMPLES_ENV} to a copy of that folder")
    return paths


def bundled_case(file: str):
    """A real case stored as a challenge file pair in ``data_samples/`` (read, never derived).

    The files are redistributable copies, byte for byte, of cases whose licence allows it
    (the HC18 fetal heads: CC BY 4.0, attribution in ``data_samples/README.md``); they are
    read with ``allow_pickle=False`` and validated like any user file.

    Examples
    --------
    >>> c = bundled_case("2DBox_US_hc18-082.npz")
    >>> c.modality, c.image.shape, c.n_boxes, int(c.gts.max())
    ('US', (540, 800, 3), 1, 1)
    """
    img_path, gt_path = bundled_paths(file)
    case = load_case(img_path, gt_path)
    case.meta = _meta("bundled_case", files=[f"data_samples/imgs/{file}",
                                             f"data_samples/gts/{file}"])
    return case


# --------------------------------------------------------------------------- without ground truth

def _skimage_image(name: str):
    data = _import("skimage.data", "scikit-image")
    return getattr(data, name)()


def fundus_retina_skimage():
    """``skimage.data.retina()`` (CC0 fundus photograph), 512 x 512, one box on the optic disc."""
    import cv2

    img = cv2.resize(_skimage_image("retina"), (512, 512), interpolation=cv2.INTER_AREA)
    boxes = np.array([[62, 203, 124, 274]])
    return make_case("2DBox_Fundus_real", "Fundus", img, boxes, None,
                     meta=_meta("fundus_retina_skimage", files=["skimage/data/retina.jpg"],
                                boxes_by="drawn by the classicseg authors around the optic disc"))


def microscopy_cell_skimage():
    """``skimage.data.cell()`` (CC0 quantitative-phase image of one cell), one box on the cell."""
    img = _skimage_image("cell")
    boxes = np.array([[372, 321, 484, 430]])
    return make_case("2DBox_Microscopy_real", "Microscopy", gray_to_rgb(img), boxes, None,
                     meta=_meta("microscopy_cell_skimage", files=["skimage/data/cell.png"],
                                channels="grayscale",
                                boxes_by="drawn by the classicseg authors around the cell"))


def microscopy_ihc_skimage():
    """``skimage.data.immunohistochemistry()`` (IHC, colonic glands; RGB), boxes on two glands."""
    img = _skimage_image("immunohistochemistry")
    boxes = np.array([[288, 262, 446, 505], [333, 0, 511, 262]])
    return make_case("2DBox_Microscopy_real", "Microscopy", img, boxes, None,
                     meta=_meta("microscopy_ihc_skimage", files=["skimage/data/ihc.png"],
                                channels="rgb",
                                boxes_by="drawn by the classicseg authors around two glands"))


def _dicom(name: str):
    """The dataset of a pydicom-data file (clear errors when pydicom or pydicom-data is missing)."""
    pydicom = _import("pydicom", "pydicom")
    # a clear message when pydicom-data is absent
    package_file("pydicom-data", f"data_store/data/{name}")
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        raise SampleDataUnavailable(f"pydicom cannot find {name}; {INSTALL_HINT}")
    return pydicom.dcmread(path)


def us_pelvis_pydicom():
    """Pelvic ultrasound (``gdcm-US-ALOKA-16.dcm``, pydicom-data): the left image of the
    dual view, cropped to the scan area; one box on the dark (fluid-filled) bladder."""
    ds = _dicom("gdcm-US-ALOKA-16.dcm")
    from pydicom.pixels import apply_color_lut

    rgb = apply_color_lut(ds.pixel_array, ds)            # palette colour, 16-bit entries
    img = (rgb[40:410, 44:246] >> 8).astype(np.uint8)    # crop: left pane, no text overlay
    gray = np.round(img.astype(np.float64).mean(axis=2)).astype(np.uint8)
    boxes = np.array([[2, 52, 200, 190]])
    return make_case("2DBox_US_real", "US", gray_to_rgb(gray), boxes, None,
                     meta=_meta("us_pelvis_pydicom", package="pydicom-data",
                                files=["gdcm-US-ALOKA-16.dcm"],
                                boxes_by="drawn by the classicseg authors around the bladder"))


def xray_chest_pydicom():
    """Chest radiograph (``RG1_UNCR.dcm``, pydicom-data), MONOCHROME1 inverted for display,
    down-sampled 4x (area) to 489 x 461; one box per lung field."""
    import cv2

    ds = _dicom("RG1_UNCR.dcm")
    a = ds.pixel_array.astype(np.float64)
    if ds.PhotometricInterpretation == "MONOCHROME1":   # high values are dark on display
        a = a.max() - a
    h, w = a.shape
    a = cv2.resize(a, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    img = to_uint8(a)
    boxes = np.array([[55, 60, 228, 430], [262, 60, 430, 436]])
    return make_case("2DBox_XRay_real", "XRay", gray_to_rgb(img), boxes, None,
                     meta=_meta("xray_chest_pydicom", files=["RG1_UNCR.dcm"],
                                boxes_by="drawn by the classicseg authors around the lung fields"))


def ct_abdomen_pydicom():
    """Contrast-enhanced abdominal CT slice (``explicit_VR-UN.dcm``, pydicom-data; JPEG 2000,
    decoded by Pillow/pylibjpeg), as a one-slice 3D case in Hounsfield units shown with an
    abdominal window (W 400 / L 40). Rows are flipped so that anterior is at the top (the
    file's row direction points anteriorly). One box per kidney."""
    ds = _dicom("explicit_VR-UN.dcm")
    from pydicom.pixels import apply_modality_lut

    try:
        hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    except Exception as e:  # pragma: no cover - depends on the installed JPEG 2000 decoders
        raise SampleDataUnavailable(f"cannot decode explicit_VR-UN.dcm (JPEG 2000): {e}; "
                                    "install Pillow with OpenJPEG or pylibjpeg-openjpeg") from None
    if float(ds.ImageOrientationPatient[4]) < 0:
        hu = hu[::-1]
    img = np.round(np.clip((hu + 160.0) / 400.0, 0, 1) * 255).astype(np.uint8)[None]
    boxes = np.array([[170, 277, 0, 235, 350, 0], [292, 285, 0, 346, 347, 0]])
    px = [float(v) for v in ds.PixelSpacing]
    thick = float(getattr(ds, "SliceThickness", 0) or 1.0)
    return make_case("3DBox_CT_real", "CT", img, boxes, None, spacing=(px[1], px[0], thick),
                     meta=_meta("ct_abdomen_pydicom", files=["explicit_VR-UN.dcm"],
                                window="W400/L40",
                                boxes_by="drawn by the classicseg authors around the kidneys"))
