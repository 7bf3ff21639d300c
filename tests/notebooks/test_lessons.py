"""``make student`` / ``make instructor`` (tools/lessons.py) and the exercise convention.

Convention: an exercise is a markdown task, a stub code cell, then its solution in a code cell
tagged ``solution``. The student copy drops exactly the solution cells (a note takes their
place), keeps every stub and is a valid notebook; every lesson has at least one exercise whose
solution follows its stub.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

REPO = Path(__file__).resolve().parents[2]
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _load_tool():
    spec = importlib.util.spec_from_file_location("classicseg_lessons_tool",
                                                  REPO / "tools" / "lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lessons = _load_tool()


def _sol(source: str):
    return new_code_cell(source, metadata={"tags": ["solution"]})


@pytest.fixture
def fixture_nb():
    """Two exercises (stub, solution), one with a second tag; a plain cell with outputs."""
    run = new_code_cell("print(1)", execution_count=1,
                        outputs=[new_output("stream", name="stdout", text="1\n")])
    return new_notebook(cells=[
        new_markdown_cell("# Lesson"), run,
        new_markdown_cell("**Exercise 1.** Compute x."), new_code_cell("x = ...  # your code"),
        _sol("x = 41 + 1\nassert x == 42"),
        new_markdown_cell("**Exercise 2.**"), new_code_cell("raise NotImplementedError"),
        new_code_cell("y = 2", metadata={"tags": ["hide-input", "solution"]}),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def test_strip_removes_exactly_the_solution_cells(fixture_nb):
    student = lessons.strip_solutions(fixture_nb)
    nbformat.validate(student)
    assert len(student.cells) == len(fixture_nb.cells)
    sources = [c.source for c in student.cells if c.cell_type == "code"]
    assert sources == ["print(1)", "x = ...  # your code", "raise NotImplementedError"]
    notes = [c for c in student.cells if c.source == lessons.SOLUTION_NOTE]
    assert len(notes) == 2 and all(c.cell_type == "markdown" for c in notes)
    assert not any(lessons.is_solution(c) for c in student.cells)
    assert all(c.outputs == [] and c.execution_count is None
               for c in student.cells if c.cell_type == "code")
    # the input is left alone
    assert sum(lessons.is_solution(c) for c in fixture_nb.cells) == 2
    assert fixture_nb.cells[1].outputs


def test_unmatched_solutions_rule():
    ok = new_notebook(cells=[new_code_cell("x = ..."), _sol("x = 1")])
    assert lessons.unmatched_solutions(ok) == []
    two = new_notebook(cells=[new_code_cell("x = ..."), _sol("x = 1"), _sol("y = 1")])
    assert lessons.unmatched_solutions(two) == [2]
    after_md = new_notebook(cells=[new_markdown_cell("task"), _sol("x = 1")])
    assert lessons.unmatched_solutions(after_md) == [1]


@pytest.mark.parametrize("kind", ["student", "instructor"])
def test_copies_of_the_real_lessons(tmp_path, kind):
    written = lessons.write_copies(kind, tmp_path)
    assert [p.name for p in written] == [p.name for p in LESSONS]
    for src, dst in zip(LESSONS, written):
        orig = nbformat.read(src, as_version=4)
        copy = nbformat.read(dst, as_version=4)
        nbformat.validate(copy)
        n_sol = sum(lessons.is_solution(c) for c in orig.cells)
        assert len(copy.cells) == len(orig.cells), src.name
        kept = sum(lessons.is_solution(c) for c in copy.cells)
        assert kept == (0 if kind == "student" else n_sol), src.name
        notes = sum(c.source == lessons.SOLUTION_NOTE for c in copy.cells)
        assert notes == (n_sol if kind == "student" else 0), src.name
        stubs = [c.source for c in orig.cells if c.cell_type == "code"
                 and not lessons.is_solution(c)]
        assert [c.source for c in copy.cells if c.cell_type == "code"
                and not lessons.is_solution(c)] == stubs, src.name
        assert all(not c.outputs for c in copy.cells if c.cell_type == "code"), src.name


def test_cli_writes_student_copies(tmp_path, capsys):
    assert lessons.main(["student", str(tmp_path / "student")]) == 0
    assert "student:" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "student").glob("*.ipynb")) == \
        [p.name for p in LESSONS]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_each_solution_follows_its_stub(path):
    nb = nbformat.read(path, as_version=4)
    n_sol = sum(lessons.is_solution(c) for c in nb.cells)
    assert n_sol >= 1, (f"{path.name} has no cell tagged 'solution' (exercise convention: "
                        "markdown task, stub code cell, solution code cell tagged 'solution')")
    bad = lessons.unmatched_solutions(nb)
    assert not bad, (f"{path.name}: solution cells {bad} are not preceded by a stub code cell")


def test_tools_doctests():
    import doctest
    import sys

    sys.path.insert(0, str(REPO))
    try:
        import tools.nbcapture as nbcapture
    finally:
        sys.path.remove(str(REPO))
    for module in (lessons, nbcapture):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_nbval_run_is_captured_with_outputs_and_timings(tmp_path):
    """tools/nbcapture.py: a tiny notebook run under nbval comes back with its outputs."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("nbval")
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
           "RU5ErkJggg==")
    nb = new_notebook(cells=[
        new_markdown_cell("# tiny"),
        new_code_cell("print('hello')"),
        new_code_cell("from IPython.display import Image\nimport base64\n"
                      f"Image(data=base64.b64decode('{png}'))"),
        new_code_cell("x = bytearray(50_000_000)  # ~50 MB in the kernel\nlen(x)"),
    ])
    (tmp_path / "tiny.ipynb").write_text(nbformat.writes(nb))
    out = tmp_path / "executed"
    env = dict(os.environ, CLASSICSEG_EXECUTED_DIR=str(out),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir",
                           str(tmp_path), "-p", "tools.nbcapture", "-p", "no:cacheprovider",
                           "--nbval-lax", "--nbval-current-env", "-q", "tiny.ipynb"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    executed = nbformat.read(out / "tiny.ipynb", as_version=4)
    nbformat.validate(executed)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code[0].outputs[0].text == "hello\n"
    assert "image/png" in code[1].outputs[0].data
    assert code[2].outputs[0].data["text/plain"] == "50000000"
    assert [c.execution_count for c in code] == [1, 2, 3]
    t = json.loads((out / "timings.json").read_text())["tiny"]
    assert t["complete"] and t["cells_run"] == t["cells_total"] == 3 and not t["failed_cells"]
    assert t["peak_rss_bytes"] > 50_000_000  # the kernel's bytearray was seen
    assert t["wall_s"] >= t["cells_s"] > 0


def test_no_nbval_no_capture(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "test_plain.py").write_text("def test_ok():\n    assert True\n")
    out = tmp_path / "executed"
    env = dict(os.environ, CLASSICSEG_EXECUTED_DIR=str(out),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir",
                           str(tmp_path), "-p", "tools.nbcapture", "-p", "no:cacheprovider",
                           "-q", "test_plain.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not out.exists()
