"""Sphinx extension: execute the chapters two at a time before Sphinx reads them.

myst-nb executes each notebook when Sphinx reads it, one after the other, and
``jupyter-book build`` offers no parallel reading. On the book's 2-core machine that
left one core idle for the whole execution, most of a fresh build. With
``execute_notebooks: cache`` (myst-nb's jupyter-cache mode) myst-nb takes a notebook's
outputs from the cache when the cache holds an execution of the same code, and executes
it itself otherwise. This extension fills that cache first: on ``env-before-read-docs``
it executes every notebook that is about to be read and has no cached execution, as
many at a time as there are cores, each in a fresh kernel, in its own folder, with the
build's timeout and error settings. A failing notebook fails the build, naming the
notebook and the error, as myst-nb's ``raise_on_error`` does.

jupyter-cache recognises a notebook by its code cells only, so a change in ``lib``
alone would reuse outputs computed with the old ``lib``. The cache is therefore
emptied whenever the fingerprint of what the chapters run changes: the source of the
``lib`` package, the versions of the packages that compute and draw, and the files the
notebooks read (``DATA_FILES``; a test checks that the list is complete). A fresh build
(no ``_build``) executes everything; a rebuild after editing one chapter executes that
chapter only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import nbformat
from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

# Packages whose version changes what a chapter prints or draws.
FINGERPRINT_PACKAGES = ("numpy", "scipy", "matplotlib", "ipywidgets", "scikit-learn")
FINGERPRINT_FILE = "book-fingerprint.txt"
# Files a notebook reads, relative to the book's root (tests/test_build_execution.py
# checks every "../..." path in the notebooks is here).
DATA_FILES = ("benchmarks/results.json", "requirements.txt")


def fingerprint(lib_dir: Path | None = None, root: Path | None = None) -> str:
    """SHA-256 of `lib`'s sources, the computing packages' versions, the data files.

    Parameters
    ----------
    lib_dir : Path, optional
        The package folder; by default that of the ``lib`` this Python imports (the one
        the chapters' kernels import too).
    root : Path, optional
        The book's root, where ``DATA_FILES`` are; by default the parent of `lib_dir`.
    """
    if lib_dir is None:
        import lib

        lib_dir = Path(lib.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(Path(lib_dir).rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in FINGERPRINT_PACKAGES:
        digest.update(f"{name}=={metadata.version(name)}".encode())
    root = Path(lib_dir).parent if root is None else Path(root)
    for name in DATA_FILES:
        path = root / name
        digest.update(
            name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"")
        )
    return digest.hexdigest()


def open_cache(path: Path, current: str):
    """The jupyter-cache at `path`, emptied first if filled under another fingerprint.

    Parameters
    ----------
    path : Path
        The cache folder (myst-nb's ``execution_cache_path``).
    current : str
        The fingerprint of what the chapters run now (:func:`fingerprint`).
    """
    from jupyter_cache import get_cache

    stamp = path / FINGERPRINT_FILE
    if path.exists() and (not stamp.exists() or stamp.read_text() != current):
        LOGGER.info(
            "[parallel execution] lib or package versions changed: emptying %s", path
        )
        shutil.rmtree(path)
    cache = get_cache(str(path))
    path.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current)
    return cache


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def blas_threads(n: int):
    """Kernels started inside this context use `n` BLAS threads (unless the user chose).

    Two kernels with one BLAS thread per core each would run four threads on two cores;
    oversubscribed, the build was 74 s instead of 65 s. The printed checks do not
    depend on the thread count (they are rounded so; figures are identical too), and
    kernels inherit the environment of the process that starts them.
    """
    saved = {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}
    for name, value in saved.items():
        if value is None:
            os.environ[name] = str(n)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _execute(path: Path, nb, config):
    from jupyter_cache.executors.utils import single_nb_execution

    return single_nb_execution(
        nb,
        cwd=str(path.parent),
        timeout=config.execution_timeout,
        allow_errors=config.execution_allow_errors,
        meta_override=True,
    )


def execute_uncached(app, env, docnames) -> None:
    """Execute, in parallel, the notebooks among `docnames` that the cache lacks.

    The handler of Sphinx's ``env-before-read-docs``: `env` carries myst-nb's
    configuration (``env.mystnb_config``), ``env.doc2path`` and ``env.srcdir``;
    `docnames` are the documents about to be read. Raises ExtensionError naming the
    first notebook that failed, when the build's ``raise_on_error`` is set.
    """
    from jupyter_cache.base import CacheBundleIn

    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    if config.execution_in_temp:
        raise ExtensionError(
            "sphinx_parallel_execution runs notebooks in their own folder; "
            "set execute.run_in_temp to false"
        )
    cache = open_cache(Path(config.execution_cache_path), fingerprint(root=env.srcdir))
    todo = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb":
            continue
        nb = nbformat.read(path, as_version=4)
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            todo.append((path, nb))
    if not todo:
        return
    workers = min(len(todo), os.cpu_count() or 1)
    LOGGER.info(
        "[parallel execution] executing %d notebook(s), %d at a time",
        len(todo),
        workers,
    )
    # Longest first (by the size of their code) so that the two queues end together.
    todo.sort(key=lambda item: -sum(len(c.source) for c in item[1].cells))
    with blas_threads(max(1, (os.cpu_count() or 1) // workers)):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Threads suffice: each notebook runs in its own kernel process.
            results = list(pool.map(lambda item: _execute(*item, config), todo))
    failures = [(path, r) for (path, _), r in zip(todo, results) if r.err is not None]
    for (path, nb), result in zip(todo, results):
        if result.err is None:
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(path), data={"execution_seconds": result.time}),
                check_validity=False,
                overwrite=True,
            )
            LOGGER.info("[parallel execution] %s: %.1f s", path.name, result.time)
    if failures and config.execution_raise_on_error:
        path, result = failures[0]
        raise ExtensionError(f"executing {path} failed:\n{result.exc_string}")


def setup(app):
    """Register the extension (Sphinx entry point)."""
    app.connect("env-before-read-docs", execute_uncached)
    # Sphinx reads serially in jupyter-book (no -j), so nothing here needs merging.
    return {"parallel_read_safe": True, "parallel_write_safe": True}
