"""MobileUNet: architecture, 256 preprocessing, training, checkpoints, CLI, shipped weights.

Training tests use tiny synthetic blobs (width 0.25, a few steps) to stay fast; the shipped
weights are checked against the Dice their model cards state, on the same held-out phantoms.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from classicseg.io import Case, save_case  # noqa: E402
from classicseg.models import preprocess as pp  # noqa: E402
from classicseg.models.mobileunet import (  # noqa: E402
    REFERENCE_PARAMETERS,
    MobileUNet,
    MobileUNetSegmenter,
    count_parameters,
)
from classicseg.models.mobileunet.train import (  # noqa: E402
    BoxCropSampler,
    TrainConfig,
    dice_bce_loss,
    evaluate,
    load_training_cases,
    train,
)
from classicseg.models.mobileunet.weights import (  # noqa: E402
    SHIPPED_MODALITIES,
    WeightsError,
    WeightsNotFoundError,
    weights_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Held-out Dice of a shipped model must reproduce its card within this (CPU float noise only).
DICE_TOLERANCE = 0.01


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def blob_case(seed: int, size: int = 64, n: int = 2) -> Case:
    """Bright ellipses on noise (synthetic), boxes a few px larger than each ellipse."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = rng.normal(60, 10, (size, size))
    gts = np.zeros((size, size), np.uint16)
    boxes = []
    for k in range(n):
        cy, cx = rng.integers(14, size - 14, 2)
        ry, rx = rng.integers(5, 11, 2)
        m = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1) & (gts == 0)
        img[m] += 100
        gts[m] = k + 1
        ys, xs = np.nonzero(m)
        boxes.append([max(xs.min() - 3, 0), max(ys.min() - 3, 0),
                      min(xs.max() + 3, size - 1), min(ys.max() + 3, size - 1)])
    img = np.repeat(img.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return Case(name=f"2DBox_Dermoscopy_blob{seed:03d}", image=img, boxes=np.array(boxes), gts=gts,
                meta={"synthetic": True})


# --------------------------------------------------------------------------- architecture

def test_reference_parameter_count():
    assert count_parameters(MobileUNet(1.0, device="meta")) == REFERENCE_PARAMETERS == 13_341_349
    # Without the reference's 25 never-used shortcut convs (288,064 weights); 3 are used (57,856).
    assert (count_parameters(MobileUNet(1.0, reference_layout=False, device="meta"))
            == 13_341_349 - 288_064 + 57_856)


def test_width_scales_parameters_and_keeps_256_logits():
    counts = [count_parameters(MobileUNet(w, device="meta")) for w in (0.25, 0.5, 1.0)]
    assert counts[0] < counts[1] < counts[2]
    net = MobileUNet(0.25).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 256, 256))
    assert out.shape == (2, 1, 256, 256)


def test_unused_shortcuts_change_nothing_but_the_count():
    a, b = MobileUNet(0.25), MobileUNet(0.25, reference_layout=False)
    b.load_state_dict(a.state_dict(), strict=False)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(a.eval()(x), b.eval()(x))


@pytest.mark.parametrize("shape", [(1, 3, 250, 256), (1, 1, 256, 256), (3, 256, 256)])
def test_forward_rejects_bad_input(shape):
    with pytest.raises(ValueError, match="input must be"):
        MobileUNet(0.25)(torch.zeros(shape))


def test_bad_width():
    with pytest.raises(ValueError, match="width"):
        MobileUNet(0)


# --------------------------------------------------------------------------- preprocessing

def test_preprocess_matches_litemedsam_rules():
    crop = np.zeros((30, 101, 3), np.uint8)
    crop[:, 50:] = 200
    x, (h, w) = pp.preprocess_for_256(crop)
    assert (h, w) == (int(30 * 256 / 101 + 0.5), 256) == (76, 256)
    assert x.shape == (256, 256, 3) and x.dtype == np.float32
    assert x[:h, :w].min() == 0 and x[:h, :w].max() == 1
    assert not x[h:].any()  # zero padding below
    assert crop.max() == 200  # caller's array untouched


def test_preprocess_constant_and_gray_and_tiny():
    x, (h, w) = pp.preprocess_for_256(np.full((1, 3), 7, np.uint8))
    assert (h, w) == (85, 256) and not x.any()
    g, hw = pp.preprocess_for_256(np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert g.shape == (256, 256, 3) and hw == (192, 256)
    with pytest.raises(ValueError, match="img must be"):
        pp.preprocess_for_256(np.zeros((4, 4, 2)))


def test_resize_mask_back_round_trip():
    mask = np.zeros((40, 100), bool)
    mask[10:30, 20:70] = True
    h, w = pp.longest_side_size(mask.shape)
    big = pp.pad_to_square(pp.resize_longest_side(mask.astype(np.float32)), 256)
    back = pp.resize_mask_back(big, (h, w), mask.shape) > 0.5
    assert back.shape == mask.shape and (back == mask).mean() > 0.99
    labels = pp.resize_mask_back(pp.pad_to_square(np.eye(8, dtype=bool), 256), (8, 8), (16, 16))
    assert labels.dtype == bool and labels.sum() == 32
    with pytest.raises(ValueError, match="does not fit"):
        pp.resize_mask_back(np.zeros((256, 256)), (300, 10), (5, 5))


# --------------------------------------------------------------------------- training

def test_sampler_pairs_box_with_its_label():
    case = blob_case(1)
    x, y = BoxCropSampler([case]).sample(0, np.random.default_rng(0))
    assert x.shape == (3, 256, 256) and y.shape == (1, 256, 256)
    assert set(np.unique(y)) == {0.0, 1.0}
    # the target's foreground is bright in the input: box <-> label pairing is right
    assert x[:, y[0] > 0].mean() > x[:, (y[0] == 0) & (x[0] > 0)].mean() + 0.2


def test_dice_bce_loss():
    t = torch.zeros(2, 1, 8, 8)
    t[:, :, 2:6, 2:6] = 1
    good, bad = dice_bce_loss(20 * (2 * t - 1), t), dice_bce_loss(-20 * (2 * t - 1), t)
    assert good.item() < 1e-3 and bad.item() > 10


def test_one_step_overfit_loss_falls():
    torch.manual_seed(0)
    x, y = BoxCropSampler([blob_case(s) for s in range(4)]).batch(range(4),
                                                                   np.random.default_rng(0))
    net = MobileUNet(0.25).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = dice_bce_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0] and losses == sorted(losses, reverse=True), losses


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A 1-epoch width-0.25 model trained on blobs (shared by the IO tests)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ckpt") / "blob.pt"
    try:
        card = train([blob_case(s) for s in range(4)],
                     TrainConfig("Dermoscopy", width=0.25, epochs=1, lr=1e-3),
                     out=out, data={"source": "blobs", "synthetic": True},
                     val_cases=[blob_case(99)], progress=False)
    finally:
        torch.set_num_threads(old)
    return out, card


def test_checkpoint_files_and_card(tiny_checkpoint):
    out, card = tiny_checkpoint
    on_disk = json.loads(out.with_suffix(".json").read_text())
    assert on_disk == card
    assert card["config"] == {"width": 0.25, "out_channels": 1, "reference_layout": True}
    assert card["parameters"] == count_parameters(MobileUNet(0.25))
    assert card["training"]["epochs_done"] == 1 and card["seed"] == 0
    assert 0.0 <= card["metrics"]["heldout"]["dice"] <= 1.0
    assert "NOT clinical" in card["note"]
    # weights only: a plain state_dict of tensors
    state = torch.load(out, weights_only=True)
    assert set(state) == set(MobileUNet(0.25).state_dict())
    assert not list(out.parent.glob(".*.tmp"))  # no temp files left behind


def test_save_load_round_trip(tiny_checkpoint):
    out, _ = tiny_checkpoint
    seg = MobileUNetSegmenter.load(out)
    state = torch.load(out, weights_only=True)
    for k, v in seg.model.state_dict().items():
        assert torch.equal(v, state[k]), k
    case = blob_case(5)
    a = seg.segment(case.image, case.boxes)
    b = MobileUNetSegmenter.load(out.with_suffix(".json")).segment(case.image, case.boxes)
    assert np.array_equal(a.segs, b.segs)


def test_hash_mismatch_and_missing_files(tiny_checkpoint, tmp_path):
    out, _ = tiny_checkpoint
    bad = tmp_path / "bad.pt"
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    bad.with_suffix(".json").write_text(out.with_suffix(".json").read_text())
    with pytest.raises(WeightsError, match="SHA-256"):
        MobileUNetSegmenter.load(bad)
    lone = tmp_path / "lone.pt"
    lone.write_bytes(out.read_bytes())
    with pytest.raises(WeightsNotFoundError, match="model card missing"):
        MobileUNetSegmenter.load(lone)
    with pytest.raises(FileNotFoundError, match="not found"):
        MobileUNetSegmenter.load(tmp_path / "nothing.pt")


def test_load_by_modality_uses_weights_dir(tiny_checkpoint, tmp_path, monkeypatch):
    out, _ = tiny_checkpoint
    monkeypatch.setenv("CLASSICSEG_WEIGHTS_DIR", str(tmp_path))
    assert weights_dir() == tmp_path
    with pytest.raises(WeightsNotFoundError, match="mobileunet_mammography.pt is missing"):
        MobileUNetSegmenter.load("Mammography")
    (tmp_path / "mobileunet_mammography.pt").write_bytes(out.read_bytes())
    (tmp_path / "mobileunet_mammography.json").write_text(out.with_suffix(".json").read_text())
    assert MobileUNetSegmenter.load("mammography").model.width == 0.25


def test_segment_contract(tiny_checkpoint):
    out, _ = tiny_checkpoint
    seg = MobileUNetSegmenter.load(out)
    case = blob_case(7, n=3)
    image = case.image.copy()
    res = seg.segment(case.image, case.boxes, batch_size=2)
    assert np.array_equal(image, case.image)  # input untouched
    assert res.segs.shape == (64, 64) and res.segs.dtype == np.uint16
    assert res.methods == ["mobileunet"] * 3
    assert all(b.seconds > 0 for b in res.boxes)
    inside = np.zeros((64, 64), bool)
    for x0, y0, x1, y1 in case.boxes:
        inside[y0:y1 + 1, x0:x1 + 1] = True
    assert not res.segs[~inside].any()  # box filter
    one = seg.segment(case.image, case.boxes, batch_size=1, postprocess=False)
    many = seg.segment(case.image, case.boxes, batch_size=8, postprocess=False)
    assert (one.segs == many.segs).mean() > 0.999  # batching changes nothing (float noise aside)
    with pytest.warns(UserWarning, match="no boxes"):
        empty = seg.segment(case.image, np.zeros((0, 4), int))
    assert not empty.segs.any()
    with pytest.raises(ValueError, match="outside the image"):
        seg.segment(case.image, [[0, 0, 64, 10]])
    with pytest.raises(ValueError, match="2D"):
        seg.segment(np.zeros((4, 8, 8), np.uint8), [[0, 0, 0, 1, 1, 1]])


@pytest.mark.slow
def test_training_learns_blobs(tmp_path):
    """A few epochs already beat the trivial "fill the box" answer on held-out blobs."""
    torch.manual_seed(0)
    cases = [blob_case(s) for s in range(8)]
    val = [blob_case(s) for s in range(50, 54)]
    card = train(cases, TrainConfig("Dermoscopy", width=0.25, epochs=12, lr=3e-3),
                 out=tmp_path / "m.pt", val_cases=val, progress=False)
    hist = card["metrics"]["epoch_loss"]
    assert hist[-1] < 0.6 * hist[0]
    fill_box = []
    for c in val:
        for i, (x0, y0, x1, y1) in enumerate(c.boxes):
            g = c.gts[y0:y1 + 1, x0:x1 + 1] == i + 1
            fill_box.append(2 * g.sum() / (g.size + g.sum()))
    assert card["metrics"]["heldout"]["dice"] > max(0.75, float(np.mean(fill_box)) + 0.1)


# --------------------------------------------------------------------------- data + CLI

def test_training_cases_from_directory_without_boxes(tmp_path):
    for s in range(2):
        c = blob_case(s)
        save_case(c, tmp_path / "imgs" / f"{c.name}.npz", tmp_path / "gts" / f"{c.name}.npz")
    # a challenge *training* file has no boxes: labels' tight boxes are used
    np.savez(tmp_path / "imgs" / "2DBox_Dermoscopy_nobox.npz", imgs=blob_case(3).image)
    np.savez(tmp_path / "gts" / "2DBox_Dermoscopy_nobox.npz", gts=blob_case(3).gts)
    np.savez(tmp_path / "imgs" / "2DBox_US_other.npz", imgs=blob_case(4).image,
             gts=blob_case(4).gts)
    cases, desc = load_training_cases(tmp_path, modality="Dermoscopy")
    assert [c.name for c in cases] == ["2DBox_Dermoscopy_blob000", "2DBox_Dermoscopy_blob001",
                                       "2DBox_Dermoscopy_nobox"]
    ys, xs = np.nonzero(cases[2].gts == 1)
    assert cases[2].boxes[0].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
    assert desc["kind"] == "directory" and desc["n_images"] == 3
    with pytest.raises(ValueError, match="neither a directory nor a sample"):
        load_training_cases(tmp_path / "nope")


def _cli(argv):
    from classicseg import cli
    from classicseg.cli import train as train_cmd

    parser = cli.build_parser() if "train" in cli.COMMANDS else None
    if parser is None:  # until the lead registers the command, build the same sub-parser here
        import argparse
        parser = argparse.ArgumentParser(prog="classicseg")
        sub = parser.add_subparsers(dest="command")
        train_cmd.configure(sub.add_parser("train"))
    return train_cmd.run(parser.parse_args(argv))


def test_cli_train_overwrite_and_resume(tmp_path, capsys):
    data = tmp_path / "data"
    for s in range(3):
        c = blob_case(s)
        save_case(c, data / f"{c.name}.npz")  # flat layout, gts inside
    out = tmp_path / "out" / "m.pt"
    base = ["train", "mobileunet", "--modality", "Dermoscopy", "--data", str(data),
            "--width", "0.25", "--lr", "1e-3", "--threads", "1", "--no-progress",
            "--out", str(out)]
    assert _cli(base + ["--epochs", "1"]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["training"]["epochs_done"] == 1 and card["training"]["lr"] == 1e-3
    assert card["command"].startswith("classicseg train mobileunet --modality Dermoscopy")
    first = out.read_bytes()
    assert _cli(base + ["--epochs", "1"]) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == first
    assert _cli(base + ["--epochs", "2", "--resume"]) == 0
    card2 = json.loads(out.with_suffix(".json").read_text())
    assert card2["training"]["epochs_done"] == 2
    assert card2["metrics"]["epoch_loss"][0] == card["metrics"]["epoch_loss"][0]
    assert len(card2["metrics"]["epoch_loss"]) == 2
    assert _cli(base + ["--epochs", "1", "--overwrite"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["training"]["epochs_done"] == 1
    # another architecture
    assert _cli(base + ["--epochs", "1", "--overwrite", "--width", "0.5", "--resume"]) == 2


def test_resume_equals_uninterrupted(tmp_path, capsys):
    """Two epochs in one go == one epoch, then resume for the second (same seed, CPU)."""
    cases = [blob_case(s) for s in range(4)]
    cfg = dict(modality="Dermoscopy", width=0.25, lr=1e-3)
    a = train(cases, TrainConfig(epochs=2, **cfg), out=tmp_path / "a.pt", progress=True)
    assert "loss=" in capsys.readouterr().err  # the tqdm bar shows the running loss
    train(cases, TrainConfig(epochs=1, **cfg), out=tmp_path / "b.pt", progress=False)
    b = train(cases, TrainConfig(epochs=2, **cfg), out=tmp_path / "b.pt", resume=True,
              progress=False)
    assert np.allclose(a["metrics"]["epoch_loss"], b["metrics"]["epoch_loss"], rtol=1e-4)
    sa, sb = (torch.load(tmp_path / "a.pt", weights_only=True),
              torch.load(tmp_path / "b.pt", weights_only=True))
    assert all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-5) for k in sa)


# --------------------------------------------------------------------------- shipped weights

@pytest.mark.slow
@pytest.mark.parametrize("modality", SHIPPED_MODALITIES)
def test_shipped_weights_reproduce_model_card(modality, monkeypatch):
    monkeypatch.delenv("CLASSICSEG_WEIGHTS_DIR", raising=False)
    seg = MobileUNetSegmenter.load(modality)  # checks the SHA-256 against the card
    card = seg.card
    pt = REPO_ROOT / "weights" / card["file"]
    assert card["modality"] == modality and pt.stat().st_size == card["bytes"] < 8e6
    assert "NOT clinical" in card["note"] and card["data"]["synthetic"] is True
    held = card["metrics"]["heldout"]
    assert not set(held["seeds"]) & set(card["data"]["seeds"])  # held-out really held out
    cases, _ = load_training_cases(held["source"], modality=modality, n=len(held["seeds"]),
                                   seed_start=held["seeds"][0], hard=held["hard"])
    got = evaluate(seg, cases)
    assert abs(got["dice"] - held["dice"]) <= DICE_TOLERANCE, (got["dice"], held["dice"])
    assert held["dice"] > 0.7  # the demonstration is worth shipping
