"""The built lesson book (``make book``) in a real browser: every page loads, shows its figures,
has no error output and offers Binder.

How it runs: the static site ``build/book/html`` is served by ``http.server`` on 127.0.0.1 (free
port, a thread of this process); headless Chromium (Debian's, via Python Playwright, the launch
recipe of ``browser_util.py``) opens every page and checks

* HTTP 200;
* every ``<img>`` decoded (``naturalWidth > 0``), and each lesson page has at least as many
  images as its notebook has image outputs (the figures are embedded);
* no notebook error output: myst-nb's ``.output.traceback`` blocks, or a ``.output.stderr``
  block holding a traceback (warnings on stderr are allowed);
* Binder: each lesson page links ``mybinder.org/v2/gh/...?urlpath=lab/tree/notebooks/<name>
  .ipynb`` (the landing page links the tour);
* one screenshot per page under ``artifacts/book/`` (repo root).

``make test`` builds the book after the notebooks ran under nbval and then runs this file; alone:
``make book && .venv/bin/python -m pytest -m browser tests/notebooks/test_book_browser.py``.
Skips with the reason when Chromium, Playwright or the built book is missing.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import nbformat
import pytest

# Same Chromium and launch flags as the JupyterLab tests (rootdir-based imports: same folder).
from browser_util import CHROMIUM_ARGS, chromium  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "build" / "book"
HTML = BOOK / "html"
ARTIFACTS = REPO / "artifacts" / "book"
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))
TIMEOUT_MS = 60_000

#: Broken images and error outputs on the open page (JavaScript run by Playwright).
CHECK_PAGE = """() => ({
  broken: Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  images: document.images.length,
  tracebacks: Array.from(document.querySelectorAll('.output.traceback'))
      .map(e => e.innerText.slice(0, 400)),
  stderr_tracebacks: Array.from(document.querySelectorAll('.output.stderr'))
      .map(e => e.innerText).filter(t => t.includes('Traceback (most recent call last)'))
      .map(t => t.slice(0, 400)),
  binder: Array.from(document.querySelectorAll('a[href^="https://mybinder.org/v2/gh/"]'))
      .map(a => a.getAttribute('href')),
})"""


def _pages() -> list[Path]:
    return sorted(p.relative_to(HTML) for p in HTML.rglob("*.html")
                  if not {"_static", "_sources"} & set(p.relative_to(HTML).parts))


def _image_outputs(name: str) -> int:
    staged = BOOK / "src" / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(staged, as_version=4)
    return sum(any(k.startswith("image/") for k in o.get("data", {}))
               for c in nb.cells if c.cell_type == "code" for o in c.outputs)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture
def book_url():
    """Base URL of the built book served on 127.0.0.1, or a skip saying how to build it."""
    if not (HTML / "index.html").is_file():
        pytest.skip(f"the book is not built ({HTML}/index.html missing): run `make book` "
                    "(`make test` does, after the notebooks ran); the book test did NOT run")
    handler = functools.partial(_Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_book_page_loads_with_figures_binder_and_no_errors(chromium, book_url):  # noqa: F811
    from playwright.sync_api import sync_playwright

    pages = _pages()
    lesson_pages = {Path("notebooks") / f"{p.stem}.html" for p in LESSONS}
    missing = sorted(str(p) for p in lesson_pages - set(pages))
    assert not missing, f"lessons missing from the book: {missing}"
    assert Path("index.html") in pages and Path("workshop.html") in pages
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            for rel in pages:
                resp = page.goto(f"{book_url}/{rel.as_posix()}", wait_until="load")
                if resp is None or resp.status != 200:
                    problems.append(f"{rel}: HTTP {resp.status if resp else 'no response'}")
                    continue
                info = page.evaluate(CHECK_PAGE)
                shot = ARTIFACTS / (rel.with_suffix("").as_posix().replace("/", "__") + ".png")
                page.screenshot(path=str(shot), full_page=True)
                if info["broken"]:
                    problems.append(f"{rel}: images not loaded: {info['broken']}")
                for tb in info["tracebacks"] + info["stderr_tracebacks"]:
                    problems.append(f"{rel}: error output: {tb!r}")
                if rel in lesson_pages:
                    want = f"urlpath=lab/tree/notebooks/{rel.stem}.ipynb"
                    if not any(want in h for h in info["binder"]):
                        problems.append(f"{rel}: no Binder link with {want} ({info['binder']})")
                    n_fig = _image_outputs(rel.stem)
                    if info["images"] < n_fig:
                        problems.append(f"{rel}: {info['images']} <img> for {n_fig} figures")
                elif rel == Path("index.html") and not info["binder"]:
                    problems.append("index.html: no Binder link")
        finally:
            browser.close()
    assert not problems, "book problems:\n" + "\n".join(problems)
    assert len(list(ARTIFACTS.glob("*.png"))) >= len(pages)
