"""benchmarks/run_all.py: every script runs, failures and time-outs are reported, one report."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"

FAKES = {
    # a well-behaved benchmark: --json with settings and rows, as the real ones write
    "bench_fast.py": """
        import argparse, json
        ap = argparse.ArgumentParser(); ap.add_argument("--json"); args = ap.parse_args()
        print("fast benchmark: 12.5 ms")
        rows = [{"benchmark": "thing A", "median_s": 0.0125, "target_s": 0.02,
                 "peak_bytes": 3 * 2**20},
                {"benchmark": "thing B", "median_s": 0.5, "target_s": 0.1, "ratio": "2.0x"}]
        json.dump({"repeats": 3, "rows": rows}, open(args.json, "w"))
    """,
    "bench_broken.py": """
        raise RuntimeError("this benchmark is broken")
    """,
    "bench_slow.py": """
        import time
        print("starting", flush=True)
        time.sleep(60)
    """,
    "bench_silent.py": """
        print("I never write JSON")
    """,
    # fails after writing what it has (as peak_rss.py does when one notebook breaks)
    "bench_partial.py": """
        import argparse, json, sys
        ap = argparse.ArgumentParser(); ap.add_argument("--json"); args = ap.parse_args()
        json.dump({"rows": [{"notebook": "a.ipynb", "seconds": 1.5}, {"notebook": "b.ipynb",
                                                                       "error": "boom"}]},
                  open(args.json, "w"))
        print("\\x1b[31mcoloured error\\x1b[0m")
        sys.exit(1)
    """,
}


@pytest.fixture
def bench_dir(tmp_path):
    d = tmp_path / "benches"
    d.mkdir()
    for name, src in FAKES.items():
        (d / name).write_text(textwrap.dedent(src))
    (d / "helper.py").write_text("raise SystemExit('not a benchmark: must not run')\n")
    return d


def run_all(*args):
    return subprocess.run([sys.executable, str(RUN_ALL), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_run_all_reports_every_benchmark_and_survives_failures(bench_dir, tmp_path):
    out = tmp_path / "report.md"
    proc = run_all("--quick", "--bench-dir", bench_dir, "--out", out, "--timeout", 3)
    assert proc.returncode == 1, proc.stdout + proc.stderr          # some failed, all reported
    report = out.read_text()
    summary = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    for name, status in [("bench_fast.py", "| ok |"), ("bench_broken.py", "failed (exit status 1)"),
                         ("bench_slow.py", "timed out after 3 s"),
                         ("bench_silent.py", "no JSON output"),
                         ("bench_partial.py", "failed (exit status 1)")]:
        line = next(ln for ln in summary.splitlines() if name in ln)
        assert status in line, line
    assert "helper.py" not in report
    # the fast one's numbers, side by side, with its settings, MiB and the target check
    assert "| benchmark | median_s | target_s | peak_MiB | ratio | within_target |" in report
    assert "| thing A | 0.0125 | 0.02 | 3 | – | yes |" in report
    assert "| thing B | 0.5 | 0.1 | – | 2.0x | no |" in report
    assert "repeats `3`" in report
    # what went wrong is shown, the machine is described, the commands are exact
    assert "this benchmark is broken" in report and "starting" in report
    assert "| b.ipynb | – | boom |" in report                        # a failed run's partial rows
    assert "coloured error" in report and "\x1b" not in report      # terminal colours stripped
    assert "## Machine" in report and "| CPU |" in report and "numpy" in report
    assert f"--json {out.with_suffix('')}/bench_fast.json" in report
    assert "--quick" in report.split("## Machine")[0]
    assert json.loads((out.with_suffix("") / "bench_fast.json").read_text())["repeats"] == 3


def test_only_runs_the_named_benchmarks(bench_dir, tmp_path):
    out = tmp_path / "r.md"
    proc = run_all("--bench-dir", bench_dir, "--out", out, "--only", "fast")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = out.read_text()
    assert "bench_fast.py" in report and "bench_broken.py" not in report
    assert "Profile **full**" in report
    bad = run_all("--bench-dir", bench_dir, "--out", out, "--only", "nonexistent")
    assert bad.returncode != 0 and "nonexistent" in bad.stderr


def test_every_real_benchmark_has_a_json_option():
    """run_all relies on --json: each real script must offer it."""
    bench = RUN_ALL.parent
    sys.path.insert(0, str(bench))
    try:
        from run_all import discover
    finally:
        sys.path.remove(str(bench))
    scripts = discover(bench)
    assert len(scripts) >= 6 and bench / "real_dev.py" in scripts
    for script in scripts:
        assert '"--json"' in script.read_text(), script.name
    dry = run_all("--quick", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("--json") == len(scripts)


def test_real_dev_skips_with_a_message_without_the_real_data(tmp_path):
    """Users and Binder have no research-only dev set: the benchmark says so and exits 0."""
    out = tmp_path / "rd.json"
    proc = subprocess.run([sys.executable, str(RUN_ALL.parent / "real_dev.py"), "--data",
                           str(tmp_path / "absent"), "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stdout and "CLASSICSEG_REALDATA" in proc.stdout
    assert "skipped" in json.loads(out.read_text())
