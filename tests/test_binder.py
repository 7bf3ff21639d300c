"""binder/ is what repo2docker (mybinder.org) will build: check it without Docker or the internet.

``repo2docker --no-build --debug .`` prints the Dockerfile it would build; we assert that it
uses Python 3.11, installs binder/requirements.txt after the repository is copied (the file
refers to the project itself and to ../constraints.txt) and runs binder/postBuild. A real build
needs a Docker engine and the internet (see docs/workshop.md); the offline checks below make
sure the image gets CPU torch, headless OpenCV and the versions CI tested.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _lines(path: Path) -> list[str]:
    return [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()
            if ln.split("#", 1)[0].strip()]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for ln in _lines(path):
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$", ln)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def _repo2docker() -> list[str]:
    exe = Path(sys.executable).with_name("repo2docker")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("repo2docker")
    if found:
        return [found]
    pytest.skip("jupyter-repo2docker is not installed (it is in the dev extra: "
                "pip install -c constraints.txt -e '.[dev]'); "
                "binder/ was NOT validated by repo2docker")


@pytest.fixture(scope="module")
def dockerfile() -> str:
    cmd = _repo2docker() + ["--no-build", "--debug", "."]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert out.returncode == 0, (f"repo2docker rejected binder/:\n{out.stdout[-3000:]}\n"
                                 f"{out.stderr[-3000:]}")
    text = out.stdout + out.stderr
    assert "FROM " in text, text[-2000:]
    return text


def test_repo2docker_accepts_binder_and_installs_our_requirements(dockerfile):
    assert "python=3.11" in dockerfile  # binder/runtime.txt honoured
    install = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    # The requirements refer to the project (".") and ../constraints.txt, so they must be
    # installed after the whole repository is copied, then postBuild runs.
    copy_all = dockerfile.index("COPY --chown")
    assert re.search(r"COPY --chown=\S+ src/ \$\{REPO_DIR\}/", dockerfile)
    assert copy_all < install < dockerfile.index("./binder/postBuild")


def test_requirements_use_cpu_torch_the_ci_pins_and_the_project():
    lines = _lines(BINDER / "requirements.txt")
    assert lines[0] == f"--extra-index-url {CPU_INDEX}"
    assert "-c ../constraints.txt" in lines
    project = [ln for ln in lines if ln.startswith(".")]
    assert project and project[0].startswith(".[") and "notebooks" in project[0]
    assert not any(x in project[0] for x in ("dev", "playwright")), "no dev tools in the image"
    pins, ci = _pins(BINDER / "requirements.txt"), _pins(REPO / "constraints.txt")
    for pkg in ("torch", "torchvision"):
        assert pins[pkg].endswith("+cpu"), f"{pkg} must be the CPU build"
        assert pins[pkg].removesuffix("+cpu") == ci[pkg], (
            f"{pkg}: binder and constraints.txt disagree")


def test_pins_cover_every_dependency_of_the_binder_extras():
    """Each dependency of the installed extras has a CI-tested pin within the project's range."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    project = [ln for ln in _lines(BINDER / "requirements.txt") if ln.startswith(".")][0]
    extras = re.search(r"\[(.*)\]", project).group(1).split(",")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"]) + [d for e in extras
                                         for d in meta["optional-dependencies"][e.strip()]]
    ci = _pins(REPO / "constraints.txt")
    for dep in deps:
        req = Requirement(dep)
        if req.name == "classicseg":
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        assert key in ci, f"{req.name} has no pin in constraints.txt"
        assert Version(ci[key]) in req.specifier, (
            f"{req.name}=={ci[key]} does not satisfy {req.specifier}")
    # Headless OpenCV only: the GUI build needs libGL, which the Binder image does not have.
    assert "opencv-python-headless" in ci and "opencv-python" not in ci


def test_runtime_and_postbuild():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    from packaging.specifiers import SpecifierSet

    assert "3.11" in SpecifierSet(meta["requires-python"])
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    bash = shutil.which("bash")
    if bash:
        syntax = subprocess.run([bash, "-n", str(post)], capture_output=True, text=True)
        assert syntax.returncode == 0, syntax.stderr
    text = post.read_text()
    assert "set -euo pipefail" in text and "classicseg models prepare" in text


def test_local_build_context_leaves_out_the_venv_and_keeps_the_project():
    """binder/.dockerignore (read from binder/ by repo2docker) filters the build context."""
    build = pytest.importorskip("docker.utils.build",
                                reason="docker-py comes with jupyter-repo2docker")
    lines = _lines(BINDER / ".dockerignore")
    # the function repo2docker builds its context with
    files = build.exclude_paths(str(REPO), lines)
    top = {f.split("/", 1)[0] for f in files}
    assert {"classicseg", "notebooks", "binder", "pyproject.toml", "constraints.txt"} <= top
    assert not top & {".venv", "artifacts", "reports", ".pytest_cache"}
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
