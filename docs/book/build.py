"""Build the lesson book: ``build/executed/*.ipynb`` -> ``build/book/html`` (``make book``).

1. Stage the sources in ``build/book/src``: this folder's ``index.md`` (plus a generated table
   of the lessons with their measured run time and peak memory), ``docs/workshop.md`` and one
   executed copy per lesson as ``notebooks/<name>.ipynb`` (the repository path, so the Binder
   buttons open the right file).
2. A lesson's executed copy is the one nbval left in ``build/executed/`` (tools/nbcapture.py)
   when it ran every cell of the current source; otherwise the lesson is executed once here
   (nbclient, errors kept in the page so the book's browser test reports them) and saved there.
3. ``sphinx-build -c docs/book``: warnings (e.g. links to files outside the book) are printed,
   an ``ERROR``/``CRITICAL`` message or a failed build fails this script.

Usage: ``python docs/book/build.py [--out build/book] [--executed build/executed]
[--no-execute]`` (``--no-execute``: lessons without a current executed copy are rendered from
their source, without outputs -- a quick look at the layout).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from classicseg.io import atomic_write

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BINDER = "https://mybinder.org/v2/gh/{org_repo}/{ref}?urlpath=lab/tree/notebooks/00_tour.ipynb"


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def executed_copy(src: Path, executed: Path, timings: dict, *,
                  execute: bool = True) -> tuple[Path, str]:
    """The executed copy of lesson ``src`` (running it now if nbval's copy is missing/stale;
    with ``execute=False`` the source itself, without outputs)."""
    name = src.stem
    cand = executed / f"{name}.ipynb"
    if cand.is_file() and timings.get(name, {}).get("complete"):
        if _code(nbformat.read(cand, as_version=4)) == _code(nbformat.read(src, as_version=4)):
            return cand, "nbval"
    if not execute:
        return src, "NOT executed (no current copy in build/executed; --no-execute)"
    from nbclient import NotebookClient

    nb = nbformat.read(src, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(src.parent)}}).execute()
    atomic_write(cand, lambda f: f.write(nbformat.writes(nb).encode()), overwrite=True)
    return cand, f"executed now ({time.perf_counter() - t0:.0f} s)"


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


def lessons_table(pages: dict[Path, bool], timings: dict) -> str:
    """Markdown table of the lessons; run time and kernel peak RSS (timings.json) for the pages
    rendered from nbval's executed copy (``pages``: page -> whether it was)."""
    rows = ["| Lesson | Runs in (s) | Kernel peak memory (MiB) |", "|---|---:|---:|"]
    for page, measured in pages.items():
        t = timings.get(page.stem, {}) if measured else {}
        title = _title(nbformat.read(page, as_version=4), page.stem).replace("|", "\\|")
        wall = f"{t['wall_s']:.0f}" if t else "–"
        rss = f"{t['peak_rss_mib']:.0f}" if t else "–"
        rows.append(f"| [{title}](notebooks/{page.stem}.ipynb) | {wall} | {rss} |")
    return "\n".join(rows)


def stage(src_dir: Path, executed: Path, *, execute: bool = True) -> list[str]:
    """Write the book's sources into ``src_dir``; return one log line per lesson."""
    if src_dir.exists():
        shutil.rmtree(src_dir)
    (src_dir / "notebooks").mkdir(parents=True)
    try:
        timings = json.loads((executed / "timings.json").read_text())
    except (OSError, ValueError):
        timings = {}
    log, pages = [], {}
    for lesson in sorted((REPO / "notebooks").glob("*.ipynb")):
        copy, how = executed_copy(lesson, executed, timings, execute=execute)
        page = src_dir / "notebooks" / lesson.name
        shutil.copyfile(copy, page)
        pages[page] = how == "nbval"
        log.append(f"  {lesson.name}: {how}")
    shutil.copyfile(REPO / "docs" / "workshop.md", src_dir / "workshop.md")
    url = os.environ.get("CLASSICSEG_REPO_URL", "https://github.com/classicseg/classicseg")
    org_repo = "/".join(url.rstrip("/").split("/")[-2:])
    index = (HERE / "index.md").read_text().replace(
        "BINDER_TOUR_URL", BINDER.format(org_repo=org_repo,
                                         ref=os.environ.get("CLASSICSEG_BOOK_REF", "HEAD")))
    index = index.replace("LESSONS_TABLE", lessons_table(pages, timings))
    (src_dir / "index.md").write_text(index)
    return log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "book")
    parser.add_argument("--executed", type=Path, default=REPO / "build" / "executed")
    parser.add_argument("--no-execute", action="store_true",
                        help="render lessons without a current executed copy unexecuted")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print("\n".join(["book: lessons"] + stage(args.out / "src", args.executed,
                                                 execute=not args.no_execute)))
    html = args.out / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "auto",
                           "-c", str(HERE), "-d", str(args.out / "doctrees"),
                           str(args.out / "src"), str(html)],
                          capture_output=True, text=True)
    messages = proc.stdout + proc.stderr
    if messages.strip():
        print(messages.rstrip())
    errors = [ln for ln in messages.splitlines() if re.search(r"\b(ERROR|CRITICAL|SEVERE)\b", ln)]
    if proc.returncode or errors:
        print(f"book: FAILED (sphinx exit {proc.returncode}, {len(errors)} error message(s))",
              file=sys.stderr)
        return proc.returncode or 1
    print(f"book: {html}/index.html ({time.perf_counter() - t0:.1f} s)")
    realdata = Path(os.environ.get("CLASSICSEG_REALDATA", REPO.parent / "shared" / "realdata"))
    if realdata.is_dir():
        # Only the HC18 cases may be redistributed; a lesson run with the research-only data
        # present may show it in a figure. The book is a local artefact then (build/ is ignored).
        print(f"book: NOTE: built with research-only real data present ({realdata}); "
              "do not publish this build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
