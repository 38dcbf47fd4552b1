"""Tests of the ordering statistics (chapter 9): order agreement, random spectra, and the
exact rank-1 agreement probability."""

import numpy as np
import pytest
from scipy import stats

from lib import problems, theory

LAWS = {"uniform": (stats.uniform(0.1, 0.9), 0.0), "loguniform": (stats.loguniform(0.01, 1), 0.0),
        "planted": (stats.halfnorm(), 1.0)}


def test_order_agreement_matches_the_gain_comparison():
    sigma, lam = problems.random_spectra(5000, 6, 4.0, stats.uniform(0.1, 0.9), seed=3)
    agree = theory.order_agreement(sigma, lam)
    order = np.argsort(-sigma, axis=1)
    plateau, rrr = theory.plateau_and_rrr_gains(np.take_along_axis(sigma, order, 1),
                                                np.take_along_axis(lam, order, 1))
    assert agree.shape == (5000, 5)
    np.testing.assert_array_equal(agree, ~(rrr[:, 1:-1] > plateau[:, 1:-1] * (1 + 1e-12)))
    assert 0 < agree.mean() < 1


def test_order_agreement_small_cases():
    # lam = (100, 1), sigma = (2, 1): the flow learns mode 1 first, RRR keeps mode 2.
    assert not theory.order_agreement([2.0, 1.0], [100.0, 1.0])[0]
    assert theory.order_agreement([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).all()  # auto-encoder
    with pytest.raises(ValueError, match="lam"):
        theory.order_agreement([1.0, 2.0], [1.0, -1.0])


def test_random_spectra_laws_and_validation():
    law = stats.loguniform(0.01, 1)
    sigma, lam = problems.random_spectra(20000, 3, 3.0, law, beta=1.0, seed=0)
    assert sigma.shape == lam.shape == (20000, 3)
    assert lam.min() >= 1 / 3 and lam.max() <= 3
    tau = sigma / lam
    assert tau.min() >= 0.01 and tau.max() <= 1
    beta = problems.exponent_for_log_correlation(0.6, 3.0, law)
    s2, l2 = problems.random_spectra(200000, 1, 3.0, law, beta=beta, seed=1)
    assert abs(np.corrcoef(np.log(s2[:, 0]), np.log(l2[:, 0]))[0, 1] - 0.6) < 0.01
    with pytest.raises(ValueError, match="spread"):
        problems.random_spectra(10, 3, 0.5, law)
    with pytest.raises(ValueError, match="tau_law"):
        problems.random_spectra(10, 3, 2.0, "loguniform")
    with pytest.raises(ValueError, match="rho"):
        problems.exponent_for_log_correlation(1.0, 3.0, law)


@pytest.mark.parametrize("name", sorted(LAWS))
@pytest.mark.parametrize("m, spread", [(2, 2.0), (5, 3.0), (4, 20.0)])
def test_rank_one_agreement_exact_against_monte_carlo(name, m, spread):
    law, beta = LAWS[name]
    exact = theory.rank_one_agreement(m, spread, law, beta)
    sigma, lam = problems.random_spectra(200000, m, spread, law, beta=beta, seed=7)
    mc = theory.order_agreement(sigma, lam)[:, 0].mean()
    se = np.sqrt(exact * (1 - exact) / 200000)
    assert abs(mc - exact) < 4 * se
    assert abs(theory.rank_one_agreement(m, spread, law, beta, nodes=48) - exact) < 1e-4


def test_rank_one_agreement_trivial_cases():
    law = stats.loguniform(0.01, 1)
    assert theory.rank_one_agreement(5, 1.0, law) == 1.0
    assert theory.rank_one_agreement(1, 3.0, law) == 1.0
    with pytest.raises(ValueError, match="spread"):
        theory.rank_one_agreement(3, 0.5, law)
