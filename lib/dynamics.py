"""Gradient descent and gradient flow for deep linear networks.

Two levels, which the tests hold against each other:

* decoupled modes (`discrete_modes`, `mode_flow`): from the aligned balanced start each
  mode strength w_i evolves on its own; cost O(k) per step;
* full matrices (`gradient_descent`, `gradient_flow`): the factors W_1 (p, r_1), ...,
  W_L (r_{L-1}, d) themselves, from any start, on the loss
  f = 1/(2n) ||Y - X W_1 ... W_L||_F^2 = 1/2 tr(W^T Sxx W) - tr(W^T Sxy) + const.
  Every step uses only the moments Sxx (p, p) and Sxy (p, d): its cost does not depend on n.

Gradient of f with respect to factor l, with W_{<l} = W_1 ... W_{l-1} and
W_{>l} = W_{l+1} ... W_L (identity when empty):

    grad_l = W_{<l}^T (Sxx W - Sxy) W_{>l}^T.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from . import _validate as v
from .problems import moments
from .theory import mode_stable_step_size, sharpness_at_minimum

DivergenceError = v.DivergenceError


# --------------------------------------------------------------------------- modes
def discrete_modes(sigma, lam, w0, eta, steps, depth=2):
    """Exact gradient-descent iterates of the mode strengths from the aligned balanced start.

    Each of the L factors carries a = w^{1/L} on the mode, and one step is
        a <- a + eta (sigma - lam a^L) a^{L-1},    w = a^L,
    i.e. w <- w (1 + eta (sigma - lam w))^2 for L = 2 and
    w <- w + eta (sigma - lam w) for L = 1.

    Parameters
    ----------
    sigma, lam, w0, eta : arrays broadcasting to a common shape (..., k)
        (a batch of step sizes or spectra costs one loop); lam > 0, eta > 0,
        w0 >= 0 when depth >= 2.
    steps : int >= 0
    depth : int >= 1

    Returns
    -------
    w : array, shape (steps + 1, ..., k); w[t] is the strength after t steps.

    Raises
    ------
    DivergenceError if an iterate overflows, naming the step and the per-mode stable
    step size 2 / (L lam w*^{2-2/L}), w* = sigma / lam.
    """
    L = v.depth(depth)
    steps = v.integer(steps, "steps", low=0)
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    eta = v.positive(eta, "eta")
    w0 = v.as_float_array(w0, "w0")
    if L >= 2 and np.any(w0 < 0):
        raise ValueError("w0 must be non-negative for depth >= 2 (balanced factors carry w0 ** (1/depth))")
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
                    step=t, stable_eta=float(limit[tuple(bad)]))
    if L == 1 and not np.isfinite(out).all():
        t = int(np.argwhere(~np.isfinite(out))[0, 0])
        limit = float((2 / lam).min())
        raise DivergenceError(f"discrete_modes diverged at step {t}: depth 1 is stable only for eta < 2/lam = {limit:.6g}",
                              step=t, stable_eta=limit)
    return out


def discrete_mode_gaps(sigma, lam, w0, eta, steps):
    """Relative distance to the limit, y_t = 1 - lam w_t / sigma, of the depth-2 mode map,
    computed without cancellation.

    With x = lam w / sigma and h = eta sigma the map x -> x (1 + h (1 - x))^2 becomes, exactly,

        y_{t+1} = y_t (1 - 2h + h y_t (2 - h + h y_t)),

    which keeps full relative precision as y -> 0, where w_t itself rounds to sigma/lam.
    Needed to see where a bound fails close to saturation.

    Parameters and broadcasting as `discrete_modes` (depth 2); w0 > 0.

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
        raise ValueError(f"eta * sigma must be <= 2 (beyond it the mode map diverges), got max {h.max():.4g}")
    y = np.empty((steps + 1,) + w0.shape)
    y[0] = 1 - lam * w0 / sigma
    for t in range(1, steps + 1):
        yt = y[t - 1]
        y[t] = yt * (1 - 2 * h + h * yt * (2 - h + h * yt))
    return y


def mode_map_attractor(h, steps=4000, keep=256, x0=1e-3):
    """Long-run orbit of the normalised depth-2 mode map x -> x (1 + h (1 - x))^2.

    x = lam w / sigma and h = eta sigma: one map for every mode and step size. Vectorised
    over h; used for the bifurcation diagram.

    Parameters
    ----------
    h : array (H,) of eta * sigma values > 0
    steps : iterations in all; keep : how many of the last ones to return
    x0 : start, in (0, 1)

    Returns
    -------
    tail : array (keep, H), the last `keep` iterates (NaN in the columns that diverged)
    diverged : bool array (H,), True where the orbit passed the repelling fixed point
        x = 1 + 2/h, beyond which it grows without bound (this happens for h > 2).
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
        x = np.where(diverged, 0.0, x)  # frozen at 0 once gone; reported through `diverged`
        if t >= steps - keep:
            tail[t - (steps - keep)] = x
    tail[:, diverged] = np.nan
    return tail, diverged


def mode_flow(t, sigma, lam, w0, depth=2, rtol=1e-11):
    """Balanced gradient flow of the mode strengths, any depth, by numerical integration.

    dw/dt = L w^{2 - 2/L} (sigma - lam w) (the logistic equation for L = 2), integrated
    with scipy's DOP853 in u = log w for L >= 2 (so that tiny starts keep full relative
    accuracy) and in w for L = 1 (linear, and stiff in log w near zero).

    Parameters
    ----------
    t : array of times >= 0, any shape
    sigma, lam : (k,); w0 : (k,) positive
    depth : int >= 1

    Returns
    -------
    w : array, shape t.shape + (k,)
    """
    L = v.depth(depth)
    t = v.as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be non-negative")
    sigma = v.positive(sigma, "sigma", allow_zero=True)
    lam = v.positive(lam, "lam")
    w0 = v.positive(w0, "w0")
    sigma, lam, w0 = v.broadcast_modes(sigma=sigma, lam=lam, w0=w0)
    if sigma.ndim != 1:
        raise ValueError(f"sigma, lam and w0 must broadcast to one dimension (k,), got {sigma.shape}")
    times = np.unique(t.ravel())
    t_end = float(times[-1]) if times.size else 0.0
    if L == 1:
        # Linear in w: integrate w itself (in log w the equation is stiff near w = 0).
        sol = solve_ivp(lambda _, w: sigma - lam * w, (0.0, t_end), w0, t_eval=times,
                        method="DOP853", rtol=rtol, atol=1e-14)
    else:
        def rhs(_, u):
            w = np.exp(u)
            return L * w ** (1 - 2 / L) * (sigma - lam * w)

        sol = solve_ivp(rhs, (0.0, t_end), np.log(w0), t_eval=times, method="DOP853", rtol=rtol, atol=1e-12)
    if not sol.success:
        raise RuntimeError(f"mode_flow: the ODE solver failed: {sol.message}")
    w_sorted = sol.y.T if L == 1 else np.exp(sol.y.T)
    return w_sorted[np.searchsorted(times, t.ravel())].reshape(t.shape + (sigma.size,))


# --------------------------------------------------------------------------- full matrices
def check_factors(factors, p: int, d: int) -> list[np.ndarray]:
    """Validate a list of factors W_1 (..., p, r_1) ... W_L (..., r_{L-1}, d)."""
    if not isinstance(factors, (list, tuple)) or len(factors) == 0:
        raise ValueError("factors must be a non-empty list of 2-D arrays W_1, ..., W_L")
    fs = [v.as_float_array(W, f"factors[{i}]", min_ndim=2).copy() for i, W in enumerate(factors)]
    if fs[0].shape[-2] != p:
        raise ValueError(f"factors[0] must have {p} rows (the input dimension p), got shape {fs[0].shape}")
    if fs[-1].shape[-1] != d:
        raise ValueError(f"factors[-1] must have {d} columns (the output dimension d), got shape {fs[-1].shape}")
    for i in range(len(fs) - 1):
        if fs[i].shape[-1] != fs[i + 1].shape[-2]:
            raise ValueError(f"factors[{i}] {fs[i].shape} and factors[{i + 1}] {fs[i + 1].shape} do not chain")
    return fs


def product(factors) -> np.ndarray:
    """End-to-end map W_1 W_2 ... W_L (batched over leading axes)."""
    out = factors[0]
    for W in factors[1:]:
        out = out @ W
    return out


def factor_gradients(Sxx, Sxy, factors, scale=None):
    """Gradients of f with respect to every factor, from the moments.

    Returns (grads, W): the list grad_l with the shapes of the factors (times `scale`, a
    scalar or an array broadcasting against the batch axes as (..., 1, 1), if given), and
    the product W. Cost: 3L - 2 matrix products, none of size n; the scale is applied once,
    to the (p, d) gradient of the end-to-end map, before it is spread to the factors.
    The same sweep as every descent step (`_GradientWorkspace`), in fresh buffers.
    """
    Sxx = np.asarray(Sxx)
    return _GradientWorkspace(factors, Sxx.shape[0], factors[-1].shape[-1]).gradients(Sxx, Sxy, factors, scale)


class _GradientWorkspace:
    """Buffers for the gradient sweep, so that a descent step allocates no array.

    Why: a batch of 64 runs at p = 16 makes every temporary 128 KiB, the size at which the
    allocator maps fresh pages, and the page faults cost as much as the products; and
    numpy's stacked matmul is 2x slower when its second operand is a transposed view, so
    stacked factors are transposed into a buffer first.

    With W_{<l} = W_1 ... W_{l-1} and G = Sxx W - Sxy, the sweep runs from the output side,
    keeping right = G W_{>l}^T: grad_l = W_{<l}^T right, then right <- right W_l^T.
    """

    def __init__(self, factors, p: int, d: int):
        L = len(factors)
        batch = factors[0].shape[:-2]
        dims = [p] + [F.shape[-1] for F in factors]  # r_0 = p, ..., r_L = d
        self.L = L
        self.stacked = bool(batch)
        self.prefix = [np.empty(batch + (p, dims[l + 1])) for l in range(1, L)]  # W_{<=l}, l >= 1
        self.G = np.empty(batch + (p, d))
        self.right = [np.empty(batch + (p, dims[l + 1])) for l in range(L - 1)]  # G W_{>l}^T
        self.grads = [np.empty(F.shape) for F in factors]
        self.factor_t = [np.empty(batch + F.shape[-1:] + F.shape[-2:-1]) if self.stacked else None
                         for F in factors]

    def gradients(self, Sxx, Sxy, fs, scale=None):
        """(grads, W) for the factors `fs`, leaving them untouched; both are buffers of
        this workspace, overwritten by the next call. For one layer W is fs[0] itself."""
        L = self.L
        for l in range(1, L):
            np.matmul(fs[0] if l == 1 else self.prefix[l - 2], fs[l], out=self.prefix[l - 1])
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
        """One descent step in place on the list `fs`; returns the product before the step
        (a buffer: copy it before the next step if it must be kept)."""
        grads, W = self.gradients(Sxx, Sxy, fs, eta_b)
        if self.L == 1:
            W = W.copy()  # the "product" is the factor itself, updated below
        for F, g in zip(fs, grads):
            F -= g  # eta is already in g
        return W


def _finite(factors) -> bool:
    """True while every factor and the end-to-end map are finite (the map can overflow
    one step before the factors do)."""
    return all(np.isfinite(W).all() for W in factors) and bool(np.isfinite(product(factors)).all())


def _stable_eta(Sxx, Sxy, depth):
    try:
        return 2.0 / sharpness_at_minimum(Sxx, Sxy, depth)
    except Exception:  # the error message must not fail on a degenerate problem
        return float("nan")


def gradient_descent_moments(Sxx, Sxy, factors, eta, steps, every=1, check_every=16):
    """Gradient descent on the factors from the moments; see `gradient_descent`.

    Parameters
    ----------
    Sxx : (p, p), Sxy : (p, d), or with leading batch axes (..., p, p), (..., p, d)
        broadcasting against the factors' (one data set per run).
    factors : list of L arrays, W_l of shape (..., r_{l-1}, r_l); leading axes are a
        batch of independent runs advanced together.
    eta : float, or array broadcasting to the batch shape (one step size per run).
    steps : int >= 0; every : record every `every` steps (and the last step).
    check_every : steps between finiteness checks; a failed check replays the last
        chunk step by step to name the exact step of divergence.

    Returns
    -------
    iters : (m,) int array of recorded iterations, 0 and steps included
    products : (m, ..., p, d) end-to-end maps at those iterations
    """
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    Sxy = v.as_float_array(Sxy, "Sxy", min_ndim=2)
    p, d = Sxy.shape[-2:]
    if Sxx.shape[-2:] != (p, p):
        raise ValueError(f"Sxx must have shape ({p}, {p}) to match Sxy {Sxy.shape}, got {Sxx.shape}")
    fs = check_factors(factors, p, d)
    steps = v.integer(steps, "steps", low=0)
    every = v.integer(every, "every", low=1)
    check_every = v.integer(check_every, "check_every", low=1)
    eta = v.positive(eta, "eta")
    batch = np.broadcast_shapes(Sxx.shape[:-2], Sxy.shape[:-2], *(W.shape[:-2] for W in fs))
    try:
        eta_b = np.broadcast_to(eta, batch)[..., None, None]
    except ValueError as exc:
        raise ValueError(f"eta must broadcast to the batch shape {batch} of the factors, got {eta.shape}") from exc
    fs = [np.broadcast_to(W, batch + W.shape[-2:]).copy() for W in fs]

    iters = np.unique(np.append(np.arange(0, steps + 1, every), steps))
    out = np.empty((iters.size,) + batch + (p, d))
    record = 0

    workspace = _GradientWorkspace(fs, p, d)

    def step(factors):
        """One descent step in place; returns the product *before* the step (free: the
        gradient needs it), which is what a record at this iteration stores."""
        return workspace.step(Sxx, Sxy, factors, eta_b)

    def diverged(step_number):
        bad = [i for i in np.ndindex(batch) if not _finite([W[i] for W in fs])] or [()]
        limit = _stable_eta(Sxx, Sxy, len(fs))
        eta_used = float(np.broadcast_to(eta, batch)[bad[0]]) if batch else float(eta)
        where = f" (run {bad[0]} of the batch)" if batch else ""
        return DivergenceError(
            f"gradient descent diverged at step {step_number}{where}: eta = {eta_used:.6g}, while the "
            f"balanced minimum is linearly stable only for eta < {limit:.6g} (2 / sharpness)",
            step=step_number, stable_eta=limit)

    def replay(snapshot, start, stop):
        """Redo steps start+1..stop one at a time from a finite snapshot to name the first
        step whose iterate is not finite, and raise."""
        fs[:] = [W.copy() for W in snapshot]
        for s in range(start + 1, stop + 1):
            step(fs)
            if not _finite(fs):
                raise diverged(s)
        raise diverged(stop)  # not reached: the chunk diverged the first time

    snapshot, snapshot_step = [W.copy() for W in fs], 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            W = step(fs)  # W is the product at iteration t
            if iters[record] == t:
                out[record] = W
                record += 1
            if (t + 1) % check_every == 0:
                # Factors at t + 1 and product at t: cheap, and an overflow of the
                # product alone shows up in the next chunk's check.
                if not (np.isfinite(W).all() and all(np.isfinite(F).all() for F in fs)):
                    replay(snapshot, snapshot_step, t + 1)
                snapshot, snapshot_step = [F.copy() for F in fs], t + 1
        if not _finite(fs):
            replay(snapshot, snapshot_step, steps)
        out[record] = product(fs)
    return iters, out


def gradient_descent(X, Y, factors, eta, steps, every=1):
    """Full-matrix gradient descent on 1/(2n) ||Y - X W_1 ... W_L||_F^2.

    Parameters
    ----------
    X : (n, p), Y : (n, d)
    factors : list of L >= 1 arrays W_1 (p, r_1), ..., W_L (r_{L-1}, d), optionally with
        the same leading batch axes (runs advanced together; see `eta`).
    eta : step size > 0, or one per batch run.
    steps : number of steps; every : record every `every` steps (the last is recorded too).

    Returns
    -------
    iters : (m,) recorded iteration numbers
    products : (m, ..., p, d) end-to-end maps W_1 ... W_L at those iterations

    The moments are formed once (cost n p (p + d)); each step then costs O(L r^3),
    independent of n. A run that diverges raises `DivergenceError` with the step and
    the stable step-size limit 2 / sharpness at the balanced minimum.
    """
    Sxx, Sxy = moments(X, Y)
    return gradient_descent_moments(Sxx, Sxy, factors, eta, steps, every)


def gradient_flow(X, Y, factors, t, rtol=1e-10, atol=1e-13, return_factors=False):
    """Full-matrix gradient flow dW_l/dt = -grad_l f, integrated with scipy's DOP853.

    An independent check of the closed forms: it never uses the decomposition.

    Parameters
    ----------
    X : (n, p), Y : (n, d); factors : list of 2-D arrays (no batch axes)
    t : array of times >= 0, any shape

    Returns
    -------
    products : array, shape t.shape + (p, d)
    factors_t : list of arrays of shapes t.shape + W_l.shape, only if `return_factors`
        (e.g. to check the conserved imbalance W_1^T W_1 - W_2 W_2^T).
    """
    Sxx, Sxy = moments(X, Y)
    p, d = Sxy.shape
    fs = check_factors(factors, p, d)
    if any(W.ndim != 2 for W in fs):
        raise ValueError("factors must be 2-D for gradient_flow (no batch axes)")
    t = v.as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be non-negative")
    shapes = [W.shape for W in fs]
    sizes = np.cumsum([0] + [W.size for W in fs])

    def unpack(x):
        return [x[sizes[i]:sizes[i + 1]].reshape(shapes[i]) for i in range(len(fs))]

    def rhs(_, x):
        grads, _ = factor_gradients(Sxx, Sxy, unpack(x))
        return -np.concatenate([g.ravel() for g in grads])

    times = np.unique(t.ravel())
    x0 = np.concatenate([W.ravel() for W in fs])
    sol = solve_ivp(rhs, (0.0, float(times[-1])), x0, t_eval=times, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"gradient_flow: the ODE solver failed: {sol.message}")
    order = np.searchsorted(times, t.ravel())
    prods = np.stack([product(unpack(x)) for x in sol.y.T])[order].reshape(t.shape + (p, d))
    if not return_factors:
        return prods
    states = sol.y.T[order]
    factors_t = [states[:, sizes[i]:sizes[i + 1]].reshape(t.shape + shapes[i]) for i in range(len(fs))]
    return prods, factors_t
