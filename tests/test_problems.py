import numpy as np
import pytest

from lib import problems


def test_aligned_problem_has_the_requested_moments(aligned):
    X, Y, A = aligned["X"], aligned["Y"], aligned["A"]
    Sxx, Sxy = problems.moments(X, Y)
    k = aligned["sigma"].size
    assert X.shape == (200, 6) and Y.shape == (200, 5)
    np.testing.assert_allclose(A.sigma[:k], aligned["sigma"], rtol=1e-12)
    assert A.sigma[k:].max() < 1e-12  # rank of Sxy is exactly k
    np.testing.assert_allclose(A.lam[:k], aligned["lam"], rtol=1e-12)
    np.testing.assert_allclose(
        A.lam[k:], aligned["lam"].min(), rtol=1e-12
    )  # padded directions
    assert A.eps < 1e-12
    # U, V reproduce the moments: Sxy = U D_xy V^T and Sxx = U diag(lam) U^T.
    D_xy = np.zeros((6, 5))
    D_xy[np.arange(5), np.arange(5)] = A.sigma
    np.testing.assert_allclose(A.U @ D_xy @ A.V.T, Sxy, atol=1e-12)
    np.testing.assert_allclose(A.U @ np.diag(A.lam) @ A.U.T, Sxx, atol=1e-12)


@pytest.mark.parametrize("eps", [1e-3, 0.1, 0.4])
def test_perturbation_has_the_requested_spectral_norm(eps):
    sigma, lam = np.array([2.0, 1.0, 0.5]), np.array([1.0, 0.7, 0.5])
    X, Y = problems.aligned_problem(sigma, lam, n=50, eps=eps, seed=3)
    A = problems.measure_assumption(X, Y)
    assert A.eps == pytest.approx(eps, rel=1e-9)
    np.testing.assert_allclose(A.sigma, sigma, rtol=1e-12)  # Sxy is untouched by B
    np.testing.assert_allclose(
        A.lam, lam, rtol=1e-12
    )  # B has zero diagonal in the U basis


def test_defaults_and_seed_reproducibility():
    X1, Y1 = problems.aligned_problem([2.0, 1.0], [1.0, 1.0], n=10, seed=7)
    X2, Y2 = problems.aligned_problem([2.0, 1.0], [1.0, 1.0], n=10, seed=7)
    X3, _ = problems.aligned_problem([2.0, 1.0], [1.0, 1.0], n=10, seed=8)
    assert X1.shape == (10, 2) and Y1.shape == (10, 2)
    assert (
        np.array_equal(X1, X2) and np.array_equal(Y1, Y2) and not np.array_equal(X1, X3)
    )


def test_autoencoder_special_case_is_exact():
    # sigma = lam gives Y = X up to the choice of V: the auto-encoder spectra.
    lam = np.array([4.0, 2.0, 1.0])
    X, Y = problems.aligned_problem(lam, lam, n=30, seed=2)
    A = problems.measure_assumption(X, X)
    np.testing.assert_allclose(A.sigma, A.lam, rtol=1e-12)
    assert A.eps < 1e-12


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_aligned_start_product_and_balance(aligned, depth):
    A = aligned["A"]
    w0 = np.array([1e-2, 2e-3, 5e-4, 1e-4])
    fs = problems.aligned_start(A.U, A.V, w0, depth=depth, width=5, seed=4)
    W = fs[0]
    for F in fs[1:]:
        W = W @ F
    np.testing.assert_allclose(W, (A.U[:, :4] * w0) @ A.V[:, :4].T, atol=1e-15)
    # Balanced: W_l^T W_l = W_{l+1} W_{l+1}^T for every consecutive pair.
    for l in range(depth - 1):
        np.testing.assert_allclose(fs[l].T @ fs[l], fs[l + 1] @ fs[l + 1].T, atol=1e-15)


def test_small_random_start_shapes_and_scale():
    fs = problems.small_random_start(8, 5, 1e-3, depth=3, width=6, seed=0)
    assert [f.shape for f in fs] == [(8, 6), (6, 6), (6, 5)]
    assert 1e-4 < np.abs(fs[0]).max() < 1e-2


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(sigma=[1.0, 2.0], lam=[1.0, 1.0], n=5), "sigma"),  # not decreasing
        (dict(sigma=[2.0, -1.0], lam=[1.0, 1.0], n=5), "sigma"),
        (dict(sigma=[2.0, np.nan], lam=[1.0, 1.0], n=5), "sigma"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 0.0], n=5), "lam"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0, 1.0], n=5), "lam"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=1), "n"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=5, p=1), "p"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=5, d=1), "d"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=5, eps=-0.1), "eps"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 0.5], n=5, eps=0.5), "eps"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=5, seed=-1), "seed"),
        (dict(sigma=[2.0, 1.0], lam=[1.0, 1.0], n=5.5), "n"),
    ],
)
def test_aligned_problem_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        problems.aligned_problem(**kwargs)


def test_data_checks_name_the_argument():
    with pytest.raises(ValueError, match="X and Y"):
        problems.moments(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="Y"):
        problems.moments(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="X must be finite"):
        problems.moments(np.full((3, 2), np.inf), np.ones((3, 2)))
    A = problems.measure_assumption(
        *problems.aligned_problem([2.0, 1.0], [1.0, 1.0], n=5)
    )
    with pytest.raises(ValueError, match="w0"):
        problems.aligned_start(A.U, A.V, [1.0, -1.0], depth=2)
    with pytest.raises(ValueError, match="depth"):
        problems.aligned_start(A.U, A.V, [1.0, 1.0], depth=0)
    with pytest.raises(ValueError, match="width"):
        problems.aligned_start(A.U, A.V, [1.0, 1.0], depth=2, width=1)


@pytest.mark.parametrize("depth, width", [(1, None), (2, None), (3, 6)])
def test_balanced_factors_multiply_to_the_map_and_are_balanced(depth, width):
    W = np.random.default_rng(7).standard_normal((5, 4))
    fs = problems.balanced_factors(W, depth, width)
    assert len(fs) == depth
    np.testing.assert_allclose(
        np.linalg.multi_dot(fs) if depth > 1 else fs[0], W, atol=1e-12
    )
    for a, b in zip(fs[:-1], fs[1:]):  # W_l^T W_l = W_{l+1} W_{l+1}^T
        np.testing.assert_allclose(a.T @ a, b @ b.T, atol=1e-12)
    with pytest.raises(ValueError, match="width"):
        problems.balanced_factors(W, 2, width=3)
