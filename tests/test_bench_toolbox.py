"""benchmarks/bench_toolbox.py: its options and its summaries, without running the benchmark."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_toolbox.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_toolbox
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return bench_toolbox


def test_help_lists_quick_and_json():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--quick" in proc.stdout and "--json" in proc.stdout


def test_bad_limit_is_a_usage_error_naming_the_option(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--real-limit", "0",
                           "--json", str(tmp_path / "t.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--real-limit" in proc.stderr
    assert not (tmp_path / "t.json").exists()


def test_default_methods_are_litemedsam_paper_and_the_router(bench):
    from classicseg.pipeline.router import METHODS

    methods = bench.default_methods()
    assert methods[:2] == ["litemedsam", "paper"] and set(methods[2:]) == set(METHODS) - {
        "litemedsam"}


def test_summary_and_best_classical_beside_litemedsam(bench):
    def row(method, dsc, case="c1", t=0.1, error=None):
        return {"group": "real", "modality": "US", "case": case, "method": method, "dsc": dsc,
                "nsd": dsc, "seconds_per_box": t, "error": error}

    rows = [row("litemedsam", 0.9), row("litemedsam", 0.8, "c2"), row("paper", 0.85),
            row("grabcut", 0.7), row("grabcut", 0.9, "c2"), row("flood", 0.0, error="E: x"),
            row("mobileunet", 0.99)]
    summary = {s["method"]: s for s in bench.summarize(rows)}
    assert math.isclose(summary["grabcut"]["dsc"], 0.8) and summary["grabcut"]["n"] == 2
    assert summary["flood"]["failed"] == 1
    (best,) = bench.best_classical(list(summary.values()))
    # mobileunet is a model, not a classical method: grabcut is the best classical one
    assert best["best_classical"] == "grabcut" and math.isclose(best["litemedsam_dsc"], 0.85)
    assert best["beats_litemedsam"] is False and best["paper_uses_litemedsam"] is True
    assert bench.dataset_of("2DBox_US_busi-benign012") == "US/busi"
