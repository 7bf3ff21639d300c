"""The paper's router (Fig. 1 / Table 1) and the Pipeline that applies it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from classicseg.io import Case, load_case, save_case
from classicseg.pipeline.core import Pipeline
from classicseg.pipeline.router import normalize_method, resolve_s, route
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)


def _case(modality: str, *, is_3d: bool | None = None, image=None, boxes=None) -> Case:
    is_3d = modality in ("CT", "MR", "PET") if is_3d is None else is_3d
    if image is None:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 60, (8, 32, 32) if is_3d else (32, 32, 3), dtype=np.uint8)
    if boxes is None:
        boxes = np.array([[4, 4, 1, 20, 20, 6]] if is_3d else [[4, 4, 20, 20]])
    return Case(f"{'3D' if is_3d else '2D'}Box_{modality}_0001", image, boxes)


# ---------------------------------------------------------------- per modality (paper Table 1)

@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_ct_mr_sparse_litemedsam_s3(modality):
    r = route(_case(modality))
    assert (r.method, r.s, r.postprocess, r.modality) == ("litemedsam", 3, "box", modality)
    assert "interpolation" in r.reason and "s=3" in r.reason


def test_pet_and_oct_use_ght_with_their_direction():
    pet, oct_ = route(_case("PET")), route(_case("OCT"))
    assert (pet.method, pet.variant, pet.postprocess) == ("ght", "pet", "full")
    assert (oct_.method, oct_.variant, oct_.postprocess) == ("ght", "oct", "full")
    assert "bright" in pet.reason and "dark" in oct_.reason


@pytest.mark.parametrize("modality", ["US", "XRay", "Fundus", "Endoscopy"])
def test_medsam_modalities(modality):
    r = route(_case(modality))
    assert (r.method, r.s, r.postprocess) == ("litemedsam", 1, "box")


@pytest.mark.parametrize("modality", ["Dermoscopy", "Mammography"])
def test_specialists_use_mobileunet_when_weights_exist(modality):
    assert route(_case(modality), mobileunet_available=lambda m: True).method == "mobileunet"
    r = route(_case(modality), mobileunet_available=lambda m: False)
    assert r.method == "litemedsam"
    assert "no MobileUNet weights" in r.reason  # the fallback is recorded, not silent


def test_route_uses_file_name_not_folder(tmp_path):
    case = _case("Microscopy", image=np.zeros((32, 32, 3), np.uint8))
    path = save_case(case, tmp_path / "US_data" / "2DBox_Microscopy_0001.npz")
    assert load_case(path).modality == "Microscopy"


# ---------------------------------------------------------------- microscopy variants

def _discs(n=6, radius=20, size=250):
    import cv2

    img = np.full((size, size), 20, np.uint8)
    boxes = []
    for k in range(n):  # anti-aliased discs, like real round nuclei
        cy, cx = 40 + (k // 3) * 75, 40 + (k % 3) * 75
        cv2.circle(img, (cx, cy), radius, 220, -1, lineType=cv2.LINE_AA)
        boxes.append([cx - radius - 12, cy - radius - 12, cx + radius + 12, cy + radius + 12])
    return img, np.array(boxes)


def test_microscopy_rgb_goes_to_litemedsam():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    r = route(_case("Microscopy", image=img, boxes=np.array([[5, 5, 30, 30]])))
    assert (r.method, r.variant) == ("litemedsam", "rgb")


def test_microscopy_two_channel_goes_to_mean_threshold():
    gray, boxes = _discs()
    img = np.stack([gray, gray // 2, np.zeros_like(gray)], axis=2)
    r = route(_case("Microscopy", image=img, boxes=boxes))
    assert (r.method, r.variant, r.postprocess) == ("threshold", "two-channel", "lcc")


def test_microscopy_grayscale_circles_go_to_litemedsam():
    gray, boxes = _discs()
    r = route(_case("Microscopy", image=np.repeat(gray[..., None], 3, 2), boxes=boxes))
    assert (r.method, r.variant) == ("litemedsam", "grayscale")
    assert r.details["circle_fraction"] > 0.35
    assert "Hough circle" in r.reason and "> 35%" in r.reason


def test_microscopy_grayscale_without_circles_goes_to_kmeans():
    gray = np.full((200, 200), 20, np.uint8)
    boxes = []
    for k in range(6):  # thin bars: no circle in any box
        y0, x0 = 20 + (k // 3) * 80, 10 + (k % 3) * 60
        gray[y0:y0 + 40, x0 + 20:x0 + 24] = 220
        boxes.append([x0 + 10, y0 - 5, x0 + 34, y0 + 45])
    r = route(_case("Microscopy", image=np.repeat(gray[..., None], 3, 2), boxes=np.array(boxes)))
    assert (r.method, r.variant) == ("kmeans", "grayscale")
    assert r.details["circle_fraction"] <= 0.35
    assert "<= 35%" in r.reason


def test_circle_limit_is_a_parameter():
    gray, boxes = _discs()
    case = _case("Microscopy", image=np.repeat(gray[..., None], 3, 2), boxes=boxes)
    assert route(case, circle_limit=1.0).method == "kmeans"


# ---------------------------------------------------------------- baseline and overrides

@pytest.mark.parametrize("modality", ["CT", "PET", "OCT", "Microscopy", "Dermoscopy", "US"])
def test_baseline_is_litemedsam_everywhere(modality):
    r = route(_case(modality), mode="baseline", mobileunet_available=lambda m: True)
    assert (r.method, r.s, r.postprocess) == ("litemedsam", 1, "none")


def test_forced_methods_and_their_limits():
    assert route(_case("US"), method="kmeans").method == "kmeans"
    assert route(_case("US"), method="medsam").method == "litemedsam"
    ght3 = route(_case("CT"), method="ght")
    ght2 = route(_case("US"), method="ght")
    assert (ght3.variant, ght2.variant) == ("pet", "oct")
    assert "forced" in ght3.reason
    with pytest.raises(ValueError, match="2D images only"):
        route(_case("CT"), method="kmeans")
    with pytest.raises(ValueError, match="method must be one of"):
        route(_case("US"), method="sam2")
    with pytest.raises(ValueError, match="baseline"):
        route(_case("US"), method="ght", mode="baseline")


def test_slice_step_overrides():
    assert route(_case("CT"), s=1).s == 1
    assert route(_case("MR"), s={"CT": 5}).s == 3          # MR keeps the paper's value
    assert route(_case("CT"), s={"CT": 5}).s == 5
    assert route(_case("US"), s=4).s == 1                  # 2D: no slices to skip
    assert route(_case("PET"), method="medsam", s={"PET": 2}).s == 2
    assert resolve_s(None, "CT", mode="baseline") == 1
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="s must"):
            resolve_s(bad, "CT")
    with pytest.raises(ValueError, match="unknown modality"):
        resolve_s({"Brain": 2}, "CT")


def test_postprocess_overrides():
    assert route(_case("US"), postprocess=True).postprocess == "full"
    assert route(_case("PET"), postprocess=False).postprocess == "none"
    assert route(_case("US"), postprocess="none").postprocess == "none"
    with pytest.raises(ValueError, match="postprocess"):
        route(_case("US"), postprocess="maybe")


def test_unknown_modality_needs_override_or_forced_method():
    case = Case("2DBox_scan_0001", np.zeros((16, 16, 3), np.uint8), np.array([[1, 1, 8, 8]]))
    assert case.modality is None
    with pytest.raises(ValueError, match="cannot tell the modality"):
        route(case)
    assert route(case, modality="US").method == "litemedsam"
    assert route(case, modality="oct").variant == "oct"          # aliases accepted
    assert route(case, method="kmeans").method == "kmeans"
    with pytest.raises(ValueError, match="modality must be one of"):
        route(case, modality="brain")


def test_zero_boxes_gives_empty_route_with_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = _case("US", boxes=np.zeros((0, 4), int))
    with pytest.warns(UserWarning, match="no boxes"):
        r = route(case)
    assert r.method == "empty"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = Pipeline(models=FakeModels()).segment(case)
    assert res.segs.shape == (32, 32) and not res.segs.any() and res.boxes == []


def test_normalize_method_aliases():
    assert [normalize_method(m) for m in ("MedSAM", "auto", "k-means")] == ["litemedsam", "auto", "kmeans"]


# ---------------------------------------------------------------- Pipeline

def test_pipeline_records_method_and_reason_per_box():
    case = _case("US", boxes=np.array([[2, 2, 12, 12], [14, 14, 28, 28]]))
    res = Pipeline(models=FakeModels()).segment(case)
    assert res.extra["route"]["method"] == "litemedsam" and res.extra["pipeline"] == "paper"
    for rec in res.boxes:
        assert rec.method == "litemedsam"
        assert rec.reason.startswith("US: LiteMedSAM (paper Table 1)")
    assert res.seconds > 0


def test_pipeline_passes_slice_step_to_the_model():
    models = FakeModels()
    Pipeline(models=models).segment(_case("CT"))
    Pipeline(mode="baseline", models=models).segment(_case("CT"))
    Pipeline(s={"CT": 2}, models=models).segment(_case("CT"))
    assert [c["s"] for c in models.litemedsam().calls] == [3, 1, 2]


def test_pipeline_per_modality_method_override():
    models = FakeModels(mobileunet=True)
    pipe = Pipeline(method={"OCT": "mobileunet"}, models=models)
    assert pipe.route(_case("OCT")).method == "mobileunet"
    assert pipe.route(_case("PET")).method == "ght"
    assert pipe.segment(_case("OCT")).boxes[0].method == "mobileunet"


def test_pipeline_rejects_contradictory_baseline():
    with pytest.raises(ValueError, match="baseline mode is fixed"):
        Pipeline(mode="baseline", s=3)
    with pytest.raises(ValueError, match="method must be one of"):
        Pipeline(method="sam")


def test_pipeline_runs_real_classical_methods():
    vol = np.zeros((6, 20, 20), np.uint8)
    vol[2:5, 6:12, 6:12] = 200
    res = Pipeline(models=FakeModels()).segment(Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 13, 13, 5]])))
    assert res.boxes[0].method == "ght" and "threshold" in res.boxes[0].extra
    assert res.segs[3, 8, 8] == 1 and res.segs[0, 0, 0] == 0


def test_pipeline_passes_postprocessing_to_the_model():
    models = FakeModels()
    for pp in (None, True, False):
        Pipeline(postprocess=pp, models=models).segment(_case("US"))
    Pipeline(mode="baseline", models=models).segment(_case("US"))
    got = [(c["postprocess"], c["lcc"], c["fill"]) for c in models.litemedsam().calls]
    assert got == [(True, False, False), (True, True, True), (False, False, False), (False, False, False)]


def test_pipeline_runs_every_classical_route():
    rng = np.random.default_rng(3)
    oct_img = np.full((60, 60, 3), 150, np.uint8) + rng.integers(0, 20, (60, 60, 3), dtype=np.uint8)
    oct_img[20:35, 20:35] = 30  # dark cyst
    gray, boxes = _discs()
    two = np.stack([gray, gray // 2, np.zeros_like(gray)], axis=2)
    bars = np.full((120, 120), 20, np.uint8)
    bars[30:90, 50:70] = 200
    cases = {
        "ght": _case("OCT", image=oct_img, boxes=np.array([[15, 15, 40, 40]])),
        "threshold": _case("Microscopy", image=two, boxes=boxes),
        "kmeans": _case("Microscopy", image=np.repeat(bars[..., None], 3, 2), boxes=np.array([[40, 20, 80, 100]])),
    }
    for method, case in cases.items():
        res = Pipeline(models=FakeModels()).segment(case)
        assert res.extra["route"]["method"] == method
        assert res.segs.max() >= 1 and res.boxes[0].reason.startswith(case.modality)
    assert Pipeline().segment(cases["ght"]).segs[27, 27] == 1        # the dark cyst
    assert Pipeline().segment(cases["kmeans"]).segs[60, 60] == 1     # the bright bar


@pytest.mark.slow
def test_pipeline_with_real_litemedsam_tiny_case():
    img = np.zeros((64, 64, 3), np.uint8)
    img[20:44, 16:48] = 200
    case = Case("2DBox_US_0001", img, np.array([[12, 16, 51, 47]]))
    res = Pipeline(mode="baseline").segment(case)
    rec = res.boxes[0]
    assert rec.method.startswith("litemedsam") and "iou_pred" in rec.extra
    assert rec.reason.startswith("baseline: LiteMedSAM everywhere")
    inside = res.segs[20:44, 16:48].mean()
    assert inside > 0.8 and res.segs.sum() < 1.5 * 24 * 32
