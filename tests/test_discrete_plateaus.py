"""Tests of the plateau functions added for chapter 3."""

import numpy as np
import pytest

from lib import dynamics, stability, theory


def test_plateau_times_balance_the_two_rates():
    sigma, eta = np.array([1.0, 0.7, 0.3]), 0.4
    tau, rate = theory.discrete_plateau_times(sigma, eta)
    T = 1 / np.log1p(eta * sigma)
    assert np.allclose(rate, 2 * (tau / T[:-1] - 1))
    assert np.allclose(rate, 2 * (1 - tau / T[1:]))
    assert np.all((T[:-1] < tau) & (tau < T[1:]))


def test_plateau_distance_bounds_sandwich_the_mode_map():
    sigma, lam, eta, delta = (
        np.array([1.0, 0.6, 0.35]),
        np.array([1.5, 1.0, 0.4]),
        0.4,
        10.0,
    )
    w0 = np.exp(-2 * delta)
    steps = 300
    w = dynamics.discrete_modes(sigma, lam, w0, eta, steps)
    t = np.arange(steps + 1)
    for k in range(4):
        target = np.where(np.arange(3) < k, sigma / lam, 0.0)
        dist = np.linalg.norm(w - target, axis=-1)
        bounds = theory.plateau_frobenius_distance_bounds(t, sigma, lam, w0, eta, k)
        lower, upper = bounds
        assert lower.shape == upper.shape == t.shape
        slack = 1e-12 * dist + 1e-15  # rounding once the modes sit at their limits
        assert np.all(lower <= dist + slack) and np.all(dist <= upper + slack)


def test_plateau_functions_reject_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        theory.discrete_plateau_times([0.5, 1.0], 0.1)
    with pytest.raises(ValueError, match="k"):
        theory.plateau_frobenius_distance_bounds(
            1, [1.0, 0.5], [1.0, 1.0], 1e-3, 0.1, 3
        )


def test_mode_map_matches_the_mode_iteration_and_its_slope():
    from fractions import Fraction

    h, x = 0.3, np.linspace(0.01, 2.0, 50)
    w = dynamics.discrete_modes(2.0, 4.0, x * 2.0 / 4.0, h / 2.0, 1)[
        1
    ]  # sigma 2, lam 4
    assert np.allclose(stability.mode_map(x, h), 4.0 * w / 2.0, rtol=1e-13)
    step = 1e-6
    g = stability.mode_map
    numeric = (g(x + step, h) - g(x - step, h)) / (2 * step)
    assert np.allclose(stability.mode_map_slope(x, h), numeric, rtol=1e-6, atol=1e-8)
    exact = Fraction(1, 3) * Fraction(4, 3) ** 2
    assert stability.mode_map(Fraction(1, 3), Fraction(1, 2)) == exact
