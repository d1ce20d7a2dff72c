"""One replica's scheduler: agreement with the analytical model, the paged KV cache and
preemption, determinism.

Consistency tolerances, per check:

- low load (requests 10,000 s apart, so none overlap): mean TTFT and TPOT within 0.5 % of
  ``predict(dep, Load(BATCH, in, out, batch=1))`` (both come from the same roofline; the
  residue is the step table's interpolation);
- saturation (every request queued at once) where the engine's ``max_num_seqs`` binds:
  requests/s within 3 % of ``predict(dep, Load(OFFLINE, in, out))`` (the simulation
  includes the ramp-up and the drain of its last batch);
- saturation where the KV cache binds: within 12 %; the analytical model sizes the batch
  for the mean context (prompt + half the output) of a steady state, while the simulator
  starts every sequence together, so they grow in step, fill the cache and are preempted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import deploy
from llmplan.errors import DoesNotFitError, InputError
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.serving import predict
from llmplan.sim import (
    FixedLength,
    LognormalLength,
    OpenLoop,
    PoissonArrivals,
    ReplicaModel,
    SimConfig,
    SimResult,
    Trace,
    TraceReplay,
    Workload,
    simulate,
)
from llmplan.sim.engine import Replica
from llmplan.sim.sketch import SeriesRecorder
from llmplan.sim.state import BLOCK_TOKENS
from llmplan.sim.stats import Recorder

LOW_LOAD_TOLERANCE = 0.005
SATURATION_TOLERANCE = 0.03
KV_BOUND_SATURATION_TOLERANCE = 0.12
SPACED_S = 10_000.0

LLAMA_8B: dict[str, Any] = dict(model="meta-llama/Llama-3.1-8B", gpu="H100")
LOW_LOAD_CASES: dict[str, dict[str, Any]] = {
    "dense": LLAMA_8B,
    "tensor-parallel fp8": dict(
        model="meta-llama/Llama-3.1-70B", gpu="H100", precision="fp8", tp=2
    ),
    "moe": dict(model="Qwen/Qwen3-30B-A3B", gpu="H100"),
    "sliding window": dict(model="google/gemma-2-9b", gpu="A100-80GB"),
    "pipeline": dict(model="meta-llama/Llama-3.1-8B", gpu="L40S", pp=2),
    "no chunked prefill": dict(
        model="meta-llama/Llama-3.1-8B", gpu="RTX-4090", engine="llama.cpp", precision="q4_k_m"
    ),
    "first token from a decode step": dict(
        model="meta-llama/Llama-3.1-8B", gpu="A100-80GB", engine="lmdeploy"
    ),
}


def _spaced(count: int, inp: int, out: int) -> TraceReplay:
    times = np.arange(count) * SPACED_S
    return TraceReplay(Trace(times, np.full(count, inp), np.full(count, out)))


def _run(kw: dict[str, Any], work: Workload, requests: int, seed: int = 0) -> SimResult:
    model = ReplicaModel.of(deploy(**kw), work)
    config = SimConfig(num_requests=requests)
    return simulate(model, work, config, np.random.default_rng(seed))


@pytest.mark.parametrize("case", sorted(LOW_LOAD_CASES))
@pytest.mark.parametrize(("inp", "out"), [(1024, 256), (256, 512)])
def test_low_load_matches_batch_one(case: str, inp: int, out: int) -> None:
    kw = LOW_LOAD_CASES[case]
    result = _run(kw, _spaced(5, inp, out), 5)
    expected = predict(deploy(**kw), Load(LoadKind.BATCH, inp, out, batch=1))
    assert result.ttft.mean_ms == pytest.approx(expected.ttft_ms, rel=LOW_LOAD_TOLERANCE)
    assert result.tpot.mean_ms == pytest.approx(expected.tpot_ms, rel=LOW_LOAD_TOLERANCE)
    assert result.itl.mean_ms == pytest.approx(result.tpot.mean_ms, rel=LOW_LOAD_TOLERANCE)


@pytest.mark.parametrize(
    ("kw", "inp", "out", "tolerance"),
    [
        (LLAMA_8B, 1024, 256, SATURATION_TOLERANCE),
        (LLAMA_8B, 256, 512, SATURATION_TOLERANCE),
        ({**LLAMA_8B, "engine": "trtllm"}, 1024, 256, SATURATION_TOLERANCE),
        (LOW_LOAD_CASES["no chunked prefill"], 1024, 256, SATURATION_TOLERANCE),
        (LOW_LOAD_CASES["tensor-parallel fp8"], 1024, 256, KV_BOUND_SATURATION_TOLERANCE),
    ],
)
def test_saturation_matches_offline_throughput(
    kw: dict[str, Any], inp: int, out: int, tolerance: float
) -> None:
    dep = deploy(**kw)
    requests = max(2000, 8 * dep.engine.max_num_seqs)
    work = OpenLoop(PoissonArrivals(1e7), FixedLength(inp), FixedLength(out))
    result = _run(kw, work, requests)
    expected = predict(dep, Load(LoadKind.OFFLINE, inp, out))
    assert result.requests == requests
    assert result.requests_per_s == pytest.approx(expected.requests_per_s, rel=tolerance)


def test_same_seed_same_result_other_seed_other_result() -> None:
    work = OpenLoop(
        PoissonArrivals(12.0),
        LognormalLength.from_mean_p95(1024, 3000),
        LognormalLength.from_mean_p95(256, 700),
    )
    first = _run(LLAMA_8B, work, 3000, seed=7).as_dict(series=True)
    assert _run(LLAMA_8B, work, 3000, seed=7).as_dict(series=True) == first
    assert _run(LLAMA_8B, work, 3000, seed=8).as_dict(series=True) != first


class AuditedReplica(Replica):
    """Checks the aggregate block bookkeeping against a recount at every boundary."""

    checks = 0

    def _plan(self) -> None:
        held, tracked = self.audit()
        assert held == tracked
        assert 0 <= tracked <= self.total_blocks
        AuditedReplica.checks += 1
        super()._plan()


def _replica(kw: dict[str, Any], work: Workload) -> tuple[Replica, Recorder]:
    model = ReplicaModel.of(deploy(**kw), work)
    recorder = Recorder()
    return AuditedReplica(model.limits, model.lookup, recorder, SeriesRecorder()), recorder


@pytest.mark.parametrize("engine", ["vllm", "trtllm"])
def test_scarce_cache_preempts_and_every_request_finishes(engine: str) -> None:
    """Llama-3.1-8B on a 24 GB L4 holds ~36,000 tokens: 40 requests of 4,000 + 1,000
    arriving together overflow it. vLLM preempts (recompute); TensorRT-LLM reserves whole
    requests at admission and never does."""
    kw = dict(model="meta-llama/Llama-3.1-8B", gpu="L4", engine=engine)
    work = OpenLoop(PoissonArrivals(1e6), FixedLength(4000), FixedLength(1000))
    replica, recorder = _replica(kw, work)
    count = 40
    times, inputs, outputs = next(work.chunks(np.random.default_rng(0), count))
    replica.feed(times.tolist(), inputs.tolist(), outputs.tolist())
    replica.drain()
    recorder.flush()
    assert recorder.completed == replica.completed == count
    assert (recorder.preemptions > 0) == (engine == "vllm")
    assert replica.used_blocks == 0 and replica.n == 0 and not replica.waiting
    assert recorder.tpot.min > 0
    assert AuditedReplica.checks > 0


def test_preempted_requests_keep_their_first_token_and_stall_between_tokens() -> None:
    kw = dict(model="meta-llama/Llama-3.1-8B", gpu="L4")
    work = OpenLoop(PoissonArrivals(1e6), FixedLength(4000), FixedLength(1000))
    result = _run(kw, work, 40)
    assert result.preemptions > 0
    assert result.itl.max_ms > 10 * result.itl.p50_ms  # a recompute stall
    assert result.series.kv_utilisation.max() <= 1.0


def test_a_decode_run_takes_the_sum_of_its_steps() -> None:
    """One request alone: TTFT is its prefill step, then one decode step per token."""
    dep = deploy(**LLAMA_8B)
    inp, out = 1000, 200  # the context crosses the 1024-token knot of the table
    work = _spaced(1, inp, out)
    model = ReplicaModel.of(dep, work)
    result = simulate(model, work, SimConfig(num_requests=1), np.random.default_rng(0))
    table = model.table
    assert result.ttft.mean_ms / 1e3 == pytest.approx(table.step(0, 0, inp, 1, inp / 2), rel=1e-9)
    decode = sum(table.step(1, inp + j, 0, 0, 0) for j in range(out - 1))
    assert (result.e2e.mean_ms - result.ttft.mean_ms) / 1e3 == pytest.approx(decode, rel=1e-6)


def test_without_chunked_prefill_a_prompt_waits_for_the_one_before() -> None:
    kw = LOW_LOAD_CASES["no chunked prefill"]
    trace = TraceReplay(Trace(np.zeros(2), np.array([1500, 1500]), np.array([50, 50])))
    model = ReplicaModel.of(deploy(**kw), trace)
    result = simulate(model, trace, SimConfig(num_requests=2), np.random.default_rng(0))
    prefill_s = model.table.step(0, 0, 1500, 1, 750)
    assert result.ttft.mean_ms / 1e3 == pytest.approx(1.5 * prefill_s, rel=1e-6)
    assert result.ttft.max_ms / 1e3 == pytest.approx(2 * prefill_s, rel=1e-6)


def test_single_token_outputs_finish_at_prefill() -> None:
    result = _run(LLAMA_8B, _spaced(3, 512, 1), 3)
    assert result.requests == 3
    assert math.isnan(result.tpot.mean_ms)
    assert result.e2e.mean_ms == pytest.approx(result.ttft.mean_ms)
    assert result.meets_slo  # no TPOT to miss


def test_requests_longer_than_a_replica_holds_are_cut_or_refused() -> None:
    kw: dict[str, Any] = dict(model="meta-llama/Llama-3.1-8B", gpu="L4")
    dep = deploy(**kw)
    long_tail = OpenLoop(
        PoissonArrivals(0.5), LognormalLength.from_mean_p95(8000, 30000), FixedLength(100)
    )
    model = ReplicaModel.of(dep, long_tail)
    assert model.max_request_tokens < 40_000
    result = simulate(model, long_tail, SimConfig(num_requests=300), np.random.default_rng(0))
    assert result.clipped_requests > 0
    assert result.requests == 300
    too_long = TraceReplay(Trace(np.zeros(1), np.array([60_000]), np.array([10])))
    with pytest.raises(InputError, match="holds at most"):
        simulate(model, too_long, SimConfig(num_requests=1), np.random.default_rng(0))


def test_models_that_do_not_fit_are_refused() -> None:
    with pytest.raises(DoesNotFitError):
        ReplicaModel.of(deploy("meta-llama/Llama-3.1-405B", "L4"))
    with pytest.raises(DoesNotFitError, match="tokens per request"):
        ReplicaModel.of(
            deploy("meta-llama/Llama-3.1-8B", "L4"),
            OpenLoop(PoissonArrivals(1.0), FixedLength(60_000), FixedLength(100)),
        )


def test_block_size_is_vllms() -> None:
    assert BLOCK_TOKENS == 16


def test_docstring_examples_run() -> None:
    import doctest

    import llmplan.sim.cluster
    import llmplan.sim.lengths

    for module in (llmplan.sim.cluster, llmplan.sim.lengths):
        assert doctest.testmod(module).failed == 0
