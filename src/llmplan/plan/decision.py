"""How sure the recommendation is: its share of Monte Carlo wins and, for a close call,
what would decide it.

``win_share`` is the share of draws in which the recommended option has the lowest NPV among
the options that could be recommended (spot capacity is left out when a workload has latency
targets, as for the recommendation itself). Under :data:`CLOSE_CALL_WIN_SHARE` the decision is
a *close call*: the runner-up is the option that wins most of the other draws, and the inputs
that decide between the two are those whose drawn values are most rank-correlated with the
NPV gap (runner-up minus recommended) across draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from llmplan.cost import MonteCarloResult
from llmplan.plan.planner import Plan
from llmplan.scenario import DeploymentOption

CLOSE_CALL_WIN_SHARE = 0.6
"""A recommendation winning fewer draws than this is reported as a close call (issue 13)."""
DECIDING_INPUTS = 3
"""How many deciding inputs a close call names."""


@dataclass(frozen=True)
class Decider:
    """An input whose value tips the choice: higher values favour ``favours``."""

    input: str
    rank_correlation: float
    favours: str


@dataclass(frozen=True)
class Confidence:
    """The recommendation's win share and, when it is a close call, what would decide it."""

    win_share: float
    close_call: bool
    runner_up: str | None
    runner_up_share: float
    deciders: tuple[Decider, ...]

    def summary(self, best: str) -> str:
        """One sentence for reports."""
        share = f"{best} is cheapest in {self.win_share:.0%} of Monte Carlo draws"
        if not self.close_call or self.runner_up is None:
            return share
        tips = (
            "; ".join(f"higher {d.input} favours {d.favours}" for d in self.deciders)
            or "no single input explains it"
        )
        return (
            f"close call: {share}, {self.runner_up} in {self.runner_up_share:.0%}; "
            f"what decides it: {tips}"
        )


def confidence(mc: MonteCarloResult, best: str, eligible: tuple[str, ...]) -> Confidence:
    """Win share of ``best`` among ``eligible`` options over the draws of ``mc``."""
    columns = [mc.options.index(o) for o in eligible if o in mc.options]
    names = [mc.options[j] for j in columns]
    npv = mc.samples_usd[:, columns]
    winners = np.argmin(npv, axis=1)
    shares = {n: float(np.mean(winners == i)) for i, n in enumerate(names)}
    win = shares.get(best, 0.0)
    others = {n: s for n, s in shares.items() if n != best}
    medians = {n: float(np.median(npv[:, i])) for i, n in enumerate(names)}
    runner = max(others, key=lambda n: (others[n], -medians[n])) if others else None
    close = win < CLOSE_CALL_WIN_SHARE
    deciders: tuple[Decider, ...] = ()
    if close and runner is not None:
        gap = npv[:, names.index(runner)] - npv[:, names.index(best)]
        deciders = _deciders(mc, gap, best, runner)
    return Confidence(win, close, runner, others.get(runner, 0.0) if runner else 0.0, deciders)


def _deciders(mc: MonteCarloResult, gap: np.ndarray, best: str, runner: str) -> tuple[Decider, ...]:
    """Inputs ranked by |rank correlation| with ``gap`` (runner-up NPV minus best's)."""
    found = []
    for name, values in mc.inputs.items():
        if np.ptp(values) == 0 or np.ptp(gap) == 0:
            continue
        rho = float(spearmanr(values, gap).statistic)
        if np.isfinite(rho) and abs(rho) >= 0.1:
            found.append(Decider(name, rho, best if rho > 0 else runner))
    found.sort(key=lambda d: -abs(d.rank_correlation))
    return tuple(found[:DECIDING_INPUTS])


def plan_confidence(plan: Plan) -> Confidence | None:
    """The confidence of ``plan``'s recommendation (None without a Monte Carlo run)."""
    best = plan.recommended
    if plan.monte_carlo is None or best is None:
        return None
    has_targets = any(w.slo.has_targets() for w in plan.scenario.inference_workloads())
    eligible = tuple(
        o.option.value
        for o in plan.included
        if not (has_targets and o.option is DeploymentOption.CLOUD_SPOT)
    )
    return confidence(plan.monte_carlo, best.option.value, eligible)
