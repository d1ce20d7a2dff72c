"""Discrete-event simulation of LLM serving: arrivals, continuous batching, SLO percentiles.

Nothing here runs at import. Build a :class:`ReplicaModel` once per deployment (it
tabulates the roofline's step times, ~50 ms), then run :func:`simulate` as often as
needed::

    model = ReplicaModel.of(dep, workload)
    result = simulate(model, workload, SimConfig(num_requests=100_000, replicas=4),
                      np.random.default_rng(seed))
    result.ttft.p99_ms, result.goodput_requests_per_s

:func:`find_max_rate` searches the largest Poisson rate that meets TTFT/TPOT targets;
:mod:`llmplan.sim.scenario` turns a scenario's inference workload into arrivals, lengths
and targets. Modules: ``arrivals``, ``lengths`` and ``trace`` (what arrives),
``steptable`` and ``lookup`` (step times), ``speculation`` (prefix-cache hits and
speculative decoding drawn per request), ``state`` and ``engine`` (one replica's
scheduler), ``cluster`` and ``parallel`` (replicas behind a router), ``sketch`` and
``stats`` (streamed statistics), ``results`` (the SLO search).
"""

from llmplan.sim.arrivals import (
    ArrivalProcess,
    ClosedLoop,
    GammaArrivals,
    HourlyArrivals,
    OpenLoop,
    PoissonArrivals,
    TraceReplay,
    Workload,
)
from llmplan.sim.cluster import ReplicaModel, Router, SimConfig, simulate
from llmplan.sim.lengths import (
    EmpiricalLength,
    FixedLength,
    LengthDistribution,
    LognormalLength,
    UniformLength,
    load_lengths,
)
from llmplan.sim.results import MaxRate, find_max_rate, saturation_rate_estimate
from llmplan.sim.sketch import LogHistogram
from llmplan.sim.state import BLOCK_TOKENS, EngineLimits, engine_limits
from llmplan.sim.stats import LatencySummary, SimResult, SimSeries, SloTargets
from llmplan.sim.steptable import StepTimeTable, build_step_table
from llmplan.sim.trace import Trace, load_trace

__all__ = [
    "BLOCK_TOKENS",
    "ArrivalProcess",
    "ClosedLoop",
    "EmpiricalLength",
    "EngineLimits",
    "FixedLength",
    "GammaArrivals",
    "HourlyArrivals",
    "LatencySummary",
    "LengthDistribution",
    "LogHistogram",
    "LognormalLength",
    "MaxRate",
    "OpenLoop",
    "PoissonArrivals",
    "ReplicaModel",
    "Router",
    "SimConfig",
    "SimResult",
    "SimSeries",
    "SloTargets",
    "StepTimeTable",
    "Trace",
    "TraceReplay",
    "UniformLength",
    "Workload",
    "build_step_table",
    "engine_limits",
    "find_max_rate",
    "load_lengths",
    "load_trace",
    "saturation_rate_estimate",
    "simulate",
]
