"""LiteMedSAM backends side by side, in one run: encoder time and cold start.

``python benchmarks/bench_backends.py [--repeats 5] [--threads 2]`` prints a markdown table:

* encoder: median of ``--repeats`` calls on one 256 x 256 input (after one untimed call), per
  backend -- torch eager fp32 with ``optimize=False`` (the official computation), torch
  optimised, ONNX Runtime, OpenVINO fp32 and, on a CPU with native bf16, OpenVINO bf16 --
  and the ratio to torch eager;
* cold start: a fresh process per backend doing imports, ``LiteMedSAM.load`` and the first
  ``segment`` call on one 2D box (``data_samples/imgs/2DBox_XRay_synthetic-lungs.npz``, a
  synthetic image), with the phases and whether torch was imported.

Needs the ONNX export cached (``classicseg models prepare``). The machine is shared and
noisy: read the ratios of one run, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CASE = REPO / "data_samples" / "imgs" / "2DBox_XRay_synthetic-lungs.npz"

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
import numpy as np
from classicseg.models.litemedsam import LiteMedSAM
from classicseg.pipeline.threads import set_threads
set_threads(int(sys.argv[3]))
with np.load(sys.argv[2]) as z:
    image, box = z["imgs"], z["boxes"][:1]
t1 = time.perf_counter()
model = LiteMedSAM.load(backend=sys.argv[1])
t2 = time.perf_counter()
model.segment(image, box)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_call": t3 - t2,
                  "backend": f"{model.backend} {model.precision}",
                  "torch_imported": "torch" in sys.modules}))
"""

# label -> LiteMedSAM.load keywords
ENCODERS = {
    "torch eager fp32 (official)": {"backend": "torch", "optimize": False},
    "torch optimised": {"backend": "torch"},
    "onnxruntime fp32": {"backend": "onnx"},
    "openvino fp32": {"backend": "openvino"},
    "openvino bf16": {"backend": "openvino", "precision": "bf16"},
}


def encoder_times(repeats: int, parity: dict | None = None) -> dict[str, float]:
    from classicseg.models.litemedsam import LiteMedSAM
    from classicseg.models.litemedsam.openvino_backend import cpu_supports_bf16

    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    out = {}
    for label, kw in ENCODERS.items():
        if kw.get("precision") == "bf16" and not cpu_supports_bf16():
            continue
        if kw.get("precision") == "bf16":  # the raw bf16 runner: the guard is not timed here
            from classicseg.models.litemedsam.weights import verify_litemedsam_weights

            path, sha = verify_litemedsam_weights()
            model = LiteMedSAM._load_cpu("openvino", path, sha, optimize=True,
                                         precision="bf16")
        else:
            model = LiteMedSAM.load(**kw)
        model.encode(x)  # one untimed call: first-call set-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model.encode(x)
            times.append(time.perf_counter() - t)
        out[label] = statistics.median(times)
        if parity is not None:  # per-box mask Dice against the official outputs
            from classicseg.models.litemedsam.backends import measure_parity

            parity[label] = measure_parity(model)
        del model
    return out


def cold_start(backend: str, threads: int) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, backend, str(CASE), str(threads)],
                          capture_output=True, text=True, check=True)
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process"] = time.perf_counter() - t
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the numbers here (for benchmarks/run_all.py)")
    args = parser.parse_args(argv)
    from classicseg.pipeline.threads import set_threads

    set_threads(args.threads)
    parity: dict = {}
    enc = encoder_times(args.repeats, parity)
    base = enc["torch eager fp32 (official)"]
    rows = []
    print(f"## Encoder, one 256x256 image, {args.threads} threads, median of {args.repeats}\n")
    print("| backend | seconds | speed-up vs torch eager | min / mean per-box Dice vs official |"
          "\n|---|---:|---:|---|")
    for label, sec in enc.items():
        par = parity.get(label, {})
        rows.append({"benchmark": f"encoder: {label}", "median_s": round(sec, 4),
                     "ratio": f"{base / sec:.2f}x", "min_dice": par.get("min_dice"),
                     "mean_dice": round(par["mean_dice"], 4) if par else None})
        lo, mean = par.get("min_dice", float("nan")), par.get("mean_dice", float("nan"))
        print(f"| {label} | {sec:.3f} | {base / sec:.2f}x | {lo:.4f} / {mean:.4f} |")
    print(f"\n## Cold start: fresh process, imports + load + first call on one 2D box "
          f"({CASE.name})\n")
    print("| --backend | ran | import s | load s | first call s | in-process total s | "
          "process wall s | torch imported |\n|---|---|---:|---:|---:|---:|---:|---|")
    for backend in ("torch", "onnx", "openvino", "auto"):
        r = cold_start(backend, args.threads)
        total = r["import"] + r["load"] + r["first_call"]
        print(f"| {backend} | {r['backend']} | {r['import']:.2f} | {r['load']:.2f} | "
              f"{r['first_call']:.2f} | {total:.2f} | {r['process']:.2f} | "
              f"{r['torch_imported']} |")
        rows.append({"benchmark": f"cold start --backend {backend} ({r['backend']})",
                     "median_s": round(total, 3), "import_s": round(r["import"], 3),
                     "load_s": round(r["load"], 3), "first_call_s": round(r["first_call"], 3),
                     "process_s": round(r["process"], 3), "torch_imported": r["torch_imported"],
                     **({"target_s": 1.5} if backend == "auto" else {})})
    if args.json:
        Path(args.json).write_text(json.dumps({"threads": args.threads, "repeats": args.repeats,
                                               "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
