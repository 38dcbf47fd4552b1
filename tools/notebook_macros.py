"""Give every notebook the book's TeX macros, for JupyterLab to render its math.

A chapter opened in JupyterLab then renders its math as the book does. The macros live
in one place, `_config.yml` (`sphinx.config.mathjax3_config.tex.macros`),
which only the built book reads. JupyterLab with jupyterlab-myst reads macros from the
YAML front matter of a notebook's first cell (`math:`). This tool writes that cell,
generated from `_config.yml`, tagged `remove-cell` so that the book does not show it:

    python -m tools.notebook_macros          # write or refresh the cell everywhere
    python -m tools.notebook_macros --check  # exit 1 if any notebook's cell is stale

`tests/test_chapters.py` runs the check, so the two copies cannot drift apart.
"""

from __future__ import annotations

import json
import sys

import nbformat
import yaml

from tools.book import ROOT, toc_notebooks

TAG = "remove-cell"
MARKER = "book-macros"  # metadata key identifying the generated cell


def config_macros() -> dict[str, str]:
    r"""The book's MathJax macros as mystmd expects them: {"\name": "body"}."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    # MathJax allows ["body", nargs]; mystmd infers the arguments from #1, #2, ...
    return {
        f"\\{name}": body[0] if isinstance(body, list) else body
        for name, body in macros.items()
    }


def macro_cell_source() -> str:
    """The first cell's markdown: YAML front matter with the macros, nothing else."""
    front = yaml.safe_dump(
        {"math": config_macros()}, sort_keys=True, allow_unicode=True, width=1000
    ).strip()
    return f"---\n{front}\n---"


def macro_cell() -> nbformat.NotebookNode:
    """The generated first cell: front matter with the macros, hidden in the book."""
    cell = nbformat.v4.new_markdown_cell(macro_cell_source())
    cell.metadata = {"tags": [TAG], MARKER: True}
    cell.id = "book-macros"
    return cell


def has_current_cell(nb) -> bool:
    """Whether the notebook's first cell is the macro cell, up to date."""
    first = nb.cells[0] if nb.cells else None
    return bool(
        first is not None
        and first.metadata.get(MARKER)
        and first.source == macro_cell_source()
        and TAG in first.metadata.get("tags", [])
    )


def sync(path) -> bool:
    """Insert or refresh the macro cell of one notebook; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    if has_current_cell(nb):
        return False
    if nb.cells and nb.cells[0].metadata.get(MARKER):
        nb.cells[0] = macro_cell()
    else:
        nb.cells.insert(0, macro_cell())
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` only check) every notebook's macro cell; status."""
    notebooks = toc_notebooks()
    if "--check" in argv:
        stale = [
            str(p.relative_to(ROOT))
            for p in notebooks
            if not has_current_cell(nbformat.read(p, as_version=4))
        ]
        print(json.dumps({"stale": stale}))
        return 1 if stale else 0
    changed = [p for p in notebooks if sync(p)]
    print(f"macro cell written in {len(changed)} of {len(notebooks)} notebooks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
