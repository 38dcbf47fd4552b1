"""Data for the experiments.

Problems that satisfy the common-decomposition assumption (exactly, or broken by a
perturbation of known size), starts aligned with it, and the measurement of the
assumption on any data.

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
    """Haar-distributed orthogonal matrix.

    Parameters
    ----------
    size : int
    rng : numpy.random.Generator

    Returns
    -------
    (size, size) array
    """
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))  # sign fix makes the distribution Haar


def moments(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Second moments of the data.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array

    Returns
    -------
    Sxx : (p, p) array
        X^T X / n.
    Sxy : (p, d) array
        X^T Y / n.
    """
    X, Y = v.check_data(X, Y)
    n = X.shape[0]
    return X.T @ X / n, X.T @ Y / n


def moments_with_energy(X, Y) -> tuple[np.ndarray, np.ndarray, float]:
    """`moments` and the output energy syy = ||Y||_F^2 / n: all the loss needs.

    Parameters
    ----------
    X, Y
        As in `moments`: (n, p) and (n, d) arrays.

    Returns
    -------
    Sxx : (p, p) array
    Sxy : (p, d) array
    syy : float
    """
    Sxx, Sxy = moments(X, Y)
    Y = np.asarray(Y, dtype=float)
    return Sxx, Sxy, float(np.sum(Y * Y) / Y.shape[0])


def off_diagonal_perturbation(
    p: int, eps: float, rng: np.random.Generator
) -> np.ndarray:
    """Random symmetric matrix with zero diagonal and spectral norm exactly `eps`.

    The zero diagonal keeps the eigenvalue estimates diag(U^T Sxx U) equal to `lam`,
    so `eps` is also what `measure_assumption` reports.

    Parameters
    ----------
    p : int
    eps : float, >= 0
    rng : numpy.random.Generator

    Returns
    -------
    (p, p) array
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
        raise ValueError(
            f"sigma must be a 1-D array of singular values, got shape {sigma.shape}"
        )
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
        raise ValueError(
            f"eps must be < min(lam) = {lam.min():g} so that Sxx stays positive "
            f"definite, got {eps:g}"
        )
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

    Attributes
    ----------
    U : (p, p) array
        Orthogonal; its first k columns are the left singular vectors of Sxy.
    V : (d, d) array
        Orthogonal; its first k columns are the right singular vectors of Sxy.
    sigma : (k,) array
        Singular values of Sxy, k = min(p, d), decreasing.
    lam : (p,) array
        Diagonal of U^T Sxx U (the eigenvalue paired with each mode).
    eps : float
        Spectral norm of the off-diagonal part of U^T Sxx U.
    """

    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    lam: np.ndarray
    eps: float


def measure_assumption(X, Y, rtol=None) -> Assumption:
    """Fit the common decomposition to data and measure how far it is from exact.

    U and V come from the full SVD of Sxy. Left singular directions beyond the rank of
    Sxy are not determined by Sxy, so that block of U is rotated to diagonalise Sxx
    there (the choice that makes eps smallest within it).
    eps = ||offdiag(U^T Sxx U)||_2.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    rtol : None or float in [0, 1)
        Singular values at most rtol * sigma_1 count as zero (set to 0 in the result)
        and their left directions join that block. With None only the directions beyond
        min(p, d) do; then a numerically zero singular value keeps an arbitrary singular
        vector, and eps can depend on rounding (on the BLAS thread count, say) when Sxy
        is rank deficient.

    Returns
    -------
    Assumption
        U (p, p), V (d, d), sigma (min(p, d),), lam (p,) and eps.
    """
    Sxx, Sxy = moments(X, Y)
    U, sigma, Vt = np.linalg.svd(Sxy)
    k = sigma.size
    p = Sxx.shape[0]
    r = k
    if rtol is not None:
        rtol = float(v.as_float_array(rtol, "rtol", ndim=0))
        if not 0 <= rtol < 1:
            raise ValueError(f"rtol must be in [0, 1), got {rtol}")
        r = int(np.sum(sigma > rtol * sigma[0])) if k else 0
        sigma = np.where(np.arange(k) < r, sigma, 0.0)
    if p > r:
        # Directions orthogonal to the range of Sxy: diagonalise Sxx restricted to them.
        rest = U[:, r:]
        _, rot = np.linalg.eigh(rest.T @ Sxx @ rest)
        U = np.concatenate([U[:, :r], rest @ rot[:, ::-1]], axis=1)
    M = U.T @ Sxx @ U
    lam = np.diag(M).copy()
    off = M - np.diag(lam)
    eps = float(np.linalg.norm(off, 2)) if p > 1 else 0.0
    return Assumption(U=U, V=Vt.T, sigma=sigma, lam=lam, eps=eps)


def aligned_start(U, V, w0, depth=2, width=None, seed=None):
    """Aligned balanced factors whose product is U diag(w0) V^T.

    Parameters
    ----------
    U, V : (p, p) and (d, d) arrays
        Orthogonal mode bases (e.g. from `measure_assumption`).
    w0 : (k,) array, k <= min(p, d)
        Initial mode strengths (w0 = exp(-2 delta) in the paper's notation); >= 0 when
        depth >= 2 (each factor carries w0 ** (1 / depth) on mode i).
    depth : int
        Number of factors L >= 1.
    width : int, optional
        Hidden width r >= k of every hidden layer; default k.
    seed : None, int or numpy.random.Generator
        None for Q = identity, else the seed of Haar-random orthogonal Q_l between
        consecutive layers (the closed form holds for any orthogonal Q).

    Returns
    -------
    factors : list of L arrays
        W_1 (p, r), W_2 (r, r), ..., W_L (r, d); for L = 1, [U diag(w0) V^T].
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    L = v.depth(depth)
    w0 = v.as_float_array(w0, "w0", ndim=1)
    k = w0.size
    p, d = U.shape[0], V.shape[0]
    if k > min(U.shape[1], V.shape[1]):
        raise ValueError(
            f"w0 has {k} modes but U and V have only {U.shape[1]} and {V.shape[1]} "
            "columns"
        )
    if L == 1:
        return [(U[:, :k] * w0) @ V[:, :k].T]
    if np.any(w0 < 0):
        raise ValueError(
            "w0 must be non-negative for depth >= 2 "
            "(each factor carries w0 ** (1/depth))"
        )
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


def balanced_factors(W, depth, width=None):
    """Balanced factors of a map W: `aligned_start` on the thin SVD W = A diag(s) B^T.

    W_1 = A S^{1/L} (zero-padded to `width` columns), middle factors S^{1/L}, and
    W_L = S^{1/L} B^T; their product is W and W_l^T W_l = W_{l+1} W_{l+1}^T.

    Parameters
    ----------
    W : (p, d) array
    depth : int
        Number of factors L >= 1.
    width : int, optional
        Hidden width r >= min(p, d) (default min(p, d)).

    Returns
    -------
    list of L arrays
        W_1 (p, r), W_2 (r, r), ..., W_L (r, d); for L = 1, [W] (a copy).
    """
    W = v.as_float_array(W, "W", ndim=2)
    L = v.depth(depth)
    if L == 1:
        return [W.copy()]
    A, s, Bt = np.linalg.svd(W, full_matrices=False)
    if width is not None:
        v.integer(width, "width", low=s.size)
    return aligned_start(A, Bt.T, s, depth=L, width=width)


def small_random_start(p, d, scale, depth=2, width=None, seed=0):
    """Gaussian factors with i.i.d. N(0, scale^2 / fan_in) entries.

    Parameters
    ----------
    p, d : int
        Input and output dimensions, >= 1.
    scale : float, > 0
    depth : int
        Number of factors L >= 1.
    width : int, optional
        Hidden width r (default min(p, d)).
    seed : int or numpy.random.Generator

    Returns
    -------
    list of L arrays
        W_1 (p, r), ..., W_L (r, d).
    """
    L = v.depth(depth)
    p = v.integer(p, "p", low=1)
    d = v.integer(d, "d", low=1)
    scale = float(v.positive(scale, "scale"))
    r = min(p, d) if width is None else v.integer(width, "width", low=1)
    dims = [p] + [r] * (L - 1) + [d]
    rng = _rng(seed)
    return [
        rng.standard_normal((dims[l], dims[l + 1])) * scale / np.sqrt(dims[l])
        for l in range(L)
    ]


@dataclass(frozen=True)
class FactorLaw:
    """Law of a positive random factor tau (in `random_spectra`, sigma = lam^beta tau).

    Methods follow scipy.stats' frozen laws (ppf, cdf, support), vectorised with numpy,
    so a scipy.stats law may be used wherever a FactorLaw is expected.

    Parameters
    ----------
    kind : {"uniform", "loguniform", "halfnormal"}
        "uniform" or "loguniform" on [low, high], or "halfnormal": the law of |b| with
        b ~ N(0, 1) (low, high ignored).
    low, high : float
        Bounds of the support, 0 < low < high (uniform and loguniform only).
    """

    kind: str
    low: float = 0.01
    high: float = 1.0

    def __post_init__(self):
        """Check `kind`, `low` and `high`; raise ValueError naming the bad one."""
        if self.kind not in ("uniform", "loguniform", "halfnormal"):
            raise ValueError(
                "kind must be 'uniform', 'loguniform' or 'halfnormal', got "
                f"{self.kind!r}"
            )
        if self.kind != "halfnormal" and not 0 < self.low < self.high:
            raise ValueError(
                f"low and high must satisfy 0 < low < high, got {self.low}, {self.high}"
            )

    def support(self) -> tuple[float, float]:
        """The interval (lower, upper) outside which the law has no mass.

        Returns
        -------
        (float, float)
            (low, high), or (0, inf) for "halfnormal".
        """
        return (0.0, np.inf) if self.kind == "halfnormal" else (self.low, self.high)

    def ppf(self, q):
        """Quantile function, the inverse of `cdf`.

        Parameters
        ----------
        q : array_like
            Probabilities in [0, 1], any shape.

        Returns
        -------
        ndarray
            The quantiles, of the shape of `q`.
        """
        q = np.asarray(q, dtype=float)
        if self.kind == "uniform":
            return self.low + (self.high - self.low) * q
        if self.kind == "loguniform":
            return self.low * (self.high / self.low) ** q
        from scipy import special  # imported here: scipy.special costs ~0.2 s

        return np.sqrt(2.0) * special.erfinv(q)

    def cdf(self, x):
        """Cumulative distribution function P(tau <= x).

        Parameters
        ----------
        x : array_like
            Points, any shape.

        Returns
        -------
        ndarray
            Probabilities in [0, 1], of the shape of `x`.
        """
        x = np.asarray(x, dtype=float)
        if self.kind == "uniform":
            return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        if self.kind == "loguniform":
            with np.errstate(divide="ignore"):
                return np.clip(
                    np.log(x / self.low) / np.log(self.high / self.low), 0.0, 1.0
                )
        from scipy import special

        return special.erf(x / np.sqrt(2.0))


def _check_law(law, name: str):
    """A law on positive numbers with ppf, cdf and support, else ValueError.

    A FactorLaw or a frozen scipy.stats law.
    """
    if not all(hasattr(law, a) for a in ("ppf", "cdf", "support")):
        raise ValueError(
            f"{name} must be a FactorLaw or a frozen scipy.stats law, got "
            f"{type(law).__name__}"
        )
    lo, _ = law.support()
    if lo < 0:
        raise ValueError(
            f"{name} must be a law on positive numbers, its support starts at {lo}"
        )
    return law


def random_spectra(draws, m, spread, tau_law, beta=0.0, seed=0):
    """Random spectra of m independent, identically distributed modes.

    lam_i is log-uniform on [1/spread, spread]; sigma_i = lam_i ** beta * tau_i with
    tau_i ~ `tau_law` independent of lam_i. beta = 0: sigma independent of lam;
    beta = 1, tau = |b| with b Gaussian: the planted model Y = X B + noise, where
    Sxy = Sxx B gives sigma_i = lam_i |b_i|.

    Parameters
    ----------
    draws, m : int
        Number of spectra and of modes per spectrum, >= 1.
    spread : float
        The spread s of lam, >= 1.
    tau_law : FactorLaw or frozen scipy.stats law
        Law on positive numbers.
    beta : float
        Exponent of lam in sigma.
    seed : int or numpy.random.Generator

    Returns
    -------
    sigma, lam : (draws, m) arrays
        Modes in random (not sorted) order.
    """
    draws = v.integer(draws, "draws", low=1)
    m = v.integer(m, "m", low=1)
    spread = float(v.as_float_array(spread, "spread", ndim=0))
    if spread < 1:
        raise ValueError(
            f"spread must be >= 1 (lam in [1/spread, spread]), got {spread}"
        )
    beta = float(v.as_float_array(beta, "beta", ndim=0))
    tau_law = _check_law(tau_law, "tau_law")
    rng = _rng(seed)
    log_lam = np.log(spread) * rng.uniform(-1.0, 1.0, (draws, m))
    tau = tau_law.ppf(rng.uniform(size=(draws, m)))
    return np.exp(beta * log_lam) * tau, np.exp(log_lam)


def exponent_for_log_correlation(rho, spread, tau_law):
    """The beta of `random_spectra` for which corr(log sigma_i, log lam_i) = rho.

    log sigma = beta log lam + log tau with independent terms, so
    rho = beta sd_l / sqrt(beta^2 sd_l^2 + sd_t^2), sd_l = ln(spread) / sqrt(3) and
    sd_t the standard deviation of log tau.

    Parameters
    ----------
    rho : float
        Target correlation, -1 < rho < 1.
    spread : float
        s > 1 (lam log-uniform on [1/s, s]).
    tau_law : `FactorLaw` or frozen scipy.stats law

    Returns
    -------
    float
        beta.
    """
    rho = float(v.as_float_array(rho, "rho", ndim=0))
    if not -1 < rho < 1:
        raise ValueError(f"rho must be in (-1, 1), got {rho}")
    spread = float(v.as_float_array(spread, "spread", ndim=0))
    if spread <= 1:
        raise ValueError(
            f"spread must be > 1 (lam must vary to correlate with sigma), got {spread}"
        )
    tau_law = _check_law(tau_law, "tau_law")
    # moments of log tau over its quantiles; q = u^2 (3 - 2u) tames the ends
    u, wu = np.polynomial.legendre.leggauss(64)
    u = (u + 1) / 2
    q, wq = u**2 * (3 - 2 * u), wu / 2 * 6 * u * (1 - u)
    log_tau = np.log(tau_law.ppf(q))
    mean_t = np.sum(wq * log_tau)
    sd_t = np.sqrt(np.sum(wq * (log_tau - mean_t) ** 2))
    sd_l = np.log(spread) / np.sqrt(3.0)
    return rho / np.sqrt(1 - rho**2) * sd_t / sd_l


def _bundled_csv(name: str, skiprows: int = 1, delimiter: str = ",") -> np.ndarray:
    """A data file shipped inside scikit-learn (sklearn/datasets/data), read with numpy.

    Importing sklearn.datasets costs about a second, reading the files a few ms.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ValueError(
            "scikit-learn is not installed: its bundled data sets are unavailable"
        )
    path = Path(spec.origin).parent / "datasets" / "data" / name
    return np.loadtxt(path, delimiter=delimiter, skiprows=skiprows)


def bundled_regressions() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Multi-output regressions built from data bundled with scikit-learn (no download).

    The files are those of sklearn.datasets' load_digits, load_linnerud, load_iris,
    load_wine and load_breast_cancer, read directly. Inputs and outputs are centred;
    columns in heterogeneous units are standardised (z-scores), pixels are kept in their
    common unit (intensity / 16); class labels become centred one-hot indicator outputs.

    Returns
    -------
    dict name -> (X (n, p), Y (n, d)):
        "digits halves"      upper 32 pixels -> lower 32 pixels (n = 1797)
        "digits -> class"    64 pixels -> 10 indicators
        "linnerud"           3 exercises -> 3 physiological measures (n = 20)
        "iris sepal -> petal", "iris -> class", "wine -> class" (13 -> 3),
        "cancer mean -> worst", "cancer mean -> se" (10 -> 10 cell measurements)
        "digits auto-encoder" X = Y = the 64 pixels (sigma_i = lam_i exactly)
    """

    def centre(a):
        return a - a.mean(axis=0)

    def zscore(a):
        return centre(a) / a.std(axis=0)

    def indicators(labels):
        labels = labels.astype(int)
        return centre(np.eye(labels.max() + 1)[labels])

    digits = _bundled_csv("digits.csv.gz", skiprows=0)  # 64 pixels, then the label
    pixels = centre(digits[:, :64] / 16.0)
    exercise = _bundled_csv("linnerud_exercise.csv", delimiter=None)
    physiological = _bundled_csv("linnerud_physiological.csv", delimiter=None)
    iris = _bundled_csv("iris.csv")
    wine = _bundled_csv("wine_data.csv")
    cancer = _bundled_csv("breast_cancer.csv")[
        :, :30
    ]  # 10 measures x (mean, se, worst)
    return {
        "digits halves": (pixels[:, :32], pixels[:, 32:]),
        "digits -> class": (pixels, indicators(digits[:, 64])),
        "linnerud": (zscore(exercise), zscore(physiological)),
        "iris sepal -> petal": (zscore(iris[:, :2]), zscore(iris[:, 2:4])),
        "iris -> class": (zscore(iris[:, :4]), indicators(iris[:, 4])),
        "wine -> class": (zscore(wine[:, :13]), indicators(wine[:, 13])),
        "cancer mean -> worst": (zscore(cancer[:, :10]), zscore(cancer[:, 20:])),
        "cancer mean -> se": (zscore(cancer[:, :10]), zscore(cancer[:, 10:20])),
        "digits auto-encoder": (pixels, pixels),
    }


def planted_low_rank(n, p, d, rank, noise, cov_eigs, strengths=None, seed=0):
    """Gaussian regression with a planted low-rank map: Y = X W* + noise.

    Rows of X are N(0, C) with C = R diag(cov_eigs) R^T (R Haar-orthogonal: a non-white
    covariance in a random basis); W* = A diag(strengths) B^T with A (p, rank), B (d,
    rank) random orthonormal columns; the noise is i.i.d. N(0, noise^2).

    Parameters
    ----------
    n : int
        Number of samples.
    p, d : int
        Input and output dimensions.
    rank : int
        Rank of W*, <= min(p, d).
    noise : float
        Standard deviation of the noise, >= 0.
    cov_eigs : (p,) array
        Positive eigenvalues of C.
    strengths : (rank,) array, optional
        Singular values of W* (default all 1).
    seed : int or numpy.random.Generator

    Returns
    -------
    X : (n, p) array
    Y : (n, d) array
    W_star : (p, d) array
    C : (p, p) array
        The population loss of any W is 1/2 tr((W - W*)^T C (W - W*)) + d noise^2 / 2
        (see `population_excess`).
    """
    n = v.integer(n, "n", low=1)
    p = v.integer(p, "p", low=1)
    d = v.integer(d, "d", low=1)
    rank = v.integer(rank, "rank", low=0, high=min(p, d))
    noise = float(v.positive(noise, "noise", allow_zero=True))
    cov_eigs = v.positive(cov_eigs, "cov_eigs")
    if cov_eigs.shape != (p,):
        raise ValueError(f"cov_eigs must have shape ({p},), got {cov_eigs.shape}")
    strengths = (
        np.ones(rank)
        if strengths is None
        else v.positive(strengths, "strengths", allow_zero=True)
    )
    if strengths.shape != (rank,):
        raise ValueError(f"strengths must have shape ({rank},), got {strengths.shape}")
    rng = _rng(seed)
    R = random_orthogonal(p, rng)
    C = (R * cov_eigs) @ R.T
    A = random_orthogonal(p, rng)[:, :rank]
    B = random_orthogonal(d, rng)[:, :rank]
    W_star = (A * strengths) @ B.T
    X = rng.standard_normal((n, p)) * np.sqrt(cov_eigs) @ R.T
    Y = X @ W_star + noise * rng.standard_normal((n, d))
    return X, Y, W_star, C


def digit_images() -> np.ndarray:
    """The 1797 UCI handwritten digits (8 x 8 pixels) of scikit-learn, scaled to [0, 1].

    The same values as `sklearn.datasets.load_digits().data / 16`, read from the bundled
    copy without importing scikit-learn.

    Returns
    -------
    (1797, 64) array
        One image per row.
    """
    return _bundled_csv("digits.csv.gz", skiprows=0)[:, :64] / 16.0  # then the label


def digits_halves(split_seed=0, n_train=1000, n_validation=400):
    """The digits regression: predict the lower half of each digit from its upper half.

    Each 8x8 image (`digit_images`) gives X its upper 32 pixels and Y its lower 32.
    Images are split at random (permutation with `split_seed`) into train (first
    n_train), validation (next n_validation) and test (the rest), and centred with the
    training mean only (chapters/05_regularization and chapters/09_real_regression).

    Parameters
    ----------
    split_seed : int
    n_train : int, >= 1
    n_validation : int, >= 0

    Returns
    -------
    dict
        Keys 'train', 'validation', 'test', each an (X, Y) pair of arrays of shapes
        (m, 32) and (m, 32).
    """
    n_train = v.integer(n_train, "n_train", low=1)
    n_validation = v.integer(n_validation, "n_validation", low=0)
    images = digit_images()
    if n_train + n_validation >= len(images):
        raise ValueError(
            f"n_train + n_validation must be < {len(images)}, got "
            f"{n_train + n_validation}"
        )
    order = _rng(split_seed).permutation(len(images))
    split = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_validation],
        "test": order[n_train + n_validation :],
    }
    mean = images[split["train"]].mean(axis=0)
    return {
        name: (images[idx][:, :32] - mean[:32], images[idx][:, 32:] - mean[32:])
        for name, idx in split.items()
    }
