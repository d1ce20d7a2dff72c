"""Many variants of one scenario: a grid or random samples over any scenario field,
planned in local processes or as Ray tasks, one row of decision columns per point.

The sweep stands above the planner (it calls :func:`llmplan.plan.planner.make_plan`) and
below the edges: the CLI's ``llmplan sweep`` is a thin adapter over :func:`run_sweep`.
"""

from llmplan.sweep.points import Vary, apply_point, parse_vary, sweep_points
from llmplan.sweep.run import SweepSettings, evaluate_point, run_sweep

__all__ = [
    "SweepSettings",
    "Vary",
    "apply_point",
    "evaluate_point",
    "parse_vary",
    "run_sweep",
    "sweep_points",
]
