"""Speed of `lib` and of the book, measured side by side in one run (not a test).

    python -m benchmarks.run                 # everything, writes benchmarks/results.json
    python -m benchmarks.run --only steps    # one section: steps, torch, batch, large, book, live
    python -m benchmarks.run --quick         # fewer sizes and repeats (a smoke run)

Every figure is a ratio of two timings taken in the same process, each the median of
several repeats, so it says something even on a busy machine. Sections:

1. steps  - per-step time of lib.dynamics.gradient_descent (moments) against a plain loop
            that recomputes gradients from X, for n in {1e3, 1e4, 1e5}, p = d = r in
            {16, 64, 256}, depth 2 and 3;
2. torch  - against a PyTorch autograd training loop (full batch, float64, CPU), if torch
            is installed (`pip install torch==2.13.0`; not a book requirement);
3. batch  - 64 step sizes advanced together in one batched run against 64 sequential runs;
4. large  - achieved GFLOP/s of a descent step at p = d = r = 1024 against numpy's matmul;
5. book   - fresh `jupyter-book build .` and `pytest` wall times, and the slowest cells;
6. live   - latency of each interactive figure's live slider (one recomputation of the
            figure, as in a reader's kernel), at five values across its range; budget 0.2 s.

The appendix page appendices/performance.ipynb shows the last results.json.
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
            right = dynamics.product(fs[l + 1:]) if l < len(fs) - 1 else None
            g = G if left is None else left.T @ G
            grads.append(g if right is None else g @ right.T)
        fs = [F - eta * g for F, g in zip(fs, grads)]
    return fs


def bench_steps(quick: bool) -> list[dict]:
    """Per-step time on the moments against the plain loop. The sizes n of one (depth, p)
    are timed round-robin, so that a slow spell of the machine hits them all alike."""
    rows = []
    sizes = [16, 64] if quick else [16, 64, 256]
    ns = [1000, 10000] if quick else [1000, 10000, 100000]
    repeats = 3 if quick else 7
    for depth in (2, 3):
        for p in sizes:
            steps = {16: 2000, 64: 400, 256: 40}[p]  # each timing lasts tens of milliseconds
            cases = {}
            for n in ns:
                X, Y, fs = random_problem(n, p, p, depth, p)
                cases[n] = (X, Y, fs, *problems.moments(X, Y))
            lib_times = {n: [] for n in ns}
            for _ in range(repeats + 1):  # the first round warms up and is dropped
                for n in ns:
                    _, _, fs, Sxx, Sxy = cases[n]
                    start = time.perf_counter()
                    dynamics.gradient_descent_moments(Sxx, Sxy, fs, 1e-3, steps, every=steps)
                    lib_times[n].append((time.perf_counter() - start) / steps)
            for n in ns:
                X, Y, fs, _, _ = cases[n]
                t_lib = statistics.median(lib_times[n][1:])
                plain_steps = max(2, min(200, int(2e9 / (8 * n * p * p))))  # keep each timing short
                t_plain = median_time(lambda: plain_descent(X, Y, fs, 1e-3, plain_steps), 3) / plain_steps
                t_moments = median_time(lambda: problems.moments(X, Y), 3)  # once per run, not per step
                rows.append(dict(depth=depth, p=p, n=n, lib_step_s=t_lib, plain_step_s=t_plain,
                                 moments_s=t_moments, speedup=t_plain / t_lib))
                print(f"steps  L={depth} p={p:4d} n={n:6d}: lib {t_lib * 1e6:9.1f} us/step "
                      f"(+ {t_moments * 1e3:7.1f} ms once for the moments), plain {t_plain * 1e6:10.1f} us/step, "
                      f"x{t_plain / t_lib:8.1f}", flush=True)
    return rows


def bench_torch(quick: bool) -> dict:
    try:
        import torch
    except ImportError:
        print("torch  not installed: pip install torch==2.13.0 (CPU) to run this section")
        return {"skipped": "torch not installed"}
    n, p, depth = 10000, 64, 2
    X, Y, fs = random_problem(n, p, p, depth, p)
    Sxx, Sxy = problems.moments(X, Y)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    steps = 100 if quick else 200

    def torch_loop():
        Ws = [torch.tensor(W, requires_grad=True) for W in fs]
        opt = torch.optim.SGD(Ws, lr=1e-3)
        for _ in range(steps):
            opt.zero_grad()
            W = Ws[0]
            for F in Ws[1:]:
                W = W @ F
            loss = ((Yt - Xt @ W) ** 2).sum() / (2 * n)
            loss.backward()
            opt.step()

    t_torch = median_time(torch_loop, 3) / steps
    t_lib = median_time(lambda: dynamics.gradient_descent_moments(Sxx, Sxy, fs, 1e-3, steps, every=steps), 5) / steps
    print(f"torch  n={n} p=d=r={p} L={depth}: lib {t_lib * 1e6:.1f} us/step, torch {t_torch * 1e6:.1f} us/step, "
          f"x{t_torch / t_lib:.1f} (torch {torch.__version__}, {torch.get_num_threads()} threads)")
    return dict(n=n, p=p, depth=depth, lib_step_s=t_lib, torch_step_s=t_torch, speedup=t_torch / t_lib,
                torch_version=torch.__version__)


def bench_batch(quick: bool) -> list[dict]:
    rows = []
    runs = 64
    for p in (16, 64):
        X, Y, fs = random_problem(2000, p, p, 2, p)
        Sxx, Sxy = problems.moments(X, Y)
        etas = np.linspace(1e-3, 5e-2, runs)
        steps = 200
        batched = [np.broadcast_to(W, (runs,) + W.shape) for W in fs]
        t_batch = median_time(lambda: dynamics.gradient_descent_moments(Sxx, Sxy, batched, etas, steps, every=steps), 3)
        t_seq = median_time(lambda: [dynamics.gradient_descent_moments(Sxx, Sxy, fs, e, steps, every=steps)
                                     for e in etas], 3 if not quick else 1)
        rows.append(dict(p=p, runs=runs, steps=steps, batched_s=t_batch, sequential_s=t_seq, speedup=t_seq / t_batch))
        print(f"batch  p={p}: {runs} runs x {steps} steps: batched {t_batch:.3f} s, sequential {t_seq:.3f} s, "
              f"x{t_seq / t_batch:.1f}", flush=True)
    return rows


def bench_large(quick: bool) -> dict:
    p = 512 if quick else 1024
    X, Y, fs = random_problem(2 * p, p, p, 2, p)
    Sxx, Sxy = problems.moments(X, Y)
    steps = 10
    t_step = median_time(lambda: dynamics.gradient_descent_moments(Sxx, Sxy, fs, 1e-4, steps, every=steps), 3) / steps
    A, B = fs[0], fs[1]
    t_mm = median_time(lambda: A @ B, 10)
    gflops_step = 4 * 2 * p**3 / t_step / 1e9  # 4 products of size p^3 per depth-2 step
    gflops_mm = 2 * p**3 / t_mm / 1e9
    print(f"large  p=d=r={p}: descent step {gflops_step:.1f} GFLOP/s, numpy matmul {gflops_mm:.1f} GFLOP/s, "
          f"{100 * gflops_step / gflops_mm:.0f}%")
    return dict(p=p, step_s=t_step, step_gflops=gflops_step, matmul_gflops=gflops_mm,
                fraction=gflops_step / gflops_mm)


def bench_book(quick: bool) -> dict:
    """Fresh build and pytest wall times; slowest cells from a fresh execution of each chapter."""
    import nbformat
    from nbclient import NotebookClient

    from tools.book import toc_notebooks

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT),
                        "--path-output", tmp], check=True, capture_output=True)  # forced execution: fresh
        out["build_s"] = time.perf_counter() - start
    print(f"book   fresh jupyter-book build: {out['build_s']:.1f} s", flush=True)
    if not quick:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                              capture_output=True, text=True)
        out["pytest_s"] = time.perf_counter() - start
        out["pytest_summary"] = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        print(f"book   pytest: {out['pytest_s']:.1f} s ({out['pytest_summary']})", flush=True)
    cells = []
    for path in toc_notebooks():
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        for i, cell in enumerate(nb.cells):
            ex = cell.get("metadata", {}).get("execution", {})
            if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
                from datetime import datetime
                t0 = datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))
                t1 = datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
                cells.append(dict(notebook=str(path.relative_to(ROOT)), cell=i, seconds=(t1 - t0).total_seconds(),
                                  first_line=cell.source.splitlines()[0][:60] if cell.source else ""))
    cells.sort(key=lambda c: -c["seconds"])
    out["slowest_cells"] = cells[:8]
    for c in cells[:8]:
        print(f"book   {c['seconds']:6.2f} s  {c['notebook']} cell {c['cell']}: {c['first_line']}")
    return out


LIVE_PROBE = """import json as _json
# the interactive figure the previous cell returned: the latest output with a redraw()
_figure = [v for _, v in sorted(Out.items()) if hasattr(v, "redraw")][-1]
_live = _figure.children[1].children[0]
_xs = [_live.min + (_live.max - _live.min) * f for f in (0.1, 0.3, 0.5, 0.7, 0.9)]
_values = [_live.base ** x if hasattr(_live, "base") else x for x in _xs]
print("LIVE" + _json.dumps([_figure.redraw(v) for v in _values for _ in range({repeats})]))"""


def bench_live(quick: bool) -> list[dict]:
    """Latency of every live slider: run each chapter with interactive figures in a kernel
    and, after each such figure, time its redraw (what moving the live slider runs)."""
    import nbformat
    from nbclient import NotebookClient

    from tools.book import toc_notebooks

    out = []
    probe = LIVE_PROBE.format(repeats=1 if quick else 3)
    for path in toc_notebooks():
        if "interactive_figure(" not in path.read_text():
            continue
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
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
                row = dict(notebook=str(path.relative_to(ROOT)), cell=index,
                           median_s=statistics.median(seconds), max_s=max(seconds))
                out.append(row)
                print(f"live   {row['notebook']} cell {index}: median {row['median_s']:.3f} s, "
                      f"max {row['max_s']:.3f} s per recomputation (budget 0.2 s)", flush=True)
    return out


def machine() -> dict:
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    blas = next((i for i in info if i.get("user_api") == "blas"), {})
    return dict(platform=platform.platform(), processor=platform.processor() or platform.machine(),
                cpus=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
                blas=f"{blas.get('internal_api', '?')} {blas.get('version', '')} ({blas.get('num_threads', '?')} threads, "
                     f"{blas.get('architecture', '?')})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["steps", "torch", "batch", "large", "book", "live"], action="append")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results.json")
    args = parser.parse_args(argv)
    sections = args.only or ["steps", "torch", "batch", "large", "book", "live"]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = machine()
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["command"] = "python -m benchmarks.run" + "".join(f" --only {o}" for o in args.only or []) \
        + (" --quick" if args.quick else "")
    bench = {"steps": bench_steps, "torch": bench_torch, "batch": bench_batch, "large": bench_large, "book": bench_book,
             "live": bench_live}
    for name in sections:
        results[name] = bench[name](args.quick)
    if not args.no_save:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
