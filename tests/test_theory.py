import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from lib import dynamics, estimators, metrics, problems, stability, theory

from _problems import LAM, SIGMA


def reference_ode(t, sigma, lam, w0, depth):
    """Independent solve of the mode equation, directly in w.

    dw/dt = L w^(2-2/L) (sigma - lam w).
    """

    def rhs(_, w):
        return depth * np.abs(w) ** (2 - 2 / depth) * (sigma - lam * w)

    sol = solve_ivp(
        rhs, (0, t[-1]), w0, t_eval=t, method="Radau", rtol=1e-12, atol=1e-14
    )
    assert sol.success
    return sol.y.T


@pytest.mark.parametrize("depth", [1, 2])
def test_closed_form_matches_independent_ode(depth):
    w0 = np.array([1e-2, 3e-3, 1e-3, 5e-2])
    t = np.linspace(0, 8, 81)
    closed = theory.continuous_modes(t, SIGMA, LAM, w0, depth=depth)
    ode = reference_ode(t, SIGMA, LAM, w0, depth)
    assert closed.shape == (81, 4)
    np.testing.assert_allclose(closed, ode, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("depth", [1, 2])
def test_closed_form_matches_full_matrix_gradient_flow(aligned, depth):
    A = aligned["A"]
    w0 = np.array([1e-2, 3e-3, 1e-3, 5e-2])
    fs = problems.aligned_start(A.U, A.V, w0, depth=depth, width=5, seed=11)
    t = np.linspace(0, 8, 41)
    W = dynamics.gradient_flow(aligned["X"], aligned["Y"], fs, t)
    measured = metrics.mode_strengths(W, A.U, A.V, 4)
    np.testing.assert_allclose(
        measured, theory.continuous_modes(t, SIGMA, LAM, w0, depth), atol=1e-8
    )
    # ... and nothing leaks off the diagonal of the (U, V) basis.
    assert np.abs(metrics.off_mode_part(W, A.U, A.V)).max() < 1e-8


def test_closed_form_broadcasts_and_limits():
    t = np.array([[0.0, 1.0], [2.0, 1e3]])
    w = theory.continuous_modes(t, SIGMA, LAM, 1e-3)
    assert w.shape == (2, 2, 4)
    np.testing.assert_allclose(w[0, 0], 1e-3)
    np.testing.assert_allclose(w[1, 1], SIGMA / LAM, rtol=1e-12)
    # batch of spectra: (3, 4) parameters, times (5,) -> (5, 3, 4)
    w0s = np.array([[1e-3], [1e-2], [1e-1]])
    w = theory.continuous_modes(np.arange(5.0), np.tile(SIGMA, (3, 1)), LAM, w0s)
    assert w.shape == (5, 3, 4)
    for b, w0 in enumerate(w0s[:, 0]):  # each batch row is its own problem
        np.testing.assert_array_equal(
            w[:, b], theory.continuous_modes(np.arange(5.0), SIGMA, LAM, w0)
        )
    # sigma = 0: dw/dt = -2 lam w^2 gives w0 / (1 + 2 lam w0 t), no 0/0.
    np.testing.assert_allclose(
        theory.continuous_modes([3.0], 0.0, 2.0, 0.5)[0], 0.5 / (1 + 2 * 2 * 0.5 * 3)
    )


def test_half_way_times_are_exact_for_the_flow():
    w0 = np.array([1e-6, 1e-5, 1e-4, 1e-6])
    th = theory.half_way_times(SIGMA, LAM, w0)
    w = theory.continuous_modes(th, SIGMA, LAM, w0)  # (4, 4): row i at mode i's time
    np.testing.assert_allclose(np.diag(w), SIGMA / LAM / 2, rtol=1e-10)


@pytest.mark.parametrize("eta", [None, 0.01, 0.2])
def test_rescaled_transition_times_are_the_measured_limit(eta):
    """Half-way time / delta of the simulated mode iterates tends to T_i.

    The relative gap is log(sigma / lam) / (2 delta) + O(1 / delta^2) (below 2 / delta
    here).
    """
    T = theory.transition_time_rescaled(SIGMA, eta)
    for delta in (25.0, 100.0):
        w0 = np.exp(-2 * delta)
        if eta is None:
            t = np.linspace(0.0, 1.2 * delta * T.max(), 20001)
            w = theory.continuous_modes(t, SIGMA, LAM, w0)
        else:
            t = np.arange(int(1.2 * delta * T.max()) + 1.0)
            w = dynamics.discrete_modes(SIGMA, LAM, w0, eta, t.size - 1)
        measured = metrics.half_way_crossings(t, w, SIGMA / LAM) / delta
        assert np.all(np.abs(measured / T - 1) < 2 / delta)
    if eta is not None:  # the expansion 1/(eta sigma) + 1/2 + O(eta sigma)
        assert np.all(np.abs(T - (1 / (eta * SIGMA) + 0.5)) < eta * SIGMA)


@settings(max_examples=60, deadline=None)
@given(
    h=st.floats(1e-3, 0.5),
    lam=st.floats(0.05, 20.0),
    ratio=st.floats(1e-8, 1.0),
    sigma=st.floats(0.05, 10.0),
)
def test_tight_bounds_bracket_the_iterates(h, lam, ratio, sigma):
    eta = h / sigma
    w0 = ratio * sigma / lam
    steps = int(min(4000, 40 + 3 * np.log(1 / ratio) / h))
    w = dynamics.discrete_modes(sigma, lam, w0, eta, steps)[:, 0]
    lower, upper = theory.discrete_bounds(np.arange(steps + 1), sigma, lam, w0, eta)
    assert np.all(lower[:, 0] <= w * (1 + 1e-12))
    assert np.all(w <= upper[:, 0] * (1 + 1e-12))


def test_poster_bounds_as_printed_are_wrong_at_t0_and_at_the_limit():
    sigma, lam, w0, eta = 2.0, 0.5, 1e-3, 0.05
    lo, up = theory.poster_discrete_bounds(
        [0.0, 1e5], sigma, lam, w0, eta, corrected=False
    )
    assert not np.isclose(lo[0, 0], w0)  # equals w0 / sigma at t = 0
    np.testing.assert_allclose(lo[0, 0], w0 / sigma)
    np.testing.assert_allclose(up[1, 0], 1 / lam)  # the limit is 1/lam, not sigma/lam
    lo, up = theory.poster_discrete_bounds(
        [0.0, 1e5], sigma, lam, w0, eta, corrected=True
    )
    np.testing.assert_allclose([lo[0, 0], up[0, 0]], w0)
    np.testing.assert_allclose(up[1, 0], sigma / lam)


def test_corrected_poster_upper_bound_fails_eventually_but_lower_holds():
    # w0 = 1e-2 keeps the violation far above rounding (about 4e-4 near step 28); from
    # smaller starts it comes later and closer to saturation (chapter 3 measures it).
    sigma, lam, w0, eta = 1.0, 1.0, 1e-2, 0.2
    steps = 400
    w = dynamics.discrete_modes(sigma, lam, w0, eta, steps)[:, 0]
    lo, up = theory.poster_discrete_bounds(np.arange(steps + 1), sigma, lam, w0, eta)
    assert np.all(lo[:, 0] <= w * (1 + 1e-12))
    assert np.any(w > up[:, 0] * (1 + 1e-9))


def random_rank_k(rng, p, d, k):
    return rng.standard_normal((p, k)) @ rng.standard_normal((k, d))


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_reduced_rank_regression_defining_properties(k):
    rng = np.random.default_rng(0)
    n, p, d = 40, 6, 4
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, d)) + 0.5 * rng.standard_normal((n, d))
    W = estimators.reduced_rank_regression(X, Y, k)
    assert W.shape == (p, d)
    assert np.linalg.matrix_rank(W, tol=1e-10) == k
    best = metrics.loss(X, Y, W)
    # Optimal among many random rank-k candidates, and among local perturbations of W.
    for _ in range(300):
        C = random_rank_k(rng, p, d, k) if k else np.zeros((p, d))
        assert metrics.loss(X, Y, C) >= best - 1e-12
    if k:
        U, s, Vt = np.linalg.svd(W)
        for _ in range(100):  # stay rank k: perturb the rank-k factors
            Uk = U[:, :k] * s[:k] + 1e-3 * rng.standard_normal((p, k))
            Vk = Vt[:k] + 1e-3 * rng.standard_normal((k, d))
            assert metrics.loss(X, Y, Uk @ Vk) >= best - 1e-12
    if k == min(p, d):
        np.testing.assert_allclose(W, np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-10)


def test_reduced_rank_regression_is_minimum_norm_for_rank_deficient_X():
    rng = np.random.default_rng(1)
    n, p, d, k = 30, 6, 4, 2
    X = rng.standard_normal((n, 3)) @ rng.standard_normal((3, p))  # rank 3 < p
    Y = rng.standard_normal((n, d))
    W = estimators.reduced_rank_regression(X, Y, k)
    # Adding any null-space component keeps the fit (and rank <= k if it keeps the
    # column space) but increases the norm.
    null = np.linalg.svd(X)[2][3:].T  # (p, 3) basis of null(X)
    col = np.linalg.svd(W)[2][:k]  # row space of W (k, d)
    for _ in range(50):
        N = null @ rng.standard_normal((3, k)) @ col
        assert np.linalg.matrix_rank(W + N, tol=1e-10) <= k
        assert metrics.loss(X, Y, W + N) == pytest.approx(
            metrics.loss(X, Y, W), abs=1e-12
        )
        assert np.linalg.norm(W + N) > np.linalg.norm(W)
    assert np.abs(W.T @ null).max() < 1e-10  # rows of W lie in the row space of X


def test_rrr_order_versus_flow_order_counterexample():
    # lam = (100, 1), sigma = (2, 1): the flow learns mode 0 first, RRR keeps mode 1.
    sigma, lam = np.array([2.0, 1.0]), np.array([100.0, 1.0])
    X, Y = problems.aligned_problem(sigma, lam, n=20, seed=0)
    A = problems.measure_assumption(X, Y)
    W1 = estimators.reduced_rank_regression(X, Y, 1)
    np.testing.assert_allclose(
        metrics.mode_strengths(W1, A.U, A.V), [0.0, 1.0], atol=1e-10
    )
    np.testing.assert_allclose(
        theory.sequential_limit(A.U, A.V, sigma, lam, 1),
        (A.U[:, :1] * 0.02) @ A.V[:, :1].T,
        atol=1e-14,
    )
    assert list(theory.rrr_mode_order(sigma, lam)) == [1, 0]


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(1, 4),
    extra=st.integers(0, 2),
    depth=st.integers(1, 4),
    seed=st.integers(0, 10**6),
)
def test_sharpness_formula_matches_lanczos(k, extra, depth, seed):
    rng = np.random.default_rng(seed)
    sigma = np.sort(rng.uniform(0.2, 3.0, k))[::-1] + np.arange(k)[::-1] * 1e-3
    lam = rng.uniform(0.2, 3.0, k + extra)
    X, Y = problems.aligned_problem(
        sigma, lam, n=20, p=k + extra, d=k + 1, seed=seed % 1000
    )
    Sxx, Sxy = problems.moments(X, Y)
    assert stability.sharpness_at_minimum(Sxx, Sxy, depth) == pytest.approx(
        stability.sharpness_aligned(sigma, lam, depth, d=k + 1), rel=1e-8
    )


def test_stable_step_size_separates_stable_from_unstable_minimum(aligned):
    """A perturbation of the minimum decays below 2 / sharpness and grows above it.

    A small perturbation of the balanced minimum decays (or stays put along flat
    directions) just below 2 / sharpness and grows geometrically just above it. Above
    the limit descent need not blow up: it can leave for a flatter factorisation of
    W_ols.
    """
    A, X, Y = aligned["A"], aligned["X"], aligned["Y"]
    limit = stability.stable_step_size_aligned(SIGMA, A.lam, 2, d=5)
    start = problems.aligned_start(A.U, A.V, SIGMA / LAM, depth=2, width=5)
    rng = np.random.default_rng(0)
    kick = [1e-7 * rng.standard_normal(W.shape) for W in start]

    def growth(eta, steps=300):
        kicked = [W + k for W, k in zip(start, kick)]
        *_, fs = dynamics.gradient_descent(
            X, Y, kicked, eta, steps, every=steps, return_factors=True
        )
        dev = np.sqrt(sum(np.sum((W[-1] - W0) ** 2) for W, W0 in zip(fs, start)))
        return dev / np.sqrt(sum(np.sum(k**2) for k in kick))

    assert growth(0.97 * limit) < 2.0
    assert (
        growth(1.03 * limit) > 1e3
    )  # |1 - 1.03 * 2| ** 300 ~ 4e7 along the top direction
    with pytest.raises(dynamics.DivergenceError) as info:
        dynamics.gradient_descent(
            X, Y, [W + k for W, k in zip(start, kick)], 3 * limit, 3000
        )
    assert info.value.stable_eta == pytest.approx(limit, rel=1e-8)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_mode_stable_step_size_separates_convergence_from_oscillation(depth):
    """The mode map converges just below the per-mode limit and not just above.

    Just below the limit it converges to sigma / lam; just above it the fixed point
    repels (a cycle, or divergence).
    """
    limit = stability.mode_stable_step_size(SIGMA, LAM, depth)
    target = SIGMA / LAM
    w = dynamics.discrete_modes(SIGMA, LAM, 0.9 * target, 0.97 * limit, 3000, depth)
    np.testing.assert_allclose(w[-1], target, rtol=1e-8)
    try:
        w = dynamics.discrete_modes(SIGMA, LAM, 0.9 * target, 1.03 * limit, 3000, depth)
    except dynamics.DivergenceError:
        return
    assert np.all(np.abs(w[-2:] / target - 1).max(axis=0) > 1e-3)


ONES_53 = np.ones((5, 3))


@pytest.mark.parametrize(
    "call, word",
    [
        (
            lambda: theory.continuous_modes(-1.0, SIGMA, LAM, 1e-3),
            "t must be non-negative",
        ),
        (lambda: theory.continuous_modes(1.0, SIGMA, LAM, -1e-3), "w0"),
        (lambda: theory.continuous_modes(1.0, SIGMA, -LAM, 1e-3), "lam"),
        (lambda: theory.continuous_modes(1.0, SIGMA, LAM[:3], 1e-3), "broadcast"),
        (lambda: theory.continuous_modes(1.0, SIGMA, LAM, 1e-3, depth=3), "depth"),
        (lambda: theory.continuous_modes(np.nan, SIGMA, LAM, 1e-3), "t must be finite"),
        (lambda: theory.discrete_bounds(1.0, SIGMA, LAM, 1e-3, 0.2), "eta"),
        (lambda: theory.discrete_bounds(1.0, SIGMA, LAM, 1e-3, 0.0), "eta"),
        (lambda: theory.discrete_bounds(1.0, SIGMA, LAM, 10.0, 0.01), "w0"),
        (lambda: estimators.reduced_rank_regression(ONES_53, np.ones((5, 2)), 3), "k"),
        (lambda: estimators.reduced_rank_regression(ONES_53, np.ones((5, 2)), -1), "k"),
        (
            lambda: estimators.reduced_rank_regression(ONES_53, np.ones((4, 2)), 1),
            "X and Y",
        ),
        (lambda: theory.half_way_times(SIGMA, LAM, 0.0), "w0"),
        (lambda: stability.sharpness_at_minimum(np.eye(3), np.ones((2, 2))), "Sxx"),
    ],
)
def test_theory_rejects_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_bound_rates_order():
    h = np.linspace(0.01, 0.49, 50)
    r = theory.bound_rates(h, 1.0)
    assert np.all(r.poster_lower < r.tight_lower)  # poster's lower bound is weaker
    assert np.all(r.tight_lower < r.poster_upper)
    assert np.all(r.poster_upper < r.tight_upper)  # poster's upper rate is too fast


def test_transition_windows_and_gap_condition():
    sigma = np.array([1.0, 0.9])
    # Poster's constants: a window for "exactly 1 mode" needs
    # eta (2 sigma_1^2 + sigma_2^2 / 2) < sigma_1 - sigma_2.
    eta_crit = (sigma[0] - sigma[1]) / (2 * sigma[0] ** 2 + sigma[1] ** 2 / 2)
    assert theory.exactly_k_window_exists(sigma, 0.99 * eta_crit, 1, "poster")
    assert not theory.exactly_k_window_exists(sigma, 1.01 * eta_crit, 1, "poster")
    # Tight constants: no gap condition, any eta with eta sigma_1 < 1/2 works.
    assert theory.exactly_k_window_exists(sigma, 0.45, 1, "tight")
    start, end = theory.transition_window(sigma, 0.1, "tight")
    np.testing.assert_allclose(start, theory.transition_time_rescaled(sigma, 0.1))
    with pytest.raises(ValueError, match="constants"):
        theory.transition_window(sigma, 0.1, "other")


def test_effective_initial_strengths_predict_random_starts(aligned):
    """Small random start: each mode behaves as an aligned one.

    Each mode's half-way iteration is that of an aligned mode started at the
    Gram-Schmidt effective strength (within one iteration).
    """
    A, X, Y = aligned["A"], aligned["X"], aligned["Y"]
    eta, w0 = 0.1, 1e-10
    steps = int(1.3 * np.log(1 / w0) / 2 / np.log1p(eta * SIGMA.min()))
    for seed in range(3):
        start = problems.small_random_start(
            6, 5, np.sqrt(w0), depth=2, width=5, seed=seed
        )
        _, W = dynamics.gradient_descent(X, Y, start, eta, steps)
        w = metrics.mode_strengths(W, A.U, A.V, 4)
        measured = metrics.half_way_crossings(np.arange(steps + 1.0), w, SIGMA / LAM)
        w_eff = theory.effective_initial_strengths(A.U, A.V, start, 4)
        assert np.all(
            np.abs(measured - theory.half_way_times(SIGMA, LAM, w_eff, eta=eta)) < 1.0
        )
    # For the aligned balanced start the effective strength is the true one.
    start = problems.aligned_start(A.U, A.V, np.full(4, 1e-6), depth=2, width=5, seed=2)
    np.testing.assert_allclose(
        theory.effective_initial_strengths(A.U, A.V, start, 4), 1e-6, rtol=1e-10
    )


def test_gauss_newton_sharpness_grows_when_unbalanced(aligned):
    Sxx, Sxy = problems.moments(aligned["X"], aligned["Y"])
    W_ols = np.linalg.pinv(Sxx) @ Sxy
    W1, W2 = problems.balanced_factors(W_ols, 2)
    np.testing.assert_allclose(W1 @ W2, W_ols, atol=1e-12)
    balanced = stability.gauss_newton_sharpness(Sxx, [W1, W2])
    assert balanced == pytest.approx(stability.sharpness_at_minimum(Sxx, Sxy, 2))
    assert stability.gauss_newton_sharpness(Sxx, [3 * W1, W2 / 3]) > 2 * balanced


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_half_way_time_any_depth_matches_closed_form_and_flow(depth):
    w0 = np.array([1e-4, 1e-3, 1e-2, 1e-4])
    t_half = theory.half_way_time_any_depth(SIGMA, LAM, w0, depth)
    if depth <= 2:
        np.testing.assert_allclose(
            t_half, theory.half_way_times(SIGMA, LAM, w0, depth=depth), rtol=1e-9
        )
    w = dynamics.mode_flow(
        t_half, SIGMA, LAM, w0, depth
    )  # (k, k): row i at mode i's time
    np.testing.assert_allclose(np.diag(w), SIGMA / LAM / 2, rtol=1e-7)


def test_escape_time_is_the_small_start_asymptote():
    for depth in (3, 4, 6):
        w0 = 1e-12
        ratio = theory.half_way_time_any_depth(
            SIGMA, LAM, w0, depth
        ) / theory.escape_time(SIGMA, w0, depth)
        np.testing.assert_allclose(ratio, 1.0, atol=2e-3)
    with pytest.raises(ValueError, match="depth"):
        theory.escape_time(SIGMA, 1e-3, 2)


def test_plateau_and_rrr_gains_against_brute_force(aligned):
    plateau, rrr = theory.plateau_and_rrr_gains(SIGMA, LAM)
    X, Y = aligned["X"], aligned["Y"]
    f0 = metrics.loss(X, Y, np.zeros((6, 5)))
    for k in range(5):
        W = estimators.reduced_rank_regression(X, Y, k)
        assert f0 - metrics.loss(X, Y, W) == pytest.approx(rrr[k], abs=1e-10)
        Wp = theory.sequential_limit(aligned["A"].U, aligned["A"].V, SIGMA, LAM, k)
        assert f0 - metrics.loss(X, Y, Wp) == pytest.approx(plateau[k], abs=1e-10)
    assert np.all(rrr >= plateau - 1e-15)
    with pytest.raises(ValueError, match="sorted"):
        theory.plateau_and_rrr_gains(SIGMA[::-1], LAM)
