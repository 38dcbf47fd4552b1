"""Tests of the ordering statistics (chapter 10).

Order agreement, random spectra, and the exact rank-1 agreement probability.
"""

import numpy as np
import pytest
from scipy import stats

from lib import problems, theory

LAWS = {
    "uniform": (problems.FactorLaw("uniform", 0.1, 1.0), 0.0),
    "loguniform": (problems.FactorLaw("loguniform", 0.01, 1.0), 0.0),
    "planted": (problems.FactorLaw("halfnormal"), 1.0),
}
SCIPY = {
    "uniform": stats.uniform(0.1, 0.9),
    "loguniform": stats.loguniform(0.01, 1),
    "planted": stats.halfnorm(),
}


def test_order_agreement_matches_the_gain_comparison():
    sigma, lam = problems.random_spectra(5000, 6, 4.0, LAWS["uniform"][0], seed=3)
    agree = theory.order_agreement(sigma, lam)
    order = np.argsort(-sigma, axis=1)
    plateau, rrr = theory.plateau_and_rrr_gains(
        np.take_along_axis(sigma, order, 1), np.take_along_axis(lam, order, 1)
    )
    assert agree.shape == (5000, 5)
    np.testing.assert_array_equal(
        agree, ~(rrr[:, 1:-1] > plateau[:, 1:-1] * (1 + 1e-12))
    )
    assert 0 < agree.mean() < 1


def test_order_agreement_small_cases():
    # lam = (100, 1), sigma = (2, 1): the flow learns mode 1 first, RRR keeps mode 2.
    assert not theory.order_agreement([2.0, 1.0], [100.0, 1.0])[0]
    assert theory.order_agreement(
        [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]
    ).all()  # auto-encoder
    with pytest.raises(ValueError, match="lam"):
        theory.order_agreement([1.0, 2.0], [1.0, -1.0])


@pytest.mark.parametrize("name", sorted(LAWS))
def test_factor_laws_match_scipy(name):
    ours, theirs = LAWS[name][0], SCIPY[name]
    q = np.linspace(0.001, 0.999, 11)
    x = np.array([0.005, 0.05, 0.3, 0.9, 1.5, 3.0])
    np.testing.assert_allclose(ours.ppf(q), theirs.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(ours.cdf(x), theirs.cdf(x), atol=1e-12)
    assert ours.support() == tuple(float(e) for e in theirs.support())
    beta = LAWS[name][1]
    assert (
        abs(
            theory.rank_one_agreement(4, 3.0, ours, beta)
            - theory.rank_one_agreement(4, 3.0, theirs, beta)
        )
        < 1e-10
    )


def test_random_spectra_laws_and_validation():
    law = problems.FactorLaw("loguniform", 0.01, 1.0)
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
    with pytest.raises(ValueError, match="kind"):
        problems.FactorLaw("gaussian")
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
    law = problems.FactorLaw("loguniform", 0.01, 1.0)
    assert theory.rank_one_agreement(5, 1.0, law) == 1.0
    assert theory.rank_one_agreement(1, 3.0, law) == 1.0
    with pytest.raises(ValueError, match="spread"):
        theory.rank_one_agreement(3, 0.5, law)


def test_bundled_regressions_are_centred_multi_output():
    sets = problems.bundled_regressions()
    assert len(sets) == 9
    for name, (X, Y) in sets.items():
        assert X.shape[0] == Y.shape[0] and Y.shape[1] >= 2, name
        np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(Y.mean(axis=0), 0, atol=1e-12)
    from sklearn import datasets

    def centre(a):
        return a - a.mean(axis=0)

    digits, wine = datasets.load_digits(), datasets.load_wine()
    np.testing.assert_array_equal(
        sets["digits halves"][0], centre(digits.data / 16.0)[:, :32]
    )
    np.testing.assert_allclose(
        sets["wine -> class"][0], centre(wine.data) / wine.data.std(axis=0)
    )
    np.testing.assert_array_equal(
        sets["wine -> class"][1], centre(np.eye(3)[wine.target])
    )
    linnerud, cancer = datasets.load_linnerud(), datasets.load_breast_cancer()
    np.testing.assert_allclose(
        sets["linnerud"][1] * linnerud.target.std(axis=0), centre(linnerud.target)
    )
    np.testing.assert_allclose(
        sets["cancer mean -> se"][1] * cancer.data[:, 10:20].std(axis=0),
        centre(cancer.data[:, 10:20]),
    )
    iris = datasets.load_iris()
    np.testing.assert_array_equal(
        sets["iris -> class"][1], centre(np.eye(3)[iris.target])
    )
    X, Y = sets["digits auto-encoder"]
    A = problems.measure_assumption(X, Y)
    np.testing.assert_allclose(A.sigma, A.lam[: A.sigma.size], rtol=1e-9, atol=1e-12)


def test_measure_assumption_rtol_puts_null_directions_in_the_diagonalised_block():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 6))
    Y = X[:, :2] @ rng.standard_normal((2, 4))  # Sxy of rank 2 < min(p, d) = 4
    old = problems.measure_assumption(X, Y)
    new = problems.measure_assumption(X, Y, rtol=1e-8)
    np.testing.assert_allclose(new.sigma[:2], old.sigma[:2])
    assert np.all(new.sigma[2:] == 0)
    M = new.U.T @ problems.moments(X, Y)[0] @ new.U
    np.testing.assert_allclose(M[2:, 2:], np.diag(np.diag(M[2:, 2:])), atol=1e-12)
    np.testing.assert_allclose(new.U.T @ new.U, np.eye(6), atol=1e-12)
    assert new.eps <= old.eps + 1e-12
    same = problems.measure_assumption(X, X @ rng.standard_normal((6, 6)), rtol=1e-8)
    ref = problems.measure_assumption(X, X @ rng.standard_normal((6, 6)))
    assert same.sigma.size == ref.sigma.size == 6
    with pytest.raises(ValueError, match="rtol"):
        problems.measure_assumption(X, Y, rtol=1.5)
