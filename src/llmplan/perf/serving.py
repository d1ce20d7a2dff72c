"""Latency and throughput of one replica under a load, built from step times.

Static batches and closed loops with fixed lengths run in synchronised waves (each wave
prefilled, then decoded together); maximum-throughput, Poisson and dataset loads run in a
continuous-batching steady state: each step decodes one token for every running sequence
and prefills the prompts that replace finished ones, ``b * input / output`` prompt tokens
per step on average. Poisson loads below saturation take their latencies from the
queueing model of :mod:`llmplan.perf.openloop`; a finite run sent at an infinite rate
starts with its prompts queued through the token budget. Pipeline parallelism runs
``min(pp, b)`` micro-batches in flight when the engine pipelines (``multi_gpu_split:
tensor``); a layer split (llama.cpp) runs the stages one after another. Loads and
results: :mod:`llmplan.perf.load`; prefill: :mod:`llmplan.perf.prefill`.
"""

from __future__ import annotations

import math
from dataclasses import replace

from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError
from llmplan.perf.load import DEFAULT_FINITE_REQUESTS, Load, LoadKind, PerfResult, Schedule
from llmplan.perf.prefill import (
    first_token_after_decode_step,
    joining_prompt_tokens,
    prefill_chunk_steps,
    prefill_seconds,
    prompt_burst,
    startup_burst,
)
from llmplan.perf.prefix import cached_prompt_tokens, computed_prompt_tokens
from llmplan.perf.speculative import SpecDecoding, draft_seconds, verify_shape
from llmplan.perf.step import StepShape, StepTime, step_time
from llmplan.sizing.memory import max_sequences

RATE_RELATIVE_TOLERANCE = 1e-3


def micro_batches(dep: Deployment, batch: float) -> float:
    """Micro-batches in flight across the pipeline stages."""
    if dep.pp == 1 or dep.engine.multi_gpu_split == "layer":
        return 1.0
    return max(1.0, min(float(dep.pp), batch))


def round_time(dep: Deployment, shape: StepShape) -> tuple[float, StepTime]:
    """Seconds for every sequence of ``shape`` to advance one step through all stages."""
    m = micro_batches(dep, shape.sequences)
    per_micro = replace(
        shape,
        decode_seqs=shape.decode_seqs / m,
        prefill_tokens=shape.prefill_tokens / m,
        prefill_seqs=shape.prefill_seqs / m,
    )
    stage = step_time(dep, per_micro)
    return dep.pp * stage.total_s, stage


def token_round_time(
    dep: Deployment, shape: StepShape, spec: SpecDecoding | None
) -> tuple[float, StepTime]:
    """Seconds per generated token of each decoding sequence of ``shape``: one round,
    or with speculative decoding the drafts plus a round verifying ``K + 1`` positions
    per sequence, over the tokens a step yields (:mod:`llmplan.perf.speculative`)."""
    if spec is None:
        return round_time(dep, shape)
    verify_s, stage = round_time(dep, verify_shape(shape, spec))
    return (verify_s + draft_seconds(dep, shape, spec)) / spec.tokens_per_step, stage


def _decode_tokens_per_seq(spec: SpecDecoding | None) -> float:
    """Positions a decoding sequence runs per step (its share of the token budget)."""
    return 1.0 if spec is None else float(spec.draft_tokens + 1)


def capacity(
    dep: Deployment, input_tokens: float, output_tokens: float, spec: SpecDecoding | None = None
) -> int:
    """Sequences the engine runs at once: its limit, what the KV cache holds (each
    sequence holding its mean context, or its whole length when the engine reserves it),
    and, with chunked prefill, its token budget (a decode step spends a token on each,
    ``K + 1`` with speculative decoding)."""
    reserved = output_tokens if dep.engine.kv_reservation == "full" else output_tokens / 2
    fit = max_sequences(dep, input_tokens + reserved)
    limit = min(dep.engine.max_num_seqs, fit)
    if dep.engine.chunked_prefill and fit >= 1:  # a decode step spends a token per sequence
        per_seq = _decode_tokens_per_seq(spec)
        limit = min(limit, math.floor(dep.engine.max_batched_tokens / per_seq))
    return limit


def budget_sustains(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    spec: SpecDecoding | None = None,
) -> int:
    """Running sequences a chunked-prefill token budget keeps fed.

    Each step spends one budget token per decoding sequence and the rest on prompt
    chunks (whose last step samples a request's first token). ``n`` sequences finish
    ``n / (out - 1)`` requests a step, whose replacements need ``n x in / (out - 1)``
    prompt tokens: more than ``budget x (out - 1) / (in + out - 1)`` sequences would
    starve the prefill, so the running batch settles there (at least one). Requests of
    one output token never decode: no limit. ``input_tokens`` are the prompt tokens to
    compute (cached ones excluded); with speculative decoding a sequence spends ``K + 1``
    budget tokens a step and lives ``(out - 1) / E`` steps."""
    decode_steps = output_tokens - 1
    if decode_steps <= 0:
        return dep.engine.max_num_seqs
    if spec is not None:
        decode_steps /= spec.tokens_per_step
    budget = float(dep.engine.max_batched_tokens)
    prompt = max(input_tokens, 1.0)
    per_seq = _decode_tokens_per_seq(spec)
    return max(1, math.floor(budget * decode_steps / (prompt + per_seq * decode_steps)))


def _check_fits(dep: Deployment, max_batch: int, context: float) -> None:
    if max_batch < 1:
        raise DoesNotFitError(
            f"{dep.model.id} in {dep.weights.id} with a {context:.0f}-token context does not "
            f"fit on {dep.num_gpus} x {dep.gpu.id} (tp={dep.tp}, pp={dep.pp}); "
            "use more GPUs, a smaller precision or a shorter context"
        )


def waves(
    dep: Deployment, load: Load, clients: float, max_batch: int, *, closed_loop: bool = True
) -> PerfResult:
    """Requests run in synchronised waves of up to ``max_batch``: the prompts of a wave
    are prefilled, then decoded together to the end (static batching, and closed loops
    with fixed lengths, whose requests start and finish together). Prompts are prefilled
    in steps of at most ``max_batched_tokens`` tokens, so a prompt's first token comes
    when its step ends (:class:`~llmplan.perf.prefill.PromptBurst`: on average after
    (G + 1) / (2 G) of the prefill for G full steps).

    Requests beyond one wave wait: in a closed loop each client waits for the
    ``(clients - batch) / batch`` waves ahead of it; a static batch of ``k`` waves waits
    ``(k - 1) / 2`` waves on average.

    An engine whose first token comes from a decode step (``first_token_from:
    decode_step``) prefills every prompt of the wave but its last token, then runs one
    decode step for all: every first token comes after the whole prefill and that step,
    and a request takes ``out`` decode steps instead of ``out - 1``."""
    inp, out = load.input_tokens, load.output_tokens
    batch = max(1.0, min(clients, float(max_batch)))
    decode = StepShape(decode_seqs=batch, decode_context=inp + out / 2)
    tpot, stage = token_round_time(dep, decode, load.speculative)
    cached = cached_prompt_tokens(inp, load.prefix_hit)
    burst = prompt_burst(dep, batch, inp, tpot, cached)
    prefill_total, first_step = burst.prefill_s, burst.first_token_step_s
    wave = prefill_total + first_step + (out - 1) * tpot
    wave_count = math.ceil(clients / batch - 1e-9)
    if closed_loop:
        queue_wait = max(0.0, clients - batch) / batch * wave
    else:
        queue_wait = (wave_count - 1) / 2 * wave
    ttft = burst.mean_ttft_s + queue_wait
    e2e = ttft + (out - 1) * tpot
    requests = load.num_requests or clients
    makespan = math.ceil(requests / batch - 1e-9) * wave
    return PerfResult(
        ttft_ms=ttft * 1e3,
        tpot_ms=tpot * 1e3,
        e2e_latency_ms=e2e * 1e3,
        makespan_ms=makespan * 1e3,
        output_tokens_per_s=batch * out / wave,
        total_tokens_per_s=batch * (inp + out) / wave,
        requests_per_s=batch / wave,
        prefill_tokens_per_s=batch * inp / prefill_total if inp and prefill_total else 0.0,
        batch=batch,
        max_batch=max_batch,
        queue_wait_ms=queue_wait * 1e3,
        bound=stage.bound,
        mode=load.kind.value,
        num_gpus=dep.num_gpus,
        schedule=Schedule(
            kind="waves",
            prefill_s=prefill_total,
            prefill_groups=burst.groups,
            prefill_step_s=burst.step_s,
            decode_step_s=tpot,
            mixed_step_s=tpot,
            mixed_share=0.0,
            wave_s=wave,
            waves=wave_count,
            closed_loop=closed_loop,
            first_token_step_s=first_step,
        ),
    )


def continuous(dep: Deployment, load: Load, clients: float, max_batch: int) -> PerfResult:
    """Steady state with ``clients`` requests in the system, at most ``max_batch`` running.

    Per generation (``out`` steps) ``chunk_steps`` steps decode and prefill a chunk of
    the replacement prompts, the others only decode; TPOT is their mean. With
    speculative decoding a generation takes ``out / E`` steps and step times are per
    generated token; cached prompt tokens are not prefilled."""
    inp, out = load.input_tokens, load.output_tokens
    spec = load.speculative
    running = max(1.0, min(clients, float(max_batch)))
    context = inp + out / 2
    queue_full = load.kind is LoadKind.OFFLINE or clients > running
    computed = computed_prompt_tokens(inp, load.prefix_hit)
    steps = out / (spec.tokens_per_step if spec is not None else 1.0)
    chunk_steps = prefill_chunk_steps(
        dep, running, computed, steps, queue_full=queue_full,
        decode_tokens_per_seq=_decode_tokens_per_seq(spec),
    )  # fmt: skip
    mixed = StepShape(
        decode_seqs=running,
        decode_context=context,
        prefill_tokens=running * computed / chunk_steps,
        prefill_seqs=running / chunk_steps,
        prefill_context=computed,
        prefill_cached_context=inp - computed,
    )
    mixed_s, stage = token_round_time(dep, mixed, spec)
    decode_s = mixed_s
    if chunk_steps < steps:
        decode_s, decode_stage = token_round_time(
            dep, StepShape(decode_seqs=running, decode_context=context), spec
        )
        if (steps - chunk_steps) * decode_s > chunk_steps * mixed_s:
            stage = decode_stage
    tpot = (chunk_steps * mixed_s + (steps - chunk_steps) * decode_s) / steps
    first_step = 0.0
    # prompts that came during the step before: Poisson arrivals, every request of a
    # burst, or the clients whose requests finished (running / out a step)
    arrivals = running / out if load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) else 0.0
    if load.kind is LoadKind.RATE:
        rate = load.request_rate or 0.0
        arrivals = max(0.0, clients - 1) if math.isinf(rate) else rate * tpot
    joining = joining_prompt_tokens(dep, computed, computed, arrivals)
    prompts = 1.0 + joining / max(computed, 1.0)
    cached = inp - computed
    if first_token_after_decode_step(dep):  # a prefill pass of its own, then a decode step
        own_prefill = prefill_seconds(dep, prompts, inp, cached_tokens=cached)
        first_step = decode_s
    else:
        own_prefill = prefill_seconds(
            dep, prompts, inp, decode_seqs=running, decode_context=context, cached_tokens=cached
        )
    queue_wait = max(0.0, clients - running) * out * tpot / running
    ttft = own_prefill + 0.5 * tpot + first_step
    burst_share, burst = startup_burst(dep, load, running, decode_s)
    ttft += burst_share * max(0.0, burst.mean_ttft_s - ttft) + queue_wait
    e2e = ttft + (out - 1) * tpot
    output_tps = running / tpot
    requests = output_tps / out
    makespan = e2e
    if load.num_requests:
        makespan = max(e2e, load.num_requests / requests + own_prefill)
    return PerfResult(
        ttft_ms=ttft * 1e3,
        tpot_ms=tpot * 1e3,
        e2e_latency_ms=e2e * 1e3,
        makespan_ms=makespan * 1e3,
        output_tokens_per_s=output_tps,
        total_tokens_per_s=requests * (inp + out),
        requests_per_s=requests,
        prefill_tokens_per_s=inp / own_prefill if inp and own_prefill else 0.0,
        batch=running,
        max_batch=max_batch,
        queue_wait_ms=queue_wait * 1e3,
        bound=stage.bound,
        mode=load.kind.value,
        num_gpus=dep.num_gpus,
        schedule=Schedule(
            kind="continuous",
            prefill_s=own_prefill,
            prefill_groups=1.0,
            decode_step_s=decode_s,
            mixed_step_s=mixed_s,
            mixed_share=chunk_steps / steps,
            first_token_step_s=first_step,
            burst_share=burst_share,
            burst_ttft_s=burst.mean_ttft_s,
            burst_prefill_s=burst.prefill_s,
            burst_groups=burst.groups,
            burst_step_s=burst.step_s,
        ),
    )


def _little_fixed_point(dep: Deployment, load: Load, rate: float, max_batch: int) -> float:
    """Running sequences ``b`` with ``b = rate x e2e(b)`` (Little's law), in [1, max_batch].

    ``rate x e2e(b) - b`` falls as ``b`` grows below saturation; Brent's method finds its
    root to :data:`RATE_RELATIVE_TOLERANCE`."""

    def excess(running: float) -> float:
        e2e_s = continuous(dep, load, running, max_batch).e2e_latency_ms / 1e3
        return rate * e2e_s - running

    from scipy.optimize import brentq  # imported on first use: scipy is slow to import

    if excess(1.0) <= 0:
        return 1.0
    if excess(float(max_batch)) >= 0:
        return float(max_batch)
    return float(brentq(excess, 1.0, float(max_batch), rtol=RATE_RELATIVE_TOLERANCE, xtol=1e-6))


def overflow_wait(
    requests: float, slots: float, served_per_s: float, arriving_per_s: float
) -> tuple[float, float, float]:
    """(mean wait, longest wait, share that does not wait) in seconds of ``requests``
    arriving ``arriving_per_s`` at an engine that serves ``served_per_s`` with ``slots``
    sequences running at once: the first requests take free slots at once, request ``k``
    then starts when ``k - slots`` requests have finished, ``(k - slots) / served_per_s``
    after the start, or when it arrives if that is later."""
    lag = 1 / served_per_s - 1 / arriving_per_s
    if lag <= 0:
        return 0.0, 0.0, 1.0
    first = min(requests, slots / served_per_s / lag)  # first request that has to wait
    waiting = requests - first
    return waiting**2 / (2 * requests) * lag, waiting * lag, first / requests


def _burst_start(dep: Deployment, load: Load, saturated: PerfResult, max_batch: int) -> PerfResult:
    """A finite run sent all at once: up to ``max_batch`` requests run like a closed
    loop of that many started together (their prompts queue through the token budget);
    beyond, the engine runs full as offline, its first requests started by the burst."""
    finite = load.num_requests or DEFAULT_FINITE_REQUESTS
    if finite <= max_batch:
        return continuous(dep, load, float(finite), max_batch)
    schedule = saturated.schedule
    decode_s = schedule.decode_step_s if schedule is not None else saturated.tpot_ms / 1e3
    share, burst = startup_burst(dep, load, float(max_batch), decode_s)
    ttft_s = saturated.ttft_ms / 1e3
    ttft_s += share * max(0.0, burst.mean_ttft_s - ttft_s)
    if schedule is not None:
        schedule = replace(
            schedule,
            burst_share=share,
            burst_ttft_s=burst.mean_ttft_s,
            burst_prefill_s=burst.prefill_s,
            burst_groups=burst.groups,
            burst_step_s=burst.step_s,
        )
    shift_ms = ttft_s * 1e3 - saturated.ttft_ms
    return replace(
        saturated,
        ttft_ms=ttft_s * 1e3,
        e2e_latency_ms=saturated.e2e_latency_ms + shift_ms,
        schedule=schedule,
    )


def _rate(dep: Deployment, load: Load, max_batch: int) -> PerfResult:
    rate = float(load.request_rate or 0.0)
    saturated = continuous(dep, replace(load, kind=LoadKind.OFFLINE), max_batch, max_batch)
    if math.isinf(rate):  # every request at once: the first ones queue through the budget
        saturated = _burst_start(dep, load, saturated, max_batch)
    if rate >= saturated.requests_per_s:
        finite = load.num_requests or DEFAULT_FINITE_REQUESTS
        wait, wait_max, free = overflow_wait(finite, max_batch, saturated.requests_per_s, rate)
        if math.isinf(rate) and free < 1:  # no slot frees before the first requests finish
            first_s = saturated.e2e_latency_ms / 1e3
            wait, wait_max = wait + (1 - free) * first_s, wait_max + first_s
        schedule = saturated.schedule
        if schedule is not None:
            schedule = replace(schedule, overflow_wait_max_s=wait_max, overflow_free_share=free)
        return replace(
            saturated,
            schedule=schedule,
            ttft_ms=saturated.ttft_ms + wait * 1e3,
            e2e_latency_ms=saturated.e2e_latency_ms + wait * 1e3,
            queue_wait_ms=wait * 1e3,
            mode=load.kind.value,
        )
    result = continuous(dep, load, _little_fixed_point(dep, load, rate, max_batch), max_batch)
    from llmplan.perf.openloop import open_loop_result  # builds on this module

    return replace(
        open_loop_result(dep, load, result),
        output_tokens_per_s=rate * load.output_tokens,
        total_tokens_per_s=rate * (load.input_tokens + load.output_tokens),
        requests_per_s=rate,
    )


def steady_capacity(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    *,
    prefix_hit: float = 0.0,
    spec: SpecDecoding | None = None,
) -> int:
    """Sequences running at once in a continuous-batching steady state: :func:`capacity`,
    and with chunked prefill no more than the token budget keeps fed (cached prompt
    tokens take none of it)."""
    limit = capacity(dep, input_tokens, output_tokens, spec)
    if dep.engine.chunked_prefill and limit >= 1:
        computed = computed_prompt_tokens(input_tokens, prefix_hit)
        limit = min(limit, budget_sustains(dep, computed, output_tokens, spec))
    return limit


def predict(dep: Deployment, load: Load) -> PerfResult:
    """Predicted latency and throughput of ``dep`` under ``load``."""
    inp, out, spec = load.input_tokens, load.output_tokens, load.speculative
    max_batch = capacity(dep, inp, out, spec)
    _check_fits(dep, max_batch, inp + out)
    steady = steady_capacity(dep, inp, out, prefix_hit=load.prefix_hit, spec=spec)
    if load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) and not load.fixed_lengths:
        return continuous(dep, load, float(load.batch or 1), steady)
    if load.kind is LoadKind.BATCH:
        batch = float(load.batch or 1)
        static = replace(load, num_requests=int(batch))
        return waves(dep, static, batch, max_batch, closed_loop=False)
    if load.kind is LoadKind.OFFLINE:
        clients = float(load.num_requests or steady)
        return continuous(dep, load, min(clients, steady), steady)
    if load.kind is LoadKind.CONCURRENCY:  # fixed lengths: clients stay in step
        return waves(dep, load, float(load.batch or 1), max_batch)
    return _rate(dep, load, steady)
