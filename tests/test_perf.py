"""Deployment validation, the roofline step model and serving-level predictions.

Engine efficiencies are calibrated and change, so these tests check physics (no step can
beat the datasheet's bandwidth or FLOPS), hand-derived bounds and monotonic properties,
never figures copied from the model's output.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import deploy
from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import ComputeDtype
from llmplan.deployment import Deployment
from llmplan.errors import ConfigurationError, DoesNotFitError, InputError, UnknownNameError
from llmplan.perf.load import DEFAULT_FINITE_REQUESTS, Load, LoadKind, PerfResult
from llmplan.perf.prefill import prefill_seconds
from llmplan.perf.serving import capacity, overflow_wait, predict
from llmplan.perf.step import StepShape, expected_experts_touched, step_time

BOUNDS = {"compute", "memory", "communication", "overhead"}

# Llama-3.1-8B (config.json: 32 layers, hidden 4096, 32 heads / 8 KV heads x 128,
# FFN 14336 gated, vocab 128256, untied):
#   attention per layer  2 x 4096 x 4096 (Q, O) + 2 x 4096 x 1024 (K, V) =  41,943,040
#   feed-forward         3 x 4096 x 14336                                = 176,160,768
#   32 layers                                                           = 6,979,321,856
#   LM head              128256 x 4096                                  =   525,336,576
# A decode step reads every layer weight and the LM head once (the input embedding is
# only indexed): 7,504,658,432 weights x 2 bytes = 15,009,316,864 bytes in bf16.
LLAMA31_8B = "meta-llama/Llama-3.1-8B"
LLAMA31_8B_READ_PER_STEP = 15_009_316_864
LLAMA31_8B_NON_EMBEDDING = 6_979_321_856
H100_BANDWIDTH = 3350e9  # B/s, H100 SXM datasheet
H100_BF16_DENSE = 989.4e12  # FLOP/s, H100 SXM datasheet (1,979 with sparsity)


# ----------------------------------------------------------------------------- validation


def test_tp_not_dividing_heads_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        deploy(LLAMA31_8B, "H100", tp=3)  # 32 heads
    assert info.value.field == "tp"
    assert "tp" in str(info.value)
    assert "32" in str(info.value)


def test_tp_dividing_heads_is_accepted() -> None:
    for tp in (1, 2, 4, 8):
        assert deploy(LLAMA31_8B, "H100", tp=tp).num_gpus == tp


def test_nvfp4_on_h100_is_a_configuration_error() -> None:
    """Hopper has no FP4 tensor cores, and NVFP4 has no weight-only fallback."""
    with pytest.raises(ConfigurationError) as info:
        deploy(LLAMA31_8B, "H100", precision="nvfp4")
    assert info.value.field == "precision"
    assert "nvfp4" in str(info.value)


def test_nvfp4_on_b200_runs_natively() -> None:
    dep = deploy(LLAMA31_8B, "B200", precision="nvfp4")
    assert dep.compute_dtype is not None and dep.compute_dtype.value == "fp4"
    assert not dep.weight_only_quantized


def test_fp8_on_a100_falls_back_to_weight_only() -> None:
    """Ampere has no FP8 tensor cores: FP8 weights are dequantised to a 16-bit GEMM."""
    dep = deploy(LLAMA31_8B, "A100-80GB", precision="fp8")
    assert dep.weight_only_quantized
    assert dep.compute_dtype is not None and dep.compute_dtype.value in ("fp16", "bf16")


def test_pp_beyond_layers_is_a_configuration_error(catalog: Catalog) -> None:
    layers = catalog.model("meta-llama/Llama-3.2-1B").num_layers
    deploy("meta-llama/Llama-3.2-1B", "H100", pp=layers)  # one layer per stage: fine
    with pytest.raises(ConfigurationError) as info:
        deploy("meta-llama/Llama-3.2-1B", "H100", pp=layers + 1)
    assert info.value.field == "pp"


@pytest.mark.parametrize(("field", "kwargs"), [("tp", {"tp": 0}), ("pp", {"pp": 0})])
def test_zero_parallel_degree_is_an_input_error(field: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(InputError) as info:
        deploy(LLAMA31_8B, "H100", **kwargs)
    assert info.value.field == field


def test_unknown_names_in_from_names_raise_unknown_name_error() -> None:
    with pytest.raises(UnknownNameError):
        deploy(LLAMA31_8B, "no-such-gpu")
    with pytest.raises(UnknownNameError):
        deploy(LLAMA31_8B, "H100", engine="no-such-engine")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("input_tokens", {"input_tokens": -5}),
        ("output_tokens", {"output_tokens": 0}),
        ("batch", {"batch": 0}),
        ("input_tokens", {"input_tokens": float("nan")}),
    ],
)
def test_load_validation(field: str, kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"input_tokens": 128, "output_tokens": 128, "batch": 1, **kwargs}
    with pytest.raises(InputError) as info:
        Load(LoadKind.BATCH, args["input_tokens"], args["output_tokens"], batch=int(args["batch"]))
    assert info.value.field == field


def test_rate_load_needs_a_positive_rate() -> None:
    with pytest.raises(InputError) as info:
        Load(LoadKind.RATE, 128, 128, request_rate=0)
    assert info.value.field == "request_rate"


def test_nvlink_bridge_joins_pairs_only(catalog: Catalog) -> None:
    """A100 PCIe cards are bridged in pairs: tp=2 talks over the bridge, tp=4 over PCIe 4.0
    x16 (32 GB/s per direction, 64 GB/s both ways)."""
    gpu = catalog.gpu("A100-PCIe-80GB")
    assert gpu.link_domain_gpus == 2
    pair = deploy(LLAMA31_8B, "A100-PCIe-80GB", tp=2)
    four = deploy(LLAMA31_8B, "A100-PCIe-80GB", tp=4)
    assert pair.gpu.interconnect.value == "nvlink-bridge"
    assert four.gpu.interconnect.value == "pcie"
    assert four.gpu.interconnect_bandwidth_gbps == pytest.approx(64, rel=1e-9)
    assert four.interconnect.kind.value == "pcie"


def test_amd_gpus_use_the_rocm_build_of_an_engine() -> None:
    dep = deploy(LLAMA31_8B, "MI300X", engine="vllm")
    assert dep.engine.platform == "rocm"
    assert deploy(LLAMA31_8B, "H100", engine="vllm").engine.id == "vllm"


# ----------------------------------------------------------------------------- roofline


def test_h100_datasheet_figures(catalog: Catalog) -> None:
    """The bounds below use the H100 SXM datasheet: 3.35 TB/s, 989.4 dense BF16 TFLOPS."""
    gpu = catalog.gpu("H100")
    assert gpu.memory_bandwidth_gbps * 1e9 == pytest.approx(H100_BANDWIDTH, rel=1e-3)
    bf16 = gpu.peak(ComputeDtype.BF16)
    assert bf16 is not None
    assert bf16 * 1e12 == pytest.approx(H100_BF16_DENSE, rel=1e-3)


def test_batch1_decode_step_cannot_beat_bandwidth() -> None:
    """Batch-1 decode of Llama-3.1-8B bf16 on one H100, 128-token context: the step reads
    15,009,316,864 bytes of weights; at 3.35 TB/s that takes at least 4.48 ms. Real engines
    reach 60-90 % of peak bandwidth, so a sane model stays within 4x of the floor."""
    dep = deploy(LLAMA31_8B, "H100")
    floor_s = LLAMA31_8B_READ_PER_STEP / H100_BANDWIDTH  # 4.480 ms
    step = step_time(dep, StepShape(decode_seqs=1, decode_context=128))
    assert step.total_s >= floor_s
    assert step.total_s <= 4 * floor_s
    assert not step.linear_compute_bound
    result = predict(dep, Load(LoadKind.BATCH, 128, 64, batch=1))
    assert result.tpot_ms / 1e3 >= floor_s
    assert result.tpot_ms / 1e3 <= 4 * floor_s


def test_tensor_parallel_decode_cannot_beat_aggregate_bandwidth() -> None:
    """tp=2 splits the 15.0 GB read over two GPUs: at least 2.24 ms per step."""
    dep = deploy(LLAMA31_8B, "H100", tp=2)
    step = step_time(dep, StepShape(decode_seqs=1, decode_context=128))
    assert step.total_s >= LLAMA31_8B_READ_PER_STEP / (2 * H100_BANDWIDTH)


def test_long_prefill_is_compute_bound_and_cannot_beat_peak_flops() -> None:
    """Prefill of an 8192-token prompt: 2 FLOPs x 8192 tokens x 6,979,321,856 layer
    weights = 1.1435e14 FLOPs, plus the LM head; at 989.4 TFLOPS at least 115.6 ms."""
    dep = deploy(LLAMA31_8B, "H100")
    tokens = 8192
    step = step_time(dep, StepShape(prefill_tokens=tokens, prefill_seqs=1, prefill_context=tokens))
    assert step.bound == "compute"
    assert step.linear_compute_bound
    floor_s = 2 * tokens * LLAMA31_8B_NON_EMBEDDING / H100_BF16_DENSE
    assert step.total_s >= floor_s
    assert step.total_s <= 10 * floor_s
    result = predict(dep, Load(LoadKind.BATCH, tokens, 16, batch=1))
    assert result.ttft_ms / 1e3 >= floor_s


def test_decode_is_memory_bound() -> None:
    dep = deploy(LLAMA31_8B, "H100")
    assert step_time(dep, StepShape(decode_seqs=1, decode_context=1024)).bound in (
        "memory",
        "overhead",
    )


def test_expected_experts_touched() -> None:
    """Uniform routing, 8 of 128 experts per token: 1 token touches 8; t tokens touch
    128 x (1 - (120/128)^t): 2 tokens 15.5, never more than 128."""
    assert expected_experts_touched(128, 8, 0) == pytest.approx(0, abs=1e-12)
    assert expected_experts_touched(128, 8, 1) == pytest.approx(8, rel=1e-12)
    assert expected_experts_touched(128, 8, 2) == pytest.approx(15.5, rel=1e-12)
    assert expected_experts_touched(128, 8, 10_000) == pytest.approx(128, rel=1e-9)


def test_moe_decode_reads_far_less_than_all_experts() -> None:
    """Qwen3-30B-A3B (48 layers, hidden 2048, 32 / 4 heads x 128, 8 of 128 experts of 768,
    vocab 151936) at batch 1 reads its attention (48 x 2 x 2048 x (4096 + 512) = 0.906B),
    8 experts per layer (48 x 8 x 3 x 2048 x 768 = 1.812B), routers (48 x 2048 x 128 =
    0.013B) and the LM head (0.311B): 3.04B of its 30.5B weights. So a step is no faster
    than reading 3.0e9 bf16 weights and much faster than reading all 30.5e9."""
    dep = deploy("Qwen/Qwen3-30B-A3B", "H100")
    step = step_time(dep, StepShape(decode_seqs=1, decode_context=128))
    whole_model_s = 30.5e9 * 2 / H100_BANDWIDTH
    active_s = 3.0e9 * 2 / H100_BANDWIDTH
    assert active_s <= step.total_s < whole_model_s


# ----------------------------------------------------------------------------- predictions


def _check_result(result: PerfResult) -> None:
    assert result.ttft_ms > 0
    assert result.tpot_ms > 0
    assert result.e2e_latency_ms >= result.ttft_ms
    assert result.output_tokens_per_s > 0
    assert result.total_tokens_per_s >= result.output_tokens_per_s
    assert result.requests_per_s > 0
    assert result.queue_wait_ms >= 0
    assert 1 <= result.batch <= result.max_batch
    assert result.bound in BOUNDS


@pytest.mark.parametrize("batch", [1, 8, 32])
def test_static_batch_result_is_consistent(batch: int) -> None:
    """A static batch of b requests of 128 in / 256 out: every request makes 256 tokens,
    so output tokens/s x makespan = b x 256 exactly, and with short prompts each request's
    latency is within a few percent of the batch's (prefill is a small share)."""
    dep = deploy(LLAMA31_8B, "H100")
    result = predict(dep, Load(LoadKind.BATCH, 128, 256, batch=batch))
    _check_result(result)
    assert result.batch == pytest.approx(batch, rel=1e-12)
    produced = batch * 256
    assert result.output_tokens_per_s * result.makespan_ms / 1e3 == pytest.approx(
        produced, rel=1e-9
    )
    assert result.output_tokens_per_s * result.e2e_latency_ms / 1e3 == pytest.approx(
        produced, rel=0.05
    )
    assert result.e2e_latency_ms <= result.makespan_ms * (1 + 1e-9)
    # requests differ only by when their prompt was prefilled
    assert result.makespan_ms - result.e2e_latency_ms <= result.ttft_ms
    assert result.requests_per_s == pytest.approx(result.output_tokens_per_s / 256, rel=1e-9)
    assert result.total_tokens_per_s == pytest.approx(result.requests_per_s * (128 + 256), rel=1e-9)


def test_batch1_latency_is_prefill_plus_decode() -> None:
    """One request: e2e = ttft + (output - 1) x tpot, and throughput = output / e2e."""
    dep = deploy(LLAMA31_8B, "H100")
    r = predict(dep, Load(LoadKind.BATCH, 1024, 256, batch=1))
    _check_result(r)
    assert r.e2e_latency_ms == pytest.approx(r.ttft_ms + 255 * r.tpot_ms, rel=1e-9)
    assert r.output_tokens_per_s * r.e2e_latency_ms / 1e3 == pytest.approx(256, rel=1e-9)


def test_batch_beyond_capacity_queues() -> None:
    """A batch of k x c requests, c the number that fit at once, runs in k waves; the
    request of wave j finishes (j - 1) wave-lengths after those of the first wave, so the
    mean latency is at least (k + 1) / 2 times the latency of one wave:
    k = 3 -> at least 2 x, and the first token waits too.
    Llama-3.1-70B fp8 on one H100 holds only a handful of 1280-token sequences."""
    dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8")
    c = capacity(dep, 1024, 256)
    assert 1 <= c < 64
    one = predict(dep, Load(LoadKind.BATCH, 1024, 256, batch=c))
    three = predict(dep, Load(LoadKind.BATCH, 1024, 256, batch=3 * c))
    assert three.makespan_ms == pytest.approx(3 * one.makespan_ms, rel=1e-6)
    assert three.output_tokens_per_s == pytest.approx(one.output_tokens_per_s, rel=1e-6)
    assert three.queue_wait_ms > 0
    assert three.e2e_latency_ms >= 2 * one.e2e_latency_ms * (1 - 1e-9)
    assert three.ttft_ms >= one.ttft_ms + one.e2e_latency_ms


def _with_engine(dep: Deployment, **fields: object) -> Deployment:
    return replace(dep, engine=dep.engine.model_copy(update=fields))


@pytest.mark.parametrize("batch", [1, 16])
def test_first_token_from_a_decode_step(batch: int) -> None:
    """TurboMind-style engines prefill all but a prompt's last token, then one decode step
    of the whole wave runs it and samples every first token: TTFT = prefill of
    ``input - 1`` tokens per prompt + one decode step, and a request makes all its
    output tokens in decode steps."""
    late = _with_engine(
        deploy(LLAMA31_8B, "A100-80GB", engine="lmdeploy"), first_token_from="decode_step"
    )
    early = _with_engine(late, first_token_from="prefill")
    r = predict(late, Load(LoadKind.BATCH, 1024, 128, batch=batch))
    shorter = predict(early, Load(LoadKind.BATCH, 1023, 128, batch=batch))
    _check_result(r)
    # the prefill of 1023-token prompts is the same work; one decode step comes on top
    groups = r.schedule.prefill_groups if r.schedule else 0
    assert groups == 1
    prefill_ms = r.schedule.prefill_s * 1e3 if r.schedule else 0
    # (one pass: the prefill-sampling engine splits 16 prompts over two budget steps)
    assert prefill_ms == pytest.approx(prefill_seconds(early, batch, 1023) * 1e3)
    assert shorter.schedule is not None
    assert shorter.schedule.prefill_s * 1e3 >= prefill_ms * (1 - 1e-9)
    assert r.ttft_ms == pytest.approx(prefill_ms + r.tpot_ms, rel=1e-9)
    assert r.e2e_latency_ms == pytest.approx(r.ttft_ms + 127 * r.tpot_ms, rel=1e-9)
    # one-token prompts need no prefill at all: the first token is one decode step
    one = predict(late, Load(LoadKind.BATCH, 1, 128, batch=batch))
    assert one.ttft_ms == pytest.approx(one.tpot_ms, rel=1e-9)


def test_first_decode_step_waits_for_every_prompt_of_the_wave() -> None:
    """With many long prompts, an engine that samples first tokens in the prefill step
    hands them out group by group (mean ~ half the prefill); one that samples them in the
    next decode step hands them all out after the whole prefill."""
    early = deploy(LLAMA31_8B, "A100-80GB", engine="lmdeploy")
    early = _with_engine(early, first_token_from="prefill")
    late = _with_engine(early, first_token_from="decode_step")
    load = Load(LoadKind.BATCH, 2048, 64, batch=32)  # 64k prompt tokens: many groups
    r_early, r_late = predict(early, load), predict(late, load)
    assert r_early.schedule is not None and r_early.schedule.prefill_groups > 4
    assert r_late.ttft_ms > 1.6 * r_early.ttft_ms


def test_infinite_rate_needs_a_finite_number_of_requests() -> None:
    """'--request-rate inf' sends every request at once: meaningful for a finite run (the
    queue drains), refused for an endless one."""
    with pytest.raises(InputError, match="request_rate"):
        Load(LoadKind.RATE, 512, 128, request_rate=math.inf)
    dep = deploy(LLAMA31_8B, "H100")
    burst = predict(dep, Load(LoadKind.RATE, 512, 128, request_rate=math.inf, num_requests=2000))
    offline = predict(dep, Load(LoadKind.OFFLINE, 512, 128))
    _check_result(burst)
    # served as fast as the saturated engine; the last requests wait for the earlier ones:
    # none starts before the first slots free (a whole first request, prompt burst
    # included), then one starts per request served
    assert burst.tpot_ms == pytest.approx(offline.tpot_ms, rel=1e-9)
    slots = offline.batch
    waiting = (2000 - slots) / 2000
    drain_s = (2000 - slots) ** 2 / (2 * 2000) / offline.requests_per_s
    first_s = burst.e2e_latency_ms / 1e3 - burst.queue_wait_ms / 1e3
    assert burst.queue_wait_ms / 1e3 == pytest.approx(drain_s + waiting * first_s, rel=1e-6)
    assert first_s > offline.e2e_latency_ms / 1e3  # the first requests' prompts came at once


def test_chunked_prefill_budget_limits_the_steady_batch() -> None:
    """With a shared token budget B, n running sequences leave B - n tokens a step for
    prompts, while their replacements need n x in / out: a steady state holds at most
    B x (out - 1) / (in + out - 1) sequences (512 x 99 / 2099 -> 24). A static batch is prefilled
    once and is only held to B sequences per decode step."""
    dep = _with_engine(deploy(LLAMA31_8B, "H100"), max_batched_tokens=512, max_num_seqs=256)
    offline = predict(dep, Load(LoadKind.OFFLINE, 2000, 100))
    assert offline.batch == 24
    static = predict(dep, Load(LoadKind.BATCH, 2000, 100, batch=64))
    assert static.batch == 64
    roomy = _with_engine(dep, max_batched_tokens=65536)
    assert predict(roomy, Load(LoadKind.OFFLINE, 2000, 100)).batch > 24


def test_startup_burst_of_a_finite_closed_loop() -> None:
    """A closed loop of n requests from c clients starts with c prompts at once; their
    first tokens wait for that burst's prefill. The mean TTFT falls towards the steady
    state as n grows, and equals the burst's when n = c."""
    dep = deploy(LLAMA31_8B, "H100")

    def ttft(n: int | None) -> float:
        load = Load(LoadKind.CONCURRENCY, 512, 256, batch=64, num_requests=n, fixed_lengths=False)
        return predict(dep, load).ttft_ms

    steady, few, many, lots = ttft(None), ttft(64), ttft(640), ttft(640_000)
    assert few > many > lots > steady
    assert lots == pytest.approx(steady, rel=0.01)
    # 64 x 512 tokens prefilled from an idle engine: the mean prompt waits for at least
    # half of that work at the datasheet's peak
    flops = 2 * LLAMA31_8B_NON_EMBEDDING * 64 * 512
    assert few / 1e3 >= 0.5 * flops / H100_BF16_DENSE


@pytest.mark.parametrize(
    ("model", "gpu", "kwargs"),
    [
        (LLAMA31_8B, "H100", {}),
        ("meta-llama/Llama-3.1-70B", "H100", {"precision": "fp8", "tp": 2}),
        ("Qwen/Qwen3-30B-A3B", "L40S", {"precision": "fp8", "tp": 2}),
        ("deepseek-ai/DeepSeek-R1", "H200", {"precision": "fp8", "tp": 8, "engine": "sglang"}),
        ("mistralai/Mistral-7B-v0.1", "A100-80GB", {"engine": "trtllm"}),
        (LLAMA31_8B, "RTX-4090", {"precision": "q4_k_m", "engine": "llama.cpp", "pp": 2}),
        ("meta-llama/Llama-3.1-70B", "A100-80GB", {"tp": 4, "pp": 2}),
    ],
)
@pytest.mark.parametrize("kind", list(LoadKind))
def test_every_load_kind_gives_sane_results(
    model: str, gpu: str, kwargs: dict[str, object], kind: LoadKind
) -> None:
    dep = deploy(model, gpu, **kwargs)  # type: ignore[arg-type]
    load = Load(kind, 1024, 256, batch=4, request_rate=0.5)
    result = predict(dep, load)
    _check_result(result)
    assert result.mode == kind.value
    assert result.num_gpus == dep.num_gpus


def test_model_that_does_not_fit_raises() -> None:
    """Llama-3.1-70B bf16 = 141 GB of weights on one 24 GiB card."""
    dep = deploy("meta-llama/Llama-3.1-70B", "RTX-4090")
    for load in (
        Load(LoadKind.BATCH, 128, 128, batch=1),
        Load(LoadKind.OFFLINE, 128, 128),
        Load(LoadKind.RATE, 128, 128, request_rate=1),
    ):
        with pytest.raises(DoesNotFitError):
            predict(dep, load)


def test_context_too_long_for_the_cache_raises() -> None:
    """Llama-3.1-70B fp8 on one H100: ~70.6 GB of weights leave a few GB; a 1M-token
    sequence needs 1,000,000 x 327,680 bytes = 328 GB of KV cache."""
    dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8")
    with pytest.raises(DoesNotFitError):
        predict(dep, Load(LoadKind.BATCH, 1_000_000, 16, batch=1))


def test_more_gpus_never_lower_throughput_for_70b() -> None:
    """Llama-3.1-70B fp8 on H100 with tp 1, 2, 4, 8 and 64 requests of 1024 in / 128 out."""
    for kind in (LoadKind.BATCH, LoadKind.OFFLINE):
        previous = 0.0
        for tp in (1, 2, 4, 8):
            dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8", tp=tp)
            load = Load(kind, 1024, 128, batch=64, num_requests=64)
            throughput = predict(dep, load).output_tokens_per_s
            assert throughput >= previous * (1 - 1e-9), (kind, tp)
            previous = throughput


@pytest.mark.parametrize(
    ("model", "gpu", "kwargs"),
    [
        ("openai/gpt-oss-120b", "A100-80GB", {"precision": "q4_k_m", "engine": "llama.cpp"}),
        ("Qwen/Qwen3-30B-A3B", "L4", {"precision": "q4_k_m", "engine": "llama.cpp"}),
    ],
)
def test_offline_throughput_at_least_batch1_for_moe(
    model: str, gpu: str, kwargs: dict[str, object]
) -> None:
    """A maximum-throughput load may always run one request at a time, so it can never
    make fewer tokens/s than a batch of one. MoE models on llama.cpp (4 sequences, no
    chunked prefill), 1024 in / 256 out."""
    dep = deploy(model, gpu, **kwargs)  # type: ignore[arg-type]
    single = predict(dep, Load(LoadKind.BATCH, 1024, 256, batch=1))
    offline = predict(dep, Load(LoadKind.OFFLINE, 1024, 256))
    assert offline.output_tokens_per_s >= single.output_tokens_per_s


@pytest.mark.parametrize(
    ("model", "gpu", "kwargs"),
    [
        (LLAMA31_8B, "H100", {}),
        ("mistralai/Mixtral-8x7B-v0.1", "H100", {"precision": "fp8", "tp": 2}),
        ("deepseek-ai/DeepSeek-V3", "B200", {"precision": "fp8", "tp": 4}),
        ("openai/gpt-oss-120b", "A100-80GB", {"precision": "q4_k_m", "engine": "llama.cpp"}),
    ],
)
def test_offline_not_slower_than_static_batches_of_capacity(
    model: str, gpu: str, kwargs: dict[str, object]
) -> None:
    """With fixed lengths an engine given unlimited requests can always run them as static
    batches of as many as fit, so its maximum throughput is at least theirs (5 % slack
    for the different prefill scheduling of the two models). 4096 in / 256 out."""
    dep = deploy(model, gpu, **kwargs)  # type: ignore[arg-type]
    cap = capacity(dep, 4096, 256)
    assert cap >= 1
    static = predict(dep, Load(LoadKind.BATCH, 4096, 256, batch=cap))
    offline = predict(dep, Load(LoadKind.OFFLINE, 4096, 256))
    assert offline.batch == pytest.approx(static.batch, rel=1e-12)
    assert offline.output_tokens_per_s >= 0.95 * static.output_tokens_per_s


# ----------------------------------------------------------------------------- properties

CASES: list[tuple[str, str, dict[str, object]]] = [
    (LLAMA31_8B, "H100", {}),
    (LLAMA31_8B, "RTX-4090", {"engine": "llama.cpp", "precision": "q4_k_m"}),
    (LLAMA31_8B, "A100-80GB", {"precision": "fp8", "engine": "trtllm"}),
    ("meta-llama/Llama-3.1-70B", "H100", {"precision": "fp8", "tp": 2}),
    ("meta-llama/Llama-3.1-70B", "A100-80GB", {"tp": 4, "pp": 2, "engine": "trtllm"}),
    ("Qwen/Qwen3-30B-A3B", "L40S", {"precision": "fp8", "tp": 2}),
    ("deepseek-ai/DeepSeek-V3", "H200", {"precision": "fp8", "tp": 8, "engine": "sglang"}),
    ("mistralai/Mistral-7B-v0.1", "A100-80GB", {"engine": "lmdeploy"}),
    ("google/gemma-3-27b-pt", "H100", {"tp": 2}),
]
_DEPLOYMENTS: dict[int, Deployment] = {}


def _case(index: int) -> Deployment:
    if index not in _DEPLOYMENTS:
        model, gpu, kwargs = CASES[index]
        _DEPLOYMENTS[index] = deploy(model, gpu, **kwargs)  # type: ignore[arg-type]
    return _DEPLOYMENTS[index]


case_indices = st.integers(min_value=0, max_value=len(CASES) - 1)
inputs = st.integers(min_value=1, max_value=8192)
outputs = st.integers(min_value=1, max_value=2048)


@given(case_indices, inputs, outputs, st.integers(1, 512), st.integers(1, 512))
def test_larger_batch_never_lowers_throughput(
    index: int, inp: int, out: int, b1: int, b2: int
) -> None:
    dep = _case(index)
    cap = capacity(dep, inp, out)
    assume(cap >= 1)
    small, large = sorted((min(b1, cap), min(b2, cap)))
    r_small = predict(dep, Load(LoadKind.BATCH, inp, out, batch=small))
    r_large = predict(dep, Load(LoadKind.BATCH, inp, out, batch=large))
    # The prompts of a larger batch may need one more token-budget step than `large/small`
    # times the small batch's steps (a partial last chunk), and that step pays the fixed
    # costs of any step: reading the weights (all experts of an MoE model, which a chunk
    # of many tokens touches) and the engine overheads, bounded by a decode step of 256
    # short sequences. Beyond that, more sequences never lower throughput.
    wide = min(256, capacity(dep, 1, 2))
    one_step_ms = predict(dep, Load(LoadKind.BATCH, 1, 2, batch=wide)).tpot_ms
    scaled_ms = r_small.makespan_ms * large / small
    allowed = scaled_ms / (scaled_ms + one_step_ms)
    assert r_large.output_tokens_per_s >= r_small.output_tokens_per_s * allowed * (1 - 1e-9)
    assert r_large.requests_per_s >= r_small.requests_per_s * allowed * (1 - 1e-9)


@given(case_indices, inputs, outputs, outputs, st.integers(1, 256))
def test_longer_output_never_lowers_latency(
    index: int, inp: int, o1: int, o2: int, batch: int
) -> None:
    dep = _case(index)
    short, long = sorted((o1, o2))
    cap = capacity(dep, inp, long)
    assume(cap >= 1)
    batch = min(batch, cap)
    r_short = predict(dep, Load(LoadKind.BATCH, inp, short, batch=batch))
    r_long = predict(dep, Load(LoadKind.BATCH, inp, long, batch=batch))
    assert r_long.e2e_latency_ms >= r_short.e2e_latency_ms * (1 - 1e-9)
    assert r_long.makespan_ms >= r_short.makespan_ms * (1 - 1e-9)


@given(case_indices, inputs, outputs)
def test_offline_throughput_at_least_batch1(index: int, inp: int, out: int) -> None:
    dep = _case(index)
    assume(capacity(dep, inp, out) >= 1)
    offline = predict(dep, Load(LoadKind.OFFLINE, inp, out))
    single = predict(dep, Load(LoadKind.BATCH, inp, out, batch=1))
    _check_result(offline)
    _check_result(single)
    # the steady state splits a prompt into budget-sized chunks, each paying a step's
    # fixed costs; with one or two output tokens that may cost batch 1 a few per cent
    slack = 0.03 if out <= 2 else 1e-9
    assert offline.output_tokens_per_s >= single.output_tokens_per_s * (1 - slack)
    assert offline.batch == pytest.approx(offline.max_batch, rel=1e-12)


@given(case_indices, inputs, outputs, st.floats(min_value=0.001, max_value=0.95))
def test_rate_below_capacity_is_served(index: int, inp: int, out: int, fraction: float) -> None:
    dep = _case(index)
    assume(capacity(dep, inp, out) >= 1)
    saturated = predict(dep, Load(LoadKind.OFFLINE, inp, out)).requests_per_s
    rate = fraction * saturated
    result = predict(dep, Load(LoadKind.RATE, inp, out, request_rate=rate))
    _check_result(result)
    assert result.requests_per_s == pytest.approx(rate, rel=1e-9)
    assert result.output_tokens_per_s == pytest.approx(rate * out, rel=1e-9)
    # Little's law: requests in the system = rate x latency, never above what fits
    assert result.batch <= result.max_batch


@given(case_indices, inputs, outputs, st.floats(min_value=1.05, max_value=20))
def test_rate_above_capacity_is_capped(index: int, inp: int, out: int, factor: float) -> None:
    dep = _case(index)
    assume(capacity(dep, inp, out) >= 1)
    offline = predict(dep, Load(LoadKind.OFFLINE, inp, out))
    rate = factor * offline.requests_per_s
    result = predict(dep, Load(LoadKind.RATE, inp, out, request_rate=rate))
    assert result.requests_per_s <= offline.requests_per_s * (1 + 1e-9)
    # of a finite burst, the requests beyond the engine's free slots wait
    _, _, free = overflow_wait(
        DEFAULT_FINITE_REQUESTS, offline.max_batch, offline.requests_per_s, rate
    )
    assert (result.queue_wait_ms > 0) == (free < 1)


def test_overflow_wait_of_a_finite_burst() -> None:
    """1,000 requests arrive at 20/s at an engine serving 10/s with 100 slots: request k
    starts at (k - 100) / 10 s and arrives at k / 20 s, so it waits from k = 200 on, for
    (k - 200) / 20 s; the mean wait is 800^2 / 2 / 1000 / 20 = 16 s, the longest 40 s."""
    mean, longest, free = overflow_wait(1000, 100, 10.0, 20.0)
    assert mean == pytest.approx(16.0, rel=1e-9)
    assert longest == pytest.approx(40.0, rel=1e-9)
    assert free == pytest.approx(0.2, rel=1e-9)
    assert overflow_wait(1000, 100, 10.0, 5.0) == (0.0, 0.0, 1.0)


@given(case_indices, inputs, outputs, st.integers(1, 64))
def test_results_are_finite_and_positive(index: int, inp: int, out: int, batch: int) -> None:
    dep = _case(index)
    assume(capacity(dep, inp, out) >= 1)
    for load in (
        Load(LoadKind.BATCH, inp, out, batch=batch),
        Load(LoadKind.CONCURRENCY, inp, out, batch=batch),
        Load(LoadKind.BATCH, inp, out, batch=batch, fixed_lengths=False),
    ):
        result = predict(dep, load)
        _check_result(result)
        for name, value in result.as_dict().items():
            if isinstance(value, float):
                assert value == value and value != float("inf"), name  # not NaN, finite


def test_replace_keeps_load_valid() -> None:
    load = Load(LoadKind.BATCH, 10, 10, batch=2)
    with pytest.raises(InputError):
        replace(load, output_tokens=0)
