"""Tests of `dynamics.gradient_flow_batch` (batched full-matrix gradient flow)."""

import numpy as np
import pytest

from lib import dynamics, metrics, problems, theory


def _stack(starts):
    return [np.stack([s[l] for s in starts]) for l in range(len(starts[0]))]


def test_batch_equals_single_runs_at_their_own_speed(aligned):
    X, Y, A = aligned["X"], aligned["Y"], aligned["A"]
    starts = [
        problems.aligned_start(A.U, A.V, np.full(4, w), width=5, seed=s)
        for w, s in ((1e-2, 0), (1e-3, 1))
    ]
    starts[1][0] = starts[1][0] + 1e-3  # a start off the aligned manifold too
    speed = np.array([1.0, 2.5])
    s = np.linspace(0.0, 3.0, 13)
    batch = dynamics.gradient_flow_batch(X, Y, _stack(starts), s, speed=speed)
    assert batch.shape == (2, 13, 6, 5)
    for b in range(2):
        single = dynamics.gradient_flow(X, Y, starts[b], speed[b] * s)
        assert np.abs(batch[b] - single).max() < 1e-8 * np.abs(single).max()


@pytest.mark.parametrize("delta", [2.0, 30.0])
def test_tiny_start_keeps_relative_accuracy(aligned, delta):
    """A start far below any fixed absolute tolerance follows the closed form.

    A start of size e^{-delta} still follows the closed form (orthogonal Q) to the
    solver's relative accuracy.
    """
    X, Y, A, sigma, lam = (aligned[key] for key in ("X", "Y", "A", "sigma", "lam"))
    w0 = np.full(4, np.exp(-2 * delta))
    start = problems.aligned_start(A.U, A.V, w0, width=5, seed=3)
    s = np.linspace(0.0, 1.5 / sigma.min(), 50)
    W, fs = dynamics.gradient_flow_batch(
        X, Y, _stack([start]), s, speed=delta, return_factors=True
    )
    closed = metrics.modes_to_map(
        A.U, A.V, theory.continuous_modes(delta * s, sigma, lam, w0)
    )
    # timing errors of ~ rtol per unit of log-growth add up over the 2 delta e-folds
    assert np.abs(W[0] - closed).max() < 1e-6 * np.abs(closed).max()
    assert np.abs(fs[0][0, 0] - start[0]).max() == 0.0
    # early on, relative error per entry (the entries are ~ e^{-2 delta})
    assert np.abs(W[0, 1] - closed[1]).max() < 1e-8 * np.abs(closed[1]).max()


@pytest.mark.parametrize(
    "bad, word",
    [
        ({"factors": "2d"}, "3-D"),
        ({"s": np.array([0.0, 2.0, 1.0])}, "non-decreasing"),
        ({"speed": -1.0}, "speed"),
        ({"factors": "zero"}, "non-zero"),
    ],
)
def test_batch_rejects_bad_input(aligned, bad, word):
    X, Y, A = aligned["X"], aligned["Y"], aligned["A"]
    start = _stack([problems.aligned_start(A.U, A.V, np.full(4, 1e-2), width=4)])
    kwargs = {"factors": start, "s": np.linspace(0, 1, 3), "speed": 1.0}
    kwargs.update(bad)
    if kwargs["factors"] == "2d":
        kwargs["factors"] = [f[0] for f in start]
    elif kwargs["factors"] == "zero":
        kwargs["factors"] = [np.zeros_like(f) for f in start]
    with pytest.raises(ValueError, match=word):
        dynamics.gradient_flow_batch(X, Y, **kwargs)
