"""Sharpness, stable step sizes and the regimes of the mode map.

Gradient descent with step size eta can stay at a minimum only if eta < 2 / sharpness
there (sharpness: the largest eigenvalue of the Hessian of the loss). Three limits,
which differ in what they look at:

* `stable_step_size`: 2 / `sharpness_at_minimum`, for any moments, numerically;
* `stable_step_size_aligned`: the same number in closed form under the exact common
  decomposition (cross terms between modes included);
* `mode_stable_step_size`: the limit of each decoupled mode map alone (no cross terms),
  which can be larger than the two above.

`mode_map` and `mode_map_slope` are the normalised depth-2 mode map whose fixed points,
cycles and chaos the step size selects (chapters/03_discrete).
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .estimators import least_squares_moments
from .problems import balanced_factors


def gauss_newton_sharpness(Sxx, factors):
    """Largest eigenvalue of the Gauss-Newton part of the Hessian of f at `factors`.

    The quadratic form is ||Sxx^{1/2} dW||_F^2 with dW = sum_l W_{<l} dW_l W_{>l}; its
    nonzero spectrum is that of M -> Sxx^{1/2} K(Sxx^{1/2} M) with
    K(N) = sum_l (W_{<l} W_{<l}^T) N (W_{>l}^T W_{>l}), computed with Lanczos (scipy
    eigsh). At a global minimum the residual term of the Hessian vanishes, so this is
    the sharpness there, and 2 / sharpness is the largest step size for which that
    minimum is linearly stable under gradient descent.

    Parameters
    ----------
    Sxx : (p, p) array
        Input second moment, symmetric positive semi-definite.
    factors : list of L 2-D arrays
        W_1 (p, r_1), ..., W_L (r_{L-1}, d).

    Returns
    -------
    float
        The largest eigenvalue.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    p = Sxx.shape[0]
    fs = [v.as_float_array(W, f"factors[{i}]", ndim=2) for i, W in enumerate(factors)]
    if fs[0].shape[0] != p:
        raise ValueError(
            f"factors[0] must have {p} rows to match Sxx {Sxx.shape}, got {fs[0].shape}"
        )
    d = fs[-1].shape[1]
    L = len(fs)
    lefts, rights = [np.eye(p)], [np.eye(d)]
    for l in range(1, L):  # W_{<l} W_{<l}^T and W_{>l}^T W_{>l}
        left = fs[0]
        for W in fs[1:l]:
            left = left @ W
        lefts.append(left @ left.T)
    for l in range(L - 1):
        right = fs[l + 1]
        for W in fs[l + 2 :]:
            right = right @ W
        rights.insert(len(rights) - 1, right.T @ right)
    ev, evec = np.linalg.eigh(Sxx)
    S_half = (evec * np.sqrt(np.clip(ev, 0, None))) @ evec.T

    def apply(x):
        N = S_half @ x.reshape(p, d)
        return (S_half @ sum(lefts[l] @ N @ rights[l] for l in range(L))).ravel()

    if p * d <= 2:
        dense = np.column_stack([apply(e) for e in np.eye(p * d)])
        return float(np.linalg.eigvalsh((dense + dense.T) / 2).max())
    from scipy.sparse.linalg import LinearOperator, eigsh  # imported here: ~0.3 s

    op = LinearOperator((p * d, p * d), matvec=apply, dtype=float)
    val = eigsh(
        op, k=1, which="LA", tol=1e-12, return_eigenvectors=False, v0=np.ones(p * d)
    )
    return float(val[0])


def _check_pair(Sxx, Sxy):
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", ndim=2)
    p, d = Sxy.shape
    if Sxx.shape != (p, p):
        raise ValueError(
            f"Sxx must have shape ({p}, {p}) to match Sxy {Sxy.shape}, got {Sxx.shape}"
        )
    return Sxx, Sxy


def sharpness_at_minimum(Sxx, Sxy, depth=2):
    """Sharpness of the loss at the balanced factorisation of W_ols = Sxx^+ Sxy.

    The residual gradient vanishes there, so this is `gauss_newton_sharpness` at the
    balanced factors of W_ols (`lib.problems.balanced_factors`). Under the common
    decomposition (eps = 0) it equals `sharpness_aligned`.

    Parameters
    ----------
    Sxx : (p, p) array
        Input second moment.
    Sxy : (p, d) array
        Input-output second moment.
    depth : int
        Number of factors L >= 1.

    Returns
    -------
    float
        The largest Hessian eigenvalue at the minimum.
    """
    Sxx, Sxy = _check_pair(Sxx, Sxy)
    L = v.depth(depth)
    factors = balanced_factors(least_squares_moments(Sxx, Sxy), L)
    return gauss_newton_sharpness(Sxx, factors)


def stable_step_size(Sxx, Sxy, depth=2):
    """Largest step size at which the balanced minimum is stable: 2 / sharpness.

    Parameters
    ----------
    Sxx, Sxy, depth
        As in `sharpness_at_minimum`: moments (p, p) and (p, d), and L >= 1.

    Returns
    -------
    float
        2 / `sharpness_at_minimum`.
    """
    return 2.0 / sharpness_at_minimum(Sxx, Sxy, depth)


def sharpness_aligned(sigma, lam, depth=2, d=None):
    """Sharpness at the balanced minimum under the exact common decomposition.

    max over input direction i (all p of lam) and output direction j (d of them) of
    lam_i * sum_{l=1}^{L} w_i^{2(l-1)/L} w_j^{2(L-l)/L}, w_i = sigma_i / lam_i for the
    k paired modes and 0 elsewhere. The diagonal i = j gives the mode map's own limit
    L lam_i w_i^{2 - 2/L} (= 2 sigma_i for L = 2); cross terms can be larger.

    Parameters
    ----------
    sigma : (k,) array
        Singular values of Sxy, >= 0.
    lam : (p,) array, p >= k
        Eigenvalues of Sxx, the first k paired with sigma, > 0.
    depth : int
        Number of factors L >= 1.
    d : int, optional
        Output dimension, >= k (default k).

    Returns
    -------
    float
        The sharpness.
    """
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    L = v.depth(depth)
    k = sigma.size
    if lam.size < k:
        raise ValueError(
            f"lam must have at least len(sigma) = {k} entries, got {lam.size}"
        )
    d = k if d is None else v.integer(d, "d", low=k)
    w_in = np.zeros(lam.size)
    w_in[:k] = sigma / lam[:k]
    w_out = np.zeros(d)
    w_out[:k] = w_in[:k]
    ls = np.arange(1, L + 1)
    terms = w_in[:, None, None] ** (2 * (ls - 1) / L) * w_out[None, :, None] ** (
        2 * (L - ls) / L
    )
    return float((lam[:, None] * terms.sum(-1)).max())


def stable_step_size_aligned(sigma, lam, depth=2, d=None):
    """`stable_step_size` in closed form under the exact decomposition: 2 / sharpness.

    Parameters
    ----------
    sigma, lam, depth, d
        As in `sharpness_aligned`.

    Returns
    -------
    float
        2 / `sharpness_aligned`: above it the balanced minimum is linearly unstable.
    """
    return 2.0 / sharpness_aligned(sigma, lam, depth, d)


def mode_stable_step_size(sigma, lam, depth=2):
    """Stability limit of each decoupled mode map alone: 2 / (L lam w*^{2 - 2/L}).

    w* = sigma / lam; this is 1 / sigma for depth 2 and 2 / lam for depth 1. It ignores
    the cross terms between modes, so it is at least `stable_step_size_aligned`.

    Parameters
    ----------
    sigma, lam : arrays broadcasting to (..., k), > 0
        Paired spectra.
    depth : int
        Number of factors L >= 1.

    Returns
    -------
    (..., k) array
        The per-mode limits.
    """
    L = v.depth(depth)
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = v.broadcast_modes(sigma=sigma, lam=lam)
    return 2.0 / (L * lam * (sigma / lam) ** (2 - 2 / L))


def depth_shrink_threshold(depth, consecutive=True):
    """Strength w* above which the per-mode stable step size shrinks with depth.

    `mode_stable_step_size` 2 / (L lam w*^{2-2/L}) is smaller at depth L + 1 than at
    depth L (consecutive=True) when w* > (1 + 1/L)^{-L (L + 1) / 2}, a number in
    (e^{-(L+1)/2}, e^{-L/2}); it is decreasing in L as a function of a real depth
    (consecutive=False) when w* > e^{-L/2}. Both follow from
    log(L w^{2-2/L}) = log L + 2 log w - (2/L) log w (chapters/07_depth).

    Parameters
    ----------
    depth : int
        L >= 1.
    consecutive : bool
        Compare with depth L + 1 (True) or with real depths near L (False).

    Returns
    -------
    float
        The threshold w*.
    """
    L = v.depth(depth)
    if consecutive:
        return (1.0 + 1.0 / L) ** (-L * (L + 1) / 2.0)
    return float(np.exp(-L / 2.0))


def sharpness_bound_two_layer(Sxx, Sxy):
    """Upper bound 2 lam_max(Sxx) ||W_ols||_2 on the sharpness at the two-layer minimum.

    At balanced factors ||W_1||_2^2 = ||W_2||_2^2 = ||W||_2, so the Gauss-Newton form
    ||Sxx^{1/2}(dW_1 W_2 + W_1 dW_2)||^2 <= 2 lam_max ||W||_2 (||dW_1||^2 + ||dW_2||^2).
    Hence eta = 2 / bound is a step size at which that minimum is linearly stable,
    computed without an iterative eigensolver.

    Parameters
    ----------
    Sxx : (..., p, p) array
        Input second moments (a batch of problems on the leading axes).
    Sxy : (..., p, d) array
        Input-output second moments.

    Returns
    -------
    (...) array
        The bound, one per problem.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", min_ndim=2)
    if Sxx.shape[-1] != Sxy.shape[-2]:
        raise ValueError(f"Sxx {Sxx.shape} and Sxy {Sxy.shape} must share p")
    W_ols = least_squares_moments(Sxx, Sxy)
    top = np.linalg.eigvalsh(Sxx)[..., -1]
    return 2 * top * np.linalg.norm(W_ols, ord=2, axis=(-2, -1))


def mode_map(x, h):
    """The normalised depth-2 mode map g_h(x) = x (1 + h (1 - x))^2.

    x = lam w / sigma and h = eta sigma: one gradient step of a mode (see
    `lib.dynamics.discrete_modes`). Plain arithmetic, so that `fractions.Fraction`
    inputs give exact results (the chapter verifies cycle identities with them).

    Parameters
    ----------
    x, h : numbers or broadcasting arrays
        Normalised strength and normalised step size.

    Returns
    -------
    number or array of the broadcast shape
        g_h(x).
    """
    return x * (1 + h * (1 - x)) ** 2


def mode_map_slope(x, h):
    """Derivative g_h'(x) = phi (phi - 2 h x), phi = 1 + h (1 - x), of `mode_map`.

    Parameters
    ----------
    x, h : numbers or broadcasting arrays
        As in `mode_map` (exact for `fractions.Fraction` inputs).

    Returns
    -------
    number or array of the broadcast shape
        g_h'(x).
    """
    phi = 1 + h * (1 - x)
    return phi * (phi - 2 * h * x)
