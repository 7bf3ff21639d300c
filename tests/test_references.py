"""References stay inside the repository: no citations of files outside it, and every
``docs/algorithms.md §n`` citation names a section that exists."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = ROOT / "docs" / "algorithms.md"
DATA = ROOT / "tests" / "data"

# Files that live outside the repository (the project's old reference notes and folders).
OUTSIDE = re.compile(r"ALGORITHMS\.md|SEMANTICS\.md|DATA_SOURCES\.md|shared/reference|\.\./shared")
# Real research images may be *read* from ../shared/realdata (never copied); that is allowed.
ALLOWED = re.compile(r"\.\./shared/realdata")
# "docs/algorithms.md §3", "``docs/algorithms.md`` §10, §15", "docs/algorithms.md §2, §6 and §7"
CITATION = re.compile(
    r"docs/algorithms\.md`{0,2}((?:\s*(?:,|;|/|and)?\s*§\s*\d+(?:\.\d+)*)+)")
SECTION = re.compile(r"§\s*(\d+(?:\.\d+)*)")
HEADING = re.compile(r"^#{1,6}\s+§?\s*(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _text_files(*roots: str, suffixes=(".py", ".md", ".txt", ".toml", ".yml", ".yaml", ".cfg")):
    out = []
    for name in roots:
        base = ROOT / name
        paths = [base] if base.is_file() else sorted(base.rglob("*"))
        out += [p for p in paths
                if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts]
    return out


def _outside_references(paths) -> list[str]:
    hits = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(ALLOWED.sub("", line)):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return hits


def _citations(paths) -> dict[str, list[str]]:
    """section -> the places citing it."""
    cited: dict[str, list[str]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for m in CITATION.finditer(text):
            n = text.count("\n", 0, m.start()) + 1
            for sec in SECTION.findall(m.group(1)):
                cited.setdefault(sec, []).append(f"{path.relative_to(ROOT)}:{n}")
    return cited


def test_package_cites_no_file_outside_the_repository():
    hits = _outside_references(_text_files("classicseg"))
    assert not hits, "cite docs/algorithms.md §n instead:\n" + "\n".join(hits)


def test_tests_notebooks_docs_cite_no_file_outside_the_repository():
    paths = _text_files("tests", "benchmarks", "docs", "binder", "README.md")
    paths += sorted((ROOT / "notebooks").glob("*.py"))
    paths = [p for p in paths if p != Path(__file__).resolve() and DATA not in p.parents]
    hits = _outside_references(paths)
    assert not hits, "cite docs/algorithms.md §n or tests/data/ instead:\n" + "\n".join(hits)


def test_the_patterns_catch_what_they_should():
    assert OUTSIDE.search("see ALGORITHMS.md §4")
    assert OUTSIDE.search("``shared/reference/x.npz``")
    assert not OUTSIDE.search(ALLOWED.sub("", "np.load('../shared/realdata/ph2.npz')"))
    found = [SECTION.findall(m.group(1)) for m in CITATION.finditer(
        "(docs/algorithms.md §2, §6 and §7) ... ``docs/algorithms.md`` §10.3; docs/algorithms.md")]
    assert found == [["2", "6", "7"], ["10.3"]]


def test_every_cited_section_of_docs_algorithms_exists():
    headings = set(HEADING.findall(ALGORITHMS.read_text(encoding="utf-8")))
    assert {str(n) for n in range(1, 18)} <= headings  # the numbered sections, 1..17
    cited = _citations(_text_files("classicseg"))
    assert cited, "the package cites no docs/algorithms.md section at all"
    missing = {sec: where for sec, where in cited.items() if sec not in headings}
    assert not missing, f"sections cited but not in docs/algorithms.md: {missing}"


def test_citations_outside_the_package_exist_too():
    headings = set(HEADING.findall(ALGORITHMS.read_text(encoding="utf-8")))
    paths = _text_files("tests", "benchmarks", "docs", "README.md")
    paths += sorted((ROOT / "notebooks").glob("*.py"))
    missing = {sec: where for sec, where in _citations(paths).items() if sec not in headings}
    assert not missing, f"sections cited but not in docs/algorithms.md: {missing}"


def test_parity_vectors_are_vendored_small_and_described():
    files = sorted(p for p in DATA.iterdir() if p.is_file() and p.name != "README.md")
    names = {p.name for p in files}
    assert {"ght_vectors.json", "metric_vectors.json", "metric_vectors.npz",
            "litemedsam_vectors.json", "litemedsam_vectors.npz"} <= names
    assert sum(p.stat().st_size for p in files) <= 10 * 2 ** 20
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    undescribed = [name for name in names if f"`{name}`" not in readme]
    assert not undescribed, f"tests/data/README.md must describe {undescribed}"


@pytest.mark.parametrize("stem", ["litemedsam_vectors"])
def test_vendored_npz_is_the_original(stem):
    """The .json next to the LiteMedSAM vectors records the SHA-256 of the file it describes."""
    meta = json.loads((DATA / f"{stem}.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((DATA / f"{stem}.npz").read_bytes()).hexdigest()
    assert digest == meta["file_sha256"]
    assert (DATA / f"{stem}.npz").stat().st_size == meta["file_bytes"]
