"""The mathematics of the book, once.

`lib.problems` (data), `lib.estimators` (least-squares, reduced-rank, nuclear-norm and
ridge regression), `lib.theory` (closed forms, bounds), `lib.stability` (sharpness,
stable step sizes), `lib.dynamics` (gradient descent and flow),
`lib.metrics` (measurements), `lib.plotting` (figure style, kernel-free slider) and
`lib.report` (printed checks that nbval can compare).

Data flow: problems -> estimators / theory / stability -> dynamics -> metrics ->
plotting -> chapter.
"""

from . import (
    dynamics,
    estimators,
    metrics,
    plotting,
    problems,
    report,
    stability,
    theory,
)
from ._validate import DivergenceError

__all__ = [
    "problems",
    "estimators",
    "theory",
    "stability",
    "dynamics",
    "metrics",
    "plotting",
    "report",
    "DivergenceError",
]
