"""Score a directory of predictions against ground truth (DSC, NSD).

Pairs files by name: every ``*.npz`` in ``gt_dir`` is a case (a standalone ``gts`` file, or an
image file that also holds ``gts``); its prediction is ``pred_dir/<same name>`` with key ``segs``.
Scores follow :mod:`classicseg.metrics` (``flavour="challenge"`` reproduces the official CVPR24
script). Rules for files that are not there or not usable:

* missing or unreadable **prediction** -> the case scores DSC 0 / NSD 0 and is listed as
  skipped. This is how the challenge ranks a case a container failed on (the official
  ``compute_metrics.py`` itself would stop with an exception); pass ``missing="skip"`` to leave
  such cases out of the means instead.
* unreadable **ground truth** -> the case cannot be scored: listed, not in the means.
* prediction files without ground truth are listed as ignored.

The summary follows the paper's Table 11: one row per modality (in :data:`~classicseg.io.MODALITIES`
order; unparsable names under "unknown"), the mean over that modality's cases (NaN case DSCs --
e.g. all-background ground truth -- are left out, as the official CSV leaves them empty), and an
"Average" row that is the mean of the modality means (how the paper averages).

Examples
--------
>>> rows = [CaseRow("2DBox_US_1", "US", 0.9, 0.95, 1, 0.01),
...         CaseRow("3DBox_CT_1", "CT", 0.8, 0.85, 2, 0.2)]
>>> print(format_table(summarize(rows), flavour="challenge").splitlines()[3])
CT              80.00    85.00      1
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..io import MODALITIES, ChallengeFileError, atomic_write, parse_modality, scan_case_files
from .report import csv_text, format_percent

__all__ = ["CaseRow", "SkippedFile", "EvaluationReport", "evaluate_directories", "summarize",
           "format_table", "write_csv", "MISSING_POLICIES", "label_box_mismatch"]

_FLAVOUR_NOTES = {
    "challenge": "official CVPR24 compute_metrics.py: 2D as one-slice slabs, 3D spacing in "
                 "(x, y, z) order",
    "correct": "2D contour NSD, 3D spacing reordered to (z, y, x)",
}
MISSING_POLICIES = ("zero", "skip")


@dataclass
class CaseRow:
    """One scored case. ``status`` is "ok", "missing prediction" or "unreadable prediction"."""

    name: str
    modality: str | None
    dsc: float
    nsd: float
    n_labels: int
    seconds: float
    status: str = "ok"


@dataclass
class SkippedFile:
    """A file that could not be used as intended, and why (``scored_as_zero``: counted as
    DSC/NSD 0)."""

    path: str
    reason: str
    scored_as_zero: bool = False


@dataclass
class EvaluationReport:
    """Result of :func:`evaluate_directories`."""

    rows: list[CaseRow]
    skipped: list[SkippedFile] = field(default_factory=list)
    flavour: str = "challenge"
    pred_dir: str = ""
    gt_dir: str = ""
    #: warnings raised while scoring, case name first (``"<case>: <warning>"``), each once
    warnings: list[str] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        return sum(r.status == "ok" for r in self.rows)

    @property
    def complete(self) -> bool:
        """True when every case was scored against a prediction that was there: no missing or
        unreadable file (a prediction without ground truth is only ignored)."""
        return all(r.status == "ok" for r in self.rows) and all(
            s.reason.startswith(_IGNORED) for s in self.skipped)

    def summary(self) -> list[dict]:
        return summarize(self.rows)

    def table(self) -> str:
        return format_table(self.summary(), flavour=self.flavour, report=self)


_IGNORED = "prediction without a ground-truth file"


def label_box_mismatch(n_labels: int | None, n_boxes: int | None) -> str | None:
    """The problem when ground truth numbers its objects differently from the boxes (label
    ``i + 1`` belongs to box ``i``), else None -- such scores compare the wrong objects.

    >>> label_box_mismatch(3, 2)
    'the ground truth has labels 1..3 but the image has 2 box(es); label i + 1 is scored \
against box i, so these scores may compare the wrong objects'
    >>> label_box_mismatch(2, 2) is None, label_box_mismatch(2, None) is None
    (True, True)
    """
    if n_labels is None or n_boxes is None or n_labels == n_boxes:
        return None
    return (f"the ground truth has labels 1..{n_labels} but the image has {n_boxes} box(es); "
            "label i + 1 is scored against box i, so these scores may compare the wrong objects")


def _case_name(path: Path) -> str:
    return path.name[:-4] if path.name.lower().endswith(".npz") else path.stem


def evaluate_directories(pred_dir, gt_dir, *, flavour: str = "challenge", missing: str = "zero",
                         progress: bool | None = None) -> EvaluationReport:
    """Score every ground-truth case of ``gt_dir`` against its prediction in ``pred_dir``.

    Parameters
    ----------
    pred_dir, gt_dir : path-like
        Folders of challenge ``.npz`` files, paired by file name.
    flavour : {"challenge", "correct"}
        Metric geometry, see :mod:`classicseg.metrics`.
    missing : {"zero", "skip"}
        A missing/unreadable prediction scores DSC 0 / NSD 0 (challenge practice), or is left out.
    progress : bool, optional
        tqdm bar; None shows it for more than 5 cases when writing to a terminal.

    Returns
    -------
    EvaluationReport
        ``rows`` (per case: name, modality, dsc, nsd, n_labels, seconds, status) and ``skipped``.
    """
    from ..metrics import FLAVOURS

    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    gt_files, gt_unusable = scan_case_files(gt_dir)
    pred_files, pred_unusable = scan_case_files(pred_dir)
    report = EvaluationReport(rows=[], flavour=flavour, pred_dir=str(pred_dir), gt_dir=str(gt_dir))
    for entry in gt_unusable:
        report.skipped.append(SkippedFile(str(entry.path), f"unreadable ground truth, case not "
                                                           f"scored: {entry.reason}"))
    for entry in pred_unusable:  # its case, if any, is then scored as a missing prediction
        report.skipped.append(SkippedFile(str(entry.path), f"not used: {entry.reason}"))
    gt_names = {p.name for p in gt_files}
    for p in pred_files:
        if p.name not in gt_names:
            report.skipped.append(SkippedFile(str(p), f"{_IGNORED}; ignored"))

    bar = None
    if progress or (progress is None and len(gt_files) > 5):
        from tqdm.auto import tqdm

        bar = tqdm(total=len(gt_files), desc="evaluate", unit="case",
                   disable=None if progress is None else False)
    try:
        for gt_path in gt_files:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                _evaluate_one(gt_path, pred_dir / gt_path.name, report, missing=missing)
            for w in caught:  # reported by the package, case name first, not as raw warnings
                text = f"{_case_name(gt_path)}: {w.message}"
                if text not in report.warnings:
                    report.warnings.append(text)
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return report


def _evaluate_one(gt_path: Path, pred_path: Path, report: EvaluationReport, *,
                  missing: str) -> None:
    """Score one case into ``report`` (a row and/or a skipped entry)."""
    from ..io import load_ground_truth, load_prediction
    from ..metrics import score_case

    name = _case_name(gt_path)
    t0 = time.perf_counter()
    try:
        gts, spacing = load_ground_truth(gt_path)
    except ChallengeFileError as e:
        report.skipped.append(SkippedFile(str(gt_path), f"unreadable ground truth, case not "
                                                        f"scored: {e.problem}"))
        return
    problem = None
    if not pred_path.is_file():
        problem = ("missing prediction", "no prediction file")
    else:
        try:
            segs = load_prediction(pred_path, shape=gts.shape)
        except ChallengeFileError as e:
            problem = ("unreadable prediction", e.problem)
    if problem is None:
        try:
            s = score_case(gts, segs, name=name, spacing=spacing if gts.ndim == 3 else None,
                           flavour=report.flavour, nsd_when_gated=False)
        except ValueError as e:  # defensive: one odd case must not stop a long evaluation
            report.skipped.append(SkippedFile(str(gt_path), f"could not be scored: {e}"))
            return
        report.rows.append(CaseRow(name, parse_modality(name), s["dsc"], s["nsd"], len(s["labels"]),
                                   time.perf_counter() - t0))
        return
    status, why = problem
    zero = missing == "zero"
    what = "scored DSC 0 / NSD 0" if zero else "case left out"
    report.skipped.append(SkippedFile(str(pred_path), f"{why}; {what}", zero))
    if zero:
        n_labels = int(gts.max()) if gts.size else 0
        report.rows.append(CaseRow(name, parse_modality(name), 0.0, 0.0, n_labels,
                                   time.perf_counter() - t0, status))


def finite_mean(values) -> float:
    """Mean of the values that are not None or NaN (NaN if none is left).

    >>> finite_mean([0.5, float("nan"), None, 1.0]), finite_mean([])
    (0.75, nan)
    """
    vals = [float(v) for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def summarize(rows) -> list[dict]:
    """Per-modality means: list of ``{"modality", "dsc", "nsd", "n"}`` plus a final "Average" row.

    Modalities in :data:`~classicseg.io.MODALITIES` order (only those present; names without a
    parsable modality go under "unknown"). NaN case scores are left out of a mean (as the official
    CSV leaves them empty); ``n`` counts every case. "Average" is the mean of the modality means,
    as the paper's Table 11 averages, and its ``n`` is the total number of cases.
    """
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r.modality or "unknown", []).append(r)
    order = [m for m in MODALITIES if m in groups] + sorted(m for m in groups
                                                            if m not in MODALITIES)
    table = [{"modality": m, "dsc": finite_mean(r.dsc for r in groups[m]),
              "nsd": finite_mean(r.nsd for r in groups[m]), "n": len(groups[m])} for m in order]
    if table:
        table.append({"modality": "Average", "dsc": finite_mean(t["dsc"] for t in table),
                      "nsd": finite_mean(t["nsd"] for t in table), "n": sum(t["n"] for t in table)})
    return table


def format_table(summary: list[dict], *, flavour: str,
                 report: EvaluationReport | None = None) -> str:
    """Text table like the paper's Table 11 (percent, 2 decimals); the header names the flavour."""
    lines = [f"DSC / NSD (%), metric flavour: {flavour} ({_FLAVOUR_NOTES.get(flavour, '?')})",
             f"{'Modality':<12} {'DSC':>8} {'NSD':>8} {'cases':>6}",
             "-" * 37]
    for t in summary:
        if t["modality"] == "Average":
            lines.append("-" * 37)
        dsc, nsd = format_percent(t["dsc"]), format_percent(t["nsd"])
        lines.append(f"{t['modality']:<12} {dsc:>8} {nsd:>8} {t['n']:>6}")
    if not summary:
        lines.append("(no cases)")
    if report is not None:
        n_zero = sum(s.scored_as_zero for s in report.skipped)
        zeros = f" ({n_zero} missing/unreadable predictions scored DSC 0 / NSD 0)" if n_zero else ""
        lines.append(f"{report.n_scored} cases scored; {len(report.skipped)} file(s) skipped"
                     + zeros)
        lines.extend(f"  skipped {s.path}: {s.reason}" for s in report.skipped)
    return "\n".join(lines)


_CSV_FIELDS = ["name", "modality", "dsc", "nsd", "n_labels", "seconds", "status"]


def write_csv(rows, path, *, overwrite: bool = False) -> Path:
    """Write per-case rows as CSV atomically (temp file + rename); NaN becomes an empty cell.

    Raises ``FileExistsError`` if ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    text = csv_text([asdict(r) for r in rows], _CSV_FIELDS)
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")), overwrite=True)
