"""Physics tests of the performance model (issue 11): bounds, scaling with GPUs,
engines close to each other, collectives worked by hand, factors inside their ranges."""

from __future__ import annotations

import itertools

import pytest
from tests.conftest import deploy

from llmplan.catalog.loader import bundled_catalog
from llmplan.catalog.ranges import efficiency_range, efficiency_ranges
from llmplan.catalog.schema import InterconnectKind
from llmplan.deployment import Deployment
from llmplan.perf.collectives import allreduce_time_s, send_time_s
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.serving import predict
from llmplan.perf.step import StepShape, communication_time_s
from llmplan.sizing.memory import weights_bytes_per_gpu

DATACENTER = ("H100-SXM-80GB", "H200-SXM-141GB", "B200-180GB", "A100-SXM-80GB", "MI300X-192GB")
ENGINES = ("vllm", "sglang", "trtllm")


def _tpot_ms(dep: Deployment, batch: int = 1) -> float:
    return predict(dep, Load(LoadKind.BATCH, 1024, 256, batch=batch)).tpot_ms


def _weights_read_ms(dep: Deployment) -> float:
    """Reading every GPU's share of the weights once at datasheet bandwidth."""
    per_gpu = weights_bytes_per_gpu(dep)
    return per_gpu / (dep.gpu.memory_bandwidth_gbps * 1e9) * 1e3


def _documented_overheads_ms(dep: Deployment) -> float:
    engine = dep.engine
    layers = dep.model.num_layers
    comm = communication_time_s(dep, 1.0)
    return (engine.step_overhead_s + engine.per_layer_overhead_s * layers + comm) * 1e3


@pytest.mark.parametrize("gpu", DATACENTER)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("model", "precision", "tp"),
    [
        ("meta-llama/Llama-3.1-8B", "bf16", 1),
        ("meta-llama/Llama-3.1-70B-Instruct", "fp8", 2),
        ("meta-llama/Llama-3.1-70B-Instruct", "fp8", 8),
    ],
)
def test_batch1_tpot_between_one_and_two_weight_reads(
    gpu: str, engine: str, model: str, precision: str, tp: int
) -> None:
    """Batch-1 decode reads the weights once per token: never faster than the datasheet
    bandwidth allows, never slower than twice that plus the profile's stated overheads."""
    if engine == "trtllm" and gpu.startswith("MI"):
        pytest.skip("TensorRT-LLM does not run on AMD GPUs")
    if precision == "fp8" and gpu.startswith("A100"):
        precision = "bf16"  # no fp8 on Ampere
    dep = deploy(model, gpu, precision=precision, engine=engine, tp=tp)
    tpot = _tpot_ms(dep)
    bound = _weights_read_ms(dep)
    assert tpot >= bound
    assert tpot <= 2 * bound + _documented_overheads_ms(dep), (tpot, bound)


@pytest.mark.parametrize(
    ("gpu", "model", "precision"),
    [
        ("H100-SXM-80GB", "meta-llama/Llama-3.1-70B-Instruct", "fp8"),
        ("H200-SXM-141GB", "meta-llama/Llama-3.1-70B-Instruct", "fp8"),
        ("B200-180GB", "meta-llama/Llama-3.1-70B-Instruct", "fp8"),
        ("MI300X-192GB", "meta-llama/Llama-3.1-70B-Instruct", "fp8"),
        ("A100-SXM-80GB", "meta-llama/Llama-3.1-70B-Instruct", "bf16"),
        ("H100-SXM-80GB", "Qwen/Qwen2.5-32B-Instruct", "bf16"),
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_tpot_strictly_decreases_with_tensor_parallelism(
    gpu: str, model: str, precision: str, engine: str
) -> None:
    """Dense 30B+ models on NVLink / Infinity Fabric: each doubling of tp up to 8 lowers
    batch-1 TPOT (the weights per GPU halve; an all-reduce costs microseconds)."""
    if engine == "trtllm" and gpu.startswith("MI"):
        pytest.skip("TensorRT-LLM does not run on AMD GPUs")
    catalog = bundled_catalog()
    assert catalog.gpu(gpu).interconnect in (
        InterconnectKind.NVLINK,
        InterconnectKind.INFINITY_FABRIC,
    )
    tpots = []
    for tp in (1, 2, 4, 8):
        dep = deploy(model, gpu, precision=precision, engine=engine, tp=tp)
        try:
            tpots.append(_tpot_ms(dep))
        except Exception:  # does not fit on so few GPUs
            tpots.append(float("inf"))
    finite = [t for t in tpots if t != float("inf")]
    assert len(finite) >= 3
    assert all(b < a for a, b in itertools.pairwise(finite)), tpots


@pytest.mark.parametrize("gpu", ("H100-SXM-80GB", "H200-SXM-141GB", "B200-180GB"))
@pytest.mark.parametrize(
    "load",
    [
        Load(LoadKind.BATCH, 1024, 256, batch=1),
        Load(LoadKind.BATCH, 1024, 256, batch=32),
        Load(LoadKind.OFFLINE, 1024, 256),
    ],
    ids=("batch1", "batch32", "offline"),
)
def test_engines_within_one_and_a_half_times_of_each_other(gpu: str, load: Load) -> None:
    """vLLM, SGLang and TensorRT-LLM run the same class of kernels on the same memory:
    their predicted throughputs stay within 1.5x of each other."""
    rates = {}
    for engine in ENGINES:
        dep = deploy("meta-llama/Llama-3.1-70B-Instruct", gpu, precision="fp8", engine=engine, tp=4)
        rates[engine] = predict(dep, load).output_tokens_per_s
    assert max(rates.values()) <= 1.5 * min(rates.values()), rates


def test_nvlink_small_allreduce_worked_by_hand() -> None:
    """8 x H100 (NVLink 4, 900 GB/s aggregate -> 450 GB/s one way), 16 KiB (one token of
    an 8192-wide model in bf16), engine efficiency 1: low-latency path
    alpha = 6.0 + 0.4 x 6 = 8.4 us; traffic 2 x 7/8 x 16384 = 28,672 B at 450e9 x 0.15
    = 67.5 GB/s -> 0.425 us; total 8.825 us. The ring path is 9 + 1.5 x 6 = 18 us + more."""
    profile = bundled_catalog().interconnect(InterconnectKind.NVLINK)
    seconds = allreduce_time_s(profile, 900, 8, 16384, 1.0)
    assert seconds == pytest.approx(8.4e-6 + 28672 / 67.5e9, rel=1e-9)


def test_nvlink_large_allreduce_takes_the_ring() -> None:
    """64 MiB on 8 x H100: ring alpha 18 us + 2 x 7/8 x 64 MiB / (450e9 x 0.82) s; the
    low-latency path would be ~5x slower at this size."""
    profile = bundled_catalog().interconnect(InterconnectKind.NVLINK)
    size = 64 * 2**20
    expected = 18e-6 + 1.75 * size / (450e9 * 0.82)
    assert allreduce_time_s(profile, 900, 8, size, 1.0) == pytest.approx(expected, rel=1e-9)


def test_efficiency_scales_bandwidth_not_latency() -> None:
    """Halving the engine's communication efficiency leaves a tiny all-reduce's latency
    (almost) unchanged: latencies are the hardware's, not the engine's bandwidth share."""
    profile = bundled_catalog().interconnect(InterconnectKind.NVLINK)
    fast = allreduce_time_s(profile, 900, 8, 8, 1.0)
    slow = allreduce_time_s(profile, 900, 8, 8, 0.5)
    assert slow == pytest.approx(fast, rel=1e-3)
    assert fast == pytest.approx(8.4e-6, rel=1e-3)


def test_infinity_fabric_mesh_gives_two_gpus_one_link() -> None:
    """MI300X: 7 links of 64 GB/s each way. Two GPUs share one link, so a 32 MiB ring
    all-reduce moves 32 MiB at 64e9 x 0.7 B/s; eight GPUs use all seven links."""
    profile = bundled_catalog().interconnect(InterconnectKind.INFINITY_FABRIC)
    size = 32 * 2**20
    two = allreduce_time_s(profile, 896, 2, size, 1.0)
    assert two == pytest.approx(15e-6 + size / (64e9 * 0.7), rel=1e-9)
    eight = allreduce_time_s(profile, 896, 8, size, 1.0)
    assert eight < two / 3


def test_pcie_without_peer_to_peer_is_slower_than_with() -> None:
    catalog = bundled_catalog()
    p2p = catalog.interconnect(InterconnectKind.PCIE)
    host = catalog.interconnect(InterconnectKind.PCIE_HOST)
    for size in (8, 2**16, 2**24):
        assert allreduce_time_s(host, 64, 4, size, 1.0) > allreduce_time_s(p2p, 64, 4, size, 1.0)
    assert catalog.gpu("RTX-4090-24GB").interconnect is InterconnectKind.PCIE_HOST
    assert catalog.gpu("L40S-48GB").interconnect is InterconnectKind.PCIE


def test_tensor_parallel_wider_than_a_node_uses_the_network() -> None:
    """tp 16 of H100s crosses nodes: its all-reduces run at InfiniBand's pace, far slower
    than NVLink's for a prefill-sized message."""
    inside = deploy("meta-llama/Llama-3.1-405B", "H100-SXM-80GB", precision="fp8", tp=8)
    across = deploy("meta-llama/Llama-3.1-405B", "H100-SXM-80GB", precision="fp8", tp=16)
    tokens = 4096.0
    per_layer_inside = communication_time_s(inside, tokens) / inside.model.num_layers
    per_layer_across = communication_time_s(across, tokens) / across.model.num_layers
    assert per_layer_across > 4 * per_layer_inside


def test_pipeline_handoff_is_one_send() -> None:
    profile = bundled_catalog().interconnect(InterconnectKind.NVLINK)
    assert send_time_s(profile, 900, 16384, 1.0) == pytest.approx(6e-6 + 16384 / 67.5e9, rel=1e-9)


def test_step_communication_grows_with_tokens() -> None:
    dep = deploy("meta-llama/Llama-3.1-70B-Instruct", "H100-SXM-80GB", precision="fp8", tp=8)
    small = communication_time_s(dep, StepShape(decode_seqs=1).tokens)
    large = communication_time_s(dep, StepShape(prefill_tokens=8192).tokens)
    assert large > 5 * small > 0


def test_every_profile_factor_lies_in_its_physical_range() -> None:
    for engine in bundled_catalog().engines:
        if engine.id == "generic":
            continue
        for item in efficiency_ranges():
            value = float(getattr(engine, item.field))
            assert item.contains(value), (engine.id, item.field, value, item.low, item.high)


def test_ranges_are_documented_and_ordered() -> None:
    names = {r.field for r in efficiency_ranges()}
    assert {"compute_efficiency", "bandwidth_efficiency", "communication_efficiency"} <= names
    for item in efficiency_ranges():
        assert item.low < item.high and item.low <= item.typical <= item.high
        assert len(item.source) > 40
    assert efficiency_range("bandwidth_efficiency").high <= 1.0
