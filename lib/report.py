"""Printed checks that read the same on every run: rounded numbers and verdicts.

nbval compares printed text exactly, so a printed number must not depend on BLAS
thread counts or on rounding noise: O(1) quantities are printed to a few significant
digits, and errors (which live at rounding level) as the power of ten above them.
"""

from __future__ import annotations

import math

import numpy as np


def sig(x, digits: int = 3, atol: float = 0.0) -> str:
    """Format x rounded to `digits` significant digits, in plain or scientific notation.

    Parameters
    ----------
    x : float
    digits : int
    atol : float
        |x| < atol prints as "0": use it for quantities whose exact value is zero and
        whose computed value is rounding noise (a loss at an exact fit, say).

    Returns
    -------
    str
    """
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0 or abs(x) < atol:
        return "0"
    return f"{x:.{digits}g}"


def decade(x) -> str:
    """The power of ten at or above |x| (e.g. 3.1e-11 -> '1e-10').

    A stable way to print an error whose digits are rounding noise.

    Parameters
    ----------
    x : float

    Returns
    -------
    str
        '0' for an exact zero.
    """
    x = abs(float(x))
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    return f"1e{math.ceil(math.log10(x) - 1e-9):d}"


def check(label: str, error, tol, floor=None) -> bool:
    """Print 'label: max error <= 1e-10, tolerance 1e-08: OK' (or FAIL); return it.

    Use as `assert check(...)` so that a false claim fails the cell, and the printed
    verdict is what nbval compares. An error within a factor 10 of the tolerance is
    printed to two significant digits (it is a modelling error, worth reading); a
    smaller one as the power of ten above it, and one below `floor` as '<= floor':
    those digits are rounding noise that differs between BLAS builds.

    Parameters
    ----------
    label : str
    error : float or array
        Errors; their largest absolute value is checked (must be finite).
    tol : float
    floor : float, optional
        Default max(tol / 10^3, 1e-13).

    Returns
    -------
    bool
        error <= tol.
    """
    error = float(np.max(np.abs(error)))
    if not math.isfinite(error):
        raise ValueError(f"error must be finite for the check '{label}', got {error}")
    floor = max(tol * 1e-3, 1e-13) if floor is None else floor
    ok = bool(error <= tol)
    shown = (
        f"= {sig(error, 2)}" if error >= tol / 10 else f"<= {decade(max(error, floor))}"
    )
    print(
        f"{label}: max error {shown}, tolerance {sig(tol, 2)}: {'OK' if ok else 'FAIL'}"
    )
    return ok


def verdict(label: str, ok: bool, detail: str = "") -> bool:
    """Print 'label: detail: OK' (or FAIL) for a claim that is not an error bound.

    Parameters
    ----------
    label : str
    ok : bool
    detail : str
        Printed between the label and the verdict when not empty.

    Returns
    -------
    bool
        ok.
    """
    ok = bool(ok)
    print(f"{label}{': ' + detail if detail else ''}: {'OK' if ok else 'FAIL'}")
    return ok


def table(header, rows, digits: int = 3, atol: float = 0.0) -> None:
    """Print a fixed-width text table.

    Parameters
    ----------
    header : sequence of str
    rows : sequence of sequences
        Strings as they are, integers in full, floats rounded to `digits` significant
        digits (see `sig`).
    digits : int
    atol : float
        Floats below it in magnitude print as 0.

    Returns
    -------
    None
    """
    cells = [
        [
            c
            if isinstance(c, str)
            else (str(c) if isinstance(c, (int, np.integer)) else sig(c, digits, atol))
            for c in row
        ]
        for row in rows
    ]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)
    ]
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
    for r in cells:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))


def mean_se(x, digits: int = 2, axis: int = -1) -> str:
    """'mean ± standard error' of the samples along `axis` (e.g. over splits or seeds).

    Parameters
    ----------
    x : array
        At least 2 samples along `axis`.
    digits : int
        Significant digits of the mean (the error gets one).
    axis : int

    Returns
    -------
    str
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(
            f"x must hold at least 2 samples along axis {axis}, got shape {x.shape}"
        )
    se = np.std(x, axis=axis, ddof=1) / np.sqrt(n)
    return f"{sig(np.mean(x, axis=axis), digits)} ± {sig(se, 1)}"
