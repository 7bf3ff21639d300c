"""Shared parts of the browser tests: find Chromium, serve notebooks in JupyterLab, drive them.

Recipe (no downloads at test time): Debian's ``/usr/bin/chromium`` (``apt-get install -y
chromium``) driven by Python Playwright -- never ``playwright install``. JupyterLab runs on
127.0.0.1 (free port, no token) with isolated config / runtime / settings dirs, serving
*copies* of the notebooks in a temporary folder (running cells never touches the repository's
notebooks), and is ended by its PID. Screenshots and the server log go to
``artifacts/browser/`` (repo root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000

KERNEL_IDLE_JS = (
    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
    " && window.jupyterapp.shell.currentWidget.sessionContext"
    " && window.jupyterapp.shell.currentWidget.sessionContext.session"
    " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
    " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
    " === 'idle'")


def find_chromium() -> str:
    """Path of a Chromium binary, or a skip saying why the browser test did not run."""
    pytest.importorskip("playwright.sync_api",
                        reason="Python playwright is not installed; the browser test did NOT run "
                        "(pip install -c constraints.txt -e '.[dev]')")
    env = os.environ.get("CLASSICSEG_CHROMIUM")
    for cand in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    pytest.skip("Chromium not found (looked for $CLASSICSEG_CHROMIUM, "
                + ", ".join(CHROMIUM_CANDIDATES)
                + "): install it with `apt-get install -y chromium` (.ci/run does); "
                "the browser test did NOT run")


@pytest.fixture
def chromium() -> str:
    """Path of a Chromium binary (or a skip with the reason)."""
    return find_chromium()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n"
                               f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s:\n"
                       f"{log.read_text()[-3000:]}")


@contextlib.contextmanager
def jupyterlab(root: Path, work: Path, *, log_name: str = "jupyterlab.log", env=None):
    """JupyterLab serving ``root``; yields its base URL; ended by PID on exit.

    ``work`` holds the isolated Jupyter dirs (no user settings leak in, nothing is written to
    ~/.jupyter); the news / update toasts, which cover part of the page, are off, and every
    cell stays in the page (no windowing), so long lessons can be driven.
    """
    pytest.importorskip("jupyterlab")
    settings = work / "lab-settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    env = dict(os.environ if env is None else env,
               JUPYTER_CONFIG_DIR=str(work / "config"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(work / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"))
    port = free_port()
    log = work / log_name
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip", "127.0.0.1",
           "--port", str(port),
           "--ServerApp.port_retries=0", "--ServerApp.token=", "--ServerApp.password=",
           "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/status", proc, log)
        yield url
    finally:
        # End the server by its PID (it shuts its kernels down on SIGTERM); escalate if it hangs.
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / log_name)


def open_and_run_all(page, url: str, name: str) -> None:
    """Open ``name`` in JupyterLab, wait for its kernel, run all cells (does not wait for them)."""
    page.goto(f"{url}/lab/tree/{name}?reset")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    page.wait_for_function(KERNEL_IDLE_JS)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def readback(page, previous=None, *, prefix: str = "READBACK ", timeout_ms: int = TIMEOUT_MS,
             rerun: bool = True) -> dict:
    """Re-run the last cell (click it, Ctrl+Enter) and parse the JSON line it prints after
    ``prefix``; waits until that JSON differs from ``previous``. ``rerun=False`` only waits
    for the output of a run already under way (e.g. run-all)."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    if rerun:
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")  # Shift+Enter on the last cell would add a cell
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for t in cell.locator(".jp-OutputArea-output").all_inner_texts():
            if t.startswith(prefix):
                data = json.loads(t[len(prefix):])
                if data != previous:
                    return data
        page.wait_for_timeout(250)
    raise AssertionError(f"no new {prefix.strip()} output within {timeout_ms / 1000:.0f} s; "
                         f"errors on the page: {error_texts(page)[:3]}")


def error_texts(page) -> list[str]:
    """Text of every error output (a traceback) on the page."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ).filter(has_text="Traceback").all_inner_texts() + page.locator(
        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()


def drag(page, element, start, end, *, steps: int = 15) -> None:
    """Drag with the mouse from ``start`` to ``end``, given as fractions (fx, fy) of the
    element's box, at human pace: jupyter-bbox-widget creates the new rectangle on mouse-down
    and only follows the pointer once it is mounted (a few ms later)."""
    element.scroll_into_view_if_needed()
    r = element.bounding_box()
    x0, y0 = r["x"] + start[0] * r["width"], r["y"] + start[1] * r["height"]
    x1, y1 = r["x"] + end[0] * r["width"], r["y"] + end[1] * r["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.wait_for_timeout(200)
    for k in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
        page.wait_for_timeout(30)
    page.mouse.up()


def wait_attribute_change(page, selector: str, attribute: str, old, *, index: int = 0) -> None:
    """Wait until the ``index``-th element matching ``selector`` has ``attribute`` != ``old``."""
    page.wait_for_function(
        "([sel, attr, old, i]) => { const e = document.querySelectorAll(sel)[i];"
        " return e && e.getAttribute(attr) !== old; }", arg=[selector, attribute, old, index])
