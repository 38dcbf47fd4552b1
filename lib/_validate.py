"""Argument checks shared by every module: each failure names the argument.

Every public function of `lib` validates its inputs with these helpers, so that bad
input gives one kind of error (`ValueError`) with one kind of message:
``"<name> must be <what was expected>, got <what was given>"``.
"""

from __future__ import annotations

import numbers

import numpy as np


class DivergenceError(ValueError, ArithmeticError):
    """Gradient descent left every bounded set: the step size is above the stable limit.

    Subclasses `ValueError` (the step size is a bad input for that problem) and
    `ArithmeticError` (the iterates overflowed), so either `except` clause catches it.

    Attributes
    ----------
    step : int
        First iteration whose iterate was no longer finite (or absurdly large).
    stable_eta : float
        The largest step size for which the target minimum is linearly stable
        (2 / sharpness there); the `eta` that was used is above it or near it.
    """

    def __init__(self, message: str, step: int, stable_eta: float):
        super().__init__(message)
        self.step = step
        self.stable_eta = stable_eta


def _describe(x) -> str:
    arr = np.asarray(x)
    if arr.ndim == 0:
        return repr(x)
    return f"an array of shape {arr.shape}"


def as_float_array(
    x, name: str, *, ndim: int | None = None, min_ndim: int | None = None
) -> np.ndarray:
    """`x` as a float64 array with only finite entries, else ValueError naming `name`.

    Parameters
    ----------
    x : array-like
    name : str
        Argument name for the error message.
    ndim, min_ndim : int, optional
        Required number of dimensions, or its minimum.

    Returns
    -------
    array
    """
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got {_describe(x)}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def positive(x, name: str, *, allow_zero: bool = False) -> np.ndarray:
    """Finite array with entries > 0 (or >= 0 when `allow_zero`).

    Parameters
    ----------
    x : array-like
    name : str
    allow_zero : bool

    Returns
    -------
    array
    """
    arr = as_float_array(x, name)
    bad = arr < 0 if allow_zero else arr <= 0
    if np.any(bad):
        word = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {word}, got {arr.ravel()[bad.ravel()][:3]}")
    return arr


def integer(x, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """A Python int in [low, high] (bounds inclusive, None = unbounded).

    Parameters
    ----------
    x : int
    name : str
    low, high : int, optional

    Returns
    -------
    int
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {x!r}")
    x = int(x)
    if low is not None and x < low:
        raise ValueError(f"{name} must be >= {low}, got {x}")
    if high is not None and x > high:
        raise ValueError(f"{name} must be <= {high}, got {x}")
    return x


def times(t, name: str = "t") -> np.ndarray:
    """Finite times (or iterations) since the start, all >= 0: the one "t >= 0" check.

    Parameters
    ----------
    t : array-like, any shape
    name : str

    Returns
    -------
    array
    """
    arr = as_float_array(t, name)
    if np.any(arr < 0):
        raise ValueError(
            f"{name} must be non-negative (times or iterations since the start)"
        )
    return arr


def check_data(X, Y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a data pair: X (n, p) and Y (n, d) finite, with the same n >= 1.

    Parameters
    ----------
    X : (n, p) array-like
    Y : (n, d) array-like

    Returns
    -------
    X, Y : float arrays
    """
    X = as_float_array(X, "X", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            "X and Y must have the same number of rows, "
            f"got X {X.shape} and Y {Y.shape}"
        )
    if X.shape[0] < 1:
        raise ValueError("X must have at least one row")
    return X, Y


def depth(x) -> int:
    """The network depth L >= 1.

    Parameters
    ----------
    x : int

    Returns
    -------
    int
    """
    return integer(x, "depth", low=1)


def depth_at_least_3(x, depth_2: str) -> int:
    """The depth L >= 3 of a result that has no meaning at depth 2.

    Parameters
    ----------
    x : int
    depth_2 : str
        What to use at depth 2 instead, named in the error message.

    Returns
    -------
    int
    """
    L = depth(x)
    if L < 3:
        raise ValueError(f"depth must be >= 3 (depth 2: {depth_2})")
    return L


def initial_strengths(w0, L: int) -> np.ndarray:
    """Initial mode strengths: any real at depth 1, non-negative at depth >= 2.

    Parameters
    ----------
    w0 : array-like
    L : int
        The depth (already checked).

    Returns
    -------
    float array
    """
    w0 = as_float_array(w0, "w0")
    if L >= 2 and np.any(w0 < 0):
        raise ValueError(
            "w0 must be non-negative for depth >= 2 "
            "(balanced factors carry w0 ** (1/depth))"
        )
    return w0


def batch_shape(batch: tuple, x: np.ndarray, name: str) -> tuple:
    """The batch shape `batch` broadcast with the shape of `x`.

    Parameters
    ----------
    batch : tuple of int
    x : array
        A per-batch parameter (one value per problem of the batch).
    name : str
        Its name, for the error message.

    Returns
    -------
    tuple of int
    """
    try:
        return np.broadcast_shapes(batch, x.shape)
    except ValueError as exc:
        raise ValueError(
            f"{name} {x.shape} must broadcast to the batch shape {batch}"
        ) from exc


def broadcast_modes(**arrays) -> tuple[np.ndarray, ...]:
    """Broadcast per-mode parameters together; the last axis indexes modes.

    Parameters
    ----------
    **arrays : array-like
        Named parameters (the names appear in the error message).

    Returns
    -------
    tuple of float arrays
        Of the common shape, at least 1-D.

    Raises
    ------
    ValueError
        Naming the arguments when the shapes do not broadcast.
    """
    try:
        out = np.broadcast_arrays(*arrays.values())
    except ValueError as exc:
        shapes = ", ".join(f"{k}{np.shape(v)}" for k, v in arrays.items())
        raise ValueError(
            f"{', '.join(arrays)} must broadcast together, got shapes {shapes}"
        ) from exc
    if out[0].ndim == 0:
        out = [o.reshape(1) for o in out]
    return tuple(np.array(o, dtype=float) for o in out)
