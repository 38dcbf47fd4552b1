"""Speed of `lib` and of the book, measured side by side in one run (not a test).

    python -m benchmarks.run               # everything, writes benchmarks/results.json
    python -m benchmarks.run --only steps  # one of: steps torch batch large book live
    python -m benchmarks.run --quick       # fewer sizes and repeats (a smoke run)

Every figure is a ratio of two timings taken in the same process, each the median of
several repeats, so it says something even on a busy machine. Sections:

1. steps  - per-step time of lib.dynamics.gradient_descent (moments) against a plain
            loop that recomputes gradients from X, for n in {1e3, 1e4, 1e5},
            p = d = r in {16, 64, 256}, depth 2 and 3;
2. torch  - against a PyTorch autograd training loop on X (full batch, float64, CPU:
            algorithm and implementation) and against the same moments algorithm in
            PyTorch (implementation only), with the spread over repeats, if torch is
            installed (`pip install torch==2.13.0`; not a book requirement);
3. batch  - 64 step sizes advanced together in one batched run against 64 sequential
            runs;
4. large  - achieved GFLOP/s of a descent step at p = d = r = 1024 against numpy's
            matmul;
5. book   - fresh `jupyter-book build .` and `pytest` wall times, and the slowest cells;
6. live   - latency of each interactive figure's live slider (one recomputation of the
            figure, as in a reader's kernel), at five values across its range; budget
            0.2 s.

The appendix page appendices/performance.ipynb shows the last results.json; its key
"measured" says when, with which command and on which machine each section was last
run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lib import dynamics, problems

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"


def median_time(fn, repeats: int) -> float:
    """Median wall time of fn() over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_problem(n, p, d, depth, r, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, d)) / np.sqrt(p) + 0.1 * rng.standard_normal((n, d))
    factors = problems.small_random_start(p, d, 0.1, depth=depth, width=r, seed=seed)
    return X, Y, factors


def plain_descent(X, Y, factors, eta, steps):
    """What one writes without the moments: residuals from the data at every step."""
    n = X.shape[0]
    fs = [W.copy() for W in factors]
    for _ in range(steps):
        W = dynamics.product(fs)
        G = X.T @ (X @ W - Y) / n
        grads = []
        for l in range(len(fs)):
            left = dynamics.product(fs[:l]) if l else None
            right = dynamics.product(fs[l + 1 :]) if l < len(fs) - 1 else None
            g = G if left is None else left.T @ G
            grads.append(g if right is None else g @ right.T)
        fs = [F - eta * g for F, g in zip(fs, grads)]
    return fs


def bench_steps(quick: bool) -> list[dict]:
    """Per-step time on the moments against the plain loop.

    The sizes n of one (depth, p) are timed round-robin, so that a slow spell of the
    machine hits them all alike.
    """
    rows = []
    sizes = [16, 64] if quick else [16, 64, 256]
    ns = [1000, 10000] if quick else [1000, 10000, 100000]
    repeats = 3 if quick else 7
    for depth in (2, 3):
        for p in sizes:
            steps = {16: 2000, 64: 400, 256: 40}[
                p
            ]  # each timing lasts tens of milliseconds
            cases = {}
            for n in ns:
                X, Y, fs = random_problem(n, p, p, depth, p)
                cases[n] = (X, Y, fs, *problems.moments(X, Y))
            lib_times = {n: [] for n in ns}
            for _ in range(repeats + 1):  # the first round warms up and is dropped
                for n in ns:
                    _, _, fs, Sxx, Sxy = cases[n]
                    start = time.perf_counter()
                    dynamics.gradient_descent_moments(
                        Sxx, Sxy, fs, 1e-3, steps, every=steps
                    )
                    lib_times[n].append((time.perf_counter() - start) / steps)
            for n in ns:
                X, Y, fs, _, _ = cases[n]
                t_lib = statistics.median(lib_times[n][1:])
                plain_steps = max(
                    2, min(200, int(2e9 / (8 * n * p * p)))
                )  # keep each timing short
                t_plain = (
                    median_time(lambda: plain_descent(X, Y, fs, 1e-3, plain_steps), 3)
                    / plain_steps
                )
                t_moments = median_time(
                    lambda: problems.moments(X, Y), 3
                )  # once per run, not per step
                rows.append(
                    dict(
                        depth=depth,
                        p=p,
                        n=n,
                        lib_step_s=t_lib,
                        plain_step_s=t_plain,
                        moments_s=t_moments,
                        speedup=t_plain / t_lib,
                    )
                )
                print(
                    f"steps  L={depth} p={p:4d} n={n:6d}: "
                    f"lib {t_lib * 1e6:9.1f} us/step "
                    f"(+ {t_moments * 1e3:7.1f} ms once for the moments), "
                    f"plain {t_plain * 1e6:10.1f} us/step, x{t_plain / t_lib:8.1f}",
                    flush=True,
                )
    return rows


def torch_descent_moments(Sxx, Sxy, factors, eta, steps):
    """Lib's moments algorithm (gradient_descent_moments) in PyTorch tensor ops.

    Explicit gradients, no autograd: with prefix products P_l = W_1 ... W_l and
    G = Sxx W - Sxy, a sweep from the output side gives grad_l = P_{l-1}^T right, then
    right <- right W_l^T, the same 3L - 2 products as lib's step, none of size n. All
    gradients are formed before the factors move (in place, as torch.optim.SGD does).

    Parameters
    ----------
    Sxx : (p, p) tensor; Sxy : (p, d) tensor
    factors : list of L tensors W_l, (r_{l-1}, r_l); copied, not modified
    eta : float, step size; steps : int, number of steps

    Returns
    -------
    list of L tensors, the factors after `steps` steps.
    """
    fs = [F.clone() for F in factors]
    for _ in range(steps):
        prefix = [fs[0]]
        for F in fs[1:]:
            prefix.append(prefix[-1] @ F)
        right = Sxx @ prefix[-1] - Sxy
        grads = [None] * len(fs)
        for l in range(len(fs) - 1, 0, -1):
            grads[l] = prefix[l - 1].T @ right
            right = right @ fs[l].T
        grads[0] = right
        for F, g in zip(fs, grads):
            F.sub_(g, alpha=eta)
    return fs


def torch_autograd_descent(X, Y, factors, eta, steps):
    """Full-batch gradient descent as a PyTorch training loop, autograd on X.

    Autograd on the loss ||Y - X W_1 ... W_L||^2 / (2n) from the data at every step,
    torch.optim.SGD.

    Parameters
    ----------
    X, Y : (n, p) and (n, d) tensors, the data
    factors : list of L float64 arrays W_l, (r_{l-1}, r_l), the start (copied)
    eta, steps : step size and number of steps

    Returns
    -------
    fs : list of L tensors (detached from the graph), the factors after the last step
    """
    import torch

    n = X.shape[0]
    fs = [torch.tensor(W, requires_grad=True) for W in factors]
    opt = torch.optim.SGD(fs, lr=eta)
    for _ in range(steps):
        opt.zero_grad()
        W = fs[0]
        for F in fs[1:]:
            W = W @ F
        loss = ((Y - X @ W) ** 2).sum() / (2 * n)
        loss.backward()
        opt.step()
    return [F.detach() for F in fs]


def spread(values) -> dict:
    """Median, quartiles and range of a list of repeated measurements."""
    q1, _, q3 = statistics.quantiles(values, n=4)
    return {
        "median": statistics.median(values),
        "q1": q1,
        "q3": q3,
        "min": min(values),
        "max": max(values),
    }


def bench_torch(quick: bool) -> dict:
    """Lib against two PyTorch loops at n = 1e4, p = d = r = 64, depth 2, float64, CPU.

    torch_x is a training loop on X (autograd, SGD): against it, lib's ratio is
    algorithm (moments, per-step cost free of n) times implementation. torch_moments
    is lib's own algorithm in PyTorch: against it, the ratio is implementation only.
    numpy_x (the plain loop of the steps section) against torch_x is implementation on
    the same work on X. The four loops are timed round-robin, so that a slow spell of
    the machine hits all alike, and each ratio is taken within a round; the first round
    warms up and is dropped.
    """
    try:
        import torch
    except ImportError:
        print(
            "torch  skipped: torch is not installed (pip install torch==2.13.0, CPU; "
            "not a book requirement)"
        )
        return {"skipped": "torch not installed"}
    n, p, depth, eta = 10000, 64, 2, 1e-3
    steps = 100 if quick else 200
    repeats = 3 if quick else 9
    inner = 5  # the moments loops repeat their block: one block of them lasts ~10 ms
    X, Y, fs = random_problem(n, p, p, depth, p)
    Sxx, Sxy = problems.moments(X, Y)
    Xt, Yt, St, Syt = (torch.from_numpy(a) for a in (X, Y, Sxx, Sxy))
    ft = [torch.from_numpy(W) for W in fs]

    def lib_loop():
        return dynamics.gradient_descent_moments(Sxx, Sxy, fs, eta, steps, every=steps)

    loops = {  # name: (one block, steps in it)
        "lib": (lambda: [lib_loop() for _ in range(inner)], inner * steps),
        "torch_moments": (
            lambda: [
                torch_descent_moments(St, Syt, ft, eta, steps) for _ in range(inner)
            ],
            inner * steps,
        ),
        "numpy_x": (lambda: plain_descent(X, Y, fs, eta, steps), steps),
        "torch_x": (lambda: torch_autograd_descent(Xt, Yt, fs, eta, steps), steps),
    }
    step_s = {name: [] for name in loops}
    for _ in range(repeats + 1):
        for name, (block, block_steps) in loops.items():
            start = time.perf_counter()
            block()
            step_s[name].append((time.perf_counter() - start) / block_steps)
    step_s = {name: times[1:] for name, times in step_s.items()}

    # the same iterates: every loop's final end-to-end map against lib's, in float64
    W_lib = lib_loop()[1][-1]
    finals = {
        "torch_moments": dynamics.product(
            [F.numpy() for F in torch_descent_moments(St, Syt, ft, eta, steps)]
        ),
        "numpy_x": dynamics.product(plain_descent(X, Y, fs, eta, steps)),
        "torch_x": dynamics.product(
            [F.numpy() for F in torch_autograd_descent(Xt, Yt, fs, eta, steps)]
        ),
    }
    max_abs_diff = {name: float(np.abs(W - W_lib).max()) for name, W in finals.items()}
    scale = float(np.abs(W_lib).max())
    tolerance = 1e-10 * scale  # float64 round-off, summed in other orders, is ~1e-16
    for name, diff in max_abs_diff.items():
        if not diff <= tolerance:
            raise RuntimeError(
                f"torch: {name} ends {diff:.3g} away from lib's iterate "
                f"(tolerance {tolerance:.3g}): not the same computation"
            )

    pairs = {
        "torch_x/lib": ("torch_x", "lib"),  # algorithm x implementation
        "torch_moments/lib": ("torch_moments", "lib"),  # implementation, moments
        "torch_x/numpy_x": ("torch_x", "numpy_x"),  # implementation, on X
        "torch_x/torch_moments": ("torch_x", "torch_moments"),  # algorithm, torch
        "numpy_x/lib": ("numpy_x", "lib"),
    }  # algorithm, numpy
    ratios = {
        key: spread([a / b for a, b in zip(step_s[num], step_s[den])])
        for key, (num, den) in pairs.items()
    }
    for name, times in step_s.items():
        s = spread(times)
        print(
            f"torch  {name:14s} {s['median'] * 1e6:9.1f} us/step "
            f"(min {s['min'] * 1e6:.1f}, max {s['max'] * 1e6:.1f})",
            flush=True,
        )
    for key, r in ratios.items():
        print(
            f"torch  {key:22s} x{r['median']:7.2f}  "
            f"(IQR {r['q1']:.2f}-{r['q3']:.2f}, "
            f"min-max {r['min']:.2f}-{r['max']:.2f}, {repeats} repeats)",
            flush=True,
        )
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in max_abs_diff.items())
    print(
        f"torch  final map, max |W - W_lib|: {diffs} (max |W_lib| {scale:.2g}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    return {
        "n": n,
        "p": p,
        "depth": depth,
        "eta": eta,
        "steps": steps,
        "repeats": repeats,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_x_loop": "autograd on ||Y - XW||^2 / 2n, torch.optim.SGD",
        "torch_moments_loop": "tensor ops, explicit gradients from Sxx, Sxy "
        "(no autograd), benchmarks.run.torch_descent_moments",
        "step_s": step_s,
        "ratios": ratios,
        "max_abs_diff": max_abs_diff,
        "max_abs_W": scale,
        # the keys of earlier results (medians), kept for readers of older files
        "lib_step_s": statistics.median(step_s["lib"]),
        "torch_step_s": statistics.median(step_s["torch_x"]),
        "speedup": ratios["torch_x/lib"]["median"],
    }


def bench_batch(quick: bool) -> list[dict]:
    rows = []
    runs = 64
    for p in (16, 64):
        X, Y, fs = random_problem(2000, p, p, 2, p)
        Sxx, Sxy = problems.moments(X, Y)
        etas = np.linspace(1e-3, 5e-2, runs)
        steps = 200
        batched = [np.broadcast_to(W, (runs,) + W.shape) for W in fs]
        t_batch = median_time(
            lambda: dynamics.gradient_descent_moments(
                Sxx, Sxy, batched, etas, steps, every=steps
            ),
            3,
        )
        t_seq = median_time(
            lambda: [
                dynamics.gradient_descent_moments(Sxx, Sxy, fs, e, steps, every=steps)
                for e in etas
            ],
            3 if not quick else 1,
        )
        row = dict(p=p, runs=runs, steps=steps, batched_s=t_batch, sequential_s=t_seq)
        rows.append(row | {"speedup": t_seq / t_batch})
        print(
            f"batch  p={p}: {runs} runs x {steps} steps: batched {t_batch:.3f} s, "
            f"sequential {t_seq:.3f} s, x{t_seq / t_batch:.1f}",
            flush=True,
        )
    return rows


def bench_large(quick: bool) -> dict:
    p = 512 if quick else 1024
    X, Y, fs = random_problem(2 * p, p, p, 2, p)
    Sxx, Sxy = problems.moments(X, Y)
    steps = 10
    t_step = (
        median_time(
            lambda: dynamics.gradient_descent_moments(
                Sxx, Sxy, fs, 1e-4, steps, every=steps
            ),
            3,
        )
        / steps
    )
    A, B = fs[0], fs[1]
    t_mm = median_time(lambda: A @ B, 10)
    gflops_step = 4 * 2 * p**3 / t_step / 1e9  # 4 products of size p^3 per depth-2 step
    gflops_mm = 2 * p**3 / t_mm / 1e9
    print(
        f"large  p=d=r={p}: descent step {gflops_step:.1f} GFLOP/s, "
        f"numpy matmul {gflops_mm:.1f} GFLOP/s, {100 * gflops_step / gflops_mm:.0f}%"
    )
    return dict(
        p=p,
        step_s=t_step,
        step_gflops=gflops_step,
        matmul_gflops=gflops_mm,
        fraction=gflops_step / gflops_mm,
    )


def bench_book(quick: bool) -> dict:
    """Fresh build and pytest wall times; slowest cells from a fresh run of each."""
    import nbformat
    from nbclient import NotebookClient

    from tools.book import toc_notebooks
    from tools.sphinx_kernel_encryption import encrypt_kernel_transport

    encrypt_kernel_transport()  # kernels started as the build starts them
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("jupyter-book")),
                "build",
                str(ROOT),
                "--path-output",
                tmp,
            ],
            check=True,
            capture_output=True,
        )  # forced execution: fresh
        out["build_s"] = time.perf_counter() - start
    print(f"book   fresh jupyter-book build: {out['build_s']:.1f} s", flush=True)
    if not quick:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        out["pytest_s"] = time.perf_counter() - start
        out["pytest_summary"] = (
            proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        )
        print(
            f"book   pytest: {out['pytest_s']:.1f} s ({out['pytest_summary']})",
            flush=True,
        )
    cells = []
    for path in toc_notebooks():
        nb = nbformat.read(path, as_version=4)
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        for i, cell in enumerate(nb.cells):
            ex = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
                from datetime import datetime

                t0 = datetime.fromisoformat(
                    ex["iopub.execute_input"].replace("Z", "+00:00")
                )
                t1 = datetime.fromisoformat(
                    ex["shell.execute_reply"].replace("Z", "+00:00")
                )
                cells.append(
                    dict(
                        notebook=str(path.relative_to(ROOT)),
                        cell=i,
                        seconds=(t1 - t0).total_seconds(),
                        first_line=cell.source.splitlines()[0][:60]
                        if cell.source
                        else "",
                    )
                )
    cells.sort(key=lambda c: -c["seconds"])
    out["slowest_cells"] = cells[:8]
    for c in cells[:8]:
        print(
            f"book   {c['seconds']:6.2f} s  {c['notebook']} cell {c['cell']}: "
            f"{c['first_line']}"
        )
    return out


LIVE_PROBE = """import json as _json
# the interactive figure the previous cell returned: the latest output with a redraw()
_figure = [v for _, v in sorted(Out.items()) if hasattr(v, "redraw")][-1]
_live = _figure.children[1].children[0]
_xs = [_live.min + (_live.max - _live.min) * f for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
_values = [_live.base ** x if hasattr(_live, "base") else x for x in _xs]
_seconds = [_figure.redraw(v) for v in _values for _ in range({repeats})]
print("LIVE" + _json.dumps(_seconds))"""


def bench_live(quick: bool) -> list[dict]:
    """Latency of every live slider, in a kernel.

    Runs each chapter with interactive figures and, after each such figure, times its
    redraw (what moving the live slider runs).
    """
    import nbformat
    from nbclient import NotebookClient

    from tools.book import toc_notebooks
    from tools.sphinx_kernel_encryption import encrypt_kernel_transport

    encrypt_kernel_transport()  # kernels started as the build starts them
    out = []
    probe = LIVE_PROBE.format(repeats=1 if quick else 3)
    for path in toc_notebooks():
        if "interactive_figure(" not in path.read_text():
            continue
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        with client.setup_kernel():
            for index, cell in enumerate(list(nb.cells)):
                client.execute_cell(cell, index)
                if cell.cell_type != "code" or "interactive_figure(" not in cell.source:
                    continue
                nb.cells.append(nbformat.v4.new_code_cell(probe))
                probe_cell = client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
                nb.cells.pop()
                text = "".join(o.get("text", "") for o in probe_cell.outputs)
                seconds = json.loads(text.split("LIVE", 1)[1])
                row = dict(
                    notebook=str(path.relative_to(ROOT)),
                    cell=index,
                    median_s=statistics.median(seconds),
                    max_s=max(seconds),
                )
                out.append(row)
                print(
                    f"live   {row['notebook']} cell {index}: "
                    f"median {row['median_s']:.3f} s, max {row['max_s']:.3f} s "
                    "per recomputation (budget 0.2 s)",
                    flush=True,
                )
    return out


def machine() -> dict:
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    blas = next((i for i in info if i.get("user_api") == "blas"), {})
    return dict(
        platform=platform.platform(),
        processor=platform.processor() or platform.machine(),
        cpus=os.cpu_count(),
        python=platform.python_version(),
        numpy=np.__version__,
        blas=f"{blas.get('internal_api', '?')} {blas.get('version', '')} "
        f"({blas.get('num_threads', '?')} threads, {blas.get('architecture', '?')})",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=["steps", "torch", "batch", "large", "book", "live"],
        action="append",
    )
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument(
        "--no-save", action="store_true", help="do not write benchmarks/results.json"
    )
    args = parser.parse_args(argv)
    sections = args.only or ["steps", "torch", "batch", "large", "book", "live"]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["command"] = (
        "python -m benchmarks.run"
        + "".join(f" --only {o}" for o in args.only or [])
        + (" --quick" if args.quick else "")
    )
    bench = {
        "steps": bench_steps,
        "torch": bench_torch,
        "batch": bench_batch,
        "large": bench_large,
        "book": bench_book,
        "live": bench_live,
    }
    # each section says when, how and where it was last measured: a run with --only
    # keeps the other sections, which may come from another day or another machine
    measured = results.setdefault("measured", {})
    for name in sections:
        results[name] = bench[name](args.quick)
        measured[name] = {key: results[key] for key in ("date", "command", "machine")}
    if not args.no_save:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
