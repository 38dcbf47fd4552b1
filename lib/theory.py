"""Closed forms and bounds: what the theory predicts, with no simulation.

Mode strengths: from the aligned balanced start the end-to-end map stays
W(t) = U diag(w(t)) V^T, and each mode strength w_i evolves on its own (see
`lib.dynamics` for the iterations and `chapters/02_continuous` for the derivation).
Shape convention of every mode function here: per-mode parameters broadcast together
to shape (..., k); times `t` of any shape; results have shape t.shape + (..., k).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from . import _validate as v
from .estimators import reduced_rank_regression  # noqa: F401  (moved; re-exported)
from .problems import check_data  # noqa: F401


def _times(t) -> np.ndarray:
    t = v.as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be non-negative (times or iterations since the start)")
    return t


def _mode_params(sigma, lam, w0, *, depth: int):
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    w0 = v.as_float_array(w0, "w0")
    if depth >= 2 and np.any(w0 < 0):
        raise ValueError("w0 must be non-negative for depth >= 2 (balanced factors carry w0 ** (1/depth))")
    return v.broadcast_modes(sigma=sigma, lam=lam, w0=w0)


def continuous_modes(t, sigma, lam, w0, depth=2):
    """Mode strengths of gradient flow from the aligned balanced start, in closed form.

    depth 2 (logistic equation dw/dt = 2 w (sigma - lam w)):
        w(t) = sigma w0 / ((sigma - lam w0) exp(-2 sigma t) + lam w0)
    depth 1 (linear equation dw/dt = sigma - lam w):
        w(t) = sigma/lam + (w0 - sigma/lam) exp(-lam t)

    Parameters
    ----------
    t : array, any shape, >= 0
    sigma : (..., k) singular values of Sxy, >= 0
    lam : (..., k) eigenvalues of Sxx paired with them, > 0
    w0 : (..., k) initial strengths, >= 0 for depth 2
    depth : 1 or 2 (deeper networks have no elementary closed form; see
        `lib.dynamics.mode_flow`).

    Returns
    -------
    w : array, shape t.shape + (..., k)
    """
    L = v.depth(depth)
    if L > 2:
        raise ValueError("depth must be 1 or 2 for the closed form; use lib.dynamics.mode_flow for depth >= 3")
    t = _times(t)
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=L)
    tt = t.reshape(t.shape + (1,) * sigma.ndim)
    if L == 1:
        return sigma / lam + (w0 - sigma / lam) * np.exp(-lam * tt)
    # Divided through by sigma: w = w0 / (E + lam w0 G) with E = exp(-2 sigma t) and
    # G = (1 - E) / sigma, which tends to 2 t as sigma -> 0 (no 0/0) and never overflows.
    E = np.exp(-2 * sigma * tt)
    with np.errstate(divide="ignore", invalid="ignore"):
        G = np.where(sigma > 0, -np.expm1(-2 * sigma * tt) / np.where(sigma > 0, sigma, 1.0), 2 * tt)
    return w0 / (E + lam * w0 * G)


def half_way_times(sigma, lam, w0, eta=None, depth=2):
    """Predicted time (or iteration) at which w_i first reaches half of sigma_i / lam_i.

    Gradient flow (eta None), depth 2: exact, from the closed form,
        t_half = log((sigma - lam w0) / (lam w0)) / (2 sigma).
    Gradient descent (eta given), depth 2: the same expression with the continuous rate
    2 sigma replaced by the per-step rate 2 log(1 + eta sigma) of the mode map near zero.
    That is where the tight lower bound of `discrete_bounds` reaches one half, so the true
    first half-way iteration is at most this plus one, and at least
    log(sigma / (2 lam w0)) / (2 log(1 + eta sigma)) (the geometric upper bound); the
    bracket is proved and measured in chapters/03_discrete.
    Depth 1: flow log(2 (1 - lam w0 / sigma)) / lam; descent divides by
    -log(1 - eta lam) instead of lam.

    Returns an array of shape (..., k); modes that start at or above half-way give 0.
    """
    L = v.depth(depth)
    if L > 2:
        raise ValueError("depth must be 1 or 2; for depth >= 3 use lib.theory.half_way_time_any_depth")
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=L)
    sigma = v.positive(sigma, "sigma")
    target = sigma / lam
    if L == 2 and np.any(w0 <= 0):
        raise ValueError("w0 must be positive: a mode that starts at 0 never moves under depth 2")
    if eta is None:
        rate = 2 * sigma if L == 2 else lam
    else:
        eta = v.positive(eta, "eta")
        if L == 2:
            rate = 2 * np.log1p(eta * sigma)
        else:
            if np.any(eta * lam >= 1):
                raise ValueError("eta must be < 1 / lam for a monotone depth-1 approach")
            rate = -np.log1p(-eta * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        if L == 2:
            t = np.log((sigma - lam * w0) / (lam * w0)) / rate
        else:
            t = np.log(2 * (1 - w0 / target)) / rate
    return np.where(w0 >= target / 2, 0.0, t)


def transition_time_rescaled(sigma, eta=None):
    """Phase-transition time T_i in time rescaled by delta (w0 = exp(-2 delta), delta -> inf).

    Flow: T_i = 1 / sigma_i. Descent: T_i = 1 / log(1 + eta sigma_i) iterations per unit
    of delta, which is 1/(eta sigma_i) + 1/2 + O(eta sigma_i); the paper's
    1/(eta sigma_i) is its first-order term.
    """
    sigma = v.positive(sigma, "sigma")
    if eta is None:
        return 1.0 / sigma
    eta = v.positive(eta, "eta")
    return 1.0 / np.log1p(eta * sigma)


def _check_bound_args(t, sigma, lam, w0, eta):
    t = _times(t)
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=2)
    sigma = v.positive(sigma, "sigma")
    eta = v.positive(eta, "eta")
    if np.any(w0 <= 0) or np.any(w0 > sigma / lam):
        raise ValueError("w0 must lie in (0, sigma/lam]: the bounds describe the rise of a mode from below its limit")
    return t, sigma, lam, w0, eta


def _logistic_shape(t, sigma, lam, w0, factor):
    """sigma w0 / ((sigma - lam w0) * factor(t) + lam w0), broadcast like continuous_modes."""
    tt = t.reshape(t.shape + (1,) * sigma.ndim)
    return sigma * w0 / ((sigma - lam * w0) * factor(tt) + lam * w0)


def discrete_bounds(t, sigma, lam, w0, eta):
    """Lower and upper bounds on the depth-2 gradient-descent mode strengths, for all t.

    With h = eta * sigma <= 1/2 and 0 < w0 <= sigma/lam, v_t = 1/w_t - lam/sigma obeys
    (1 - 2h) v_t <= v_{t+1} <= (1 + h)^{-2} v_t (proof in chapters/03_discrete), so

        lower(t) = sigma w0 / ((sigma - lam w0) (1 + h)^{-2t} + lam w0)
        upper(t) = min( sigma w0 / ((sigma - lam w0) (1 - 2h)^t + lam w0),
                        w0 (1 + h)^{2t} )

    and lower(t) <= w_t <= upper(t) for every integer t >= 0.

    Parameters
    ----------
    t : array (any shape) of iterations >= 0
    sigma, lam, w0, eta : broadcast to (..., k); requires eta * sigma <= 1/2.

    Returns
    -------
    (lower, upper), each of shape t.shape + (..., k).
    """
    t, sigma, lam, w0, eta = _check_bound_args(t, sigma, lam, w0, eta)
    h = eta * sigma
    if np.any(h > 0.5):
        raise ValueError(f"eta * sigma must be <= 1/2 for the all-t bounds, got max {h.max():.4g}")
    lower = _logistic_shape(t, sigma, lam, w0, lambda tt: (1 + h) ** (-2 * tt))
    upper_logistic = _logistic_shape(t, sigma, lam, w0, lambda tt: (1 - 2 * h) ** tt)
    tt = t.reshape(t.shape + (1,) * sigma.ndim)
    with np.errstate(over="ignore"):
        upper_geometric = w0 * (1 + h) ** (2 * tt)
    return lower, np.minimum(upper_logistic, upper_geometric)


def poster_discrete_bounds(t, sigma, lam, w0, eta, corrected=True):
    """The poster's discrete-dynamics bounds, as printed or with the missing sigma restored.

    As printed:  w0 / ((sigma - lam w0) exp(-c t) + lam w0)
    Corrected:   sigma w0 / ((sigma - lam w0) exp(-c t) + lam w0)
    with c = 2 eta sigma - 4 eta^2 sigma^2 for the lower bound and
    c = 2 eta sigma + eta^2 sigma^2 for the upper bound.

    Returns (lower, upper) with the shape convention of `continuous_modes`. These are
    *claims*, not bounds: chapters/03_discrete shows where each one fails.
    """
    t, sigma, lam, w0, eta = _check_bound_args(t, sigma, lam, w0, eta)
    h = eta * sigma
    numerator = sigma * w0 if corrected else w0
    tt = t.reshape(t.shape + (1,) * sigma.ndim)

    def shape(c):
        return numerator / ((sigma - lam * w0) * np.exp(-c * tt) + lam * w0)

    return shape(2 * h - 4 * h**2), shape(2 * h + h**2)


def sequential_limit(U, V, sigma, lam, k):
    """The plateau the depth-2 flow visits between T_k and T_{k+1} (vanishing init):
    sum over the k largest sigma_i of (sigma_i / lam_i) u_i v_i^T, shape (p, d)."""
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    m = sigma.size
    k = v.integer(k, "k", low=0, high=m)
    order = np.argsort(-sigma, kind="stable")[:k]
    return modes_to_map(U[:, order], V[:, order], sigma[order] / lam[order])


def rrr_mode_order(sigma, lam):
    """Order in which reduced-rank regression adds modes under the assumption: by
    decreasing loss decrease sigma_i^2 / (2 lam_i). Returns indices into sigma."""
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    return np.argsort(-(sigma**2) / lam, kind="stable")


def gauss_newton_sharpness(Sxx, factors):
    """Largest eigenvalue of the Gauss-Newton part of the Hessian of f at the given factors.

    The quadratic form is ||Sxx^{1/2} dW||_F^2 with dW = sum_l W_{<l} dW_l W_{>l}; its
    nonzero spectrum is that of M -> Sxx^{1/2} K(Sxx^{1/2} M) with
    K(N) = sum_l (W_{<l} W_{<l}^T) N (W_{>l}^T W_{>l}), computed with Lanczos (scipy eigsh).
    At a global minimum the residual term of the Hessian vanishes, so this is the sharpness
    there, and 2 / sharpness is the largest step size for which that minimum is linearly
    stable under gradient descent.

    Parameters
    ----------
    Sxx : (p, p); factors : list of 2-D arrays W_1 (p, r_1) ... W_L (r_{L-1}, d)
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    p = Sxx.shape[0]
    fs = [v.as_float_array(W, f"factors[{i}]", ndim=2) for i, W in enumerate(factors)]
    if fs[0].shape[0] != p:
        raise ValueError(f"factors[0] must have {p} rows to match Sxx {Sxx.shape}, got {fs[0].shape}")
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
        for W in fs[l + 2:]:
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
    op = LinearOperator((p * d, p * d), matvec=apply, dtype=float)
    val = eigsh(op, k=1, which="LA", tol=1e-12, return_eigenvectors=False, v0=np.ones(p * d))
    return float(val[0])


def balanced_factors(W, depth, width=None):
    """Balanced factors of W (p, d): W_1 = A S^{1/L}, middle S^{1/L}, W_L = S^{1/L} B^T from the
    thin SVD W = A S B^T (hidden width min(p, d), or `width` >= that, zero-padded)."""
    W = v.as_float_array(W, "W", ndim=2)
    L = v.depth(depth)
    if L == 1:
        return [W.copy()]
    A_, s, Bt = np.linalg.svd(W, full_matrices=False)
    m = s.size
    r = m if width is None else v.integer(width, "width", low=m)
    root = s ** (1.0 / L)
    first = np.zeros((W.shape[0], r))
    first[:, :m] = A_ * root
    last = np.zeros((r, W.shape[1]))
    last[:m] = root[:, None] * Bt
    middle = np.zeros((r, r))
    middle[np.arange(m), np.arange(m)] = root
    return [first] + [middle.copy() for _ in range(L - 2)] + [last]


def sharpness_at_minimum(Sxx, Sxy, depth=2):
    """Sharpness (largest Hessian eigenvalue) of the loss at the balanced factorisation of
    W_ols = Sxx^+ Sxy, where the residual gradient vanishes: `gauss_newton_sharpness` there.

    Under the common decomposition (eps = 0) this equals
    max_{i, j} lam_i sum_l w_i^{2(l-1)/L} w_j^{2(L-l)/L} with w = sigma/lam (zero for
    directions without signal); see `sharpness_aligned`.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", ndim=2)
    L = v.depth(depth)
    p, d = Sxy.shape
    if Sxx.shape != (p, p):
        raise ValueError(f"Sxx must have shape ({p}, {p}) to match Sxy {Sxy.shape}, got {Sxx.shape}")
    W = np.linalg.pinv(Sxx, hermitian=True) @ Sxy
    return gauss_newton_sharpness(Sxx, balanced_factors(W, L))


def sharpness_aligned(sigma, lam, depth=2, d=None):
    """Sharpness at the balanced minimum under the exact common decomposition.

    max over input direction i (all p of lam) and output direction j (d of them) of
    lam_i * sum_{l=1}^{L} w_i^{2(l-1)/L} w_j^{2(L-l)/L}, w_i = sigma_i / lam_i for the
    k paired modes and 0 elsewhere. The diagonal i = j gives the mode map's own limit
    L lam_i w_i^{2 - 2/L} (= 2 sigma_i for L = 2); cross terms can be larger.
    """
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    L = v.depth(depth)
    k = sigma.size
    if lam.size < k:
        raise ValueError(f"lam must have at least len(sigma) = {k} entries, got {lam.size}")
    d = k if d is None else v.integer(d, "d", low=k)
    w_in = np.zeros(lam.size)
    w_in[:k] = sigma / lam[:k]
    w_out = np.zeros(d)
    w_out[:k] = w_in[:k]
    ls = np.arange(1, L + 1)
    terms = w_in[:, None, None] ** (2 * (ls - 1) / L) * w_out[None, :, None] ** (2 * (L - ls) / L)
    return float((lam[:, None] * terms.sum(-1)).max())


def stable_step_size(sigma, lam, depth=2, d=None):
    """2 / sharpness_aligned: above it the balanced minimum is linearly unstable."""
    return 2.0 / sharpness_aligned(sigma, lam, depth, d)


def mode_stable_step_size(sigma, lam, depth=2):
    """Per-mode stability limit of the decoupled mode map: 2 / (L lam w*^{2 - 2/L}),
    w* = sigma/lam; 1/sigma for depth 2 and 2/lam for depth 1. Shape (..., k)."""
    L = v.depth(depth)
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = v.broadcast_modes(sigma=sigma, lam=lam)
    return 2.0 / (L * lam * (sigma / lam) ** (2 - 2 / L))


def bound_rates(eta, sigma) -> dict:
    """Rates c of the bounds written as v_t compared with v_0 exp(-c t), v = 1/w - lam/sigma.

    A lower bound on w_t is an upper bound v_t <= v_0 exp(-c t) and vice versa.
    'poster lower' 2h - 4h^2 and 'poster upper' 2h + h^2 (h = eta sigma) are the poster's
    (with sigma restored in the numerator); 'tight lower' 2 log(1 + h) and 'tight upper'
    -log(1 - 2h) are the all-t bounds of `discrete_bounds` (the upper one without its
    geometric part). Values are arrays broadcast from eta * sigma.
    """
    h = v.positive(eta, "eta") * v.positive(sigma, "sigma")
    with np.errstate(divide="ignore", invalid="ignore"):
        tight_upper = np.where(h < 0.5, -np.log1p(-2 * np.minimum(h, 0.5)), np.inf)
    return {
        "poster lower": 2 * h - 4 * h**2,
        "poster upper": 2 * h + h**2,
        "tight lower": 2 * np.log1p(h),
        "tight upper": tight_upper,
    }


def transition_window(sigma, eta, constants="tight"):
    """Rescaled times (start, end) between which mode i makes its transition, from the bounds.

    With w0 = exp(-2 delta) and delta -> infinity, an upper bound on w_t of rate c_up keeps
    w(delta t) -> 0 for t < 2 / c_up, and a lower bound of rate c_low forces
    w(delta t) -> sigma/lam for t > 2 / c_low. constants='poster': c_up = 2h + h^2,
    c_low = 2h - 4h^2 (h = eta sigma < 1/2); constants='tight': c_up = c_low = 2 log(1 + h)
    (the geometric bound w0 (1 + h)^{2t} and the tight lower bound), so start = end =
    1 / log(1 + h): the transition time itself.

    Returns (start, end), arrays shaped like sigma.
    """
    sigma = v.positive(sigma, "sigma")
    eta = v.positive(eta, "eta")
    h = eta * sigma
    if constants == "poster":
        if np.any(h >= 0.5):
            raise ValueError("eta * sigma must be < 1/2 for the poster's constants (else 2h - 4h^2 <= 0)")
        return 2 / (2 * h + h**2), 2 / (2 * h - 4 * h**2)
    if constants == "tight":
        T = 1 / np.log1p(h)
        return T, T
    raise ValueError(f"constants must be 'poster' or 'tight', got {constants!r}")


def exactly_k_window_exists(sigma, eta, k, constants="poster"):
    """True if some rescaled time has modes 1..k provably learned and k+1.. provably not:
    end of mode k's window < start of mode k+1's (sigma sorted decreasing)."""
    sigma = v.positive(sigma, "sigma")
    k = v.integer(k, "k", low=1, high=sigma.size - 1)
    start, end = transition_window(sigma, eta, constants)
    return bool(end[k - 1] < start[k])


def effective_initial_strengths(U, V, factors, k):
    """Predicted effective initial strength of each mode for a small, arbitrary depth-2 start.

    Near zero, the component of the factors along mode i, s_i = ((U^T W_1)_{i,:} +
    (W_2 V)_{:,i}) / 2 in the hidden space, grows like exp(sigma_i t) (flow) or
    (1 + eta sigma_i)^t (descent), while the antisymmetric part decays: mode i then behaves
    as an aligned balanced mode started from ||s_i||^2. Once mode j is learned, the
    hidden direction it occupies is penalised for every later mode (a component there would
    create the cross term W_ij), so later modes keep only the part of s_i orthogonal to
    s_1, ..., s_{i-1}: Gram-Schmidt in the order of the modes (decreasing sigma).

    Parameters
    ----------
    U : (p, p), V : (d, d); factors : [W_1 (p, r), W_2 (r, d)]; k : number of modes (<= r)

    Returns
    -------
    (k,) effective strengths, to use as `w0` in the closed forms and `half_way_times`.
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    if not isinstance(factors, (list, tuple)) or len(factors) != 2:
        raise ValueError("factors must be a list [W_1, W_2] (depth 2)")
    W1 = v.as_float_array(factors[0], "factors[0]", ndim=2)
    W2 = v.as_float_array(factors[1], "factors[1]", ndim=2)
    k = v.integer(k, "k", low=1, high=min(W1.shape[1], U.shape[1], V.shape[1]))
    S = 0.5 * ((U.T @ W1)[:k] + (W2 @ V)[:, :k].T)  # (k, r): s_i as rows
    _, R = np.linalg.qr(S.T)
    return np.diag(R) ** 2


def half_way_time_any_depth(sigma, lam, w0, depth):
    """Exact time at which the balanced depth-L flow w' = L w^{2-2/L} (sigma - lam w)
    reaches half its limit: the integral of dw / (L w^{2-2/L} (sigma - lam w)) from w0
    to sigma / (2 lam), by quadrature in u = log w (smooth even for tiny w0).

    Parameters: sigma, lam, w0 broadcast to (k,), 0 < w0 < sigma / (2 lam); depth >= 1.
    Returns (k,) times. Depth 1 and 2 agree with `half_way_times` (the tests check it).
    """
    from scipy.integrate import quad

    L = v.depth(depth)
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    w0 = v.positive(w0, "w0")
    sigma, lam, w0 = v.broadcast_modes(sigma=sigma, lam=lam, w0=w0)
    if np.any(w0 >= sigma / (2 * lam)):
        raise ValueError("w0 must be below half the limit sigma / (2 lam)")
    out = np.empty(sigma.shape)
    for idx in np.ndindex(sigma.shape):
        s, l, a = sigma[idx], lam[idx], w0[idx]

        def integrand(u):  # dt/du with w = e^u: 1 / (L w^{1-2/L} (s - l w))
            w = np.exp(u)
            return 1.0 / (L * w ** (1 - 2 / L) * (s - l * w))

        val, _ = quad(integrand, np.log(a), np.log(s / (2 * l)), limit=200, epsabs=0, epsrel=1e-12)
        out[idx] = val
    return out


def escape_time(sigma, w0, depth):
    """Blow-up time of the small-w approximation w' = L sigma w^{2-2/L} for depth L >= 3:
    w^{-(L-2)/L} decreases linearly and vanishes at t* = w0^{-(L-2)/L} / ((L - 2) sigma).
    Polynomial in 1/w0 (slope -(L-2)/L in log-log), against log(1/w0)/(2 sigma) for L = 2.
    Shape of sigma (and w0) broadcast together."""
    L = v.depth(depth)
    if L < 3:
        raise ValueError("depth must be >= 3 for the polynomial escape time (depth 2: half_way_times)")
    sigma = v.positive(sigma, "sigma")
    w0 = v.positive(w0, "w0")
    return w0 ** (-(L - 2) / L) / ((L - 2) * sigma)


def plateau_and_rrr_gains(sigma, lam):
    """Loss decrease f(0) - f at each plateau of the two-layer flow (the k largest sigma_i
    learned) and at the rank-k reduced-rank solution (the k largest sigma_i^2 / lam_i),
    under the exact assumption, where mode i is worth sigma_i^2 / (2 lam_i).

    Parameters: sigma, lam of shape (..., m), sigma sorted decreasing along the last axis.
    Returns (plateau, rrr), each of shape (..., m + 1): entry k is the gain at rank k.
    """
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = v.broadcast_modes(sigma=sigma, lam=lam)
    if np.any(np.diff(sigma, axis=-1) > 0):
        raise ValueError("sigma must be sorted in decreasing order along its last axis")
    gain = sigma**2 / (2 * lam)
    zero = np.zeros(gain.shape[:-1] + (1,))
    plateau = np.concatenate([zero, np.cumsum(gain, axis=-1)], axis=-1)
    rrr = np.concatenate([zero, np.cumsum(-np.sort(-gain, axis=-1), axis=-1)], axis=-1)
    return plateau, rrr


def modes_to_map(U, V, w):
    """End-to-end map U diag(w) V^T from mode strengths: the inverse of
    `lib.metrics.mode_strengths` on aligned maps.

    U : (p, >= k), V : (d, >= k), w : (..., k). Returns (..., p, d).
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    w = v.as_float_array(w, "w", min_ndim=1)
    k = w.shape[-1]
    if k > min(U.shape[1], V.shape[1]):
        raise ValueError(f"w has {k} modes but U and V have {U.shape[1]} and {V.shape[1]} columns")
    return np.einsum("pi,...i,di->...pd", U[:, :k], w, V[:, :k])
