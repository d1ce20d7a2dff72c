"""Confirming a plan with the serving simulator.

The planner sizes replicas with the analytical percentile model; before recommending, it
replays each chosen design's busiest hour (the last month's peak rate, Poisson, lengths
through the scenario's quantiles) through the discrete-event simulator
(:mod:`llmplan.sim`) on the planned number of replicas (a disaggregated design's units
as one prefill and one decode pool, :mod:`llmplan.sim.disagg`), and reports the simulated
TTFT and TPOT at the SLO percentile against the targets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from llmplan.errors import LlmplanError
from llmplan.plan.search import Design
from llmplan.sim import ReplicaModel, SimConfig, simulate
from llmplan.sim.arrivals import Workload
from llmplan.sim.disagg import DisaggregatedModel, simulate_disaggregated
from llmplan.sim.scenario import open_loop_from, slo_from
from llmplan.sim.stats import SimResult

CONFIRM_REQUESTS = 3000
"""Requests simulated per design: enough for a stable p95 (about 150 requests above it)."""


@dataclass(frozen=True)
class SimulationCheck:
    """The simulator's verdict on one design at its peak hour."""

    workload: str
    design: str
    replicas: int
    rate_per_s: float
    percentile: float
    ttft_ms: float
    tpot_ms: float
    slo_attainment: float
    meets_slo: bool
    note: str = ""
    ttft_cdf_ms: tuple[tuple[float, float], ...] = ()
    """Simulated TTFT distribution: (percent of requests, ms), for the latency CDF chart."""
    tpot_cdf_ms: tuple[tuple[float, float], ...] = ()


def simulate_design(
    design: Design, *, seed: int, requests: int = CONFIRM_REQUESTS
) -> SimulationCheck:
    """Run ``design``'s replicas at the workload's peak rate of the sizing month."""
    workload = design.workload
    work = open_loop_from(workload, month=design.sizing_month)
    slo = slo_from(workload)
    rate = workload.peak_requests_per_s(design.sizing_month)
    try:
        config = SimConfig(num_requests=requests, replicas=design.replicas, slo=slo)
        result = _run(design, work, config, np.random.default_rng(seed))
    except LlmplanError as exc:
        return SimulationCheck(
            workload.name,
            design.label,
            design.replicas,
            rate,
            slo.percentile,
            float("nan"),
            float("nan"),
            0.0,
            False,
            f"not simulated: {exc}",
        )
    p = slo.percentile
    return SimulationCheck(
        workload.name,
        design.label,
        design.replicas,
        rate,
        p,
        result.ttft.at(p),
        result.tpot.at(p),
        result.slo_attainment,
        result.meets_slo,
        ttft_cdf_ms=result.ttft.cdf_ms,
        tpot_cdf_ms=result.tpot.cdf_ms,
    )


def _run(design: Design, work: Workload, config: SimConfig, rng: np.random.Generator) -> SimResult:
    """Simulate the design's replicas; a disaggregated design as one prefill pool and one
    decode pool of all its units' replicas (:mod:`llmplan.sim.disagg`)."""
    split = design.split
    if split is None:
        model = ReplicaModel.of(design.deployment, work, design.capacity.features)
        return simulate(model, work, config, rng)
    fleet = dataclasses.replace(
        split,
        prefill_gpus=split.prefill_gpus * design.replicas,
        decode_gpus=split.decode_gpus * design.replicas,
    )
    pools = DisaggregatedModel.of(design.deployment, fleet, work)
    return simulate_disaggregated(pools, work, config, rng)


def confirm_designs(designs: list[Design], *, seed: int) -> list[SimulationCheck]:
    """Simulation checks of ``designs`` (an option's inference designs)."""
    return [simulate_design(design, seed=seed) for design in designs]
