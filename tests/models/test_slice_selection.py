"""Slice plans for 3D LiteMedSAM: the paper's uniform step and the adaptive walk (§15.1).

Torch-free except the last test (real LiteMedSAM on a tiny SYNTHETIC volume, ``slow``).
"""

from __future__ import annotations

import numpy as np
import pytest

from classicseg.methods.interpolation import plan_sparse_slices
from classicseg.models.litemedsam.geometry import middle_slice
from classicseg.models.litemedsam.slice_selection import (
    SlicePlan,
    adaptive_walk,
    gap_disagreement,
    parse_slice_plan,
)
from classicseg.validation import InvalidInputError

YY, XX = np.mgrid[:33, :33]


def disc(r: float, cx: int = 16) -> np.ndarray:
    return (YY - 16) ** 2 + (XX - cx) ** 2 <= r * r


def recorder(masks_by_z):
    """A fake ``predict`` that returns a fixed mask per slice and records its calls."""
    calls = []

    def predict(z, source):
        calls.append((z, None if source is None else source.copy()))
        return masks_by_z(z)
    return predict, calls


# --------------------------------------------------------------------------- uniform

@pytest.mark.parametrize("z0, z1", [(0, 0), (4, 5), (2, 23), (5, 19), (0, 30), (7, 60)])
@pytest.mark.parametrize("s", [1, 2, 3, 4, 6, 8])
def test_uniform_plan_is_todays_walk(z0, z1, s):
    """Every s-th slice from z0 plus z1 and the middle (the seed), middle-up then down."""
    planned = set(range(z0, z1 + 1)) if s == 1 else set(plan_sparse_slices(z0, z1, s).tolist())
    mid = middle_slice(z0, z1)
    planned.add(mid)
    expected = (sorted(z for z in planned if z >= mid),
                sorted((z for z in planned if z < mid), reverse=True))
    plan = SlicePlan(s=s)
    assert plan.walk(z0, z1) == expected
    assert plan.budget_for(z0, z1) == len(planned)
    assert parse_slice_plan(s) == parse_slice_plan(str(s)) == plan


def test_uniform_documented_example_and_default():
    assert SlicePlan().walk(5, 19) == ([12, 14, 17, 19], [11, 8, 5])  # docs/algorithms.md §15
    assert parse_slice_plan("uniform") == SlicePlan(s=3)
    assert SlicePlan(s=3, grid="volume").walk(2, 23) == ([12, 15, 18, 21, 23], [9, 6, 3, 2])


# --------------------------------------------------------------------------- adaptive

def test_adaptive_seed_then_ends_with_official_prompts():
    predict, calls = recorder(lambda z: disc(3 + z % 5))
    walk = adaptive_walk(predict, 2, 23, budget=3)
    assert walk.order == [12, 23, 2]  # middle (seed), up end, down end
    assert calls[0][1] is None  # the seed gets the user's box
    assert all(np.array_equal(src, walk.masks[12]) for _, src in calls[1:])  # nearest: seed
    assert walk.sources == ["box", 12, 12]


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 9, 30])
def test_adaptive_respects_budget_and_keeps_ends(budget):
    predict, calls = recorder(lambda z: disc(z % 7 + 1))
    walk = adaptive_walk(predict, 0, 20, budget=budget)
    assert {0, 10, 20} <= set(walk.masks)  # seed and ends whatever the budget
    assert len(calls) == len(walk.order) == len(set(walk.order)) == max(3, min(budget, 21))


def test_adaptive_is_deterministic():
    masks = lambda z: disc(abs(np.sin(z)) * 10)  # noqa: E731
    runs = [adaptive_walk(recorder(masks)[0], 3, 40, budget=12) for _ in range(2)]
    assert runs[0].order == runs[1].order
    assert runs[0].bisections == runs[1].bisections


def test_adaptive_bisects_the_most_disagreeing_gap():
    """Constant below the seed, growing above: only the upper half is bisected."""
    walk = adaptive_walk(recorder(lambda z: disc(max(0, z - 10)))[0], 0, 20, budget=6)
    assert walk.order == [10, 20, 0, 15, 12, 17]
    i, j, score = walk.bisections[0]
    assert (i, j) == (10, 20)
    expected = gap_disagreement(walk.masks, 10, 20) * 9  # 1 - Dice, times the 9 slices to fill
    assert score == pytest.approx(expected) and score > 0
    assert all(z >= 10 for z in walk.order[3:])


def test_adaptive_weights_by_gap_length():
    """Equal disagreement per gap: the longer gap goes first (a tie goes to the lower one)."""
    ends = lambda z: disc(4) if z in (0, 20, 21) else disc(8)  # noqa: E731
    longer = adaptive_walk(recorder(ends)[0], 0, 21, budget=4)  # seed 10: 9 vs 10 to fill
    assert longer.bisections[0][:2] == (10, 21)
    tie = adaptive_walk(recorder(ends)[0], 0, 20, budget=4)  # seed 10: 9 and 9
    assert tie.bisections[0][:2] == (0, 10)


def test_adaptive_stops_at_tolerance_and_when_nothing_disagrees():
    same = recorder(lambda z: disc(5))[0]
    assert adaptive_walk(same, 0, 30, budget=20).order == [15, 30, 0]
    growing = recorder(lambda z: disc(2 + z / 3))[0]
    loose = adaptive_walk(growing, 0, 30, budget=20, tol=0.5)
    tight = adaptive_walk(growing, 0, 30, budget=20, tol=0.0)
    assert len(loose.order) < len(tight.order) == 20


def test_adaptive_halves_seed_walks_to_the_ends():
    """seed="halves": each end is prompted from the half-way slice, not from the middle."""
    walk = adaptive_walk(recorder(lambda z: disc(3 + z))[0], 0, 11, budget=5, seed="halves")
    assert walk.order == [5, 8, 11, 3, 0]
    assert walk.sources == ["box", 5, 8, 5, 3]
    few = adaptive_walk(recorder(lambda z: disc(3 + z))[0], 0, 11, budget=4, seed="halves")
    assert few.order[:3] == [5, 11, 0]  # no room for the half-way slices


def test_adaptive_small_boxes():
    assert adaptive_walk(recorder(lambda z: disc(3))[0], 4, 4, budget=9).order == [4]
    assert adaptive_walk(recorder(lambda z: disc(3))[0], 4, 5, budget=9).order == [4, 5]


def test_adaptive_prompt_sources():
    masks = lambda z: disc(2 + z)  # noqa: E731
    predict, calls = recorder(masks)
    adaptive_walk(predict, 0, 8, budget=4, prompt="interpolated")
    (z, src) = calls[3]
    assert z == 2  # the gap (0, 4) disagrees most (disc 2 vs disc 6 ...); its middle is 2
    from classicseg.methods.interpolation import shape_interpolate
    assert np.array_equal(src, shape_interpolate(masks(0), masks(4), 0.5))
    predict, calls = recorder(masks)
    adaptive_walk(predict, 0, 8, budget=4, prompt="box")
    assert all(src is None for _, src in calls)


def test_image_criterion_uses_the_image():
    """The masks agree, but the image says the object moved in between."""
    vol = np.zeros((9, 33, 33))
    for z in range(9):
        vol[z][disc(6, cx=16 if z in (0, 8) else 8)] = 200.0
    masks = {0: disc(6), 8: disc(6)}
    assert gap_disagreement(masks, 0, 8) == 0.0
    d = gap_disagreement(masks, 0, 8, criterion="image", image=vol)
    assert d > 0.5
    assert gap_disagreement(masks, 0, 8, criterion="both", image=vol) == pytest.approx(d / 2)
    vol_still = np.zeros_like(vol)
    vol_still[:, disc(6)] = 200.0
    assert gap_disagreement(masks, 0, 8, criterion="image", image=vol_still) == 0.0


def test_adaptive_plan_names_and_budget():
    plan = parse_slice_plan("adaptive")
    assert (plan.kind, plan.s, plan.name) == ("adaptive", 3, "adaptive-s3")
    assert plan.budget_for(2, 23) == SlicePlan(s=3).budget_for(2, 23) == 9
    assert SlicePlan("adaptive", budget=5).budget_for(2, 23) == 5
    assert SlicePlan("adaptive", budget=50).budget_for(2, 4) == 3
    assert parse_slice_plan(" Adaptive:6 ") == SlicePlan("adaptive", s=6)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("value, match", [
    ("adaptiv", "s must be"), ("adaptive:x", "s must be"), (0, "s must be"), (2.5, "s must be"),
    (True, "s must be"), ("", "s must be"),
])
def test_parse_bad(value, match):
    with pytest.raises(InvalidInputError, match=match):
        parse_slice_plan(value)


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "smart"}, "kind"), ({"s": 0}, "s must"), ({"budget": 0}, "budget"),
    ({"tol": 1.5}, "tol"), ({"tol": True}, "tol"), ({"criterion": "iou"}, "criterion"),
    ({"prompt": "mid"}, "prompt"), ({"seed": "all"}, "seed"), ({"grid": "z"}, "grid"),
    ({"kind": "adaptive", "grid": "volume"}, "grid='volume'"),
])
def test_slice_plan_bad(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        SlicePlan(**kwargs)


def test_adaptive_walk_bad():
    ok = recorder(lambda z: disc(3))[0]
    with pytest.raises(InvalidInputError, match="z_min"):
        adaptive_walk(ok, 5, 2, budget=3)
    with pytest.raises(InvalidInputError, match="budget"):
        adaptive_walk(ok, 0, 5, budget=0)
    with pytest.raises(InvalidInputError, match="predict"):
        adaptive_walk("nope", 0, 5, budget=3)
    with pytest.raises(InvalidInputError, match="2D mask"):
        adaptive_walk(lambda z, src: np.zeros((2, 3, 3), bool), 0, 5, budget=3)
    with pytest.raises(InvalidInputError, match="needs the image"):
        adaptive_walk(lambda z, src: disc(z + 1), 0, 5, budget=5, criterion="image")
    with pytest.raises(InvalidInputError, match="adaptive_walk"):
        SlicePlan("adaptive").walk(0, 5)


# --------------------------------------------------------------------------- end to end

@pytest.mark.slow
def test_litemedsam_adaptive_end_to_end():
    """Real LiteMedSAM on a tiny SYNTHETIC volume: "uniform" equals s = 3 exactly; adaptive
    predicts the seed and ends, within the s = 3 budget, and fills every slice."""
    torch = pytest.importorskip("torch")
    from classicseg.models.litemedsam import LiteMedSAM

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    vol = rng.normal(40, 8, (9, 64, 64)).clip(0, 255)
    yy, xx = np.mgrid[:64, :64]
    for z in range(1, 8):  # a bright ellipsoid, synthetic
        r = 14 * np.sqrt(max(0.0, 1 - ((z - 4) / 4.0) ** 2))
        vol[z][(yy - 32) ** 2 + (xx - 30) ** 2 <= r * r] = 200
    vol = vol.astype(np.uint8)
    boxes = np.array([[14, 16, 1, 46, 48, 7]])
    model = LiteMedSAM.load()
    uniform = model.segment(vol, boxes, s=3)
    named = model.segment(vol, boxes, s="uniform")
    assert np.array_equal(uniform.segs, named.segs)
    assert named.boxes[0].extra["slices"] == uniform.boxes[0].extra["slices"] == [4, 7, 1]
    res = model.segment(vol, boxes, s="adaptive:2", postprocess="box")
    rec = res.boxes[0]
    assert rec.method == "litemedsam-adaptive-s2" and res.extra["s"] == "adaptive-s2"
    assert rec.extra["slices"][:3] == [4, 7, 1]
    assert 3 <= len(rec.extra["slices"]) <= SlicePlan(s=2).budget_for(1, 7) == 5
    assert (res.segs[1:8] == 1).any(axis=(1, 2)).all()
    with pytest.raises(ValueError, match="3D boxes"):
        model.segment(vol[4], [[14, 16, 46, 48]], s="adaptive")


def test_router_and_cli_accept_adaptive():
    import argparse

    from classicseg.cli.run import _slice_step
    from classicseg.io import Case
    from classicseg.pipeline.router import resolve_s, route

    ct = Case("3DBox_CT_0001", np.zeros((9, 16, 16), np.uint8), np.array([[2, 2, 1, 9, 9, 7]]))
    r = route(ct, s="adaptive")
    assert (r.method, r.s) == ("litemedsam", "adaptive") and "s=adaptive" in r.reason
    assert route(ct).s == 3  # the default stays uniform s = 3
    assert resolve_s({"CT": "Adaptive:4"}, "CT") == "adaptive:4"
    assert resolve_s("adaptive:3", "MR") == "adaptive"
    us = Case("2DBox_US_0001", np.zeros((16, 16, 3), np.uint8), np.array([[2, 2, 9, 9]]))
    assert route(us, s="adaptive").s == 1  # 2D: no slices to choose
    assert _slice_step("adaptive:6") == "adaptive:6" and _slice_step("2") == 2
    with pytest.raises(ValueError, match="'adaptive'"):
        resolve_s("adaptivx", "CT")
    with pytest.raises(argparse.ArgumentTypeError, match="adaptive:x"):
        _slice_step("adaptive:x")
