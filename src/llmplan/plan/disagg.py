"""Disaggregated prefill/decode designs in the planner: units of P prefill and D decode
replicas, sized against the workload's SLOs by the model ``llmplan perf --disaggregate``
uses (:mod:`llmplan.perf.disagg_serving`).

**What is searched** (:func:`split_candidates`): a design that already serves the
workload aggregated, on multi-GPU replicas, that needs at least
:data:`MIN_REPLICAS_FOR_SPLIT` replicas (a large fleet), is also tried as units of
``p`` prefill and ``d`` decode replicas of the same layout for each ratio of the
scenario's ``candidates.split_ratios`` (default :data:`SPLIT_RATIOS`); a unit must span
more than one node (so that its KV transfers cross the scale-out network, as they do
between the units of a fleet and in the simulator's confirmation of the whole fleet).
The ratio that serves the busiest hour with the fewest GPUs is kept (one disaggregated
design per aggregated one). Workloads with prefix caching or speculative decoding are
not split yet (the simulator's disaggregated pools do not model them).

**Capacity of a unit** (:func:`split_capacity`): the highest rate whose SLO-percentile
TTFT and TPOT meet the targets, bisected as an aggregated replica's is
(:func:`llmplan.plan.capacity.replica_capacity`). TTFT at quantile ``q`` = the prefill
queue's wait at ``q`` (waiting with probability ``rho``, the prefill pool's load, then
exponential with the Kingman mean, as :mod:`llmplan.perf.openloop` takes the prompt
queue) + the prompt's own prefill and KV transfer scaled to the ``q`` prompt length
(both grow with the prompt's tokens) + half a decode step; TPOT = the decode pool's step
at the batch the rate keeps running (decode-only steps do not vary with prompts).

**Lengths** (:func:`unit_of`): the requests decoding at any moment are length-biased
(a request of twice the output stays twice as long), so their mean output is
``E[out^2] / E[out] = mean x (1 + cv^2)``; the decode pool's KV-cache batch limit and
its mean context use that biased output, as the simulator's decode replicas see it
(without it, DeepSeek-R1 tp8 at 1:4 with lognormal 1K/1K lengths (cv 0.66) saturated
in the simulator at 89 % of the analytic capacity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError, LlmplanError
from llmplan.perf.disagg import Disaggregation
from llmplan.perf.disagg_serving import SATURATION_MARGIN, predict_disaggregated
from llmplan.perf.disagg_serving import Design as Unit
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.openloop import Lengths
from llmplan.perf.percentiles import LatencyPercentiles, lognormal_quantile
from llmplan.perf.serving import capacity
from llmplan.plan.capacity import (
    LIGHT_LOAD_FACTOR,
    SEARCH_STEPS,
    Infeasible,
    LatencyTargets,
    ReplicaCapacity,
)

SPLIT_RATIOS: tuple[tuple[int, int], ...] = ((2, 1), (1, 1), (1, 2), (1, 3), (1, 4))
"""Default prefill replicas : decode replicas of one unit (the scenario's
``candidates.split_ratios``). 1:1 is SGLang's published 1P1D DeepSeek-R1 run (2 x 8
H200, sglang#5490); 1:3 SGLang's large-scale EP deployment (3 prefill and 9 decode
nodes, lmsys.org/blog/2025-05-05-large-scale-ep); 1:4 close to DeepSeek's own inference
system (about 4 prefill to 18 decode nodes per unit, DeepSeek's "Day 6" open-source-week
disclosure, 2025); 1:2 between them and 2:1 for prompt-heavy workloads (long prompts,
short answers), where the prefill pool binds."""

MIN_REPLICAS_FOR_SPLIT = 4
"""Aggregated replicas a design needs before its disaggregated variants are tried: a
unit holds at least two replicas, so a smaller fleet cannot balance its pools."""


@dataclass(frozen=True)
class SplitWorkload:
    """What a unit is sized for: length laws, targets, serving features."""

    inputs: Lengths
    outputs: Lengths
    targets: LatencyTargets
    features: Features = NO_FEATURES

    def load(self, rate_per_s: float | None = None) -> Load:
        kind = LoadKind.OFFLINE if rate_per_s is None else LoadKind.RATE
        return Load(
            kind,
            self.inputs.mean_tokens,
            self.outputs.mean_tokens,
            request_rate=rate_per_s,
            prefix_hit=self.features.prefix_hit,
            speculative=self.features.spec,
        )


def unit_of(dep: Deployment, split: Disaggregation, work: SplitWorkload) -> Unit:
    """``perf --disaggregate``'s pools for the workload's mean lengths, the decode pool
    sized for the length-biased outputs it holds (module docstring)."""
    mean = Unit.of(dep, split, work.load())
    out = work.outputs.mean_tokens
    biased = out * (1.0 + work.outputs.cv**2)
    inp = work.inputs.mean_tokens
    limit = capacity(mean.decode_dep, inp, biased, work.features.spec)
    if limit < 1:
        raise DoesNotFitError(
            f"{dep.model.id} with {inp + biased:.0f}-token contexts does not fit on a "
            f"{dep.num_gpus} x {dep.gpu.id} decode replica"
        )
    decode = replace(mean.decode, max_batch=limit, context=inp + biased / 2)
    return replace(mean, decode=decode)


def _wait_quantile_s(mean_wait_s: float, load: float, q: float) -> float:
    """Wait at quantile ``q``: none with probability ``1 - load``, else exponential with
    mean ``mean_wait_s / load``."""
    if mean_wait_s <= 0 or load <= 1 - q:
        return 0.0
    return mean_wait_s / load * math.log(load / (1 - q))


def unit_latency(unit: Unit, work: SplitWorkload, rate_per_s: float) -> LatencyPercentiles:
    """SLO-percentile latencies (ms) of ``unit`` at ``rate_per_s`` requests/s (module
    docstring); infinite when a pool cannot keep up."""
    p = work.targets.percentile
    q = p / 100
    if rate_per_s >= unit.capacity_per_s * (1 - SATURATION_MARGIN):
        return LatencyPercentiles(p, math.inf, math.inf, math.inf)
    per_prefill = rate_per_s / unit.prefill_replicas
    regularity = 1.0 / unit.prefill_replicas  # squared CV of round-robin (Erlang) gaps
    own = unit.prefill.own_prefill_s(per_prefill, regularity)
    wait = unit.prefill.queue_wait_s(per_prefill, regularity)
    rho = per_prefill / unit.prefill.capacity_per_s
    mean_in = work.inputs.mean_tokens
    long_prompt = lognormal_quantile(mean_in, work.inputs.cv, q) / mean_in
    tpot = unit.decode.tpot_s(rate_per_s / unit.decode_replicas)
    ttft = _wait_quantile_s(wait, rho, q) + (own + unit.transfer_s(own)) * long_prompt
    ttft += 0.5 * tpot
    out = work.outputs.mean_tokens
    long_output = lognormal_quantile(out, work.outputs.cv, q)
    e2e = ttft + max(0.0, long_output - 1) * tpot
    return LatencyPercentiles(p, ttft * 1e3, tpot * 1e3, e2e * 1e3)


def split_capacity(
    dep: Deployment, split: Disaggregation, work: SplitWorkload, max_utilisation: float
) -> ReplicaCapacity | Infeasible:
    """Highest request rate one unit (``split``) of ``dep`` serves within the targets;
    raises the perf model's errors for a unit that cannot run."""
    unit = unit_of(dep, split, work)
    saturation = unit.capacity_per_s
    targets = work.targets
    low = saturation * LIGHT_LOAD_FACTOR
    latency = unit_latency(unit, work, low)
    if not targets.met_by(latency):
        return Infeasible(dep, f"{targets.violation(latency)} even at light load")
    ceiling = saturation * max_utilisation
    top = unit_latency(unit, work, ceiling)
    if targets.met_by(top):
        return _capacity(dep, split, work, ceiling, saturation, top, "throughput")
    high, high_latency = ceiling, top
    for _ in range(SEARCH_STEPS):
        mid = math.sqrt(low * high)
        mid_latency = unit_latency(unit, work, mid)
        if targets.met_by(mid_latency):
            low, latency = mid, mid_latency
        else:
            high, high_latency = mid, mid_latency
    limit = targets.violation(high_latency).split(" ", 2)[1]
    return _capacity(dep, split, work, low, saturation, latency, f"{limit} SLO")


def _capacity(
    dep: Deployment,
    split: Disaggregation,
    work: SplitWorkload,
    rate: float,
    saturation: float,
    latency: LatencyPercentiles,
    limited_by: str,
) -> ReplicaCapacity:
    """A unit's capacity with the mean figures of ``llmplan perf --disaggregate``."""
    result = predict_disaggregated(dep, split, work.load(rate)).perf
    return ReplicaCapacity(dep, rate, saturation, result, latency, limited_by, work.features)


def split_candidates(
    dep: Deployment, replicas: int, ratios: tuple[tuple[int, int], ...] = SPLIT_RATIOS
) -> list[Disaggregation]:
    """Units of ``ratios`` (prefill : decode replicas) worth trying for a design of
    ``replicas`` replicas of ``dep`` (module docstring): none for single-GPU replicas or
    small fleets; only units that span more than one node."""
    size = dep.num_gpus
    if size < 2 or replicas < MIN_REPLICAS_FOR_SPLIT:
        return []
    node = dep.gpu.max_gpus_per_node
    out = []
    for prefill, decode in ratios:
        if (prefill + decode) * size > node:
            out.append(Disaggregation(prefill * size, decode * size))
    return out


def try_split_capacity(
    dep: Deployment, split: Disaggregation, work: SplitWorkload, max_utilisation: float
) -> ReplicaCapacity | Infeasible:
    """:func:`split_capacity`, with units that cannot run turned into Infeasible."""
    try:
        return split_capacity(dep, split, work, max_utilisation)
    except LlmplanError as exc:
        return Infeasible(dep, str(exc))
