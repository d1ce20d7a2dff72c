"""Latency percentiles (p50, p90, p99, ...) from the schedule behind a mean prediction.

The mean model (``perf.serving``) says how a replica spends its time; the spread around
the mean comes from four sources, each modelled from that schedule:

- **position in a wave**: a static batch larger than what fits runs in waves, and the
  request at quantile ``q`` waits ``ceil(q * waves) - 1`` of them; within a wave, prompts
  are prefilled in ``prefill_groups`` steps and its first token comes when its step ends;
- **prompt and output lengths**: lengths drawn from a dataset (ShareGPT) vary; they are
  taken as lognormal with coefficient of variation ``length_cv`` (an assumption, default
  :data:`DATASET_LENGTH_CV`);
- **arrival bursts**: under Poisson arrivals, the prompts that arrived while the step
  before a request's prefill ran are prefilled in the same step (within the engine's
  token budget) and lengthen it by their own prefill work; their number at quantile
  ``q`` is the Poisson quantile of ``rate x step time``; the requests that start a
  finite closed loop all arrive at once (``burst_share`` of them);
- **prefill interference on decode**: with continuous batching a ``mixed_share`` of
  decode steps also carry prompt chunks; a request's share of such steps varies
  binomially over its output tokens;
- **overload**: when requests arrive faster than the replica serves them, the queue
  grows linearly, and the request at quantile ``q`` of a finite run waits ``q`` times the
  wait of the last one.

Poisson loads below saturation (schedule kind ``open_loop``) take their percentiles from
the queueing model of :mod:`llmplan.perf.openloop` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.perf.load import (
    DATASET_LENGTH_CV,
    DEFAULT_FINITE_REQUESTS,
    Load,
    LoadKind,
    PerfResult,
    Schedule,
)
from llmplan.perf.openloop import load_state, tpot_quantile_s, ttft_quantile_s
from llmplan.perf.prefill import PromptBurst, joining_prompt_tokens, prefill_seconds
from llmplan.perf.prefix import cached_prompt_tokens
from llmplan.perf.serving import predict

_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class LatencyPercentiles:
    """Latencies of one request at percentile ``percentile`` (ms)."""

    percentile: float
    ttft_ms: float
    tpot_ms: float
    e2e_latency_ms: float


def lognormal_quantile(mean: float, cv: float, q: float) -> float:
    """Quantile ``q`` of a lognormal with ``mean`` and coefficient of variation ``cv``."""
    if cv <= 0:
        return mean
    sigma = math.sqrt(math.log1p(cv * cv))
    mu = math.log(mean) - sigma * sigma / 2
    return float(math.exp(mu + sigma * _STANDARD_NORMAL.inv_cdf(q)))


def _check(percentile: float) -> float:
    if not 0 < percentile < 100:
        raise InputError(f"must be between 0 and 100, got {percentile}", field="percentile")
    return percentile / 100


def _waves_ttft(schedule: Schedule, q: float) -> float:
    burst = PromptBurst(schedule.prefill_s, schedule.prefill_groups, 0.0, schedule.prefill_step_s)
    prefill = burst.ttft_quantile_s(q)
    if schedule.closed_loop:
        waited = (schedule.waves - 1) * schedule.wave_s
    else:
        waited = (max(1, math.ceil(q * schedule.waves - 1e-9)) - 1) * schedule.wave_s
    return prefill + schedule.first_token_step_s + waited


def _continuous_ttft(
    dep: Deployment, load: Load, result: PerfResult, schedule: Schedule, q: float, cv: float
) -> float:
    context = load.input_tokens + load.output_tokens / 2
    prompt = lognormal_quantile(load.input_tokens, cv, q) if cv > 0 else load.input_tokens
    step_s = result.tpot_ms / 1e3
    joining = _joining_prompt_tokens(dep, load, step_s, prompt, q)

    cached = cached_prompt_tokens(prompt, load.prefix_hit)

    def prefill_step(extra_tokens: float) -> float:
        prompts = 1.0 + extra_tokens / max(prompt - cached, 1.0)
        if schedule.first_token_step_s > 0:  # a prefill pass of its own, then a decode step
            return prefill_seconds(dep, prompts, prompt, cached_tokens=cached)
        return prefill_seconds(
            dep, prompts, prompt, decode_seqs=result.batch, decode_context=context,
            cached_tokens=cached,
        )  # fmt: skip

    own = prefill_step(0.0) + schedule.first_token_step_s
    burst = prefill_step(joining) - prefill_step(0.0) if joining > 0 else 0.0
    step_wait = q * step_s
    queued = result.queue_wait_ms / 1e3
    if schedule.overflow_wait_max_s > 0:
        free = schedule.overflow_free_share
        queued = max(0.0, q - free) / max(1e-9, 1 - free) * schedule.overflow_wait_max_s
    ttft = own + step_wait + burst + queued
    share = schedule.burst_share
    if share > 0 and q > 1 - share:  # started the run: its place in the budget queue
        start = PromptBurst(
            schedule.burst_prefill_s,
            schedule.burst_groups,
            schedule.first_token_step_s,
            schedule.burst_step_s,
        )
        ttft = max(ttft, start.ttft_quantile_s((q - (1 - share)) / share))
    return ttft


def _joining_prompt_tokens(
    dep: Deployment, load: Load, step_s: float, prompt: float, q: float
) -> float:
    """Prompt tokens of other requests prefilled in the same step as a request's own, at
    quantile ``q``: under Poisson arrivals their count is Poisson with mean ``rate x step``
    (:func:`~llmplan.perf.prefill.joining_prompt_tokens`)."""
    if load.kind is not LoadKind.RATE or not load.request_rate:
        return 0.0
    expected = load.request_rate * step_s
    if not math.isfinite(expected):  # every request at once: the others share the step
        others = max(0.0, (load.num_requests or DEFAULT_FINITE_REQUESTS) - 1.0)
        return joining_prompt_tokens(dep, prompt, load.input_tokens, others)
    from scipy.stats import poisson  # imported on first use: scipy is slow to import

    others = float(poisson.ppf(q, expected))
    return joining_prompt_tokens(dep, prompt, load.input_tokens, others)


def _continuous_tpot(schedule: Schedule, output_tokens: float, q: float) -> float:
    share = schedule.mixed_share
    steps = max(1.0, output_tokens - 1)
    spread = _STANDARD_NORMAL.inv_cdf(q) * math.sqrt(share * (1 - share) / steps)
    mixed = min(1.0, max(0.0, share + spread))
    return schedule.decode_step_s + (schedule.mixed_step_s - schedule.decode_step_s) * mixed


def latency_percentiles(
    dep: Deployment,
    load: Load,
    percentile: float,
    *,
    length_cv: float | None = None,
    result: PerfResult | None = None,
) -> LatencyPercentiles:
    """TTFT, TPOT and end-to-end latency at ``percentile`` (e.g. 99) for ``load``.

    ``length_cv`` defaults to :data:`DATASET_LENGTH_CV` for dataset lengths and 0 for
    fixed lengths. ``result`` may pass an already computed mean prediction."""
    q = _check(percentile)
    cv = length_cv if length_cv is not None else (0.0 if load.fixed_lengths else DATASET_LENGTH_CV)
    if cv < 0:
        raise InputError("must be >= 0", field="length_cv")
    mean = result if result is not None else predict(dep, load)
    schedule = mean.schedule
    if schedule is None:  # pragma: no cover - every prediction carries its schedule
        raise InputError("prediction has no schedule", field="result")
    if schedule.kind == "open_loop":
        return _open_loop_percentiles(dep, load, percentile, cv)
    if schedule.kind == "waves":
        ttft = _waves_ttft(schedule, q)
        tpot = schedule.decode_step_s
        out = load.output_tokens
    else:
        ttft = _continuous_ttft(dep, load, mean, schedule, q, cv)
        short_output = lognormal_quantile(load.output_tokens, cv, 1 - q) if cv else None
        tpot = _continuous_tpot(schedule, short_output or load.output_tokens, q)
        out = lognormal_quantile(load.output_tokens, cv, q) if cv else load.output_tokens
    # lengths and waits are not all at their q-quantile at once: e2e takes its own
    # quantile of the dominant term (output length or wave position) with mean others
    if schedule.kind == "waves":
        e2e = ttft + (out - 1) * tpot
    else:
        e2e = mean.ttft_ms / 1e3 + (max(out, 1.0) - 1) * mean.tpot_ms / 1e3
        e2e = max(e2e, ttft + (load.output_tokens - 1) * mean.tpot_ms / 1e3)
    return LatencyPercentiles(percentile, ttft * 1e3, tpot * 1e3, e2e * 1e3)


def _open_loop_percentiles(
    dep: Deployment, load: Load, percentile: float, cv: float
) -> LatencyPercentiles:
    """Percentiles of a Poisson load below saturation from the open-loop model
    (:mod:`llmplan.perf.openloop`); e2e takes the long output at mean waits, or the
    slow first token with a mean output, whichever is longer."""
    state = load_state(dep, load, cv)
    if state is None:  # pragma: no cover - the mean came from the same state
        raise InputError("no steady state at this rate", field="request_rate")
    q = percentile / 100
    ttft_s, tpot_s = ttft_quantile_s(state, q), tpot_quantile_s(state, q)
    out = load.output_tokens
    long_output = lognormal_quantile(out, cv, q)
    e2e_s = max(state.ttft_s + (long_output - 1) * state.tpot_s, ttft_s + (out - 1) * state.tpot_s)
    return LatencyPercentiles(percentile, ttft_s * 1e3, tpot_s * 1e3, e2e_s * 1e3)
