"""Shared fixtures. nbval collects the chapter notebooks itself (see pyproject addopts)."""

import numpy as np
import pytest

from lib import problems


@pytest.fixture(scope="session")
def aligned():
    """A small exact problem with distinct sigma and lam, p > k and d > k (rectangular)."""
    sigma = np.array([3.0, 2.0, 1.2, 0.5])
    lam = np.array([1.5, 0.8, 2.0, 1.0])
    X, Y = problems.aligned_problem(sigma, lam, n=200, p=6, d=5, seed=1)
    return dict(sigma=sigma, lam=lam, X=X, Y=Y, A=problems.measure_assumption(X, Y))
