"""Benchmark ``classicseg evaluate`` on synthetic 3D cases (not a test; never asserts time).

Writes N synthetic (labelled synthetic) 3D ground-truth/prediction pairs of shape (64, 256, 256)
with 3 ellipsoid labels each, then times, side by side in one run:

* ``evaluate``: :func:`classicseg.evaluation.evaluate.evaluate_directories` (loading + scoring),
* ``score_case``: scoring only, arrays in memory,
* ``official-style``: scoring as the official script does it -- full-volume ``gt == k`` masks per
  label, bounding box by max projections, sorted surfels -- on the same arrays (same numbers).

Usage::

    .venv/bin/python benchmarks/bench_metrics.py [--cases 20] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from classicseg.evaluation.evaluate import evaluate_directories
from classicseg.io import atomic_savez, save_prediction
from classicseg.metrics import _dice_from_masks, _geometry, _surfels, score_case

SHAPE = (64, 256, 256)
SPACING = (0.8, 0.8, 2.5)  # challenge (x, y, z)


def synthetic_case(seed: int):
    """Three ellipsoids (synthetic) and a prediction shifted by 1-2 voxels with ragged edges."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    gts = np.zeros(SHAPE, np.uint8)
    for k in range(1, 4):
        c = rng.uniform([16, 60, 60], [48, 196, 196])
        r = rng.uniform([6, 15, 15], [14, 40, 40])
        inside = ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2
        gts[inside <= 1] = k
    segs = np.roll(gts, (int(rng.integers(0, 2)), int(rng.integers(1, 3))), axis=(0, 2))
    segs = ndimage.binary_erosion(segs > 0, iterations=1) * segs  # ragged edges
    return gts, segs.astype(np.uint16)


def _bbox_by_projections(mask):
    """Bounding box as SurfaceDice.py finds it: one max projection per axis, whole volume."""
    box = []
    for ax in range(mask.ndim):
        idx = np.nonzero(np.amax(mask, axis=tuple(a for a in range(mask.ndim) if a != ax)))[0]
        box.append(slice(int(idx.min()), int(idx.max()) + 1))
    return tuple(box)


def official_style(gts, segs, spacing, tolerance=2.0):
    """compute_metrics.py + SurfaceDice.py's procedure: full-volume ``gt == k`` masks per label
    (twice:
    DSC, then NSD), bounding box by projections, surfels sorted with ``sorted(zip(...))``."""
    mode, sampling = _geometry(3, spacing, "challenge")
    labels = range(1, int(gts.max()) + 1)
    dsc = [_dice_from_masks(gts == k, segs == k) for k in labels]
    if not np.mean(dsc) > 0.2:
        return float(np.mean(dsc)), 0.0
    nsd = []
    for k in labels:
        g, s = gts == k, segs == k
        box = _bbox_by_projections(g | s)
        areas_g, dist_g, areas_s, dist_s = _surfels(g[box], s[box], mode, sampling)
        dist_g, areas_g = np.array(sorted(zip(dist_g, areas_g))).T
        dist_s, areas_s = np.array(sorted(zip(dist_s, areas_s))).T
        overlap = areas_g[dist_g <= tolerance].sum() + areas_s[dist_s <= tolerance].sum()
        nsd.append(overlap / (areas_g.sum() + areas_s.sum()))
    return float(np.mean(dsc)), float(np.mean(nsd))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        gt_dir, pred_dir = Path(tmp) / "gts", Path(tmp) / "preds"
        arrays = []
        for i in range(args.cases):
            gts, segs = synthetic_case(i)
            name = f"3DBox_CT_{i:04d}.npz"
            atomic_savez(gt_dir / name, gts=gts, spacing=np.asarray(SPACING))
            save_prediction(pred_dir / name, segs)
            arrays.append((gts, segs))
        print(f"{args.cases} synthetic 3D cases {SHAPE}, 3 labels each, spacing (x,y,z)={SPACING}")

        timings = {"evaluate (load+score)": [], "score_case (in memory)": [], "official-style": []}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rep = evaluate_directories(pred_dir, gt_dir, progress=False)
            timings["evaluate (load+score)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ours = [score_case(g, s, spacing=SPACING, nsd_when_gated=False) for g, s in arrays]
            timings["score_case (in memory)"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = [official_style(g, s, SPACING) for g, s in arrays]
            timings["official-style"].append(time.perf_counter() - t0)
        for o, (d, n) in zip(ours, ref):  # same numbers, so the comparison is fair
            assert abs(o["dsc"] - d) < 1e-12 and abs(o["nsd"] - n) < 1e-9
        assert rep.n_scored == args.cases

        base = statistics.median(timings["official-style"])
        print(f"{'':26s} {'median s':>9s} {'s/case':>8s} {'vs official-style':>18s}  "
              f"(median of {args.repeats})")
        rows = []
        for k, v in timings.items():
            m = statistics.median(v)
            print(f"{k:26s} {m:9.2f} {m / args.cases:8.3f} {base / m:17.2f}x")
            rows.append({"benchmark": k, "median_s": m, "s_per_case": m / args.cases,
                         "speedup_vs_official_style": base / m})
        dsc, nsd = np.mean([r.dsc for r in rep.rows]), np.mean([r.nsd for r in rep.rows])
        print(f"mean DSC {dsc:.4f}  mean NSD {nsd:.4f}")
    if args.json:
        args.json.write_text(json.dumps({
            "python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
            "cases": args.cases, "shape": list(SHAPE), "repeats": args.repeats,
            "mean_dsc": float(dsc), "mean_nsd": float(nsd), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
