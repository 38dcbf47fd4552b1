"""The book builds from scratch with zero warnings, and every page in _toc.yml is there."""

import pytest

from tools.book import toc_files


@pytest.mark.slow
def test_strict_build_produces_every_page(built_book):
    src, html, _ = built_book
    for f in toc_files(src):
        page = html / f"{f}.html"
        assert page.exists(), f"missing page {page}"
        assert page.stat().st_size > 5000
    assert (html / "index.html").exists()


@pytest.mark.slow
def test_every_chapter_page_offers_its_notebook(built_book):
    src, html, _ = built_book
    for f in toc_files(src):
        if (src / f"{f}.ipynb").exists():
            page = (html / f"{f}.html").read_text()
            assert f"_sources/{f}.ipynb" in page, f"{f}: no .ipynb download link"
            assert (html / "_sources" / f"{f}.ipynb").exists()
