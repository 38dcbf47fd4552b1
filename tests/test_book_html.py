"""The rendered book: the strict build, and every page in a real browser.

The browser is Debian's Chromium, driven by Playwright; the pages are served from
127.0.0.1 by the test itself.

Both live in this one module so that, run in parallel (pytest-xdist, --dist loadfile),
the book is built once, on one worker.

The pages load MathJax, require.js and the widgets' html-manager from CDNs, which are
not reachable here; the test serves pinned local copies of them (npm packages in
tests/browser, installed by `.ci/run` with `npm ci`). Every other outside request is
aborted and counted as a failure.

require.js is pinned by the page with a subresource-integrity hash of cdnjs's minified
file; npm ships the same version unminified, so the bytes differ. The test handles this
explicitly: it checks that the page asks for exactly the hash it knows, and rewrites
that attribute to the hash of the local copy, so the browser still verifies what it
runs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tools.book import ROOT, toc_files

from _chromium import CHROMIUM, CHROMIUM_ARGS, needs_chromium

ASSETS = ROOT / "tests" / "browser" / "node_modules"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CDNJS_REQUIRE_SRI = "sha256-Ae2Vz/4ePdIu6ZyI/5ZGsYnb+m0JlOmKPjt6XZ9JJkA="

pytestmark = pytest.mark.slow


def test_strict_build_produces_every_page(built_book):
    src, html, _ = built_book
    for f in toc_files(src):
        page = html / f"{f}.html"
        assert page.exists(), f"missing page {page}"
        assert page.stat().st_size > 5000
    assert (html / "index.html").exists()


def test_every_chapter_page_offers_its_notebook(built_book):
    src, html, _ = built_book
    for f in toc_files(src):
        if (src / f"{f}.ipynb").exists():
            page = (html / f"{f}.html").read_text()
            assert f"_sources/{f}.ipynb" in page, f"{f}: no .ipynb download link"
            assert (html / "_sources" / f"{f}.ipynb").exists()


CDN_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="(https?://[^"]+)"[^>]*>')
PINNED = re.compile(r"[@/]\d+\.\d+\.\d+/")


def test_every_cdn_script_is_pinned_with_an_integrity_hash(built_book):
    """A changed file on a CDN must not run in a reader's browser.

    Every script a page loads from outside names an exact version and carries a
    subresource-integrity hash.
    """
    src, html, _ = built_book
    seen = set()
    for f in toc_files(src):
        for tag in CDN_SCRIPT.finditer((html / f"{f}.html").read_text()):
            url = tag.group(1)
            seen.add(url)
            assert PINNED.search(url), (
                f"{f}: CDN script without an exact version: {url}"
            )
            assert 'integrity="sha' in tag.group(0), (
                f"{f}: CDN script without integrity: {url}"
            )
    assert any("mathjax" in u for u in seen) and any(
        "html-manager" in u for u in seen
    ), seen


def local_asset(url: str) -> Path | None:
    """Local copy of a CDN script, or None.

    Also of a file such a script loads relative to itself.
    """
    routes = [
        ("https://cdn.jsdelivr.net/npm/mathjax@3.2.2/", ASSETS / "mathjax"),
        (
            "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist/",
            ASSETS / "@jupyter-widgets" / "html-manager" / "dist",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.4/require.min.js",
            ASSETS / "requirejs" / "require.js",
        ),
    ]
    for prefix, target in routes:
        if url == prefix or (prefix.endswith("/") and url.startswith(prefix)):
            path = (
                target / url[len(prefix) :].split("?")[0]
                if prefix.endswith("/")
                else target
            )
            return path if path.is_file() else None
    return None


def sri(path: Path) -> str:
    return (
        "sha256-"
        + base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    )


@pytest.fixture(scope="module")
def server(built_book):
    _, html, _ = built_book

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(Quiet, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", html
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    missing = [
        p
        for p in ("mathjax", "requirejs", "@jupyter-widgets/html-manager")
        if not (ASSETS / p).exists()
    ]
    if missing:  # a reader's machine without the npm copies: say how to enable the test
        pytest.skip(
            f"local copies of the CDN scripts missing ({', '.join(missing)}): "
            "run `npm ci --prefix tests/browser` to enable the browser test"
        )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield b
        b.close()


RENDERED = """() => {
    const views = document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]').length;
    const shown = document.querySelectorAll('.interactive-figure').length;
    return shown >= views && [...document.images].every(i => i.complete);
}"""


class PageVisit:
    """One page load with its console errors, failed requests and outside requests."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.sri_seen = False
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})")
        )
        self.page.on(
            "response",
            lambda r: (
                self.failed.append(f"{r.url} (HTTP {r.status})")
                if r.status >= 400
                else None
            ),
        )
        self.context.route("**/*", self.route)

    def route(self, route):
        url = route.request.url
        if url.startswith(self.base):
            if route.request.resource_type == "document":
                response = route.fetch()
                body = response.text()
                if CDNJS_REQUIRE_SRI in body:
                    self.sri_seen = True
                    body = body.replace(
                        CDNJS_REQUIRE_SRI, sri(ASSETS / "requirejs" / "require.js")
                    )
                route.fulfill(response=response, body=body)
            else:
                route.continue_()
            return
        local = local_asset(url)
        if local is None:
            self.failed.append(f"{url} (outside request, no local copy)")
            route.abort()
            return
        ctype = {
            ".js": "application/javascript",
            ".woff": "font/woff",
            ".woff2": "font/woff2",
            ".css": "text/css",
            ".json": "application/json",
        }.get(local.suffix, "application/octet-stream")
        route.fulfill(
            path=str(local),
            headers={"Content-Type": ctype, "Access-Control-Allow-Origin": "*"},
        )

    def open(self, url: str):
        # Generous timeouts: under pytest the page competes for two cores with the
        # book's build and nbval's kernels; a quiet machine loads the heaviest page in
        # ~6 s.
        self.page.goto(url, wait_until="load", timeout=120_000)
        # What the checks below need, rather than "networkidle" (no request for 0.5 s),
        # which once waited out its 2 minutes on the heaviest page under load: every
        # saved widget view rendered by the html-manager, every image decoded.
        self.page.wait_for_function(RENDERED, timeout=120_000, polling=200)
        # Wait for MathJax to finish typesetting, where the page uses it.
        self.page.evaluate(
            "() => (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " || null"
        )

    def close(self):
        self.context.close()


PAGES = toc_files()


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    """The ids in one built page (read once: a chapter links to another many times)."""
    return frozenset(re.findall(r'id="([^"]+)"', page.read_text()))


@needs_chromium
@pytest.mark.parametrize("page_file", PAGES)
def test_page_in_a_real_browser(server, browser, page_file):
    base, html = server
    visit = PageVisit(browser, base)
    try:
        visit.open(urljoin(base, f"{page_file}.html"))
        page = visit.page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # The first screen of each page, for a human to glance at. Full-page shots
        # of the long chapters cost about 5 s each on two cores.
        page.screenshot(path=str(SCREENSHOTS / f"{page_file.replace('/', '_')}.png"))

        # Math is typeset: no raw TeX left in math elements, MathJax output present.
        n_math = page.evaluate("() => document.querySelectorAll('.math').length")
        if n_math:
            assert (
                page.evaluate("() => document.querySelectorAll('mjx-container').length")
                >= n_math
            )
            raw = page.evaluate("""() => [...document.querySelectorAll('.math')]
                .filter(e => !e.querySelector('mjx-container'))
                .map(e => e.textContent.slice(0, 80))""")
            assert not raw, f"untypeset math: {raw[:5]}"
        text = page.evaluate("() => document.querySelector('main').innerText")
        assert "$$" not in text, "raw $$ left in the page text"

        # Every rendered image loaded.
        broken = page.evaluate("""() => [...document.querySelectorAll('img')]
            .filter(i => i.offsetParent !== null && !(i.complete && i.naturalWidth > 0))
            .map(i => i.src.slice(0, 80))""")
        assert not broken, f"images that did not load: {broken}"

        # Every internal link resolves (file exists, and so does its anchor).
        hrefs = page.evaluate(
            "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
        )
        for href in set(hrefs):
            parsed = urlparse(href)
            if not href.startswith(base):
                continue
            target = html / parsed.path.lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"broken link {href}"
            if parsed.fragment and target.suffix == ".html":
                assert parsed.fragment in anchors(target), f"missing anchor {href}"

        # Sliders: moving one changes the displayed frame, with no kernel.
        boxes = page.locator(".widget-vbox").filter(has=page.locator(".noUi-handle"))
        shown = "imgs => imgs.filter(i => i.offsetParent !== null).map(i => i.src)"
        for i in range(boxes.count()):
            box = boxes.nth(i)
            before = box.locator("img").evaluate_all(shown)
            box.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(300)
            after = box.locator("img").evaluate_all(shown)
            assert len(before) == 1 and len(after) == 1, (
                f"slider {i}: expected one visible frame"
            )
            assert before != after, f"slider {i} did not change the displayed frame"
        nb = html.parent.parent / f"{page_file}.ipynb"
        if nb.exists() and "interactive_figure(" in nb.read_text():
            assert boxes.count() > 0, "the notebook builds a slider but none rendered"

        assert not visit.failed, f"failed requests: {visit.failed[:8]}"
        assert not visit.errors, f"console errors: {visit.errors[:5]}"
        if page.evaluate(
            "() => !!document.querySelector('script[src*=\"require.min.js\"]')"
        ):
            assert visit.sri_seen, (
                "require.js is pinned with an integrity hash this test does not know"
            )
    finally:
        visit.close()


def test_every_page_with_a_widget_has_a_working_slider(built_book):
    """Pages whose notebook holds widgets must ship their saved state.

    Else nothing renders.
    """
    src, html, _ = built_book
    for f in toc_files(src):
        nb = src / f"{f}.ipynb"
        if nb.exists() and "application/vnd.jupyter.widget-view+json" in nb.read_text():
            page = (html / f"{f}.html").read_text()
            assert "application/vnd.jupyter.widget-state+json" in page, (
                f"{f}: widget state not embedded"
            )
