"""Measurements on end-to-end maps and trajectories.

Every function broadcasts over leading axes: a trajectory of maps has shape
(T, ..., p, d).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _validate as v
from .problems import moments_with_energy


def trace_norm(W) -> np.ndarray:
    """Nuclear norm (sum of singular values) of each map.

    The quantity the paper's implicit regularization concerns: the auto-encoder's
    plateaus sit at trace norm 1, 2, ..., k. Takes a map or a stack of maps, shape
    (..., p, d), as `singular_values` does, and returns one norm per map, shape (...).
    """
    return singular_values(W).sum(axis=-1)


def singular_values(W) -> np.ndarray:
    """Singular values of each map, decreasing.

    Parameters
    ----------
    W : (..., p, d) array

    Returns
    -------
    (..., min(p, d)) array
    """
    W = v.as_float_array(W, "W", min_ndim=2)
    return np.linalg.svd(W, compute_uv=False)


def loss(X, Y, W) -> np.ndarray:
    """The loss f(W) = 1/(2n) ||Y - X W||_F^2 of each map.

    Computed from the moments of `lib.problems.moments_with_energy`,
    1/2 tr(W^T Sxx W) - tr(W^T Sxy) + 1/(2n) ||Y||_F^2, so a trajectory of many maps
    costs no pass over the data; rounding can leave a tiny negative value at an exact
    fit, which is clipped to 0 (the loss is a squared norm).

    Parameters
    ----------
    X : (n, p) array
    Y : (n, d) array
    W : (..., p, d) array

    Returns
    -------
    (...) array
    """
    Sxx, Sxy, syy = moments_with_energy(X, Y)
    W = v.as_float_array(W, "W", min_ndim=2)
    if W.shape[-2:] != Sxy.shape:
        raise ValueError(
            f"W must have trailing shape {Sxy.shape} to match X {np.shape(X)} and "
            f"Y {np.shape(Y)}, got {W.shape}"
        )
    return loss_from_moments(Sxx, Sxy, syy, W)


def loss_from_moments(Sxx, Sxy, syy, W) -> np.ndarray:
    """The loss f(W) from the moments, without the data.

    Parameters
    ----------
    Sxx : (..., p, p) array
    Sxy : (..., p, d) array
    syy : float or (...) array
        ||Y||_F^2 / n.
    W : (..., p, d) array

    Returns
    -------
    (...) array
        1/2 tr(W^T Sxx W) - tr(W^T Sxy) + syy / 2, clipped at 0.
    """
    # tr(W^T Sxx W) as the sum of (Sxx W) * W: one (stacked) product instead of a
    # three-operand einsum, which numpy evaluates without BLAS.
    quad = np.sum((Sxx @ W) * W, axis=(-2, -1))
    lin = np.sum(W * Sxy, axis=(-2, -1))
    return np.maximum(0.5 * quad - lin + 0.5 * syy, 0.0)


def mode_strengths(W, U, V, k=None) -> np.ndarray:
    """Diagonal of U^T W V: the strength of each mode u_i v_i^T in W.

    Parameters
    ----------
    W : (..., p, d) array
    U, V : (p, m) and (d, m') arrays
        Mode bases (columns orthonormal).
    k : int, optional
        Number of modes, 1 <= k <= min(m, m') (default: all).

    Returns
    -------
    (..., k) array
        u_i^T W v_i. `modes_to_map` is the inverse on aligned maps.
    """
    W = v.as_float_array(W, "W", min_ndim=2)
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    m = min(U.shape[1], V.shape[1])
    k = m if k is None else v.integer(k, "k", low=1, high=m)
    return np.einsum("pi,...pd,di->...i", U[:, :k], W, V[:, :k])


def modes_to_map(U, V, w) -> np.ndarray:
    """End-to-end map U diag(w) V^T from mode strengths; inverse of `mode_strengths`.

    Parameters
    ----------
    U, V : (p, >= k) and (d, >= k) arrays
        Mode bases.
    w : (..., k) array
        Mode strengths.

    Returns
    -------
    (..., p, d) array
    """
    U = v.as_float_array(U, "U", ndim=2)
    V = v.as_float_array(V, "V", ndim=2)
    w = v.as_float_array(w, "w", min_ndim=1)
    k = w.shape[-1]
    if k > min(U.shape[1], V.shape[1]):
        raise ValueError(
            f"w has {k} modes but U and V have {U.shape[1]} and {V.shape[1]} columns"
        )
    return np.einsum("pi,...i,di->...pd", U[:, :k], w, V[:, :k])


def mode_coordinates(W, U, V) -> np.ndarray:
    """U^T W V: the maps W in the mode bases (entry (i, j) couples u_i and v_j).

    Parameters
    ----------
    W : (..., p, d) array
    U, V : (..., p, k) and (..., d, k') arrays
        Mode bases; leading axes broadcast against W's (e.g. one basis per draw).

    Returns
    -------
    (..., k, k') array
    """
    W = v.as_float_array(W, "W", min_ndim=2)
    U = v.as_float_array(U, "U", min_ndim=2)
    V = v.as_float_array(V, "V", min_ndim=2)
    if U.shape[-2] != W.shape[-2] or V.shape[-2] != W.shape[-1]:
        raise ValueError(
            f"U {U.shape} and V {V.shape} must have W's {W.shape[-2:]} rows"
        )
    return np.swapaxes(U, -1, -2) @ W @ V


def off_mode_part(W, U, V) -> np.ndarray:
    """U^T W V with its diagonal zeroed: what W holds outside the modes u_i v_i^T.

    Zero at all times for a path that stays aligned; its size measures how far the
    modes couple.

    Parameters
    ----------
    W, U, V
        As in `mode_coordinates`.

    Returns
    -------
    (..., k, k') array
    """
    M = mode_coordinates(W, U, V)
    m = min(M.shape[-2:])
    M[..., np.arange(m), np.arange(m)] = 0.0
    return M


def rank_truncation(W, k) -> np.ndarray:
    """Best rank-k approximation of each map in Frobenius norm (Eckart-Young).

    The top k singular triplets of W; several ranks share one SVD.

    Parameters
    ----------
    W : (..., p, d) array
    k : int or sequence of K ints
        Rank(s), 0 <= k <= min(p, d).

    Returns
    -------
    (..., p, d) array, or (K, ..., p, d) for a sequence of ranks
    """
    W = v.as_float_array(W, "W", min_ndim=2)
    several = not isinstance(k, numbers.Integral)
    top = min(W.shape[-2:])
    ks = [v.integer(r, "k", low=0, high=top) for r in (k if several else [k])]
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    out = [(U[..., :r] * s[..., None, :r]) @ Vt[..., :r, :] for r in ks]
    return np.stack(out) if several else out[0]


def relative_distance(W, W_ref) -> np.ndarray:
    """Relative Frobenius distance ||W - W_ref||_F / ||W_ref||_F.

    Parameters
    ----------
    W, W_ref : (..., p, d) arrays
        Broadcasting over leading axes.

    Returns
    -------
    (...) array
        Absolute distance where W_ref = 0.
    """
    W = v.as_float_array(W, "W", min_ndim=2)
    W_ref = v.as_float_array(W_ref, "W_ref", min_ndim=2)
    num = np.linalg.norm(W - W_ref, axis=(-2, -1))
    den = np.linalg.norm(W_ref, axis=(-2, -1))
    return num / np.where(den > 0, den, 1.0)


def crossing_times(t, y, level) -> np.ndarray:
    """First time each trajectory reaches `level`, by linear interpolation.

    Parameters
    ----------
    t : (T,) array
        Increasing sample times.
    y : (T, ...) array
        Trajectories.
    level : float or array broadcasting to y.shape[1:]

    Returns
    -------
    array of shape y.shape[1:]
        The first crossing time from below, NaN where the trajectory never reaches the
        level (callers must check: see `half_way_crossings`).
    """
    t = v.as_float_array(t, "t", ndim=1)
    y = v.as_float_array(y, "y", min_ndim=1)
    if y.shape[0] != t.size:
        raise ValueError(f"y must have t.size = {t.size} rows, got shape {y.shape}")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    level = np.broadcast_to(v.as_float_array(level, "level"), y.shape[1:])
    above = y >= level
    first = np.argmax(above, axis=0)
    reached = above.any(axis=0)
    i1 = np.maximum(first, 1)
    i0 = i1 - 1
    y0 = np.take_along_axis(y, i0[None], 0)[0]
    y1 = np.take_along_axis(y, i1[None], 0)[0]
    frac = np.where(y1 != y0, (level - y0) / np.where(y1 != y0, y1 - y0, 1.0), 0.0)
    out = t[i0] + np.clip(frac, 0, 1) * (t[i1] - t[i0])
    out = np.where(first == 0, t[0], out)
    return np.where(reached, out, np.nan)


def half_way_crossings(t, w, limits) -> np.ndarray:
    """Measured time at which each mode strength first reaches half its limit.

    The measured counterpart of `lib.theory.half_way_times`, by linear interpolation
    (`crossing_times`).

    Parameters
    ----------
    t : (T,) array
        Increasing sample times.
    w : (T, ..., k) array
        Mode strengths.
    limits : (..., k) array
        Their limits (e.g. sigma / lam).

    Returns
    -------
    (..., k) array

    Raises
    ------
    ValueError
        If some mode never gets half way within the samples (instead of returning NaN).
    """
    out = crossing_times(t, w, 0.5 * np.asarray(limits, dtype=float))
    if np.isnan(out).any():
        missing = np.argwhere(np.isnan(out))[0]
        raise ValueError(
            f"w: mode {tuple(missing)} never reaches half its limit within t <= "
            f"{t[-1]:g}; run longer"
        )
    return out


def orbit_period(tail, rtol=1e-7, max_period=64) -> np.ndarray:
    """Smallest period p <= max_period with tail[t + p] == tail[t] (to rtol) for all t.

    Parameters
    ----------
    tail : (T, ...) array
        The end of an orbit, T > 2 * max_period.
    rtol : float
        Tolerance relative to the largest value of each orbit.
    max_period : int

    Returns
    -------
    int array of shape tail.shape[1:]
        1 for a fixed point, 2, 4, ... for cycles, and 0 when no period up to max_period
        fits (an irregular orbit, or one not yet settled).
    """
    tail = v.as_float_array(tail, "tail", min_ndim=1)
    max_period = v.integer(max_period, "max_period", low=1)
    if tail.shape[0] <= 2 * max_period:
        raise ValueError(
            f"tail must have more than 2 * max_period = {2 * max_period} rows, got "
            f"{tail.shape[0]}"
        )
    scale = np.maximum(np.abs(tail).max(axis=0), 1e-300)
    period = np.zeros(tail.shape[1:], dtype=int)
    for p in range(
        max_period, 0, -1
    ):  # descending, so the smallest fitting period wins
        fits = np.all(np.abs(tail[p:] - tail[:-p]) <= rtol * scale, axis=0)
        period = np.where(fits, p, period)
    return period


def plateau_distance(w, limits, k) -> np.ndarray:
    """Trace-norm distance from an aligned map U diag(w) V^T to the k-th plateau.

    The plateau is U diag(limits_1, ..., limits_k, 0, ...) V^T, so the distance is
    sum_{i <= k} |limits_i - w_i| + sum_{i > k} |w_i|.

    Parameters
    ----------
    w : (..., m) array
        Mode strengths, modes listed in the order they are learned (for the
        auto-encoder: decreasing variance); a trajectory (T, m) is fine.
    limits : float or (m,) array
        The limits sigma_i / lam_i (1 for the auto-encoder).
    k : int
        The plateau (number of learned modes), 0 <= k <= m.

    Returns
    -------
    array of shape w.shape[:-1]
    """
    w = v.as_float_array(w, "w", min_ndim=1)
    m = w.shape[-1]
    k = v.integer(k, "k", low=0, high=m)
    limits = np.broadcast_to(v.as_float_array(limits, "limits"), (m,))
    target = np.where(np.arange(m) < k, limits, 0.0)
    return np.abs(w - target).sum(axis=-1)


def flat_fraction(t, y, low, high, level=0.5) -> float:
    """Fraction of a rise, on a log-time axis, where the curve is flat.

    The rise is the stretch from the first sample with y >= low to the first with
    y >= high. On it the slope per e-fold of time, dy / d(log t) (finite differences
    between samples), is compared with its mean over the rise,
    (y_end - y_start) / log(t_end / t_start); the result is the share of the rise's
    log-time span where the slope is below `level` times that mean. A curve that climbs
    a staircase has a positive fraction (its plateaus); one that rises smoothly, 0.

    Parameters
    ----------
    t : (T,) array
        Strictly increasing times, > 0.
    y : (T,) array
        Trajectory (e.g. a trace norm).
    low, high : float
        low < high, both reached within the samples.
    level : float
        In (0, 1], the flatness threshold as a fraction of the mean slope.

    Returns
    -------
    float in [0, 1]
    """
    t = v.as_float_array(t, "t", ndim=1)
    y = v.as_float_array(y, "y", ndim=1)
    if y.size != t.size or t.size < 2:
        raise ValueError(
            f"y must have the same length as t (>= 2), got {y.size} and {t.size}"
        )
    if np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError("t must be positive and strictly increasing (a log-time axis)")
    if not low < high:
        raise ValueError(f"low must be < high, got {low} and {high}")
    if not 0 < level <= 1:
        raise ValueError(f"level must be in (0, 1], got {level}")
    if not (np.any(y >= low) and np.any(y >= high)):
        raise ValueError(
            f"y never reaches high = {high} within the samples; run longer"
        )
    a, b = int(np.argmax(y >= low)), int(np.argmax(y >= high))
    if b <= a:
        raise ValueError(
            "y jumps from below low to above high in one sample; sample finer"
        )
    logt = np.log(t[a : b + 1])
    dlog = np.diff(logt)
    slope = np.diff(y[a : b + 1]) / dlog
    mean = (y[b] - y[a]) / (logt[-1] - logt[0])
    return float(dlog[slope < level * mean].sum() / (logt[-1] - logt[0]))


def plateau_lengths(fractions, low=0.1, high=0.9) -> np.ndarray:
    """Number of recorded times spent on each intermediate plateau of a sequential run.

    The run is on plateau k (1 <= k < K) at a time when the first k modes are learned to
    at least `high` of their limit and the other K - k to at most `low`: the map is then
    within about `low` (relative, per mode) of the rank-k sequential limit. A run
    without a plateau k gives 0 there.

    Parameters
    ----------
    fractions : (T, ..., K)
        Learned fractions w_i / (sigma_i / lam_i), modes in the order in which they are
        expected to be learned (decreasing sigma).
    low, high : float
        Thresholds, 0 <= low < high <= 1.

    Returns
    -------
    (..., K - 1) int array
        Entry k - 1 counts the times on plateau k.
    """
    f = v.as_float_array(fractions, "fractions", min_ndim=2)
    low = float(v.as_float_array(low, "low"))
    high = float(v.as_float_array(high, "high"))
    if not 0 <= low < high <= 1:
        raise ValueError(
            f"low and high must satisfy 0 <= low < high <= 1, got {low} and {high}"
        )
    K = f.shape[-1]
    if K < 2:
        raise ValueError(
            f"fractions must have at least 2 modes on its last axis, got {K}"
        )
    learned = f >= high
    unlearned = f <= low
    # on plateau k: all of the first k learned and all of the rest unlearned
    first_learned = np.cumprod(learned, axis=-1).astype(bool)  # modes 1..k all learned
    rest_unlearned = np.flip(np.cumprod(np.flip(unlearned, -1), axis=-1), -1).astype(
        bool
    )
    on = first_learned[..., :-1] & rest_unlearned[..., 1:]
    return on.sum(axis=0)


def prediction_distance(Sxx, W, W_ref) -> np.ndarray:
    """Relative distance between the predictions of two maps.

    ||Sxx^{1/2} (W - W_ref)||_F / ||Sxx^{1/2} W_ref||_F: the distance between the
    predictions X W and X W_ref (root mean square over samples), relative to the size of
    the reference's predictions; absolute if W_ref predicts 0. Directions of tiny input
    variance, which dominate the parameter distance `relative_distance`, barely count.

    Parameters
    ----------
    Sxx : (p, p) array
    W, W_ref : (..., p, d) arrays, broadcasting

    Returns
    -------
    (...) array
    """
    Sxx = v.as_float_array(Sxx, "Sxx", min_ndim=2)
    W = v.as_float_array(W, "W", min_ndim=2)
    W_ref = v.as_float_array(W_ref, "W_ref", min_ndim=2)
    num = np.sqrt(np.maximum(_weighted_square(Sxx, W - W_ref), 0.0))
    den = np.sqrt(np.maximum(_weighted_square(Sxx, W_ref), 0.0))
    return num / np.where(den > 0, den, 1.0)


def _weighted_square(C, D) -> np.ndarray:
    """tr(D^T C D) for each map of a stack D, shape (..., p, d) -> (...).

    With C = Sxx it is the mean square of the predictions X D over the samples.
    """
    return np.sum((C @ D) * D, axis=(-2, -1))


def population_excess(C, W, W_star) -> np.ndarray:
    """Excess population loss 1/2 tr((W - W*)^T C (W - W*)) over the true map W*.

    The test loss on infinitely many fresh samples with input covariance C, minus the
    noise floor (`lib.problems.planted_low_rank`).

    Parameters
    ----------
    C : (p, p) array
    W : (..., p, d) array
    W_star : (p, d) array

    Returns
    -------
    (...) array
    """
    C = v.as_float_array(C, "C", ndim=2)
    W = v.as_float_array(W, "W", min_ndim=2)
    return 0.5 * _weighted_square(C, W - v.as_float_array(W_star, "W_star", min_ndim=2))
