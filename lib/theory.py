"""Closed forms and bounds: what the theory predicts, with no simulation.

Sharpness and stable step sizes live in `lib.stability`, the estimators a path is
compared against in `lib.estimators`; nothing here imports `lib.dynamics`.

Mode strengths: from the aligned balanced start the end-to-end map stays
W(t) = U diag(w(t)) V^T, and each mode strength w_i evolves on its own (see
`lib.dynamics` for the iterations and `chapters/02_continuous` for the derivation).
Shape convention of every mode function here: per-mode parameters broadcast together
to shape (..., k); times `t` of any shape; results have shape t.shape + (..., k).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validate as v


def _mode_params(sigma, lam, w0, *, depth: int):
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    w0 = v.initial_strengths(w0, depth)
    return v.broadcast_modes(sigma=sigma, lam=lam, w0=w0)


def continuous_modes(t, sigma, lam, w0, depth=2):
    """Mode strengths of gradient flow from the aligned balanced start, in closed form.

    depth 2 (logistic equation dw/dt = 2 w (sigma - lam w)):
        w(t) = sigma w0 / ((sigma - lam w0) exp(-2 sigma t) + lam w0)
    depth 1 (linear equation dw/dt = sigma - lam w):
        w(t) = sigma/lam + (w0 - sigma/lam) exp(-lam t)

    Parameters
    ----------
    t : array
        Times, any shape, >= 0.
    sigma : (..., k) array
        Singular values of Sxy, >= 0.
    lam : (..., k) array
        Eigenvalues of Sxx paired with them, > 0.
    w0 : (..., k) array
        Initial strengths, >= 0 for depth 2.
    depth : {1, 2}
        Deeper networks have no elementary closed form; see `lib.dynamics.mode_flow`.

    Returns
    -------
    w : array, shape t.shape + (..., k)
    """
    L = v.depth(depth)
    if L > 2:
        raise ValueError(
            "depth must be 1 or 2 for the closed form; use lib.dynamics.mode_flow for "
            "depth >= 3"
        )
    t = v.times(t)
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=L)
    tt = t.reshape(t.shape + (1,) * sigma.ndim)
    if L == 1:
        return sigma / lam + (w0 - sigma / lam) * np.exp(-lam * tt)
    # Divided through by sigma: w = w0 / (E + lam w0 G) with E = exp(-2 sigma t) and
    # G = (1 - E) / sigma, which tends to 2 t as sigma -> 0 (no 0/0) and never
    # overflows.
    E = np.exp(-2 * sigma * tt)
    with np.errstate(divide="ignore", invalid="ignore"):
        G = np.where(
            sigma > 0,
            -np.expm1(-2 * sigma * tt) / np.where(sigma > 0, sigma, 1.0),
            2 * tt,
        )
    return w0 / (E + lam * w0 * G)


def half_way_times(sigma, lam, w0, eta=None, depth=2):
    """Predicted time (or iteration) at which w_i first reaches sigma_i / (2 lam_i).

    Gradient flow (eta None), depth 2: exact, from the closed form,
        t_half = log((sigma - lam w0) / (lam w0)) / (2 sigma).
    Gradient descent (eta given), depth 2: the same expression with the continuous rate
    2 sigma replaced by the per-step rate 2 log(1 + eta sigma) of the mode map near
    zero. That is where the tight lower bound of `discrete_bounds` reaches one half, so
    the true first half-way iteration is at most this plus one, and at least
    log(sigma / (2 lam w0)) / (2 log(1 + eta sigma)) (the geometric upper bound); the
    bracket is proved and measured in chapters/03_discrete.
    Depth 1: flow log(2 (1 - lam w0 / sigma)) / lam; descent divides by
    -log(1 - eta lam) instead of lam. `lib.metrics.half_way_crossings` measures the same
    times on a trajectory.

    Parameters
    ----------
    sigma, lam, w0 : arrays broadcasting to (..., k)
        Singular values of Sxy (> 0), eigenvalues of Sxx paired with them (> 0) and
        initial strengths (> 0 for depth 2).
    eta : None, float or array broadcasting to (..., k)
        None for gradient flow; the step size(s) for gradient descent.
    depth : int
        1 or 2 (deeper: `half_way_time_any_depth`).

    Returns
    -------
    (..., k) array
        Times (flow) or iterations (descent); 0 for modes that start at or above
        half-way.
    """
    L = v.depth(depth)
    if L > 2:
        raise ValueError(
            "depth must be 1 or 2; for depth >= 3 use "
            "lib.theory.half_way_time_any_depth"
        )
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=L)
    sigma = v.positive(sigma, "sigma")
    target = sigma / lam
    if L == 2 and np.any(w0 <= 0):
        raise ValueError(
            "w0 must be positive: a mode that starts at 0 never moves under depth 2"
        )
    if eta is None:
        rate = 2 * sigma if L == 2 else lam
    else:
        eta = v.positive(eta, "eta")
        if L == 2:
            rate = 2 * np.log1p(eta * sigma)
        else:
            if np.any(eta * lam >= 1):
                raise ValueError(
                    "eta must be < 1 / lam for a monotone depth-1 approach"
                )
            rate = -np.log1p(-eta * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        if L == 2:
            t = np.log((sigma - lam * w0) / (lam * w0)) / rate
        else:
            t = np.log(2 * (1 - w0 / target)) / rate
    return np.where(w0 >= target / 2, 0.0, t)


def transition_time_rescaled(sigma, eta=None):
    """Phase-transition time T_i in time rescaled by delta.

    The start is w0 = exp(-2 delta), with delta -> inf.

    Flow: T_i = 1 / sigma_i. Descent: T_i = 1 / log(1 + eta sigma_i) iterations per unit
    of delta, which is 1/(eta sigma_i) + 1/2 + O(eta sigma_i); the paper's
    1/(eta sigma_i) is its first-order term.

    Parameters
    ----------
    sigma : array (..., k), > 0
        Singular values of Sxy.
    eta : None or float or array broadcasting with sigma
        None for gradient flow, else the step size.

    Returns
    -------
    array of sigma's (broadcast) shape
        T_i.
    """
    sigma = v.positive(sigma, "sigma")
    if eta is None:
        return 1.0 / sigma
    eta = v.positive(eta, "eta")
    return 1.0 / np.log1p(eta * sigma)


def _check_bound_args(t, sigma, lam, w0, eta):
    t = v.times(t)
    sigma, lam, w0 = _mode_params(sigma, lam, w0, depth=2)
    sigma = v.positive(sigma, "sigma")
    eta = v.positive(eta, "eta")
    if np.any(w0 <= 0) or np.any(w0 > sigma / lam):
        raise ValueError(
            "w0 must lie in (0, sigma/lam]: the bounds describe the rise of a mode "
            "from below its limit"
        )
    return t, sigma, lam, w0, eta


def _logistic_shape(t, sigma, lam, w0, factor):
    """Evaluate sigma w0 / ((sigma - lam w0) * factor(t) + lam w0).

    Broadcast like continuous_modes.
    """
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
    t : array
        Iterations >= 0, any shape.
    sigma, lam, w0, eta : arrays broadcasting to (..., k)
        Requires eta * sigma <= 1/2.

    Returns
    -------
    lower, upper : t.shape + (..., k) arrays
    """
    t, sigma, lam, w0, eta = _check_bound_args(t, sigma, lam, w0, eta)
    h = eta * sigma
    if np.any(h > 0.5):
        raise ValueError(
            f"eta * sigma must be <= 1/2 for the all-t bounds, got max {h.max():.4g}"
        )
    lower = _logistic_shape(t, sigma, lam, w0, lambda tt: (1 + h) ** (-2 * tt))
    upper_logistic = _logistic_shape(t, sigma, lam, w0, lambda tt: (1 - 2 * h) ** tt)
    tt = t.reshape(t.shape + (1,) * sigma.ndim)
    with np.errstate(over="ignore"):
        upper_geometric = w0 * (1 + h) ** (2 * tt)
    return lower, np.minimum(upper_logistic, upper_geometric)


def poster_discrete_bounds(t, sigma, lam, w0, eta, corrected=True):
    """The poster's discrete-dynamics bounds, as printed or with the sigma restored.

    As printed:  w0 / ((sigma - lam w0) exp(-c t) + lam w0)
    Corrected:   sigma w0 / ((sigma - lam w0) exp(-c t) + lam w0)
    with c = 2 eta sigma - 4 eta^2 sigma^2 for the lower bound and
    c = 2 eta sigma + eta^2 sigma^2 for the upper bound. These are *claims*, not bounds:
    chapters/03_discrete shows where each one fails.

    Parameters
    ----------
    t : array, any shape
        Iterations >= 0.
    sigma, lam, w0, eta : arrays broadcasting to (..., k)
        As in `discrete_bounds`.
    corrected : bool
        Restore the sigma missing from the printed numerator.

    Returns
    -------
    lower, upper : arrays of shape t.shape + (..., k)
    """
    t, sigma, lam, w0, eta = _check_bound_args(t, sigma, lam, w0, eta)
    h = eta * sigma
    numerator = sigma * w0 if corrected else w0
    tt = t.reshape(t.shape + (1,) * sigma.ndim)

    def shape(c):
        return numerator / ((sigma - lam * w0) * np.exp(-c * tt) + lam * w0)

    return shape(2 * h - 4 * h**2), shape(2 * h + h**2)


def sequential_limit(U, V, sigma, lam, k):
    """The plateau the depth-2 flow visits between T_k and T_{k+1} (vanishing start).

    sum over the k largest sigma_i of (sigma_i / lam_i) u_i v_i^T.

    Parameters
    ----------
    U, V : (p, m) and (d, m) arrays
        Mode bases (e.g. from `lib.problems.measure_assumption`).
    sigma, lam : (m,) arrays
        Paired spectra (sigma >= 0, lam > 0).
    k : int
        Number of learned modes, 0 <= k <= m.

    Returns
    -------
    (p, d) array
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    m = sigma.size
    k = v.integer(k, "k", low=0, high=m)
    order = np.argsort(-sigma, kind="stable")[:k]
    # U diag(w) V^T as `lib.metrics.modes_to_map` computes it (theory does not import
    # metrics: data flow one way)
    return np.einsum("pi,i,di->pd", U[:, order], sigma[order] / lam[order], V[:, order])


def rrr_mode_order(sigma, lam):
    """Order in which reduced-rank regression adds modes under the exact assumption.

    By decreasing loss decrease sigma_i^2 / (2 lam_i) (ties keep the given order).

    Parameters
    ----------
    sigma, lam : (m,) arrays
        Paired spectra (sigma >= 0, lam > 0).

    Returns
    -------
    (m,) int array
        Indices into sigma.
    """
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    return np.argsort(-(sigma**2) / lam, kind="stable")


class BoundRates(NamedTuple):
    """Rates c of the discrete bounds, each written as v_t vs v_0 exp(-c t).

    v = 1/w - lam/sigma; a lower bound on w_t is an upper bound v_t <= v_0 exp(-c t).
    Fields are arrays broadcast from eta * sigma.

    Attributes
    ----------
    poster_lower : array
        2h - 4h^2 (h = eta sigma), the poster's lower bound.
    poster_upper : array
        2h + h^2, the poster's upper bound.
    tight_lower : array
        2 log(1 + h), the lower bound of `discrete_bounds`.
    tight_upper : array
        -log(1 - 2h) (inf for h >= 1/2), its logistic upper.
    """

    poster_lower: np.ndarray
    poster_upper: np.ndarray
    tight_lower: np.ndarray
    tight_upper: np.ndarray


def bound_rates(eta, sigma) -> BoundRates:
    """Rates of the poster's and of the tight all-t bounds on the depth-2 mode map.

    The poster's bounds are taken with sigma restored in the numerator
    (`poster_discrete_bounds`); the tight ones are those of `discrete_bounds` (the upper
    one without its geometric part).

    Parameters
    ----------
    eta : float or array, > 0
        Step size(s).
    sigma : float or array, > 0
        Singular value(s); broadcasts with eta.

    Returns
    -------
    BoundRates
        Four arrays of the broadcast shape of eta * sigma.
    """
    h = v.positive(eta, "eta") * v.positive(sigma, "sigma")
    with np.errstate(divide="ignore", invalid="ignore"):
        tight_upper = np.where(h < 0.5, -np.log1p(-2 * np.minimum(h, 0.5)), np.inf)
    return BoundRates(
        poster_lower=2 * h - 4 * h**2,
        poster_upper=2 * h + h**2,
        tight_lower=2 * np.log1p(h),
        tight_upper=tight_upper,
    )


def transition_window(sigma, eta, constants="tight"):
    """Rescaled times (start, end) between which each mode makes its transition.

    With w0 = exp(-2 delta) and delta -> infinity, an upper bound on w_t of rate c_up
    keeps w(delta t) -> 0 for t < 2 / c_up, and a lower bound of rate c_low forces
    w(delta t) -> sigma/lam for t > 2 / c_low. constants='poster': c_up = 2h + h^2,
    c_low = 2h - 4h^2 (h = eta sigma < 1/2); constants='tight':
    c_up = c_low = 2 log(1 + h) (the geometric bound w0 (1 + h)^{2t} and the tight lower
    bound), so start = end = 1 / log(1 + h): the transition time itself.

    Parameters
    ----------
    sigma : array (k,), > 0
    eta : float, > 0
    constants : {"tight", "poster"}

    Returns
    -------
    start, end : arrays shaped like sigma
    """
    sigma = v.positive(sigma, "sigma")
    eta = v.positive(eta, "eta")
    h = eta * sigma
    if constants == "poster":
        if np.any(h >= 0.5):
            raise ValueError(
                "eta * sigma must be < 1/2 for the poster's constants "
                "(else 2h - 4h^2 <= 0)"
            )
        return 2 / (2 * h + h**2), 2 / (2 * h - 4 * h**2)
    if constants == "tight":
        T = 1 / np.log1p(h)
        return T, T
    raise ValueError(f"constants must be 'poster' or 'tight', got {constants!r}")


def exactly_k_window_exists(sigma, eta, k, constants="poster"):
    """Whether some rescaled time has modes 1..k provably learned and no other mode.

    That is: the end of mode k's `transition_window` precedes the start of mode k+1's.

    Parameters
    ----------
    sigma : (m,) array, > 0, sorted decreasing
    eta : float, > 0
    k : int, 1 <= k < m
    constants : {"poster", "tight"}

    Returns
    -------
    bool
    """
    sigma = v.positive(sigma, "sigma")
    k = v.integer(k, "k", low=1, high=sigma.size - 1)
    start, end = transition_window(sigma, eta, constants)
    return bool(end[k - 1] < start[k])


def effective_initial_strengths(U, V, factors, k, orthogonalise=True):
    """Predicted effective initial strength of each mode, small arbitrary depth-2 start.

    Near zero, the component of the factors along mode i, s_i = ((U^T W_1)_{i,:} +
    (W_2 V)_{:,i}) / 2 in the hidden space, grows like exp(sigma_i t) (flow) or
    (1 + eta sigma_i)^t (descent), while the antisymmetric part decays: mode i then
    behaves as an aligned balanced mode started from ||s_i||^2. Once mode j is learned,
    the hidden direction it occupies is penalised for every later mode (a component
    there would create the cross term W_ij), so later modes keep only the part of s_i
    orthogonal to s_1, ..., s_{i-1}: Gram-Schmidt in the order of the modes (decreasing
    sigma).

    Parameters
    ----------
    U, V : (p, p) and (d, d) arrays
        Orthogonal mode bases.
    factors : list of two arrays
        [W_1 (p, r), W_2 (r, d)], the start.
    k : int
        Number of modes (<= r).
    orthogonalise : bool, default True
        False returns the naive ||s_i||^2 (no Gram-Schmidt): right for the first mode
        only, and badly wrong for later modes when the hidden width is close to k
        (chapters/08_initialisation measures it).

    Returns
    -------
    (k,) array
        Effective strengths, to use as `w0` in the closed forms and `half_way_times`.
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    if not isinstance(factors, (list, tuple)) or len(factors) != 2:
        raise ValueError("factors must be a list [W_1, W_2] (depth 2)")
    W1 = v.as_float_array(factors[0], "factors[0]", ndim=2)
    W2 = v.as_float_array(factors[1], "factors[1]", ndim=2)
    k = v.integer(k, "k", low=1, high=min(W1.shape[1], U.shape[1], V.shape[1]))
    S = 0.5 * ((U.T @ W1)[:k] + (W2 @ V)[:, :k].T)  # (k, r): s_i as rows
    if not orthogonalise:
        return np.sum(S**2, axis=1)
    _, R = np.linalg.qr(S.T)
    return np.diag(R) ** 2


def half_way_time_any_depth(sigma, lam, w0, depth):
    """Exact half-way time of the balanced flow w' = L w^{2-2/L} (sigma - lam w), any L.

    The integral of dw / (L w^{2-2/L} (sigma - lam w)) from w0 to sigma / (2 lam), by
    quadrature in u = log w (smooth even for tiny w0). Depth 1 and 2 agree with
    `half_way_times` (the tests check it).

    Parameters
    ----------
    sigma, lam, w0 : arrays broadcasting to (k,)
        Positive, with w0 < sigma / (2 lam).
    depth : int
        L >= 1.

    Returns
    -------
    (k,) array
        Times.
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

        val, _ = quad(
            integrand, np.log(a), np.log(s / (2 * l)), limit=200, epsabs=0, epsrel=1e-12
        )
        out[idx] = val
    return out


def escape_time(sigma, w0, depth):
    """Blow-up time t* of the small-w approximation w' = L sigma w^{2-2/L}, L >= 3.

    w^{-(L-2)/L} decreases linearly and vanishes at
    t* = w0^{-(L-2)/L} / ((L - 2) sigma): polynomial in 1/w0 (slope -(L-2)/L in
    log-log), against log(1/w0)/(2 sigma) for L = 2.

    Parameters
    ----------
    sigma, w0 : arrays broadcasting together, > 0
    depth : int
        L >= 3 (depth 2 escapes in logarithmic time: `half_way_times`).

    Returns
    -------
    array of the broadcast shape: t*
    """
    L = v.depth_at_least_3(depth, "half_way_times, logarithmic")
    sigma = v.positive(sigma, "sigma")
    w0 = v.positive(w0, "w0")
    return w0 ** (-(L - 2) / L) / ((L - 2) * sigma)


def escape_time_constant(sigma, lam, depth):
    """The constant C in t_half = t* + C - lam w0^{2/L} / (2 sigma^2) + O(w0^{1 + 2/L}).

    t_half is the half-way time of the balanced depth-L flow (`half_way_time_any_depth`)
    and t* = w0^{-(L-2)/L} / ((L - 2) sigma) the escape time (`escape_time`), L >= 3.
    Splitting 1 / (sigma - lam w) = 1/sigma + lam w / (sigma (sigma - lam w)) in the
    half-way integral, with a = 2/L and x = lam w / sigma,

        C = (sigma/lam)^{a-1} / sigma * ( I(a) / L - 2^{1-a} / (L - 2) ),
        I(a) = int_0^{1/2} x^{a-1} / (1 - x) dx = 2^{-a} / a * 2F1(1, a; a + 1; 1/2),

    (the first term is the part of the integral that converges as w0 -> 0, the second
    the upper limit of the leading term) and the w0-dependent remainder is

        -int_0^{w0} lam w^{a-1} / (L sigma (sigma - lam w)) dw
            = -lam w0^a / (2 sigma^2) (1 + O(w0)).

    The sign of C depends on L only: C < 0 for L = 3, 4, 5 and C > 0 for every L >= 6
    (there I(a) > 2^{-a} / a, its first series term, suffices). Derived in
    chapters/07_depth.

    Parameters
    ----------
    sigma, lam : arrays broadcasting together, > 0
        Paired spectra.
    depth : int
        L >= 3 (C has no meaning for depth 2, whose half-way time is logarithmic).

    Returns
    -------
    C : array of the broadcast shape
    """
    from scipy.special import hyp2f1

    L = v.depth_at_least_3(depth, "half_way_times, logarithmic")
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = np.broadcast_arrays(sigma, lam)
    a = 2.0 / L
    integral = 2.0**-a / a * hyp2f1(1.0, a, a + 1.0, 0.5)
    return (sigma / lam) ** (a - 1) / sigma * (integral / L - 2.0 ** (1 - a) / (L - 2))


def plateau_and_rrr_gains(sigma, lam):
    """Loss decrease f(0) - f at the flow's plateaus and at the reduced-rank solutions.

    Under the exact assumption mode i is worth sigma_i^2 / (2 lam_i): the two-layer
    flow's k-th plateau keeps the k largest sigma_i, the rank-k reduced-rank solution
    the k largest sigma_i^2 / lam_i.

    Parameters
    ----------
    sigma, lam : arrays broadcasting to (..., m), > 0
        sigma sorted decreasing along the last axis.

    Returns
    -------
    plateau, rrr : arrays of shape (..., m + 1)
        Entry k is the gain at rank k.
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


def plateau_trace_distance_bound(t, sigma, lam, w0, eta, k):
    """Upper bound on the trace-norm distance from depth-2 descent to the k-th plateau.

    From the all-t bounds of `discrete_bounds` (aligned balanced start):

        ||W_t - W_k||_* <= sum_{i <= k} (sigma_i / lam_i - lower_i(t))
                           + sum_{i > k} upper_i(t),

    where W_k keeps the first k modes at their limits sigma_i / lam_i (the rank-k
    reduced-rank solution when the modes are listed in decreasing sigma and the ordering
    condition holds; for the auto-encoder the top-k principal projector). Valid because
    lower_i <= w_i(t) <= upper_i <= sigma_i / lam_i for every t (eps = 0). The Frobenius
    counterpart, with a lower bound too, is `plateau_frobenius_distance_bounds`.

    Parameters
    ----------
    t : array, any shape
        Iterations >= 0.
    sigma, lam, w0 : (m,) arrays
        Modes in the order they are learned; eta * sigma <= 1/2.
    eta : float, > 0
    k : int, 0 <= k <= m

    Returns
    -------
    array of shape t.shape
    """
    lower, upper = discrete_bounds(t, sigma, lam, w0, eta)
    m = lower.shape[-1]
    k = v.integer(k, "k", low=0, high=m)
    limits = np.broadcast_to(np.asarray(sigma, float) / np.asarray(lam, float), (m,))
    learned = np.arange(m) < k
    return np.where(learned, limits - lower, upper).sum(axis=-1)


def discrete_plateau_times(sigma, eta):
    """Where descent is closest to its k-th plateau, and how fast it gets there.

    With w0 = exp(-2 delta) and T_i = 1 / log(1 + eta sigma_i), at iteration tau * delta
    (T_k < tau < T_{k+1}) the distance to the top-k-by-sigma map decays like
    exp(-c delta) with c = 2 min(tau / T_k - 1, 1 - tau / T_{k+1}) (the plateau theorem
    of chapters/03_discrete). The two rates balance at tau* = 2 / (l_k + l_{k+1}),
    l_i = log(1 + eta sigma_i), where c* = 2 (l_k - l_{k+1}) / (l_k + l_{k+1}).

    Parameters
    ----------
    sigma : (m,) array
        Strictly decreasing, m >= 2.
    eta : float
        Step size > 0.

    Returns
    -------
    tau : (m - 1,) array
        Balancing rescaled iteration of plateaus k = 1 .. m-1.
    rate : (m - 1,) array
        The exact exponential rate c* at tau.
    """
    sigma = v.positive(sigma, "sigma")
    if sigma.ndim != 1 or sigma.size < 2 or np.any(np.diff(sigma) >= 0):
        raise ValueError(
            f"sigma must be 1-D, strictly decreasing, with >= 2 modes, got {sigma}"
        )
    eta = float(v.positive(eta, "eta"))
    log_h = np.log1p(eta * sigma)
    total = log_h[:-1] + log_h[1:]
    return 2.0 / total, 2.0 * (log_h[:-1] - log_h[1:]) / total


def plateau_frobenius_distance_bounds(t, sigma, lam, w0, eta, k):
    """Bounds on the Frobenius distance from depth-2 descent to the k-th plateau.

    W^k = sum_{i <= k} (sigma_i / lam_i) u_i v_i^T (the k largest sigma_i). From
    `discrete_bounds` (requires eta sigma_1 <= 1/2, 0 < w0 <= sigma / lam): the modes
    are orthogonal rank-one terms, so the squared distance is
    sum_{i <= k} (sigma_i / lam_i - w_i)^2 + sum_{i > k} w_i^2, and each term is bounded
    by the lower / upper bound of its mode. Lower bound: the term of mode k + 1 alone
    (0 for k = m). The trace-norm counterpart is `plateau_trace_distance_bound`.

    Parameters
    ----------
    t : array, any shape
        Iterations >= 0.
    sigma, lam : (m,) arrays
        sigma decreasing.
    w0 : float or (m,) array
    eta : float, > 0
    k : int, 0 <= k <= m

    Returns
    -------
    lower, upper : arrays of shape t.shape
    """
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    if sigma.ndim != 1 or np.any(np.diff(sigma) > 0):
        raise ValueError(f"sigma must be 1-D and sorted decreasing, got {sigma}")
    m = sigma.size
    k = v.integer(k, "k", low=0, high=m)
    low, up = discrete_bounds(t, sigma, lam, w0, eta)
    limit = sigma / lam
    gap_learned = np.clip(limit - low, 0.0, None)[..., :k]
    upper = np.sqrt(np.sum(gap_learned**2, axis=-1) + np.sum(up[..., k:] ** 2, axis=-1))
    lower = low[..., k] if k < m else np.zeros(upper.shape)
    return lower, upper


def order_agreement(sigma, lam):
    """Whether the k largest sigma_i are the k largest sigma_i^2 / lam_i, for each k.

    Under the exact assumption the two-layer flow's k-th plateau keeps the k largest
    sigma_i and the rank-k reduced-rank solution the k largest gains sigma_i^2 / lam_i
    (`plateau_and_rrr_gains`): the plateau is the reduced-rank solution iff the two
    top-k sets coincide. A tie between gains counts as a disagreement.

    Parameters
    ----------
    sigma, lam : arrays broadcasting to (..., m)
        Positive; any order of the modes.

    Returns
    -------
    agree : (..., m - 1) bool array
        Entry k - 1 is rank k = 1 .. m - 1 (ranks 0 and m always agree).
    """
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = v.broadcast_modes(sigma=sigma, lam=lam)
    order = np.argsort(-sigma, axis=-1, kind="stable")
    gain = np.take_along_axis(sigma**2 / lam, order, axis=-1)
    worst_kept = np.minimum.accumulate(gain, axis=-1)[..., :-1]
    best_left = np.flip(np.maximum.accumulate(np.flip(gain, -1), axis=-1), -1)[..., 1:]
    return worst_kept > best_left


def _gauss_legendre(a, b, nodes):
    """Nodes and weights of `nodes`-point Gauss-Legendre on [a, b] (arrays broadcast).

    Returns arrays of shape broadcast(a, b).shape + (nodes,).
    """
    x, w = np.polynomial.legendre.leggauss(nodes)
    a, b = np.asarray(a)[..., None], np.asarray(b)[..., None]
    half = (b - a) / 2
    return a + half * (x + 1), half * w


def rank_one_agreement(m, spread, tau_law, beta=0.0, nodes=40):
    """Exact probability that the mode of largest sigma_i also has the largest gain.

    Gain sigma_i^2 / lam_i, for m i.i.d. modes drawn as in `lib.problems.random_spectra`
    (lam log-uniform on [1/s, s], sigma = lam^beta tau).

    With l = log lam, t = log tau, x = log sigma = beta l + t and y = log gain = 2x - l,
    the modes are i.i.d. points (x, y) and the event is "one point is above and to the
    right of all others": P = m E[C(x, y)^(m - 1)], C the joint CDF of (x, y). For a
    point (l0, t0), splitting at l = l0 (where the binding constraint switches),

        C = 1/(2 ln s) [ int_{-ln s}^{l0} F_t(t0 + (beta - 1/2)(l0 - l)) dl
                       + int_{l0}^{ln s} F_t(t0 - beta (l - l0)) dl ],

    F_t(u) = P(tau < e^u). Both integrals are Gauss-Legendre on pieces split where the
    argument crosses the ends of the support of tau (F_t is smooth in between); the
    outer expectation is Gauss-Legendre in l0 and in the quantile q of tau (after
    q = u^2 (3 - 2u), which tames the ends where log ppf(q) is singular).

    Parameters
    ----------
    m : int
        Number of modes, >= 1.
    spread : float
        s >= 1.
    tau_law : `lib.problems.FactorLaw` or frozen scipy.stats law
        Law of tau, on positive numbers.
    beta : float
        Exponent of lam in sigma.
    nodes : int
        Gauss-Legendre nodes per axis and per piece.

    Returns
    -------
    float
        The probability (1 when spread = 1 or m = 1).
    """
    m = v.integer(m, "m", low=1)
    spread = float(v.as_float_array(spread, "spread", ndim=0))
    if spread < 1:
        raise ValueError(f"spread must be >= 1, got {spread}")
    beta = float(v.as_float_array(beta, "beta", ndim=0))
    nodes = v.integer(nodes, "nodes", low=2)
    if not all(hasattr(tau_law, a) for a in ("ppf", "cdf", "support")):
        raise ValueError(
            "tau_law must be a FactorLaw or a frozen scipy.stats law, got "
            f"{type(tau_law).__name__}"
        )
    half = np.log(spread)
    if m == 1 or half == 0:
        return 1.0
    l0, wl = _gauss_legendre(-half, half, nodes)
    u, wu = _gauss_legendre(0.0, 1.0, nodes)
    # q = u^2 (3 - 2u) clusters nodes at both ends, where log ppf(q) is singular
    q, wq = u**2 * (3 - 2 * u), wu * 6 * u * (1 - u)
    l0, t0 = l0[:, None], np.log(tau_law.ppf(q))[None, :]  # outer grid (nodes, nodes)
    with np.errstate(divide="ignore"):
        ends = np.log(np.asarray(tau_law.support(), dtype=float))
    ends = ends[np.isfinite(ends)]

    def side(lo, hi, slope, sign):
        """int_lo^hi F_t(t0 + slope |l - l0|) dl, with l = l0 + sign * r, r >= 0."""
        r_hi = np.broadcast_to(
            np.abs(np.where(sign < 0, l0 - lo, hi - l0)), t0.shape[:0] + (nodes, nodes)
        )
        cuts = [np.zeros_like(r_hi), r_hi]
        if slope != 0:
            cuts += [np.clip((e - t0) / slope, 0, r_hi) for e in ends]
        cuts = np.sort(np.stack(np.broadcast_arrays(*cuts), axis=-1), axis=-1)
        r, w = _gauss_legendre(cuts[..., :-1], cuts[..., 1:], nodes)
        with np.errstate(over="ignore"):
            F = tau_law.cdf(np.exp(t0[..., None, None] + slope * r))
        return np.sum(F * w, axis=(-2, -1))

    C = (side(-half, half, beta - 0.5, -1) + side(-half, half, -beta, +1)) / (2 * half)
    return float(m * np.sum(wl[:, None] * wq[None, :] * C ** (m - 1)) / (2 * half))


def plateau_instability_rates(sigma, lam, eta=None):
    """Growth rate of a later mode along an earlier mode's hidden direction (plateau).

    Depth 2, eps = 0, at a plateau where mode i is learned (W_1 and W_2 carry
    sqrt(sigma_i / lam_i) on a hidden direction h) and mode j is not, the components
    x = h . (U^T W_1)_j and y = h . (W_2 V)_j of mode j along h evolve, to first
    order, by

        d/dt (x, y) = J_ij (x, y),   J_ij = [[-lam_j sigma_i / lam_i, sigma_j],
                                             [sigma_j,             -sigma_i]],

    a symmetric block whose top eigenvalue mu_ij is positive iff
    sigma_j^2 / lam_j > sigma_i^2 / lam_i (det J_ij < 0). Derived in
    chapters/06_perturbations.

    Parameters
    ----------
    sigma, lam : (k,) arrays
        Spectra (sigma > 0, lam > 0).
    eta : float or None
        None for gradient flow; a step size for gradient descent, whose linearised map
        is I + eta J_ij.

    Returns
    -------
    R : (k, k) array
        R[i, j] = mu_ij (flow, per unit time) or the log of the spectral radius of
        I + eta J_ij (descent, per iteration; log(1 + eta mu_ij) when that is the
        largest in modulus); NaN on the diagonal. Positive means growth.
    """
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    sigma, lam = v.broadcast_modes(sigma=sigma, lam=lam)
    if sigma.ndim != 1:
        raise ValueError(f"sigma and lam must be 1-D (k,), got shape {sigma.shape}")
    si, li = sigma[:, None], lam[:, None]
    sj, lj = sigma[None, :], lam[None, :]
    a, b = lj * si / li, si  # minus the diagonal of J_ij
    root = np.sqrt((a - b) ** 2 + 4 * sj**2)
    mu = (-(a + b) + root) / 2
    if eta is not None:
        eta = float(v.positive(eta, "eta"))
        bottom = (-(a + b) - root) / 2  # the other eigenvalue of the symmetric block
        with np.errstate(divide="ignore"):
            mu = np.log(np.maximum(np.abs(1 + eta * mu), np.abs(1 + eta * bottom)))
    mu = np.array(mu, dtype=float)
    np.fill_diagonal(mu, np.nan)
    return mu


def instability_crossover_delta(sigma, lam, eps, eta=None):
    """Predicted delta beyond which an eps-seeded instability beats sequential learning.

    The instability is that of a plateau (`plateau_instability_rates`).

    For sigma_i > sigma_j with R_ij > 0 (`plateau_instability_rates`), mode j's
    component along mode i's hidden direction is seeded at O(eps) by B once mode i is
    learned, and grows like eps exp(R_ij (t - t_i)); along its own direction mode j
    starts from w0 = exp(-2 delta) and is learned at t_j. The eps seed wins when
    R_ij (t_j - t_i) > log(1 / eps), with t_i, t_j the depth-2 half-way times
    (`half_way_times`), which are linear in delta:

        t_j - t_i = delta (T_j - T_i)
                    + (T_j log(sigma_j / lam_j) - T_i log(sigma_i / lam_i)) / 2

    (large delta; T = `transition_time_rescaled`). The O(1) prefactor of the seed (the
    size of B's entry (j, i) relative to eps) is left out: it moves the answer by
    O(1) / g_ij, g_ij = R_ij (T_j - T_i) being the growth exponent per unit of delta.

    Parameters
    ----------
    sigma : (k,) array
        Decreasing.
    lam : (k,) array
    eps : float
        Size of the perturbation that seeds the instability, > 0.
    eta : float or None
        None for the flow, else the step size.

    Returns
    -------
    delta_star : (k, k) array
        Finite only for pairs i < j whose instability is active (R_ij > 0): the delta
        at which the seed of pair (i, j) wins.
    g : (k, k) array
        g_ij (NaN where not i < j).
    """
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    if sigma.ndim != 1 or np.any(np.diff(sigma) >= 0):
        raise ValueError(f"sigma must be 1-D and strictly decreasing, got {sigma}")
    eps = float(v.positive(eps, "eps"))
    R = plateau_instability_rates(sigma, lam, eta)
    T = transition_time_rescaled(sigma, eta)
    k = sigma.size
    later = np.triu(np.ones((k, k), bool), 1)  # i < j: mode i is learned first
    offset = (T * np.log(sigma / lam))[None, :] / 2 - (T * np.log(sigma / lam))[
        :, None
    ] / 2
    dT = T[None, :] - T[:, None]
    g = np.where(later, R * dT, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta_star = np.where(
            later & (R > 0), (np.log(1 / eps) / R - offset) / dT, np.nan
        )
    return delta_star, g


# ---------------------------------------------- critical points of two-layer regression


def whitened_regression(Sxx, Sxy, rtol=1e-10):
    """The regression in prediction space, where f is an isotropic quadratic.

    With Sxx = Q diag(lam) Q^T restricted to its range (eigenvalues above
    rtol * lam_max; the rest are directions the data never vary along, where W does not
    change f), Z = Sxx^{1/2} W and M = Sxx^{+1/2} Sxy, the loss is
    f(W) = f* + 1/2 ||Z - M||_F^2. The SVD M = sum_i s_i u_i v_i^T gives the
    reduced-rank regression order: s_i^2 are the eigenvalues of Sxy^T Sxx^+ Sxy, and
    W^{k,*} keeps the k largest.

    Parameters
    ----------
    Sxx : (p, p) array
        Symmetric positive semi-definite.
    Sxy : (p, d) array
        Columns in the range of Sxx (true for moments of data).
    rtol : float
        Relative cut for both spectra.

    Returns
    -------
    dict
        half (p, p) = Sxx^{1/2}, inv_half (p, p) = Sxx^{+1/2}, U (p, m), s (m,)
        decreasing, V (d, m): the m modes with s_i > rtol * s_1 (m = rank of M).
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", ndim=2)
    p = Sxy.shape[0]
    if Sxx.shape != (p, p):
        raise ValueError(
            f"Sxx must have shape ({p}, {p}) to match Sxy {Sxy.shape}, got {Sxx.shape}"
        )
    if not np.allclose(Sxx, Sxx.T, atol=1e-12 * max(np.abs(Sxx).max(), 1e-300)):
        raise ValueError("Sxx must be symmetric")
    lam, Q = np.linalg.eigh(Sxx)
    if lam.max() <= 0:
        raise ValueError("Sxx must have a positive eigenvalue")
    keep = lam > rtol * lam.max()
    Qr, lr = Q[:, keep], lam[keep]
    half = (Qr * np.sqrt(lr)) @ Qr.T
    inv_half = (Qr / np.sqrt(lr)) @ Qr.T
    if np.linalg.norm(Sxy - Qr @ (Qr.T @ Sxy)) > 1e-8 * max(
        np.linalg.norm(Sxy), 1e-300
    ):
        raise ValueError("Sxy must lie in the range of Sxx (moments of data do)")
    U, s, Vt = np.linalg.svd(inv_half @ Sxy, full_matrices=False)
    m = int(np.sum(s > rtol * s[0])) if s[0] > 0 else 0
    return {
        "half": half,
        "inv_half": inv_half,
        "U": U[:, :m],
        "s": s[:m],
        "V": Vt[:m].T,
    }


def critical_points_two_layer(Sxx, Sxy, subsets, rtol=1e-10):
    """End-to-end maps of critical points of f(W_1 W_2) (Baldi and Hornik, 1989).

    For a subset I of the modes of `whitened_regression` (indices into s, decreasing),
    W_I = W_ols V_I V_I^T = Sxx^{+1/2} sum_{i in I} s_i u_i v_i^T, with
    W_ols = Sxx^+ Sxy the minimum-norm least-squares map. Factors W_1 = W_ols V_I,
    W_2 = V_I^T (any hidden width >= |I|, zero-padded) have zero gradient, and
    f(W_I) = f(0) - 1/2 sum_{i in I} s_i^2. I = {0, ..., k-1} is the reduced-rank
    solution W^{k,*}; I = all is W_ols.

    Parameters
    ----------
    Sxx, Sxy : (p, p) and (p, d) arrays
        As in `whitened_regression`.
    subsets : sequence of K sequences of int
        Distinct mode indices in [0, m).
    rtol : float
        As in `whitened_regression`.

    Returns
    -------
    W : (K, p, d) array
        The minimum-norm maps (rows in the range of Sxx).
    """
    wr = whitened_regression(Sxx, Sxy, rtol)
    m = wr["s"].size
    mask = np.zeros((len(subsets), m), dtype=bool)
    for j, I in enumerate(subsets):
        idx = np.asarray(list(I), dtype=int)
        if idx.size and (
            idx.min() < 0 or idx.max() >= m or np.unique(idx).size != idx.size
        ):
            raise ValueError(
                f"subsets[{j}] = {list(I)} must hold distinct mode indices in [0, {m})"
            )
        mask[j, idx] = True
    left = wr["inv_half"] @ wr["U"]  # (p, m)
    return (left * (mask * wr["s"])[:, None, :]) @ wr["V"].T


def nearest_critical_point(Sxx, Sxy, W, rtol=1e-10):
    """The critical point of the two-layer loss nearest to each map (prediction space).

    Over all 2^m subsets I of `critical_points_two_layer`, with the distance
    ||Sxx^{1/2}(W - W_I)||_F. With Z = Sxx^{1/2} W and a_i = u_i^T Z v_i,
    ||Z - C_I||^2 = ||Z||^2 + sum_{i in I} (s_i^2 - 2 s_i a_i), minimised by
    I = {i : a_i > s_i / 2}: exact when the s_i are distinct (else the critical set also
    holds rotations within tied modes).

    Parameters
    ----------
    Sxx : (p, p) array
    Sxy : (p, d) array
    W : (..., p, d) array
    rtol : float
        Relative cut of `whitened_regression`.

    Returns
    -------
    members : (..., m) bool array
        i in I.
    distance : (...) array
    a : (..., m) array
        The coordinates a_i.
    """
    wr = whitened_regression(Sxx, Sxy, rtol)
    W = v.as_float_array(W, "W", min_ndim=2)
    if W.shape[-2:] != Sxy.shape:
        raise ValueError(f"W must have trailing shape {Sxy.shape}, got {W.shape}")
    Z = wr["half"] @ W
    s = wr["s"]
    a = np.sum((wr["U"].T @ Z) * wr["V"].T, axis=-1)  # diag(U^T Z V), with BLAS
    members = a > s / 2
    d2 = np.sum(Z * Z, axis=(-2, -1)) + np.sum(
        np.where(members, s**2 - 2 * s * a, 0.0), axis=-1
    )
    return members, np.sqrt(np.maximum(d2, 0.0)), a


def critical_point_distances(Sxx, Sxy, W, subsets, rtol=1e-10):
    """Prediction-space distances from maps to the critical points W_I of given subsets.

    ||Sxx^{1/2}(W - W_I)||_F for the W_I of `critical_points_two_layer`, using
    ||Z - C_I||^2 = ||Z||^2 + sum_{i in I} (s_i^2 - 2 s_i a_i), Z = Sxx^{1/2} W,
    a_i = u_i^T Z v_i (see `nearest_critical_point`): one pass over the maps for all I.

    Parameters
    ----------
    Sxx : (p, p) array
    Sxy : (p, d) array
    W : (..., p, d) array
    subsets : sequence of K sequences of int
        Distinct mode indices in [0, m).
    rtol : float
        Relative cut of `whitened_regression`.

    Returns
    -------
    (..., K) array
    """
    wr = whitened_regression(Sxx, Sxy, rtol)
    W = v.as_float_array(W, "W", min_ndim=2)
    if W.shape[-2:] != Sxy.shape:
        raise ValueError(f"W must have trailing shape {Sxy.shape}, got {W.shape}")
    s = wr["s"]
    mask = np.zeros((len(subsets), s.size))
    for j, I in enumerate(subsets):
        idx = np.asarray(list(I), dtype=int)
        if idx.size and (
            idx.min() < 0 or idx.max() >= s.size or np.unique(idx).size != idx.size
        ):
            raise ValueError(
                f"subsets[{j}] = {list(I)} must hold distinct mode indices in [0, "
                f"{s.size})"
            )
        mask[j, idx] = 1.0
    Z = wr["half"] @ W
    a = np.sum((wr["U"].T @ Z) * wr["V"].T, axis=-1)  # diag(U^T Z V), with BLAS
    d2 = np.sum(Z * Z, axis=(-2, -1))[..., None] + (s**2 - 2 * s * a) @ mask.T
    return np.sqrt(np.maximum(d2, 0.0))
