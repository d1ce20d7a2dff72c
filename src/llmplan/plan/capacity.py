"""How many requests per second one replica serves within latency targets.

A replica is one copy of the model on ``tp x pp`` GPUs. Its capacity under service-level
objectives is the highest Poisson arrival rate at which the predicted TTFT and TPOT at
the SLO percentile stay within their targets, with prompts and outputs drawn from the
workload's length laws (``perf.openloop``: prefill as a queue, decode slowed by prompt
work, the batch and KV cache a request finds); without targets it is the replica's
maximum throughput times ``max_utilisation`` (the finance assumption of that name,
default :data:`MAX_LOAD_FACTOR`), since no queue is stable at 100 % load. Prefix-cache
hits and speculative decoding (``features``, from the scenario's ``cached_input_fraction``
and ``speculative``) enter every figure as they do in ``llmplan perf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from llmplan.deployment import Deployment
from llmplan.errors import LlmplanError
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.load import DATASET_LENGTH_CV, Load, LoadKind, PerfResult
from llmplan.perf.openloop import (
    Lengths,
    OpenLoopState,
    open_loop_state,
    tpot_quantile_s,
    ttft_quantile_s,
)
from llmplan.perf.percentiles import LatencyPercentiles, lognormal_quantile
from llmplan.perf.serving import predict
from llmplan.sim.cluster import request_token_limit

MAX_LOAD_FACTOR = 0.9
"""Default highest share of its maximum throughput a replica is planned to run at."""

SEARCH_STEPS = 10
"""Bisection steps (geometric) on the arrival rate between light load and saturation
(resolution 50 ** (1 / 1024), 0.4 %)."""

LIGHT_LOAD_FACTOR = 0.02
"""Share of the saturation rate at which SLOs are first checked (an almost idle replica)."""


@dataclass(frozen=True)
class LatencyTargets:
    """SLO targets at a percentile; None = no target."""

    ttft_ms: float | None
    tpot_ms: float | None
    percentile: float = 95.0

    def met_by(self, latency: LatencyPercentiles) -> bool:
        ttft_ok = self.ttft_ms is None or latency.ttft_ms <= self.ttft_ms
        tpot_ok = self.tpot_ms is None or latency.tpot_ms <= self.tpot_ms
        return ttft_ok and tpot_ok

    def violation(self, latency: LatencyPercentiles) -> str:
        """Which target ``latency`` misses, in words."""
        p = f"p{self.percentile:g}"
        if math.isinf(latency.ttft_ms) and math.isinf(latency.tpot_ms):
            return f"{p} TTFT unbounded: the replica cannot keep up (prefill or decode saturated)"
        if self.ttft_ms is not None and latency.ttft_ms > self.ttft_ms:
            return f"{p} TTFT {latency.ttft_ms:,.0f} ms > target {self.ttft_ms:,.0f} ms"
        if self.tpot_ms is not None and latency.tpot_ms > self.tpot_ms:
            return f"{p} TPOT {latency.tpot_ms:,.1f} ms > target {self.tpot_ms:,.1f} ms"
        return ""


@dataclass(frozen=True)
class ReplicaCapacity:
    """One replica at the highest rate that meets the targets."""

    deployment: Deployment
    max_requests_per_s: float
    saturation_requests_per_s: float
    result: PerfResult
    latency: LatencyPercentiles
    limited_by: str
    features: Features = NO_FEATURES

    @property
    def output_tokens_per_s(self) -> float:
        return self.result.output_tokens_per_s


@dataclass(frozen=True)
class Infeasible:
    """A replica that cannot meet the targets even when almost idle, with the reason."""

    deployment: Deployment
    reason: str


def _saturated(percentile: float) -> LatencyPercentiles:
    return LatencyPercentiles(percentile, math.inf, math.inf, math.inf)


@dataclass(frozen=True)
class _Workload:
    """What one replica is sized for: length laws, the longest request it holds, SLOs."""

    inputs: Lengths
    outputs: Lengths
    longest_tokens: float
    targets: LatencyTargets
    features: Features = NO_FEATURES

    def load(
        self, kind: LoadKind, request_rate: float | None = None, fixed_lengths: bool = True
    ) -> Load:
        """A perf load of the mean lengths, with the prefix hits and speculation."""
        return Load(
            kind,
            self.inputs.mean_tokens,
            self.outputs.mean_tokens,
            request_rate=request_rate,
            fixed_lengths=fixed_lengths,
            prefix_hit=self.features.prefix_hit,
            speculative=self.features.spec,
        )


def _latency_at(
    dep: Deployment, work: _Workload, rate: float
) -> tuple[OpenLoopState | None, LatencyPercentiles]:
    """Open-loop state and SLO-percentile latencies at ``rate`` requests/s (infinite when
    the replica cannot keep up); requests are cut to what one replica holds."""
    state = open_loop_state(
        dep,
        rate,
        work.inputs,
        work.outputs,
        longest_tokens=work.longest_tokens,
        features=work.features,
    )
    p = work.targets.percentile
    if state is None:
        return None, _saturated(p)
    q = p / 100
    out = work.outputs.mean_tokens
    ttft_s, tpot_s = ttft_quantile_s(state, q), tpot_quantile_s(state, q)
    long_output = lognormal_quantile(out, work.outputs.cv, q)
    e2e_s = max(state.ttft_s + (long_output - 1) * state.tpot_s, ttft_s + (out - 1) * state.tpot_s)
    return state, LatencyPercentiles(p, ttft_s * 1e3, tpot_s * 1e3, e2e_s * 1e3)


def _result_at(
    dep: Deployment, work: _Workload, rate: float, state: OpenLoopState | None
) -> PerfResult:
    """Mean figures at ``rate``, with the open-loop model's latencies and batch."""
    out = work.outputs.mean_tokens
    fixed = work.inputs.cv == 0 and work.outputs.cv == 0
    result = predict(dep, work.load(LoadKind.RATE, request_rate=rate, fixed_lengths=fixed))
    if state is None:
        return result
    return replace(
        result,
        ttft_ms=state.ttft_s * 1e3,
        tpot_ms=state.tpot_s * 1e3,
        e2e_latency_ms=(state.ttft_s + (out - 1) * state.tpot_s) * 1e3,
        batch=state.others,
    )


def replica_capacity(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    targets: LatencyTargets,
    *,
    length_cv: float | tuple[float, float] = DATASET_LENGTH_CV,
    max_utilisation: float = MAX_LOAD_FACTOR,
    features: Features = NO_FEATURES,
) -> ReplicaCapacity | Infeasible:
    """Highest arrival rate (requests/s) one replica of ``dep`` serves within ``targets``.

    ``length_cv``: coefficient of variation of prompt and output lengths (0 = fixed),
    or a pair (prompts, outputs); ``features``: prefix-cache hits and speculative
    decoding. Raises the perf model's errors (e.g. DoesNotFitError) for deployments
    that cannot run, and refuses, as the simulator does, a replica whose KV cache cannot
    hold the mean request.
    """
    cv_in, cv_out = length_cv if isinstance(length_cv, tuple) else (length_cv, length_cv)
    inputs, outputs = Lengths(max(input_tokens, 1.0), cv_in), Lengths(output_tokens, cv_out)
    work = _Workload(inputs, outputs, math.inf, targets, features)
    offline = predict(dep, work.load(LoadKind.OFFLINE))
    longest = request_token_limit(dep, input_tokens, output_tokens)  # the simulator's rule
    work = replace(work, longest_tokens=float(longest))
    saturation = offline.requests_per_s
    ceiling = saturation * max_utilisation
    low = saturation * LIGHT_LOAD_FACTOR
    state, latency = _latency_at(dep, work, low)
    if not targets.met_by(latency):
        return Infeasible(dep, f"{targets.violation(latency)} even at light load")
    top_state, top_latency = _latency_at(dep, work, ceiling)
    if targets.met_by(top_latency):
        top = _result_at(dep, work, ceiling, top_state)
        return ReplicaCapacity(dep, ceiling, saturation, top, top_latency, "throughput", features)
    # bisect between light load and saturation, so that the rate found does not depend
    # on max_utilisation; rates at or above the ceiling are known to miss the targets
    high, high_latency = saturation, top_latency
    for _ in range(SEARCH_STEPS):
        mid = math.sqrt(low * high)
        if mid >= ceiling:
            high = mid
            continue
        mid_state, mid_latency = _latency_at(dep, work, mid)
        if targets.met_by(mid_latency):
            low, state, latency = mid, mid_state, mid_latency
        else:
            high, high_latency = mid, mid_latency
    limit = targets.violation(high_latency).split(" ", 2)[1]
    result = _result_at(dep, work, low, state)
    return ReplicaCapacity(dep, low, saturation, result, latency, f"{limit} SLO", features)


def latency_at_rate(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    targets: LatencyTargets,
    rate: float,
    *,
    length_cv: float | tuple[float, float] = DATASET_LENGTH_CV,
    features: Features = NO_FEATURES,
) -> LatencyPercentiles:
    """SLO-percentile latencies of one replica of ``dep`` at ``rate`` requests/s, by the
    same open-loop model (and the simulator's KV rule) that sizes replicas."""
    longest = request_token_limit(dep, input_tokens, output_tokens)
    cv_in, cv_out = length_cv if isinstance(length_cv, tuple) else (length_cv, length_cv)
    inputs, outputs = Lengths(max(input_tokens, 1.0), cv_in), Lengths(output_tokens, cv_out)
    work = _Workload(inputs, outputs, float(longest), targets, features)
    return _latency_at(dep, work, rate)[1]


def try_replica_capacity(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    targets: LatencyTargets,
    *,
    length_cv: float | tuple[float, float] = DATASET_LENGTH_CV,
    max_utilisation: float = MAX_LOAD_FACTOR,
    features: Features = NO_FEATURES,
) -> ReplicaCapacity | Infeasible:
    """:func:`replica_capacity`, with deployments that cannot run turned into Infeasible."""
    try:
        return replica_capacity(
            dep,
            input_tokens,
            output_tokens,
            targets,
            length_cv=length_cv,
            max_utilisation=max_utilisation,
            features=features,
        )
    except LlmplanError as exc:
        return Infeasible(dep, str(exc))
