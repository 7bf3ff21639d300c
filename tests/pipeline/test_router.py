"""The paper's router (Fig. 1 / Table 1) and the Pipeline that applies it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)

from classicseg.io import Case, load_case, save_case
from classicseg.pipeline.core import Pipeline
from classicseg.pipeline.router import normalize_method, resolve_s, route


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
    assert "no MobileUNet trained on real" in r.reason  # the fallback is recorded, not silent


def _install_weights(folder, modality, data):
    import json

    folder.mkdir(exist_ok=True)
    (folder / f"mobileunet_{modality.lower()}.pt").write_bytes(b"not read by the router")
    card = {"model": "MobileUNet", "modality": modality, "data": data, "sha256": "0" * 64}
    (folder / f"mobileunet_{modality.lower()}.json").write_text(json.dumps(card))


@pytest.mark.parametrize("modality", ["Dermoscopy", "Mammography"])
def test_phantom_trained_weights_are_never_a_default(modality, tmp_path, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_WEIGHTS_DIR", str(tmp_path / "w"))
    _install_weights(tmp_path / "w", modality,
                     {"kind": "sample", "source": "dermoscopy-lesion", "synthetic": True})
    r = route(_case(modality))
    assert r.method == "litemedsam"
    assert "synthetic phantoms" in r.reason and "--method mobileunet" in r.reason
    assert route(_case(modality), method="mobileunet").method == "mobileunet"  # asked for: runs


def test_real_trained_weights_are_the_specialist_default(tmp_path, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_WEIGHTS_DIR", str(tmp_path / "w"))
    _install_weights(tmp_path / "w", "Dermoscopy", {"kind": "directory", "source": "ph2/train",
                                                     "synthetic": False, "n_images": 120})
    r = route(_case("Dermoscopy"))
    assert r.method == "mobileunet" and "120 real Dermoscopy images" in r.reason
    assert route(_case("Mammography")).method == "litemedsam"   # per modality, not per folder


@pytest.mark.parametrize("card", [{"modality": "Mammography", "data": {"kind": "directory",
                                                                        "synthetic": False}},
                                  {"modality": "Dermoscopy", "data": {"kind": "directory"}},
                                  {"modality": "Dermoscopy"}])
def test_cards_that_do_not_say_real_dermoscopy_are_refused(card, tmp_path, monkeypatch):
    from classicseg.models.mobileunet.weights import trained_on_real

    ok, why = trained_on_real(card, "Dermoscopy")
    assert not ok and why
    monkeypatch.setenv("CLASSICSEG_WEIGHTS_DIR", str(tmp_path / "w"))
    _install_weights(tmp_path / "w", "Dermoscopy", card.get("data"))
    if "Mammography" not in str(card):
        assert route(_case("Dermoscopy")).method == "litemedsam"


def test_shipped_weights_cards_say_synthetic():
    from classicseg.models.mobileunet.weights import SHIPPED_MODALITIES, default_weights_status
    from classicseg.pipeline.router import mobileunet_weights_available

    for modality in SHIPPED_MODALITIES:
        if mobileunet_weights_available(modality):
            ok, why = default_weights_status(modality)
            assert not ok and "synthetic" in why


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
    assert ([normalize_method(m) for m in ("MedSAM", "auto", "k-means")]
            == ["litemedsam", "auto", "kmeans"])


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
    res = Pipeline(models=FakeModels()).segment(
        Case("3DBox_PET_0001", vol, np.array([[4, 4, 1, 13, 13, 5]])))
    assert res.boxes[0].method == "ght" and "threshold" in res.boxes[0].extra
    assert res.segs[3, 8, 8] == 1 and res.segs[0, 0, 0] == 0


def test_pipeline_passes_postprocessing_to_the_model():
    models = FakeModels()
    for pp in (None, True, False, "lcc"):
        Pipeline(postprocess=pp, models=models).segment(_case("US"))
    Pipeline(mode="baseline", models=models).segment(_case("US"))
    calls = models.litemedsam().calls
    assert [c["postprocess"] for c in calls] == ["box", "full", "none", "lcc", "none"]
    assert not any(c["lcc"] or c["fill"] for c in calls)   # one keyword, in the vocabulary


# ---------------------------------------------------------------- post-processing: log = what ran
# Each method gets a case whose raw mask is a blob with a hole plus a speck (LiteMedSAM also
# predicts a blob outside its box), so every post-processing mode gives a different mask.

def _parts(size, blob, hole, speck, outside=None):
    masks = {k: np.zeros(size, bool) for k in ("blob", "hole", "speck", "outside")}
    for k, where in (("blob", blob), ("hole", hole), ("speck", speck), ("outside", outside)):
        if where is not None:
            masks[k][where] = True
    masks["blob"] &= ~masks["hole"]
    return masks


def _expected(p: dict) -> dict:
    """Mask after each mode; for crop-painting methods ``outside`` is empty."""
    return {"none": p["blob"] | p["speck"] | p["outside"], "box": p["blob"] | p["speck"],
            "lcc": p["blob"], "full": p["blob"] | p["hole"]}


_SQUARE = np.s_[8:28, 8:28], np.s_[10:14, 10:14], np.s_[33:35, 33:35]   # blob, hole, speck
_MODEL = np.s_[60:180, 60:180], np.s_[90:110, 90:110], np.s_[200:206, 200:206], np.s_[2:22, 2:22]


def _route_case(kind: str):
    """(case, Pipeline method, raw-mask parts) for one method of the router."""
    if kind == "pet":
        vol = np.full((20, 20, 20), 10, np.uint8)
        p = _parts(vol.shape, np.s_[4:16, 4:16, 4:16], np.s_[6:8, 6:8, 6:8], np.s_[2, 2, 2])
        vol[p["blob"] | p["speck"]] = 200   # 42 % of the box: volume forcing does not act
        return Case("3DBox_PET_0001", vol, np.array([[2, 2, 2, 17, 17, 17]])), "auto", p
    if kind in ("litemedsam", "mobileunet"):   # pattern models: the image does not matter
        p = _parts((256, 256), *_MODEL[:3], _MODEL[3] if kind == "litemedsam" else None)
        box = [32, 32, 223, 223] if kind == "litemedsam" else [0, 0, 255, 255]
        name = "2DBox_US_0001" if kind == "litemedsam" else "2DBox_Dermoscopy_0001"
        return Case(name, np.zeros((256, 256, 3), np.uint8), np.array([box])), "auto", p
    p = _parts((48, 48), *_SQUARE)
    fg = p["blob"] | p["speck"]
    if kind == "oct":       # dark fluid on a bright retina
        img, name = np.where(fg, 30, 180)[..., None].repeat(3, 2), "2DBox_OCT_0001"
    elif kind == "kmeans":  # a square cell: forced, as the circle rule may see a circle
        img, name = np.where(fg, 200, 20)[..., None].repeat(3, 2), "2DBox_Microscopy_0001"
    else:                   # two-channel microscopy: channel 2 all zero
        img = np.stack([np.where(fg, 200, 0), np.full(fg.shape, 10), np.zeros(fg.shape)], 2)
        name = "2DBox_Microscopy_0001"
    method = "kmeans" if kind == "kmeans" else "auto"
    return Case(name, img.astype(np.uint8), np.array([[4, 4, 39, 39]])), method, p


def _pattern_litemedsam(mask):
    """The real :class:`LiteMedSAM` predictor on a runner whose decoder always returns ``mask``."""
    torch = pytest.importorskip("torch")
    from classicseg.models.litemedsam.predictor import LiteMedSAM

    class Runner:  # the runner protocol of classicseg.models.litemedsam.net.TorchRunner
        name, precision = "pattern", "fp32"
        logits = torch.where(torch.from_numpy(mask), 10.0, -10.0)

        def as_array(self, x):
            return torch.as_tensor(x, dtype=torch.float32)

        def encode(self, x):
            return torch.zeros((x.shape[0], 256, 64, 64))

        def decode(self, embedding, boxes, batch=1):
            n = len(boxes)
            return self.logits.expand(n, 256, 256).clone(), torch.full((n,), 0.9)

    return LiteMedSAM(None, Runner(), device=torch.device("cpu"), optimize=False,
                      weights_path="pattern")


def _pattern_mobileunet(mask):
    """The real :class:`MobileUNetSegmenter` on a network whose logits are always ``mask``."""
    torch = pytest.importorskip("torch")
    from classicseg.models.mobileunet.segmenter import MobileUNetSegmenter

    class Net(torch.nn.Module):
        width = 1.0

        def __init__(self):
            super().__init__()
            self.register_buffer("logits", torch.where(torch.from_numpy(mask), 10.0, -10.0))

        def forward(self, x):
            return self.logits.expand(x.shape[0], 1, 256, 256)

    return MobileUNetSegmenter(Net(), card={"modality": "pattern"})


class PatternModels(FakeModels):
    """Real predictors on pattern networks: the raw mask of every box is the model pattern."""

    def __init__(self):
        super().__init__(mobileunet=True)

    def load_litemedsam(self):
        p = _parts((256, 256), *_MODEL)
        return _pattern_litemedsam(p["blob"] | p["speck"] | p["outside"])

    def load_mobileunet(self, modality):
        p = _parts((256, 256), *_MODEL[:3])
        return _pattern_mobileunet(p["blob"] | p["speck"])


_ROUTED = {"pet": "ght", "oct": "ght", "kmeans": "kmeans", "two-channel": "threshold",
           "litemedsam": "litemedsam", "mobileunet": "mobileunet"}
_PAPER_MODE = {"pet": "full", "oct": "full", "kmeans": "full", "two-channel": "lcc",
               "litemedsam": "box", "mobileunet": "full"}


@pytest.mark.parametrize("kind", list(_ROUTED))
@pytest.mark.parametrize("postprocess", [None, "none", "box", "lcc", "full", True, False])
def test_what_the_route_log_says_is_what_ran(kind, postprocess):
    case, method, parts = _route_case(kind)
    ran = {None: _PAPER_MODE[kind], True: "full", False: "none"}.get(postprocess, postprocess)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*post-processing flags.*")  # no 0.1 keywords
        warnings.filterwarnings("error", message="postprocess=.*deprecated")
        res = Pipeline(method=method, postprocess=postprocess, models=PatternModels()).segment(case)
    assert res.extra["route"]["method"] == _ROUTED[kind]
    assert res.extra["route"]["postprocess"] == ran
    assert [rec.extra["postprocess"] for rec in res.boxes] == [ran]
    assert np.array_equal(res.segs == 1, _expected(parts)[ran])


def test_oct_lcc_keeps_the_hole_and_full_fills_it():
    case, _, parts = _route_case("oct")
    lcc = Pipeline(postprocess="lcc").segment(case)
    full = Pipeline(postprocess="full").segment(case)
    hole = parts["hole"]
    assert lcc.extra["route"]["postprocess"] == "lcc" and not lcc.segs[hole].any()
    assert full.extra["route"]["postprocess"] == "full" and full.segs[hole].all()
    assert not lcc.segs[parts["speck"]].any() and np.array_equal(lcc.segs == 1, parts["blob"])


def test_baseline_runs_the_official_litemedsam_output():
    case, _, parts = _route_case("litemedsam")
    res = Pipeline(mode="baseline", models=PatternModels()).segment(case)
    assert res.extra["route"]["postprocess"] == res.boxes[0].extra["postprocess"] == "none"
    assert res.segs[parts["outside"]].all()   # a prediction outside the box is kept


def test_model_segmenters_old_postprocess_keywords_still_work():
    p = _parts((256, 256), *_MODEL)
    raw = p["blob"] | p["speck"] | p["outside"]
    sam, image = _pattern_litemedsam(raw), np.zeros((256, 256, 3), np.uint8)
    boxes = np.array([[32, 32, 223, 223]])
    want = _expected(p)
    assert sam.segment(image, boxes).boxes[0].extra["postprocess"] == "none"   # official by default
    for kw, mode in ((dict(postprocess=True), "box"), (dict(postprocess=True, lcc=True), "lcc"),
                     (dict(postprocess=True, lcc=True, fill=True), "full"),
                     (dict(postprocess=False, lcc=True), "none"), (dict(fill=True), "none")):
        with pytest.warns(DeprecationWarning, match=f"means postprocess={mode!r}"):
            res = sam.segment(image, boxes, **kw)
        assert res.boxes[0].extra["postprocess"] == mode, kw
        assert np.array_equal(res.segs == 1, want[mode]), kw
    with pytest.raises(ValueError, match="has no post-processing mode"):
        sam.segment(image, boxes, postprocess=True, fill=True)
    with pytest.raises(ValueError, match="not both"):
        sam.segment(image, boxes, postprocess="box", lcc=True)
    with pytest.raises(ValueError, match="postprocess must be one of"):
        sam.segment(image, boxes, postprocess="lcc+fill")
    unet = _pattern_mobileunet(p["blob"] | p["speck"])
    assert unet.segment(image, np.array([[0, 0, 255, 255]])).boxes[0].extra["postprocess"] == "full"
    with pytest.warns(DeprecationWarning, match="postprocess='none'"):
        res = unet.segment(image, np.array([[0, 0, 255, 255]]), postprocess=False)
    assert res.boxes[0].extra["postprocess"] == "none" and res.segs[p["speck"]].all()


def test_shipped_mobileunet_runs_the_logged_mode():
    pytest.importorskip("torch")
    from classicseg.methods.postprocess import apply_postprocess
    from classicseg.models.mobileunet.segmenter import MobileUNetSegmenter
    from classicseg.pipeline.router import mobileunet_weights_available

    if not mobileunet_weights_available("Dermoscopy"):
        pytest.skip("no shipped Dermoscopy weights")
    yy, xx = np.mgrid[:96, :96]
    img = np.full((96, 96, 3), (200, 160, 140), np.uint8)
    img[((yy - 40) / 20) ** 2 + ((xx - 50) / 26) ** 2 <= 1] = (90, 50, 40)   # a dark lesion
    case = Case("2DBox_Dermoscopy_0001", img, np.array([[18, 14, 82, 68], [10, 60, 40, 90]]))
    raw = MobileUNetSegmenter.load("Dermoscopy").segment(img, case.boxes, postprocess="none")
    for pp in (None, "lcc"):
        # the shipped weights are phantom-trained: they run only when asked for
        res = Pipeline(method="mobileunet", postprocess=pp).segment(case)
        ran = res.extra["route"]["postprocess"]
        assert res.extra["route"]["method"] == "mobileunet"
        assert ran == ("full" if pp is None else pp)
        want = np.zeros(img.shape[:2], np.uint16)
        for i, (x0, y0, x1, y1) in enumerate(case.boxes):   # later boxes win, as in add_box
            crop = apply_postprocess(raw.segs[y0:y1 + 1, x0:x1 + 1] == i + 1, ran)
            want[y0:y1 + 1, x0:x1 + 1][crop] = i + 1
        assert [rec.extra["postprocess"] for rec in res.boxes] == [ran, ran]
        assert np.array_equal(res.segs, want)


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
        "kmeans": _case("Microscopy", image=np.repeat(bars[..., None], 3, 2),
                        boxes=np.array([[40, 20, 80, 100]])),
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
