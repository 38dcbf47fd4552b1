"""Tests of the functions added for chapter 4 (auto-encoder).

Plateau distances and the flatness of a rise on a log-time axis.
"""

import numpy as np
import pytest

from lib import dynamics, metrics, problems, theory

LAM = np.array([2.0, 1.0, 0.5, 0.25])


def test_plateau_distance_is_the_trace_norm_distance_to_the_plateau():
    rng = np.random.default_rng(0)
    U = problems.random_orthogonal(4, rng)
    w = np.array([0.97, 0.4, 0.02, 1e-5])
    for k in range(5):
        Wk = metrics.modes_to_map(U, U, (np.arange(4) < k).astype(float))
        W = metrics.modes_to_map(U, U, w)
        assert metrics.plateau_distance(w, 1.0, k) == pytest.approx(
            metrics.trace_norm(W - Wk), rel=1e-12
        )


def test_plateau_distance_broadcasts_and_validates():
    w = np.zeros((7, 3))
    assert metrics.plateau_distance(w, np.array([1.0, 2.0, 3.0]), 2).shape == (7,)
    assert np.allclose(metrics.plateau_distance(w, np.array([1.0, 2.0, 3.0]), 2), 3.0)
    with pytest.raises(ValueError, match="k"):
        metrics.plateau_distance(w, 1.0, 4)


def test_plateau_distance_bound_holds_along_the_mode_map():
    eta, w0, steps = 0.45 / LAM[0], 1e-6, 600
    w = dynamics.discrete_modes(LAM, LAM, w0, eta, steps)
    t = np.arange(steps + 1)
    for k in range(5):
        bound = theory.plateau_trace_distance_bound(t, LAM, LAM, w0, eta, k)
        assert bound.shape == (steps + 1,)
        assert np.all(
            metrics.plateau_distance(w, 1.0, k) <= bound + 1e-14
        )  # rounding at saturation


def test_flat_fraction_staircase_against_smooth_rise():
    t = np.geomspace(1, 1e4, 4000)
    smooth = np.log(t)
    stairs = np.sum(
        1 / (1 + np.exp(-30 * (np.log(t)[:, None] - np.log([10, 100, 1000])))), axis=1
    )
    assert metrics.flat_fraction(t, smooth, 0.5, 8.0) == 0.0
    assert 0.3 < metrics.flat_fraction(t, stairs, 0.5, 2.5) < 1.0


def test_flat_fraction_validates():
    t = np.arange(1.0, 6.0)
    with pytest.raises(ValueError, match="high"):
        metrics.flat_fraction(t, t, 1.0, 10.0)
    with pytest.raises(ValueError, match="t must"):
        metrics.flat_fraction(t - 1, t, 1.0, 2.0)
    with pytest.raises(ValueError, match="level"):
        metrics.flat_fraction(t, t, 1.0, 2.0, level=0)
