"""Gradient descent and gradient flow for deep linear networks.

Two levels, which the tests hold against each other:

* decoupled modes (`discrete_modes`, `mode_flow`): from the aligned balanced start each
  mode strength w_i evolves on its own; cost O(k) per step;
* full matrices (`gradient_descent`, `gradient_flow`): the factors W_1 (p, r_1), ...,
  W_L (r_{L-1}, d) themselves, from any start, on the loss
  f = 1/(2n) ||Y - X W_1 ... W_L||_F^2 = 1/2 tr(W^T Sxx W) - tr(W^T Sxy) + const.
  Every step uses only the moments Sxx (p, p) and Sxy (p, d): its cost does not depend
  on n.

Gradient of f with respect to factor l, with W_{<l} = W_1 ... W_{l-1} and
W_{>l} = W_{l+1} ... W_L (identity when empty):

    grad_l = W_{<l}^T (Sxx W - Sxy) W_{>l}^T.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from .problems import moments
from .stability import mode_stable_step_size, stable_step_size

DivergenceError = v.DivergenceError


def _solve_ivp():
    """Return scipy's solve_ivp, imported on first use.

    Importing scipy.integrate takes about half a second, which every chapter would pay
    in its first cell, flow or not.
    """
    from scipy.integrate import solve_ivp

    return solve_ivp


# --------------------------------------------------------------------------- modes
def discrete_modes(sigma, lam, w0, eta, steps, depth=2):
    """Exact gradient-descent iterates of the mode strengths, aligned balanced start.

    Each of the L factors carries a = w^{1/L} on the mode, and one step is
        a <- a + eta (sigma - lam a^L) a^{L-1},    w = a^L,
    i.e. w <- w (1 + eta (sigma - lam w))^2 for L = 2 and
    w <- w + eta (sigma - lam w) for L = 1.

    Parameters
    ----------
    sigma, lam, w0, eta : arrays broadcasting to a common shape (..., k)
        A batch of step sizes or spectra costs one loop; lam > 0, eta > 0, w0 >= 0
        when depth >= 2.
    steps : int
        Number of steps, >= 0.
    depth : int
        Number of factors L >= 1.

    Returns
    -------
    w : (steps + 1, ..., k) array
        w[t] is the strength after t steps.

    Raises
    ------
    DivergenceError
        If an iterate overflows, naming the step and the per-mode stable step size
        2 / (L lam w*^{2-2/L}), w* = sigma / lam.
    """
    L = v.depth(depth)
    steps = v.integer(steps, "steps", low=0)
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    eta = v.positive(eta, "eta")
    w0 = v.initial_strengths(w0, L)
    sigma, lam, w0, eta = v.broadcast_modes(sigma=sigma, lam=lam, w0=w0, eta=eta)
    out = np.empty((steps + 1,) + w0.shape)
    out[0] = w0
    a = w0 ** (1.0 / L)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            w = out[t - 1]
            if L == 1:
                out[t] = w + eta * (sigma - lam * w)
                continue
            a = a + eta * (sigma - lam * w) * a ** (L - 1)
            out[t] = a**L
            if not np.isfinite(out[t]).all():
                bad = np.argwhere(~np.isfinite(out[t]))[0]
                limit = mode_stable_step_size(np.where(sigma > 0, sigma, 1.0), lam, L)
                raise DivergenceError(
                    f"discrete_modes diverged at step {t} (mode index {tuple(bad)}): "
                    f"eta = {eta[tuple(bad)]:.6g} but the mode is stable only for "
                    f"eta < {limit[tuple(bad)]:.6g} (= 2 / (L lam w*^(2-2/L)))",
                    step=t,
                    stable_eta=float(limit[tuple(bad)]),
                )
    if L == 1 and not np.isfinite(out).all():
        t = int(np.argwhere(~np.isfinite(out))[0, 0])
        limit = float((2 / lam).min())
        raise DivergenceError(
            f"discrete_modes diverged at step {t}: depth 1 is stable only for eta < "
            f"2/lam = {limit:.6g}",
            step=t,
            stable_eta=limit,
        )
    return out


def discrete_mode_gaps(sigma, lam, w0, eta, steps):
    """Relative distance y_t = 1 - lam w_t / sigma of the depth-2 mode map to its limit.

    Computed without cancellation: with x = lam w / sigma and h = eta sigma the map
    x -> x (1 + h (1 - x))^2 becomes, exactly,

        y_{t+1} = y_t (1 - 2h + h y_t (2 - h + h y_t)),

    which keeps full relative precision as y -> 0, where w_t itself rounds to sigma/lam.
    Needed to see where a bound fails close to saturation.

    Parameters
    ----------
    sigma, lam, w0, eta : arrays broadcasting to (..., k)
        As in `discrete_modes` (depth 2); w0 > 0 and eta * sigma <= 2.
    steps : int, >= 0

    Returns
    -------
    y : array, shape (steps + 1, ..., k)
    """
    steps = v.integer(steps, "steps", low=0)
    sigma = v.positive(sigma, "sigma")
    lam = v.positive(lam, "lam")
    eta = v.positive(eta, "eta")
    w0 = v.positive(w0, "w0")
    sigma, lam, w0, eta = v.broadcast_modes(sigma=sigma, lam=lam, w0=w0, eta=eta)
    h = eta * sigma
    if np.any(h > 2):
        raise ValueError(
            "eta * sigma must be <= 2 (beyond it the mode map diverges), got max "
            f"{h.max():.4g}"
        )
    y = np.empty((steps + 1,) + w0.shape)
    y[0] = 1 - lam * w0 / sigma
    for t in range(1, steps + 1):
        yt = y[t - 1]
        y[t] = yt * (1 - 2 * h + h * yt * (2 - h + h * yt))
    return y


def mode_map_attractor(h, steps=4000, keep=256, x0=1e-3):
    """Long-run orbit of the normalised depth-2 mode map x -> x (1 + h (1 - x))^2.

    x = lam w / sigma and h = eta sigma: one map for every mode and step size.
    Vectorised over h; used for the bifurcation diagram.

    Parameters
    ----------
    h : (H,) array
        Values of eta * sigma, > 0.
    steps : int
        Iterations in all.
    keep : int
        How many of the last iterates to return.
    x0 : float
        Start, in (0, 1).

    Returns
    -------
    tail : (keep, H) array
        The last `keep` iterates (NaN in the columns that diverged).
    diverged : (H,) bool array
        True where the orbit passed the repelling fixed point x = 1 + 2/h, beyond which
        it grows without bound (this happens for h > 2).
    """
    h = v.positive(h, "h")
    if h.ndim != 1:
        raise ValueError(f"h must be 1-D, got shape {h.shape}")
    steps = v.integer(steps, "steps", low=1)
    keep = v.integer(keep, "keep", low=1, high=steps)
    x0 = float(v.positive(x0, "x0"))
    x = np.full(h.shape, x0)
    escape = 1 + 2 / h
    diverged = np.zeros(h.shape, bool)
    tail = np.empty((keep, h.size))
    for t in range(steps):
        x = x * (1 + h * (1 - x)) ** 2
        diverged |= x > escape
        x = np.where(
            diverged, 0.0, x
        )  # frozen at 0 once gone; reported through `diverged`
        if t >= steps - keep:
            tail[t - (steps - keep)] = x
    tail[:, diverged] = np.nan
    return tail, diverged


def mode_flow(t, sigma, lam, w0, depth=2, rtol=1e-11):
    """Balanced gradient flow of the mode strengths, any depth (numerical integration).

    dw/dt = L w^{2 - 2/L} (sigma - lam w) (the logistic equation for L = 2), integrated
    with scipy's DOP853 in u = log w for L >= 2 (so that tiny starts keep full relative
    accuracy) and in w for L = 1 (linear, and stiff in log w near zero).

    Parameters
    ----------
    t : array
        Times >= 0, any shape.
    sigma, lam : (k,) arrays
        Paired spectra (sigma >= 0, lam > 0).
    w0 : (k,) array
        Initial mode strengths, > 0.
    depth : int
        Number of factors L >= 1.
    rtol : float
        Relative tolerance of the integrator.

    Returns
    -------
    w : t.shape + (k,) array
    """
    L = v.depth(depth)
    t = v.times(t)
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    w0 = v.positive(w0, "w0")
    sigma, lam, w0 = v.broadcast_modes(sigma=sigma, lam=lam, w0=w0)
    if sigma.ndim != 1:
        raise ValueError(
            f"sigma, lam and w0 must broadcast to one dimension (k,), got {sigma.shape}"
        )
    times = np.unique(t.ravel())
    t_end = float(times[-1]) if times.size else 0.0
    if L == 1:
        # Linear in w: integrate w itself (in log w the equation is stiff near w = 0).
        sol = _solve_ivp()(
            lambda _, w: sigma - lam * w,
            (0.0, t_end),
            w0,
            t_eval=times,
            method="DOP853",
            rtol=rtol,
            atol=1e-14,
        )
    else:

        def rhs(_, u):
            w = np.exp(u)
            return L * w ** (1 - 2 / L) * (sigma - lam * w)

        sol = _solve_ivp()(
            rhs,
            (0.0, t_end),
            np.log(w0),
            t_eval=times,
            method="DOP853",
            rtol=rtol,
            atol=1e-12,
        )
    if not sol.success:
        raise RuntimeError(f"mode_flow: the ODE solver failed: {sol.message}")
    w_sorted = sol.y.T if L == 1 else np.exp(sol.y.T)
    return w_sorted[np.searchsorted(times, t.ravel())].reshape(t.shape + (sigma.size,))


# ------------------------------------------------------------------------ full matrices
def check_factors(factors, p: int, d: int) -> list[np.ndarray]:
    """Validate a list of factors that chain from p inputs to d outputs.

    Parameters
    ----------
    factors : list or tuple of L arrays
        W_1 (..., p, r_1), ..., W_L (..., r_{L-1}, d).
    p, d : int
        Input and output dimensions.

    Returns
    -------
    list of L arrays
        Float copies of the factors.
    """
    if not isinstance(factors, (list, tuple)) or len(factors) == 0:
        raise ValueError("factors must be a non-empty list of 2-D arrays W_1, ..., W_L")
    fs = [
        v.as_float_array(W, f"factors[{i}]", min_ndim=2).copy()
        for i, W in enumerate(factors)
    ]
    if fs[0].shape[-2] != p:
        raise ValueError(
            f"factors[0] must have {p} rows (the input dimension p), got shape "
            f"{fs[0].shape}"
        )
    if fs[-1].shape[-1] != d:
        raise ValueError(
            f"factors[-1] must have {d} columns (the output dimension d), got shape "
            f"{fs[-1].shape}"
        )
    for i in range(len(fs) - 1):
        if fs[i].shape[-1] != fs[i + 1].shape[-2]:
            raise ValueError(
                f"factors[{i}] {fs[i].shape} and factors[{i + 1}] {fs[i + 1].shape} "
                "do not chain"
            )
    return fs


def product(factors) -> np.ndarray:
    """End-to-end map W_1 W_2 ... W_L, batched over leading axes.

    Parameters
    ----------
    factors : list of L arrays
        W_1 (..., p, r_1), ..., W_L (..., r_{L-1}, d).

    Returns
    -------
    (..., p, d) array
    """
    out = factors[0]
    for W in factors[1:]:
        out = out @ W
    return out


def factor_gradients(Sxx, Sxy, factors, scale=None):
    """Gradients of f with respect to every factor, from the moments.

    Cost: 3L - 2 matrix products, none of size n; the scale is applied once, to the
    (p, d) gradient of the end-to-end map, before it is spread to the factors. The same
    sweep as every descent step, in fresh buffers.

    Parameters
    ----------
    Sxx : (..., p, p) array
    Sxy : (..., p, d) array
    factors : list of L arrays
        W_1 (..., p, r_1), ..., W_L (..., r_{L-1}, d).
    scale : float or array, optional
        Multiplies every gradient; an array broadcasts against the batch axes as
        (..., 1, 1).

    Returns
    -------
    grads : list of L arrays
        grad_l, with the shapes of the factors.
    W : (..., p, d) array
        The product W_1 ... W_L.
    """
    Sxx = np.asarray(Sxx)
    workspace = _GradientWorkspace(factors, Sxx.shape[-1], factors[-1].shape[-1])
    return workspace.gradients(Sxx, Sxy, factors, scale)


class _GradientWorkspace:
    """Buffers for the gradient sweep, so that a descent step allocates no array.

    Why: a batch of 64 runs at p = 16 makes every temporary 128 KiB, the size at which
    the allocator maps fresh pages, and the page faults cost as much as the products;
    and numpy's stacked matmul is 2x slower when its second operand is a transposed
    view, so stacked factors are transposed into a buffer first.

    With W_{<l} = W_1 ... W_{l-1} and G = Sxx W - Sxy, the sweep runs from the output
    side, keeping right = G W_{>l}^T: grad_l = W_{<l}^T right, then right <- right
    W_l^T.
    """

    def __init__(self, factors, p: int, d: int):
        L = len(factors)
        batch = factors[0].shape[:-2]
        dims = [p] + [F.shape[-1] for F in factors]  # r_0 = p, ..., r_L = d
        self.L = L
        self.stacked = bool(batch)
        self.prefix = [
            np.empty(batch + (p, dims[l + 1])) for l in range(1, L)
        ]  # W_{<=l}, l >= 1
        self.G = np.empty(batch + (p, d))
        self.right = [
            np.empty(batch + (p, dims[l + 1])) for l in range(L - 1)
        ]  # G W_{>l}^T
        self.grads = [np.empty(F.shape) for F in factors]
        self.factor_t = [
            np.empty(batch + F.shape[-1:] + F.shape[-2:-1]) if self.stacked else None
            for F in factors
        ]

    def gradients(self, Sxx, Sxy, fs, scale=None):
        """(grads, W) for the factors `fs`, leaving them untouched.

        Both are buffers of this workspace, overwritten by the next call. For one layer
        W is fs[0] itself.
        """
        L = self.L
        for l in range(1, L):
            np.matmul(
                fs[0] if l == 1 else self.prefix[l - 2], fs[l], out=self.prefix[l - 1]
            )
        W = fs[0] if L == 1 else self.prefix[-1]
        G = self.G
        np.matmul(Sxx, W, out=G)
        G -= Sxy
        if scale is not None:
            G *= scale
        grads = [None] * L
        right = G
        for l in range(L - 1, -1, -1):
            if l == 0:
                grads[0] = right
                break
            left = fs[0] if l == 1 else self.prefix[l - 2]
            grads[l] = np.matmul(np.swapaxes(left, -1, -2), right, out=self.grads[l])
            Ft = np.swapaxes(fs[l], -1, -2)
            if self.stacked:
                np.copyto(self.factor_t[l], Ft)
                Ft = self.factor_t[l]
            right = np.matmul(right, Ft, out=self.right[l - 1])
        return grads, W

    def step(self, Sxx, Sxy, fs, eta_b):
        """One descent step in place on the list `fs`.

        Returns the product before the step (a buffer: copy it before the next step if
        it must be kept).
        """
        grads, W = self.gradients(Sxx, Sxy, fs, eta_b)
        if self.L == 1:
            W = W.copy()  # the "product" is the factor itself, updated below
        for F, g in zip(fs, grads):
            F -= g  # eta is already in g
        return W


def _finite(factors) -> bool:
    """True while every factor and the end-to-end map are finite.

    The map can overflow one step before the factors do.
    """
    return all(np.isfinite(W).all() for W in factors) and bool(
        np.isfinite(product(factors)).all()
    )


def _check_moments(Sxx, Sxy, factors):
    """Validate batched moments and factors together.

    Returns (Sxx, Sxy, factors, batch): arrays (..., p, p), (..., p, d), the checked
    factors, and the broadcast batch shape of moments and factors.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", min_ndim=2)
    p, d = Sxy.shape[-2:]
    if Sxx.shape[-2:] != (p, p):
        raise ValueError(
            f"Sxx must have shape (..., {p}, {p}) to match Sxy {Sxy.shape}, "
            f"got {Sxx.shape}"
        )
    fs = check_factors(factors, p, d)
    shapes = [W.shape[:-2] for W in fs] + [Sxx.shape[:-2], Sxy.shape[:-2]]
    try:
        batch = np.broadcast_shapes(*shapes)
    except ValueError as exc:
        raise ValueError(
            f"the batch axes of Sxx {Sxx.shape[:-2]}, Sxy {Sxy.shape[:-2]} and the "
            "factors must broadcast together"
        ) from exc
    return Sxx, Sxy, fs, batch


def _divergence_error(Sxx, Sxy, eta, fs, batch, step) -> DivergenceError:
    """The error for a run that left at `step`.

    It names the first such run of the batch and the stable step size 2 / sharpness of
    its problem.
    """
    bad = [i for i in np.ndindex(batch) if not _finite([W[i] for W in fs])] or [()]
    p, d = Sxy.shape[-2:]
    try:
        limit = stable_step_size(
            np.broadcast_to(Sxx, batch + (p, p))[bad[0]],
            np.broadcast_to(Sxy, batch + (p, d))[bad[0]],
            len(fs),
        )
    except Exception:  # the error message must not fail on a degenerate problem
        limit = float("nan")
    eta_used = float(np.broadcast_to(eta, batch)[bad[0]])
    where = f" (run {bad[0]} of the batch)" if batch else ""
    return DivergenceError(
        f"gradient descent diverged at step {step}{where}: eta = {eta_used:.6g}, while "
        f"the balanced minimum is linearly stable only for eta < {limit:.6g} "
        "(2 / sharpness)",
        step=step,
        stable_eta=limit,
    )


def _first_bad_step(workspace, Sxx, Sxy, fs, eta_b, start, stop) -> int:
    """The first step in start+1..stop whose iterate is not finite.

    Redoes the steps one at a time on `fs` (finite at `start`); returns `stop` if the
    factors stay finite (then only the product of the last chunk overflowed).
    """
    for s in range(start + 1, stop + 1):
        workspace.step(Sxx, Sxy, fs, eta_b)
        if not _finite(fs):
            return s
    return stop


def gradient_descent_moments(
    Sxx, Sxy, factors, eta, steps, every=1, check_every=16, return_factors=False
):
    """Gradient descent on the factors from the moments; see `gradient_descent`.

    Parameters
    ----------
    Sxx : (..., p, p) array
        Input second moments; leading axes (a batch of problems, e.g. one perturbed Sxx
        per run) broadcast against the factors' batch axes.
    Sxy : (..., p, d) array
        Input-output second moments.
    factors : list of L arrays
        W_l of shape (..., r_{l-1}, r_l); leading axes are a batch of independent runs
        advanced together.
    eta : float or array
        Step size > 0, or one per run (broadcasting to the batch shape).
    steps : int
        Number of steps, >= 0.
    every : int
        Record every `every` steps (and the last step).
    check_every : int
        Steps between finiteness checks; a failed check replays the last chunk step by
        step to name the exact step of divergence.
    return_factors : bool
        Also return the factors at the recorded iterations.

    Returns
    -------
    iters : (m,) int array
        Recorded iterations, 0 and `steps` included.
    products : (m, ..., p, d) array
        End-to-end maps at those iterations.
    factors_t : list of L arrays (m, ..., r_{l-1}, r_l)
        Only if `return_factors`.

    Raises
    ------
    DivergenceError
        When an iterate stops being finite, naming the step and the stable step size.
    """
    Sxx, Sxy, fs, batch = _check_moments(Sxx, Sxy, factors)
    steps = v.integer(steps, "steps", low=0)
    every = v.integer(every, "every", low=1)
    check_every = v.integer(check_every, "check_every", low=1)
    eta = v.positive(eta, "eta")
    try:
        eta_b = np.broadcast_to(eta, batch)[..., None, None]
    except ValueError as exc:
        raise ValueError(
            f"eta must broadcast to the batch shape {batch} of the "
            f"factors, got {eta.shape}"
        ) from exc
    fs = [np.broadcast_to(W, batch + W.shape[-2:]).copy() for W in fs]
    iters = np.unique(np.append(np.arange(0, steps + 1, every), steps))
    out = np.empty((iters.size,) + batch + Sxy.shape[-2:])
    kept = [np.empty((iters.size,) + W.shape) for W in fs] if return_factors else []
    workspace = _GradientWorkspace(fs, *Sxy.shape[-2:])
    snapshot, snapshot_step, record = [W.copy() for W in fs], 0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            recorded = iters[record] == t
            for K, F in zip(kept, fs):
                if recorded:
                    K[record] = F
            if t == steps:  # the last record needs the product, and no step
                break
            W = workspace.step(Sxx, Sxy, fs, eta_b)  # the product at iteration t
            if recorded:
                out[record] = W
                record += 1
            # Factors at t + 1 and product at t: cheap, and an overflow of the product
            # alone shows up in the next chunk's check (or the final one).
            if (t + 1) % check_every == 0 and not (
                np.isfinite(W).all() and all(np.isfinite(F).all() for F in fs)
            ):
                fs[:] = snapshot
                bad = _first_bad_step(
                    workspace, Sxx, Sxy, fs, eta_b, snapshot_step, t + 1
                )
                raise _divergence_error(Sxx, Sxy, eta, fs, batch, bad)
            if (t + 1) % check_every == 0:
                snapshot, snapshot_step = [F.copy() for F in fs], t + 1
        if not _finite(fs):
            fs[:] = snapshot
            bad = _first_bad_step(workspace, Sxx, Sxy, fs, eta_b, snapshot_step, steps)
            raise _divergence_error(Sxx, Sxy, eta, fs, batch, bad)
        out[record] = product(fs)
    return (iters, out, kept) if return_factors else (iters, out)


def gradient_descent(X, Y, factors, eta, steps, every=1, return_factors=False):
    """Full-matrix gradient descent on 1/(2n) ||Y - X W_1 ... W_L||_F^2.

    The moments are formed once (cost n p (p + d)); each step then costs O(L r^3),
    independent of n (`gradient_descent_moments`).

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    factors : list of L >= 1 arrays
        W_1 (p, r_1), ..., W_L (r_{L-1}, d), optionally with the same leading batch
        axes (runs advanced together; see `eta`).
    eta : float or array
        Step size > 0, or one per batch run.
    steps : int
        Number of steps.
    every : int
        Record every `every` steps (the last is recorded too).
    return_factors : bool
        Also return the factors at the recorded iterations (as `gradient_flow` does).

    Returns
    -------
    iters : (m,) int array
        Recorded iteration numbers.
    products : (m, ..., p, d) array
        End-to-end maps W_1 ... W_L at those iterations.
    factors_t : list of L arrays (m, ..., r_{l-1}, r_l)
        Only if `return_factors`.

    Raises
    ------
    DivergenceError
        A run that diverges stops, naming the step and the stable step-size limit
        2 / sharpness at the balanced minimum.
    """
    Sxx, Sxy = moments(X, Y)
    return gradient_descent_moments(
        Sxx, Sxy, factors, eta, steps, every, return_factors=return_factors
    )


def _scaled_atol(fs, rtol, atol_scale):
    """Absolute tolerance per entry of the flow's factors.

    rtol * atol_scale * (largest entry of its run's start), so that a start of size
    e^{-48} keeps full relative accuracy (a fixed absolute tolerance shifts the
    transitions once the start is below it). A run that starts at zero (which moves only
    for depth 1) gets rtol * atol_scale.
    """
    batch = fs[0].shape[:-2]
    size0 = np.max([np.abs(W).reshape(batch + (-1,)).max(-1) for W in fs], axis=0)
    scale = rtol * atol_scale * np.where(size0 > 0, size0, 1.0)[..., None, None]
    return np.concatenate([np.broadcast_to(scale, W.shape).ravel() for W in fs])


def _integrate_flow(Sxx, Sxy, fs, t_eval, rtol, atol, scale=None, who="gradient_flow"):
    """The one integrator of the full-matrix flows.

    dW_l/dt = -scale grad_l f for the (batched) factors `fs`, with scipy's DOP853,
    reported at the sorted times `t_eval`. Returns the factors, a list of arrays
    (t_eval.size,) + W_l.shape.
    """
    shapes = [W.shape for W in fs]
    sizes = np.cumsum([0] + [W.size for W in fs])
    workspace = _GradientWorkspace(fs, *Sxy.shape[-2:])

    def unpack(x):
        return [x[sizes[i] : sizes[i + 1]].reshape(shapes[i]) for i in range(len(fs))]

    def rhs(_, x):
        grads, _ = workspace.gradients(Sxx, Sxy, unpack(x), scale)
        return -np.concatenate([g.ravel() for g in grads])

    x0 = np.concatenate([W.ravel() for W in fs])
    sol = _solve_ivp()(
        rhs,
        (0.0, float(t_eval[-1])),
        x0,
        t_eval=t_eval,
        method="DOP853",
        rtol=rtol,
        atol=atol,
    )
    if not sol.success:
        raise RuntimeError(f"{who}: the ODE solver failed: {sol.message}")
    m = t_eval.size
    return [
        sol.y[sizes[i] : sizes[i + 1]].T.reshape((m,) + shapes[i])
        for i in range(len(fs))
    ]


def gradient_flow(X, Y, factors, t, rtol=1e-10, atol_scale=1e-3, return_factors=False):
    """Full-matrix gradient flow dW_l/dt = -grad_l f, integrated with scipy's DOP853.

    An independent check of the closed forms: it never uses the decomposition. Error
    control is per entry: relative tolerance `rtol` and absolute tolerance
    rtol * atol_scale * (largest entry of the start), so that starts as small as
    e^{-48} keep full relative accuracy.

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    factors : list of L 2-D arrays
        W_1 (p, r_1), ..., W_L (r_{L-1}, d) (no batch axes), not all zero.
    t : array, any shape
        Times >= 0.
    rtol : float
        Relative tolerance of the solver.
    atol_scale : float
        Absolute tolerance relative to rtol times the size of the start.
    return_factors : bool
        Also return the factors (e.g. to check the conserved imbalance).

    Returns
    -------
    products : t.shape + (p, d) array
    factors_t : list of L arrays, of shapes t.shape + W_l.shape
        Only if `return_factors`.
    """
    Sxx, Sxy = moments(X, Y)
    fs = check_factors(factors, *Sxy.shape)
    if any(W.ndim != 2 for W in fs):
        raise ValueError("factors must be 2-D for gradient_flow (no batch axes)")
    t = v.times(t)
    times = np.unique(t.ravel())
    atol = _scaled_atol(fs, rtol, atol_scale)
    states = _integrate_flow(Sxx, Sxy, fs, times, rtol, atol)
    order = np.searchsorted(times, t.ravel())
    factors_t = [F[order].reshape(t.shape + F.shape[1:]) for F in states]
    prods = product(factors_t)
    return (prods, factors_t) if return_factors else prods


# --------------------------------------------------------------------------- stability
def perturbation_growth(
    Sxx, Sxy, factors, eta, steps, kick=1e-8, seed=0, check_every=10
):
    """Growth of a small perturbation of `factors` under descent, one run per eta.

    The factors (typically a minimum, e.g. `problems.aligned_start` at w = sigma/lam)
    get a seeded Gaussian kick of size `kick` per entry (the same kick for every eta),
    and descent runs `steps` steps. Growth is the largest distance to the unperturbed
    factors, over the checks every `check_every` steps and the end, relative to the
    kick's: max_t ||theta_t - theta*|| / ||theta_0 - theta*|| over all factor entries.
    Factor space, not the end-to-end map: above the stable step size descent can leave
    the minimum for a flatter factorisation of the same map, which the map alone does
    not show. A run whose iterates stop being finite, or move by more than 1e6 times the
    kick, is stopped and reported as inf; the other runs go on (unlike
    `gradient_descent_moments`, which raises for the whole batch).

    Parameters
    ----------
    Sxx : (p, p) array
    Sxy : (p, d) array
    factors : list of 2-D arrays
        W_1 (p, r_1) ... W_L (r_{L-1}, d), the point that is perturbed.
    eta : (m,) array
        Step sizes > 0, one run each.
    steps : int
        Descent steps per run, >= 1.
    kick : float
        Size of the Gaussian kick per entry, > 0.
    seed : int
        Seed of the kick (the same kick for every eta).
    check_every : int
        Steps between checks of the distance, >= 1.

    Returns
    -------
    growth : (m,) array
        Inf for the runs that left the neighbourhood.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", ndim=2)
    p, d = Sxy.shape
    fs0 = check_factors(factors, p, d)
    if any(W.ndim != 2 for W in fs0):
        raise ValueError("factors must be 2-D (the batch is over eta)")
    eta = v.positive(eta, "eta")
    if eta.ndim != 1:
        raise ValueError(
            f"eta must be 1-D (one run per step size), got shape {eta.shape}"
        )
    steps = v.integer(steps, "steps", low=1)
    check_every = v.integer(check_every, "check_every", low=1)
    kick = float(v.positive(kick, "kick"))
    rng = np.random.default_rng(v.integer(seed, "seed", low=0))
    m = eta.size
    start = [W + kick * rng.standard_normal(W.shape) for W in fs0]

    def distance(fs):
        return np.sqrt(
            sum(np.sum((F - W) ** 2, axis=(-2, -1)) for F, W in zip(fs, fs0))
        )

    dev0 = float(distance(start))
    fs = [np.repeat(W[None], m, axis=0) for W in start]
    eta_b = eta[:, None, None]
    workspace = _GradientWorkspace(fs, p, d)
    gone = np.zeros(m, bool)
    largest = np.zeros(m)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            workspace.step(Sxx, Sxy, fs, eta_b)
            if t % check_every == 0 or t == steps:
                dev = distance(fs)
                bad = ~np.isfinite(dev) | (dev > 1e6 * dev0)
                gone |= bad
                largest = np.maximum(largest, np.where(bad, 0.0, dev))
                for F, W in zip(fs, start):
                    F[bad] = W  # parked at the start; reported as inf
    return np.where(gone, np.inf, largest / dev0)


def stability_threshold(
    Sxx,
    Sxy,
    factors,
    eta_lo,
    eta_hi,
    steps=1000,
    rounds=4,
    per_round=7,
    grow=10.0,
    kick=1e-8,
    seed=0,
):
    """Measured largest stable step size at `factors`, by batched multisection.

    A step size counts as unstable when `perturbation_growth` exceeds `grow`. Each round
    runs `per_round` step sizes evenly inside the current bracket (one batched descent)
    and keeps the sub-interval where stability is lost, so the bracket shrinks by
    per_round + 1 per round. Resolution in eta: a perturbation grows by `grow` in
    `steps` steps only if its multiplier exceeds grow^(1/steps), i.e. about
    log(grow) / (2 steps) relative above the linear threshold (1.2e-3 with the
    defaults). Compare with the predicted limit of `lib.stability.stable_step_size`.

    Parameters
    ----------
    Sxx : (p, p) array
    Sxy : (p, d) array
    factors : list of L 2-D arrays
        The point whose stability is measured (typically a minimum).
    eta_lo, eta_hi : float
        Initial bracket: stable at eta_lo, unstable at eta_hi (checked; ValueError
        otherwise).
    steps, rounds, per_round : int
        Steps per run, rounds of multisection, step sizes per round.
    grow, kick : float
        Growth that counts as unstable; size of the perturbation.
    seed : int
        Seed of the perturbation.

    Returns
    -------
    lo, hi : float
        The final bracket.
    """
    lo = float(v.positive(eta_lo, "eta_lo"))
    hi = float(v.positive(eta_hi, "eta_hi"))
    if not lo < hi:
        raise ValueError(f"eta_lo must be < eta_hi, got {lo} and {hi}")
    rounds = v.integer(rounds, "rounds", low=0)
    per_round = v.integer(per_round, "per_round", low=1)
    g = perturbation_growth(Sxx, Sxy, factors, np.array([lo, hi]), steps, kick, seed)
    if not (g[0] <= grow < g[1]):
        raise ValueError(
            f"eta_lo and eta_hi must bracket the threshold: growth {g[0]:.3g} at "
            f"eta_lo, {g[1]:.3g} at eta_hi (unstable means > {grow:g})"
        )
    for _ in range(rounds):
        etas = lo + (hi - lo) * np.arange(1, per_round + 1) / (per_round + 1)
        unstable = (
            perturbation_growth(Sxx, Sxy, factors, etas, steps, kick, seed) > grow
        )
        first = int(np.argmax(unstable)) if unstable.any() else per_round
        lo, hi = (
            (etas[first - 1] if first > 0 else lo),
            (etas[first] if first < per_round else hi),
        )
    return lo, hi


def gradient_flow_batch(
    X, Y, factors, s, speed=1.0, rtol=1e-10, atol_scale=1e-3, return_factors=False
):
    """Full-matrix gradient flow of a batch of runs on the same data, as one ODE system.

    Run b follows dW_l/dt = -grad_l f (the integrator of `gradient_flow`, with its
    scaled absolute tolerance per run) and is reported at the times t = speed[b] * s.
    With speed = delta, runs started at different scales e^{-2 delta} share one grid of
    rescaled time s = t / delta and one integration (the step sizes are those the
    fastest run needs).

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    factors : list of L arrays
        W_l of shape (B, r_{l-1}, r_l): B runs, one batch axis.
    s : (m,) array
        Non-negative, non-decreasing times (rescaled by `speed`).
    speed : float or (B,) array, > 0
        Run b is reported at t = speed[b] * s.
    rtol : float
        Relative tolerance of the solver.
    atol_scale : float
        Absolute tolerance per run, relative to rtol times its start's size.
    return_factors : bool
        Also return the factors.

    Returns
    -------
    products : (B, m, p, d) array
    factors_t : list of arrays (B, m, r_{l-1}, r_l)
        Only if `return_factors`.
    """
    Sxx, Sxy = moments(X, Y)
    fs = check_factors(factors, *Sxy.shape)
    if any(W.ndim != 3 for W in fs) or len({W.shape[0] for W in fs}) != 1:
        raise ValueError(
            "factors must be 3-D arrays (B, r_{l-1}, r_l) with one common batch size B"
        )
    B = fs[0].shape[0]
    s = v.times(v.as_float_array(s, "s", ndim=1), "s")
    if np.any(np.diff(s) < 0):
        raise ValueError("s must be non-decreasing")
    speed = np.broadcast_to(v.positive(speed, "speed"), (B,)).astype(float)
    if np.any(np.all([np.all(W.reshape(B, -1) == 0, axis=1) for W in fs], axis=0)):
        raise ValueError(
            "factors: every run needs a non-zero start (zero is a fixed point)"
        )
    atol = _scaled_atol(fs, rtol, atol_scale)
    states = _integrate_flow(
        Sxx, Sxy, fs, s, rtol, atol, speed[:, None, None], "gradient_flow_batch"
    )
    states = [F.swapaxes(0, 1) for F in states]
    prods = product(states)
    return (prods, states) if return_factors else prods


def gradient_flow_moments(Sxx, Sxy, factors, t, rtol=1e-10, atol=1e-30):
    """Full-matrix gradient flow from the moments, for a batch of runs in one ODE solve.

    The batched counterpart of `gradient_flow` (the same integrator): all runs stacked
    into one state (the step size follows the fastest run; for a few small problems
    this is much cheaper than one solve per run).

    Parameters
    ----------
    Sxx : (..., p, p) array
    Sxy : (..., p, d) array
        Leading axes broadcast against the factors'.
    factors : list of L arrays
        W_l of shape (..., r_{l-1}, r_l) (batch axes optional).
    t : (m,) array
        Increasing times >= 0.
    rtol : float
        Relative tolerance of DOP853.
    atol : float
        Absolute tolerance; tiny on purpose: from w0 = exp(-2 delta) the factors start
        at exp(-delta), and an absolute tolerance above that lets the solver shift the
        transitions (at delta = 64 by O(1) times).

    Returns
    -------
    products : (m,) + batch + (p, d) array
    """
    Sxx, Sxy, fs, batch = _check_moments(Sxx, Sxy, factors)
    t = v.times(v.as_float_array(t, "t", ndim=1))
    if t.size == 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t must be a non-empty increasing 1-D array of times >= 0")
    fs = [np.broadcast_to(W, batch + W.shape[-2:]).copy() for W in fs]
    return product(
        _integrate_flow(Sxx, Sxy, fs, t, rtol, atol, None, "gradient_flow_moments")
    )


def one_layer_descent(Sxx, Sxy, W0, eta, iters):
    """Gradient descent on one layer (L = 1) in closed form, at any iterations.

    The step W <- W - eta (Sxx W - Sxy) is linear, so with Sxx = Q diag(lam) Q^T and
    W_ols = Sxx^+ Sxy, W_t = W_ols + Q diag((1 - eta lam)^t) Q^T (W_0 - W_ols): each
    eigendirection of Sxx relaxes at its own rate (a spectral filter, like ridge). Exact
    when Sxy lies in the range of Sxx, as it does for moments of data (Sxy = X^T Y / n).

    Parameters
    ----------
    Sxx : (..., p, p) array
        Symmetric positive semi-definite.
    Sxy : (..., p, d) array
    W0 : (..., p, d) array
        Starting map.
    eta : float or array
        Step size > 0, or an array broadcasting to the batch shape (one per problem).
    iters : (T,) array of int
        Iterations >= 0 at which to return the iterates.

    Returns
    -------
    W : (T, ..., p, d) array
        The iterates at `iters`.
    """
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", min_ndim=2)
    W0 = v.as_float_array(W0, "W0", min_ndim=2)
    p, d = Sxy.shape[-2:]
    if Sxx.shape[-2:] != (p, p) or W0.shape[-2:] != (p, d):
        raise ValueError(
            f"Sxx {Sxx.shape}, Sxy {Sxy.shape} and W0 {W0.shape} must end in (p, p), "
            "(p, d), (p, d)"
        )
    eta = v.positive(eta, "eta")[..., None]  # broadcasts against lam (..., p)
    iters = v.as_float_array(iters, "iters", ndim=1)
    if np.any(iters < 0) or np.any(iters != np.round(iters)):
        raise ValueError("iters must be non-negative integers")
    lam, Q = np.linalg.eigh(Sxx)
    if np.any(np.abs(1 - eta * lam) > 1):
        raise ValueError(
            f"eta = {eta.max():.6g} diverges: it must be below 2 / lam_max = "
            f"{2 / lam.max():.6g}"
        )
    inv = np.where(
        lam > 1e-12 * lam.max(axis=-1, keepdims=True),
        1 / np.where(lam > 0, lam, 1),
        0.0,
    )
    Qt = np.swapaxes(Q, -1, -2)
    coef_ols = inv[..., :, None] * (Qt @ Sxy)  # W_ols in the eigenbasis
    if not np.allclose(
        (lam * inv)[..., :, None] * (Qt @ Sxy), Qt @ Sxy, atol=1e-10 * np.abs(Sxy).max()
    ):
        raise ValueError(
            "Sxy must lie in the range of Sxx (moments of data do); descent diverges "
            "otherwise"
        )
    coef0 = Qt @ W0 - coef_ols
    decay = (1 - eta * lam) ** iters.reshape(
        (-1,) + (1,) * lam.ndim
    )  # integer powers: sign exact
    return Q @ (coef_ols + decay[..., :, None] * coef0)
