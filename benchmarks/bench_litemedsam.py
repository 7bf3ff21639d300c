"""Speed of LiteMedSAM (issue 4): medians measured side by side in one run.

Run:  .venv/bin/python benchmarks/bench_litemedsam.py [--repeats 5] [--threads 2] [--json out.json]
      (--quick: fewer repeats and a shorter volume; --skip-3d / --skip-cold to leave parts out)

Targets:
* Encoder, one 256 x 256 image: optimised eager (conv-BN fused, channels_last) >= 1.4x and
  ONNX Runtime >= 2x faster than plain eager (rounds interleaved, so load drifts hit all).
* 3D, (100, 256, 256) volume, 3 boxes: s = 3 >= 2.5x faster than s = 1; Dice s=3 vs s=1.
* 2D with 1 and 50 boxes: cold (a new process: imports + weights + first call) and warm.
All images are SYNTHETIC phantoms generated here (not challenge data). Wall time and CPU
time (all threads of the process) are both reported: on a shared, busy machine wall times
swing several-fold while CPU seconds stay steady, so read the ratios, CPU ones first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install


class Clock:
    """Wall time and this process's CPU time (all threads). On a shared, busy machine the
    wall time swings 2-10x; CPU seconds are far steadier, so both are reported."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else float(2 * (a & b).sum() / s)


# --------------------------------------------------------------------------- synthetic data

def phantom_2d(n_boxes: int, rng, size: int = 512):
    """SYNTHETIC RGB image with ``n_boxes`` bright discs on a noisy background, one box each."""
    img = rng.normal(60, 12, (size, size)).clip(0, 255)
    yy, xx = np.mgrid[:size, :size]
    boxes = []
    grid = int(np.ceil(np.sqrt(n_boxes)))
    cell = size // grid
    for k in range(n_boxes):
        cy, cx = (k // grid) * cell + cell // 2, (k % grid) * cell + cell // 2
        r = max(4, int(cell * rng.uniform(0.2, 0.35)))
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] += rng.uniform(90, 150)
        boxes.append([cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2])
    img = np.repeat(img.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return img, np.clip(np.array(boxes), 0, size - 1)


def phantom_3d(depth: int, rng, size: int = 256):
    """SYNTHETIC (depth, size, size) volume: 3 ellipsoidal 'organs' at different heights,
    partly overlapping in z (as organs in a CT scan do), one 3D box each."""
    vol = rng.normal(50, 10, (depth, size, size)).astype(np.float32)
    zz, yy, xx = np.ogrid[:depth, :size, :size]
    organs = [  # (z centre, z half-extent, y, x, ry, rx, intensity), as fractions of the volume
        (0.35, 0.25, 0.40, 0.35, 0.16, 0.20, 110),
        (0.55, 0.22, 0.60, 0.65, 0.12, 0.10, 150),
        (0.75, 0.18, 0.45, 0.55, 0.10, 0.14, 190),
    ]
    boxes = []
    for fz, hz, fy, fx, ry, rx, val in organs:
        cz, cy, cx = fz * depth, fy * size, fx * size
        az, ay, ax = hz * depth, ry * size, rx * size
        inside = ((zz - cz) / az) ** 2 + ((yy - cy) / ay) ** 2 + ((xx - cx) / ax) ** 2 <= 1
        vol[inside] = val + rng.normal(0, 8, int(inside.sum()))
        boxes.append([int(cx - ax) - 2, int(cy - ay) - 2, int(np.ceil(cz - az)),
                      int(cx + ax) + 2, int(cy + ay) + 2, int(cz + az)])
    boxes = np.array(boxes)
    boxes[:, [0, 1, 3, 4]] = boxes[:, [0, 1, 3, 4]].clip(0, size - 1)
    boxes[:, [2, 5]] = boxes[:, [2, 5]].clip(0, depth - 1)
    return vol.clip(0, 255).astype(np.uint8), boxes


# --------------------------------------------------------------------------- sections

def bench_encoder(repeats: int) -> dict:
    import torch

    from classicseg.models.litemedsam import LiteMedSAM

    t0 = time.perf_counter()
    onnx = LiteMedSAM.load(backend="onnx")  # exports once into the cache
    t_onnx_load = time.perf_counter() - t0
    models = {"plain eager": LiteMedSAM.load(optimize=False, backend="torch"),
              "optimised eager": LiteMedSAM.load(backend="torch"), "onnx": onnx}
    img, _ = phantom_2d(1, np.random.default_rng(0), 256)
    x = models["plain eager"].preprocess(img).tensor
    ref = models["plain eager"].encode(x)
    times = {k: [] for k in models}
    cpu = {k: [] for k in models}
    diffs = {k: float((torch.as_tensor(m.encode(x)) - ref).abs().max())  # also warm-up
             for k, m in models.items()}  # (onnx returns numpy)
    for _ in range(repeats):  # interleaved rounds: load drift hits every variant alike
        for k, m in models.items():
            with Clock() as c:
                m.encode(x)
            times[k].append(c.wall)
            cpu[k].append(c.cpu)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    base, base_cpu = med["plain eager"], med_cpu["plain eager"]
    print("\n== Encoder, one 256x256 image (median of %d, interleaved; torch threads %d)"
          % (repeats, torch.get_num_threads()))
    for k in models:
        print(f"  {k:16s} wall {med[k]:6.3f} s ({base / med[k]:4.2f}x)   CPU {med_cpu[k]:6.3f} s "
              f"({base_cpu / med_cpu[k]:4.2f}x)   max|d emb| {diffs[k]:.1e}")
    print(f"  (ONNX load incl. export-or-cache: {t_onnx_load:.1f} s)")
    return {"median_s": med, "median_cpu_s": med_cpu,
            "speedup": {k: base / v for k, v in med.items()},
            "speedup_cpu": {k: base_cpu / v for k, v in med_cpu.items()}, "all_s": times,
            "all_cpu_s": cpu, "max_abs_embedding_diff": diffs, "onnx_load_s": t_onnx_load}


def bench_3d(depth: int, repeats: int) -> dict:
    from classicseg.models.litemedsam import LiteMedSAM

    model = LiteMedSAM.load()
    vol, boxes = phantom_3d(depth, np.random.default_rng(1))
    calls = {"n": 0}
    encode = model._runner.encode

    def counting(x):
        calls["n"] += 1
        return encode(x)

    model._runner.encode = counting
    variants = {"s1": {"s": 1}, "s3": {"s": 3}, "s3_volgrid": {"s": 3, "grid": "volume"},
                "s1_box_by_box": {"s": 1, "one_by_one": True}}

    def run(kw):
        if not kw.get("one_by_one"):
            return model.segment(vol, boxes, **kw)
        # The official script's cost: every box walks its slices on its own (no embedding
        # shared between boxes). Same masks as "s1" (each box's walk is identical).
        parts = [model.segment(vol, boxes[k:k + 1], s=kw["s"]) for k in range(len(boxes))]
        res = parts[0]
        for k, part in enumerate(parts[1:], start=1):
            res.segs[part.segs > 0] = k + 1
        return res

    order = list(variants)
    # A-B-C-C-B-A...: a load drift during the run hits every variant alike.
    schedule = [k for r in range(repeats) for k in (order if r % 2 == 0 else order[::-1])]
    times = {k: [] for k in variants}
    cpu = {k: [] for k in variants}
    runs = {}
    for key in schedule:
        calls["n"] = 0
        with Clock() as c:
            res = run(variants[key])
        times[key].append(c.wall)
        cpu[key].append(c.cpu)
        runs[key] = (res, calls["n"])
    med = {k: statistics.median(v) for k, v in times.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    r1, n1 = runs["s1"]
    official_calls = int(sum(b[5] - b[2] + 1 for b in boxes))
    print(f"\n== 3D, SYNTHETIC volume {vol.shape}, {len(boxes)} boxes z-ranges "
          f"{[(int(b[2]), int(b[5])) for b in boxes]} (median of {repeats}, order A-B-C-C-B-A)")
    print(f"  s=1: wall {med['s1']:6.1f} s, CPU {mcpu['s1']:6.1f} s  encoder calls {n1} "
          f"(the official script: {official_calls}; slices shared by boxes are encoded once here)")
    result = {"shape": list(vol.shape), "boxes": boxes.tolist(), "times_s": times, "median_s": med,
              "cpu_s": cpu, "median_cpu_s": mcpu,
              "encoder_calls_official_s1": official_calls, "encoder_calls_s1": n1}
    for key, label in (("s3", "s=3 (grid='box', paper)"), ("s3_volgrid", "s=3 (grid='volume')"),
                       ("s1_box_by_box", "s=1 box by box (official cost)")):
        r3, n3 = runs[key]
        per_box = [dice(r1.segs == k + 1, r3.segs == k + 1) for k in range(len(boxes))]
        total = dice(r1.segs > 0, r3.segs > 0)
        print(f"  {label}: wall {med[key]:6.1f} s ({med['s1'] / med[key]:.2f}x), "
              f"CPU {mcpu[key]:6.1f} s ({mcpu['s1'] / mcpu[key]:.2f}x)  encoder calls {n3}  "
              f"Dice vs s=1: all {total:.4f}, "
              f"per box {[round(d, 4) for d in per_box]}")
        result[key] = {"speedup": med["s1"] / med[key], "speedup_cpu": mcpu["s1"] / mcpu[key],
                       "encoder_calls": n3, "dice_vs_s1": total, "dice_per_box": per_box}
    for key in ("s3", "s3_volgrid"):
        r_wall = med["s1_box_by_box"] / med[key]
        r_cpu = mcpu["s1_box_by_box"] / mcpu[key]
        print(f"  {key} vs s=1 box by box (the official procedure's cost): {r_wall:.2f}x wall, "
              f"{r_cpu:.2f}x CPU")
        result[key]["speedup_vs_box_by_box"] = r_wall
        result[key]["speedup_cpu_vs_box_by_box"] = r_cpu
    return result


_COLD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from classicseg.models.litemedsam import LiteMedSAM
t1 = time.perf_counter()
model = LiteMedSAM.load()
t2 = time.perf_counter()
d = np.load(sys.argv[1])
res = model.segment(d["image"], d["boxes"])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_segment_s": t3 - t2}))
"""


def bench_cold_warm(repeats: int, threads: int) -> dict:
    from classicseg.models.litemedsam import LiteMedSAM

    model = LiteMedSAM.load()
    out = {}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 50):
            img, boxes = phantom_2d(n, np.random.default_rng(n))
            path = Path(tmp) / f"case{n}.npz"
            np.savez(path, image=img, boxes=boxes)
            model.segment(img, boxes)  # warm-up
            cold, cold_cpu, parts, warm, warm_cpu = [], [], [], [], []
            for _ in range(repeats):  # cold and warm runs interleaved (load drifts hit both)
                child = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                proc = subprocess.run([sys.executable, "-c", _COLD, str(path)], capture_output=True,
                                      text=True, env=env, check=True)
                cold.append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cold_cpu.append(after.ru_utime + after.ru_stime - child.ru_utime - child.ru_stime)
                parts.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                with Clock() as c:
                    model.segment(img, boxes)
                warm.append(c.wall)
                warm_cpu.append(c.cpu)
            out[n] = {"cold_process_s": statistics.median(cold),
                      "cold_cpu_s": statistics.median(cold_cpu),
                      "warm_s": statistics.median(warm), "warm_cpu_s": statistics.median(warm_cpu),
                      **{k: statistics.median(p[k] for p in parts) for k in parts[0]}}
    print("\n== 2D, SYNTHETIC 512x512 image: cold (new process) vs warm, "
          f"medians of {repeats} interleaved")
    for n, r in out.items():
        print(f"  {n:2d} box(es): cold {r['cold_process_s']:5.1f} s wall, "
              f"{r['cold_cpu_s']:5.1f} s CPU (import {r['import_s']:.1f}, load {r['load_s']:.1f}, "
              f"first segment {r['first_segment_s']:.1f})"
              f"   warm {r['warm_s']:5.2f} s wall, {r['warm_cpu_s']:5.2f} s CPU")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--repeats-3d", type=int, default=2,
                    help="runs per 3D variant (A-B-C-C-B-A order)")
    ap.add_argument("--depth", type=int, default=100, help="slices of the 3D phantom")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch.set_num_threads (and ONNX Runtime)")
    ap.add_argument("--quick", action="store_true", help="3 repeats, 30-slice volume")
    ap.add_argument("--skip-encoder", action="store_true")
    ap.add_argument("--skip-3d", action="store_true")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--json", help="write all numbers to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.repeats_3d, args.depth = 3, 1, 30

    import torch

    torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "threads": args.threads, "cpus": os.cpu_count(), "loadavg_start": load}
    print(f"LiteMedSAM benchmark: torch {torch.__version__}, {args.threads} threads, "
          f"{os.cpu_count()} CPUs, load average at start {load}")
    results = {"info": info}
    if not args.skip_encoder:
        results["encoder"] = bench_encoder(args.repeats)
    if not args.skip_3d:
        results["3d"] = bench_3d(args.depth, args.repeats_3d)
    if not args.skip_cold:
        results["2d_cold_warm"] = bench_cold_warm(args.repeats, args.threads)
    info["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
