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
    OUT/box_perturbation.json     only with ``box_perturbation``: what was done to the boxes

With ``box_perturbation`` (:class:`classicseg.boxes.BoxPerturbation`, ``classicseg compare
--box-jitter/--box-scale/--box-shift``) every pipeline segments the same perturbed boxes
(seeded per case) and is scored against the unchanged ground truth.

The tables printed by ``classicseg compare`` are the markdown tables of ``report.md``, made
from the same numbers as ``summary.csv`` (so what is printed is what is stored).

Scoring rule: a case the baseline or the paper pipeline failed on scores DSC 0 / NSD 0
(challenge practice). A forced method (``methods=["kmeans"]``) only scores the cases it can
run (k-means on a CT volume is "not applicable", not a zero).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from ..boxes import BoxPerturbation
from ..io import (
    ChallengeFileError,
    list_case_files,
    load_case,
    load_ground_truth,
    load_prediction,
    manifest_synthetic_flags,
    scan_case_files,
)
from ..pipeline.core import Pipeline
from ..pipeline.runner import (
    RunOptions,
    dask_client,
    options_from_legacy,
    read_run_log,
    run_directory,
)
from . import report
from .evaluate import evaluate_directories, finite_mean, label_box_mismatch, summarize

__all__ = ["compare_directories", "CompareResult", "resolve_dirs", "command_line",
           "PerturbedPipeline"]


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
    notes: list[str] = field(default_factory=list)  # e.g. a worst case that could not be drawn
    #: input entries and ground-truth files that could not be used ("<file>: <reason>")
    skipped: list[str] = field(default_factory=list)
    #: per-case warnings, case name first ("<case>: <warning>"), each once
    warnings: list[str] = field(default_factory=list)
    #: what every pipeline's boxes went through (None: the boxes as given)
    box_perturbation: BoxPerturbation | None = None

    @property
    def complete(self) -> bool:
        """True when every case ran and was scored by every pipeline."""
        return not self.errors and not self.skipped

    def text(self) -> str:
        """The tables as printed by ``classicseg compare`` (identical to report.md's)."""
        parts = [self.tables["quality"], "", self.tables["time"]]
        if self.box_perturbation is not None:
            parts = [f"boxes perturbed: {self.box_perturbation.describe()}", ""] + parts
        if self.errors:
            parts += ["", f"{len(self.errors)} case run(s) failed:"]
            parts += [f"  {e['pipeline']} {e['name']}: {e['error']}" for e in self.errors]
        if self.skipped:
            parts += ["", f"{len(self.skipped)} file(s) not used:"]
            parts += [f"  {s}" for s in self.skipped]
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

def _last_rows(out_dir: Path) -> dict:
    """Newest log row per case (a resumed run appends; the last word counts)."""
    return {r.name: r for r in read_run_log(out_dir)}


def _per_case(pipeline: str, evaluation, log: dict, synthetic: dict[str, bool]) -> list[dict]:
    out = []
    for r in evaluation.rows:
        lr = log.get(r.name)
        ran = lr is None or lr.ok  # no log row: a prediction from elsewhere, scored as it is
        out.append({
            "pipeline": pipeline, "name": r.name, "modality": r.modality,
            "dsc": r.dsc, "nsd": r.nsd,
            "seconds": lr.seconds if lr is not None and lr.ok else None,
            "cold_seconds": lr.cold_seconds if lr is not None and lr.ok else None,
            "method": lr and lr.method, "n_boxes": lr and lr.n_boxes,
            "shape": "x".join(str(v) for v in (lr and lr.shape) or []),
            "status": r.status if ran else "run error",
            "error": (lr and lr.error) or "", "reason": (lr and lr.reason) or "",
            "synthetic": synthetic.get(r.name),
        })
    return out


def _summary(pipelines: list[str], per_case: list[dict], evaluations: dict) -> list[dict]:
    rows = []
    for name in pipelines:
        quality = summarize(evaluations[name].rows)  # the one Table 11 aggregation
        cases = [c for c in per_case if c["pipeline"] == name]
        for q in quality:
            mine = cases if q["modality"] == "Average" else \
                [c for c in cases if (c["modality"] or "unknown") == q["modality"]]
            rows.append({"pipeline": name, "modality": q["modality"], "n": q["n"], "dsc": q["dsc"],
                         "nsd": q["nsd"], "seconds": finite_mean(c["seconds"] for c in mine),
                         "cold_seconds": finite_mean(c["cold_seconds"] for c in mine)})
    # "Average" time = mean of the modality means, as for DSC/NSD (paper's averaging rule)
    for name in pipelines:
        mods = [r for r in rows if r["pipeline"] == name and r["modality"] != "Average"]
        for r in rows:
            if r["pipeline"] == name and r["modality"] == "Average":
                r["seconds"] = finite_mean(m["seconds"] for m in mods)
                r["cold_seconds"] = finite_mean(m["cold_seconds"] for m in mods)
    base = {r["modality"]: r for r in rows if r["pipeline"] == pipelines[0]}
    for r in rows:
        b = base.get(r["modality"])
        r["speedup"] = (b["seconds"] / r["seconds"]) if b and r["seconds"] and r["seconds"] > 0 \
            and not math.isnan(b["seconds"]) and not math.isnan(r["seconds"]) else math.nan
    return rows


# ---------------------------------------------------------------------- worst cases

@dataclass
class WorstCase:
    """One of the cases the paper pipeline did worst on, with every pipeline's prediction --
    what :func:`classicseg.viz.comparison_figures` draws side by side."""

    name: str
    rank: int
    pipeline: str
    image: np.ndarray
    gt: np.ndarray
    boxes: np.ndarray
    results: dict
    scores: dict
    times: dict
    synthetic: bool


def worst_cases(result: "CompareResult", imgs: Path, gts: Path, *, n: int = 3,
                synthetic: dict | None = None) -> tuple[list[WorstCase], list[str]]:
    """The ``n`` lowest-DSC cases of the paper pipeline (``pipelines[1]``; forced methods are
    not ranked), each with every prediction that exists on disk, and a note per case that could
    not be read (a corrupt case never stops the report)."""
    synthetic = synthetic or {}
    target = result.pipelines[1] if len(result.pipelines) > 1 else result.pipelines[0]
    ranked = sorted((c for c in result.per_case
                     if c["pipeline"] == target and not math.isnan(c["dsc"])),
                    key=lambda c: c["dsc"])
    rows = {(r["pipeline"], r["name"]): r for r in result.per_case}
    out, notes = [], []
    for c in ranked:
        if len(out) == n:
            break
        try:
            case = load_case(imgs / f"{c['name']}.npz", allow_extra_keys=True)
            if result.box_perturbation is not None:  # draw the boxes the pipelines were given
                case = _perturbed_case(case, result.box_perturbation)
            gt_file = gts / f"{c['name']}.npz"
            gt = load_ground_truth(gt_file)[0] if gt_file.is_file() else case.gts
            preds = {p: result.out_dir / "predictions" / p / f"{c['name']}.npz"
                     for p in result.pipelines}
            results = {p: load_prediction(f, shape=case.spatial_shape)
                       for p, f in preds.items() if f.is_file()}
        except ChallengeFileError as e:
            notes.append(f"worst-case figure skipped: {e}")
            continue
        if not results or gt is None:
            continue
        out.append(WorstCase(
            c["name"], len(out) + 1, target, case.image, gt, case.boxes, results,
            {p: {"dsc": rows[p, c["name"]]["dsc"], "nsd": rows[p, c["name"]]["nsd"]}
             for p in results},
            {p: rows[p, c["name"]]["seconds"] for p in results
             if rows[p, c["name"]]["seconds"] is not None},
            bool(synthetic.get(c["name"], any(synthetic.values())))))
    return out, notes


# ---------------------------------------------------------------------- perturbed boxes

def _perturbed_case(case, perturbation: BoxPerturbation):
    """``case`` with its boxes perturbed: same name (so the ground truth matches), image, gts."""
    if case.n_boxes == 0:
        return case
    return replace(case, boxes=perturbation.apply(case.boxes, case.spatial_shape, name=case.name))


@dataclass
class PerturbedPipeline(Pipeline):
    """A :class:`~classicseg.pipeline.core.Pipeline` that perturbs each case's boxes first.

    The jitter is seeded by the case name (:meth:`BoxPerturbation.rng
    <classicseg.boxes.BoxPerturbation.rng>`), so every pipeline, worker and rerun gets the
    same boxes; the case keeps its name, so it is scored against its own ground truth.
    """

    box_perturbation: BoxPerturbation = field(default_factory=BoxPerturbation)

    @classmethod
    def wrap(cls, pipe: Pipeline, perturbation: BoxPerturbation) -> "PerturbedPipeline":
        """The same settings as ``pipe`` (a plain :class:`Pipeline`), boxes perturbed."""
        return cls(**{f.name: getattr(pipe, f.name) for f in fields(Pipeline)},
                   box_perturbation=perturbation)

    def segment(self, case):
        res = super().segment(_perturbed_case(case, self.box_perturbation))
        res.extra["box_perturbation"] = self.box_perturbation.as_dict()
        return res

    __call__ = segment


_PERTURBATION_FILE = "box_perturbation.json"


def _check_perturbation_record(out: Path, perturbation: BoxPerturbation | None,
                               overwrite: bool) -> None:
    """Refuse to mix predictions made with other boxes; record this run's perturbation."""
    record = out / _PERTURBATION_FILE
    wanted = perturbation.as_dict() if perturbation is not None else None
    if not overwrite:
        had = json.loads(record.read_text()) if record.is_file() else None
        if had != wanted and (had is not None or (out / "predictions").is_dir()):
            def shown(d):
                return "the boxes as given" if d is None else \
                    "perturbed boxes (" + ", ".join(f"{k} {v}" for k, v in d.items()) + ")"
            raise ValueError(f"{out}: its predictions were made with {shown(had)}, this run asks "
                             f"for {shown(wanted)}; add overwrite (--overwrite) to recompute them")
    if wanted is None:
        if record.is_file():  # overwrite: the old record no longer describes the predictions
            record.unlink()
        return
    out.mkdir(parents=True, exist_ok=True)
    report.write_text(record, json.dumps(wanted, indent=1) + "\n")


# ---------------------------------------------------------------------- main entry

def _failed(pipeline: str, summary) -> list[dict]:
    return [{"pipeline": pipeline, **e.as_dict()} for e in summary.errors]


def _not_applicable(errors: list[dict], forced) -> tuple[list[dict], list[str]]:
    """(the failed runs, notes): a forced method the router refused for a case
    (:class:`~classicseg.pipeline.router.MethodNotApplicable`, e.g. GrabCut on a volume) is
    left out for that case with a note, not counted as a failed run."""
    from ..pipeline.router import MethodNotApplicable

    tag = f"{MethodNotApplicable.__name__}: "
    left_out = [e for e in errors if e["pipeline"] in forced
                and str(e.get("error") or "").startswith(tag)]
    notes = [f"not applicable: {e['pipeline']} on {e['error'][len(tag):]}" for e in left_out]
    return [e for e in errors if e not in left_out], notes


def _run_interleaved(imgs: Path, out: Path, pipes: list[Pipeline], opts: RunOptions) -> list[dict]:
    """Serial runs, case by case and within a case pipeline by pipeline: on a shared machine
    whose load drifts, every pipeline sees the same conditions for the same case, so the
    time ratios stay fair. Returns the failed runs."""
    from tqdm.auto import tqdm

    stems = [p.name[:-4] for p in list_case_files(imgs)]
    errors = []
    with tqdm(total=len(stems) * len(pipes), desc="classicseg compare", unit="run",
              disable=not opts.progress or None, file=sys.stderr) as bar:
        for stem in stems:
            for pipe in pipes:
                summary = run_directory(imgs, out / "predictions" / pipe.name, pipe,
                                        options=opts.replace(progress=False, names=(stem,)))
                errors += _failed(pipe.name, summary)
                bar.set_postfix_str(f"{stem} {pipe.name}")
                bar.update(1)
    return errors


def _run_on_cluster(imgs: Path, out: Path, pipes: list[Pipeline], opts: RunOptions) -> list[dict]:
    """One Dask cluster for every pipeline (all cases of a pipeline at once; interleaving
    buys nothing there). Returns the failed runs."""
    client, cluster = opts.client, None
    if client is None:
        client, cluster = dask_client(opts.workers, opts.scheduler)
    errors = []
    try:
        for pipe in pipes:
            summary = run_directory(imgs, out / "predictions" / pipe.name, pipe,
                                    options=opts.replace(client=client))
            errors += _failed(pipe.name, summary)
    finally:
        if opts.client is None:  # ours: close it; a given client is left open
            client.close()
        if cluster is not None:
            cluster.close()
    return errors


def _backend_notes(logs: dict) -> list[str]:
    """One note per pipeline and LiteMedSAM backend that ran: which, and why (the run logs)."""
    seen = {}
    for pipeline, rows in logs.items():
        for r in rows.values():
            if getattr(r, "backend", None):
                seen.setdefault((pipeline, r.backend), r.backend_reason or "")
    return [f"LiteMedSAM backend ({pipeline}): {backend} -- {reason}"
            for (pipeline, backend), reason in seen.items()]


def compare_directories(in_dir, gt_dir=None, out_dir=None, *, paper: Pipeline | None = None,
                        baseline: Pipeline | None = None, methods=(),
                        options: RunOptions | None = None, flavour: str = "challenge",
                        resume: bool = False, figures=None, worst: int = 3,
                        command: str | None = None,
                        box_perturbation: BoxPerturbation | None = None,
                        **legacy) -> CompareResult:
    """Run baseline, paper pipeline (and ``methods``) on the same cases and write a report.

    Parameters
    ----------
    in_dir : path-like
        Images folder, or a folder with ``imgs/`` and ``gts/`` (``data_samples/``).
    gt_dir : path-like, optional
        Ground truth (default: ``in_dir/gts`` or the image files' own ``gts``).
    out_dir : path-like, optional
        Report folder; default ``reports/<name of in_dir>``. An existing report is refused
        unless ``options.overwrite`` (recompute everything) or ``resume`` (keep the
        predictions that exist, run the rest, rewrite the report).
    paper, baseline : Pipeline, optional
        The two pipelines (defaults ``Pipeline()`` and ``Pipeline(mode="baseline")``).
    methods : iterable of str
        Extra pipelines forcing one method on every case (``"kmeans"``, ``"ght"``, ...).
    options : RunOptions, optional
        How the cases run, as for :func:`~classicseg.pipeline.runner.run_directory`; one
        Dask cluster serves every pipeline. ``names`` is not supported (every case is
        scored). The 0.1 keywords (``overwrite=``, ``workers=``, ...) still work for one
        release, with a DeprecationWarning.
    flavour : {"challenge", "correct"}
        Metric flavour (:mod:`classicseg.metrics`).
    resume : bool
        Reuse the predictions of an existing report.
    figures : callable, optional
        ``figures(fig_dir, result, worst_cases) -> list of paths`` draws the report's figures
        -- pass :func:`classicseg.viz.comparison_figures` (what ``classicseg compare`` does);
        drawing lives above this layer. They are drawn after the CSVs are written, and a
        figure that fails is noted in the report instead of stopping it.
    command : str, optional
        The command line recorded in ``report.md``.
    box_perturbation : BoxPerturbation, optional
        Perturb every case's boxes the same way for every pipeline (ground truth unchanged);
        the report, the CSVs (``box_*`` columns) and ``box_perturbation.json`` say how.
        Not with ``options.cold`` (a fresh process rebuilds a plain pipeline). A report made
        with other boxes is not resumed.
    """
    opts = options_from_legacy(options, legacy, caller="compare_directories")
    if figures and not callable(figures):  # 0.1 took figures=True; drawing now lives in viz
        raise TypeError("figures must be a callable such as classicseg.viz.comparison_figures, "
                        "or None")
    if opts.names is not None:
        raise ValueError("compare_directories scores every case of in_dir; "
                         "options.names is not supported")
    t_start = time.perf_counter()
    imgs, gts = resolve_dirs(in_dir, gt_dir)
    out = Path(out_dir) if out_dir is not None else Path("reports") / Path(in_dir).resolve().name
    if (out / "report.md").exists() and not (opts.overwrite or resume):
        raise FileExistsError(f"{out / 'report.md'} exists; pass overwrite=True (--overwrite) to "
                              "recompute it or resume=True (--resume) to reuse its predictions")
    if box_perturbation is not None and box_perturbation.identity:
        box_perturbation = None  # the boxes as given: exactly the unperturbed comparison
    if box_perturbation is not None and opts.cold:
        raise ValueError("box_perturbation cannot be combined with cold=True: the cold-start "
                         "process rebuilds a plain pipeline from its options")
    baseline = baseline or Pipeline(mode="baseline")
    paper = paper or Pipeline()
    pipes = [baseline, paper] + [Pipeline(method=m, name=str(m), s=paper.s, modality=paper.modality,
                                          models=paper.models) for m in methods]
    if box_perturbation is not None:
        pipes = [PerturbedPipeline.wrap(p, box_perturbation) for p in pipes]
    names = [p.name for p in pipes]
    if len(set(names)) != len(names):
        raise ValueError(f"pipeline names must differ, got {names}")
    synthetic = manifest_synthetic_flags(Path(in_dir))
    _check_perturbation_record(out, box_perturbation, opts.overwrite)

    run = _run_on_cluster if opts.distributed else _run_interleaved
    errors = run(imgs, out, pipes, opts)
    errors, not_applicable = _not_applicable(errors, set(names[2:]))
    evaluations, per_case, logs = {}, [], {}
    for i, pipe in enumerate(pipes):
        pred_dir = out / "predictions" / pipe.name
        # baseline and paper: a failed case scores 0; a forced method skips what it cannot run
        missing = "zero" if i < 2 else "skip"
        evaluations[pipe.name] = evaluate_directories(pred_dir, gts, flavour=flavour,
                                                      missing=missing, progress=False)
        logs[pipe.name] = _last_rows(pred_dir)
        per_case += _per_case(pipe.name, evaluations[pipe.name], logs[pipe.name], synthetic)

    summary_rows = _summary(names, per_case, evaluations)
    tables = report.tables(names, summary_rows, per_case, flavour=flavour, cold=opts.cold)
    synthetic_any = any(v for v in synthetic.values())
    result = CompareResult(out, names, per_case, summary_rows, tables, errors=errors,
                           box_perturbation=box_perturbation)
    _collect_problems(result, imgs, evaluations, logs[paper.name])
    result.notes += not_applicable
    result.notes[:0] = _backend_notes(logs)
    box_fields = []
    if box_perturbation is not None:  # each CSV row says which boxes it was measured on
        box_fields = list(box_perturbation.as_dict())
        for row in summary_rows + per_case:
            row.update(box_perturbation.as_dict())
    report.write_text(out / "summary.csv",
                      report.csv_text(summary_rows, report.SUMMARY_FIELDS + box_fields))
    report.write_text(out / "per_case.csv",
                      report.csv_text(per_case, report.CASE_FIELDS + box_fields))
    if figures and per_case:
        with warnings.catch_warnings():  # reloading a case repeats warnings already reported
            warnings.simplefilter("ignore")
            cases, notes = worst_cases(result, imgs, gts, n=worst, synthetic=synthetic)
        result.notes += notes
        try:
            result.figures = list(figures(out / "figures", result, cases))
        except Exception as e:  # a figure is a nicety; the tables must always be written
            result.notes.append(f"figures not drawn: {type(e).__name__}: {e}")
    result.wall_seconds = time.perf_counter() - t_start
    report.write_text(out / "report.md", report.report_markdown(
        result, imgs=imgs, gts=gts, flavour=flavour, synthetic=synthetic_any, command=command,
        execution=report.execution_text(opts)))
    return result


def _collect_problems(result: CompareResult, imgs: Path, evaluations: dict, log: dict) -> None:
    """Fill ``result.skipped`` (input entries not used, ground truth not readable) and
    ``result.warnings`` (scoring warnings, ground truth that disagrees with the boxes), each
    once, and note them in the report."""
    skipped = [str(e) for e in scan_case_files(imgs)[1]]
    warned: list[str] = []
    for ev in evaluations.values():
        skipped += [f"{s.path}: {s.reason}" for s in ev.skipped
                    if s.reason.startswith("unreadable ground truth")]
        warned += ev.warnings
    for row in evaluations[result.pipelines[1] if len(result.pipelines) > 1 else
                           result.pipelines[0]].rows:
        lr = log.get(row.name)
        problem = label_box_mismatch(row.n_labels, lr.n_boxes if lr is not None else None)
        if problem:
            warned.append(f"{row.name}: {problem}")
    result.skipped = list(dict.fromkeys(skipped))
    result.warnings = list(dict.fromkeys(warned))
    result.notes += [f"not used: {s}" for s in result.skipped]
    result.notes += [f"warning: {w}" for w in result.warnings]


def command_line() -> str:
    """The current command line, quoted, for the report."""
    return " ".join(shlex.quote(a) for a in ["classicseg"] + sys.argv[1:])


def __getattr__(name):
    # 0.1 kept the paper's reference table here; it lives with the other tables now.
    if name == "PAPER_TABLE11":
        warnings.warn("classicseg.evaluation.compare.PAPER_TABLE11 moved to "
                      "classicseg.evaluation.report.PAPER_TABLE11; the old path goes away in "
                      "classicseg 0.3", DeprecationWarning, stacklevel=2)
        return report.PAPER_TABLE11
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
