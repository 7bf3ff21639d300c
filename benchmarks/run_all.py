"""Run every benchmark and write one markdown report (``make benchmark``).

Each ``benchmarks/bench_*.py`` (and ``peak_rss.py``) runs in its own subprocess, one after
the other (in parallel they would slow each other down), with a time limit, and writes its
numbers with ``--json``. The report puts each script's medians and ratios side by side as it
reports them, under a description of the machine (CPU model, cores, vector/matrix flags such
as avx512 / amx, memory, library versions) and the exact commands. A benchmark that fails or
runs out of time is reported as such; the others still run.

Usage::

    .venv/bin/python benchmarks/run_all.py                    # full profile -> reports/benchmark.md
    .venv/bin/python benchmarks/run_all.py --quick            # small sizes / repeats: a few minutes
    .venv/bin/python benchmarks/run_all.py --only methods metrics --out reports/bench_some.md

Profiles: ``full`` runs each script with its own defaults; ``quick`` passes the small settings
in :data:`PROFILES`. Scripts not listed there get ``--json`` only. The raw JSON of each run is
kept beside the report (``reports/benchmark/<script>.json``). Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: script stem -> arguments per profile (besides ``--json``). Quick settings keep a 2-core
#: machine under ~5 minutes for all of them together.
PROFILES: dict[str, dict[str, list[str]]] = {
    "bench_methods": {"quick": ["--repeats", "1"], "full": []},
    "bench_metrics": {"quick": ["--cases", "2", "--repeats", "1"], "full": []},
    "bench_mobileunet": {"quick": ["--repeats", "1"], "full": []},
    # full: every real dev case (and a real-trained MobileUNet when CLASSICSEG_REAL_WEIGHTS
    # names its folder); quick: 2 cases per dataset
    "real_dev": {"quick": ["--limit", "2"], "full": []},
    "bench_backends": {"quick": ["--repeats", "2"], "full": []},
    "bench_litemedsam": {"quick": ["--repeats", "1", "--repeats-3d", "1", "--depth", "6"],
                         "full": []},
    # quick: one small notebook, as a smoke test of the measurement (full: every lesson)
    "peak_rss": {"quick": ["tests/notebooks/browser_nb/box_demo.py"], "full": []},
    # quick: the smallest 3D case only, its report beside the JSON (full: every bundled 3D
    # case LiteMedSAM gets -> reports/adaptive_slices.md)
    "adaptive_slices": {"quick": ["--cases", "ventricles", "--out",
                                  "reports/benchmark/adaptive_slices_quick.md"], "full": []},
    # quick: 4 cases (first 4 boxes each), jitter + scale; full: every bundled 2D case, + shift
    "box_robustness": {"quick": ["--quick"], "full": []},
    # quick: 1 bundled case per modality + 1 real dev case per dataset, 2 boxes each, report
    # beside the JSON (full: every bundled 2D case and the whole dev set -> reports/toolbox.md)
    "bench_toolbox": {"quick": ["--quick", "--out", "reports/benchmark/toolbox_quick.md"],
                      "full": []},
    # quick: one 3D and one 2D case, a 60-slice RSS volume (the full set needs ~10 min idle)
    "bench_paths": {"quick": ["--repeats", "1", "--depth", "60", "--cases",
                              "3DBox_MR_synthetic-prostate", "2DBox_XRay_synthetic-lungs"],
                    "full": []},
}
#: benchmarks not named ``bench_*.py``, run after those, in this order (a new one: add its
#: file name here and, if it has small settings, an entry in PROFILES)
EXTRA_SCRIPTS = ("real_dev.py", "box_robustness.py", "adaptive_slices.py", "peak_rss.py")
#: seconds per benchmark, unless --timeout says otherwise
TIMEOUTS = {"quick": 300, "full": 3600}
#: CPU flags worth knowing when reading timings (vector and matrix units)
FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
         "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "neon", "asimd", "sve")
#: distributions whose versions decide the numbers (first installed name of each entry)
LIBRARIES = (("classicseg",), ("numpy",), ("scipy",), ("scikit-image",),
             ("opencv-python-headless", "opencv-python", "opencv-contrib-python"), ("torch",),
             ("onnxruntime",), ("onnx",), ("nbclient",), ("psutil",))
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colours (tracebacks from nbclient)


# --------------------------------------------------------------------------- discovery

def discover(bench_dir: Path, only: list[str] | None = None) -> list[Path]:
    """``bench_*.py`` (sorted) then :data:`EXTRA_SCRIPTS` of ``bench_dir``; ``only`` filters by name
    (``bench_methods``, ``bench_methods.py`` or ``methods``)."""
    scripts = sorted(bench_dir.glob("bench_*.py"))
    scripts += [bench_dir / name for name in EXTRA_SCRIPTS if (bench_dir / name).is_file()]
    if only:
        names = {n.removesuffix(".py") for n in only}
        known = {s.stem for s in scripts} | {s.stem.removeprefix("bench_") for s in scripts}
        unknown = names - known
        if unknown:
            raise SystemExit(f"run_all: no benchmark named {sorted(unknown)} in {bench_dir} "
                             f"(have: {', '.join(s.stem for s in scripts)})")
        scripts = [s for s in scripts if s.stem in names or s.stem.removeprefix("bench_") in names]
    return scripts


def _shown(path: Path) -> str:
    """A path as the reader would type it: relative to the repository when inside it."""
    try:
        return str(Path(os.path.abspath(path)).relative_to(REPO))  # not resolve(): keep .venv/bin
    except ValueError:
        return str(path)


def command_for(script: Path, profile: str, json_path: Path) -> list[str]:
    extra = PROFILES.get(script.stem, {}).get(profile, [])
    return [sys.executable, str(script), *extra, "--json", str(json_path)]


# --------------------------------------------------------------------------- running

def run_one(script: Path, profile: str, json_path: Path, timeout: float) -> dict:
    """Run one benchmark; never raises. Status: ok, failed, timed out or no JSON."""
    cmd = command_for(script, profile, json_path)
    json_path.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    # own session: on a timeout the whole group goes (the LiteMedSAM bench starts children)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, _ = proc.communicate()
    seconds = time.perf_counter() - t0
    row = {"script": script.name, "command": " ".join(shlex.quote(_shown(c)) for c in cmd),
           "seconds": seconds, "returncode": proc.returncode, "data": None,
           "output": _ANSI.sub("", out or "")}
    problem = None
    if json_path.is_file():  # read even after a failure: peak_rss.py writes the rows it has
        try:
            row["data"] = json.loads(json_path.read_text())
        except (OSError, ValueError) as exc:
            problem = f"unreadable JSON ({exc})"
    else:
        problem = "no JSON output"
    if timed_out:
        row["status"] = f"timed out after {timeout:g} s"
    elif proc.returncode != 0:
        row["status"] = f"failed (exit status {proc.returncode})"
    else:
        row["status"] = problem or "ok"
    return row


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------- the machine

def _cpuinfo() -> dict:
    info: dict = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    cores = set()
    phys = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Model", "Hardware") and "model" not in info:
            info["model"] = value
        elif key in ("flags", "Features") and "flags" not in info:
            have = set(value.split())
            info["flags"] = [f for f in FLAGS if f in have]
        elif key == "physical id":
            phys = value
        elif key == "core id":
            cores.add((phys, value))
    if cores:
        info["physical_cores"] = len(cores)
    return info


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2 ** 20
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(names: tuple[str, ...]) -> tuple[str, str]:
    for name in names:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return names[0], "not installed"


def _git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + (" (with uncommitted changes)" if dirty else "")) if sha else "unknown"


def machine() -> dict:
    """What the timings depend on: CPU, cores, flags, memory, OS, Python and libraries."""
    cpu = _cpuinfo()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu.get("model") or platform.processor() or platform.machine(),
            "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "physical_cores": cpu.get("physical_cores"), "flags": cpu.get("flags", []),
            "memory_gib": _memory_gib(), "os": platform.platform(),
            "python": platform.python_version(), "libraries": dict(_version(n) for n in LIBRARIES),
            "threads_env": {k: os.environ.get(k, "unset") for k in THREAD_VARS},
            "loadavg": load, "commit": _git_commit()}


# --------------------------------------------------------------------------- markdown

def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        v = json.dumps(v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict], columns: list[str] | None = None) -> list[str]:
    """A markdown table; keys ending in ``_bytes`` are shown in MiB."""
    if not rows:
        return ["(no rows)"]
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))

    def value(r, k):
        v = r.get(k)
        return v / 2 ** 20 if k.endswith("_bytes") and isinstance(v, (int, float)) else v

    heads = [k.removesuffix("_bytes") + "_MiB" if k.endswith("_bytes") else k for k in columns]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(_cell(value(r, k)) for k in columns) + " |" for r in rows]
    return lines


def _generic(data) -> list[str]:
    """Settings (top-level scalars), then the ``rows`` list as a table, then other sections."""
    if not isinstance(data, dict):
        return [f"`{_cell(data)}`"]
    scalars = {k: v for k, v in data.items() if not isinstance(v, (list, dict))}
    lines = []
    if scalars:
        lines += ["Settings: " + ", ".join(f"{k} `{_cell(v)}`" for k, v in scalars.items()), ""]
    rows = data.get("rows")
    if isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
        for r in rows:  # a target beside a median: say whether it was met
            med, target = r.get("median_s"), r.get("target_s")
            if isinstance(med, (int, float)) and isinstance(target, (int, float)):
                r.setdefault("within_target", med < target)
        columns = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "within_target"]
        lines += table(rows, columns + ["within_target"] * any("within_target" in r for r in rows))
        lines += [""]
    for k, v in data.items():
        if k != "rows" and isinstance(v, (list, dict)):
            lines += [f"{k}: `{_cell(v)}`", ""]
    return lines


def _litemedsam(data: dict) -> list[str]:
    """bench_litemedsam.py: encoder variants, 3D slice skipping, cold vs warm 2D."""
    lines = []
    if info := data.get("info"):
        lines += ["Settings: " + ", ".join(f"{k} `{_cell(v)}`" for k, v in info.items()), ""]
    if enc := data.get("encoder"):
        lines += ["**Encoder, one 256 x 256 image** (medians; speed-up vs plain eager)", ""]
        lines += table([{"variant": k, "median_wall_s": enc["median_s"][k],
                         "speedup_wall": enc["speedup"][k],
                         "median_cpu_s": enc["median_cpu_s"][k],
                         "speedup_cpu": enc["speedup_cpu"][k],
                         "max_abs_embedding_diff": enc["max_abs_embedding_diff"][k]}
                        for k in enc["median_s"]]) + [""]
    if d3 := data.get("3d"):
        lines += [f"**3D, volume {d3.get('shape')}, {len(d3.get('boxes', []))} boxes** "
                  "(speed-up vs s = 1; the official script encodes "
                  f"{d3.get('encoder_calls_official_s1')} slices at s = 1)", ""]
        s1 = {"speedup": 1.0, "speedup_cpu": 1.0, "encoder_calls": d3.get("encoder_calls_s1"),
              "dice_vs_s1": 1.0}
        rows = []
        for k, wall in d3["median_s"].items():
            extra = s1 if k == "s1" else d3.get(k, {})
            rows.append({"variant": k, "median_wall_s": wall, "median_cpu_s": d3["median_cpu_s"][k],
                         "speedup_wall": extra.get("speedup"),
                         "speedup_cpu": extra.get("speedup_cpu"),
                         "speedup_vs_box_by_box": extra.get("speedup_vs_box_by_box"),
                         "encoder_calls": extra.get("encoder_calls"),
                         "dice_vs_s1": extra.get("dice_vs_s1")})
        lines += table(rows) + [""]
    if cw := data.get("2d_cold_warm"):
        lines += ["**2D, 512 x 512: cold (a new process) vs warm** (medians)", ""]
        lines += table([{"boxes": n, **r} for n, r in cw.items()]) + [""]
    return lines or _generic(data)


def _adaptive_slices(data: dict) -> list[str]:
    """adaptive_slices.py: mean passes / DSC per slice plan, then the verdict."""
    lines = table(data.get("rows", [])) + [""]
    if verdict := data.get("verdict"):
        lines += [f"**Verdict:** {verdict}", ""]
    return lines


def _real_dev(data: dict) -> list[str]:
    """real_dev.py: default vs baseline per modality, then every method (no per-case rows)."""
    if "skipped" in data:
        return [f"**Skipped:** {data['skipped']}", ""]
    lines = [f"{data.get('cases')} real cases, {data.get('seconds_total')} s. Mean DSC over "
             f"modalities: baseline {data.get('mean_dsc_baseline')}, default pipeline "
             f"{data.get('mean_dsc_paper')}; every modality within 1 DSC point: "
             f"{data.get('all_within_1_point')}.", ""]
    lines += table(data.get("rows", [])) + ["", "Every method:", ""]
    lines += table(data.get("per_method", [])) + [""]
    return lines


def _toolbox(data: dict) -> list[str]:
    """bench_toolbox.py: the best classical method per modality beside LiteMedSAM (the
    method x modality tables and figures are in its own report)."""
    lines = [f"{data.get('cases')} 2D cases, {data.get('runs')} runs, "
             f"{_cell(data.get('seconds'))} s; real dev set: {_cell(data.get('real_dev'))}. "
             f"Full tables, heat map and Pareto plot: `{data.get('report')}`.", ""]
    return lines + table(data.get("rows", [])) + [""]


def _paths(data: dict) -> list[str]:
    """bench_paths.py: per case and path cold / warm time with DSC, then the totals and the
    default's speed-ups per dimension, the 3D targets, and the peak RSS of a big run."""
    lines = [f"threads {data.get('threads')}, warm median of {data.get('repeats')}, load "
             f"average at start {_cell(data.get('loadavg_at_start'))}", ""]
    lines += table([{k: v for k, v in r.items() if k != "dim"}
                    for r in data.get("rows", [])]) + [""]
    for dim, s in data.get("summary", {}).items():
        paths = [p for p in ("official", "paper", "default") if p in s]
        lines += [f"**{dim.upper()}, totals over {', '.join(s['cases'])}**", ""]
        lines += table([{"path": p, **s[p], **{f"default_speedup_{k}": v for k, v in
                                                s.get(f"speedup_vs_{p}", {}).items()}}
                        for p in paths])
        if "targets" in s:
            lines += ["", "Targets (default, cold, mean DSC no lower than paper): "
                      + ", ".join(f"{k}: **{v}**" for k, v in s["targets"].items())]
        lines += [""]
    if rss := data.get("peak_rss"):
        lines += ["**Peak RSS of `classicseg run`** (synthetic CT)", ""] + table([rss]) + [""]
    return lines


#: script stem -> how its JSON becomes markdown (default: settings + the ``rows`` table)
FORMATTERS = {"real_dev": _real_dev, "bench_litemedsam": _litemedsam,
              "adaptive_slices": _adaptive_slices, "bench_toolbox": _toolbox,
              "bench_paths": _paths}


def render(results: list[dict], env: dict, *, profile: str, command: str, started: str) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in env["libraries"].items())
    mem = f"{env['memory_gib']:.1f} GiB" if env["memory_gib"] else "unknown"
    lines = [
        "# Benchmark report", "",
        f"Profile **{profile}**, started {started}, commit {env['commit']}. "
        "Medians and ratios are as each script reports them; timings are never asserted.", "",
        "Command:", "", "```", command, "```", "",
        "## Machine", "",
        "| | |", "|---|---|",
        f"| CPU | {_cell(env['cpu'])} |",
        f"| cores | {env['logical_cpus']} logical ({env['usable_cpus']} usable), "
        f"{env['physical_cores'] or 'unknown'} physical |",
        f"| flags | {', '.join(env['flags']) or 'none of ' + ', '.join(FLAGS[:4])} |",
        f"| memory | {mem} |",
        f"| OS | {_cell(env['os'])} |",
        f"| Python | {env['python']} |",
        f"| libraries | {libs} |",
        f"| thread variables | {', '.join(f'{k}={v}' for k, v in env['threads_env'].items())} |",
        f"| load average at start | {_cell(env['loadavg'])} |", "",
        "## Summary", "",
        "| benchmark | status | seconds |", "|---|---|---|",
    ]
    lines += [f"| [{r['script']}](#{r['script'].replace('.', '').lower()}) | {r['status']} | "
              f"{r['seconds']:.1f} |" for r in results]
    for r in results:
        lines += ["", f"## {r['script']}", "",
                  f"Status: **{r['status']}** in {r['seconds']:.1f} s. Command:", "",
                  "```", r["command"], "```", ""]
        if r["data"] is not None:
            stem = r["script"].removesuffix(".py")
            lines += FORMATTERS.get(stem, _generic)(r["data"])
        tail = "\n".join(r["output"].rstrip().splitlines()[-80:])
        if tail:
            lines += ["<details><summary>its output (last 80 lines)</summary>", "",
                      "```", tail, "```", "", "</details>"]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and repeats (a few minutes)")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "benchmark.md",
                    help="the markdown report (default reports/benchmark.md)")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run only these (e.g. methods metrics)")
    ap.add_argument("--bench-dir", type=Path, default=HERE, help="where the bench_*.py scripts are")
    ap.add_argument("--timeout", type=float,
                    help="seconds per benchmark (default 300 quick, 3600 full)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = ap.parse_args(argv)
    profile = "quick" if args.quick else "full"
    timeout = args.timeout or TIMEOUTS[profile]
    scripts = discover(args.bench_dir.resolve(), args.only)
    if not scripts:
        print(f"run_all: no bench_*.py in {args.bench_dir}", file=sys.stderr)
        return 2
    json_dir = args.out.with_suffix("")  # reports/benchmark.md -> reports/benchmark/<script>.json
    if args.dry_run:
        for s in scripts:
            cmd = command_for(s, profile, json_dir / f"{s.stem}.json")
            print(" ".join(shlex.quote(_shown(c)) for c in cmd))
        return 0
    json_dir.mkdir(parents=True, exist_ok=True)
    command = " ".join(shlex.quote(c) for c in [_shown(sys.executable), _shown(Path(__file__)),
                                                 *(argv if argv is not None else sys.argv[1:])])
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env = machine()
    results = []
    for s in scripts:
        print(f"run_all: {s.name} ({profile}, limit {timeout:g} s) ...", flush=True)
        r = run_one(s, profile, json_dir / f"{s.stem}.json", timeout)
        print(f"run_all: {s.name}: {r['status']} in {r['seconds']:.1f} s", flush=True)
        results.append(r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, env, profile=profile, command=command, started=started))
    print(f"run_all: wrote {_shown(args.out)}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
