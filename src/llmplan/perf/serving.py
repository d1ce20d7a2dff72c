"""Latency and throughput of one replica under a load, built from step times.

Four kinds of load, as benchmarks run them:

- ``batch``: ``batch`` requests start together and run in waves of what fits (the KV
  cache and the engine's sequence limit): each wave is prefilled, then decoded together.
- ``offline``: unlimited queued requests; the engine runs as many sequences as fit, in a
  continuous-batching steady state.
- ``concurrency``: closed-loop clients, each sending its next request when one ends; with
  fixed lengths they stay in step (waves), with varied lengths they reach steady state.
- ``rate``: open-loop Poisson arrivals at ``request_rate`` requests/s.

Continuous batching is modelled in steady state: each step decodes one token for every
running sequence and prefills the prompts that replace finished ones, ``b * input /
output`` prompt tokens per step on average. Pipeline parallelism runs ``min(pp, b)``
micro-batches in flight when the engine pipelines (``multi_gpu_split: tensor``); a layer
split (llama.cpp) runs the stages one after another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError, InputError
from llmplan.perf.step import StepShape, StepTime, step_time
from llmplan.sizing.memory import max_sequences

DEFAULT_FINITE_REQUESTS = 1000
RATE_FIXED_POINT_ITERATIONS = 60


class LoadKind(StrEnum):
    BATCH = "batch"
    OFFLINE = "offline"
    CONCURRENCY = "concurrency"
    RATE = "rate"


@dataclass(frozen=True)
class Load:
    """A benchmark-style load on one replica. Token counts are per request (means).

    ``fixed_lengths`` = False means lengths vary from request to request (a dataset such
    as ShareGPT): requests then drift apart and a closed loop runs in a continuous-batching
    steady state instead of synchronised waves.
    """

    kind: LoadKind
    input_tokens: float
    output_tokens: float
    batch: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None
    fixed_lengths: bool = True

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or not math.isfinite(self.input_tokens):
            raise InputError("must be a finite number >= 0", field="input_tokens")
        if self.output_tokens < 1 or not math.isfinite(self.output_tokens):
            raise InputError("must be a finite number >= 1", field="output_tokens")
        if self.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) and (self.batch or 0) < 1:
            raise InputError(f"must be >= 1 for a {self.kind.value} load", field="batch")
        if self.kind is LoadKind.RATE and not (self.request_rate or 0) > 0:
            raise InputError("must be > 0 requests/s", field="request_rate")


@dataclass(frozen=True)
class PerfResult:
    """Predicted figures of one replica; latencies are means per request."""

    ttft_ms: float
    tpot_ms: float
    e2e_latency_ms: float
    makespan_ms: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    requests_per_s: float
    prefill_tokens_per_s: float
    batch: float
    max_batch: int
    queue_wait_ms: float
    bound: str
    mode: str
    num_gpus: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def micro_batches(dep: Deployment, batch: float) -> float:
    """Micro-batches in flight across the pipeline stages."""
    if dep.pp == 1 or dep.engine.multi_gpu_split == "layer":
        return 1.0
    return max(1.0, min(float(dep.pp), batch))


def round_time(dep: Deployment, shape: StepShape) -> tuple[float, StepTime]:
    """Seconds for every sequence of ``shape`` to advance one step through all stages."""
    m = micro_batches(dep, shape.sequences)
    per_micro = StepShape(
        decode_seqs=shape.decode_seqs / m,
        decode_context=shape.decode_context,
        prefill_tokens=shape.prefill_tokens / m,
        prefill_seqs=shape.prefill_seqs / m,
        prefill_context=shape.prefill_context,
    )
    stage = step_time(dep, per_micro)
    return dep.pp * stage.total_s, stage


def capacity(dep: Deployment, input_tokens: float, output_tokens: float) -> int:
    """Sequences the engine runs at once: its limit or what the KV cache holds (each
    sequence holding its mean context, or its whole length when the engine reserves it)."""
    reserved = output_tokens if dep.engine.kv_reservation == "full" else output_tokens / 2
    fit = max_sequences(dep, input_tokens + reserved)
    return min(dep.engine.max_num_seqs, fit)


def _check_fits(dep: Deployment, max_batch: int, context: float) -> None:
    if max_batch < 1:
        raise DoesNotFitError(
            f"{dep.model.id} in {dep.weights.id} with a {context:.0f}-token context does not "
            f"fit on {dep.num_gpus} x {dep.gpu.id} (tp={dep.tp}, pp={dep.pp}); "
            "use more GPUs, a smaller precision or a shorter context"
        )


def prefill_seconds(
    dep: Deployment,
    prompts: float,
    input_tokens: float,
    decode_seqs: float = 0.0,
    decode_context: float = 0.0,
) -> float:
    """Time to prefill ``prompts`` prompts in one step (alongside ``decode_seqs``)."""
    shape = StepShape(
        decode_seqs=decode_seqs,
        decode_context=decode_context,
        prefill_tokens=prompts * max(input_tokens, 1.0),
        prefill_seqs=prompts,
        prefill_context=max(input_tokens, 1.0),
    )
    return dep.pp * step_time(dep, shape).total_s


def waves(dep: Deployment, load: Load, clients: float, max_batch: int) -> PerfResult:
    """Requests run in synchronised waves of up to ``max_batch``: the prompts of a wave
    are prefilled, then decoded together to the end (static batching, and closed loops
    with fixed lengths, whose requests start and finish together). Prompts are prefilled
    in steps of at most ``max_batched_tokens`` tokens, so a prompt's first token comes
    when its step ends: on average after (groups + 1) / (2 groups) of the prefill."""
    inp, out = load.input_tokens, load.output_tokens
    batch = max(1.0, min(clients, float(max_batch)))
    prefill_total = prefill_seconds(dep, batch, inp)
    decode = StepShape(decode_seqs=batch, decode_context=inp + out / 2)
    tpot, stage = round_time(dep, decode)
    wave = prefill_total + (out - 1) * tpot
    groups = max(1.0, math.ceil(batch * max(inp, 1.0) / dep.engine.max_batched_tokens))
    prompt_order = (groups + 1) / (2 * groups)
    queue_wait = max(0.0, clients - batch) / batch * wave
    ttft = prefill_total * prompt_order + queue_wait
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
        prefill_tokens_per_s=batch * inp / prefill_total if inp else 0.0,
        batch=batch,
        max_batch=max_batch,
        queue_wait_ms=queue_wait * 1e3,
        bound=stage.bound,
        mode=load.kind.value,
        num_gpus=dep.num_gpus,
    )


def continuous(dep: Deployment, load: Load, clients: float, max_batch: int) -> PerfResult:
    """Steady state with ``clients`` requests in the system, at most ``max_batch`` running."""
    inp, out = load.input_tokens, load.output_tokens
    running = max(1.0, min(clients, float(max_batch)))
    context = inp + out / 2
    mixed = StepShape(
        decode_seqs=running,
        decode_context=context,
        prefill_tokens=running * inp / out,
        prefill_seqs=running / out,
        prefill_context=inp,
    )
    tpot, stage = round_time(dep, mixed)
    own_prefill = prefill_seconds(dep, 1.0, inp, decode_seqs=running, decode_context=context)
    queue_wait = max(0.0, clients - running) * out * tpot / running
    ttft = own_prefill + 0.5 * tpot + queue_wait
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
        prefill_tokens_per_s=inp / own_prefill if inp else 0.0,
        batch=running,
        max_batch=max_batch,
        queue_wait_ms=queue_wait * 1e3,
        bound=stage.bound,
        mode=load.kind.value,
        num_gpus=dep.num_gpus,
    )


def _rate(dep: Deployment, load: Load, max_batch: int) -> PerfResult:
    rate = float(load.request_rate or 0.0)
    saturated = continuous(dep, load, max_batch, max_batch)
    if rate >= saturated.requests_per_s:
        finite = load.num_requests or DEFAULT_FINITE_REQUESTS
        wait = finite / 2 * (1 / saturated.requests_per_s - 1 / rate)
        return replace(
            saturated,
            ttft_ms=saturated.ttft_ms + wait * 1e3,
            e2e_latency_ms=saturated.e2e_latency_ms + wait * 1e3,
            queue_wait_ms=wait * 1e3,
            mode=load.kind.value,
        )
    running = 1.0
    result = continuous(dep, load, running, max_batch)
    for _ in range(RATE_FIXED_POINT_ITERATIONS):
        target = min(float(max_batch), max(1.0, rate * result.e2e_latency_ms / 1e3))
        if abs(target - running) < 1e-3 * running:
            break
        running = 0.5 * (running + target)
        result = continuous(dep, load, running, max_batch)
    return replace(
        result,
        output_tokens_per_s=rate * load.output_tokens,
        total_tokens_per_s=rate * (load.input_tokens + load.output_tokens),
        requests_per_s=rate,
    )


def predict(dep: Deployment, load: Load) -> PerfResult:
    """Predicted latency and throughput of ``dep`` under ``load``."""
    max_batch = capacity(dep, load.input_tokens, load.output_tokens)
    _check_fits(dep, max_batch, load.input_tokens + load.output_tokens)
    if load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) and not load.fixed_lengths:
        return continuous(dep, load, float(load.batch or 1), max_batch)
    if load.kind is LoadKind.BATCH:
        batch = float(load.batch or 1)
        return waves(dep, replace(load, num_requests=int(batch)), min(batch, max_batch), max_batch)
    if load.kind is LoadKind.OFFLINE:
        clients = float(load.num_requests or max_batch)
        return continuous(dep, load, min(clients, max_batch), max_batch)
    if load.kind is LoadKind.CONCURRENCY:
        return waves(dep, load, float(load.batch or 1), max_batch)
    return _rate(dep, load, max_batch)
