"""The book's structure as the tools and tests see it: chapters in `_toc.yml` order."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc_files(root: Path = ROOT) -> list[str]:
    """Every `file:` entry of `_toc.yml` in reading order (root first), no suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks listed in `_toc.yml`, in order."""
    return [
        root / f"{f}.ipynb" for f in toc_files(root) if (root / f"{f}.ipynb").exists()
    ]
