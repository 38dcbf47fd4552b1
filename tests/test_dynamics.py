import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import DivergenceError, dynamics, metrics, problems, theory

from _problems import LAM, SIGMA


def reference_descent(X, Y, factors, eta, steps):
    """Plain descent that recomputes every gradient from the data X, Y (no moments)."""
    n = X.shape[0]
    fs = [W.copy() for W in factors]
    out = []
    for _ in range(steps + 1):
        W = fs[0]
        for F in fs[1:]:
            W = W @ F
        out.append(W)
        R = X.T @ (X @ W - Y) / n
        grads = []
        for l in range(len(fs)):
            left = np.eye(X.shape[1])
            for F in fs[:l]:
                left = left @ F
            right = np.eye(Y.shape[1])
            for F in reversed(fs[l + 1 :]):
                right = F @ right
            grads.append(left.T @ R @ right.T)
        fs = [F - eta * g for F, g in zip(fs, grads)]
    return np.array(out)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_decoupled_modes_match_full_matrix_descent(aligned, depth):
    A = aligned["A"]
    w0 = np.array([1e-2, 3e-3, 1e-3, 5e-2])
    eta = 0.05
    fs = problems.aligned_start(A.U, A.V, w0, depth=depth, width=5, seed=5)
    iters, W = dynamics.gradient_descent(
        aligned["X"], aligned["Y"], fs, eta, 600, every=7
    )
    modes = dynamics.discrete_modes(SIGMA, LAM, w0, eta, 600, depth=depth)
    np.testing.assert_allclose(
        metrics.mode_strengths(W, A.U, A.V, 4), modes[iters], rtol=0, atol=1e-12
    )
    assert iters[0] == 0 and iters[-1] == 600


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_moment_descent_matches_data_descent(depth):
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((50, 4)), rng.standard_normal((50, 3))
    fs = problems.small_random_start(4, 3, 0.3, depth=depth, width=5, seed=1)
    _, W = dynamics.gradient_descent(X, Y, fs, 0.1, 30)
    np.testing.assert_allclose(
        W, reference_descent(X, Y, fs, 0.1, 30), rtol=1e-11, atol=1e-13
    )


def test_discrete_map_formulas():
    sigma, lam, w0, eta = 2.0, 0.5, 1e-2, 0.1
    w = dynamics.discrete_modes(sigma, lam, w0, eta, 3)[:, 0]
    for t in range(3):
        assert w[t + 1] == pytest.approx(
            w[t] * (1 + eta * (sigma - lam * w[t])) ** 2, rel=1e-14
        )
    w1 = dynamics.discrete_modes(sigma, lam, w0, eta, 50, depth=1)[:, 0]
    np.testing.assert_allclose(
        w1,
        sigma / lam + (w0 - sigma / lam) * (1 - eta * lam) ** np.arange(51),
        rtol=1e-12,
    )


def test_batched_descent_equals_sequential_runs(aligned):
    A = aligned["A"]
    etas = np.array([0.01, 0.05, 0.1])
    fs = problems.aligned_start(A.U, A.V, np.full(4, 1e-3), depth=2, width=5, seed=1)
    batch = [np.broadcast_to(W, (3,) + W.shape) for W in fs]
    _, Wb = dynamics.gradient_descent(
        aligned["X"], aligned["Y"], batch, etas, 200, every=50
    )
    assert Wb.shape == (5, 3, 6, 5)
    for i, eta in enumerate(etas):
        _, Ws = dynamics.gradient_descent(
            aligned["X"], aligned["Y"], fs, eta, 200, every=50
        )
        np.testing.assert_allclose(Wb[:, i], Ws, rtol=1e-13, atol=1e-15)
    # a batch of step sizes in the mode map: each column is its own run
    modes = dynamics.discrete_modes(SIGMA, LAM, 1e-3, etas[:, None], 200)
    np.testing.assert_allclose(
        metrics.mode_strengths(Wb, A.U, A.V, 4), modes[::50], rtol=0, atol=1e-12
    )


@settings(max_examples=30, deadline=None)
@given(depth=st.integers(2, 4), h=st.floats(0.01, 0.9), seed=st.integers(0, 1000))
def test_mode_flow_is_the_small_step_limit_of_descent(depth, h, seed):
    """discrete_modes with eta -> 0 follows mode_flow: error O(eta) at fixed time."""
    rng = np.random.default_rng(seed)
    sigma = np.sort(rng.uniform(0.3, 2.0, 3))[::-1]
    lam = rng.uniform(0.3, 2.0, 3)
    w0 = np.full(3, 1e-2)
    T = 2.0
    errs = []
    for eta in (1e-2 * h, 5e-3 * h):
        steps = int(round(T / eta))
        w = dynamics.discrete_modes(sigma, lam, w0, eta, steps, depth=depth)[-1]
        errs.append(
            np.abs(
                w - dynamics.mode_flow([steps * eta], sigma, lam, w0, depth)[0]
            ).max()
        )
    assert errs[1] < 0.7 * errs[0] + 1e-12  # halving eta roughly halves the error


def test_gradient_flow_conserves_the_imbalance_and_returns_factors(aligned):
    fs = problems.small_random_start(6, 5, 0.5, depth=3, width=4, seed=3)
    t = np.array([[0.0, 0.5], [1.0, 3.0]])
    W, factors_t = dynamics.gradient_flow(
        aligned["X"], aligned["Y"], fs, t, return_factors=True
    )
    assert W.shape == (2, 2, 6, 5) and [F.shape for F in factors_t] == [
        (2, 2, 6, 4),
        (2, 2, 4, 4),
        (2, 2, 4, 5),
    ]
    np.testing.assert_allclose(factors_t[0][0, 0], fs[0])
    np.testing.assert_allclose(
        dynamics.product([F[1, 1] for F in factors_t]), W[1, 1], atol=1e-14
    )
    for l in range(2):  # W_l^T W_l - W_{l+1} W_{l+1}^T is constant along the flow
        imb = [
            F.T @ F - G @ G.T
            for F, G in zip(
                factors_t[l].reshape(-1, *fs[l].shape),
                factors_t[l + 1].reshape(-1, *fs[l + 1].shape),
            )
        ]
        assert max(np.abs(m - imb[0]).max() for m in imb) < 1e-8


def test_mode_flow_depth2_equals_closed_form():
    t = np.linspace(0, 5, 11)
    np.testing.assert_allclose(
        dynamics.mode_flow(t, SIGMA, LAM, 1e-6),
        theory.continuous_modes(t, SIGMA, LAM, 1e-6),
        rtol=1e-8,
    )


def test_descent_divergence_names_step_and_limit(aligned):
    A = aligned["A"]
    fs = problems.aligned_start(A.U, A.V, np.full(4, 1e-3), depth=2, width=5)
    with pytest.raises(
        DivergenceError, match=r"diverged at step \d+.*eta < 0\.29"
    ) as info:
        dynamics.gradient_descent(aligned["X"], aligned["Y"], fs, 1.0, 500)
    step = info.value.step
    # The step is exact: descent for step - 1 steps is finite.
    _, W = dynamics.gradient_descent(aligned["X"], aligned["Y"], fs, 1.0, step - 1)
    assert np.isfinite(W).all()
    assert isinstance(info.value, ValueError) and isinstance(
        info.value, ArithmeticError
    )


def test_mode_divergence_names_step_and_limit():
    with pytest.raises(DivergenceError, match=r"step \d+.*eta < 0\.5") as info:
        dynamics.discrete_modes(2.0, 1.0, 1e-2, 1.7, 10_000)
    assert info.value.stable_eta == pytest.approx(0.5)
    with pytest.raises(DivergenceError, match="2/lam"):
        dynamics.discrete_modes(2.0, 1.0, 1e-2, 2.5, 10_000, depth=1)


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda X, Y, fs: dynamics.gradient_descent(X, Y, fs, 0.0, 10), "eta"),
        (lambda X, Y, fs: dynamics.gradient_descent(X, Y, fs, np.nan, 10), "eta"),
        (lambda X, Y, fs: dynamics.gradient_descent(X, Y, fs, 0.1, -1), "steps"),
        (
            lambda X, Y, fs: dynamics.gradient_descent(X, Y, fs, 0.1, 10, every=0),
            "every",
        ),
        (lambda X, Y, fs: dynamics.gradient_descent(X, Y, [], 0.1, 10), "factors"),
        (
            lambda X, Y, fs: dynamics.gradient_descent(X, Y, [fs[0], fs[0]], 0.1, 10),
            "factors",
        ),
        (
            lambda X, Y, fs: dynamics.gradient_descent(X, Y, [fs[1], fs[1]], 0.1, 10),
            "factors",
        ),
        (lambda X, Y, fs: dynamics.gradient_descent(X, Y, fs, [0.1, 0.2], 10), "eta"),
        (lambda X, Y, fs: dynamics.gradient_descent(X[:-1], Y, fs, 0.1, 10), "X and Y"),
        (
            lambda X, Y, fs: dynamics.discrete_modes(
                SIGMA, LAM, 1e-3, 0.1, 10, depth=0
            ),
            "depth",
        ),
        (lambda X, Y, fs: dynamics.discrete_modes(SIGMA, LAM, -1e-3, 0.1, 10), "w0"),
        (lambda X, Y, fs: dynamics.discrete_modes(SIGMA, LAM, 1e-3, -0.1, 10), "eta"),
        (lambda X, Y, fs: dynamics.discrete_modes(SIGMA, LAM, 1e-3, 0.1, 2.5), "steps"),
        (lambda X, Y, fs: dynamics.mode_flow([1.0], SIGMA, LAM, 0.0), "w0"),
        (lambda X, Y, fs: dynamics.gradient_flow(X, Y, fs, [-1.0]), "t"),
    ],
)
def test_dynamics_rejects_bad_input(aligned, call, word):
    A = aligned["A"]
    fs = problems.aligned_start(A.U, A.V, np.full(4, 1e-3), depth=2, width=5)
    with pytest.raises(ValueError, match=word):
        call(aligned["X"], aligned["Y"], fs)


def test_mode_gaps_match_the_mode_map_and_keep_precision():
    sigma, lam, w0, eta = 2.0, 0.5, 1e-3, 0.2
    w = dynamics.discrete_modes(sigma, lam, w0, eta, 60)[:, 0]
    y = dynamics.discrete_mode_gaps(sigma, lam, w0, eta, 60)[:, 0]
    np.testing.assert_allclose(1 - lam * w / sigma, y, atol=1e-13)
    y_long = dynamics.discrete_mode_gaps(sigma, lam, w0, eta, 300)[:, 0]
    assert (
        0 < y_long[-1] < 1e-100
    )  # far below where w rounds to sigma/lam, yet not zero
    np.testing.assert_allclose(y_long[-1] / y_long[-2], 1 - 2 * eta * sigma, rtol=1e-12)
    with pytest.raises(ValueError, match="eta"):
        dynamics.discrete_mode_gaps(sigma, lam, w0, 1.2, 10)


def test_mode_map_attractor_regimes():
    h = np.array([0.3, 0.8, 1.1, 1.27, 1.5, 1.9, 2.1])
    tail, diverged = dynamics.mode_map_attractor(h, steps=6000, keep=300)
    assert list(diverged) == [False] * 6 + [True]
    assert np.isnan(tail[:, -1]).all() and np.isfinite(tail[:, :-1]).all()
    period = metrics.orbit_period(tail[:, :-1])
    assert list(period[:4]) == [1, 1, 2, 4]
    np.testing.assert_allclose(tail[-1, :2], 1.0)
    # The bounded orbits stay inside [0, 1 + 2/h] (the repelling fixed point).
    assert np.all(tail[:, :-1] <= 1 + 2 / h[:-1])


def test_orbit_period_rejects_short_tails():
    with pytest.raises(ValueError, match="tail"):
        metrics.orbit_period(np.ones(10), max_period=8)


@pytest.mark.parametrize("delta", [24.0, 32.0])
def test_gradient_flow_keeps_transition_times_from_tiny_starts(aligned, delta):
    """From a start of e^{-delta} the flow reaches half-way at the closed-form time.

    From w0 = exp(-2 delta) the factors start at e^{-delta}; the flow must still reach
    half of each limit at the closed-form half-way time. The shift in time is
    the error in w there over the slope sigma^2 / (2 lam). A fixed absolute tolerance
    of 1e-13 (the old default) gives 3e-4 at delta = 24 and 6e-3 at delta = 32.
    """
    A = aligned["A"]
    w0 = np.full(4, np.exp(-2 * delta))
    start = problems.aligned_start(A.U, A.V, w0, depth=2, width=5, seed=3)
    t_half = theory.half_way_times(SIGMA, LAM, w0)
    W = dynamics.gradient_flow(aligned["X"], aligned["Y"], start, t_half)  # (4, p, d)
    w = np.diagonal(metrics.mode_strengths(W, A.U, A.V, 4))  # mode i at its own time
    shift = (w - SIGMA / LAM / 2) / (SIGMA**2 / (2 * LAM))
    assert np.abs(shift).max() < 1e-4


def test_descent_returns_the_factors_it_multiplies(aligned):
    """The recorded factors (return_factors) are those whose product is recorded.

    One more step of the mode map from them gives the next record.
    """
    A = aligned["A"]
    fs = problems.aligned_start(A.U, A.V, np.full(4, 1e-3), depth=3, width=5, seed=2)
    it, W, Fs = dynamics.gradient_descent(
        aligned["X"], aligned["Y"], fs, 0.05, 40, every=7, return_factors=True
    )
    _, W_plain = dynamics.gradient_descent(
        aligned["X"], aligned["Y"], fs, 0.05, 40, every=7
    )
    np.testing.assert_array_equal(W, W_plain)
    assert [F.shape for F in Fs] == [(it.size,) + F.shape for F in fs]
    np.testing.assert_allclose(dynamics.product(Fs), W, rtol=1e-13, atol=1e-15)
    for F, F0 in zip(Fs, fs):
        np.testing.assert_array_equal(F[0], F0)


def test_times_are_checked_in_one_place():
    for call in (
        lambda: dynamics.mode_flow(-1.0, SIGMA, LAM, 1e-3),
        lambda: theory.continuous_modes(-1.0, SIGMA, LAM, 1e-3),
        lambda: theory.discrete_bounds(-1.0, SIGMA, LAM, 1e-3, 0.1),
    ):
        with pytest.raises(ValueError, match="t must be non-negative"):
            call()
