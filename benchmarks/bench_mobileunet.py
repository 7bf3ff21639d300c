"""Benchmark MobileUNet against LiteMedSAM on the same dermoscopy case (not a test; never asserts).

The paper (Table 8): dermoscopy, MobileUNet 0.31 s vs LiteMedSAM 0.71 s per image, on the
organisers' CPU. Here, side by side in one run, on a synthetic dermoscopy phantom (labelled
synthetic), warm (models loaded once, one warm-up call), median of ``--repeats`` calls:

* ``mobileunet (shipped)``  -- the shipped width-reduced model, with post-processing;
* ``mobileunet (width 1)``  -- the reference-size network (13.3 M parameters, untrained
  weights: its *time* is what matters here, its masks are meaningless);
* ``litemedsam``            -- the genuine LiteMedSAM (one image embedding + one decode per box).

Reports seconds per image and per box, the ratio to LiteMedSAM, and each method's Dice on
the phantom. Thread count is fixed (default 1) so numbers are comparable between runs.

Usage::

    .venv/bin/python benchmarks/bench_mobileunet.py [--repeats 5] [--threads 1] [--seed 10000]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from classicseg import samples
from classicseg.metrics import score_case
from classicseg.models.mobileunet import MobileUNet, MobileUNetSegmenter


def dermoscopy_phantom(seed: int):
    names = [s.name for s in samples.list() if s.modality == "Dermoscopy" and s.synthetic]
    if not names:
        raise SystemExit("no synthetic dermoscopy sample in classicseg.samples")
    return samples.load(names[0], seed=seed)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and process-CPU seconds of ``repeats`` warm calls (CPU time is the fairer
    number on a shared machine: other processes stretch wall time, not our CPU time)."""
    out = fn()  # warm-up (allocations, lazy init)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=10_000,
                    help="phantom seed (10000+ = held out from training)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    case = dermoscopy_phantom(args.seed)
    n = case.n_boxes
    print(f"case {case.name} (synthetic phantom, seed {args.seed}): image {case.image.shape}, "
          f"{n} box(es); torch {torch.__version__}, {args.threads} thread(s), "
          f"median of {args.repeats} warm runs")

    runs = {}
    shipped = MobileUNetSegmenter.load("Dermoscopy")
    runs[f"mobileunet (shipped, width {shipped.model.width:g})"] = \
        lambda: shipped.segment(case.image, case.boxes)
    full = MobileUNetSegmenter(MobileUNet(1.0).eval(), card={"modality": "Dermoscopy"})
    runs["mobileunet (width 1, untrained)"] = lambda: full.segment(case.image, case.boxes)
    try:
        from classicseg.models.litemedsam import LiteMedSAM
        lite = LiteMedSAM.load()
        runs["litemedsam"] = lambda: lite.segment(case.image, case.boxes)
    except Exception as e:  # noqa: BLE001 -- report MobileUNet alone, say why
        print(f"LiteMedSAM unavailable ({type(e).__name__}: {e}); reporting MobileUNet alone")

    rows = {}
    for name, fn in runs.items():
        sec, cpu, res = timed(fn, args.repeats)
        rows[name] = (sec, cpu, float(score_case(case.gts, res.segs)["dsc"]))
    ref = rows.get("litemedsam")
    print(f"{'method':34s} {'wall s/img':>10s} {'wall s/box':>10s} {'cpu s/box':>9s} "
          f"{'wall vs Lite':>12s} {'cpu vs Lite':>11s} {'Dice':>7s}")
    table = []
    for name, (sec, cpu, dsc) in rows.items():
        r_wall = f"{sec / ref[0]:.3f}x" if ref else "-"
        r_cpu = f"{cpu / ref[1]:.3f}x" if ref else "-"
        note = "  (untrained: time only)" if "untrained" in name else ""
        print(f"{name:34s} {sec:10.4f} {sec / max(n, 1):10.4f} {cpu / max(n, 1):9.4f} "
              f"{r_wall:>12s} {r_cpu:>11s} {dsc:7.4f}{note}")
        table.append({"method": name, "median_wall_s_per_image": sec,
                      "median_wall_s_per_box": sec / max(n, 1),
                      "median_cpu_s_per_box": cpu / max(n, 1),
                      "wall_vs_litemedsam": sec / ref[0] if ref else None,
                      "cpu_vs_litemedsam": cpu / ref[1] if ref else None, "dice": dsc})
    paper = "MobileUNet 0.31 s vs LiteMedSAM 0.71 s per image (0.44x)"
    print(f"paper (Table 8, organisers' CPU): {paper}")
    if args.json:
        args.json.write_text(json.dumps({
            "case": case.name, "image_shape": list(case.image.shape), "boxes": n,
            "torch": torch.__version__, "threads": args.threads, "repeats": args.repeats,
            "rows": table, "paper": f"Table 8: {paper}"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
