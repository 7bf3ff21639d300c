"""Real-data development benchmark: every route the router could take, on real expert masks.

Runs, on the real development set ``$CLASSICSEG_REALDATA/dev`` (default ``../shared/realdata``
beside the repository; research-only images that are never shipped -- the benchmark skips with
a message when the folder is absent, as it is for users and on Binder), plus the real cases
bundled in ``data_samples/`` (microscopy nuclei, MNI ventricles, HC18 heads):

* ``baseline``              LiteMedSAM everywhere, every slice, no post-processing;
* ``paper``                 the package's default pipeline (today's router);
* ``paper (0.1 router)``    the router before issue 14: the shipped phantom-trained MobileUNet
                            for dermoscopy and mammography;
* every alternative the router could pick for the modality: LiteMedSAM with each
  post-processing mode (``box``, ``lcc``, ``full``), the shipped phantom-trained MobileUNet, a
  MobileUNet trained on real images (``--mobileunet-weights DIR``), k-means / the two-channel
  threshold on microscopy.

Per case and method: DSC, NSD (challenge definitions), seconds; per modality: means, seconds
per box and the router's choice. LiteMedSAM runs once per case (post-processing variants are
applied to its raw masks and billed the LiteMedSAM time plus their own). Figures: one PNG per
modality, DSC distribution per method (``--figures DIR``). Never asserts; writes ``--json``.

Usage::

    .venv/bin/python benchmarks/real_dev.py [--data DIR] [--mobileunet-weights DIR]
        [--limit N] [--modality M ...] [--figures reports/real_dev]
        [--markdown reports/real_dev.md] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDATA = REPO.parent / "shared" / "realdata"
ENV = "CLASSICSEG_REALDATA"
LITEMEDSAM_PP = ("none", "box", "lcc", "full")
SPECIALIST = ("Dermoscopy", "Mammography")


def realdata_dir(arg: str | None = None) -> Path:
    return Path(arg or os.environ.get(ENV) or DEFAULT_REALDATA)


def _dataset(name: str) -> str:
    """``2DBox_US_busi-benign012`` -> ``US/busi``."""
    parts = name.split("_", 2)
    source = parts[2] if len(parts) > 2 else ""
    return f"{parts[1]}/{source.split('-')[0]}"


def load_cases(dev: Path, limit: int | None):
    from classicseg.io import iter_cases

    cases = [c for c in iter_cases(dev) if c.gts is not None]
    bundled = [c for c in iter_cases(REPO / "data_samples")
               if not c.synthetic and c.gts is not None]
    known = {c.name for c in cases}
    cases += [c for c in bundled if c.name not in known]   # HC18 is in both: count it once
    if limit:
        by = defaultdict(list)
        for c in cases:
            by[_dataset(c.name)].append(c)
        cases = [c for group in by.values() for c in group[:limit]]
    return cases


def _score(case, segs) -> tuple[float, float]:
    from classicseg.metrics import score_case

    s = score_case(case.gts, segs, name=case.name, spacing=case.spacing)
    return float(s["dsc"]), float(s["nsd"])


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_case(case, models, real_unet) -> tuple[dict, dict]:
    """{method: (segs, seconds)} and {route label: method} for one case."""
    from classicseg.methods.postprocess import postprocessed
    from classicseg.pipeline.router import route

    out = {}
    kw = {"s": 1} if case.is_3d else {}
    raw, t_raw = _timed(lambda: models["litemedsam"].segment(case.image, case.boxes,
                                                               postprocess="none", **kw))
    for pp in LITEMEDSAM_PP:
        res, t = (raw, 0.0) if pp == "none" else _timed(
            lambda: postprocessed(raw, case.boxes, mode=pp))
        out[f"litemedsam+{pp}"] = (res.segs, t_raw + t)
    if case.is_3d:   # the paper's sparse walk (s = 3) is its own computation
        res, t = _timed(lambda: models["litemedsam"].segment(case.image, case.boxes, s=3,
                                                              postprocess="box"))
        out["litemedsam s=3+box"] = (res.segs, t)
    mod = case.modality
    if mod in SPECIALIST and models.get(f"unet:{mod}") is not None:
        res, t = _timed(lambda: models[f"unet:{mod}"].segment(case.image, case.boxes))
        out["mobileunet (phantom-trained)"] = (res.segs, t)
    if mod in SPECIALIST and real_unet.get(mod) is not None:
        res, t = _timed(lambda: real_unet[mod].segment(case.image, case.boxes))
        out["mobileunet (real-trained)"] = (res.segs, t)
    if mod == "Microscopy" and not case.is_3d:
        from classicseg.methods.microscopy import segment_kmeans, segment_two_channel

        for name, fn in (("kmeans", segment_kmeans), ("threshold", segment_two_channel)):
            res, t = _timed(lambda: fn(case.image, case.boxes))
            out[name] = (res.segs, t)

    def label(r) -> str:
        if r.method == "litemedsam":
            step = f" s={r.s}" if r.s > 1 else ""
            return f"litemedsam{step}+{r.postprocess}"
        if r.method == "mobileunet":
            return "mobileunet (phantom-trained)"
        return r.method

    routes = {"baseline": "litemedsam+none", "paper": label(route(case))}
    if mod in SPECIALIST:
        routes["paper (0.1 router)"] = label(route(case, mobileunet_available=lambda m: True))
        if real_unet.get(mod) is not None:
            routes["paper + real MobileUNet"] = "mobileunet (real-trained)"
    return out, routes


def summarise(rows: list[dict]) -> list[dict]:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["modality"], r["method"])].append(r)
    out = []
    for (mod, method), rs in sorted(groups.items()):
        boxes = sum(r["n_boxes"] for r in rs)
        out.append({"modality": mod, "method": method, "n": len(rs),
                    "dsc": round(statistics.fmean(r["dsc"] for r in rs), 4),
                    "nsd": round(statistics.fmean(r["nsd"] for r in rs), 4),
                    "s_per_box": round(sum(r["seconds"] for r in rs) / max(boxes, 1), 3),
                    "routes": sorted({r["route"] for r in rs if r["route"]})})
    return out


def figures(rows: list[dict], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    by_mod = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_mod[r["modality"]][r["method"]].append(r["dsc"])
    for mod, methods in sorted(by_mod.items()):
        names = sorted(methods)
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.6))
        ax.boxplot([methods[n] for n in names], showmeans=True)
        for i, n in enumerate(names, 1):
            ax.plot(np.full(len(methods[n]), i) + np.linspace(-0.12, 0.12, len(methods[n])),
                    methods[n], ".", alpha=0.6)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("DSC per case")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{mod}: real cases (research-only data; figure not shipped)", fontsize=9)
        fig.tight_layout()
        path = folder / f"{mod}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(str(path))
    return written


def markdown(summary: list[dict], verdict: list[dict], command: str) -> str:
    lines = ["# Real-data development benchmark", "", f"Command: `{command}`", "",
             "## Default pipeline vs baseline, per modality", "",
             "| modality | n | baseline DSC | paper DSC | Δ DSC (points) | baseline NSD "
             "| paper NSD "
             "| paper route | within 1 point |", "|---|---|---|---|---|---|---|---|---|"]
    for v in verdict:
        ok = "yes" if v["within_1_point"] else "NO"
        lines.append(f"| {v['modality']} | {v['n']} | {v['baseline_dsc']:.4f} "
                     f"| {v['paper_dsc']:.4f} | {v['delta_points']:+.2f} "
                     f"| {v['baseline_nsd']:.4f} | {v['paper_nsd']:.4f} "
                     f"| {', '.join(v['paper_route'])} | {ok} |")
    lines += ["", "## Every method, per modality", "",
              "| modality | method | n | DSC | NSD | s/box |", "|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['modality']} | {r['method']} | {r['n']} | {r['dsc']:.4f} "
                     f"| {r['nsd']:.4f} | {r['s_per_box']:.3f} |")
    return "\n".join(lines) + "\n"


def verdicts(rows: list[dict]) -> list[dict]:
    by = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["route"] in ("baseline", "paper"):
            by[r["modality"]][r["route"]].append(r)
        for extra in r.get("also", ()):
            by[r["modality"]][extra].append(r)
    out = []
    for mod, d in sorted(by.items()):
        b, p = d["baseline"], d["paper"]
        bd, pd = statistics.fmean(r["dsc"] for r in b), statistics.fmean(r["dsc"] for r in p)
        out.append({"modality": mod, "n": len(b), "baseline_dsc": round(bd, 4),
                    "paper_dsc": round(pd, 4), "delta_points": round(100 * (pd - bd), 2),
                    "baseline_nsd": round(statistics.fmean(r["nsd"] for r in b), 4),
                    "paper_nsd": round(statistics.fmean(r["nsd"] for r in p), 4),
                    "paper_route": sorted({r["method"] for r in p}),
                    "within_1_point": bool(pd - bd >= -0.01)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help=f"realdata folder (default ${ENV} or {DEFAULT_REALDATA})")
    ap.add_argument("--mobileunet-weights", metavar="DIR",
                    default=os.environ.get("CLASSICSEG_REAL_WEIGHTS"),
                    help="folder with MobileUNets trained on real images "
                         "(mobileunet_<modality>.pt + .json)")
    ap.add_argument("--limit", type=int, help="at most N cases per dataset (a quick look)")
    ap.add_argument("--modality", nargs="+", help="only these modalities (e.g. Dermoscopy)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--figures", default=str(REPO / "reports" / "real_dev"))
    ap.add_argument("--markdown", default=str(REPO / "reports" / "real_dev.md"))
    ap.add_argument("--json", help="write the numbers here")
    args = ap.parse_args(argv)

    root = realdata_dir(args.data)
    dev = root / "dev"
    if not (dev / "imgs").is_dir():
        msg = (f"real_dev: skipped -- no real development set at {dev} (research-only data, "
               f"not shipped; set {ENV} to the folder that holds dev/imgs and dev/gts)")
        print(msg)
        if args.json:
            Path(args.json).write_text(json.dumps({"skipped": msg}))
        return 0

    import torch

    from classicseg.models.litemedsam.predictor import LiteMedSAM
    from classicseg.models.mobileunet.segmenter import MobileUNetSegmenter
    from classicseg.pipeline.router import mobileunet_weights_available

    torch.set_num_threads(args.threads)
    models = {"litemedsam": LiteMedSAM.load()}
    for mod in SPECIALIST:
        models[f"unet:{mod}"] = (MobileUNetSegmenter.load(mod)
                                 if mobileunet_weights_available(mod) else None)
    real_unet = {}
    if args.mobileunet_weights:
        for mod in SPECIALIST:
            pt = Path(args.mobileunet_weights) / f"mobileunet_{mod.lower()}.pt"
            real_unet[mod] = MobileUNetSegmenter.load(pt) if pt.is_file() else None
    models["litemedsam"].segment(np.zeros((32, 32, 3), np.uint8), np.array([[4, 4, 27, 27]]))

    cases = load_cases(dev, args.limit)
    if args.modality:
        cases = [c for c in cases if c.modality in args.modality]
    rows = []
    t_all = time.perf_counter()
    for i, case in enumerate(cases, 1):
        results, routes = run_case(case, models, real_unet)
        by_method = defaultdict(list)
        for label, method in routes.items():
            by_method[method].append(label)
        for method, (segs, seconds) in results.items():
            dsc, nsd = _score(case, segs)
            labels = by_method.get(method, [])
            base = {"case": case.name, "modality": case.modality, "dataset": _dataset(case.name),
                    "real_source": "realdata/dev" if (dev / "imgs" / f"{case.name}.npz").is_file()
                    else "data_samples", "method": method, "n_boxes": int(case.n_boxes),
                    "dsc": round(dsc, 4), "nsd": round(nsd, 4), "seconds": round(seconds, 3)}
            rows.append({**base, "route": "baseline" if "baseline" in labels else
                         ("paper" if "paper" in labels else ""),
                         "also": [x for x in labels if x not in ("baseline", "paper")]})
            if "baseline" in labels and "paper" in labels:   # same masks, both rows count
                rows.append({**base, "route": "paper", "also": [], "duplicate": True})
        done = [r for r in rows if r["case"] == case.name and not r.get("duplicate")]
        print(f"[{i}/{len(cases)}] {case.name}: "
              + ", ".join(f"{r['method']} {r['dsc']:.3f}" for r in done), flush=True)
    unique = [r for r in rows if not r.get("duplicate")]
    summary = summarise(unique)
    verdict = verdicts(rows)
    # the same verdict for the alternative routers (0.1 router, + real MobileUNet)
    alternatives = {}
    for label in ("paper (0.1 router)", "paper + real MobileUNet"):
        sel = [r for r in rows if label in r.get("also", ())]
        if sel:
            alternatives[label] = {m: round(statistics.fmean(r["dsc"] for r in sel
                                                             if r["modality"] == m), 4)
                                   for m in sorted({r["modality"] for r in sel})}
    command = "python benchmarks/real_dev.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = markdown(summary, verdict, command.strip())
    if alternatives:
        md += "\n## Other routers on the specialist modalities (mean DSC)\n\n"
        for label, d in alternatives.items():
            md += f"- {label}: " + ", ".join(f"{m} {v:.4f}" for m, v in d.items()) + "\n"
    mean_b = statistics.fmean(v["baseline_dsc"] for v in verdict)
    mean_p = statistics.fmean(v["paper_dsc"] for v in verdict)
    md += (f"\nMean over modalities: baseline {mean_b:.4f}, paper {mean_p:.4f} "
           f"({100 * (mean_p - mean_b):+.2f} points); every modality within 1 point: "
           f"{all(v['within_1_point'] for v in verdict)}.\n")
    Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
    Path(args.markdown).write_text(md)
    figs = figures(unique, Path(args.figures)) if args.figures else []
    print(md)
    data = {"data": str(dev), "cases": len(cases),
            "seconds_total": round(time.perf_counter() - t_all, 1),
            "threads": args.threads, "mean_dsc_baseline": round(mean_b, 4),
            "mean_dsc_paper": round(mean_p, 4),
            "all_within_1_point": all(v["within_1_point"] for v in verdict),
            "rows": verdict, "per_method": summary, "alternatives": alternatives,
            "figures": figs, "per_case": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
