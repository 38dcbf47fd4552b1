"""Re-execute every chapter in place, in `_toc.yml` order, each in a fresh kernel.

    python -m tools.refresh_outputs            # all chapters
    python -m tools.refresh_outputs 02 03      # chapters whose file name contains 02 or 03

The stored outputs are what nbval compares on every test run, so refresh them after any
change to a chapter or to `lib`, review `git diff`, and commit them. Outputs are only ever
produced this way, never edited by hand.
"""

from __future__ import annotations

import sys
import time

import nbformat
from nbclient import NotebookClient

from tools.book import ROOT, toc_notebooks
from tools.sphinx_kernel_encryption import encrypt_kernel_transport

CELL_TIMEOUT = 300  # seconds, the same as the build's per-cell timeout


def execute_in_place(path) -> float:
    """Execute one notebook top to bottom in a fresh kernel and write it back; seconds."""
    encrypt_kernel_transport()  # as in the build: no plain-text kernel, no warning
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    chapters = [p for p in toc_notebooks() if not argv or any(a in p.name for a in argv)]
    if not chapters:
        print(f"no chapter in _toc.yml matches {argv}", file=sys.stderr)
        return 2
    total = 0.0
    for i, path in enumerate(chapters, 1):
        print(f"[{i}/{len(chapters)}] {path.relative_to(ROOT)} ...", end=" ", flush=True)
        seconds = execute_in_place(path)
        total += seconds
        print(f"{seconds:.1f} s", flush=True)
    print(f"refreshed {len(chapters)} chapter(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
