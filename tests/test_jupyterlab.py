"""A chapter rerun the way a reader reruns it: in JupyterLab, in a real browser.

The test starts JupyterLab on 127.0.0.1 with a random token, on a temporary copy of one
chapter that has an interactive figure, opens it in Debian's Chromium (Playwright), runs
every cell, and checks what a reader would see: no cell shows an error, no math shows an
undefined macro (the macros come from the notebook's first cell,
`tools.notebook_macros`), and the live slider of the interactive figure, moved to a
value that was not precomputed, recomputes the figure. The server is stopped whatever
happens.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.book import ROOT, toc_notebooks

from _chromium import CHROMIUM, CHROMIUM_ARGS, needs_chromium

# JupyterLab settings for an unattended run: no news pop-up over the cells, and every
# cell kept in the DOM (the default windowing renders only what is on screen).
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false"
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none"
    },
}

pytestmark = [pytest.mark.slow, needs_chromium]


def chapter_with_live_figure() -> Path:
    """The first chapter (in reading order) that builds an interactive figure."""
    for path in toc_notebooks():
        if path.parent.name == "chapters" and "interactive_figure(" in path.read_text():
            return path
    pytest.fail("no chapter calls plotting.interactive_figure: nothing to rerun live")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of one chapter.

    Yields (base url, token, notebook name, server log).
    """
    pytest.importorskip(
        "jupyterlab",
        reason="JupyterLab is not installed: pip install -r requirements.txt",
    )
    root = tmp_path_factory.mktemp("lab")
    chapter = chapter_with_live_figure()
    (root / "chapters").mkdir()
    shutil.copy(
        chapter, root / "chapters" / chapter.name
    )  # the reader's edits stay here
    settings = root / "settings"
    for name, value in SETTINGS.items():
        plugin, file = name.rsplit("/", 1)
        (settings / plugin).mkdir(parents=True, exist_ok=True)
        (settings / plugin / file).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={root / 'workspaces'}",
            # window.jupyterapp, to run all cells
            "--LabApp.expose_app_in_browser=True",
            # as the README says: kernels get CurveZMQ keys (no plain-TCP warning)
            "--KernelManager.transport_encryption=auto",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "JupyterLab did not start:\n"
                        f"{(root / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", token, chapter.name, root / "server.log"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


RUN_FINISHED = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.widgets
        .filter(c => c.model.type === 'code');
    return cells.length > 0 && cells.every(c => c.model.executionCount !== null
        && !c.promptNode.textContent.includes('*'));
}"""
VISIBLE_IMAGE = """(fig) => [...fig.querySelectorAll('img')]
    .filter(i => i.offsetParent !== null).map(i => i.src)"""


def test_a_chapter_reruns_in_jupyterlab_with_a_live_figure(lab):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, token, name, server_log = lab
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/chapters/{name}?reset&token={token}")
            page.wait_for_function(
                """() => { const w = window.jupyterapp
                                     && window.jupyterapp.shell.currentWidget;
                return !!(w && w.sessionContext && w.sessionContext.session
                          && w.sessionContext.session.kernel); }""",
                timeout=90_000,
            )
            page.evaluate(
                "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
            )
            page.wait_for_function(RUN_FINISHED, timeout=300_000, polling=500)
            page.screenshot(path=str(screenshot_dir() / "jupyterlab_after_run_all.png"))

            errors = page.locator(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
            )
            assert errors.count() == 0, (
                f"a cell shows an error: {errors.first.inner_text()[:500]}"
            )
            bad_math = page.evaluate("""() => [...document.querySelectorAll('[title]')]
                .map(e => e.title)
                .filter(t => /Undefined control sequence|ParseError/.test(t))""")
            assert not bad_math, f"math JupyterLab cannot typeset: {bad_math[:5]}"

            figure = page.locator(".interactive-figure").first
            figure.scroll_into_view_if_needed()
            status = figure.locator(".widget-label").last
            before = figure.evaluate(VISIBLE_IMAGE)
            assert len(before) == 1 and "recomputes" in status.inner_text()
            readouts = figure.locator(".widget-readout")
            precomputed = readouts.first.inner_text()
            live_readout = readouts.nth(1)
            # a value that is not a precomputed frame
            target = f"{float(live_readout.inner_text()) * 1.37:.3g}"
            live_readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type(target)
            page.keyboard.press("Enter")
            page.wait_for_function(
                "(el) => el.textContent.includes('recomputed')",
                arg=status.element_handle(),
                timeout=60_000,
            )
            after = figure.evaluate(VISIBLE_IMAGE)
            page.screenshot(path=str(screenshot_dir() / "jupyterlab_live_slider.png"))
            assert len(after) == 1 and after != before, (
                "the live slider did not change the figure"
            )
            assert (
                readouts.first.inner_text() == precomputed
            )  # the static slider did not move
            assert target in status.inner_text(), status.inner_text()
            log = server_log.read_text()
            assert "Kernel started" in log and "without encryption" not in log, log[
                -3000:
            ]
        finally:
            browser.close()


def screenshot_dir() -> Path:
    path = ROOT / "_build" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
