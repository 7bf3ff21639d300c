"""The classical toolbox benchmark: every method x every 2D case -> DSC, NSD, time per box.

Run:  .venv/bin/python benchmarks/bench_toolbox.py [--quick] [--json out.json]
      [--methods litemedsam paper grabcut ...] [--real-limit N] [--no-real] [--out FILE.md]

Every method the router registers (``router.METHODS``: LiteMedSAM, the classical methods and
the toolbox; MobileUNet only where weights for the modality are installed, and those are
phantom-trained) plus ``paper`` (the paper's router) runs on every bundled **2D** case of
``data_samples/`` and on the real development set ``$CLASSICSEG_REALDATA/dev`` (default
``../shared/realdata/dev`` beside the repository) when it is present. The runs go through
:func:`classicseg.analysis.robustness.box_robustness` with the boxes as given (jitter 0), so
every method is scored by the same code (challenge DSC / NSD; a failed run scores 0) and
LiteMedSAM encodes each image once (:class:`~classicseg.analysis.robustness.
EmbeddingCacheModels`; the encoder time is billed to every run that used it).

Writes ``reports/toolbox.md`` (per modality x method mean DSC, the best classical method per
modality beside LiteMedSAM, every case x method), ``reports/toolbox_heatmap.png`` (method x
modality, mean DSC, one panel for synthetic and one for real cases) and
``reports/toolbox_pareto.png`` (seconds per box, log scale, vs mean DSC, one point per method).
The figures show numbers only: no image of the research-only real set is ever drawn or copied.
``--quick``: one bundled case per modality and one real case per dataset, the first 2 boxes of
each. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install

ENV = "CLASSICSEG_REALDATA"
DEFAULT_REALDATA = REPO.parent / "shared" / "realdata"
#: ``--quick``: boxes kept per case (the first ones)
QUICK_MAX_BOXES = 2
#: pipelines, not classical methods: never "the best classical method"
MODEL_METHODS = ("litemedsam", "paper", "mobileunet")
#: where the paper's pipeline uses LiteMedSAM (router ``_MEDSAM_MODALITIES``)
PAPER_LITEMEDSAM = ("US", "XRay", "Endoscopy", "Fundus")


def default_methods() -> list[str]:
    """LiteMedSAM, the paper pipeline and every other method the router registers."""
    from classicseg.pipeline.router import METHODS

    return ["litemedsam", "paper"] + [m for m in METHODS if m != "litemedsam"]


def realdata_dev(arg: str | None = None) -> Path:
    """``$CLASSICSEG_REALDATA/dev`` (default ``<repo>/../shared/realdata/dev``)."""
    return Path(arg or os.environ.get(ENV) or DEFAULT_REALDATA) / "dev"


def dataset_of(name: str) -> str:
    """``2DBox_US_busi-benign012`` -> ``US/busi``; ``..._synthetic-polyp`` -> ``.../synthetic``."""
    parts = name.split("_", 2)
    source = parts[2] if len(parts) > 2 else ""
    return f"{parts[1]}/{source.split('-')[0]}"


def _limit(cases, key, n):
    if n is None:
        return cases
    seen: dict = defaultdict(int)
    out = []
    for c in cases:
        if seen[key(c)] < n:
            seen[key(c)] += 1
            out.append(c)
    return out


def load_cases(data_dir: Path, dev: Path | None, *, quick: bool, real_limit: int | None,
               max_boxes: int | None):
    """Bundled 2D cases (``meta["group"]`` synthetic / real) and the real dev cases (real).

    HC18 cases are bundled *and* in the dev set: counted once (the bundled copy)."""
    from classicseg.analysis.studies import subset_case
    from classicseg.io import iter_cases

    bundled = [c for c in iter_cases(data_dir) if not c.is_3d and c.gts is not None]
    if quick:  # one per modality, a synthetic one where there is one (real: the dev set)
        bundled = sorted(bundled, key=lambda c: (not c.synthetic, c.name))
        bundled = sorted(_limit(bundled, lambda c: c.modality, 1), key=lambda c: c.name)
    for c in bundled:
        c.meta["source"] = "data_samples"
    real = []
    if dev is not None and dev.is_dir():
        known = {c.name for c in bundled}
        real = [c for c in iter_cases(dev) if c.gts is not None and c.name not in known]
        real = _limit(real, lambda c: dataset_of(c.name), real_limit)
        for c in real:
            c.meta["source"] = "realdata/dev"
    cases = []
    for c in bundled + real:
        if max_boxes is not None and c.n_boxes > max_boxes:
            c = subset_case(c, range(max_boxes))  # ground truth relabelled to match
        c.meta["group"] = "synthetic" if c.synthetic else "real"
        cases.append(c)
    return cases


def methods_for(case, methods) -> list[str]:
    """The methods of ``methods`` to run on ``case``: MobileUNet only with weights for the
    modality (applicability of the others is decided by the router in ``box_robustness``)."""
    from classicseg.pipeline.router import mobileunet_weights_available

    return [m for m in methods
            if m != "mobileunet" or mobileunet_weights_available(case.modality)]


def run(cases, methods, *, progress: bool = True) -> list[dict]:
    """One row per case x method: DSC, NSD, seconds, seconds per box, route, error."""
    from classicseg.analysis.robustness import EmbeddingCacheModels, box_robustness

    models = EmbeddingCacheModels(max_entries=8)
    if any(m in ("litemedsam", "paper") for m in methods):
        models.litemedsam()  # load once, outside every timed call
    rows = []
    for i, case in enumerate(cases):
        t0 = time.perf_counter()
        got = box_robustness([case], methods_for(case, methods),
                             perturbations={"jitter": (0,)}, models=models)
        for r in got:
            rows.append({"group": case.meta["group"], "source": case.meta["source"],
                         "dataset": dataset_of(case.name), "case": case.name,
                         "modality": case.modality, "method": r.method, "route": r.route,
                         "n_boxes": case.n_boxes, "dsc": r.dsc, "nsd": r.nsd,
                         "seconds": r.seconds, "seconds_per_box": r.seconds / case.n_boxes,
                         "error": r.error})
        if progress:
            print(f"bench_toolbox: [{i + 1}/{len(cases)}] {case.name} ({case.n_boxes} boxes, "
                  f"{len(got)} methods) {time.perf_counter() - t0:.1f} s", flush=True)
    return rows


def _mean(values) -> float:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


def summarize(rows) -> list[dict]:
    """Mean DSC / NSD / seconds per box per group, modality and method (over cases)."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[r["group"], r["modality"], r["method"]].append(r)
    return [{"group": g, "modality": mod, "method": m, "n": len(rs),
             "dsc": _mean(r["dsc"] for r in rs), "nsd": _mean(r["nsd"] for r in rs),
             "seconds_per_box": _mean(r["seconds_per_box"] for r in rs),
             "failed": sum(r["error"] is not None for r in rs)}
            for (g, mod, m), rs in groups.items()]


def best_classical(summary) -> list[dict]:
    """Per group and modality: the classical method with the highest mean DSC, beside
    LiteMedSAM and the paper pipeline."""
    by: dict[tuple, dict] = defaultdict(dict)
    for s in summary:
        by[s["group"], s["modality"]][s["method"]] = s
    out = []
    for (g, mod), ms in by.items():
        classical = [s for m, s in ms.items()
                     if m not in MODEL_METHODS and not math.isnan(s["dsc"])]
        if not classical:
            continue
        best = max(classical, key=lambda s: s["dsc"])
        lite, paper = ms.get("litemedsam", {}), ms.get("paper", {})
        out.append({"group": g, "modality": mod, "cases": best["n"],
                    "best_classical": best["method"],
                    "dsc": best["dsc"], "seconds_per_box": best["seconds_per_box"],
                    "litemedsam_dsc": lite.get("dsc", math.nan),
                    "litemedsam_seconds_per_box": lite.get("seconds_per_box", math.nan),
                    "paper_dsc": paper.get("dsc", math.nan),
                    "beats_litemedsam": best["dsc"] > lite.get("dsc", math.inf),
                    "paper_uses_litemedsam": mod in PAPER_LITEMEDSAM})
    return sorted(out, key=lambda r: (r["group"] != "real", r["modality"]))


def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) >= 10 ** -digits or v == 0 else f"{v:.1e}"
    return str(v)


def render(rows, summary, best, cases, methods, *, seconds, command, dev) -> str:
    from classicseg.evaluation.report import markdown_table

    n_syn = sum(c.meta["group"] == "synthetic" for c in cases)
    bundled_real = any(c.meta["group"] == "real" and c.meta["source"] == "data_samples"
                       for c in cases)
    lines = [
        "# Classical toolbox vs LiteMedSAM", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; {len(cases)} 2D cases ({n_syn} "
        f"synthetic, {len(cases) - n_syn} real), {len(methods)} methods, {len(rows)} runs in "
        f"{seconds:.0f} s on "
        f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
        " CPU cores. Command:", "", "```", command, "```", "",
        "Boxes as given (the tight challenge boxes); challenge DSC / NSD; a failed run scores "
        "0. Seconds per box: warm wall time of the case / boxes, LiteMedSAM's encoder pass "
        "included in every run that used it. `paper` is the paper's router (per modality its "
        "chosen method); `mobileunet` runs phantom-trained weights, only where they exist.", "",
        "**Synthetic** cases are phantoms: their numbers show how a method works, not how well "
        "it segments patients. **Real** cases: "
        + ("the real cases bundled in `data_samples/` (HC18 ultrasound heads, CC BY 4.0; "
           "microscopy nuclei; see data_samples/README.md), and " if bundled_real else "")
        + (f"the research-only development set `{dev}` (PH2, Drishti-GS1, Shenzhen / "
           "Montgomery CXR, BUSI, HC18, DDSM; licences in its README; never copied, never "
           "drawn)." if dev else "no real development set (absent here)."), "",
        "## Best classical method per modality", "",
        markdown_table(["group", "modality", "cases", "best classical", "DSC", "s / box",
                        "LiteMedSAM DSC", "LiteMedSAM s / box", "paper DSC", "beats LiteMedSAM",
                        "paper uses LiteMedSAM"],
                       [[b["group"], b["modality"], str(b["cases"]), b["best_classical"],
                         _fmt(b["dsc"]), _fmt(b["seconds_per_box"]), _fmt(b["litemedsam_dsc"]),
                         _fmt(b["litemedsam_seconds_per_box"]), _fmt(b["paper_dsc"]),
                         _fmt(b["beats_litemedsam"]), _fmt(b["paper_uses_litemedsam"])]
                        for b in best]), "",
        "![method x modality, mean DSC](toolbox_heatmap.png)", "",
        "![seconds per box vs mean DSC](toolbox_pareto.png)", "",
    ]
    ran = list(dict.fromkeys(r["method"] for r in rows))
    for group in ("synthetic", "real"):
        mine = [s for s in summary if s["group"] == group]
        if not mine:
            continue
        mods = sorted({s["modality"] for s in mine})
        cell = {(s["method"], s["modality"]): s for s in mine}
        for metric, what in (("dsc", "mean DSC"), ("seconds_per_box", "mean seconds per box")):
            lines += [f"## {group.capitalize()} cases: {what}", "",
                      markdown_table(["method", *mods],
                                     [[m, *(_fmt(cell[m, mod][metric]) if (m, mod) in cell
                                            else "n/a" for mod in mods)] for m in ran]), ""]
    lines += ["## Cases", "",
              markdown_table(["case", "group", "source", "boxes"],
                             [[f"`{c.name}`", c.meta["group"], c.meta["source"],
                               str(c.n_boxes) + (" (the first)" if c.meta.get("subset") is not None
                                                 else "")] for c in cases]), "",
              "<details><summary>every case x method (DSC, NSD, seconds per box)</summary>", "",
              markdown_table(["case", "method", "ran", "DSC", "NSD", "s / box"],
                             [[f"`{r['case']}`", r["method"], r["route"] or "failed",
                               _fmt(r["dsc"]), _fmt(r["nsd"]), _fmt(r["seconds_per_box"])]
                              for r in rows]), "", "</details>", ""]
    failed = [r for r in rows if r["error"] is not None]
    if failed:
        lines += ["## Failed runs (scored 0)", ""]
        lines += [f"- {r['method']} on `{r['case']}`: {r['error']}" for r in failed[:30]]
        lines += ([f"- ... and {len(failed) - 30} more"] if len(failed) > 30 else []) + [""]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"1 bundled case per modality, 1 real case per dataset, the first "
                         f"{QUICK_MAX_BOXES} boxes of each")
    ap.add_argument("--data", type=Path, default=REPO / "data_samples",
                    help="bundled cases (default data_samples/)")
    ap.add_argument("--realdata", help=f"real data folder with dev/ (default ${ENV} or "
                                       "../shared/realdata)")
    ap.add_argument("--no-real", action="store_true", help="skip the real development set")
    ap.add_argument("--real-limit", type=int, default=None,
                    help="real dev cases per dataset (default 1 quick, all full)")
    ap.add_argument("--max-boxes", type=int, default=None,
                    help=f"keep the first N boxes of each case (default {QUICK_MAX_BOXES} quick, "
                         "all full)")
    ap.add_argument("--methods", nargs="+", help="default: litemedsam, paper and every method "
                                                 "of the router")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "toolbox.md",
                    help="the markdown report; the figures go beside it (_heatmap / _pareto.png)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    for name in ("real_limit", "max_boxes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")

    from classicseg import viz

    dev = None if args.no_real else realdata_dev(args.realdata)
    if dev is not None and not dev.is_dir():
        print(f"bench_toolbox: no real development set at {dev} (set {ENV}); bundled cases only",
              flush=True)
        dev = None
    cases = load_cases(args.data, dev, quick=args.quick,
                       real_limit=args.real_limit or (1 if args.quick else None),
                       max_boxes=args.max_boxes or (QUICK_MAX_BOXES if args.quick else None))
    methods = args.methods or default_methods()
    t0 = time.perf_counter()
    rows = run(cases, methods)
    seconds = time.perf_counter() - t0
    summary = summarize(rows)
    best = best_classical(summary)
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/bench_toolbox.py",
                                                 *(argv if argv is not None else sys.argv[1:])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shown_dev = None
    if dev is not None:
        shown_dev = f"${ENV}/dev" if os.environ.get(ENV) else "../shared/realdata/dev"
    args.out.write_text(render(rows, summary, best, cases, methods, seconds=seconds,
                               command=command, dev=shown_dev))
    stem = args.out.with_suffix("")
    fig = viz.method_heatmap(summary, panel="group", title="mean DSC, boxes as given")
    fig.savefig(f"{stem}_heatmap.png", dpi=100, bbox_inches="tight")
    fig = viz.pareto_figure(rows, panel="group", title="seconds per box vs mean DSC")
    fig.savefig(f"{stem}_pareto.png", dpi=100, bbox_inches="tight")
    print(args.out.read_text())
    if args.json:
        clean = [[{k: _clean(v) for k, v in r.items()} for r in t] for t in (best, summary, rows)]
        args.json.write_text(json.dumps({"cases": len(cases), "runs": len(rows),
                                         "seconds": seconds, "real_dev": dev is not None,
                                         "report": _shown(args.out), "rows": clean[0],
                                         "summary": clean[1], "per_case": clean[2]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
