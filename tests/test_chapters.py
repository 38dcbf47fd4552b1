"""The stored notebooks are what nbval compares: check there is something to compare.

An output-less or partly executed notebook makes nbval pass vacuously, so these tests
fail unless every chapter in _toc.yml was executed top to bottom in one fresh kernel
(`python -m tools.refresh_outputs`) and stored with its outputs.
"""

import ast
import json
import subprocess
import sys

import nbformat
import pytest

from tools.book import ROOT, toc_files, toc_notebooks
from tools.notebook_macros import has_current_cell

CHAPTERS = toc_notebooks()


def code_cells(path):
    return [
        c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
    ]


def test_every_chapter_notebook_is_in_the_toc_and_back():
    on_disk = sorted(
        p.relative_to(ROOT)
        for folder in ("chapters", "appendices")
        for p in (ROOT / folder).glob("*.ipynb")
    )
    assert on_disk == sorted(p.relative_to(ROOT) for p in CHAPTERS)
    numbered = [p.name for p in CHAPTERS if p.parent.name == "chapters"]
    assert numbered == sorted(numbered), "_toc.yml must list the chapters in file order"
    for f in toc_files():
        assert (ROOT / f"{f}.ipynb").exists() or (ROOT / f"{f}.md").exists(), (
            f"_toc.yml names a missing file {f}"
        )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_was_executed_top_to_bottom_with_outputs(path):
    cells = code_cells(path)
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts}"
    )
    assert any(c["outputs"] for c in cells), f"{path.name}: no stored outputs"
    for c in cells:
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: a stored error output"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (
                f"{path.name}: stored stderr output: {''.join(out['text'])[:200]}"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_printed_check_passed_and_every_figure_has_caption_and_label(path):
    for c in code_cells(path):
        text = "".join(
            "".join(o.get("text", ""))
            for o in c["outputs"]
            if o["output_type"] == "stream"
        )
        assert "FAIL" not in text, f"{path.name}: a printed check failed:\n{text}"
        figure = c["metadata"].get("mystnb", {}).get("figure")
        images = [o for o in c["outputs"] if "image/png" in o.get("data", {})]
        if images:
            assert (
                figure
                and figure.get("caption")
                and figure.get("name", "").startswith("fig-")
            ), (
                f"{path.name}: a figure without caption or fig- label:\n"
                f"{''.join(c['source'])[:200]}"
            )
        widgets = [
            o
            for o in c["outputs"]
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        if widgets:
            assert "nbval-ignore-output" in c["metadata"].get("tags", []), (
                f"{path.name}: a widget cell must be tagged nbval-ignore-output "
                "(its model ids are random)"
            )


@pytest.mark.parametrize(
    "path", [p for p in CHAPTERS if p.parent.name == "chapters"], ids=lambda p: p.name
)
def test_first_code_cell_imports_lib_and_sets_the_style(path):
    first = "".join(code_cells(path)[0]["source"])
    assert "from lib import" in first and "plotting.use_style()" in first


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_cell_carries_the_books_macros_for_jupyterlab(path):
    """The first cell's front matter holds the generated TeX macros.

    JupyterLab (jupyterlab-myst) reads the TeX macros from it; it must be the one
    `python -m tools.notebook_macros` generates from _config.yml.
    """
    assert has_current_cell(nbformat.read(path, as_version=4)), (
        f"{path.name}: stale or missing macro cell: run "
        "`python -m tools.notebook_macros`"
    )


@pytest.mark.parametrize(
    "path", [p for p in CHAPTERS if p.parent.name == "chapters"], ids=lambda p: p.name
)
def test_first_code_cell_names_a_missing_package_in_one_line(path):
    """Opened where `lib` is not installed, a chapter stops with one line.

    That line names the package and the command to run: no traceback.
    """
    source = "".join(code_cells(path)[0]["source"])
    first = ast.parse(source).body[0]  # the guarded import block: try ... except
    assert isinstance(first, ast.Try), "the first code cell must start with the guard"
    imports = ast.get_source_segment(source, first)
    hide_lib = "import sys; sys.modules['lib'] = None  # as if lib were not installed\n"
    proc = subprocess.run(
        [sys.executable, "-c", hide_lib + imports],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stdout == "", proc
    assert proc.stderr == (
        "This chapter needs the package 'lib': in a clone of the book, run "
        "`pip install -r requirements.txt` (README).\n"
    ), proc.stderr


MAX_CELL_LINES = 30  # a cell read at a glance: compute, check and figure apart


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_code_cells_are_short(path):
    """No code cell longer than MAX_CELL_LINES (line length is ruff's job)."""
    sizes = [len("".join(cell["source"]).splitlines()) for cell in code_cells(path)]
    long = {i: n for i, n in enumerate(sizes) if n > MAX_CELL_LINES}
    assert not long, f"code cells over {MAX_CELL_LINES} lines (index: lines): {long}"
