"""Box robustness: how each method's Dice moves when the box is jittered, loosened or tightened.

Run:  .venv/bin/python benchmarks/box_robustness.py [--quick] [--json out.json]
      [--methods litemedsam paper kmeans ...] [--n-repeats 3] [--seed 0]

Runs :func:`classicseg.analysis.robustness.box_robustness` on bundled 2D cases of
``data_samples/`` (a few modalities with ``--quick``, every 2D case otherwise) for LiteMedSAM,
the paper's pipeline and every classical method the router knows (``--methods`` to choose),
with jitter 0 / 5 / 10 / 20 px and scale 0.8 / 1.0 / 1.2 / 1.5 (plus shift 0 / 5 / 10 px in
the full profile), and writes ``reports/box_robustness.md`` (tables) and
``reports/box_robustness.png`` (DSC vs perturbation, one line per method). LiteMedSAM encodes
each image once (embedding cache); its times include that encoder pass. Most cases are
synthetic phantoms; the HC18 ultrasound cases are real (HC18 Grand Challenge, CC BY 4.0, see
data_samples/README.md). Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install

#: ``--quick``: one case each of four modalities (one real, HC18), a couple of minutes on 2 cores
QUICK_CASES = ("2DBox_US_hc18-082", "2DBox_OCT_synthetic-cysts", "2DBox_XRay_synthetic-lungs",
               "2DBox_Microscopy_synthetic-dark-cells")
QUICK = {"jitter": (0, 5, 10, 20), "scale": (0.8, 1.0, 1.2, 1.5)}
#: ``--quick``: boxes kept per case (the first ones; LiteMedSAM decodes every box of every run)
QUICK_MAX_BOXES = 4
FULL = {**QUICK, "shift": (0, 5, 10)}
#: not classical and needs per-modality weights: left out of the default list
NOT_DEFAULT = ("mobileunet",)


def default_methods() -> list[str]:
    """LiteMedSAM, the paper pipeline and every other method the router registers."""
    from classicseg.pipeline.router import METHODS

    return ["litemedsam", "paper"] + [m for m in METHODS
                                      if m not in ("litemedsam", *NOT_DEFAULT)]


def _manifest(data_dir: Path) -> dict[str, dict]:
    """name -> MANIFEST.tsv row (synthetic flag, source, licence), if the folder has one."""
    import csv

    path = data_dir / "MANIFEST.tsv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["name"]: r for r in csv.DictReader(f, delimiter="\t") if r.get("name")}


def load_cases(data_dir: Path, names=None, max_boxes: int | None = None):
    from classicseg.analysis.studies import subset_case
    from classicseg.io import load_case, load_ground_truth

    files = sorted((data_dir / "imgs").glob("2D*.npz"))
    if names is not None:
        files = [f for f in files if f.stem in names]
        missing = sorted(set(names) - {f.stem for f in files})
        if missing:
            raise SystemExit(f"box_robustness: no {missing} in {data_dir / 'imgs'}")
    cases = []
    for f in files:
        case = load_case(f)
        gt_file = data_dir / "gts" / f.name
        if case.gts is None and gt_file.is_file():
            case.gts = load_ground_truth(gt_file)[0]
        if case.gts is not None and max_boxes is not None and case.n_boxes > max_boxes:
            case = subset_case(case, range(max_boxes))  # ground truth relabelled to match
        if case.gts is not None:
            cases.append(case)
    info = _manifest(data_dir)
    for case in cases:  # provenance for the report: synthetic or real, and the licence
        row = info.get(case.name)
        if row is not None:
            case.meta["synthetic"] = row.get("synthetic", "").lower() == "yes"
        case.meta["origin"] = ("unknown (no MANIFEST.tsv row)" if row is None else
                               "synthetic" if case.meta["synthetic"] else "real")
        case.meta["licence"] = ((row or {}).get("licence") or "unknown").split(" (")[0]
    return cases


def _boxes_text(case) -> str:
    kept = case.meta.get("subset")
    return str(case.n_boxes) + (f" (the first {len(kept)})" if kept is not None else "")


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def render(rows, cases, methods, *, data, perturbations, seed, n_repeats, seconds, command,
           synthetic) -> str:
    from classicseg.analysis.robustness import robustness_table, summarize_robustness
    from classicseg.evaluation.report import markdown_table

    summary = summarize_robustness(rows)
    ran = list(dict.fromkeys(r.method for r in rows))
    lines = [
        "# Box robustness", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; {len(cases)} 2D cases of `{data}`, "
        f"{len(ran)} methods, {len(rows)} runs in {seconds:.0f} s on "
        f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
        " CPU cores. Command:", "", "```", command, "```", "",
        "Every method gets the same perturbed boxes (jitter seeded per case: seed "
        f"{seed}, {n_repeats} draw(s) per jitter amount), scored against the unchanged ground "
        "truth (challenge DSC / NSD). Jitter moves each side by up to ± amount px; scale "
        "multiplies the box size about its centre; shift moves the box amount px right and "
        "down. A failed run scores 0.", "",
    ]
    if synthetic:
        lines += ["**Synthetic data**: the cases marked synthetic are phantoms, not patient "
                  "images; their numbers show behaviour, not clinical accuracy.", ""]
    lines += markdown_table(["case", "boxes", "origin", "licence"],
                            [[f"`{c.name}`", _boxes_text(c),
                              c.meta["origin"], c.meta["licence"]]
                             for c in cases]).splitlines() + [""]
    skipped = [m for m in methods if m not in ran]
    if skipped:
        lines += [f"Not run on any case (not applicable): {', '.join(skipped)}", ""]
    for kind in perturbations:
        lines += [f"## Mean DSC vs {kind}", "", robustness_table(rows, kind=kind), "",
                  f"Change of mean DSC against the boxes as given ({kind}):", "",
                  robustness_table(rows, kind=kind, metric="dsc_change"), ""]
    timing = []
    for m in ran:
        mine = [s for s in summary if s["method"] == m]
        t = [s["seconds"] for s in mine if not math.isnan(s["seconds"])]
        timing.append([m, _fmt(sum(t) / len(t) if t else math.nan),
                       str(sum(s["failed"] for s in mine))])
    lines += ["## Time", "", markdown_table(["method", "mean s per case", "failed runs"], timing),
              ""]
    failed = [r for r in rows if r.error is not None]
    if failed:  # scored 0 above; say why
        lines += ["## Failed runs", ""]
        lines += [f"- {r.method} on `{r.case}`, {r.kind} {r.amount:g} (repeat {r.repeat}): "
                  f"{r.error}" for r in failed[:20]]
        lines += ([f"- ... and {len(failed) - 20} more"] if len(failed) > 20 else []) + [""]
    lines += ["![DSC vs box perturbation](box_robustness.png)", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 cases, jitter and scale only")
    ap.add_argument("--data", type=Path, default=REPO / "data_samples",
                    help="folder with imgs/ and gts/ (default data_samples/)")
    ap.add_argument("--methods", nargs="+", help="default: litemedsam, paper and every "
                                                 "classical method of the router")
    ap.add_argument("--max-boxes", type=int, default=None,
                    help=f"keep the first N boxes of each case (default {QUICK_MAX_BOXES} "
                         "quick, all full)")
    ap.add_argument("--n-repeats", type=int, default=None,
                    help="draws per jitter amount (default 1 quick, 3 full)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "box_robustness.md",
                    help="the markdown report; the figure goes beside it (.png)")
    ap.add_argument("--json", type=Path, help="also write the summary rows here")
    args = ap.parse_args(argv)

    from classicseg import viz
    from classicseg.analysis.robustness import box_robustness, summarize_robustness

    perturbations = QUICK if args.quick else FULL
    n_repeats = args.n_repeats or (1 if args.quick else 3)
    max_boxes = args.max_boxes or (QUICK_MAX_BOXES if args.quick else None)
    cases = load_cases(args.data, QUICK_CASES if args.quick else None, max_boxes)
    methods = args.methods or default_methods()
    t0 = time.perf_counter()
    rows = box_robustness(cases, methods, perturbations=perturbations, seed=args.seed,
                          n_repeats=n_repeats, progress=True)
    seconds = time.perf_counter() - t0
    synthetic = any(c.synthetic for c in cases)
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/box_robustness.py",
                                                 *(argv if argv is not None else sys.argv[1:])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = args.data.resolve()
    data = data.relative_to(REPO) if data.is_relative_to(REPO) else data
    args.out.write_text(render(rows, cases, methods, data=data, perturbations=perturbations,
                               seed=args.seed, n_repeats=n_repeats, seconds=seconds,
                               command=command, synthetic=synthetic))
    fig = viz.robustness_figure(rows, synthetic=synthetic,
                                title=f"DSC vs box perturbation, {len(cases)} 2D cases")
    fig.savefig(args.out.with_suffix(".png"), dpi=100, bbox_inches="tight")
    print(args.out.read_text())
    if args.json:
        summary = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in s.items()} for s in summarize_robustness(rows)]
        args.json.write_text(json.dumps({"cases": len(cases), "runs": len(rows),
                                         "seconds": seconds, "n_repeats": n_repeats,
                                         "seed": args.seed, "rows": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
