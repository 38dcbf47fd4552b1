"""The solutions a gradient path is compared against, for any data X (n, p), Y (n, d).

Every estimator minimises the loss f(W) = 1/(2n) ||Y - X W||_F^2, W (p, d), plus an
explicit penalty (or under a constraint):

* `least_squares`: no penalty, the minimum-norm minimiser;
* `reduced_rank_regression`: rank(W) <= k (Izenman 1975);
* `nuclear_norm_regression` / `nuclear_norm_path`: + mu ||W||_* (sum of singular
  values), by an accelerated proximal-gradient method with singular-value thresholding
  (Beck & Teboulle 2009; Cai, Candes & Shen 2010) stopped on a duality-gap certificate;
* `ridge_regression`: + alpha/2 ||W||_F^2;
* `early_stopped_regression`: one-layer gradient descent (or flow) from W = 0 stopped
  at iteration (time) t, in closed form; with `descent_filter`, `ridge_filter` and
  `spectral_risk` for the comparison of early stopping with ridge;
* `schatten_mode_solution` / `schatten_mode_threshold`: the per-mode problem of the
  Schatten-(2/L) quasi-norm penalty that balanced depth-L factors suggest.

Under the common decomposition (`lib.problems`) several have closed forms mode by mode;
`nuclear_norm_modes` is the soft-thresholding one. Nothing here simulates a network.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .problems import measure_assumption, moments, moments_with_energy


# --------------------------------------------------------------------------- helpers
def _check_moments(Sxx, Sxy, syy=None):
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", min_ndim=2)
    p = Sxy.shape[-2]
    if Sxx.shape[-2:] != (p, p):
        raise ValueError(
            f"Sxx must have trailing shape ({p}, {p}) to match Sxy {Sxy.shape}, got "
            f"{Sxx.shape}"
        )
    try:
        batch = np.broadcast_shapes(Sxx.shape[:-2], Sxy.shape[:-2])
    except ValueError as exc:
        raise ValueError(
            f"Sxx {Sxx.shape} and Sxy {Sxy.shape} must have broadcasting batch axes"
        ) from exc
    if syy is None:
        return Sxx, Sxy, batch
    syy = v.positive(syy, "syy", allow_zero=True)
    batch = v.batch_shape(batch, syy, "syy")
    return Sxx, Sxy, syy, batch


def _svt(A, tau):
    """Singular-value thresholding of A (..., p, d) at tau (...).

    Returns (result, its nuclear norm).
    """
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    s = np.maximum(s - tau[..., None], 0.0)
    return (U * s[..., None, :]) @ Vt, s.sum(axis=-1)


# --------------------------------------------------------------------- plain estimators
def least_squares(X, Y):
    """Minimum-norm least-squares solution W_ols = pinv(X) Y.

    Parameters
    ----------
    X : (n, p) array
        May be rank-deficient (then W_ols is the minimiser of f of smallest Frobenius
        norm, the one whose columns lie in the row space of X).
    Y : (n, d) array

    Returns
    -------
    W : (p, d)
    """
    X, Y = v.check_data(X, Y)
    return np.linalg.pinv(X) @ Y


def least_squares_moments(Sxx, Sxy):
    """Minimum-norm least-squares map W_ols = Sxx^+ Sxy, from the moments.

    The same map as `least_squares` when Sxx, Sxy are moments of data (Sxy then lies in
    the range of Sxx); use `least_squares` when X is at hand, which is better
    conditioned (pinv of X, not of X^T X).

    Parameters
    ----------
    Sxx : (..., p, p) array
        Input second moments, symmetric positive semi-definite.
    Sxy : (..., p, d) array
        Input-output second moments; leading axes broadcast against Sxx's.

    Returns
    -------
    W : (..., p, d) array
    """
    Sxx, Sxy, _ = _check_moments(Sxx, Sxy)
    return np.linalg.pinv(Sxx, hermitian=True) @ Sxy


def reduced_rank_regression(X, Y, k):
    """Minimum-norm minimiser of ||Y - X W||_F^2 over W (p, d) of rank <= k.

    W_ols = pinv(X) Y is the minimum-norm least-squares solution; the best rank-k
    approximation of the fit X W_ols (Eckart-Young) is X W_ols V_k V_k^T with V_k the
    top-k right singular vectors of X W_ols, and W_ols V_k V_k^T is the minimum-norm W
    producing it (its rows lie in the row space of X). Works for rank-deficient X; the
    solution is unique when the k-th and (k+1)-th singular values of X W_ols differ.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    k : int
        Rank, in [0, min(p, d)].

    Returns
    -------
    W : (p, d)
    """
    X, Y = v.check_data(X, Y)
    p, d = X.shape[1], Y.shape[1]
    k = v.integer(k, "k", low=0, high=min(p, d))
    W_ols = least_squares(X, Y)
    _, _, Vt = np.linalg.svd(X @ W_ols, full_matrices=False)
    Vk = Vt[:k].T
    return W_ols @ Vk @ Vk.T


def _eig(Sxx):
    lam, Q = np.linalg.eigh(Sxx)
    scale = max(float(lam.max()), 0.0) if lam.size else 0.0
    lam = np.where(lam > 1e-12 * scale, lam, 0.0)  # rounding noise on a null space -> 0
    return lam, Q


def ridge_filter(lam, alpha):
    """Ridge's spectral filter lam / (lam + alpha).

    Parameters
    ----------
    lam : array
        Eigenvalues of Sxx, >= 0.
    alpha : float or array, >= 0
        Ridge parameter; broadcasts with lam.

    Returns
    -------
    array of the broadcast shape
        0 where lam = alpha = 0.
    """
    lam = v.positive(lam, "lam", allow_zero=True)
    alpha = v.positive(alpha, "alpha", allow_zero=True)
    den = lam + alpha
    return np.where(den > 0, lam / np.where(den > 0, den, 1.0), 0.0)


def descent_filter(lam, t, eta=None):
    """Spectral filter of one-layer gradient descent (or flow) from W = 0.

    1 - (1 - eta lam)^t after t steps, or 1 - exp(-lam t) for gradient flow at time t.

    Parameters
    ----------
    lam : array
        Eigenvalues of Sxx, >= 0.
    t : array
        Iterations or times, >= 0; broadcasts with lam.
    eta : None or float
        Step size (eta * lam < 2, the iteration is stable); None for the flow.

    Returns
    -------
    array of the broadcast shape
    """
    lam = v.positive(lam, "lam", allow_zero=True)
    t = v.positive(t, "t", allow_zero=True)
    if eta is None:
        return -np.expm1(-lam * t)
    eta = float(v.positive(eta, "eta"))
    if np.any(t != np.round(t)):
        raise ValueError("t must hold whole numbers of steps when eta is given")
    if np.any(eta * lam >= 2):
        raise ValueError(
            f"eta must be < 2 / max(lam) = {2 / lam.max():.6g} for a stable iteration, "
            f"got {eta:g}"
        )
    return 1.0 - (1.0 - eta * lam) ** t


def _filtered(Sxx, Sxy, filt):
    """Q diag(filt / lam) Q^T Sxy for the eigenpairs of Sxx.

    filt (..., p) is in eigh order.
    """
    lam, Q = _eig(Sxx)
    gain = np.where(lam > 0, filt / np.where(lam > 0, lam, 1.0), 0.0)
    return np.einsum("pj,...j,jd->...pd", Q, gain, Q.T @ Sxy)


def ridge_regression(X, Y, alpha):
    """Minimiser of 1/(2n) ||Y - X W||_F^2 + alpha/2 ||W||_F^2.

    That is (Sxx + alpha I)^{-1} Sxy.

    Parameters
    ----------
    X : (n, p) array
        Any rank.
    Y : (n, d) array
    alpha : float >= 0, or (m,) array
        An array is a path, computed from one eigendecomposition; alpha = 0 gives the
        minimum-norm least-squares solution.

    Returns
    -------
    W : (p, d) array, or (m, p, d) for an array of alphas
    """
    Sxx, Sxy = moments(X, Y)
    alpha = v.positive(alpha, "alpha", allow_zero=True)
    if alpha.ndim > 1:
        raise ValueError(
            f"alpha must be a number or a 1-D array, got shape {alpha.shape}"
        )
    lam, _ = _eig(Sxx)
    return _filtered(Sxx, Sxy, ridge_filter(lam, alpha[..., None]))


def early_stopped_regression(X, Y, t, eta=None):
    """One-layer descent (eta given) or flow (eta None) from W = 0, in closed form.

    Descent W <- W - eta (Sxx W - Sxy) gives, in the eigenbasis Sxx = Q diag(lam) Q^T,
    W_t = Q diag((1 - (1 - eta lam)^t) / lam) Q^T Sxy (0 on the null space of Sxx); the
    flow replaces (1 - eta lam)^t by exp(-lam t).

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    t : array
        Iterations (or times), any shape, >= 0.
    eta : float or None
        Step size with eta lam_max < 2, or None for the flow.

    Returns
    -------
    W : t.shape + (p, d) array
    """
    Sxx, Sxy = moments(X, Y)
    t = v.positive(t, "t", allow_zero=True)
    lam, _ = _eig(Sxx)
    return _filtered(Sxx, Sxy, descent_filter(lam, t[..., None], eta))


def spectral_risk(Sxx, W_star, noise_sd, n, filt, kind="estimation"):
    """Exact risk of the spectral estimator Q diag(filt(lam) / lam) Q^T Sxy, over noise.

    For fixed inputs with moments Sxx and outputs Y = X W_star + E, E i.i.d.
    N(0, noise_sd^2). With b_j = ||(Q^T W_star)_j||^2 (signal on eigendirection j) and d
    outputs: estimation E||W - W_star||_F^2 = sum_j (1 - f_j)^2 b_j
    + noise_sd^2 d / n sum_j f_j^2 / lam_j, in-sample prediction
    E||X (W - W_star)||_F^2 / n
    = sum_j lam_j (1 - f_j)^2 b_j + noise_sd^2 d / n sum_j f_j^2
    (sums over lam_j > 0 for the noise; f_j = 0 on the null space, where the whole
    signal is bias).

    Parameters
    ----------
    Sxx : (p, p) array
    W_star : (p, d) array
    noise_sd : float, >= 0
    n : int
        Number of samples.
    filt : callable
        lam (p,) -> filter values (..., p) (e.g. a batch of times).
    kind : {"estimation", "prediction"}

    Returns
    -------
    risk : (...) array
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    W_star = v.as_float_array(W_star, "W_star", ndim=2)
    if W_star.shape[0] != Sxx.shape[0]:
        raise ValueError(
            f"W_star must have {Sxx.shape[0]} rows to match Sxx, got {W_star.shape}"
        )
    noise_sd = float(v.positive(noise_sd, "noise_sd", allow_zero=True))
    n = v.integer(n, "n", low=1)
    if kind not in ("estimation", "prediction"):
        raise ValueError(f"kind must be 'estimation' or 'prediction', got {kind!r}")
    lam, Q = _eig(Sxx)
    f = np.where(lam > 0, np.asarray(filt(lam), dtype=float), 0.0)
    b = np.sum((Q.T @ W_star) ** 2, axis=1)
    d = W_star.shape[1]
    if kind == "estimation":
        noise = np.where(lam > 0, f**2 / np.where(lam > 0, lam, 1.0), 0.0)
        return np.sum((1 - f) ** 2 * b + noise_sd**2 * d / n * noise, axis=-1)
    return np.sum(lam * (1 - f) ** 2 * b + noise_sd**2 * d / n * f**2, axis=-1)


# ------------------------------------------------------------------------- nuclear norm
def nuclear_norm_modes(sigma, lam, mu):
    """Mode strengths of the nuclear-norm solution under the common decomposition.

    w_i = max(sigma_i - mu, 0) / lam_i (soft-thresholded sigma): mode i is active iff
    mu < sigma_i. Modes with lam_i = 0 carry sigma_i = 0 (Sxy lies in the range of Sxx)
    and get w_i = 0.

    Parameters
    ----------
    sigma, lam, mu : arrays broadcasting together
        sigma >= 0, lam >= 0, mu >= 0.

    Returns
    -------
    array of the broadcast shape
    """
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam", allow_zero=True)
    mu = v.positive(mu, "mu", allow_zero=True)
    num = np.maximum(sigma - mu, 0.0)
    if np.any((lam == 0) & (num > 0)):
        raise ValueError("lam must be positive on every mode with sigma > mu")
    return np.where(num > 0, num / np.where(lam > 0, lam, 1.0), 0.0)


def nuclear_norm_gap(Sxx, Sxy, syy, W, mu):
    """Duality gap of W for min_W 1/2 tr(W^T Sxx W) - tr(W^T Sxy) + syy/2 + mu ||W||_*.

    Primal: P(W) = 1/(2n) ||Y - X W||_F^2 + mu ||W||_*. Dual (derivation in
    chapters/05_regularization): max over Theta (n, d) of <Theta, Y> - n/2 ||Theta||_F^2
    subject to ||X^T Theta||_2 <= mu. The dual point built from W is the scaled residual
    Theta = s (Y - X W) / n with s = min(1, mu / ||Sxy - Sxx W||_2), feasible by
    construction; its value is D = s (syy - tr W^T Sxy) - s^2/2 ||Y - X W||^2 / n.

    Parameters
    ----------
    Sxx : (..., p, p)
    Sxy : (..., p, d)
    syy : (...)
        ||Y||_F^2 / n.
    W : (..., p, d)
    mu : (...)
        > 0.

    Returns
    -------
    gap : array of the batch shape
        P - D >= 0, which bounds P(W) - min P.
    primal : array of the batch shape
        P(W).
    """
    Sxx, Sxy, syy, batch = _check_moments(Sxx, Sxy, syy)
    W = v.as_float_array(W, "W", min_ndim=2)
    mu = v.positive(mu, "mu")
    return _gap(Sxx, Sxy, syy, W, mu, np.linalg.svd(W, compute_uv=False).sum(-1))


def _gap(Sxx, Sxy, syy, W, mu, nuc):
    SW = Sxx @ W
    quad = np.sum(SW * W, axis=(-2, -1))
    lin = np.sum(Sxy * W, axis=(-2, -1))
    r2 = np.maximum(syy - 2 * lin + quad, 0.0)  # ||Y - X W||^2 / n
    primal = 0.5 * r2 + mu * nuc
    g = np.linalg.norm(Sxy - SW, 2, axis=(-2, -1))
    s = np.where(g > mu, mu / np.where(g > 0, g, 1.0), 1.0)
    dual = s * (syy - lin) - 0.5 * s**2 * r2
    return np.maximum(primal - dual, 0.0), primal


def nuclear_norm_moments(
    Sxx, Sxy, syy, mu, W_init=None, tol=1e-10, max_iter=20000, check_every=5
):
    """Nuclear-norm regression from the moments, batched, certified by the duality gap.

    FISTA with singular-value thresholding and gradient restarts. Minimises
    P(W) = 1/2 tr(W^T Sxx W) - tr(W^T Sxy) + syy/2 + mu ||W||_* (= 1/(2n)
    ||Y - X W||_F^2 + mu ||W||_*). Step 1/lam_max(Sxx); momentum of Beck & Teboulle
    (2009), reset whenever the step goes against the momentum (O'Donoghue & Candes'
    gradient restart); stops when gap <= tol * syy / 2 for every problem of the batch
    (syy / 2 = P(0) sets the scale), checked every `check_every` iterations.

    Parameters
    ----------
    Sxx : (..., p, p) array, PSD
    Sxy : (..., p, d) array
    syy : (...) array
        ||Y||_F^2 / n.
    mu : float or (...) array, > 0
        Use `least_squares` for mu = 0.
    W_init : (..., p, d) array, optional
        Warm start (e.g. the solution at a larger mu), default 0.
    tol : float
        Relative duality-gap target.
    max_iter, check_every : int
        Iterations before giving up; iterations between gap checks.

    Returns
    -------
    W : (..., p, d) array
    gap : (...) array
        The certified gap reached (<= tol * syy / 2).

    Raises
    ------
    ValueError
        Naming the gap reached if some problem has not converged after max_iter.
    """
    Sxx, Sxy, syy, batch = _check_moments(Sxx, Sxy, syy)
    mu = v.positive(mu, "mu")
    tol = float(v.positive(tol, "tol"))
    max_iter = v.integer(max_iter, "max_iter", low=1)
    check_every = v.integer(check_every, "check_every", low=1)
    p, d = Sxy.shape[-2:]
    batch = v.batch_shape(batch, mu, "mu")
    Sxx = np.broadcast_to(Sxx, batch + (p, p))
    Sxy = np.broadcast_to(Sxy, batch + (p, d))
    syy = np.broadcast_to(syy, batch)
    mu = np.broadcast_to(mu, batch)
    if W_init is None:
        W = np.zeros(batch + (p, d))
    else:
        W = v.as_float_array(W_init, "W_init", min_ndim=2)
        if W.shape[-2:] != (p, d):
            raise ValueError(
                f"W_init must have trailing shape ({p}, {d}), got {W.shape}"
            )
        W = np.broadcast_to(W, batch + (p, d)).copy()
    Lip = np.linalg.eigvalsh(Sxx)[..., -1]
    Lip = np.where(Lip > 0, Lip, 1.0)[..., None, None]
    tau = mu / Lip[..., 0, 0]
    target = tol * np.maximum(syy / 2, 1e-300)
    Z, t_mom = W.copy(), np.ones(batch)
    nuc = np.linalg.svd(W, compute_uv=False).sum(-1)
    gap = _gap(Sxx, Sxy, syy, W, mu, nuc)[0]
    for it in range(1, max_iter + 1):
        if np.all(gap <= target):
            return W, gap
        W_new, nuc = _svt(Z - (Sxx @ Z - Sxy) / Lip, tau)
        step = W_new - W
        restart = np.sum((Z - W_new) * step, axis=(-2, -1)) > 0
        t_next = (1 + np.sqrt(1 + 4 * t_mom**2)) / 2
        beta = np.where(restart, 0.0, (t_mom - 1) / t_next)
        t_mom = np.where(restart, 1.0, t_next)
        Z = W_new + beta[..., None, None] * step
        W = W_new
        if it % check_every == 0:
            gap = _gap(Sxx, Sxy, syy, W, mu, nuc)[0]
    gap = _gap(Sxx, Sxy, syy, W, mu, nuc)[0]
    if np.all(gap <= target):
        return W, gap
    worst = float((gap / np.maximum(syy / 2, 1e-300)).max())
    raise ValueError(
        f"nuclear_norm_moments did not converge in max_iter = {max_iter} iterations: "
        f"relative duality gap {worst:.3g} > tol = {tol:.3g}; raise max_iter or "
        "warm-start (W_init)"
    )


def _closed_form_if_aligned(X, Y, mu, rtol=1e-12):
    """The soft-thresholding solution if the common decomposition holds, else None.

    "Holds" means exactly, up to rtol relative to the largest eigenvalue of Sxx.
    """
    A = measure_assumption(X, Y)
    lam_max = max(float(A.lam.max()), 0.0)
    if A.eps > rtol * max(lam_max, 1e-300):
        return None
    k = A.sigma.size
    if np.any((A.lam[:k] <= 1e-12 * lam_max) & (A.sigma > mu)):
        return None
    w = nuclear_norm_modes(A.sigma, np.where(A.sigma > mu, A.lam[:k], 1.0), mu)
    return np.einsum("pi,...i,di->...pd", A.U[:, :k], w, A.V[:, :k])


def nuclear_norm_regression(
    X, Y, mu, tol=1e-10, method="auto", W_init=None, max_iter=20000
):
    """Minimiser of 1/(2n) ||Y - X W||_F^2 + mu ||W||_* over W (p, d), for any X.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    mu : float
        Penalty >= 0 (mu = 0: `least_squares`).
    tol : float
        Relative duality-gap target of the iterative solver (see
        `nuclear_norm_moments`).
    method : {'auto', 'closed', 'fista'}
        'auto': closed form when the common decomposition holds exactly (to 1e-12),
        else FISTA; 'closed': raise if the decomposition does not hold; 'fista': always
        FISTA.
    W_init : (p, d) array, optional
        Warm start for FISTA.
    max_iter : int
        Iteration limit of FISTA.

    Returns
    -------
    W : (p, d) array
    """
    X, Y = v.check_data(X, Y)
    mu = float(v.positive(mu, "mu", allow_zero=True))
    tol = float(v.positive(tol, "tol"))
    if method not in ("auto", "closed", "fista"):
        raise ValueError(f"method must be 'auto', 'closed' or 'fista', got {method!r}")
    if mu == 0:
        return least_squares(X, Y)
    if method != "fista":
        W = _closed_form_if_aligned(X, Y, mu)
        if W is not None:
            return W
        if method == "closed":
            raise ValueError(
                "method 'closed' needs data with an exact common decomposition "
                "(eps = 0)"
            )
    Sxx, Sxy, syy = moments_with_energy(X, Y)
    return nuclear_norm_moments(
        Sxx, Sxy, syy, mu, W_init=W_init, tol=tol, max_iter=max_iter
    )[0]


def nuclear_norm_path(X, Y, mus, tol=1e-10, method="auto", max_iter=20000):
    """Nuclear-norm solutions along a path of mu, warm-started from the largest mu down.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    mus : (m,) array
        Penalties >= 0, any order.
    tol, method, max_iter
        As in `nuclear_norm_regression`.

    Returns
    -------
    W : (m, p, d) array
        Entry j is the solution at mus[j].
    """
    X, Y = v.check_data(X, Y)
    mus = v.positive(mus, "mus", allow_zero=True)
    if mus.ndim != 1:
        raise ValueError(f"mus must be a 1-D array, got shape {mus.shape}")
    out = np.empty((mus.size, X.shape[1], Y.shape[1]))
    W = None
    for j in np.argsort(-mus, kind="stable"):
        W = nuclear_norm_regression(
            X, Y, mus[j], tol=tol, method=method, W_init=W, max_iter=max_iter
        )
        out[j] = W
    return out


def refit_on_support(X, Y, W, rtol=1e-8):
    """Least-squares refit of W on its active modes.

    The minimiser of f over U_r M V_r^T (M free, (r, r)), with U_r, V_r the singular
    vectors of W whose singular values exceed rtol * ||W||_2:
    M = (U_r^T Sxx U_r)^+ U_r^T Sxy V_r.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    W : (p, d) array
    rtol : float
        Relative cut on the singular values of W.

    Returns
    -------
    W_refit : (p, d) array
        With the row and column spaces of W (0 if W = 0).
    """
    Sxx, Sxy = moments(X, Y)
    W = v.as_float_array(W, "W", ndim=2)
    if W.shape != Sxy.shape:
        raise ValueError(f"W must have shape {Sxy.shape}, got {W.shape}")
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros_like(W)
    r = int(np.sum(s > rtol * s[0]))
    Ur, Vr = U[:, :r], Vt[:r].T
    M = np.linalg.pinv(Ur.T @ Sxx @ Ur, hermitian=True) @ (Ur.T @ Sxy @ Vr)
    return Ur @ M @ Vr.T


# ----------------------------------------------------------------------- Schatten-(2/L)
def _schatten_args(sigma, lam, depth):
    L = v.depth(depth)
    if L < 2:
        raise ValueError("depth must be >= 2 (depth 1 is ridge-like, no quasi-norm)")
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    return L, sigma, lam


def schatten_mode_threshold(sigma, lam, depth):
    """Largest mu at which mode i is active in the Schatten-(2/L) penalised problem.

    The problem is min_w 1/2 lam w^2 - sigma w + mu |w|^{2/L}:

    mu*_i = L / (2 (L - 1)) ((L - 2) / (L - 1))^{1 - 2/L}
            sigma_i^{2 - 2/L} lam_i^{-(1 - 2/L)}
    (= sigma_i for L = 2); at mu*_i the minimiser jumps from 0 to
    w* = (L - 2) / (L - 1) sigma_i / lam_i. Derivation in chapters/05_regularization.

    Parameters
    ----------
    sigma, lam : arrays broadcasting together, > 0
    depth : int
        L >= 2.

    Returns
    -------
    array of the broadcast shape: mu*
    """
    L, sigma, lam = _schatten_args(sigma, lam, depth)
    q = 2.0 / L
    c = L / (2 * (L - 1)) * ((L - 2) / (L - 1)) ** (1 - q) if L > 2 else 1.0
    return c * sigma ** (2 - q) * lam ** (-(1 - q))


def schatten_mode_solution(sigma, lam, mu, depth):
    """Global minimiser over w >= 0 of g(w) = 1/2 lam w^2 - sigma w + mu w^{2/L}.

    L = 2: soft thresholding max(sigma - mu, 0) / lam. L >= 3: 0 if mu >= mu* (see
    `schatten_mode_threshold`; ties go to 0), else the larger root of
    g'(w) = lam w - sigma + (2/L) mu w^{2/L - 1} = 0, found by bisection on
    [argmin g', sigma / lam] where g' is increasing.

    Parameters
    ----------
    sigma, lam, mu : arrays broadcasting together
        sigma, lam > 0; mu >= 0.
    depth : int
        L >= 2.

    Returns
    -------
    array of the broadcast shape
    """
    L, sigma, lam = _schatten_args(sigma, lam, depth)
    mu = v.positive(mu, "mu", allow_zero=True)
    sigma, lam, mu = v.broadcast_modes(sigma=sigma, lam=lam, mu=mu)
    if L == 2:
        return np.maximum(sigma - mu, 0.0) / lam
    q = 2.0 / L
    lo = (q * (1 - q) * mu / lam) ** (1 / (2 - q))  # where g'' = 0: g' increases beyond
    hi = sigma / lam
    lo = np.minimum(lo, hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            gp = lam * mid - sigma + q * mu * mid ** (q - 1)
        pos = gp > 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    w = (lo + hi) / 2
    active = mu < schatten_mode_threshold(sigma, lam, L)
    return np.where(active & (sigma > 0), w, 0.0)
