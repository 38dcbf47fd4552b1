"""The mathematics of the book, once: `lib.problems` (data), `lib.theory` (closed forms,
bounds, reduced-rank regression), `lib.dynamics` (gradient descent and flow),
`lib.metrics` (measurements), `lib.plotting` (figure style, kernel-free slider) and
`lib.report` (printed checks that nbval can compare).

Data flow: problems -> dynamics / theory -> metrics -> plotting -> chapter.
"""

from . import dynamics, metrics, plotting, problems, report, theory
from ._validate import DivergenceError

__all__ = ["problems", "theory", "dynamics", "metrics", "plotting", "report", "DivergenceError"]
