"""Baseline vs the paper's pipeline on the same cases: the paper's Tables 11 and 12, re-measured.

:func:`compare_directories` runs the **baseline** (LiteMedSAM everywhere, every slice, no
post-processing) and the **paper** pipeline (the modality router), plus any forced methods
named, on every case of a directory; scores them with :mod:`classicseg.metrics` (via
:func:`classicseg.evaluation.evaluate.evaluate_directories`) and writes a report folder::

    OUT/report.md          Table 11 layout (DSC / NSD per modality and pipeline), Table 12
                           layout (time per modality + speed-up, time per case), router choices
    OUT/summary.csv        one row per pipeline and modality (the numbers of report.md)
    OUT/per_case.csv       one row per pipeline and case (scores, time, method, reasons)
    OUT/figures/*.png      bars per modality, time vs Dice, worst cases side by side
    OUT/predictions/<pipeline>/   the predictions and run logs (resumable)

The tables printed by ``classicseg compare`` are the markdown tables of ``report.md``, made
from the same numbers as ``summary.csv`` (so what is printed is what is stored).

Scoring rule: a case the baseline or the paper pipeline failed on scores DSC 0 / NSD 0
(challenge practice). A forced method (``methods=["kmeans"]``) only scores the cases it can
run (k-means on a CT volume is "not applicable", not a zero).
"""

from __future__ import annotations

import csv
import io as _stdio
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..io import MODALITIES, atomic_write, load_case, load_ground_truth
from ..pipeline.core import Pipeline
from ..pipeline.runner import LOG_NAME, dask_client, read_run_log, run_directory

__all__ = ["compare_directories", "CompareResult", "resolve_dirs", "PAPER_TABLE11"]

#: The paper's Table 11 (validation set, DSC / NSD %), for reference next to our numbers.
PAPER_TABLE11 = {
    "CT": (92.35, 95.09, 91.59, 94.18), "MR": (89.93, 94.02, 88.34, 92.57),
    "PET": (55.23, 29.29, 66.80, 49.42), "US": (94.78, 96.81, 94.78, 96.82),
    "XRay": (75.83, 80.39, 75.87, 80.44), "Dermoscopy": (92.47, 93.85, 92.63, 94.22),
    "Endoscopy": (96.04, 98.11, 96.04, 98.11), "Fundus": (94.81, 96.41, 94.82, 96.42),
    "Microscopy": (61.70, 65.47, 69.96, 77.98),
}


@dataclass
class CompareResult:
    """What :func:`compare_directories` measured and wrote."""

    out_dir: Path
    pipelines: list[str]
    per_case: list[dict]
    summary: list[dict]
    tables: dict[str, str]
    wall_seconds: float = 0.0
    figures: list[Path] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def text(self) -> str:
        """The tables as printed by ``classicseg compare`` (identical to report.md's)."""
        parts = [self.tables["quality"], "", self.tables["time"]]
        if self.errors:
            parts += ["", f"{len(self.errors)} case run(s) failed:"]
            parts += [f"  {e['pipeline']} {e['name']}: {e['error']}" for e in self.errors]
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.text()


# ---------------------------------------------------------------------- directories

def resolve_dirs(in_dir, gt_dir=None) -> tuple[Path, Path]:
    """(images folder, ground-truth folder) from a challenge layout.

    ``in_dir`` may be the images folder itself or a folder with ``imgs/`` and ``gts/``
    subfolders (the ``data_samples/`` layout); ``gt_dir`` likewise (default: ``in_dir/gts``,
    else the images folder, whose files then hold ``gts`` themselves).
    """
    in_dir = Path(in_dir)
    if not in_dir.is_dir():
        raise NotADirectoryError(f"{in_dir}: not a directory")
    imgs = in_dir / "imgs" if (in_dir / "imgs").is_dir() else in_dir
    if gt_dir is None:
        gts = in_dir / "gts" if (in_dir / "gts").is_dir() else imgs
    else:
        gt_dir = Path(gt_dir)
        if not gt_dir.is_dir():
            raise NotADirectoryError(f"{gt_dir}: not a directory")
        gts = gt_dir / "gts" if (gt_dir / "gts").is_dir() else gt_dir
    if not any(imgs.glob("*.npz")):
        raise FileNotFoundError(f"{imgs}: no .npz challenge files")
    return imgs, gts


# ---------------------------------------------------------------------- numbers

def _mean(values) -> float:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else math.nan


def _last_rows(out_dir: Path) -> dict[str, dict]:
    """Newest log row per case (a resumed run appends; the last word counts)."""
    path = out_dir / LOG_NAME
    rows = read_run_log(path) if path.is_file() else []
    return {r["name"]: r for r in rows}


def _per_case(pipeline: str, evaluation, log: dict[str, dict], synthetic: dict[str, bool]) -> list[dict]:
    out = []
    for r in evaluation.rows:
        lr = log.get(r.name, {})
        out.append({
            "pipeline": pipeline, "name": r.name, "modality": r.modality, "dsc": r.dsc, "nsd": r.nsd,
            "seconds": lr.get("seconds") if lr.get("status") == "ok" else None,
            "cold_seconds": lr.get("cold_seconds") if lr.get("status") == "ok" else None,
            "method": lr.get("method"), "n_boxes": lr.get("n_boxes"),
            "shape": "x".join(str(v) for v in lr.get("shape") or []),
            "status": r.status if lr.get("status", "ok") == "ok" else "run error",
            "error": lr.get("error") or "", "reason": lr.get("reason") or "",
            "synthetic": synthetic.get(r.name),
        })
    return out


def _summary(pipelines: list[str], per_case: list[dict], evaluations: dict) -> list[dict]:
    from .evaluate import summarize  # the one per-modality aggregation (Table 11 rule)

    rows = []
    for name in pipelines:
        quality = summarize(evaluations[name].rows)
        cases = [c for c in per_case if c["pipeline"] == name]
        for q in quality:
            mine = cases if q["modality"] == "Average" else \
                [c for c in cases if (c["modality"] or "unknown") == q["modality"]]
            rows.append({"pipeline": name, "modality": q["modality"], "n": q["n"], "dsc": q["dsc"],
                         "nsd": q["nsd"], "seconds": _mean(c["seconds"] for c in mine),
                         "cold_seconds": _mean(c["cold_seconds"] for c in mine)})
    # "Average" time = mean of the modality means, as for DSC/NSD (paper's averaging rule)
    for name in pipelines:
        mods = [r for r in rows if r["pipeline"] == name and r["modality"] != "Average"]
        for r in rows:
            if r["pipeline"] == name and r["modality"] == "Average":
                r["seconds"] = _mean(m["seconds"] for m in mods)
                r["cold_seconds"] = _mean(m["cold_seconds"] for m in mods)
    base = {r["modality"]: r for r in rows if r["pipeline"] == pipelines[0]}
    for r in rows:
        b = base.get(r["modality"])
        r["speedup"] = (b["seconds"] / r["seconds"]) if b and r["seconds"] and r["seconds"] > 0 \
            and not math.isnan(b["seconds"]) and not math.isnan(r["seconds"]) else math.nan
    return rows


# ---------------------------------------------------------------------- formatting

def _pct(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def _sec(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def _ratio(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.2g}x" if v < 10 else f"{v:.0f}x"


def _md(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def _modalities(summary: list[dict]) -> list[str]:
    seen = []
    for r in summary:
        if r["modality"] not in seen and r["modality"] != "Average":
            seen.append(r["modality"])
    order = [m for m in MODALITIES if m in seen] + [m for m in seen if m not in MODALITIES]
    return order + (["Average"] if any(r["modality"] == "Average" for r in summary) else [])


def _tables(pipelines: list[str], summary: list[dict], per_case: list[dict], flavour: str, cold: bool) -> dict:
    cell = {(r["pipeline"], r["modality"]): r for r in summary}
    mods = _modalities(summary)
    header = ["Modality", "cases"] + [f"{p} {m}" for p in pipelines for m in ("DSC", "NSD")]
    rows = []
    for m in mods:
        n = next((cell[(p, m)]["n"] for p in pipelines if (p, m) in cell), 0)
        row = [f"**{m}**" if m == "Average" else m, str(n)]
        for p in pipelines:
            c = cell.get((p, m))
            row += [_pct(c["dsc"]) if c else "n/a", _pct(c["nsd"]) if c else "n/a"]
        rows.append(row)
    quality = (f"DSC / NSD (%) per modality (paper Table 11 layout; metric flavour: {flavour})\n\n"
               + _md(header, rows))

    base = pipelines[0]
    theader = ["Modality"] + [f"{p} (s)" for p in pipelines] + \
        ([f"{p} cold (s)" for p in pipelines] if cold else []) + [f"speed-up {p}" for p in pipelines[1:]]
    trows = []
    for m in mods:
        row = [f"**{m}**" if m == "Average" else m]
        row += [_sec(cell[(p, m)]["seconds"]) if (p, m) in cell else "n/a" for p in pipelines]
        if cold:
            row += [_sec(cell[(p, m)]["cold_seconds"]) if (p, m) in cell else "n/a" for p in pipelines]
        row += [_ratio(cell[(p, m)]["speedup"]) if (p, m) in cell else "n/a" for p in pipelines[1:]]
        trows.append(row)
    timing = (f"Mean time per case (s; warm = in-process, models loaded{', cold = one process per case' if cold else ''}; "
              f"speed-up = {base} time / pipeline time)\n\n" + _md(theader, trows))

    by_case: dict[str, dict] = {}
    for c in per_case:
        by_case.setdefault(c["name"], {})[c["pipeline"]] = c
    cheader = ["Case ID", "Size", "#Objects"] + [f"{p} (s)" for p in pipelines] + [f"{p} method" for p in pipelines[1:]]
    crows = []
    def order(name):  # paper's modality order, then name
        mod = next(iter(by_case[name].values()))["modality"]
        return (MODALITIES.index(mod) if mod in MODALITIES else len(MODALITIES), name)

    for name in sorted(by_case, key=order):
        d = by_case[name]
        any_row = next(iter(d.values()))
        crows.append([name, any_row["shape"] or "?", str(any_row["n_boxes"] if any_row["n_boxes"] is not None else "?")]
                     + [_sec(d[p]["seconds"]) if p in d else "n/a" for p in pipelines]
                     + [str(d[p]["method"]) if p in d else "n/a" for p in pipelines[1:]])
    cases = "Time per case (s, warm; paper Table 12 layout)\n\n" + _md(cheader, crows)
    noise = _timing_noise(by_case, pipelines)
    if noise:
        timing += "\n\n" + noise
    return {"quality": quality, "time": timing, "cases": cases}


def _timing_noise(by_case: dict, pipelines: list[str]) -> str:
    """A yardstick for the speed-ups: cases where the first two pipelines ran the very same
    computation (2D LiteMedSAM in both) should take equal time; their ratio spread is noise."""
    if len(pipelines) < 2:
        return ""
    a, b = pipelines[:2]
    ratios = [d[a]["seconds"] / d[b]["seconds"] for d in by_case.values()
              if a in d and b in d and d[a]["method"] == d[b]["method"] == "litemedsam"
              and d[a]["name"].startswith("2D") and d[a]["seconds"] and d[b]["seconds"]]
    if not ratios:
        return ""
    return (f"Timing noise: on {len(ratios)} 2D case(s) both pipelines ran the same LiteMedSAM inference "
            f"(their true ratio is 1.0); measured {a}/{b} ratios span {min(ratios):.2f}x-{max(ratios):.2f}x. "
            "Speed-ups inside that band are not evidence.")


def _router_section(per_case: list[dict], pipeline: str) -> str:
    rows = [c for c in per_case if c["pipeline"] == pipeline and c["method"]]
    if not rows:
        return ""
    header = ["Case", "Modality", "Method", "Why"]
    return _md(header, [[c["name"], c["modality"] or "?", c["method"], c["reason"]] for c in rows])


# ---------------------------------------------------------------------- files

def _write_text(path: Path, text: str) -> None:
    # atomic: an interrupted compare never leaves a half-written report
    atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=True)


def _csv_text(rows: list[dict], fields: list[str]) -> str:
    buf = _stdio.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None or (isinstance(r.get(k), float) and math.isnan(r[k]))
                        else repr(r[k]) if isinstance(r.get(k), float) else r[k]) for k in fields})
    return buf.getvalue()


_SUMMARY_FIELDS = ["pipeline", "modality", "n", "dsc", "nsd", "seconds", "cold_seconds", "speedup"]
_CASE_FIELDS = ["pipeline", "name", "modality", "method", "dsc", "nsd", "seconds", "cold_seconds", "n_boxes",
                "shape", "status", "synthetic", "error", "reason"]


def _figures(out: Path, imgs: Path, gts: Path, pipelines: list[str], per_case: list[dict],
             synthetic_any: bool, synthetic: dict, worst: int) -> list[Path]:
    from .. import viz

    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        path = figdir / name
        fig.savefig(path, dpi=100, bbox_inches="tight")
        written.append(path)

    table = [c for c in per_case if c["dsc"] is not None]
    tag = " (synthetic)" if synthetic_any else ""
    for metric in ("dsc", "nsd"):
        save(viz.bar_by_modality(table, metric=metric, hue="pipeline",
                                 title=f"{metric.upper()} per modality{tag}"), f"{metric}_by_modality.png")
    timed = [c for c in table if c["seconds"] is not None]
    if timed:
        save(viz.time_vs_dice(timed, time="seconds", metric="dsc", hue="pipeline",
                              title=f"warm time vs DSC per case{tag}"), "time_vs_dice.png")
    # worst cases of the last (paper / forced) pipeline, every pipeline side by side
    target = pipelines[1] if len(pipelines) > 1 else pipelines[0]
    ranked = sorted((c for c in per_case if c["pipeline"] == target and not math.isnan(c["dsc"])),
                    key=lambda c: c["dsc"])[:worst]
    from ..io import load_prediction

    for k, c in enumerate(ranked, 1):
        case = load_case(imgs / f"{c['name']}.npz", allow_extra_keys=True)
        gt_file = gts / f"{c['name']}.npz"
        gt = load_ground_truth(gt_file)[0] if gt_file.is_file() else case.gts
        results, scores, times = {}, {}, {}
        for p in pipelines:
            pred = out / "predictions" / p / f"{c['name']}.npz"
            if pred.is_file():
                results[p] = load_prediction(pred, shape=case.spatial_shape)
                row = next(r for r in per_case if r["pipeline"] == p and r["name"] == c["name"])
                scores[p] = {"dsc": row["dsc"], "nsd": row["nsd"]}
                times[p] = row["seconds"]
        if not results:
            continue
        fig = viz.side_by_side(case.image, gt, results, boxes=case.boxes, scores=scores,
                               times={p: t for p, t in times.items() if t is not None},
                               synthetic=bool(synthetic.get(c["name"], synthetic_any)),
                               title=f"worst {k} for {target}: {c['name']}")
        save(fig, f"worst_{k}_{c['name']}.png")
    return written


# ---------------------------------------------------------------------- main entry

def _run_interleaved(imgs: Path, out: Path, pipes: list[Pipeline], *, overwrite, threads, cold,
                     progress) -> list[dict]:
    """Serial runs, case by case and within a case pipeline by pipeline: on a shared machine
    whose load drifts, every pipeline sees the same conditions for the same case, so the
    time ratios stay fair. Returns the failed runs."""
    from tqdm.auto import tqdm

    from ..io import list_case_files

    stems = [p.name[:-4] for p in list_case_files(imgs)]
    errors = []
    with tqdm(total=len(stems) * len(pipes), desc="classicseg compare", unit="run",
              disable=not progress or None, file=sys.stderr) as bar:
        for stem in stems:
            for pipe in pipes:
                summary = run_directory(imgs, out / "predictions" / pipe.name, pipe, overwrite=overwrite,
                                        threads=threads, cold=cold, progress=False, names=[stem])
                errors += [{"pipeline": pipe.name, **e} for e in summary.errors]
                bar.set_postfix_str(f"{stem} {pipe.name}")
                bar.update(1)
    return errors


def compare_directories(in_dir, gt_dir=None, out_dir=None, *, paper: Pipeline | None = None,
                        baseline: Pipeline | None = None, methods=(), flavour: str = "challenge",
                        overwrite: bool = False, resume: bool = False, workers: int | None = None,
                        scheduler: str | None = None, threads: int | None = None, cold: bool = False,
                        progress: bool = True, figures: bool = True, worst: int = 3,
                        command: str | None = None) -> CompareResult:
    """Run baseline, paper pipeline (and ``methods``) on the same cases and write a report.

    Parameters
    ----------
    in_dir : path-like
        Images folder, or a folder with ``imgs/`` and ``gts/`` (``data_samples/``).
    gt_dir : path-like, optional
        Ground truth (default: ``in_dir/gts`` or the image files' own ``gts``).
    out_dir : path-like, optional
        Report folder; default ``reports/<name of in_dir>``. An existing report is refused
        unless ``overwrite`` (recompute everything) or ``resume`` (keep the predictions that
        exist, run the rest, rewrite the report).
    paper, baseline : Pipeline, optional
        The two pipelines (defaults ``Pipeline()`` and ``Pipeline(mode="baseline")``).
    methods : iterable of str
        Extra pipelines forcing one method on every case (``"kmeans"``, ``"ght"``, ...).
    flavour : {"challenge", "correct"}
        Metric flavour (:mod:`classicseg.metrics`).
    workers, scheduler, threads, cold, progress
        As in :func:`~classicseg.pipeline.runner.run_directory`; one Dask cluster serves
        every pipeline.
    figures : bool
        Write PNG figures (bars, time vs Dice, ``worst`` worst cases side by side).
    """
    from .evaluate import evaluate_directories

    t_start = time.perf_counter()
    imgs, gts = resolve_dirs(in_dir, gt_dir)
    out = Path(out_dir) if out_dir is not None else Path("reports") / Path(in_dir).resolve().name
    if (out / "report.md").exists() and not (overwrite or resume):
        raise FileExistsError(f"{out / 'report.md'} exists; pass overwrite=True (--overwrite) to recompute it "
                              "or resume=True (--resume) to reuse its predictions")
    baseline = baseline or Pipeline(mode="baseline")
    paper = paper or Pipeline()
    pipes = [baseline, paper] + [Pipeline(method=m, name=str(m), s=paper.s, modality=paper.modality,
                                          models=paper.models) for m in methods]
    names = [p.name for p in pipes]
    if len(set(names)) != len(names):
        raise ValueError(f"pipeline names must differ, got {names}")
    from ..samples.userdata import manifest_synthetic_flags

    synthetic = manifest_synthetic_flags(Path(in_dir))

    client = cluster = None
    if workers or scheduler:
        client, cluster = dask_client(workers, scheduler)
    errors = []
    try:
        if client is None:
            errors = _run_interleaved(imgs, out, pipes, overwrite=overwrite, threads=threads, cold=cold,
                                      progress=progress)
        else:  # on a cluster all cases of a pipeline run at once; interleaving buys nothing
            for pipe in pipes:
                summary = run_directory(imgs, out / "predictions" / pipe.name, pipe, overwrite=overwrite,
                                        workers=workers, scheduler=scheduler, threads=threads,
                                        progress=progress, client=client)
                errors += [{"pipeline": pipe.name, **e} for e in summary.errors]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    evaluations, per_case = {}, []
    for i, pipe in enumerate(pipes):
        pred_dir = out / "predictions" / pipe.name
        evaluations[pipe.name] = evaluate_directories(pred_dir, gts, flavour=flavour,
                                                      missing="zero" if i < 2 else "skip", progress=False)
        per_case += _per_case(pipe.name, evaluations[pipe.name], _last_rows(pred_dir), synthetic)

    summary_rows = _summary(names, per_case, evaluations)
    tables = _tables(names, summary_rows, per_case, flavour, cold)
    synthetic_any = any(v for v in synthetic.values())
    result = CompareResult(out, names, per_case, summary_rows, tables, errors=errors)
    if figures and per_case:
        result.figures = _figures(out, imgs, gts, names, per_case, synthetic_any, synthetic, worst)
    result.wall_seconds = time.perf_counter() - t_start
    _write_text(out / "summary.csv", _csv_text(summary_rows, _SUMMARY_FIELDS))
    _write_text(out / "per_case.csv", _csv_text(per_case, _CASE_FIELDS))
    _write_text(out / "report.md", _report_md(result, imgs, gts, flavour, synthetic_any, command,
                                              workers=workers, scheduler=scheduler))
    return result


def _report_md(res: CompareResult, imgs: Path, gts: Path, flavour: str, synthetic_any: bool,
               command: str | None, *, workers, scheduler) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_cases = len({c["name"] for c in res.per_case})
    where = f"Dask scheduler {scheduler}" if scheduler else (f"{workers} Dask workers" if workers else "serial")
    lines = [f"# classicseg compare: {', '.join(res.pipelines)}", "",
             f"- images: `{imgs}`; ground truth: `{gts}`; {n_cases} cases; {now}",
             f"- command: `{command or 'compare_directories(...)'}`",
             f"- execution: {where}; wall time of the whole compare: {res.wall_seconds:.1f} s",
             "- baseline = LiteMedSAM everywhere (every slice, no post-processing); paper = the modality "
             "router of the paper (Fig. 1 / Table 1)"]
    if synthetic_any:
        lines.append("- **Synthetic data**: (some) cases are synthetic phantoms, not patient images; "
                     "numbers show behaviour, not clinical accuracy.")
    lines += ["", "## Segmentation quality", "", res.tables["quality"], "",
              "## Run time", "", res.tables["time"], "", res.tables["cases"], ""]
    present = [m for m in _modalities(res.summary) if m in PAPER_TABLE11]
    if present:
        lines += ["## For reference: the paper's validation numbers (Table 11, real challenge data)", "",
                  _md(["Modality", "LiteMedSAM DSC", "LiteMedSAM NSD", "paper DSC", "paper NSD"],
                      [[m] + [f"{v:.2f}" for v in PAPER_TABLE11[m]] for m in present]), ""]
    if len(res.pipelines) > 1:
        lines += [f"## Router decisions ({res.pipelines[1]})", "", _router_section(res.per_case, res.pipelines[1]), ""]
    if res.errors:
        lines += ["## Failed case runs", ""] + [f"- {e['pipeline']} `{e['name']}`: {e['error']}" for e in res.errors] + [""]
    if res.figures:
        lines += ["## Figures", ""] + [f"![{p.stem}](figures/{p.name})" for p in res.figures] + [""]
    lines += ["Files: `summary.csv` (these tables' numbers), `per_case.csv`, `predictions/<pipeline>/` "
              "(predictions + `run_log.jsonl`).", ""]
    return "\n".join(lines)


def command_line() -> str:
    """The current command line, quoted, for the report."""
    return " ".join(shlex.quote(a) for a in ["classicseg"] + sys.argv[1:])
