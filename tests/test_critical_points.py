"""Tests for chapter 9 (real regression).

Critical points of two-layer regression, prediction-space distances, one-layer descent
in closed form, and descent on a batch of problems.
"""

import itertools

import numpy as np
import pytest

from lib import dynamics, estimators, metrics, problems, report, stability, theory


def data(seed=0, n=60, p=5, d=4, zero_column=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) @ np.diag(np.linspace(0.3, 2.0, p))
    if zero_column:
        X[:, 0] = 0.0  # Sxx singular, as for the digits (a pixel that is always blank)
    Y = X @ rng.standard_normal((p, d)) + 0.5 * rng.standard_normal((n, d))
    return X, Y


def all_subsets(m):
    return [I for k in range(m + 1) for I in itertools.combinations(range(m), k)]


@pytest.mark.parametrize("zero_column", [False, True])
def test_every_critical_point_has_zero_factor_gradients_and_the_predicted_loss(
    zero_column,
):
    X, Y = data(zero_column=zero_column)
    Sxx, Sxy = problems.moments(X, Y)
    wr = theory.whitened_regression(Sxx, Sxy)
    subsets = all_subsets(wr["s"].size)
    Ws = theory.critical_points_two_layer(Sxx, Sxy, subsets)
    W_ols = np.linalg.pinv(Sxx) @ Sxy
    f0 = metrics.loss(X, Y, np.zeros_like(W_ols))
    for I, W in zip(subsets, Ws):
        V_I = wr["V"][:, list(I)]
        factors = [W_ols @ V_I, V_I.T] if I else [np.zeros((5, 1)), np.zeros((1, 4))]
        grads, prod = dynamics.factor_gradients(Sxx, Sxy, factors)
        assert np.allclose(prod, W, atol=1e-12)
        assert max(np.abs(g).max() for g in grads) < 1e-12
        gain = 0.5 * np.sum(wr["s"][list(I)] ** 2)
        assert metrics.loss(X, Y, W) == pytest.approx(f0 - gain, abs=1e-12)


def test_a_rank_k_map_that_is_not_a_critical_point_has_nonzero_gradient():
    X, Y = data(1)
    Sxx, Sxy = problems.moments(X, Y)
    wr = theory.whitened_regression(Sxx, Sxy)
    W_ols = np.linalg.pinv(Sxx) @ Sxy
    c, s_ = np.cos(0.3), np.sin(0.3)
    v_mix = c * wr["V"][:, [0]] + s_ * wr["V"][:, [1]]  # a rotated, non-eigen direction
    grads, _ = dynamics.factor_gradients(Sxx, Sxy, [W_ols @ v_mix, v_mix.T])
    assert max(np.abs(g).max() for g in grads) > 1e-3


def test_prefixes_are_the_reduced_rank_solutions():
    X, Y = data(2)
    Sxx, Sxy = problems.moments(X, Y)
    Ws = theory.critical_points_two_layer(Sxx, Sxy, [range(k) for k in range(5)])
    for k in range(5):
        W_k = estimators.reduced_rank_regression(X, Y, k)
        assert np.allclose(Ws[k], W_k, atol=1e-10)


@pytest.mark.parametrize("zero_column", [False, True])
def test_nearest_critical_point_matches_brute_force(zero_column):
    X, Y = data(3, zero_column=zero_column)
    Sxx, Sxy = problems.moments(X, Y)
    rng = np.random.default_rng(4)
    W = np.linalg.pinv(Sxx) @ Sxy * rng.uniform(
        0, 1.2, size=(30, 1, 1)
    ) + 0.05 * rng.standard_normal((30, 5, 4))
    members, dist, _ = theory.nearest_critical_point(Sxx, Sxy, W)
    subsets = all_subsets(theory.whitened_regression(Sxx, Sxy)["s"].size)
    Ws = theory.critical_points_two_layer(Sxx, Sxy, subsets)
    brute = np.sqrt(
        np.sum((Sxx @ (W[:, None] - Ws)) * (W[:, None] - Ws), axis=(-2, -1))
    )
    assert np.allclose(dist, brute.min(axis=1), atol=1e-10)
    best = [set(subsets[j]) for j in brute.argmin(axis=1)]
    assert [set(np.flatnonzero(mk)) for mk in members] == best


def test_prediction_distance_ignores_directions_without_variance():
    X, Y = data(5, zero_column=True)
    Sxx, _ = problems.moments(X, Y)
    W_ref = np.ones((5, 4))
    W = W_ref.copy()
    W[0] += 100.0  # the blank input: no change in any prediction
    assert metrics.prediction_distance(Sxx, W, W_ref) < 1e-12
    assert metrics.relative_distance(W, W_ref) > 10
    pred = np.linalg.norm(X @ (W_ref * 1.1) - X @ W_ref) / np.linalg.norm(X @ W_ref)
    assert metrics.prediction_distance(Sxx, W_ref * 1.1, W_ref) == pytest.approx(pred)


def test_one_layer_descent_closed_form_matches_iterating():
    X, Y = data(6, zero_column=True)
    Sxx, Sxy = problems.moments(X, Y)
    W0 = np.random.default_rng(7).standard_normal((5, 4)) * 0.1
    eta = (
        1.9 / np.linalg.eigvalsh(Sxx).max()
    )  # oscillating directions: signs must be exact
    iters, W = dynamics.gradient_descent_moments(Sxx, Sxy, [W0], eta, 300, every=7)
    assert np.allclose(
        dynamics.one_layer_descent(Sxx, Sxy, W0, eta, iters), W, atol=1e-12
    )
    with pytest.raises(ValueError, match="eta"):
        dynamics.one_layer_descent(
            Sxx, Sxy, W0, 2.1 / np.linalg.eigvalsh(Sxx).max(), iters
        )


def test_descent_on_a_batch_of_problems_matches_one_at_a_time():
    problems_ = [problems.moments(*data(s)) for s in range(3)]
    Sxx = np.stack([a for a, _ in problems_])
    Sxy = np.stack([b for _, b in problems_])
    start = problems.small_random_start(5, 4, 0.1, depth=2, seed=0)
    eta = np.array([0.05, 0.04, 0.03])
    _, W = dynamics.gradient_descent_moments(Sxx, Sxy, start, eta, 200, every=50)
    for b in range(3):
        _, Wb = dynamics.gradient_descent_moments(
            Sxx[b], Sxy[b], start, eta[b], 200, every=50
        )
        assert np.allclose(W[:, b], Wb, atol=1e-13)


def test_bad_inputs_raise_naming_the_argument():
    X, Y = data()
    Sxx, Sxy = problems.moments(X, Y)
    with pytest.raises(ValueError, match="subsets"):
        theory.critical_points_two_layer(Sxx, Sxy, [(0, 0)])
    with pytest.raises(ValueError, match="subsets"):
        theory.critical_points_two_layer(Sxx, Sxy, [(9,)])
    with pytest.raises(ValueError, match="Sxx"):
        theory.whitened_regression(Sxx[:3], Sxy)
    with pytest.raises(ValueError, match="Sxy"):
        theory.whitened_regression(np.diag([1.0, 1, 1, 1, 0]), np.ones((5, 4)))
    with pytest.raises(ValueError, match="W"):
        theory.nearest_critical_point(Sxx, Sxy, np.ones((3, 4)))


def test_planted_low_rank_has_the_stated_rank_covariance_and_noise():
    cov = np.geomspace(1.0, 0.05, 6)
    X, Y, W_star, C = problems.planted_low_rank(
        200000, 6, 5, 2, 0.5, cov, strengths=[2.0, 1.0], seed=1
    )
    assert np.allclose(
        np.linalg.svd(W_star, compute_uv=False)[:3], [2.0, 1.0, 0.0], atol=1e-12
    )
    assert np.allclose(np.linalg.eigvalsh(C), np.sort(cov))
    Sxx, _ = problems.moments(X, Y)
    assert np.abs(Sxx - C).max() < 0.02
    assert np.std(Y - X @ W_star) == pytest.approx(0.5, rel=0.01)
    # population excess = loss above that of W*, on many samples
    W = W_star + 0.1
    sample = metrics.loss(X, Y, W) - metrics.loss(X, Y, W_star)
    assert metrics.population_excess(C, W, W_star) == pytest.approx(sample, rel=0.03)
    with pytest.raises(ValueError, match="cov_eigs"):
        problems.planted_low_rank(10, 6, 5, 2, 0.5, cov[:3])
    with pytest.raises(ValueError, match="rank"):
        problems.planted_low_rank(10, 6, 5, 7, 0.5, cov)


@pytest.mark.parametrize("seed", range(4))
def test_sharpness_bound_is_above_the_sharpness(seed):
    X, Y = data(seed, zero_column=seed % 2 == 1)
    Sxx, Sxy = problems.moments(X, Y)
    sharp = stability.sharpness_at_minimum(Sxx, Sxy, 2)
    bound = stability.sharpness_bound_two_layer(Sxx, Sxy)
    assert sharp <= bound * (1 + 1e-9)
    assert bound < 2.5 * sharp  # and not vacuous
    batched = stability.sharpness_bound_two_layer(
        np.stack([Sxx, Sxx]), np.stack([Sxy, Sxy])
    )
    assert np.allclose(batched, bound)


def test_one_layer_descent_takes_one_step_size_per_problem():
    pairs = [problems.moments(*data(s)) for s in range(2)]
    Sxx, Sxy = np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs])
    eta = np.array([0.1, 0.05])
    iters = np.array([0, 3, 40])
    W = dynamics.one_layer_descent(Sxx, Sxy, np.zeros((5, 4)), eta, iters)
    for b in range(2):
        assert np.allclose(
            W[:, b],
            dynamics.one_layer_descent(Sxx[b], Sxy[b], np.zeros((5, 4)), eta[b], iters),
        )


def test_critical_point_distances_match_the_direct_computation():
    X, Y = data(8, zero_column=True)
    Sxx, Sxy = problems.moments(X, Y)
    subsets = [(), (0,), (1, 2), (0, 1, 2, 3)]
    W = np.random.default_rng(9).standard_normal((7, 5, 4))
    Ws = theory.critical_points_two_layer(Sxx, Sxy, subsets)
    direct = np.stack(
        [
            metrics.prediction_distance(Sxx, W, Wi) * np.sqrt(np.sum((Sxx @ Wi) * Wi))
            if i
            else np.sqrt(np.sum((Sxx @ W) * W, axis=(-2, -1)))
            for i, Wi in enumerate(Ws)
        ],
        -1,
    )
    assert np.allclose(
        theory.critical_point_distances(Sxx, Sxy, W, subsets), direct, atol=1e-10
    )


def test_mean_se_prints_mean_and_standard_error():
    assert report.mean_se([1.0, 2.0, 3.0]) == "2 ± 0.6"
    with pytest.raises(ValueError, match="x"):
        report.mean_se([1.0])


def test_digit_images_are_scikit_learns_digits():
    from sklearn.datasets import load_digits

    assert np.array_equal(problems.digit_images(), load_digits().data / 16.0)
