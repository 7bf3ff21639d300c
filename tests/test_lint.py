"""Lint is part of the test command: ``ruff`` on the package, tests and benchmarks, and
``nbqa ruff`` on the lessons' code cells (configuration in ``pyproject.toml``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    # the venv's own copy first (the README's install puts ruff and nbqa there)
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


def test_ruff_is_clean():
    proc = subprocess.run([_tool("ruff"), "check", "--no-cache", "classicseg", "tests",
                           "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def test_notebook_code_cells_are_clean():
    proc = subprocess.run([_tool("nbqa"), "ruff", "notebooks/", "--no-cache"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
