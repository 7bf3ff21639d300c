"""Box robustness study: every method on perturbed boxes, scored against the unchanged truth."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest
from pipeline_fakes import FakeModels, fresh_models  # noqa: F401  (autouse fixture)

from classicseg import viz
from classicseg.analysis.robustness import (
    RobustnessRow,
    box_robustness,
    method_pipeline,
    robustness_table,
    summarize_robustness,
)
from classicseg.boxes import BoxPerturbation
from classicseg.metrics import score_case
from classicseg.pipeline.core import Pipeline


@pytest.fixture
def cases(make_case):
    # a 2D case every cheap method runs on, and a volume k-means cannot run on
    return [make_case("2DBox_Microscopy_0001", seed=1), make_case("3DBox_PET_0001", seed=2)]


def test_looser_boxes_keep_the_row_count_and_skip_what_cannot_run(cases):
    rows = box_robustness(cases, ["kmeans", "ght"], perturbations={"scale": (1.0, 1.5, 2.0)})
    by_amount = {a: [(r.method, r.case) for r in rows if r.amount == a] for a in (1.0, 1.5, 2.0)}
    assert by_amount[1.0] == by_amount[1.5] == by_amount[2.0]
    # k-means on the volume is not applicable: skipped, not scored 0
    assert sorted(by_amount[1.0]) == [("ght", "2DBox_Microscopy_0001"), ("ght", "3DBox_PET_0001"),
                                      ("kmeans", "2DBox_Microscopy_0001")]
    assert all(r.error is None and 0 <= r.dsc <= 1 and r.seconds >= 0 for r in rows)
    assert {r.route for r in rows} == {"kmeans", "ght"}


@pytest.mark.parametrize("kind, neutral", [("jitter", 0), ("scale", 1.0), ("shift", 0)])
def test_no_perturbation_reproduces_the_unperturbed_score_exactly(cases, kind, neutral):
    rows = box_robustness(cases, ["kmeans", "ght"], perturbations={kind: (neutral,)})
    for r in rows:
        case = next(c for c in cases if c.name == r.case)
        res = Pipeline(method=r.method).segment(case)
        spacing = case.spacing if case.is_3d else None
        want = score_case(case.gts, res.segs, spacing=spacing)
        assert (r.dsc, r.nsd) == (float(want["dsc"]), float(want["nsd"]))


def test_every_method_gets_the_same_perturbed_boxes(cases):
    # two pipelines over the same fake LiteMedSAM (which ignores post-processing) can only
    # agree on every row if they were given the same boxes
    models = FakeModels()
    rows = box_robustness(cases[:1], ["litemedsam", "baseline"], models=models, n_repeats=2,
                          perturbations={"jitter": (0, 8), "shift": (6,)})
    pairs = {}
    for r in rows:
        pairs.setdefault((r.kind, r.amount, r.repeat), {})[r.method] = r.dsc
    assert len(pairs) == 4                                     # jitter 0, 8 (x2), shift 6
    assert all(p["litemedsam"] == p["baseline"] for p in pairs.values())
    # ... and the boxes did move: the fake's Dice changes with them
    assert len({p["baseline"] for p in pairs.values()}) > 1


def test_jitter_matches_compare_box_jitter(cases):
    # repeat 0 of the study = the boxes `classicseg compare --box-jitter 8 --box-seed 3` uses
    case = cases[0]
    (row,) = [r for r in box_robustness([case], ["kmeans"], seed=3,
                                        perturbations={"jitter": (8,)})]
    moved = replace(case, boxes=BoxPerturbation(jitter=8, seed=3).apply(
        case.boxes, case.spatial_shape, name=case.name))
    want = score_case(case.gts, Pipeline(method="kmeans").segment(moved).segs)
    assert row.dsc == float(want["dsc"])


def test_repeats_only_for_random_perturbations(cases):
    rows = box_robustness(cases[:1], ["kmeans"], n_repeats=3,
                          perturbations={"jitter": (0, 5), "scale": (1.2,)})
    count: dict = {}
    for r in rows:
        count.setdefault((r.kind, r.amount), []).append(r.repeat)
    assert count == {("jitter", 0): [0], ("jitter", 5): [0, 1, 2], ("scale", 1.2): [0]}


class _BrokenModels(FakeModels):
    def load_litemedsam(self):
        class Broken:
            def segment(self, image, boxes, **kw):
                raise RuntimeError("no model today")
        return Broken()


def test_a_failing_method_scores_zero_and_says_why(cases):
    rows = box_robustness(cases[:1], ["kmeans", "litemedsam"], models=_BrokenModels(),
                          perturbations={"scale": (1.0,)})
    broken = next(r for r in rows if r.method == "litemedsam")
    assert (broken.dsc, broken.nsd) == (0.0, 0.0) and math.isnan(broken.seconds)
    assert broken.error == "RuntimeError: no model today"
    assert summarize_robustness(rows)[1]["failed"] == 1


def test_bad_arguments(cases, make_case):
    with pytest.raises(ValueError, match="method must be one of"):
        box_robustness(cases, ["voodoo"])
    with pytest.raises(ValueError, match="perturbations"):
        box_robustness(cases, ["kmeans"], perturbations={"wobble": (1,)})
    with pytest.raises(ValueError, match="no ground truth"):
        box_robustness([replace(cases[0], gts=None)], ["kmeans"])
    with pytest.raises(ValueError, match="n_repeats"):
        box_robustness(cases, ["kmeans"], n_repeats=0)
    with pytest.raises(ValueError, match="different methods"):
        box_robustness(cases, ["medsam", "litemedsam"], models=FakeModels())


def test_method_names_are_generic():
    assert method_pipeline("k-means").name == "kmeans"
    assert method_pipeline("auto").name == method_pipeline("paper").name == "paper"
    assert method_pipeline("baseline").mode == "baseline"
    mine = Pipeline(method="ght", name="ght-mine")
    assert method_pipeline(mine) is mine


def test_summary_table_and_figure():
    rows = [RobustnessRow(m, "scale", a, c, d, d, 0.1) for m, a, c, d in [
        ("a", 1.0, "x", 0.9), ("a", 1.0, "y", 0.7), ("a", 1.5, "x", 0.6), ("a", 1.5, "y", 0.5),
        ("b", 1.0, "x", 0.8), ("b", 1.5, "x", 0.8)]]
    summary = summarize_robustness(rows)
    got = {(s["method"], s["amount"]): (s["n"], round(s["dsc"], 3), round(s["dsc_change"], 3))
           for s in summary}
    assert got == {("a", 1.0): (2, 0.8, 0.0), ("a", 1.5): (2, 0.55, -0.25),
                   ("b", 1.0): (1, 0.8, 0.0), ("b", 1.5): (1, 0.8, 0.0)}
    table = robustness_table(rows, kind="scale")
    assert "| a      | 0.800   | 0.550     |" in table
    assert "-0.250" in robustness_table(rows, kind="scale", metric="dsc_change")
    fig = viz.robustness_figure(rows, synthetic=True)
    assert len(fig.axes) == 1 and "(synthetic)" in fig._suptitle.get_text()
    (line_a, line_b) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in "ab"]
    assert list(line_a.get_ydata()) == pytest.approx([0.8, 0.55])
    with pytest.raises(ValueError, match="empty"):
        viz.robustness_figure([])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_encoder_cache_encodes_each_image_once(backend):
    # the backends take and return their own array type (ndarray for ONNX, tensors for torch)
    xp = pytest.importorskip("torch") if backend == "torch" else np
    cat = xp.cat if backend == "torch" else np.concatenate
    calls = []

    def full(v):
        return xp.full((1, 3, 8, 8), float(v))

    def encode(x):
        calls.append(len(x))
        return x[:, :, :4, :4] * 2.0

    from types import SimpleNamespace

    from classicseg.models.litemedsam.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(SimpleNamespace(encode=encode), max_entries=2).encode
    store = cache.__self__
    a, b, c = full(1), full(2), full(3)
    first = cache(a)
    assert (cache(a) == first).all() and calls == [1]
    both = cache(cat([b, a]))                                   # a is cached: only b encodes
    assert calls == [1, 1] and (both[1:] == first).all() and (both[:1] == 4.0).all()
    assert (store.hits, store.misses) == (2, 2)
    cache(c)                                                    # evicts the least recent (b)
    cache(b)
    assert calls == [1, 1, 1, 1] and len(store.store) == 2
    assert np.isfinite(store.seconds_saved)


def test_the_benchmark_writes_its_tables_and_figure(write_case, tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "box_robustness.py"
    spec = importlib.util.spec_from_file_location("box_robustness_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = tmp_path / "ds"
    for i, name in enumerate(("2DBox_OCT_0001", "2DBox_Microscopy_0001")):
        write_case(name, root=data, seed=i, n_labels=3)
    out = tmp_path / "r" / "box_robustness.md"
    assert bench.main(["--data", str(data), "--methods", "kmeans", "ght", "--n-repeats", "1",
                       "--max-boxes", "2", "--out", str(out), "--json",
                       str(tmp_path / "r.json")]) == 0
    text = out.read_text()
    for heading in ("## Mean DSC vs jitter", "## Mean DSC vs scale", "## Mean DSC vs shift"):
        assert heading in text
    assert re.search(r"\| `2DBox_OCT_0001` +\| 2 \(the first 2\) +\| unknown", text)
    assert out.with_suffix(".png").stat().st_size > 0
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert {(r["method"], r["kind"]) for r in rows} == {
        (m, k) for m in ("kmeans", "ght") for k in ("jitter", "scale", "shift")}
    assert all(r["n"] == 2 for r in rows if r["kind"] != "jitter" or r["amount"] == 0)
