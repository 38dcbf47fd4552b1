"""Tests of the functions added for chapters 7 and 8.

Escape constant, depth threshold, perturbation growth and measured stability threshold,
naive effective strengths).
"""

import numpy as np
import pytest

from lib import dynamics, metrics, problems, stability, theory


@pytest.mark.parametrize("depth", [3, 4, 5, 7])
@pytest.mark.parametrize("sigma,lam", [(2.0, 1.0), (0.7, 1.3), (1.5, 0.4)])
def test_escape_time_constant_matches_quadrature(depth, sigma, lam):
    C = theory.escape_time_constant(sigma, lam, depth)
    for w0 in (1e-5, 1e-7):
        t_half = theory.half_way_time_any_depth(sigma, lam, w0, depth)[0]
        rest = t_half - theory.escape_time(sigma, w0, depth) - C
        # the remainder is -lam w0^(2/L) / (2 sigma^2) (1 + O(w0))
        assert rest == pytest.approx(
            -lam * w0 ** (2 / depth) / (2 * sigma**2), rel=1e-3
        )


def test_escape_time_constant_known_values_and_errors():
    assert theory.escape_time_constant(2.0, 1.0, 3) == pytest.approx(-0.33742, abs=1e-5)
    assert theory.escape_time_constant(2.0, 1.0, 4) == pytest.approx(
        -0.094194, abs=1e-6
    )
    assert (
        theory.escape_time_constant(1.0, 1.0, 5)
        < 0
        < theory.escape_time_constant(1.0, 1.0, 6)
    )
    with pytest.raises(ValueError, match="depth"):
        theory.escape_time_constant(1.0, 1.0, 2)
    with pytest.raises(ValueError, match="lam"):
        theory.escape_time_constant(1.0, -1.0, 3)


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_depth_shrink_threshold_separates_shrinking_from_growing(depth):
    def limit(w, L):
        return stability.mode_stable_step_size(w, 1.0, L)[0]

    w_c = stability.depth_shrink_threshold(depth)
    assert np.exp(-(depth + 1) / 2) < w_c < np.exp(-depth / 2)
    assert limit(1.01 * w_c, depth + 1) < limit(1.01 * w_c, depth)
    assert limit(0.99 * w_c, depth + 1) > limit(0.99 * w_c, depth)
    assert limit(w_c, depth + 1) == pytest.approx(limit(w_c, depth), rel=1e-12)
    real_depth = stability.depth_shrink_threshold(depth, consecutive=False)
    assert real_depth == pytest.approx(np.exp(-depth / 2))


@pytest.fixture(scope="module")
def small_problem():
    sigma, lam = np.array([1.4, 0.8]), np.array([0.3, 1.0, 2.5])
    X, Y = problems.aligned_problem(sigma, lam, n=10, p=3, d=2, seed=1)
    A = problems.measure_assumption(X, Y)
    return sigma, lam, A, problems.moments(X, Y)


@pytest.mark.parametrize("depth", [2, 3])
def test_stability_threshold_brackets_two_over_sharpness(small_problem, depth):
    sigma, lam, A, (Sxx, Sxy) = small_problem
    start = problems.aligned_start(A.U, A.V, sigma / lam[:2], depth=depth)
    limit = stability.stable_step_size_aligned(sigma, lam, depth, d=2)
    lo, hi = dynamics.stability_threshold(Sxx, Sxy, start, 0.5 * limit, 1.5 * limit)
    assert lo <= 1.005 * limit and hi >= limit and hi - lo < 0.01 * limit


def test_perturbation_growth_reports_divergence_per_run(small_problem):
    sigma, lam, A, (Sxx, Sxy) = small_problem
    start = problems.aligned_start(A.U, A.V, sigma / lam[:2], depth=2)
    limit = stability.stable_step_size_aligned(sigma, lam, 2, d=2)
    g = dynamics.perturbation_growth(Sxx, Sxy, start, np.array([0.9, 5.0]) * limit, 500)
    assert g[0] < 2 and g[1] == np.inf
    with pytest.raises(ValueError, match="bracket"):
        dynamics.stability_threshold(Sxx, Sxy, start, 1.1 * limit, 1.5 * limit)
    with pytest.raises(ValueError, match="eta"):
        dynamics.perturbation_growth(Sxx, Sxy, start, np.array([[0.1]]), 5)


def test_naive_effective_strengths_are_row_norms():
    rng = np.random.default_rng(0)
    U, V = problems.random_orthogonal(4, rng), problems.random_orthogonal(3, rng)
    start = problems.small_random_start(4, 3, 1e-3, width=5, seed=2)
    naive = theory.effective_initial_strengths(U, V, start, 3, orthogonalise=False)
    gs = theory.effective_initial_strengths(U, V, start, 3)
    assert naive[0] == pytest.approx(gs[0])
    assert np.all(gs <= naive * (1 + 1e-12))


def test_plateau_lengths_counts_each_plateau():
    f = np.array(
        [
            [0, 0, 0],
            [0.95, 0.05, 0],
            [0.95, 0.05, 0.0],
            [1, 0.5, 0],
            [1, 0.92, 0.1],
            [1, 1, 0.5],
            [1, 1, 1],
        ],
        float,
    )
    np.testing.assert_array_equal(metrics.plateau_lengths(f), [2, 1])
    together = f.copy()
    together[:, 2] = together[:, 1]  # modes 2 and 3 learned at once: no plateau 2
    batch = np.stack([f, together], axis=1)  # (T, 2, K)
    np.testing.assert_array_equal(metrics.plateau_lengths(batch), [[2, 1], [2, 0]])
    with pytest.raises(ValueError, match="low"):
        metrics.plateau_lengths(f, low=0.9, high=0.5)
    with pytest.raises(ValueError, match="fractions"):
        metrics.plateau_lengths(np.zeros((3, 1)))
