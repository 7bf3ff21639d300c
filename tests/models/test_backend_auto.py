"""``backend="auto"``: the fastest installed backend whose cached parity verdict holds.

Verdicts are measured on the official outputs packaged with classicseg (``parity_2d.npz``,
taken from tests/data/litemedsam_vectors.npz) and cached per (weights, backend, precision,
library version) as JSON; each test gets an empty cache (``fresh_cache``) holding only the
ONNX export.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from classicseg.models.litemedsam import LiteMedSAM
from classicseg.models.litemedsam import backends as B
from classicseg.models.litemedsam.weights import LITEMEDSAM_SHA256

pytest.importorskip("onnxruntime")


def test_registry_and_installed_checks_never_import_the_libraries():
    assert B.BACKENDS == ("auto", "onnx", "openvino", "torch")
    assert B.AUTO_ORDER[-1] == "torch"  # the official computation is the fallback
    assert B.installed("onnx") and B.library_version("onnx") != "missing"
    path = B.verdict_path("abc", "onnx", "fp32")
    assert path.name == f"parity-onnx-fp32-onnxruntime-{B.library_version('onnx')}.json"
    with pytest.raises(ValueError, match="backend must be one of"):
        LiteMedSAM.load(backend="tensorrt")


def test_packaged_parity_cases_are_the_official_vectors():
    from pathlib import Path

    cases = B.parity_cases()
    assert [c["name"] for c in cases] == ["c1_coins", "c3_phantom", "c4_coins_nonsquare",
                                          "c5_coins_tinybox"]
    assert sum(len(c["boxes"]) for c in cases) == 12
    with np.load(Path(__file__).parents[1] / "data" / "litemedsam_vectors.npz") as z:
        for c in cases:
            assert np.array_equal(c["image"], z[f"{c['name']}_image"])
            ref = np.unpackbits(z[f"{c['name']}_masks_packbits"], axis=-1,
                                count=c["image"].shape[1]).astype(bool)
            assert np.array_equal(c["masks"], ref)


@pytest.mark.slow
def test_auto_takes_openvino_measures_once_then_reads_the_cached_verdict(fresh_cache):
    pytest.importorskip("openvino")
    model = LiteMedSAM.load()
    assert (model.backend, model.precision) == ("openvino", "fp32")
    assert "fastest installed backend whose parity holds" in model.backend_reason
    assert "measured now" in model.backend_reason
    v = json.loads(B.verdict_path(LITEMEDSAM_SHA256, "openvino", "fp32").read_text())
    assert v["passed"] and v["boxes"] == 12 and v["min_dice"] >= 0.995
    assert v["weights_sha256"] == LITEMEDSAM_SHA256 and v["library"].startswith("openvino ")
    again = LiteMedSAM.load()
    assert again.backend == "openvino" and "cached verdict" in again.backend_reason
    res = again.segment(np.full((40, 50, 3), 100, np.uint8), [[5, 5, 30, 30]])
    assert res.extra["backend_reason"] == again.backend_reason


@pytest.mark.slow
def test_auto_skips_a_backend_whose_parity_fails_or_is_missing(fresh_cache, monkeypatch):
    path = B.verdict_path(LITEMEDSAM_SHA256, "openvino", "fp32")
    path.write_text(json.dumps({"min_dice": 0.5, "mean_dice": 0.9, "boxes": 12, "passed": False,
                                "threshold": B.PARITY_DICE, "library": "openvino x"}))
    if B.installed("openvino"):
        model = LiteMedSAM.load()
        assert model.backend == "onnx"
        assert "openvino parity failed (min per-box Dice 0.5000" in model.backend_reason
    real = B.installed
    monkeypatch.setattr(B, "installed", lambda b: b != "openvino" and real(b))
    model = LiteMedSAM.load()
    assert model.backend == "onnx" and "openvino not installed" in model.backend_reason
    assert model.parity["passed"] and model.parity["min_dice"] >= 0.995


def test_auto_is_torch_for_the_bitwise_official_path_and_a_damaged_verdict_is_remeasured(
        fresh_cache, monkeypatch):
    pytest.importorskip("torch")
    model = LiteMedSAM.load(optimize=False)
    assert model.backend == "torch" and "official computation bit for bit" in model.backend_reason
    monkeypatch.setattr(B, "installed", lambda b: b == "torch")
    model = LiteMedSAM.load()
    assert model.backend == "torch" and "onnx not installed" in model.backend_reason
    bad = B.verdict_path(LITEMEDSAM_SHA256, "onnx", "fp32")
    bad.write_text("{not json")

    class Fake:  # parity_verdict only needs backend, precision and the predictor calls
        backend, precision = "onnx", "fp32"

    monkeypatch.setattr(B, "measure_parity", lambda model: {
        "dice": [1.0], "min_dice": 1.0, "mean_dice": 1.0, "max_abs_iou": 0.0, "boxes": 1,
        "images": 1, "seconds": 0.0})
    v = B.parity_verdict(Fake(), sha256=LITEMEDSAM_SHA256)
    assert v["passed"] and not v["cached"]
    assert json.loads(bad.read_text())["min_dice"] == 1.0


def test_run_summary_and_compare_report_name_the_backend_and_why(tmp_path):
    from classicseg.evaluation.compare import _backend_notes
    from classicseg.pipeline.runner import RunSummary
    from classicseg.pipeline.task import CaseLog

    why = "auto: openvino fp32, the fastest installed backend whose parity holds (...)"
    rows = [CaseLog("a", "a.npz", "paper", status="ok", backend="openvino fp32",
                    backend_reason=why),
            CaseLog("b", "b.npz", "paper", status="ok")]  # a classical method: no backend
    summary = RunSummary(tmp_path, rows)
    assert summary.backends == {"openvino fp32": why}
    assert f"LiteMedSAM backend: openvino fp32 ({why})" in str(summary)
    notes = _backend_notes({"baseline": {"a": rows[0]}, "paper": {"a": rows[0], "b": rows[1]}})
    assert notes == [f"LiteMedSAM backend (baseline): openvino fp32 -- {why}",
                     f"LiteMedSAM backend (paper): openvino fp32 -- {why}"]


def test_models_show_reports_the_cache(fresh_cache, capsys):
    from classicseg.cli import main

    assert main(["models", "show", "--backend", "onnx"]) == 0
    out = capsys.readouterr().out
    assert str(fresh_cache) in out and "onnx fp32        no verdict cached" in out
