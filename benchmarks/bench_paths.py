"""Three LiteMedSAM paths side by side, cold and warm, with DSC next to time (issue 15).

Run:  .venv/bin/python benchmarks/bench_paths.py [--repeats 3] [--threads 2] [--depth 300]
      [--json out.json]   (quick profile: ``--repeats 2 --depth 60``)

Per bundled case of ``data_samples/`` (3D: CT kidneys, MR prostate, MR ventricles, and PET
for the pipeline row only, as PET goes to GHT; 2D: three LiteMedSAM cases), three paths:

* ``official``: the official computation -- torch eager with ``optimize=False`` (no
  conv-BN fusion, one box per decoder call), every slice (s = 1), and on 3D one
  ``segment`` call **per box**, so no slice embedding is shared between boxes (the official
  3D loop encodes each slice again for every box). On 2D the official script encodes the
  image once and decodes every box from it; so does this path.
* ``paper``: the same torch eager, per box, at s = 3 on the per-box slice plan, with the
  post-processing the paper's route gives the case (3D only: on 2D it is ``official``).
* ``default``: ``Pipeline()`` as shipped (backend ``auto``, s = 3, slice embeddings shared
  between boxes, the route's post-processing; PET: GHT).

**cold** = one fresh process per case, as the challenge timed one container per case:
imports, model loading, reading, segmenting, writing, timed by the parent's wall clock.
The default path runs ``python -m classicseg run DIR OUT`` on a folder holding that one
case; the CLI has no ``optimize=False`` nor per-box switch, so the official and paper
paths run this script's ``--child`` mode (the same per-box function the warm rows time).
**warm** = models loaded once in this process, median of ``--repeats`` calls.
DSC: :func:`classicseg.metrics.score_case` against the bundled ground truth.

Targets (reported as met / missed, never asserted): on the 3D cases, cold, the default is
>= 3x faster than ``paper`` and >= 6x faster than ``official`` (total over the cases), at a
mean DSC no lower than ``paper``'s.

Last, the peak RSS of ``classicseg run`` (default pipeline, s = 3) on a **synthetic**
300 x 512 x 512 uint8 CT with 6 boxes, generated at run time into a temporary folder
(``--depth`` shortens it; the depth used is in the output). Peak RSS is the child's
``ru_maxrss`` (``os.wait4``) and, as a cross-check, psutil sampling of the process tree
every 0.05 s. Target < 1.5 GB. The machine is shared: read ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install
DATA = REPO / "data_samples"

CASES_3D = ("3DBox_CT_synthetic-kidneys", "3DBox_MR_synthetic-prostate",
            "3DBox_MR_ventricles-mni152", "3DBox_PET_synthetic-lesions")
CASES_2D = ("2DBox_XRay_synthetic-lungs", "2DBox_Fundus_synthetic-optic-disc",
            "2DBox_US_hc18-082")
#: path -> (s on 3D, use the route's post-processing); official / paper are torch eager
PER_BOX_PATHS = {"official": (1, False), "paper": (3, True)}
TARGETS = {"paper": 3.0, "official": 6.0}  # cold speed-up of the default on 3D, at least
RSS_TARGET_BYTES = 1.5e9


# --------------------------------------------------------------------------- the per-box paths

def load_eager():
    """LiteMedSAM as the official script runs it: torch, no fusion, one box per decoder call."""
    from classicseg.models.litemedsam import LiteMedSAM

    return LiteMedSAM.load(backend="torch", optimize=False)


def _warm_up(model):
    # torch's first call pays one-off set-up costs; pay them once, before any timed call
    model.segment(np.zeros((32, 32, 3), np.uint8), np.array([[4, 4, 27, 27]]))
    return model


def route_postprocess(case) -> str:
    """The post-processing mode the paper's route gives ``case`` (no model is loaded)."""
    from classicseg.pipeline.core import Pipeline

    return Pipeline().route(case).postprocess


def segment_per_box(model, case, *, s: int, postprocess: str) -> np.ndarray:
    """The official / paper path: 3D, one ``segment`` call per box (no embedding shared
    between boxes); 2D, one call for all boxes (the official script encodes once). Labels
    are box index + 1, later boxes win, as in :class:`~classicseg.result.SegmentationResult`."""
    if not case.is_3d:
        return model.segment(case.image, case.boxes, postprocess=postprocess).segs
    segs = np.zeros(case.image.shape, np.uint16)
    for i, box in enumerate(case.boxes):
        mask = model.segment(case.image, box[None], s=s, postprocess=postprocess).segs > 0
        segs[mask] = i + 1
    return segs


def _child(argv: list[str]) -> int:
    """``--child IN OUT S POSTPROCESS THREADS``: one cold per-box run (imports count)."""
    from classicseg.io import atomic_savez, load_case
    from classicseg.pipeline.threads import set_threads

    in_path, out_path, s, postprocess, threads = argv
    set_threads(int(threads))
    case = load_case(in_path)
    pp = route_postprocess(case) if postprocess == "route" else postprocess
    segs = segment_per_box(load_eager(), case, s=int(s), postprocess=pp)
    atomic_savez(out_path, overwrite=True, segs=segs)
    return 0


# --------------------------------------------------------------------------- measuring

def _case(name: str):
    from classicseg.io import load_case

    return load_case(DATA / "imgs" / f"{name}.npz", DATA / "gts" / f"{name}.npz")


def _dsc(case, segs) -> float:
    from classicseg.metrics import score_case

    return float(score_case(case.gts, segs, name=case.name, spacing=case.spacing,
                            nsd_when_gated=False)["dsc"])


def _warm(fn, repeats: int) -> tuple[float, float, np.ndarray]:
    """Median wall and CPU seconds (this process, all threads) of ``repeats`` calls."""
    times, cpus, segs = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        segs = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpus), segs


def run_child(cmd: list[str], *, sample_rss: bool = False) -> dict:
    """Run ``cmd`` in a fresh process: wall seconds (parent's clock), the child's CPU seconds
    and peak RSS (``os.wait4``: this child only, not earlier ones), its exit status and
    stderr tail; with ``sample_rss``, also the largest psutil sum over its process tree."""
    err = tempfile.TemporaryFile()
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    sampled = [0]
    done = threading.Event()

    def sample():
        import psutil

        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not done.is_set():
            try:
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
                sampled[0] = max(sampled[0], total)
            except psutil.Error:
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    done.set()
    if sample_rss:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB
    out = {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
           "peak_rss_bytes": usage.ru_maxrss * scale, "returncode": proc.returncode,
           "stderr": err.read().decode(errors="replace").strip()[-300:]}
    if sample_rss:
        out["sampled_peak_rss_bytes"] = sampled[0]
    return out


def _cold(path: str, name: str, threads: int, tmp: Path) -> tuple[dict, np.ndarray | None]:
    """:func:`run_child` of one fresh process for one case, and its prediction (or None)."""
    src = DATA / "imgs" / f"{name}.npz"
    work = Path(tempfile.mkdtemp(dir=tmp))
    (work / "in").mkdir()
    shutil.copy(src, work / "in" / src.name)
    out = work / "out" / src.name
    if path == "default":
        cmd = [sys.executable, "-m", "classicseg", "run", str(work / "in"), str(work / "out"),
               "--threads", str(threads), "--no-progress"]
    else:
        s, route_pp = PER_BOX_PATHS[path]
        out.parent.mkdir()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
               str(work / "in" / src.name), str(out), str(s), "route" if route_pp else "none",
               str(threads)]
    run = run_child(cmd)
    if run["returncode"] != 0 or not out.is_file():
        return run, None
    with np.load(out) as z:
        segs = z["segs"]
    shutil.rmtree(work, ignore_errors=True)
    return run, segs


def measure_cases(names, *, repeats: int, threads: int, tmp: Path, on_row=None) -> list[dict]:
    from classicseg.pipeline.core import Pipeline

    eager = _warm_up(load_eager())
    default = Pipeline()
    _warm_up(default.models.litemedsam())  # loaded (backend auto) before any timed call
    rows = []
    for name in names:
        case = _case(name)
        route = default.route(case)
        paths = ["default"]
        if route.method == "litemedsam":
            paths = ["official", "paper", "default"] if case.is_3d else ["official", "default"]
        for path in paths:
            if path == "default":
                fn = lambda: default.segment(case).segs  # noqa: E731
                how = f"{route.method} s={route.s} pp={route.postprocess}"
                if route.method != "litemedsam":
                    fn()  # untimed: imports the method's module
            else:
                s, route_pp = PER_BOX_PATHS[path]
                pp = route.postprocess if route_pp else "none"
                fn = lambda s=s, pp=pp: segment_per_box(eager, case, s=s, postprocess=pp)  # noqa: E731
                how = f"torch eager per box s={s if case.is_3d else 1} pp={pp}"
            warm_s, warm_cpu, segs = _warm(fn, repeats)
            cold, cold_segs = _cold(path, name, threads, tmp)
            row = {"case": name, "dim": 3 if case.is_3d else 2, "path": path, "how": how,
                   "cold_s": cold["wall_s"], "cold_cpu_s": cold["cpu_s"], "warm_s": warm_s,
                   "warm_cpu_s": warm_cpu, "dsc_warm": _dsc(case, segs),
                   "dsc_cold": None if cold_segs is None else _dsc(case, cold_segs),
                   "cold_same_as_warm": None if cold_segs is None
                   else bool(np.array_equal(cold_segs, segs)),
                   "loadavg_1min": round(os.getloadavg()[0], 2)}
            if cold_segs is None:
                row["error"] = f"cold run exit {cold['returncode']}: {cold['stderr']}"
            rows.append(row)
            print(json.dumps(row), flush=True)
            if on_row is not None:
                on_row(rows)
    return rows


def summarize(rows: list[dict]) -> dict:
    """Per dimension: totals and mean DSC per path over the cases every path ran, the
    default's speed-ups, and (3D) the targets met or missed."""
    out = {}
    for dim in (3, 2):
        by_case: dict[str, dict] = {}
        for r in rows:
            if r["dim"] == dim:
                by_case.setdefault(r["case"], {})[r["path"]] = r
        paths = ("official", "paper", "default") if dim == 3 else ("official", "default")
        common = [c for c, p in by_case.items() if all(k in p for k in paths)]
        if not common:
            continue
        s = {"cases": common}
        for p in paths:
            s[p] = {f"{k}_total": sum(by_case[c][p][k] for c in common)
                    for k in ("cold_s", "cold_cpu_s", "warm_s", "warm_cpu_s")}
            s[p].update({
                "mean_dsc": statistics.fmean(by_case[c][p]["dsc_warm"] for c in common)})
        for p in paths[:-1]:
            s[f"speedup_vs_{p}"] = {
                kind.removesuffix("_s"): s[p][f"{kind}_total"] / s["default"][f"{kind}_total"]
                for kind in ("cold_s", "cold_cpu_s", "warm_s", "warm_cpu_s")}
        if dim == 3:
            gap = s["default"]["mean_dsc"] - s["paper"]["mean_dsc"]
            s["targets"] = {}
            for p, t in TARGETS.items():
                x = s[f"speedup_vs_{p}"]["cold"]
                why = [f"speed-up {x:.2f}x" + (" < target" if x < t else "")]
                if gap < 0:
                    why.append(f"mean DSC {-gap:.4f} below paper")
                s["targets"][f"cold >= {t:g}x vs {p}"] = (
                    ("met" if x >= t and gap >= 0 else "missed") + f" ({', '.join(why)})")
            s["dsc_no_lower_than_paper"] = gap >= 0
        out[f"{dim}d"] = s
    return out


# --------------------------------------------------------------------------- peak RSS

def synthetic_ct(depth: int, *, size: int = 512, n_boxes: int = 6, seed: int = 0):
    """A SYNTHETIC uint8 CT-like volume (depth, size, size): noisy soft tissue with
    ``n_boxes`` bright ellipsoids, and their inclusive boxes ``[x0, y0, z0, x1, y1, z1]``."""
    rng = np.random.default_rng(seed)
    vol = rng.normal(90, 12, (depth, size, size)).clip(0, 255).astype(np.uint8)
    boxes = []
    zz, yy, xx = np.ogrid[:depth, :size, :size]
    for k in range(n_boxes):
        cz = int(depth * (0.25 + 0.5 * rng.random()))
        cy, cx = (int(size * (0.2 + 0.6 * v)) for v in rng.random(2))
        rz, ry, rx = max(3, depth // 6), int(size * 0.06), int(size * 0.05)
        z0, z1 = max(cz - rz, 0), min(cz + rz, depth - 1)
        sub = ((zz[z0:z1 + 1] - cz) / rz) ** 2 + ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        vol[z0:z1 + 1][sub] = 180 + 10 * k
        boxes.append([cx - rx - 3, cy - ry - 3, z0, cx + rx + 3, cy + ry + 3, z1])
    return vol, np.array(boxes, np.int64)


def peak_rss(depth: int, threads: int, tmp: Path) -> dict:
    """Peak RSS of ``classicseg run`` (default pipeline) on :func:`synthetic_ct`."""
    from classicseg.io import atomic_savez

    work = Path(tempfile.mkdtemp(dir=tmp))
    (work / "in").mkdir()
    vol, boxes = synthetic_ct(depth)
    atomic_savez(work / "in" / "3DBox_CT_synthetic-big.npz", imgs=vol, boxes=boxes,
                 spacing=np.array([1.0, 1.0, 1.0]))
    del vol
    run = run_child([sys.executable, "-m", "classicseg", "run", str(work / "in"),
                     str(work / "out"), "--threads", str(threads), "--no-progress"],
                    sample_rss=True)
    row = {"volume": f"{depth}x512x512 uint8 (synthetic)", "boxes": int(len(boxes)),
           "depth": depth, "s": 3, **{k: v for k, v in run.items() if k != "stderr"},
           "target_bytes": RSS_TARGET_BYTES,
           "within_target": run["peak_rss_bytes"] < RSS_TARGET_BYTES}
    if run["returncode"] != 0:
        row["error"] = run["stderr"]
    shutil.rmtree(work, ignore_errors=True)
    return row


# --------------------------------------------------------------------------- report

def _table(rows: list[dict], cols: list[str]) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else "–" if v is None else str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |"
                              for r in rows])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per path and case (median)")
    ap.add_argument("--threads", type=int, default=2, help="threads in every path and process")
    ap.add_argument("--depth", type=int, default=300,
                    help="slices of the synthetic CT for the peak-RSS run (default 300)")
    ap.add_argument("--skip-rss", action="store_true", help="leave the peak-RSS run out")
    ap.add_argument("--skip-cases", action="store_true", help="only the peak-RSS run")
    ap.add_argument("--cases", nargs="+", help="case names (default: the bundled set above)")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)
    from classicseg.pipeline.threads import set_threads

    set_threads(args.threads)
    t0 = time.perf_counter()
    result = {"threads": args.threads, "repeats": args.repeats, "depth": args.depth,
              "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "rows": [],
              "summary": {}, "peak_rss": None}

    def save(rows=None):  # after every row: a run cut short still leaves its numbers
        if rows is not None:
            result["rows"], result["summary"] = rows, summarize(rows)
        result["seconds"] = time.perf_counter() - t0
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))

    with tempfile.TemporaryDirectory(prefix="bench_paths_") as tmp:
        if not args.skip_cases:
            measure_cases(args.cases or CASES_3D + CASES_2D, repeats=args.repeats,
                          threads=args.threads, tmp=Path(tmp), on_row=save)
        if not args.skip_rss:
            result["peak_rss"] = peak_rss(args.depth, args.threads, Path(tmp))
    save()
    print("\n" + _table(result["rows"], ["case", "path", "how", "cold_s", "cold_cpu_s",
                                         "warm_s", "warm_cpu_s", "dsc_warm", "dsc_cold",
                                         "cold_same_as_warm"]))
    print("\n" + json.dumps(result["summary"], indent=1))
    if result["peak_rss"]:
        print("\npeak RSS: " + json.dumps(result["peak_rss"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
