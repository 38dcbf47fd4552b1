"""Tests for the plateau instability (lib.theory) and the batched moments runs.

The runs are those of lib.dynamics.
"""

import numpy as np
import pytest

from lib import dynamics, problems, theory


def test_instability_rate_is_top_eigenvalue_of_the_block():
    sigma, lam = np.array([1.0, 0.8, 0.6, 0.4]), np.array([4.0, 0.5, 2.0, 0.2])
    R = theory.plateau_instability_rates(sigma, lam)
    for i in range(4):
        for j in range(4):
            if i == j:
                assert np.isnan(R[i, j])
                continue
            J = np.array(
                [[-lam[j] * sigma[i] / lam[i], sigma[j]], [sigma[j], -sigma[i]]]
            )
            assert R[i, j] == pytest.approx(np.linalg.eigvalsh(J).max(), rel=1e-12)
            # the sign condition of the proposition
            assert (R[i, j] > 0) == (sigma[j] ** 2 / lam[j] > sigma[i] ** 2 / lam[i])


def test_instability_rate_descent_is_log_spectral_radius():
    sigma, lam, eta = np.array([1.0, 0.45]), np.array([1.0, 0.05]), 0.1
    R = theory.plateau_instability_rates(sigma, lam, eta)
    J = np.array([[-lam[1] * sigma[0] / lam[0], sigma[1]], [sigma[1], -sigma[0]]])
    assert R[0, 1] == pytest.approx(
        np.log(np.abs(np.linalg.eigvalsh(np.eye(2) + eta * J)).max())
    )


def test_instability_rate_matches_linearised_full_matrix_flow():
    # Jacobian of the two-layer gradient field at the plateau "mode 1 learned", by
    # finite differences: its restriction to mode 2 along mode 1's hidden direction is
    # J_12.
    sigma, lam = np.array([1.0, 0.45]), np.array([1.0, 0.05])
    Sxx, Sxy = np.diag(lam), np.diag(sigma)
    a = np.sqrt(sigma[0] / lam[0])
    W1, W2 = np.diag([a, 0.0]), np.diag([a, 0.0])

    def field(x, y):
        f1, f2 = W1.copy(), W2.copy()
        f1[1, 0] += x  # mode 2 input row, hidden direction of mode 1
        f2[0, 1] += y  # hidden direction of mode 1, mode 2 output column
        g, _ = dynamics.factor_gradients(Sxx, Sxy, [f1, f2])
        return np.array([-g[0][1, 0], -g[1][0, 1]])

    h = 1e-6
    J = np.column_stack(
        [(field(h, 0) - field(-h, 0)) / (2 * h), (field(0, h) - field(0, -h)) / (2 * h)]
    )
    assert np.linalg.eigvalsh((J + J.T) / 2).max() == pytest.approx(
        theory.plateau_instability_rates(sigma, lam)[0, 1], rel=1e-6
    )


def test_crossover_delta_solves_the_seed_balance():
    sigma, lam, eps = np.array([1.0, 0.45]), np.array([1.0, 0.05]), 1e-3
    d, g = theory.instability_crossover_delta(sigma, lam, eps)
    R = theory.plateau_instability_rates(sigma, lam)[0, 1]
    t = theory.half_way_times(sigma, lam, np.exp(-2 * d[0, 1]))
    assert R * (t[1] - t[0]) == pytest.approx(np.log(1 / eps), rel=1e-6)
    assert g[0, 1] == pytest.approx(R * (1 / sigma[1] - 1 / sigma[0]))
    agree, _ = theory.instability_crossover_delta(
        np.array([2.0, 1.0]), np.array([1.0, 1.0]), eps
    )
    assert np.all(np.isnan(agree))
    with pytest.raises(ValueError, match="sigma"):
        theory.instability_crossover_delta(
            np.array([1.0, 2.0]), np.array([1.0, 1.0]), eps
        )
    with pytest.raises(ValueError, match="eps"):
        theory.instability_crossover_delta(sigma, lam, 0.0)


def test_batched_moments_descent_and_flow_match_single_runs():
    sigma, lam = np.array([1.0, 0.5]), np.array([1.0, 0.3])
    runs = [
        problems.moments(*problems.aligned_problem(sigma, lam, 4, eps=e, seed=1))
        for e in (0.0, 0.05)
    ]
    A = problems.measure_assumption(*problems.aligned_problem(sigma, lam, 4, seed=1))
    start = problems.aligned_start(A.U, A.V, np.full(2, 1e-3))
    Sxx = np.array([r[0] for r in runs])
    _, Wb = dynamics.gradient_descent_moments(Sxx, runs[0][1], start, 0.2, 50)
    t = np.linspace(0, 5, 11)
    Wf = dynamics.gradient_flow_moments(Sxx, runs[0][1], start, t)
    for e, (Sx, Sy) in enumerate(runs):
        _, W = dynamics.gradient_descent_moments(Sx, Sy, start, 0.2, 50)
        np.testing.assert_allclose(Wb[:, e], W, atol=1e-14)
        X, Y = problems.aligned_problem(sigma, lam, 4, eps=(0.0, 0.05)[e], seed=1)
        np.testing.assert_allclose(
            Wf[:, e], dynamics.gradient_flow(X, Y, start, t), atol=1e-8
        )
    with pytest.raises(ValueError, match="batch"):
        dynamics.gradient_descent_moments(
            Sxx, runs[0][1], [f[None].repeat(3, 0) for f in start], 0.2, 5
        )
