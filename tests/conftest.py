"""Shared fixtures.

nbval collects the chapter notebooks itself (see pyproject addopts).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lib import problems
from tools.book import ROOT
from tools.sphinx_kernel_encryption import encrypt_kernel_transport

from _problems import LAM, SIGMA

# nbval's kernels are started like the build's: CurveZMQ-encrypted (see that module).
encrypt_kernel_transport()


@pytest.fixture(scope="session")
def aligned():
    """A small exact problem with distinct sigma and lam, p > k and d > k.

    Rectangular: p != d.
    """
    sigma, lam = SIGMA.copy(), LAM.copy()
    X, Y = problems.aligned_problem(sigma, lam, n=200, p=6, d=5, seed=1)
    return dict(sigma=sigma, lam=lam, X=X, Y=Y, A=problems.measure_assumption(X, Y))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built from a copy of the repository with `-W -n --keep-going`.

    Built once per session, from the chapters' stored outputs. Returns (source folder,
    html folder, build log); fails on any warning.

    The copy's build does not execute the chapters: in the same test run nbval executes
    every chapter and requires each output, text and figures alike, to equal the stored
    one (see `pytest_collection_modifyitems` below), so the stored outputs are what a
    forced build would render. Executing the book twice per run is what kept `pytest`
    over its time budget; `jupyter-book build .` itself always executes (_config.yml).
    """
    jb = Path(sys.executable).with_name("jupyter-book")
    assert jb.exists(), "jupyter-book is not installed next to this Python"
    src = tmp_path_factory.mktemp("book") / "book"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            "_build",
            ".git",
            ".venv",
            "*.egg-info",
            ".pytest_cache",
            ".hypothesis",
            "node_modules",
        ),
    )
    config = src / "_config.yml"
    text = config.read_text()
    assert text.count("execute_notebooks: cache") == 1, (
        "_config.yml's execution mode moved"
    )
    config.write_text(
        text.replace("execute_notebooks: cache", 'execute_notebooks: "off"')
    )
    proc = subprocess.run(
        [str(jb), "build", str(src), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # Sphinx prints "<path>: WARNING: ..." (and "ERROR:"); -W already turns them into a
    # failure, this also catches one that an extension logs outside -W's reach.
    assert not re.findall(r"(WARNING|ERROR|CRITICAL): ", log), log[-6000:]
    # ... and any other line a reader of the log would worry about just the same.
    assert not re.findall(r"WARNING|ERROR|CRITICAL", log), log[-6000:]
    assert "build succeeded" in log, log[-6000:]
    return src, src / "_build" / "html", log


# The longest files, started first: xdist hands out whole files in collection order,
# and the browser test (a build and 16 pages, about 2 minutes on one worker), collected
# in the middle, started after a minute and kept `pytest` at 180 s while the other
# worker idled.
LONGEST_FIRST = ("tests/test_book_html.py", "tests/test_jupyterlab.py")


def pytest_collection_modifyitems(session, config, items):
    """Start the longest test files first; make nbval compare figures too.

    Figures: PNG outputs must equal the stored ones byte for byte. nbval skips image
    outputs by default (they often differ between machines). The book's figures are
    deterministic for the pinned matplotlib (its own FreeType, no timestamps), and the
    strict build above renders the stored ones, so they are compared like any other
    output.
    """
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    for item in items:
        notebook = item.parent
        skipped = getattr(notebook, "skip_compare", None)
        if skipped is not None and "image/png" in skipped:
            notebook.skip_compare = tuple(k for k in skipped if k != "image/png")
