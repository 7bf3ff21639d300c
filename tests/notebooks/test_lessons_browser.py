"""A real browser drives the real lessons in JupyterLab: draw boxes, move sliders, figures change.

For ``00_tour`` (BoxSelector), ``02_pet`` (the GHT slider explorer and the 3D PET box
comparison) and ``05_ultrasound`` (LiteMedSAM on real HC18 heads, box comparison): open a
copy of the lesson in JupyterLab, run all cells, draw a box on the box widget with the mouse,
move a slider or press the "zoom to box" toggle, and check that a figure is shown and that
its image changes (``src`` before vs after) and that the kernel saw the new box. A read-back
cell appended to the served copy prints the kernel's state as JSON (the lessons themselves are
not changed). A screenshot of each driven widget goes to ``artifacts/browser/<lesson>.png``.

Recipe and skips as in ``test_browser.py`` (:mod:`browser_util`): Debian's Chromium +
Python Playwright; skips with the reason when either is missing. Marker ``browser``.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from browser_util import (  # noqa: F401 - chromium is a fixture
    ARTIFACTS,
    CHROMIUM_ARGS,
    REPO,
    chromium,
    drag,
    error_texts,
    jupyterlab,
    open_and_run_all,
    readback,
    wait_attribute_change,
)

pytestmark = pytest.mark.browser

RUN_ALL_MS = 240_000  # a whole lesson on 2 busy cores
STEP_MS = 120_000

READBACK = {
    "00_tour": "{'box': selector.box.tolist(), 'shape': list(selector.shape), "
               "'zoom': selector.zoom}",
    "02_pet": "{'nu': explorer.kwargs['log10_nu'], 'box': compare.box.tolist(), "
              "'shape': list(compare.selector.shape), 'updates': compare.n_updates}",
    "05_ultrasound": "{'box': compare.box.tolist(), 'shape': list(compare.selector.shape), "
                     "'updates': compare.n_updates, 'zoom': compare.selector.zoom, "
                     "'encodes': sum(c.misses for c in compare.caches), "
                     "'reused': sum(c.hits for c in compare.caches)}",
}
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def lessons_lab(tmp_path_factory):
    """JupyterLab serving copies of the lessons, each with a read-back cell appended."""
    nbformat = pytest.importorskip("nbformat")
    work = tmp_path_factory.mktemp("lessons_lab")
    root = work / "root"
    root.mkdir()
    for stem, expr in READBACK.items():
        nb = nbformat.read(REPO / "notebooks" / f"{stem}.ipynb", as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(
            f"import json as _json\nprint('READBACK ' + _json.dumps({expr}))"))
        nbformat.write(nb, root / f"{stem}.ipynb")
    with jupyterlab(root, work, log_name="jupyterlab_lessons.log") as url:
        yield url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "lessons_browser.json").write_text(json.dumps(
        {"seconds": {k: round(v, 1) for k, v in TIMES.items()},
         "screenshots": [f"artifacts/browser/{k}.png" for k in TIMES]}, indent=1))


def _shutdown_kernels(url: str) -> None:
    """Free the lesson's memory before the next one (REST API of the server)."""
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{url}/api/sessions/{s['id']}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


@pytest.fixture
def page(chromium, lessons_lab):  # noqa: F811
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1100})
            pg.set_default_timeout(STEP_MS)
            yield pg
        finally:
            browser.close()
            _shutdown_kernels(lessons_lab)


def _run(page, url: str, stem: str) -> dict:
    """Open the lesson, run all cells; the read-back of the state after the last cell."""
    open_and_run_all(page, url, f"{stem}.ipynb")
    try:
        return readback(page, rerun=False, timeout_ms=RUN_ALL_MS)
    except AssertionError:
        raise AssertionError(f"{stem}: run-all did not reach the read-back cell; errors: "
                             f"{error_texts(page)[:2]}") from None


def _cell(page, code: str):
    """The code cell whose source contains ``code`` (the one cell that builds a widget)."""
    cells = page.locator(".jp-Notebook .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea-editor", has_text=code))
    assert cells.count() >= 1, f"no cell with {code!r}: the lesson changed"
    return cells.first


def _srcs(locator) -> list:
    return locator.evaluate_all("es => es.map(e => e.getAttribute('src'))")


def _near(box, expect, shape) -> bool:
    """Box equal to the expectation within 3 % of the image (display scaling, rounding)."""
    h, w = shape[-2:]
    tol = [0.03 * w + 2, 0.03 * h + 2] * 2
    return all(abs(a - b) <= t for a, b, t in zip(box, expect, tol))


def _expected_box(start, end, shape) -> list:
    h, w = shape[-2:]
    (xa, xb), (ya, yb) = sorted((start[0], end[0])), sorted((start[1], end[1]))
    return [xa * w, ya * h, xb * w, yb * h]


def _box2d(box) -> list:
    return [box[0], box[1], box[3], box[4]] if len(box) == 6 else list(box)


def _new_box_drag(box, shape) -> tuple:
    """(start, end) fractions of a drag that draws a *new* box: it starts outside the box on
    screen (a press inside it would move that box) in the widest margin, and ends 20 % of the
    image further towards the middle."""
    h, w = shape[-2:]
    x0, y0, x1, y1 = _box2d(box)
    margins = {"left": x0 / w, "top": y0 / h, "right": 1 - (x1 + 1) / w,
               "bottom": 1 - (y1 + 1) / h}
    side = max(margins, key=margins.get)
    assert margins[side] > 0.02, f"no room outside the box {box} to start a new one"
    m = margins[side] / 2
    start = {"left": (m, 0.3), "top": (0.3, m), "right": (1 - m, 0.3),
             "bottom": (0.3, 1 - m)}[side]
    d = 0.2  # small enough that "zoom to box" (3x the box) shows a window, not everything
    step = {"left": (d, d), "top": (d, d), "right": (-d, d), "bottom": (d, -d)}[side]
    end = tuple(min(0.97, max(0.03, a + d)) for a, d in zip(start, step))
    return start, end


def _draw_and_check(page, cell, before: dict, start, end) -> None:
    """Draw a box on the cell's bbox widget; wait for the new figure (when it has one)."""
    canvas = cell.locator(".jp-OutputArea-output .image img").first
    canvas.wait_for(state="visible")
    rect_before = cell.locator("svg rect.movable").evaluate_all(
        "es => es.map(e => ['x', 'y', 'width', 'height'].map(k => e.getAttribute(k)))")
    figures = cell.locator(".widget-image")
    old = _srcs(figures)
    # Activate the cell first: activating it on mouse-down scrolls it, moving the picture
    # under the pointer in the middle of the drag.
    cell.locator(".jp-InputPrompt").first.click()
    page.wait_for_timeout(300)
    drag(page, canvas, start, end)
    page.wait_for_function(
        "([el, old]) => { const r = el.querySelectorAll('svg rect.movable');"
        " return r.length === 1 && JSON.stringify(['x', 'y', 'width', 'height'].map("
        "k => r[0].getAttribute(k))) !== JSON.stringify(old[0] || null); }",
        arg=[cell.element_handle(), rect_before])
    if old:
        page.wait_for_function(
            "([el, old]) => { const f = el.querySelectorAll('.widget-image');"
            " return f.length && f[0].getAttribute('src') !== old[0]; }",
            arg=[cell.element_handle(), old])
        status = cell.locator(".classicseg-status")
        if status.count():
            # the drag's own update has finished (the 'computing…' state has gone)
            page.wait_for_function(
                "el => { const s = el.querySelector('.classicseg-status');"
                " return s && s.dataset.state === 'done'; }", arg=cell.element_handle())


def _zoom_and_check(page, cell) -> None:
    """Press "zoom to box": the selector image and the figure (if any) must change."""
    canvas = cell.locator(".jp-OutputArea-output .image img").first
    old_canvas = canvas.get_attribute("src")
    old_fig = _srcs(cell.locator(".widget-image"))
    cell.locator("button", has_text="zoom to box").first.click()
    page.wait_for_function(
        "([el, old]) => { const i = el.querySelector('.jp-OutputArea-output .image img');"
        " return i && i.getAttribute('src') !== old; }",
        arg=[cell.element_handle(), old_canvas])
    if old_fig:
        page.wait_for_function(
            "([el, old]) => { const f = el.querySelectorAll('.widget-image');"
            " return f.length && f[0].getAttribute('src') !== old[0]; }",
            arg=[cell.element_handle(), old_fig])


def _screenshot(cell, stem: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cell.scroll_into_view_if_needed()
    path = ARTIFACTS / f"{stem}.png"
    cell.screenshot(path=str(path))
    assert path.stat().st_size > 5_000


def test_00_tour_draw_a_box_and_zoom(page, lessons_lab):
    t0 = time.monotonic()
    first = _run(page, lessons_lab, "00_tour")
    cell = _cell(page, "selector = BoxSelector(case2d)")
    start, end = _new_box_drag(first["box"], first["shape"])
    _draw_and_check(page, cell, first, start, end)
    drawn = readback(page, first)
    assert _near(drawn["box"], _expected_box(start, end, drawn["shape"]), drawn["shape"]), drawn
    _zoom_and_check(page, cell)
    after = readback(page, drawn)
    assert after["zoom"] == 3.0 and after["box"] == drawn["box"], after
    _screenshot(cell, "00_tour")
    TIMES["00_tour"] = time.monotonic() - t0


def test_02_pet_slider_explorer_and_3d_box(page, lessons_lab):
    t0 = time.monotonic()
    first = _run(page, lessons_lab, "02_pet")
    explorer = _cell(page, "explorer = W.interactive(")
    figures = explorer.locator(".jp-OutputArea-output img")
    assert figures.count() >= 1, "02 §3: the GHT slider explorer shows no figure"
    old = _srcs(figures)
    handle = explorer.locator(".widget-slider .noUi-handle").first  # log10 ν
    handle.scroll_into_view_if_needed()
    r = handle.bounding_box()
    page.mouse.move(r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(r["x"] + r["width"] / 2 + 8 * k, r["y"] + r["height"] / 2)
        page.wait_for_timeout(30)
    page.mouse.up()
    page.wait_for_function(
        "([el, old]) => { const f = [...el.querySelectorAll('.jp-OutputArea-output img')]"
        ".map(e => e.getAttribute('src'));"
        " return f.length && JSON.stringify(f) !== JSON.stringify(old); }",
        arg=[explorer.element_handle(), old])
    moved = readback(page, first)
    assert moved["nu"] > first["nu"], (first, moved)
    _screenshot(explorer, "02_pet_explorer")

    cell = _cell(page, "compare = InteractiveComparison(pet")
    start, end = _new_box_drag(moved["box"], moved["shape"])
    _draw_and_check(page, cell, moved, start, end)
    drawn = readback(page, moved)
    assert drawn["updates"] > moved["updates"], drawn
    assert _near(_box2d(drawn["box"]), _expected_box(start, end, drawn["shape"]),
                 drawn["shape"]), drawn
    _screenshot(cell, "02_pet")
    TIMES["02_pet"] = time.monotonic() - t0


def test_05_ultrasound_litemedsam_box_reuses_the_embedding(page, lessons_lab):
    t0 = time.monotonic()
    first = _run(page, lessons_lab, "05_ultrasound")
    cell = _cell(page, "compare = InteractiveComparison(head")
    start, end = _new_box_drag(first["box"], first["shape"])
    _draw_and_check(page, cell, first, start, end)
    drawn = readback(page, first)
    assert drawn["updates"] > first["updates"], drawn
    assert _near(drawn["box"], _expected_box(start, end, drawn["shape"]), drawn["shape"]), drawn
    if first["encodes"]:  # the widget found LiteMedSAM: the drag re-ran the decoder only
        assert drawn["encodes"] == first["encodes"] and drawn["reused"] > first["reused"], drawn
    _zoom_and_check(page, cell)
    after = readback(page, drawn)
    assert after["zoom"] == 3.0, after
    _screenshot(cell, "05_ultrasound")
    TIMES["05_ultrasound"] = time.monotonic() - t0
