"""Data for the experiments: problems that satisfy the common-decomposition assumption
(exactly, or broken by a perturbation of known size), starts aligned with it, and the
measurement of the assumption on any data.

Conventions (book notation): X is (n, p), Y is (n, d), rows are samples;
Sxx = X^T X / n is (p, p), Sxy = X^T Y / n is (p, d). The assumption reads

    Sxx = U (D_x + B) U^T,    Sxy = U D_xy V^T,

with U (p, p) and V (d, d) orthogonal, D_x = diag(lam), D_xy the (p, d) rectangular
diagonal of the singular values sigma, and B symmetric with ||B||_2 <= eps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as v


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(v.integer(seed, "seed", low=0))


def random_orthogonal(size: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-distributed orthogonal matrix, shape (size, size)."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))  # sign fix makes the distribution Haar


def moments(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Second moments of the data: Sxx = X^T X / n (p, p) and Sxy = X^T Y / n (p, d)."""
    X, Y = check_data(X, Y)
    n = X.shape[0]
    return X.T @ X / n, X.T @ Y / n


def check_data(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a data pair: X (n, p) and Y (n, d) finite with the same n."""
    X = v.as_float_array(X, "X", ndim=2)
    Y = v.as_float_array(Y, "Y", ndim=2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows, got X {X.shape} and Y {Y.shape}")
    if X.shape[0] < 1:
        raise ValueError("X must have at least one row")
    return X, Y


def off_diagonal_perturbation(p: int, eps: float, rng: np.random.Generator) -> np.ndarray:
    """Random symmetric (p, p) matrix with zero diagonal and spectral norm exactly `eps`.

    The zero diagonal keeps the eigenvalue estimates diag(U^T Sxx U) equal to `lam`,
    so `eps` is also what `measure_assumption` reports.
    """
    if eps == 0 or p < 2:
        return np.zeros((p, p))
    G = rng.standard_normal((p, p))
    B = (G + G.T) / 2
    np.fill_diagonal(B, 0.0)
    return B * (eps / np.linalg.norm(B, 2))


def aligned_problem(sigma, lam, n, p=None, d=None, eps=0.0, seed=0):
    """Data (X, Y) whose moments have a common decomposition with the given spectra.

    Parameters
    ----------
    sigma : array, shape (k,)
        Singular values of Sxy, positive and strictly decreasing.
    lam : array, shape (k,) or (p,)
        Eigenvalues of Sxx (before the perturbation), positive. Entry i pairs with
        sigma[i]; with shape (k,) and p > k, the p - k input directions that carry no
        signal get eigenvalue min(lam).
    n : int
        Number of samples, n >= p.
    p, d : int, optional
        Input and output dimensions, both >= k; default k.
    eps : float
        Spectral norm of the symmetric perturbation B (zero diagonal in the U basis,
        so not diagonal there); 0 <= eps < min(lam) keeps Sxx positive definite.
    seed : int or numpy.random.Generator

    Returns
    -------
    X : array, shape (n, p)
    Y : array, shape (n, d)
        with X^T X / n = U (diag(lam) + B) U^T and X^T Y / n = U D_xy V^T exactly
        (to rounding), for Haar-random U, V.

    Notes
    -----
    X = sqrt(n) O (D_x + B)^{1/2} U^T and Y = sqrt(n) O (D_x + B)^{-1/2} D_xy V^T with
    O an (n, p) matrix with orthonormal columns: then Sxx = U (D_x + B) U^T and
    Sxy = U (D_x + B)^{1/2} (D_x + B)^{-1/2} D_xy V^T = U D_xy V^T. Use
    `measure_assumption` to recover U, V, sigma, lam and eps.
    """
    sigma = v.positive(sigma, "sigma")
    if sigma.ndim != 1:
        raise ValueError(f"sigma must be a 1-D array of singular values, got shape {sigma.shape}")
    k = sigma.size
    if k > 1 and np.any(np.diff(sigma) >= 0):
        raise ValueError(f"sigma must be strictly decreasing, got {sigma}")
    lam = v.positive(lam, "lam")
    p = k if p is None else v.integer(p, "p", low=k)
    d = k if d is None else v.integer(d, "d", low=k)
    if lam.ndim != 1 or lam.size not in (k, p):
        raise ValueError(f"lam must have shape ({k},) or ({p},), got {lam.shape}")
    if lam.size < p:
        lam = np.concatenate([lam, np.full(p - k, lam.min())])
    n = v.integer(n, "n", low=p)
    eps = float(v.positive(eps, "eps", allow_zero=True))
    if eps >= lam.min():
        raise ValueError(f"eps must be < min(lam) = {lam.min():g} so that Sxx stays positive definite, got {eps:g}")
    rng = _rng(seed)

    U = random_orthogonal(p, rng)
    V = random_orthogonal(d, rng)
    O, _ = np.linalg.qr(rng.standard_normal((n, p)))
    C = np.diag(lam) + off_diagonal_perturbation(p, eps, rng)
    evals, evecs = np.linalg.eigh(C)
    C_half = (evecs * np.sqrt(evals)) @ evecs.T
    C_inv_half = (evecs / np.sqrt(evals)) @ evecs.T
    D_xy = np.zeros((p, d))
    D_xy[np.arange(k), np.arange(k)] = sigma
    X = np.sqrt(n) * O @ C_half @ U.T
    Y = np.sqrt(n) * O @ (C_inv_half @ D_xy) @ V.T
    return X, Y


@dataclass(frozen=True)
class Assumption:
    """The common decomposition measured on data (see `measure_assumption`).

    U : (p, p) orthogonal; its first k columns are the left singular vectors of Sxy.
    V : (d, d) orthogonal; its first k columns are the right singular vectors of Sxy.
    sigma : (k,) singular values of Sxy, k = min(p, d), decreasing.
    lam : (p,) diagonal of U^T Sxx U (the eigenvalue paired with each mode).
    eps : spectral norm of the off-diagonal part of U^T Sxx U.
    """

    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    lam: np.ndarray
    eps: float


def measure_assumption(X, Y) -> Assumption:
    """Fit the common decomposition to data and measure how far it is from exact.

    U and V come from the full SVD of Sxy. Left singular directions beyond the rank of
    Sxy are not determined by Sxy, so that block of U is rotated to diagonalise Sxx
    there (the choice that makes eps smallest within it). eps = ||offdiag(U^T Sxx U)||_2.
    """
    Sxx, Sxy = moments(X, Y)
    U, sigma, Vt = np.linalg.svd(Sxy)
    k = sigma.size
    p = Sxx.shape[0]
    if p > k:
        # Directions orthogonal to the range of Sxy: diagonalise Sxx restricted to them.
        rest = U[:, k:]
        _, rot = np.linalg.eigh(rest.T @ Sxx @ rest)
        U = np.concatenate([U[:, :k], rest @ rot[:, ::-1]], axis=1)
    M = U.T @ Sxx @ U
    lam = np.diag(M).copy()
    off = M - np.diag(lam)
    eps = float(np.linalg.norm(off, 2)) if p > 1 else 0.0
    return Assumption(U=U, V=Vt.T, sigma=sigma, lam=lam, eps=eps)


def aligned_start(U, V, w0, depth=2, width=None, seed=None):
    """Aligned balanced factors whose product is U diag(w0) V^T.

    Parameters
    ----------
    U : (p, p) and V : (d, d) orthogonal (e.g. from `measure_assumption`).
    w0 : array, shape (k,) with k <= min(p, d)
        Initial mode strengths (w0 = exp(-2 delta) in the paper's notation); >= 0 when
        depth >= 2 (each factor carries w0 ** (1 / depth) on mode i).
    depth : int, L >= 1.
    width : int, hidden width r >= k of every hidden layer; default k.
    seed : None for Q = identity, or an int / Generator for Haar-random orthogonal Q_l
        between consecutive layers (the closed form holds for any orthogonal Q).

    Returns
    -------
    list of L arrays: W_1 (p, r), W_2 (r, r), ..., W_L (r, d); for L = 1, [U diag(w0) V^T].
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    L = v.depth(depth)
    w0 = v.as_float_array(w0, "w0", ndim=1)
    k = w0.size
    p, d = U.shape[0], V.shape[0]
    if k > min(U.shape[1], V.shape[1]):
        raise ValueError(f"w0 has {k} modes but U and V have only {U.shape[1]} and {V.shape[1]} columns")
    if L == 1:
        return [(U[:, :k] * w0) @ V[:, :k].T]
    if np.any(w0 < 0):
        raise ValueError("w0 must be non-negative for depth >= 2 (each factor carries w0 ** (1/depth))")
    r = k if width is None else v.integer(width, "width", low=k)
    a = w0 ** (1.0 / L)
    rng = None if seed is None else _rng(seed)
    Qs = [np.eye(r) if rng is None else random_orthogonal(r, rng) for _ in range(L - 1)]
    core = np.zeros((r, r))
    core[np.arange(k), np.arange(k)] = a
    left = np.zeros((p, r))
    left[:, :k] = U[:, :k] * a
    right = np.zeros((r, d))
    right[:k, :] = a[:, None] * V[:, :k].T
    factors = [left @ Qs[0]]
    for l in range(1, L - 1):
        factors.append(Qs[l - 1].T @ core @ Qs[l])
    factors.append(Qs[-1].T @ right)
    return factors


def small_random_start(p, d, scale, depth=2, width=None, seed=0):
    """Gaussian factors with i.i.d. N(0, scale^2 / fan_in) entries: W_1 (p, r) ... W_L (r, d)."""
    L = v.depth(depth)
    p = v.integer(p, "p", low=1)
    d = v.integer(d, "d", low=1)
    scale = float(v.positive(scale, "scale"))
    r = min(p, d) if width is None else v.integer(width, "width", low=1)
    dims = [p] + [r] * (L - 1) + [d]
    rng = _rng(seed)
    return [rng.standard_normal((dims[l], dims[l + 1])) * scale / np.sqrt(dims[l]) for l in range(L)]


def digits_halves(split_seed=0, n_train=1000, n_validation=400):
    """The digits regression of chapters/08_real_regression: predict the lower half of each
    8x8 scikit-learn digit (32 pixels) from its upper half (32 pixels).

    Images scaled to [0, 1], split at random (permutation with `split_seed`) into train
    (first n_train), validation (next n_validation) and test (the rest), and centred
    with the training mean only.

    Returns
    -------
    dict with keys 'train', 'validation', 'test', each an (X, Y) pair of arrays of
    shapes (m, 32) and (m, 32).
    """
    n_train = v.integer(n_train, "n_train", low=1)
    n_validation = v.integer(n_validation, "n_validation", low=0)
    images = _digits_pixels() / 16.0
    if n_train + n_validation >= len(images):
        raise ValueError(f"n_train + n_validation must be < {len(images)}, got {n_train + n_validation}")
    order = _rng(split_seed).permutation(len(images))
    split = {"train": order[:n_train], "validation": order[n_train:n_train + n_validation],
             "test": order[n_train + n_validation:]}
    mean = images[split["train"]].mean(axis=0)
    return {name: (images[idx][:, :32] - mean[:32], images[idx][:, 32:] - mean[32:]) for name, idx in split.items()}


def _digits_pixels() -> np.ndarray:
    """The (1797, 64) pixel matrix of scikit-learn's `load_digits().data`, read from the
    CSV file shipped inside the package (what load_digits reads) without importing
    sklearn, whose import costs about a second; falls back to load_digits."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
        if os.path.exists(path):
            return np.loadtxt(path, delimiter=",")[:, :64]
    from sklearn.datasets import load_digits

    return load_digits().data
