"""The shape of the house: no import cycles, arrows pointing one way, light imports.

The import graph is read from the source with :mod:`ast` -- every ``import`` statement,
including those inside functions, since a cycle hidden in a function body is still a cycle
for whoever reads the code. ``docs/architecture.md`` explains the layers checked here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "classicseg"

#: Layer of each module (longest matching prefix wins); a module may import only from its own
#: layer or lower ones. Same-layer imports must still be acyclic (checked separately).
LAYERS = {
    "classicseg": 0,  # the package __init__ and the core modules below
    "classicseg._deprecated": 0, "classicseg._surface_tables": 0, "classicseg.io": 0,
    "classicseg.io_cvpr2025": 0, "classicseg.validation": 0, "classicseg.boxes": 0,
    "classicseg.result": 0, "classicseg.metrics": 0,
    "classicseg.methods": 1,
    "classicseg.samples": 1,
    "classicseg.models": 2,
    "classicseg.pipeline": 3,
    "classicseg.evaluation": 4,
    "classicseg.analysis": 5,
    "classicseg.viz": 6,
    "classicseg.widgets": 7,
    "classicseg.cli": 8, "classicseg.__main__": 8,
}
#: The package __init__ may name the lazy alias hook; it imports nothing heavy.
ROOT_INIT = "classicseg"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        pkg = module.split(".") if is_pkg else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    # "from .x import y" may import the submodule x.y or the name y of x: keep both candidates
    return [base] + [f"{base}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(mod, is_pkg, node)
            else:
                continue
            for t in targets:
                # the deepest module of the package this import names
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t.startswith("classicseg") and t != mod:
                    graph[mod].add(t)
    return graph


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _is_package_init(module: str) -> bool:
    return (PACKAGE.parent / Path(*module.split(".")) / "__init__.py").exists()


def test_import_graph_has_no_cycle():
    graph = import_graph()
    # A package's __init__ importing its own submodules (re-exports) is not a dependency cycle
    # when those submodules import siblings directly; drop parent->child edges of __init__ files.
    edges = {m: {t for t in ts if not (_is_package_init(m) and t.startswith(m + "."))}
             for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_point_down_the_layers():
    graph = import_graph()
    bad = sorted(f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
                 for m, ts in graph.items() for t in ts
                 if m != ROOT_INIT and t != ROOT_INIT and _layer(t) > _layer(m))
    assert not bad, "imports against the layering (docs/architecture.md):\n" + "\n".join(bad)


def test_methods_import_no_models_torch_or_widgets():
    graph = import_graph()
    for m, ts in graph.items():
        if m.startswith("classicseg.methods"):
            assert not {t for t in ts
                        if t.startswith(("classicseg.models", "classicseg.widgets"))}, m
    for path in (PACKAGE / "methods").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert "import torch" not in src and "ipywidgets" not in src, path


@pytest.mark.parametrize("module", ["classicseg", "classicseg.methods", "classicseg.io",
                                    "classicseg.models", "classicseg.models.litemedsam.geometry",
                                    "classicseg.analysis.failures", "classicseg.cli"])
def test_light_imports_load_no_torch_and_no_widgets(module):
    code = (f"import sys, {module}\n"
            "heavy = [m for m in ('torch', 'ipywidgets', 'onnxruntime', 'dask')"
            " if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]", f"import {module} loaded {out.strip()}"


def test_python_dash_m_classicseg_help():
    proc = subprocess.run([sys.executable, "-m", "classicseg", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "compare" in proc.stdout and "evaluate" in proc.stdout


def test_old_module_paths_are_deprecated_aliases():
    code = ("import warnings\n"
            "warnings.simplefilter('error', DeprecationWarning)\n"
            "from classicseg.pipeline import lessons\n"
            "try:\n    lessons.tolerant_area_overlap\n"
            "except DeprecationWarning as e:\n    print('warned:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("warned:") and "classicseg.analysis" in out
