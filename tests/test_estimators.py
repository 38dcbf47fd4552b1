"""Tests of lib.estimators.

Closed forms, optimality conditions, duality gaps, bad input.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib import dynamics, estimators, metrics, problems, theory

from _problems import LAM_REORDERED, SIGMA


def _general(seed, n=30, p=7, d=5, rank_deficient=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.linspace(0.3, 2.0, p)
    if rank_deficient:
        X[:, -2:] = X[:, :2] @ rng.standard_normal((2, 2))
    Y = X @ rng.standard_normal((p, d)) + rng.standard_normal((n, d))
    return X, Y


def _moments3(X, Y):
    Sxx, Sxy = problems.moments(X, Y)
    return Sxx, Sxy, float(np.sum(Y * Y) / len(X))


def _check_optimality(X, Y, W, mu, atol):
    """Sxy - Sxx W = mu (U_r V_r^T + Z), ||Z||_2 <= 1, U_r^T Z = 0, Z V_r = 0."""
    Sxx, Sxy = problems.moments(X, Y)
    M = (Sxy - Sxx @ W) / mu
    U, s, Vt = np.linalg.svd(W)
    r = int(np.sum(s > 1e-7 * max(s[0], 1e-300)))
    Ur, Vr = U[:, :r], Vt[:r].T
    Z = M - Ur @ Vr.T
    assert np.linalg.norm(Z, 2) <= 1 + atol
    np.testing.assert_allclose(Ur.T @ Z, 0, atol=atol)
    np.testing.assert_allclose(Z @ Vr, 0, atol=atol)


@pytest.mark.parametrize("mu", [0.1, 0.7, 1.5, 2.5, 5.0])
def test_nuclear_norm_closed_form_matches_fista_under_the_decomposition(mu):
    X, Y = problems.aligned_problem(SIGMA, LAM_REORDERED, n=40, p=6, d=5, seed=1)
    A = problems.measure_assumption(X, Y)
    W_closed = estimators.nuclear_norm_regression(X, Y, mu, method="closed")
    W_fista = estimators.nuclear_norm_regression(X, Y, mu, method="fista", tol=1e-14)
    w = estimators.nuclear_norm_modes(SIGMA, LAM_REORDERED, mu)
    np.testing.assert_allclose(W_closed, metrics.modes_to_map(A.U, A.V, w), atol=1e-12)
    np.testing.assert_allclose(W_fista, W_closed, atol=1e-6)
    _check_optimality(X, Y, W_closed, mu, 1e-9)


@pytest.mark.parametrize(
    "seed,deficient", [(0, False), (1, False), (2, True), (3, True)]
)
def test_nuclear_norm_fista_satisfies_optimality_and_gap(seed, deficient):
    X, Y = _general(seed, rank_deficient=deficient)
    Sxx, Sxy, syy = _moments3(X, Y)
    mu_max = np.linalg.norm(Sxy, 2)
    for frac in (0.02, 0.2, 0.6):
        mu = frac * mu_max
        W = estimators.nuclear_norm_regression(X, Y, mu, tol=1e-13, max_iter=100000)
        gap, primal = estimators.nuclear_norm_gap(Sxx, Sxy, syy, W, mu)
        assert gap <= 1e-13 * syy / 2 * 1.0001
        _check_optimality(X, Y, W, mu, 1e-4)
        # no perturbation lowers the objective
        rng = np.random.default_rng(seed)
        for _ in range(5):
            Wp = W + 1e-3 * rng.standard_normal(W.shape)
            assert (
                estimators.nuclear_norm_gap(Sxx, Sxy, syy, Wp, mu)[1] >= primal - 1e-12
            )


def test_nuclear_norm_large_mu_gives_zero_and_mu_zero_least_squares():
    X, Y = _general(5)
    Sxy = problems.moments(X, Y)[1]
    mu = 1.01 * np.linalg.norm(Sxy, 2)
    np.testing.assert_allclose(
        estimators.nuclear_norm_regression(X, Y, mu, method="fista"), 0, atol=1e-12
    )
    np.testing.assert_allclose(
        estimators.nuclear_norm_regression(X, Y, 0.0), estimators.least_squares(X, Y)
    )


def test_nuclear_norm_path_matches_independent_solves_and_raises_when_stopped_early():
    X, Y = _general(6)
    mus = np.array([0.05, 1.0, 0.3])
    path = estimators.nuclear_norm_path(X, Y, mus, tol=1e-12)
    for j, mu in enumerate(mus):
        np.testing.assert_allclose(
            path[j], estimators.nuclear_norm_regression(X, Y, mu, tol=1e-12), atol=1e-5
        )
    with pytest.raises(ValueError, match="duality gap"):
        estimators.nuclear_norm_regression(X, Y, 0.05, tol=1e-14, max_iter=3)


def test_nuclear_norm_moments_batched_equals_one_by_one():
    probs = [_moments3(*_general(s)) for s in range(3)]
    Sxx = np.stack([p[0] for p in probs])
    Sxy = np.stack([p[1] for p in probs])
    syy = np.array([p[2] for p in probs])
    mu = np.array([0.1, 0.5, 1.0])
    W, gap = estimators.nuclear_norm_moments(Sxx, Sxy, syy, mu, tol=1e-12)
    for b in range(3):
        Wb, _ = estimators.nuclear_norm_moments(
            Sxx[b], Sxy[b], syy[b], mu[b], tol=1e-12
        )
        np.testing.assert_allclose(W[b], Wb, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), frac=st.floats(0.01, 0.9))
def test_nuclear_norm_random_cases_certified(seed, frac):
    rng = np.random.default_rng(seed)
    n, p, d = rng.integers(3, 12), rng.integers(1, 6), rng.integers(1, 6)
    X = rng.standard_normal((n, p))
    Y = rng.standard_normal((n, d))
    Sxx, Sxy, syy = _moments3(X, Y)
    mu = frac * max(np.linalg.norm(Sxy, 2), 1e-3)
    W = estimators.nuclear_norm_regression(
        X, Y, mu, method="fista", tol=1e-11, max_iter=200000
    )
    gap, _ = estimators.nuclear_norm_gap(Sxx, Sxy, syy, W, mu)
    assert gap <= 1e-11 * syy / 2 * 1.0001


def test_ridge_normal_equations_path_and_alpha_zero():
    for deficient in (False, True):
        X, Y = _general(7, rank_deficient=deficient)
        Sxx, Sxy = problems.moments(X, Y)
        alphas = np.array([1e-3, 0.1, 10.0])
        W = estimators.ridge_regression(X, Y, alphas)
        for a, Wa in zip(alphas, W):
            np.testing.assert_allclose(
                (Sxx + a * np.eye(len(Sxx))) @ Wa, Sxy, atol=1e-10
            )
        np.testing.assert_allclose(
            estimators.ridge_regression(X, Y, 0.0),
            estimators.least_squares(X, Y),
            atol=1e-10,
        )


def test_least_squares_is_minimum_norm_for_rank_deficient_X():
    X, Y = _general(8, rank_deficient=True)
    W = estimators.least_squares(X, Y)
    Sxx, Sxy = problems.moments(X, Y)
    np.testing.assert_allclose(Sxx @ W, Sxy, atol=1e-10)
    null = np.linalg.svd(X)[2][np.linalg.matrix_rank(X) :]
    np.testing.assert_allclose(null @ W, 0, atol=1e-10)


def test_rrr_reexported_from_theory():
    assert estimators.reduced_rank_regression is estimators.reduced_rank_regression


def test_early_stopped_regression_matches_one_layer_descent_and_flow():
    X, Y = _general(9)
    eta = 0.9 / np.linalg.eigvalsh(problems.moments(X, Y)[0]).max()
    _, W = dynamics.gradient_descent(X, Y, [np.zeros((7, 5))], eta, 40)
    np.testing.assert_allclose(
        estimators.early_stopped_regression(X, Y, np.arange(41), eta), W, atol=1e-12
    )
    Wf = dynamics.gradient_flow(X, Y, [np.zeros((7, 5))], np.array([0.5, 3.0]))
    np.testing.assert_allclose(
        estimators.early_stopped_regression(X, Y, np.array([0.5, 3.0])), Wf, atol=1e-8
    )


def test_spectral_risk_matches_monte_carlo():
    rng = np.random.default_rng(10)
    n, p, d = 25, 4, 3
    X = rng.standard_normal((n, p)) * np.array([0.3, 1.0, 1.5, 2.0])
    W_star = rng.standard_normal((p, d))
    Sxx = X.T @ X / n
    alpha, noise = 0.3, 0.7
    draws = []
    for _ in range(4000):
        Y = X @ W_star + noise * rng.standard_normal((n, d))
        draws.append(np.sum((estimators.ridge_regression(X, Y, alpha) - W_star) ** 2))
    exact = estimators.spectral_risk(
        Sxx, W_star, noise, n, lambda lam: estimators.ridge_filter(lam, alpha)
    )
    assert abs(np.mean(draws) - exact) < 4 * np.std(draws) / np.sqrt(len(draws))


def test_schatten_threshold_and_solution_against_grid():
    w = np.linspace(0, 3, 300001)
    for L in (2, 3, 4, 6):
        for sigma, lam in ((2.0, 1.0), (1.5, 0.5), (0.7, 2.0)):
            mu_star = estimators.schatten_mode_threshold(sigma, lam, L)
            for mu in (
                0.3 * mu_star,
                0.9 * mu_star,
                0.99 * mu_star,
                1.01 * mu_star,
                2 * mu_star,
            ):
                g = 0.5 * lam * w**2 - sigma * w + mu * w ** (2 / L)
                w_grid = w[np.argmin(g)]
                w_fun = float(estimators.schatten_mode_solution(sigma, lam, mu, L)[0])
                assert abs(w_fun - w_grid) < 2e-4 * max(1, sigma / lam)
                assert (w_fun > 0) == (mu < mu_star)
    assert estimators.schatten_mode_threshold(2.0, 1.0, 2) == pytest.approx(2.0)


def test_refit_on_support_under_the_decomposition_is_the_sequential_limit():
    X, Y = problems.aligned_problem(SIGMA, LAM_REORDERED, n=40, p=6, d=5, seed=1)
    A = problems.measure_assumption(X, Y)
    for k, mu in ((1, 2.5), (2, 1.5), (3, 0.8)):
        W = estimators.nuclear_norm_regression(X, Y, mu)
        np.testing.assert_allclose(
            estimators.refit_on_support(X, Y, W),
            theory.sequential_limit(A.U, A.V, SIGMA, LAM_REORDERED, k),
            atol=1e-10,
        )


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: estimators.least_squares(np.ones((3, 2)), np.ones((4, 2))), "X and Y"),
        (lambda: estimators.least_squares(np.ones(3), np.ones((3, 2))), "X"),
        (
            lambda: estimators.nuclear_norm_regression(
                np.ones((3, 2)), np.ones((3, 2)), -1.0
            ),
            "mu",
        ),
        (
            lambda: estimators.nuclear_norm_regression(
                np.ones((3, 2)), np.ones((3, 2)), 1.0, method="x"
            ),
            "method",
        ),
        (
            lambda: estimators.nuclear_norm_regression(
                *_general(0), 0.1, method="closed"
            ),
            "closed",
        ),
        (
            lambda: estimators.nuclear_norm_regression(
                np.ones((3, 2)), np.ones((3, 2)), 0.1, tol=0
            ),
            "tol",
        ),
        (
            lambda: estimators.nuclear_norm_path(
                np.ones((3, 2)), np.ones((3, 2)), np.ones((2, 2))
            ),
            "mus",
        ),
        (
            lambda: estimators.nuclear_norm_moments(
                np.eye(2), np.ones((3, 2)), 1.0, 0.1
            ),
            "Sxx",
        ),
        (
            lambda: estimators.ridge_regression(np.ones((3, 2)), np.ones((3, 2)), -0.1),
            "alpha",
        ),
        (
            lambda: estimators.ridge_regression(
                np.ones((3, 2)), np.full((3, 2), np.nan), 0.1
            ),
            "Y",
        ),
        (
            lambda: estimators.reduced_rank_regression(
                np.ones((5, 3)), np.ones((5, 2)), 3
            ),
            "k",
        ),
        (lambda: estimators.descent_filter(np.array([1.0, 3.0]), 2, eta=1.0), "eta"),
        (lambda: estimators.schatten_mode_threshold(1.0, 1.0, 1), "depth"),
        (
            lambda: estimators.spectral_risk(
                np.eye(2), np.ones((3, 1)), 1.0, 5, lambda lam: lam
            ),
            "W_star",
        ),
        (
            lambda: estimators.refit_on_support(
                np.ones((3, 2)), np.ones((3, 2)), np.ones((2, 3))
            ),
            "W",
        ),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_digits_halves_reproduces_the_real_data_chapter():
    from sklearn.datasets import load_digits

    sets = problems.digits_halves()
    images = load_digits().data / 16.0
    order = np.random.default_rng(0).permutation(len(images))
    train = images[order[:1000]]
    mean = train.mean(axis=0)
    np.testing.assert_array_equal(sets["train"][0], train[:, :32] - mean[:32])
    np.testing.assert_array_equal(
        sets["test"][1], images[order[1400:]][:, 32:] - mean[32:]
    )
    with pytest.raises(ValueError, match="n_train"):
        problems.digits_halves(n_train=1500, n_validation=400)


def test_gradient_descent_moments_accepts_one_data_set_per_run():
    probs = [problems.moments(*_general(s, p=4, d=3)) for s in range(3)]
    Sxx = np.stack([pr[0] for pr in probs])
    Sxy = np.stack([pr[1] for pr in probs])
    start = problems.small_random_start(4, 3, 0.1, seed=0)
    _, W = dynamics.gradient_descent_moments(Sxx, Sxy, start, 0.01, 50)
    for b in range(3):
        _, Wb = dynamics.gradient_descent_moments(Sxx[b], Sxy[b], start, 0.01, 50)
        np.testing.assert_allclose(W[:, b], Wb, atol=1e-12)


def test_least_squares_from_moments_is_the_data_solution():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 5)) @ np.diag([1.0, 1.0, 1.0, 1.0, 0.0])  # rank 4
    Y = rng.standard_normal((40, 3))
    Sxx, Sxy = problems.moments(X, Y)
    W = estimators.least_squares_moments(Sxx, Sxy)
    np.testing.assert_allclose(W, np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-10)
    np.testing.assert_allclose(estimators.least_squares(X, Y), W, atol=1e-10)
    batched = estimators.least_squares_moments(np.stack([Sxx, 2 * Sxx]), Sxy)
    np.testing.assert_allclose(batched[1], W / 2, atol=1e-10)
    with pytest.raises(ValueError, match="Sxx"):
        estimators.least_squares_moments(Sxx[:4], Sxy)
