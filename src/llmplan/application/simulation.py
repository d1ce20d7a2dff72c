"""Simulations for API requests: the options of ``llmplan simulate`` as sim objects.

:func:`simulation_of` checks a request (deployment, arrivals, lengths, SLO, the replica
fits) and is called twice: by the route, so bad input is 422 at once and nothing is
queued, and by the job (:func:`run_simulate`), which runs it and returns what
``llmplan simulate --json`` prints for the same options. Error fields are the request's
(``hourly_rates``, ``ttft_slo_ms``), as in the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmplan.application.compute import (
    clean,
    deployment_of,
    disaggregation_of,
    features_of_request,
)
from llmplan.application.options import SimulateRequest
from llmplan.catalog.loader import Catalog
from llmplan.deployment import Deployment
from llmplan.errors import InputError, LlmplanError
from llmplan.limits import check_simulation_inputs
from llmplan.perf.disagg import Disaggregation
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.load import serving_features
from llmplan.sim import (
    ClosedLoop,
    GammaArrivals,
    HourlyArrivals,
    LengthDistribution,
    OpenLoop,
    PoissonArrivals,
    ReplicaModel,
    SimConfig,
    SloTargets,
    Workload,
    find_max_rate,
    simulate,
)
from llmplan.sim.disagg import DisaggregatedModel, simulate_disaggregated
from llmplan.sim.lengths import mean_p95_lengths

Report = Callable[[float, str], None]
#: Fields of the sim objects' errors, as named in the request.
_FIELDS = {"rates_per_s": "hourly_rates", "ttft_ms": "ttft_slo_ms", "tpot_ms": "tpot_slo_ms"}
_ARRIVALS = ("rate", "hourly_rates", "clients", "find_max_rate")


@dataclass(frozen=True)
class Simulation:
    """A checked request: what to run, on what, against which targets."""

    deployment: Deployment
    model: ReplicaModel
    inputs: LengthDistribution
    outputs: LengthDistribution
    workload: Workload | None  # None: search the largest rate meeting the SLO
    config: SimConfig
    seed: int
    disaggregated: DisaggregatedModel | None = None


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise InputError(f"must be > 0, got {value:g}", field=name)


def _workload(
    request: SimulateRequest, inputs: LengthDistribution, outputs: LengthDistribution
) -> Workload | None:
    """The arrivals of exactly one of rate, hourly_rates, clients, find_max_rate."""
    values = {name: getattr(request, name) for name in _ARRIVALS}
    given = [name for name, value in values.items() if value is not None and value is not False]
    if len(given) != 1:
        raise InputError(
            "give one of rate, hourly_rates, clients, find_max_rate "
            f"(got {', '.join(given) or 'none'})",
            field="arrivals",
        )
    _positive("rate", request.rate)
    _positive("cv", request.cv)
    if request.cv is not None and request.rate is None:
        raise InputError("only applies with rate", field="cv")
    if request.rate is not None:
        cv = request.cv
        if cv not in (None, 1.0):
            return OpenLoop(GammaArrivals(request.rate, cv), inputs, outputs)
        return OpenLoop(PoissonArrivals(request.rate), inputs, outputs)
    if request.hourly_rates is not None:
        return OpenLoop(HourlyArrivals(tuple(request.hourly_rates)), inputs, outputs)
    if request.clients is not None:
        return ClosedLoop(request.clients, request.think_time_s, inputs, outputs)
    return None


def _checked(request: SimulateRequest, catalog: Catalog, max_requests: int) -> Simulation:
    check_simulation_inputs(
        requests=request.requests,
        max_requests=max_requests,
        rate=request.rate,
        cv=request.cv,
        hourly_rates=tuple(request.hourly_rates) if request.hourly_rates else None,
        clients=request.clients,
    )
    dep = deployment_of(request, request.gpu, catalog)
    inputs = mean_p95_lengths("input_tokens", request.input_tokens, request.input_p95)
    outputs = mean_p95_lengths("output_tokens", request.output_tokens, request.output_p95)
    workload = _workload(request, inputs, outputs)
    slo = SloTargets(
        ttft_ms=request.ttft_slo_ms, tpot_ms=request.tpot_slo_ms, percentile=request.percentile
    )
    if workload is None and not slo.has_targets:
        raise InputError("give a TTFT or TPOT target to search against", field="ttft_slo_ms")
    config = SimConfig(
        num_requests=request.requests, replicas=request.replicas, router=request.router, slo=slo
    )
    features = features_of_request(request, dep, catalog)
    work = workload or OpenLoop(PoissonArrivals(1.0), inputs, outputs)
    model = ReplicaModel.of(dep, work, features)
    split = disaggregation_of(request)
    disaggregated = None
    if split is not None:
        disaggregated = _disaggregated(dep, split, workload, config, features)
    return Simulation(dep, model, inputs, outputs, workload, config, request.seed, disaggregated)


def _disaggregated(
    dep: Deployment,
    split: Disaggregation,
    workload: Workload | None,
    config: SimConfig,
    features: Features,
) -> DisaggregatedModel:
    """The design of a disaggregated request (its replicas are set by the split)."""
    if workload is None:
        raise InputError("not available with disaggregate; give rate", field="find_max_rate")
    if config.replicas != 1:
        raise InputError("not available with disaggregate (the pools set the replicas)",
                         field="replicas")  # fmt: skip
    if features != NO_FEATURES:
        raise InputError(
            "prefix caching and speculative decoding are not simulated with disaggregate yet",
            field="disaggregate",
        )
    return DisaggregatedModel.of(dep, split, workload)


def simulation_of(request: SimulateRequest, catalog: Catalog, max_requests: int) -> Simulation:
    """The simulation a request describes, checked; errors name the request's fields."""
    try:
        return _checked(request, catalog, max_requests)
    except LlmplanError as exc:
        field = _FIELDS.get(exc.field or "", exc.field)
        if field == exc.field:
            raise
        raise InputError(exc.message, field=field) from None


def simulation_payload(sim: Simulation, report: Report) -> dict[str, Any]:
    """Run ``sim``: what ``llmplan simulate --json`` prints."""
    payload: dict[str, Any] = {"deployment": sim.deployment.identity()}
    features = sim.model.features
    payload |= serving_features(features.prefix_hit, features.spec)
    config = sim.config
    if sim.workload is None:
        report(0.1, f"searching the largest rate meeting the SLO ({config.num_requests:,} "
               "requests per trial)")  # fmt: skip
        search = find_max_rate(
            sim.model, sim.inputs, sim.outputs, config.slo, replicas=config.replicas,
            router=config.router, num_requests=config.num_requests, seed=sim.seed,
        )  # fmt: skip
        payload["max_rate_per_s"] = search.rate_per_s
        payload["first_failing_rate_per_s"] = search.failing_rate_per_s
        payload["search_trials"] = search.trials
        result = search.result
    elif sim.disaggregated is not None:
        report(0.1, f"simulating {config.num_requests:,} requests on a disaggregated design")
        rng = np.random.default_rng(sim.seed)
        result = simulate_disaggregated(sim.disaggregated, sim.workload, config, rng)
        payload |= sim.disaggregated.layout(sim.workload.mean_lengths()[0])
    else:
        report(0.1, f"simulating {config.num_requests:,} requests on {config.replicas} "
               "replica(s)")  # fmt: skip
        result = simulate(sim.model, sim.workload, config, np.random.default_rng(sim.seed))
    report(0.95, "building the result")
    payload["result"] = None if result is None else result.as_dict(series=True)
    if result is not None:
        payload["accepted_tokens_per_step"] = result.accepted_tokens_per_step
    return clean(payload)
