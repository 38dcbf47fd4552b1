"""Re-execute every chapter in place, in `_toc.yml` order, each in a fresh kernel.

    python -m tools.refresh_outputs          # all chapters
    python -m tools.refresh_outputs 02 03    # chapters whose file name has 02 or 03

The stored outputs are what nbval compares on every test run, so refresh them after
any change to a chapter or to `lib`, review `git diff`, and commit them. Outputs are
only ever produced this way, never edited by hand.
"""

from __future__ import annotations

import hashlib
import sys
import time

import nbformat
from nbclient import NotebookClient

from tools.book import ROOT, toc_notebooks
from tools.sphinx_kernel_encryption import encrypt_kernel_transport

CELL_TIMEOUT = 300  # seconds, the same as the build's per-cell timeout


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def stable_widget_ids(nb, name: str):
    """The notebook with its widget model ids replaced by ids stable across runs.

    ipywidgets names each model with a random uuid, which appears in the widget outputs
    and the saved widget state; refreshing an unchanged chapter would then rewrite its
    file. Models are created in the same order on every run, so the n-th model of
    notebook `name` gets the first 32 hex digits of sha256(f"{name}:{n}").

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook; it is not modified.
    name : str
        The notebook's file name (ids differ between notebooks).

    Returns
    -------
    nbformat.NotebookNode
        A copy with every occurrence of every model id replaced.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    text = nbformat.writes(nb)
    for n, model_id in enumerate(list(state)):
        new_id = hashlib.sha256(f"{name}:{n}".encode()).hexdigest()[:32]
        text = text.replace(model_id, new_id)
    return nbformat.reads(text, as_version=4)


def execute_in_place(path) -> float:
    """Execute one notebook top to bottom in a fresh kernel and write it back; seconds.

    Only what execution produces is stored: outputs (consecutive prints merged into one
    stream: they arrive in pieces that depend on timing), execution counts and the
    widget state, with widget ids made stable (:func:`stable_widget_ids`) and without
    nbclient's per-cell timestamps, so that refreshing an unchanged chapter leaves its
    file as it was.
    """
    encrypt_kernel_transport()  # as in the build: no plain-text kernel, no warning
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier refresh
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        coalesce_streams=True,  # one stream per cell, however its prints were flushed
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    seconds = time.perf_counter() - start
    nbformat.write(stable_widget_ids(nb, path.name), path)
    return seconds


def main(argv: list[str]) -> int:
    """Refresh the chapters whose file name contains one of `argv` (all if empty)."""
    chapters = [
        p for p in toc_notebooks() if not argv or any(a in p.name for a in argv)
    ]
    if not chapters:
        print(f"no chapter in _toc.yml matches {argv}", file=sys.stderr)
        return 2
    total = 0.0
    for i, path in enumerate(chapters, 1):
        print(
            f"[{i}/{len(chapters)}] {path.relative_to(ROOT)} ...", end=" ", flush=True
        )
        seconds = execute_in_place(path)
        total += seconds
        print(f"{seconds:.1f} s", flush=True)
    print(f"refreshed {len(chapters)} chapter(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
