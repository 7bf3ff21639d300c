"""Speed of the classical methods (issue 3), as medians of repeated warm runs.

Run:  .venv/bin/python benchmarks/bench_methods.py [--repeats 9] [--json out.json]

Targets (paper numbers are from a 5 GHz laptop CPU; ours from whatever runs this):
* PET, 264 x 200 x 200 uint8, 1 box, threshold + forcing: < 0.15 s (paper 0.14 s per case);
  6 boxes: < 0.5 s.
* k-means, 2304 x 2304 grayscale microscopy with 137 boxes: < 1.6 s (paper 1.6 s);
  peak memory reported (tracemalloc: numpy's allocations are traced).
* Shape-based interpolation, 512 x 512 slice pair, 2 intermediate slices: < 20 ms.
All data are synthetic (phantoms generated here), not challenge cases.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from classicseg.methods.interpolation import fill_slices, signed_distance  # noqa: E402
from classicseg.methods.microscopy import segment_kmeans  # noqa: E402
from classicseg.methods.pet import segment_pet  # noqa: E402


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up: imports, caches, first-touch page faults
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def peak_memory(fn) -> float:
    """Peak traced allocation of one call, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


# --------------------------------------------------------------------------- phantoms (synthetic)

def pet_phantom(n_boxes: int, rng, radius: int = 6):
    """264 x 200 x 200 uint8 PET-like volume: noisy body + bright spherical lesions."""
    d, h, w = 264, 200, 200
    vol = rng.normal(40, 10, (d, h, w)).clip(0, 255).astype(np.uint8)
    zz, yy, xx = np.ogrid[:d, :h, :w]
    boxes = []
    for i in range(n_boxes):
        c = np.array([40 + 35 * i, 60 + 15 * (i % 5), 70 + 12 * (i % 4)])
        r = radius + 2 * (i % 3)
        ball = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        vol[ball] = rng.normal(190, 15, int(ball.sum())).clip(0, 255).astype(np.uint8)
        m = 2 * r  # generous box: the lesion fills ~7 % of it, so forcing dilates
        lo, hi = np.maximum(c - m, 0), np.minimum(c + m, [d - 1, h - 1, w - 1])
        boxes.append([lo[2], lo[1], lo[0], hi[2], hi[1], hi[0]])
    return vol, np.array(boxes)


def microscopy_phantom(n_boxes: int, rng, size: int = 2304):
    """size x size uint8 grayscale image with n_boxes bright cells, one box each."""
    img = rng.normal(30, 6, (size, size)).clip(0, 255).astype(np.uint8)
    boxes = []
    grid = int(np.ceil(np.sqrt(n_boxes)))
    step = size // grid
    for i in range(n_boxes):
        cy, cx = (i // grid) * step + step // 2, (i % grid) * step + step // 2
        ry, rx = rng.integers(8, 40, 2)
        y0, y1, x0, x1 = cy - ry, cy + ry, cx - rx, cx + rx
        yy, xx = np.ogrid[y0:y1, x0:x1]
        cell = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        patch = img[y0:y1, x0:x1]
        patch[cell] = rng.normal(170, 20, int(cell.sum())).clip(0, 255).astype(np.uint8)
        pad = rng.integers(3, 10)
        boxes.append([max(x0 - pad, 0), max(y0 - pad, 0),
                      min(x1 + pad, size - 1), min(y1 + pad, size - 1)])
    return np.repeat(img[..., None], 3, axis=2), np.array(boxes)


def slice_pair(radius_a: int, radius_b: int, size: int = 512):
    yy, xx = np.ogrid[:size, :size]
    a = (yy - 250) ** 2 + (xx - 260) ** 2 <= radius_a ** 2
    b = (yy - 262) ** 2 + ((xx - 245) / 1.3) ** 2 <= radius_b ** 2
    return a, b


# --------------------------------------------------------------------------- main

def run(repeats: int = 9) -> dict:
    rng = np.random.default_rng(0)
    rows = []

    def add(name, seconds, target=None, **extra):
        rows.append({"benchmark": name, "median_s": seconds, "target_s": target, **extra})
        flag = "" if target is None else ("  OK" if seconds < target else "  SLOWER THAN TARGET")
        more = "".join(f"  {k}={v}" for k, v in extra.items())
        print(f"{name:<58s} {seconds * 1000:9.1f} ms{flag}{more}", flush=True)

    for n in (1, 6):
        vol, boxes = pet_phantom(n, rng)
        res = segment_pet(vol, boxes)
        forced = sum("dilated" in b.extra["forcing"] or "eroded" in b.extra["forcing"]
                     for b in res.boxes)
        med, _ = median_time(lambda: segment_pet(vol, boxes), repeats)
        add(f"PET 264x200x200, {n} box(es), GHT + forcing", med, 0.15 if n == 1 else 0.5,
            forced=f"{forced}/{n}")
    vol, boxes = pet_phantom(1, rng, radius=20)  # a large lesion: 80^3-voxel box
    med, _ = median_time(lambda: segment_pet(vol, boxes), repeats)
    add("PET 264x200x200, 1 box of 80^3 voxels, GHT + forcing", med, 0.15)
    # worst case: one box covering the whole volume (10.6 M voxels; the seed grows to 20 %)
    whole = np.array([[0, 0, 0, 199, 199, 263]])
    med, _ = median_time(lambda: segment_pet(vol, whole), max(1, repeats // 3))
    add("PET 264x200x200, 1 box = whole volume (stress, no target)", med)

    img, boxes = microscopy_phantom(137, rng)
    for backend in ("exact", "opencv"):
        med, _ = median_time(lambda: segment_kmeans(img, boxes, backend=backend),
                             max(1, repeats // 2))
        mem = peak_memory(lambda: segment_kmeans(img, boxes, backend=backend))
        add(f"k-means 2304x2304, 137 boxes, backend={backend}", med, 1.6, peak_MiB=round(mem, 1))

    a, b = slice_pair(60, 40)  # objects ~120 px: a typical CT/MR box crop
    med, _ = median_time(lambda: fill_slices({0: a, 3: b}, 0, 3), repeats * 3)
    add("shape interpolation 512x512, 2 slices, on the crop", med, 0.020)

    def full_slice():  # the same without cropping, for the ratio
        sa, sb = signed_distance(a), signed_distance(b)
        return [2 * sa + sb > 0, sa + 2 * sb > 0]

    med_full, _ = median_time(full_slice, repeats * 3)
    add("shape interpolation 512x512, 2 slices, whole slice", med_full,
        ratio=f"{med_full / med:.1f}x")
    a, b = slice_pair(220, 160)
    med, _ = median_time(lambda: fill_slices({0: a, 3: b}, 0, 3), repeats * 3)
    add("shape interpolation 512x512, 2 slices, ~440 px objects (stress)", med)

    return {"python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "numpy": np.__version__, "repeats": repeats, "rows": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    out = run(args.repeats)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
