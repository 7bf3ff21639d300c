"""Adaptive vs uniform slice selection for 3D LiteMedSAM (issue 15, part 4): Dice vs passes.

Run:  .venv/bin/python benchmarks/adaptive_slices.py [--threads 2] [--json out.json]
      (--cases CT MR_synthetic: only case names containing one of these words)

On every bundled 3D case that the router sends to LiteMedSAM (``data_samples/imgs/3DBox_*``:
synthetic CT kidneys, synthetic MR prostate, the real MNI152 ventricles; PET goes to GHT and
is skipped), every slice plan runs through the real predictor (``LiteMedSAM.segment``, paper
post-processing ``"box"``): uniform s in {1, 2, 3, 4, 6, 8} and adaptive plans at the
budgets of s in {2, 3, 4, 6, 8}, plus criterion / prompt variants at the s = 3 budget.
A slice's embedding does not depend on the prompt, so each slice is encoded once per case
and reused by every plan (``_embed_many`` memoised by slice content); the encoder passes of
a plan are the distinct slices its boxes predicted (what the predictor itself encodes).
Writes ``reports/adaptive_slices.md`` and ``.png``; the verdict says whether adaptive at the
s = 3 budget dominates uniform s = 3 (no more passes, Dice >= on every case). No wall-time
targets: this measures accuracy per pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install

#: uniform steps of the curve, and the equivalent-s budgets of the adaptive plans
UNIFORM_S = (1, 2, 3, 4, 6, 8)
ADAPTIVE_S = (2, 3, 4, 6, 8)
#: the adaptive families of the curve, (criterion, prompt, seed): the plain design and the
#: one that walks to the ends through the half-way slices with interpolated prompts
FAMILIES = (("masks", "nearest", "ends"), ("masks", "interpolated", "halves"))
#: further variants, at the s = 3 budget only
VARIANTS = (("masks", "interpolated", "ends"), ("masks", "nearest", "halves"),
            ("masks", "box", "ends"), ("image", "nearest", "ends"), ("both", "nearest", "ends"),
            ("both", "interpolated", "halves"))


def plans():
    from classicseg.models.litemedsam.slice_selection import SlicePlan

    out = [SlicePlan(s=s) for s in UNIFORM_S]
    out += [SlicePlan("adaptive", s=s, criterion=c, prompt=p, seed=d)
            for c, p, d in FAMILIES for s in ADAPTIVE_S]
    out += [SlicePlan("adaptive", s=3, criterion=c, prompt=p, seed=d) for c, p, d in VARIANTS]
    return out


def label(plan) -> str:
    if plan.kind == "uniform":
        return f"uniform s={plan.s}"
    return f"adaptive s={plan.s} [{plan.criterion}, {plan.prompt}, {plan.seed}]"


def family(plan_label: str) -> str:
    """The curve a row belongs to: ``uniform`` or the adaptive variant in brackets."""
    return "uniform" if plan_label.startswith("uniform") else plan_label.split(" ", 2)[2]


class MemoEncoder:
    """Wraps ``model._embed_many``: each distinct slice image is encoded once (and, with
    ``folder``, kept on disk between runs, keyed by the slice's content and the weights)."""

    def __init__(self, model, folder: Path | None = None):
        self.inner, self.cache, self.seconds = model._embed_many, {}, 0.0
        self.folder, self.salt = folder, f"{model.weights_sha256}-{model.backend}"

    def __call__(self, images):
        out = []
        for im in images:
            key = hashlib.blake2b(np.ascontiguousarray(im).tobytes() + self.salt.encode(),
                                  digest_size=16).hexdigest()
            path = self.folder / f"{key}.pkl" if self.folder else None
            if key not in self.cache and path is not None and path.is_file():
                self.cache[key] = pickle.loads(path.read_bytes())
            if key not in self.cache:
                t = time.perf_counter()
                self.cache[key] = self.inner([im])[0]
                self.seconds += time.perf_counter() - t
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(pickle.dumps(self.cache[key]))
            out.append(self.cache[key])
        return out


def cases(words):
    from classicseg.io import load_case
    from classicseg.pipeline.router import route

    for img in sorted((REPO / "data_samples" / "imgs").glob("3DBox_*.npz")):
        if words and not any(w.lower() in img.stem.lower() for w in words):
            continue
        case = load_case(img, REPO / "data_samples" / "gts" / img.name)
        if route(case).method != "litemedsam":
            print(f"skip {img.stem}: routed to {route(case).method}", flush=True)
            continue
        yield case


def run(words, threads: int, folder: Path | None = None) -> dict:
    import torch

    from classicseg.metrics import score_case
    from classicseg.models.litemedsam import LiteMedSAM

    torch.set_num_threads(threads)
    model = LiteMedSAM.load()
    rows = []
    for case in cases(words):
        model._embed_many = memo = MemoEncoder(model, folder)
        for plan in plans():
            res = model.segment(case.image, case.boxes, s=plan, postprocess="box")
            slices = set().union(*(set(b.extra["slices"]) for b in res.boxes))
            sc = score_case(case.gts, res.segs, spacing=case.spacing)
            rows.append({"case": case.name, "plan": plan.name, "label": label(plan),
                         "kind": plan.kind, "criterion": plan.criterion, "prompt": plan.prompt,
                         "seed": plan.seed,
                         "s": plan.s, "passes": len(slices),
                         "depth": int(sum(b[5] - b[2] + 1 for b in case.boxes)),
                         "dsc": float(sc["dsc"]), "nsd": float(sc["nsd"]),
                         "slices": [b.extra["slices"] for b in res.boxes]})
            print(f"{case.name:32s} {label(plan):44s} passes {len(slices):3d} "
                  f"DSC {sc['dsc']:.4f} NSD {sc['nsd']:.4f}", flush=True)
        print(f"{case.name}: {len(memo.cache)} slices encoded in {memo.seconds:.1f} s", flush=True)
    return {"runs": rows, "threads": threads, "cases": sorted({r["case"] for r in rows})}


def oracle(words) -> list[dict]:
    """Slice choice alone, without LiteMedSAM: every chosen slice is the ground truth, the rest
    shape-interpolated (``fill_slices``). Per plan: passes summed over boxes, mean box Dice."""
    from classicseg.methods.interpolation import fill_slices
    from classicseg.metrics import dice
    from classicseg.models.litemedsam.slice_selection import adaptive_walk

    rows = []
    for case in cases(words):
        for plan in plans():
            passes, scores = 0, []
            for n, b in enumerate(np.asarray(case.boxes), 1):
                z0, z1 = int(b[2]), int(b[5])
                gt = case.gts == n  # box i's object is label i + 1
                if plan.kind == "uniform":
                    chosen = sorted(set().union(*plan.walk(z0, z1)))
                else:
                    region = (slice(int(b[1]), int(b[4]) + 1), slice(int(b[0]), int(b[3]) + 1))
                    chosen = adaptive_walk(lambda z, src: gt[z], z0, z1,
                                           budget=plan.budget_for(z0, z1), tol=plan.tol,
                                           criterion=plan.criterion, prompt=plan.prompt,
                                           seed=plan.seed, image=case.image,
                                           region=region).order
                filled = fill_slices({z: gt[z] for z in chosen}, z0, z1)
                passes += len(chosen)
                scores.append(dice(gt[z0:z1 + 1], filled))
            rows.append({"case": case.name, "label": label(plan), "passes": passes,
                         "dsc": float(np.mean(scores))})
    return rows


def summarize(data: dict) -> dict:
    """Mean passes / DSC / NSD per plan over the cases (``rows``), and the dominance verdict."""
    from classicseg.models.litemedsam.slice_selection import SlicePlan

    rows, names = data["runs"], data["cases"]
    by_plan: dict[str, list] = {}
    for r in rows:
        by_plan.setdefault(r["label"], []).append(r)
    table = [{"plan": k, "family": family(k),
              "mean_passes": float(np.mean([r["passes"] for r in v])),
              "mean_dsc": float(np.mean([r["dsc"] for r in v])),
              "mean_nsd": float(np.mean([r["nsd"] for r in v])),
              **{f"dsc {c}": next(r["dsc"] for r in v if r["case"] == c) for c in names}}
             for k, v in by_plan.items()]
    ref_s = 3
    ref = {r["case"]: r for r in by_plan.get(f"uniform s={ref_s}", [])}
    verdicts = {}
    for k, v in by_plan.items():
        if v[0]["kind"] != "adaptive" or not ref or f"s={ref_s}" not in k:
            continue
        ok = all(r["passes"] <= ref[r["case"]]["passes"] and r["dsc"] >= ref[r["case"]]["dsc"]
                 for r in v)
        verdicts[k] = ok
    key = label(SlicePlan("adaptive", s=ref_s))  # the default adaptive plan
    verdict = (f"{key} " + ("dominates" if verdicts.get(key) else "does not dominate")
               + f" uniform s={ref_s} (no more passes and DSC >= on every case); per "
               "variant: " + ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in verdicts.items()))
    return {"rows": table, "dominates_uniform_s3": verdicts, "verdict": verdict}


def write_report(data: dict, summary: dict, out_md: Path, command: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = data["cases"]
    sources = [("LiteMedSAM", data["runs"])] + ([("oracle", data["oracle"])]
                                                 if data.get("oracle") else [])
    fig, grid = plt.subplots(len(sources), len(names) + 1, squeeze=False,
                             figsize=(4.2 * (len(names) + 1), 3.4 * len(sources)))
    for (what, runs), axes in zip(sources, grid):
        for ax, case in zip(axes, names + ["mean over cases"]):
            for fam, style in zip(dict.fromkeys(family(r["label"]) for r in runs),
                                  ("ko-", "s--", "^--", "v--", "d--")):
                by: dict[str, list] = {}
                for r in runs:
                    if family(r["label"]) == fam and (case.startswith("mean") or
                                                      r["case"] == case):
                        by.setdefault(r["label"], []).append(r)
                pts = sorted((float(np.mean([r["passes"] for r in v])),
                              float(np.mean([r["dsc"] for r in v]))) for v in by.values())
                if len(pts) > 1:
                    ax.plot(*zip(*pts), style, label=fam, ms=4)
            ax.set_title(f"{what}: {case}", fontsize=9)
            ax.set_xlabel("encoder passes" if what == "LiteMedSAM" else "slices taken from GT")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("DSC vs ground truth")
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    png = out_md.with_suffix(".png")
    fig.savefig(png, dpi=110)
    plt.close(fig)

    cols = ["plan", "mean_passes", "mean_dsc", "mean_nsd"] + [f"dsc {c}" for c in names]
    lines = ["# Adaptive vs uniform slice selection (3D LiteMedSAM)", "",
             "Cases: " + ", ".join(names) + " (CT kidneys and MR prostate are SYNTHETIC "
             "phantoms; MR ventricles are the real MNI152 2009a template, nilearn, "
             "redistributable with the MNI copyright notice). PET routes to GHT: skipped.", "",
             "Command:", "", "```", command, "```", "",
             f"![Dice vs encoder passes]({png.name})", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for t in summary["rows"]:
        lines.append("| " + " | ".join(t[c] if isinstance(t[c], str) else f"{t[c]:.4f}"
                                       if "dsc" in c or "nsd" in c else f"{t[c]:.2f}"
                                       for c in cols) + " |")
    if data.get("oracle"):
        names_o = sorted({r["case"] for r in data["oracle"]})
        lines += ["", "## Slice choice alone (oracle: ground-truth slices, then interpolation)",
                  "", "No model: each chosen slice is the ground truth, so this isolates where "
                  "the slices sit from how LiteMedSAM is prompted. Passes summed over boxes.", "",
                  "| plan | mean_passes | mean_dsc | " + " | ".join(f"dsc {c}" for c in names_o)
                  + " |", "|" + "---|" * (3 + len(names_o))]
        by: dict[str, dict] = {}
        for r in data["oracle"]:
            by.setdefault(r["label"], {})[r["case"]] = r
        for k, v in by.items():
            lines.append(f"| {k} | {np.mean([r['passes'] for r in v.values()]):.2f} | "
                         f"{np.mean([r['dsc'] for r in v.values()]):.4f} | "
                         + " | ".join(f"{v[c]['dsc']:.4f}" for c in names_o) + " |")
        ref, key = by.get("uniform s=3", {}), "adaptive s=3 [masks, nearest, ends]"
        ok = bool(ref) and all(r["passes"] <= ref[c]["passes"] and r["dsc"] >= ref[c]["dsc"]
                               for c, r in by.get(key, {}).items())
        lines += ["", f"Oracle: {key} {'dominates' if ok else 'does not dominate'} uniform "
                  "s=3 (no more passes, DSC >= on every case)."]
    lines += ["", "Passes: distinct slices encoded per case (all boxes). Adaptive at a budget of "
              "s = k spends at most as many passes per box as uniform s = k. Variants in "
              "brackets: [gap criterion, prompt source, seed]; the default adaptive plan is "
             "[masks, nearest, ends].", "",
              f"**Verdict:** {summary['verdict']}."]
    out_md.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", metavar="WORD", help="only cases whose name has a word")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the raw numbers here")
    ap.add_argument("--out", type=Path, default=REPO / "reports" / "adaptive_slices.md")
    ap.add_argument("--from-json", type=Path, help="re-render the report from a --json output")
    ap.add_argument("--embedding-cache", type=Path, metavar="DIR",
                    help="keep slice embeddings here between runs (4 MiB each)")
    args = ap.parse_args(argv)
    if args.from_json:
        raw = json.loads(args.from_json.read_text())
        data = {"runs": raw.get("runs", raw["rows"]), "threads": raw.get("threads"),
                "cases": raw["cases"], "command": raw.get("command")}
    else:
        data = run(args.cases, args.threads, args.embedding_cache)
    data["oracle"] = oracle(args.cases)
    data.update(summary := summarize(data))
    command = " ".join([".venv/bin/python", "benchmarks/adaptive_slices.py",
                        *(argv if argv is not None else sys.argv[1:])])
    if data.get("command"):
        command = f"{data['command']}\n# report re-rendered with: {command}"
    data["command"] = data.get("command") or command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(data, summary, args.out, command)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
