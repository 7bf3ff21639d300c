"""Workshop copies of the lessons: ``student`` (solutions stripped) and ``instructor`` (full).

Convention (every exercise of ``notebooks/*.ipynb``): a markdown task, a code cell with a stub
(``...`` or ``raise NotImplementedError``), then the solution in a code cell tagged ``solution``
(jupytext percent: ``# %% tags=["solution"]``).

* ``student OUT`` writes each notebook with every ``solution`` cell replaced by a short markdown
  note (the stubs stay) and all outputs cleared;
* ``instructor OUT`` writes full copies, outputs cleared.

Usage::

    python tools/lessons.py student build/student        # make student
    python tools/lessons.py instructor build/instructor  # make instructor

Only the standard library and ``nbformat``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from classicseg.io import atomic_write

REPO = Path(__file__).resolve().parents[1]
#: The tag that marks a solution cell.
SOLUTION_TAG = "solution"
#: What a student sees where a solution was.
SOLUTION_NOTE = ("> **Solution:** not in the student copy -- try the exercise above, then ask "
                 "your instructor (or see the instructor copy, `make instructor`).")


def is_solution(cell) -> bool:
    """Whether ``cell`` is tagged ``solution``.

    >>> from nbformat.v4 import new_code_cell
    >>> is_solution(new_code_cell("x = 1", metadata={"tags": ["solution"]}))
    True
    >>> is_solution(new_code_cell("x = ..."))
    False
    """
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def clear_outputs(nb):
    """Return ``nb`` with every code cell's outputs and execution count removed (in place)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def strip_solutions(nb):
    """A student copy of ``nb``: each ``solution`` cell becomes :data:`SOLUTION_NOTE`.

    Returns a new notebook (``nb`` is not changed), outputs cleared.

    >>> from nbformat.v4 import new_notebook, new_code_cell
    >>> nb = new_notebook(cells=[new_code_cell("x = ..."),
    ...                          new_code_cell("x = 1", metadata={"tags": ["solution"]})])
    >>> [c.cell_type for c in strip_solutions(nb).cells]
    ['code', 'markdown']
    """
    out = nbformat.reads(nbformat.writes(nb), as_version=4)  # a deep copy
    out.cells = [nbformat.v4.new_markdown_cell(SOLUTION_NOTE, metadata={"tags": ["solution-note"]})
                 if is_solution(c) else c for c in out.cells]
    return clear_outputs(out)


def unmatched_solutions(nb) -> list[int]:
    """Indices of ``solution`` cells not directly preceded by a non-solution code cell (a stub).

    >>> from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell
    >>> sol = new_code_cell("x = 1", metadata={"tags": ["solution"]})
    >>> unmatched_solutions(new_notebook(cells=[new_markdown_cell("Task"), sol]))
    [1]
    """
    bad = []
    for i, cell in enumerate(nb.cells):
        if is_solution(cell):
            prev = nb.cells[i - 1] if i else None
            if prev is None or prev.cell_type != "code" or is_solution(prev):
                bad.append(i)
    return bad


def lesson_paths(src: Path = REPO / "notebooks") -> list[Path]:
    """The lessons: ``notebooks/*.ipynb``, sorted."""
    return sorted(Path(src).glob("*.ipynb"))


def write_copies(kind: str, out: Path, *, src: Path = REPO / "notebooks") -> list[Path]:
    """Write the ``kind`` (``student`` | ``instructor``) copy of every lesson into ``out``."""
    make = COPIES[kind]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in lesson_paths(src):
        nb = make(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = out / path.name
        # atomic: a half-written copy never replaces a good one
        atomic_write(target, lambda f, nb=nb: f.write(nbformat.writes(nb).encode()),
                     overwrite=True)
        written.append(target)
    return written


#: copy kind -> how a lesson is turned into it
COPIES = {
    "student": strip_solutions,
    "instructor": clear_outputs,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(COPIES))
    parser.add_argument("out", type=Path)
    parser.add_argument("--src", type=Path, default=REPO / "notebooks")
    args = parser.parse_args(argv)
    written = write_copies(args.kind, args.out, src=args.src)
    if not written:
        print(f"no notebooks found in {args.src}", file=sys.stderr)
        return 1
    n_sol = sum(is_solution(c) for p in lesson_paths(args.src)
                for c in nbformat.read(p, as_version=4).cells)
    verb = "stripped" if args.kind == "student" else "kept"
    print(f"{args.kind}: {len(written)} notebooks -> {args.out}/ ({n_sol} solution cells {verb})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
