"""Results of simulations, and the search for the largest rate that meets an SLO.

A :class:`~llmplan.sim.stats.SimResult` carries TTFT, TPOT, ITL and end-to-end latency
(mean, p50/p90/p95/p99, max), throughput, goodput (requests per second that met both
targets) and the queue, running sequences and KV-cache utilisation over time.

:func:`find_max_rate` brackets, then bisects, the Poisson rate at which the SLO
percentile of TTFT and of TPOT is still within target. Every trial runs the same
``num_requests`` with the same seed, so trials differ only in the rate (common random
numbers: gaps scale as ``1 / rate``), which keeps the pass/fail answer monotone in
practice. Above capacity a queue builds for as long as requests arrive, so the answer
depends (slightly) on ``num_requests``: the run should be long against the latency
targets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llmplan.errors import InputError
from llmplan.sim.arrivals import OpenLoop, PoissonArrivals
from llmplan.sim.cluster import ReplicaModel, Router, SimConfig, simulate
from llmplan.sim.lengths import LengthDistribution
from llmplan.sim.stats import LatencySummary, SimResult, SimSeries, SloTargets

__all__ = [
    "LatencySummary",
    "MaxRate",
    "SimResult",
    "SimSeries",
    "SloTargets",
    "find_max_rate",
    "saturation_rate_estimate",
]

MAX_BRACKET_STEPS = 12
"""Doublings (or halvings) of the first guess tried before giving up: a rate 4,096 times
below the replicas' saturation that still misses the SLO means no rate meets it."""


@dataclass(frozen=True)
class MaxRate:
    """The largest rate found to meet the SLO (0 when even a trickle misses it), the
    result there, and the first rate found to miss it."""

    rate_per_s: float
    failing_rate_per_s: float
    result: SimResult | None
    trials: int


def saturation_rate_estimate(
    model: ReplicaModel, input_tokens: float, output_tokens: float, replicas: int = 1
) -> float:
    """Requests/s the replicas serve at full batch (a starting point for searches)."""
    limits, table = model.limits, model.table
    context = input_tokens + output_tokens / 2
    batch = max(1.0, min(limits.max_num_seqs, limits.capacity_tokens / max(context, 1.0)))
    decode = table.step(batch, context, 0.0, 0.0, 0.0)
    features = model.features
    computed = max(1.0, input_tokens * (1.0 - features.prefix_hit))
    cached = input_tokens - computed
    with_prompt = table.step(batch, context, computed, 1.0, cached + computed / 2)
    spec = features.spec
    steps = output_tokens if spec is None else output_tokens / spec.tokens_per_step
    per_request_s = steps * decode / batch + (with_prompt - decode)
    return replicas / per_request_s


def find_max_rate(
    model: ReplicaModel,
    input_tokens: LengthDistribution,
    output_tokens: LengthDistribution,
    slo: SloTargets,
    *,
    replicas: int = 1,
    router: Router = Router.ROUND_ROBIN,
    num_requests: int = 5000,
    seed: int = 0,
    relative_tolerance: float = 0.01,
    workers: int = 1,
) -> MaxRate:
    """Largest Poisson rate (requests/s over all replicas) meeting ``slo``, to within
    ``relative_tolerance``."""
    if not slo.has_targets:
        raise InputError("give a TTFT or TPOT target to search against", field="slo")
    if not 0 < relative_tolerance < 1:
        raise InputError(f"must be in (0, 1), got {relative_tolerance}", field="tolerance")
    config = SimConfig(
        num_requests=num_requests, replicas=replicas, router=router, slo=slo, workers=workers
    )
    trials = 0

    def trial(rate: float) -> SimResult:
        nonlocal trials
        trials += 1
        work = OpenLoop(PoissonArrivals(rate), input_tokens, output_tokens)
        return simulate(model, work, config, np.random.default_rng(seed))

    guess = saturation_rate_estimate(
        model, input_tokens.mean_tokens, output_tokens.mean_tokens, replicas
    )
    low, high, best = _bracket(trial, guess)
    if best is None and low == 0.0:
        return MaxRate(0.0, high, None, trials)
    while high - low > relative_tolerance * high:
        middle = (low + high) / 2
        result = trial(middle)
        if result.meets_slo:
            low, best = middle, result
        else:
            high = middle
    return MaxRate(low, high, best, trials)


def _bracket(
    trial: Callable[[float], SimResult], guess: float
) -> tuple[float, float, SimResult | None]:
    """(passing rate, failing rate, result at the passing rate) around ``guess``."""
    rate = guess
    first = trial(rate)
    if first.meets_slo:
        low, best = rate, first
        for _ in range(MAX_BRACKET_STEPS):
            rate *= 2
            result = trial(rate)
            if not result.meets_slo:
                return low, rate, best
            low, best = rate, result
        return low, rate, best
    high = rate
    for _ in range(MAX_BRACKET_STEPS):
        rate /= 2
        result = trial(rate)
        if result.meets_slo:
            return rate, high, result
        high = rate
    return 0.0, high, None
