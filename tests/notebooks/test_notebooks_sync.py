"""The notebooks' .py (jupytext percent) sources and their committed .ipynb twins agree.

The .py files are the source of truth; the .ipynb files are generated from them with
``jupytext --to ipynb --update notebooks/*.py`` and committed WITHOUT outputs. These tests
compare contents (never file modification times, which a git checkout scrambles), so they
give the same answer on a fresh clone as on the author's machine.

nbval itself (running the notebooks) is wired through pytest's ``--nbval-lax`` option on the
``notebooks/`` folder; this file only checks pairing, hygiene and the teaching form.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PY_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
IPYNB_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a reader sees of each cell: its type, its source and its tags."""
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_there_are_twelve_notebooks():
    assert len(PY_FILES) == 12, [p.name for p in PY_FILES]
    assert sorted(p.name[:2] for p in PY_FILES) == [f"{i:02d}" for i in range(12)]


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_py_has_an_ipynb_in_sync(py: Path):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `jupytext --to ipynb --update {py}`"
    from_py = jupytext.read(py, fmt="py:percent")
    committed = nbformat.read(ipynb, as_version=4)
    assert _cells(from_py) == _cells(committed), (
        f"{ipynb.name} is out of sync with {py.name}: run "
        f"`jupytext --to ipynb --update notebooks/{py.name}`")


@pytest.mark.parametrize("ipynb", IPYNB_FILES, ids=lambda p: p.name)
def test_ipynb_has_a_py_source(ipynb: Path):
    assert ipynb.with_suffix(".py").exists(), f"{ipynb.name} has no .py source"


@pytest.mark.parametrize("ipynb", IPYNB_FILES, ids=lambda p: p.name)
def test_committed_ipynb_is_clean(ipynb: Path):
    nb = nbformat.read(ipynb, as_version=4)
    nbformat.validate(nb)
    # Without a kernelspec JupyterLab opens a "Select Kernel" dialog.
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{ipynb.name} cell {i} carries outputs; commit it without"
            assert cell.execution_count is None, f"{ipynb.name} cell {i} has an execution count"


@pytest.mark.parametrize("py", PY_FILES, ids=lambda p: p.name)
def test_notebook_has_the_teaching_form(py: Path):
    """The Project Pythia form: overview, prerequisites, time to learn, a data box, sections,
    key points, what's next, references, glossary; 2-4 exercises, each a stub cell followed by
    a runnable solution cell tagged ``solution`` (``make student`` strips those)."""
    nb = jupytext.read(py, fmt="py:percent")
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    text = "\n".join(md)
    for heading in ("Overview", "Prerequisites", "Key points", "What's next", "References",
                    "Glossary"):
        assert re.search(rf"^#+ .*{re.escape(heading)}", text, re.I | re.M), \
            f"{py.name}: no '{heading}' section"
    assert re.search(r"time to learn", text, re.I), f"{py.name}: no time to learn"
    assert re.search(r"^> \*\*Data", text, re.M), f"{py.name}: no data box (> **Data.** ...)"
    exercises = re.findall(r"^\*\*Exercise \d", text, re.M)
    assert 2 <= len(exercises) <= 4, f"{py.name}: {len(exercises)} exercises"
    solutions = [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= len(exercises), f"{py.name}: an exercise has no solution cell"
    for i in solutions:
        assert nb.cells[i].cell_type == "code", f"{py.name}: solution cell {i} is not code"
    # Notebooks only call classicseg: no algorithm code. No classes; a function is glue (a
    # widget callback, a one-line helper) of at most 12 lines -- anything longer belongs in
    # the package, where it is tested.
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"^\s*class ", code, re.M), f"{py.name} defines a class"
    for match in re.finditer(r"^def (\w+).*?(?=^\S|\Z)", code, re.M | re.S):
        lines = [ln for ln in match.group(0).splitlines() if ln.strip()]
        assert len(lines) <= 12, f"{py.name}: {match.group(1)}() is {len(lines)} lines; " \
                                 "move it into classicseg"
