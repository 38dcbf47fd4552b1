"""How the build executes the chapters.

Two at a time into a cache that is refilled when lib changes, failures fail the build,
and kernels are encrypted so ipykernel does not warn.
"""

import os
import re
import shutil
from types import SimpleNamespace

import nbformat
import pytest
from sphinx.errors import ExtensionError

from tools import sphinx_parallel_execution as parallel
from tools.book import ROOT, toc_notebooks


def test_the_fingerprint_follows_lib_sources(tmp_path):
    lib_copy = tmp_path / "lib"
    shutil.copytree(
        ROOT / "lib", lib_copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    before = parallel.fingerprint(lib_copy)
    assert parallel.fingerprint(lib_copy) == before  # the same sources, the same print
    target = lib_copy / "theory.py"
    target.write_text(target.read_text() + "\n# a change\n")
    assert parallel.fingerprint(lib_copy) != before


def test_the_fingerprint_follows_the_files_the_notebooks_read(tmp_path):
    lib_copy = tmp_path / "lib"
    shutil.copytree(
        ROOT / "lib", lib_copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "benchmarks").mkdir()
    results = tmp_path / "benchmarks" / "results.json"
    results.write_text("{}")
    before = parallel.fingerprint(lib_copy)
    results.write_text('{"book": {}}')
    assert parallel.fingerprint(lib_copy) != before


def test_every_file_a_notebook_reads_is_in_the_fingerprint():
    """Paths like "../benchmarks/results.json" in a notebook's code: all listed."""
    read = set()
    for path in toc_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for rel in re.findall(r"""["'](\.\./[^"']+)["']""", cell.source):
                    read.add((path.parent / rel).resolve().relative_to(ROOT).as_posix())
    assert read, "no notebook reads a file: the pattern above no longer finds them"
    assert read <= set(parallel.DATA_FILES), read - set(parallel.DATA_FILES)


def test_the_cache_is_emptied_when_the_fingerprint_changes(tmp_path):
    cache_dir = tmp_path / "cache"
    parallel.open_cache(cache_dir, "first")
    marker = cache_dir / "executed-under-first"
    marker.write_text("")
    parallel.open_cache(cache_dir, "first")
    assert marker.exists()  # same fingerprint: kept
    parallel.open_cache(cache_dir, "second")
    assert not marker.exists()  # another fingerprint: emptied
    assert (cache_dir / parallel.FINGERPRINT_FILE).read_text() == "second"


def _env(tmp_path, sources):
    paths = {}
    for name, code in sources.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        paths[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    config = SimpleNamespace(
        execution_mode="cache",
        execution_in_temp=False,
        execution_cache_path=str(tmp_path / "cache"),
        execution_timeout=60,
        execution_allow_errors=False,
        execution_raise_on_error=True,
    )
    return SimpleNamespace(
        mystnb_config=config, doc2path=lambda d: str(paths[d]), srcdir=str(tmp_path)
    )


def test_executed_notebooks_are_cached_and_a_failure_fails_the_build(tmp_path):
    from jupyter_cache import get_cache

    env = _env(tmp_path, {"good": "print(6 * 7)", "bad": "1 / 0"})
    with pytest.raises(
        ExtensionError, match=r"bad\.ipynb failed(.|\n)*ZeroDivisionError"
    ):
        parallel.execute_uncached(None, env, ["good", "bad"])
    cache = get_cache(env.mystnb_config.execution_cache_path)
    good = nbformat.read(env.doc2path("good"), as_version=4)
    _, merged = cache.merge_match_into_notebook(good)
    assert merged.cells[0].outputs[0]["text"] == "42\n"  # the good one was executed
    with pytest.raises(KeyError):
        cache.match_cache_notebook(nbformat.read(env.doc2path("bad"), as_version=4))


@pytest.mark.parametrize("policy, warned", [("disabled", True), ("auto", False)])
def test_encrypted_kernels_do_not_warn_about_plain_tcp(
    policy, warned, capfd, monkeypatch
):
    """With jupyter_client's default policy ipykernel warns; with the book's, not."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    trait = KernelManager.transport_encryption
    monkeypatch.setattr(trait, "default_value", policy)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran')")])
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    assert nb.cells[0].outputs[0]["text"] == "ran\n"
    err = capfd.readouterr().err
    assert ("Kernel is running over TCP without encryption" in err) == warned, err


def test_kernels_get_one_share_of_the_cores_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice wins
    with parallel.blas_threads(1):
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # restored
    assert os.environ["OMP_NUM_THREADS"] == "3"
