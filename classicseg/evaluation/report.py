"""How the comparison is shown: the paper's Tables 11 and 12 as markdown, and the CSV files.

Pure formatting of numbers that :mod:`classicseg.evaluation.compare` measured -- no running,
no scoring -- so a table can be changed (or a new one added) without touching the
orchestration. The text printed by ``classicseg compare`` and the text in ``report.md``
are the same strings, made here once.

Examples
--------
>>> rows = [["CT", format_percent(0.9235)], ["PET", format_percent(None)]]
>>> print(markdown_table(["Modality", "DSC"], rows))
| Modality | DSC   |
|----------|-------|
| CT       | 92.35 |
| PET      | n/a   |
>>> format_seconds(0.01234), format_seconds(250.4), format_ratio(3.456), format_ratio(12.3)
('0.0123', '250', '3.5x', '12x')
>>> csv_text([{"a": 0.5, "b": float("nan")}], ["a", "b"])
'a,b\\n0.5,\\n'
"""

from __future__ import annotations

import csv
import io as _stdio
import math
from datetime import datetime, timezone
from pathlib import Path

from ..io import MODALITIES, atomic_write

__all__ = ["PAPER_TABLE11", "SUMMARY_FIELDS", "CASE_FIELDS", "format_percent", "format_seconds",
           "format_ratio", "markdown_table", "modality_order", "tables", "timing_noise",
           "router_table", "csv_text", "write_text", "execution_text", "report_markdown"]

#: The paper's Table 11 (validation set, DSC / NSD %), for reference next to our numbers:
#: modality -> (LiteMedSAM DSC, LiteMedSAM NSD, paper DSC, paper NSD).
PAPER_TABLE11 = {
    "CT": (92.35, 95.09, 91.59, 94.18), "MR": (89.93, 94.02, 88.34, 92.57),
    "PET": (55.23, 29.29, 66.80, 49.42), "US": (94.78, 96.81, 94.78, 96.82),
    "XRay": (75.83, 80.39, 75.87, 80.44), "Dermoscopy": (92.47, 93.85, 92.63, 94.22),
    "Endoscopy": (96.04, 98.11, 96.04, 98.11), "Fundus": (94.81, 96.41, 94.82, 96.42),
    "Microscopy": (61.70, 65.47, 69.96, 77.98),
}

#: Columns of ``summary.csv`` (one row per pipeline and modality) and ``per_case.csv``.
SUMMARY_FIELDS = ["pipeline", "modality", "n", "dsc", "nsd", "seconds", "cold_seconds", "speedup"]
CASE_FIELDS = ["pipeline", "name", "modality", "method", "dsc", "nsd", "seconds", "cold_seconds",
               "n_boxes", "shape", "status", "synthetic", "error", "reason"]


# ---------------------------------------------------------------------- cells

def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def format_percent(v) -> str:
    """A fraction as percent with 2 decimals (``0.9235`` -> ``"92.35"``); None/NaN -> ``"n/a"``."""
    return "n/a" if _missing(v) else f"{100 * v:.2f}"


def format_seconds(v) -> str:
    """Seconds with 3 significant digits (whole seconds from 100 s on); None/NaN -> ``"n/a"``."""
    if _missing(v):
        return "n/a"
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def format_ratio(v) -> str:
    """A speed-up factor (``"3.5x"``, ``"12x"``); None/NaN -> ``"n/a"``."""
    if _missing(v):
        return "n/a"
    return f"{v:.2g}x" if v < 10 else f"{v:.0f}x"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-markdown table, columns padded to their widest cell (readable as plain text)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def modality_order(summary: list[dict]) -> list[str]:
    """Modalities of ``summary`` rows in the paper's order, unknown ones after, "Average" last."""
    seen = []
    for r in summary:
        if r["modality"] not in seen and r["modality"] != "Average":
            seen.append(r["modality"])
    order = [m for m in MODALITIES if m in seen] + [m for m in seen if m not in MODALITIES]
    return order + (["Average"] if any(r["modality"] == "Average" for r in summary) else [])


# ---------------------------------------------------------------------- tables

def _bold_average(m: str) -> str:
    return f"**{m}**" if m == "Average" else m


def _quality_table(pipelines, cell, mods, flavour) -> str:
    header = ["Modality", "cases"] + [f"{p} {m}" for p in pipelines for m in ("DSC", "NSD")]
    rows = []
    for m in mods:
        n = next((cell[(p, m)]["n"] for p in pipelines if (p, m) in cell), 0)
        row = [_bold_average(m), str(n)]
        for p in pipelines:
            c = cell.get((p, m), {})
            row += [format_percent(c.get("dsc")), format_percent(c.get("nsd"))]
        rows.append(row)
    return (f"DSC / NSD (%) per modality (paper Table 11 layout; metric flavour: {flavour})\n\n"
            + markdown_table(header, rows))


def _time_table(pipelines, cell, mods, cold) -> str:
    def col(key, fmt, names):
        return [fmt(cell[(p, m)][key]) if (p, m) in cell else "n/a" for p in names]

    header = ["Modality"] + [f"{p} (s)" for p in pipelines] \
        + ([f"{p} cold (s)" for p in pipelines] if cold else []) \
        + [f"speed-up {p}" for p in pipelines[1:]]
    rows = []
    for m in mods:
        row = [_bold_average(m)] + col("seconds", format_seconds, pipelines)
        if cold:
            row += col("cold_seconds", format_seconds, pipelines)
        rows.append(row + col("speedup", format_ratio, pipelines[1:]))
    cold_note = ", cold = one process per case" if cold else ""
    return (f"Mean time per case (s; warm = in-process, models loaded{cold_note}; "
            f"speed-up = {pipelines[0]} time / pipeline time)\n\n" + markdown_table(header, rows))


def _case_table(pipelines, by_case) -> str:
    def order(name):  # paper's modality order, then name
        mod = next(iter(by_case[name].values()))["modality"]
        return (MODALITIES.index(mod) if mod in MODALITIES else len(MODALITIES), name)

    header = ["Case ID", "Size", "#Objects"] + [f"{p} (s)" for p in pipelines] + \
        [f"{p} method" for p in pipelines[1:]]
    rows = []
    for name in sorted(by_case, key=order):
        d = by_case[name]
        first = next(iter(d.values()))
        n_boxes = "?" if first["n_boxes"] is None else str(first["n_boxes"])
        rows.append([name, first["shape"] or "?", n_boxes]
                    + [format_seconds(d[p]["seconds"]) if p in d else "n/a" for p in pipelines]
                    + [str(d[p]["method"]) if p in d else "n/a" for p in pipelines[1:]])
    return "Time per case (s, warm; paper Table 12 layout)\n\n" + markdown_table(header, rows)


def tables(pipelines: list[str], summary: list[dict], per_case: list[dict], *, flavour: str,
           cold: bool) -> dict[str, str]:
    """The report's tables: ``{"quality": Table 11, "time": time per modality (+ timing
    noise), "cases": Table 12}``; ``pipelines[0]`` is the speed-up's reference."""
    cell = {(r["pipeline"], r["modality"]): r for r in summary}
    mods = modality_order(summary)
    by_case: dict[str, dict] = {}
    for c in per_case:
        by_case.setdefault(c["name"], {})[c["pipeline"]] = c
    timing = _time_table(pipelines, cell, mods, cold)
    noise = timing_noise(by_case, pipelines)
    if noise:
        timing += "\n\n" + noise
    return {"quality": _quality_table(pipelines, cell, mods, flavour), "time": timing,
            "cases": _case_table(pipelines, by_case)}


def timing_noise(by_case: dict, pipelines: list[str]) -> str:
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
    return (f"Timing noise: on {len(ratios)} 2D case(s) both pipelines ran the same LiteMedSAM "
            f"inference (their true ratio is 1.0); measured {a}/{b} ratios span "
            f"{min(ratios):.2f}x-{max(ratios):.2f}x. Speed-ups inside that band are not evidence.")


def router_table(per_case: list[dict], pipeline: str) -> str:
    """Which method ``pipeline`` chose for each case, and why ("" if it recorded none)."""
    rows = [c for c in per_case if c["pipeline"] == pipeline and c["method"]]
    if not rows:
        return ""
    cells = [[c["name"], c["modality"] or "?", c["method"], c["reason"]] for c in rows]
    return markdown_table(["Case", "Modality", "Method", "Why"], cells)


# ---------------------------------------------------------------------- files

def csv_text(rows: list[dict], fields: list[str]) -> str:
    """CSV of ``rows`` (only ``fields``): floats as ``repr`` (round-trip exact), None/NaN empty."""
    buf = _stdio.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if _missing(r.get(k)) else repr(r[k]) if isinstance(r[k], float) else r[k]
                    for k in fields})
    return buf.getvalue()


def write_text(path, text: str) -> Path:
    """Write ``text`` atomically: an interrupted compare never leaves a half-written report."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=True)


def execution_text(options) -> str:
    """Where the cases ran, from a :class:`~classicseg.pipeline.runner.RunOptions`."""
    if options.scheduler:
        return f"Dask scheduler {options.scheduler}"
    if options.workers:
        return f"{options.workers} Dask workers"
    return "a given Dask client" if options.client is not None else "serial"


def report_markdown(result, *, imgs, gts, flavour: str, synthetic: bool, command: str | None,
                    execution: str) -> str:
    """``report.md`` of a :class:`~classicseg.evaluation.compare.CompareResult`."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_cases = len({c["name"] for c in result.per_case})
    lines = [f"# classicseg compare: {', '.join(result.pipelines)}", "",
             f"- images: `{imgs}`; ground truth: `{gts}`; {n_cases} cases; {now}",
             f"- command: `{command or 'compare_directories(...)'}`",
             f"- execution: {execution}; wall time of the whole compare: "
             f"{result.wall_seconds:.1f} s",
             "- baseline = LiteMedSAM everywhere (every slice, no post-processing); paper = the "
             "modality router of the paper (Fig. 1 / Table 1)"]
    if synthetic:
        lines.append("- **Synthetic data**: (some) cases are synthetic phantoms, not patient "
                     "images; numbers show behaviour, not clinical accuracy.")
    perturbation = getattr(result, "box_perturbation", None)
    if perturbation is not None:
        settings = ", ".join(f"{k} `{v}`" for k, v in perturbation.as_dict().items())
        lines.append(f"- **Boxes perturbed**: {perturbation.describe()} ({settings}); every "
                     "pipeline segmented the same perturbed boxes, scored against the unchanged "
                     "ground truth (`box_perturbation.json`, `box_*` columns of the CSVs)")
    lines += ["", "## Segmentation quality", "", result.tables["quality"], "",
              "## Run time", "", result.tables["time"], "", result.tables["cases"], ""]
    present = [m for m in modality_order(result.summary) if m in PAPER_TABLE11]
    if present:
        header = ["Modality", "LiteMedSAM DSC", "LiteMedSAM NSD", "paper DSC", "paper NSD"]
        cells = [[m] + [f"{v:.2f}" for v in PAPER_TABLE11[m]] for m in present]
        lines += ["## For reference: the paper's validation numbers (Table 11, real challenge "
                  "data)", "", markdown_table(header, cells), ""]
    if len(result.pipelines) > 1:
        lines += [f"## Router decisions ({result.pipelines[1]})", "",
                  router_table(result.per_case, result.pipelines[1]), ""]
    if result.errors:
        lines += ["## Failed case runs", ""]
        lines += [f"- {e['pipeline']} `{e['name']}`: {e['error']}" for e in result.errors] + [""]
    if getattr(result, "notes", None):
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    if result.figures:
        lines += ["## Figures", ""]
        lines += [f"![{p.stem}](figures/{p.name})" for p in result.figures] + [""]
    lines += ["Files: `summary.csv` (these tables' numbers), `per_case.csv`, "
              "`predictions/<pipeline>/` (predictions + `run_log.jsonl`).", ""]
    return "\n".join(lines)
