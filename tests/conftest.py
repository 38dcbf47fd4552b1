"""Shared fixtures. nbval collects the chapter notebooks itself (see pyproject addopts)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _problems import LAM, SIGMA

from lib import problems
from tools.book import ROOT


@pytest.fixture(scope="session")
def aligned():
    """A small exact problem with distinct sigma and lam, p > k and d > k (rectangular)."""
    sigma, lam = SIGMA.copy(), LAM.copy()
    X, Y = problems.aligned_problem(sigma, lam, n=200, p=6, d=5, seed=1)
    return dict(sigma=sigma, lam=lam, X=X, Y=Y, A=problems.measure_assumption(X, Y))


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built from a copy of the repository with `-W -n --keep-going`, once per
    session. Returns (source folder, html folder, build log); fails on any warning."""
    jb = Path(sys.executable).with_name("jupyter-book")
    assert jb.exists(), "jupyter-book is not installed next to this Python"
    src = tmp_path_factory.mktemp("book") / "book"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        "_build", ".git", ".venv", "*.egg-info", ".pytest_cache", ".hypothesis", "node_modules"))
    proc = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=1200)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # Sphinx prints "<path>: WARNING: ..." (and "ERROR:"); -W already turns them into a
    # failure, this also catches one that an extension logs outside -W's reach.
    assert not re.findall(r"(WARNING|ERROR|CRITICAL): ", log), log[-6000:]
    assert "build succeeded" in log, log[-6000:]
    return src, src / "_build" / "html", log
