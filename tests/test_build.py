"""The book builds from scratch with zero warnings, and every page in _toc.yml is there."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.book import ROOT, toc_files


@pytest.mark.slow
def test_strict_build_produces_every_page(tmp_path):
    jb = Path(sys.executable).with_name("jupyter-book")
    assert jb.exists(), "jupyter-book is not installed next to this Python"
    src = tmp_path / "book"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("_build", ".git", ".venv", "*.egg-info",
                                                              ".pytest_cache", ".hypothesis", "node_modules"))
    proc = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    # Sphinx prints "<path>: WARNING: ..." (and "ERROR:"); -W already turns them into a
    # failure, this also catches a warning that some extension logs without -W's effect.
    assert not re.findall(r"(WARNING|ERROR|CRITICAL): ", log), log[-6000:]
    assert "build succeeded" in log, log[-6000:]
    html = src / "_build" / "html"
    for f in toc_files(src):
        page = html / f"{f}.html"
        assert page.exists(), f"missing page {page}"
        assert page.stat().st_size > 5000
    assert (html / "index.html").exists()
