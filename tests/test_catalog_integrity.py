"""Integrity of every entry of the bundled catalog (GPUs, models, formats, engines).

Each check is parametrised over the entries so that a failing entry is named in the test id.
Ranges are physical plausibility bounds for hardware on sale 2015-2030, not the catalog's own
numbers: a typo (a GiB figure in MiB, a sparse TFLOPS figure, a GB/s figure in Gbit/s) lands
outside them.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from llmplan.catalog.loader import Catalog, bundled_catalog, normalise_name
from llmplan.catalog.params import count_params
from llmplan.catalog.schema import (
    ComputeDtype,
    EngineProfile,
    GpuSpec,
    KvFormat,
    ModelSpec,
    WeightFormat,
)

MEASUREMENTS = Path(str(resources.files("llmplan").joinpath("data", "measurements-dev.csv")))
TODAY = dt.date.today()


def _load() -> Catalog | None:
    try:
        return bundled_catalog()
    except Exception:  # reported by test_bundled_catalog_loads
        return None


_CATALOG = _load()
GPUS: list[GpuSpec] = list(_CATALOG.gpus) if _CATALOG else []
MODELS: list[ModelSpec] = list(_CATALOG.models) if _CATALOG else []
WEIGHT_FORMATS: list[WeightFormat] = list(_CATALOG.weight_formats) if _CATALOG else []
KV_FORMATS: list[KvFormat] = list(_CATALOG.kv_formats) if _CATALOG else []
ENGINES: list[EngineProfile] = list(_CATALOG.engines) if _CATALOG else []


def _ids(records: Iterable[Any]) -> list[str]:
    return [str(r.id) for r in records]


def by_gpu(f: Any) -> Any:
    return pytest.mark.parametrize("gpu", GPUS, ids=_ids(GPUS))(f)


def by_model(f: Any) -> Any:
    return pytest.mark.parametrize("model", MODELS, ids=_ids(MODELS))(f)


# ----------------------------------------------------------------------------- loading


def test_bundled_catalog_loads() -> None:
    catalog = bundled_catalog()
    # The README promises H100/A100-class GPUs, Llama/Qwen/DeepSeek models and nine engines.
    assert len(catalog.gpus) >= 20
    assert len(catalog.models) >= 30
    assert len(catalog.engines) >= 9
    assert {"bf16", "fp16", "fp8", "int4-awq", "nvfp4"} <= set(catalog.weight_formats.ids())
    assert {"fp16", "fp8"} <= set(catalog.kv_formats.ids())
    for engine in ("vllm", "sglang", "trtllm", "lmdeploy", "llama.cpp", "tgi", "generic"):
        assert catalog.engine(engine).id == engine


def test_every_interconnect_kind_of_a_gpu_has_a_profile() -> None:
    catalog = bundled_catalog()
    used = {g.interconnect for g in catalog.gpus}
    assert used <= set(catalog.interconnects), used - set(catalog.interconnects)


# ----------------------------------------------------------------------------- sources


ALL_SOURCED = [
    *(("gpu", g.id, g.source, g.source_date) for g in GPUS),
    *(("model", m.id, m.source, m.source_date) for m in MODELS),
    *(("weight_format", w.id, w.source, w.source_date) for w in WEIGHT_FORMATS),
    *(("kv_format", k.id, k.source, k.source_date) for k in KV_FORMATS),
    # Engine profiles say where their numbers come from in ``how_obtained``.
    *(("engine", e.id, e.how_obtained, e.source_date) for e in ENGINES),
]


@pytest.mark.parametrize(
    ("kind", "name", "source", "source_date"),
    ALL_SOURCED,
    ids=[f"{k}:{n}" for k, n, _, _ in ALL_SOURCED],
)
def test_entry_has_source_and_past_date(
    kind: str, name: str, source: str, source_date: dt.date
) -> None:
    assert source.strip(), f"{kind} {name}: empty source"
    assert isinstance(source_date, dt.date)
    assert source_date <= TODAY, f"{kind} {name}: source_date {source_date} is in the future"
    assert source_date >= dt.date(1985, 1, 1)  # IEEE 754 (1985) is the oldest source possible


# ----------------------------------------------------------------------------- GPUs

# Unified-memory SoCs (Apple M3 Ultra: 512 GB) share system RAM with the GPU; discrete
# accelerators top out below 300 GiB (MI355X 288 GB, B300 288 GB).
MAX_DISCRETE_GIB = 300
MAX_UNIFIED_GIB = 512


@by_gpu
def test_gpu_memory_in_range(gpu: GpuSpec) -> None:
    upper = MAX_UNIFIED_GIB if gpu.category == "soc" else MAX_DISCRETE_GIB
    assert 4 <= gpu.memory_gib <= upper
    assert 0 < gpu.usable_memory_fraction <= 1


@by_gpu
def test_gpu_bandwidth_in_range(gpu: GpuSpec) -> None:
    assert 50 <= gpu.memory_bandwidth_gbps <= 10_000
    # The host link never outruns the GPU's own memory (GB200's C2C link to Grace: 450 GB/s;
    # Apple's unified memory is the memory itself).
    assert 1 <= gpu.pcie_bandwidth_gbps <= gpu.memory_bandwidth_gbps
    assert 1 <= gpu.interconnect_bandwidth_gbps <= 10_000


@by_gpu
def test_gpu_16bit_peaks_in_range(gpu: GpuSpec) -> None:
    for dtype in (ComputeDtype.BF16, ComputeDtype.FP16):
        peak = gpu.peak(dtype)
        assert peak is not None, f"{gpu.id}: no {dtype.value} peak"
        assert 1 <= peak <= 5000, f"{gpu.id}: {dtype.value} {peak} TFLOPS"


@by_gpu
def test_gpu_low_precision_peaks_ordered(gpu: GpuSpec) -> None:
    """Narrower formats run at least as fast as wider ones on every tensor unit here."""
    bf16 = gpu.peak(ComputeDtype.BF16)
    assert bf16 is not None
    fp8 = gpu.peak_tflops.get(ComputeDtype.FP8)
    fp4 = gpu.peak_tflops.get(ComputeDtype.FP4)
    if fp8 is not None:
        assert fp8 >= bf16, f"{gpu.id}: fp8 {fp8} < bf16 {bf16}"
    if fp4 is not None and fp8 is not None:
        assert fp4 >= fp8, f"{gpu.id}: fp4 {fp4} < fp8 {fp8}"
    for value in gpu.peak_tflops.values():
        assert value > 0


@by_gpu
def test_gpu_tdp_and_year_in_range(gpu: GpuSpec) -> None:
    assert 10 <= gpu.tdp_w <= 2000
    assert 2015 <= gpu.release_year <= TODAY.year + 1


@by_gpu
def test_gpu_price_fields_consistent(gpu: GpuSpec) -> None:
    if gpu.price_usd is None:
        assert gpu.price_source is None, f"{gpu.id}: price_source without price_usd"
        assert gpu.price_date is None, f"{gpu.id}: price_date without price_usd"
        return
    assert 50 <= gpu.price_usd <= 200_000
    assert gpu.price_source and gpu.price_source.strip()
    if gpu.price_date is not None:
        assert gpu.price_date <= TODAY
        assert gpu.price_date.year >= gpu.release_year - 1


# ----------------------------------------------------------------------------- models

TOTAL_TOLERANCE = 0.03
ACTIVE_TOLERANCE = 0.05


@by_model
def test_model_counted_total_matches_published(model: ModelSpec) -> None:
    counted = count_params(model).total / 1e9
    assert counted == pytest.approx(model.params_total_b, rel=TOTAL_TOLERANCE), (
        f"{model.id}: counted {counted:.3f}B vs published {model.params_total_b}B"
    )


@by_model
def test_model_counted_active_matches_published(model: ModelSpec) -> None:
    """Vendors differ on whether an active-parameter figure counts the embedding tables:
    accepted are the count with both tables, without the input embedding (one vocab x
    hidden table), and without any embedding table (Z.ai's GLM-4.5 convention)."""
    counts = count_params(model)
    if model.params_active_b is None:
        assert not model.is_moe, f"{model.id}: MoE model without params_active_b"
        return
    one_table = model.vocab_size * model.hidden_size
    candidates = {
        "all tables": counts.active,
        "without input embedding": counts.active - one_table,
        "without embeddings": counts.active - counts.embedding,
    }
    close = [
        name
        for name, value in candidates.items()
        if value / 1e9 == pytest.approx(model.params_active_b, rel=ACTIVE_TOLERANCE)
    ]
    assert close, f"{model.id}: published active {model.params_active_b}B, counted " + ", ".join(
        f"{k} {v / 1e9:.3f}B" for k, v in candidates.items()
    )
    assert model.params_active_b <= model.params_total_b


@by_model
def test_model_head_geometry_sane(model: ModelSpec) -> None:
    assert 32 <= model.head_dim <= 512
    width = model.head_dim * model.num_attention_heads
    # Most models have heads x head_dim = hidden; Gemma/Qwen3 go narrower or wider, and
    # MLA's 192-wide q/k heads reach 3.4 x hidden (DeepSeek-V3).
    assert 0.5 * model.hidden_size <= width <= 4 * model.hidden_size, width
    assert model.num_kv_heads <= model.num_attention_heads
    assert model.num_attention_heads % model.num_kv_heads == 0
    assert model.vocab_size >= 1000
    assert model.max_context_tokens >= 2048


@by_model
def test_model_moe_layout_sane(model: ModelSpec) -> None:
    moe = model.moe
    if moe is None:
        assert model.params_active_b is None or model.params_active_b == pytest.approx(
            model.params_total_b, rel=0.01
        )
        return
    assert moe.experts_per_token <= moe.num_experts
    assert moe.dense_layers < model.num_layers
    assert count_params(model).moe_layers >= 1
    assert count_params(model).active < count_params(model).total


@by_model
def test_model_sliding_window_and_mla_sane(model: ModelSpec) -> None:
    if model.sliding_window is not None:
        assert model.sliding_window.window_tokens < model.max_context_tokens
        assert model.sliding_window.global_layer_every <= model.num_layers
    if model.mla is not None:
        assert model.head_dim == model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim
        assert model.mla.kv_lora_rank < model.hidden_size


# ----------------------------------------------------------------------------- measurements


def _measurement_column(column: str) -> list[str]:
    with MEASUREMENTS.open(encoding="utf-8", newline="") as handle:
        return sorted({row[column] for row in csv.DictReader(handle)})


@pytest.mark.parametrize("name", _measurement_column("gpu"))
def test_measurement_gpu_resolves(catalog: Catalog, name: str) -> None:
    assert catalog.gpu(name).id


@pytest.mark.parametrize("name", _measurement_column("model"))
def test_measurement_model_resolves(catalog: Catalog, name: str) -> None:
    assert catalog.model(name).id


# The accelerators and models issue 2 names, as people type them.
ISSUE_GPUS = [
    "RTX-3060",
    "RTX-3070",
    "RTX-3080",
    "RTX-3090",
    "RTX-3090Ti",
    "RTX-4060Ti",
    "RTX-4070",
    "RTX-4080",
    "RTX-4090",
    "RTX-5070",
    "RTX-5080",
    "RTX-5090",
    "RTX-A6000",
    "RTX-6000-Ada",
    "RTX-PRO-6000-Blackwell-Server-96GB",
    "RTX-PRO-6000-Blackwell-Workstation-96GB",
    "L4",
    "A10",
    "A10G",
    "A100-SXM-40GB",
    "A100-SXM-80GB",
    "A100-PCIe-40GB",
    "A100-PCIe-80GB",
    "H100",
    "H100-PCIe",
    "H100-NVL",
    "H20",
    "H200",
    "B200",
    "GB200",
    "MI300X",
    "MI325X",
    "Gaudi3",
    "Apple-M1-Max-32core-64GB",
    "Apple-M2-Ultra-76core-192GB",
    "Apple-M3-Max-40core-128GB",
    "Apple-M4-Pro-20core-48GB",
]
ISSUE_MODELS = [
    "meta-llama/Llama-3.2-1B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct",
    "meta-llama/Llama-3.1-405B-Instruct",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct",
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-72B-Instruct",
    "Qwen/Qwen3-8B",
    "Qwen/Qwen3-32B",
    "Qwen/Qwen3-30B-A3B",
    "Qwen/Qwen3-235B-A22B",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x22B-v0.1",
    "deepseek-ai/DeepSeek-V3",
    "deepseek-ai/DeepSeek-R1",
    "deepseek-ai/DeepSeek-R1-0528",
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "google/gemma-2-9b-it",
    "google/gemma-3-27b-it",
    "microsoft/phi-4",
    "zai-org/GLM-4.5",
    "moonshotai/Kimi-K2-Instruct",
    "meta-llama/Llama-2-7b-chat-hf",
]


@pytest.mark.parametrize("name", ISSUE_GPUS)
def test_issue_gpus_resolve(catalog: Catalog, name: str) -> None:
    assert catalog.gpu(name).id


@pytest.mark.parametrize("name", ISSUE_MODELS)
def test_issue_models_resolve(catalog: Catalog, name: str) -> None:
    assert catalog.model(name).id


def test_issue_architectures_are_represented(catalog: Catalog) -> None:
    """MLA (DeepSeek), MoE with shared experts, and sliding windows (Gemma) are modelled."""
    assert catalog.model("deepseek-ai/DeepSeek-R1").mla is not None
    moe = catalog.model("deepseek-ai/DeepSeek-V3").moe
    assert moe is not None and moe.shared_experts >= 1
    assert catalog.model("google/gemma-3-27b-it").sliding_window is not None


def test_measurement_file_is_not_trivial() -> None:
    assert len(_measurement_column("gpu")) >= 10
    assert len(_measurement_column("model")) >= 10


# ----------------------------------------------------------------------------- names

_REGISTRIES = ["gpus", "models", "weight_formats", "kv_formats", "engines"]


@pytest.mark.parametrize("registry", _REGISTRIES)
def test_names_unique_after_normalisation(registry: str) -> None:
    """No two spellings (id or alias) of one registry normalise to the same key, except an
    entry repeating its own name."""
    owner: dict[str, str] = {}
    clashes: list[str] = []
    for record in getattr(bundled_catalog(), registry):
        for name in {record.id, *record.aliases}:
            key = normalise_name(name)
            if key in owner and owner[key] != record.id:
                clashes.append(f"{name!r} ({record.id}) vs {owner[key]}")
            owner[key] = record.id
    assert not clashes


@pytest.mark.parametrize("registry", ["gpus", "models"])
def test_every_name_resolves_to_its_own_entry(registry: str) -> None:
    catalog = bundled_catalog()
    get = catalog.gpu if registry == "gpus" else catalog.model
    for record in getattr(catalog, registry):
        for name in (record.id, *record.aliases):
            assert get(name).id == record.id, name


# ----------------------------------------------------------------------------- engines


@pytest.mark.parametrize("engine", ENGINES, ids=_ids(ENGINES))
def test_engine_efficiencies_in_unit_interval(engine: EngineProfile) -> None:
    fields = {k: v for k, v in engine.model_dump().items() if k.endswith("_efficiency")}
    assert {"compute_efficiency", "bandwidth_efficiency", "communication_efficiency"} <= set(fields)
    for name, value in fields.items():
        assert 0 < value <= 1, f"{engine.id}.{name} = {value}"
    assert 0 < engine.gpu_memory_utilization <= 1
    assert engine.max_num_seqs >= 1
    assert engine.max_batched_tokens >= 512
    assert 0 <= engine.runtime_overhead_gib <= 16
    assert 0 <= engine.step_overhead_s < 0.1
    if engine.quantized_kv_format is not None:
        assert bundled_catalog().kv_format(engine.quantized_kv_format)


# ----------------------------------------------------------------------------- formats


def _nominal_bits(format_id: str) -> int:
    """The bit width a format's name states: int4-awq 4, fp8 8, q6_k 6, bf16 16, nvfp4 4."""
    match = re.search(r"(\d+)", format_id)
    assert match, f"format {format_id!r} names no bit width"
    return int(match.group(1))


@pytest.mark.parametrize("fmt", WEIGHT_FORMATS, ids=_ids(WEIGHT_FORMATS))
def test_weight_format_bits(fmt: WeightFormat) -> None:
    nominal = _nominal_bits(fmt.id)
    if fmt.quantized:
        assert fmt.bits_per_weight < 16
        # Scales and zero points add bits on top of the nominal width, never remove any;
        # 1.5 bits per weight is more than any group layout here (q4_k_m: 4.89).
        assert nominal <= fmt.bits_per_weight < nominal + 1.5
    else:
        assert fmt.bits_per_weight == pytest.approx(nominal, abs=1e-9)
        assert fmt.dequant_overhead == 0
    if fmt.embedding_bits is not None:
        assert fmt.embedding_bits >= fmt.bits_per_weight


@pytest.mark.parametrize("fmt", KV_FORMATS, ids=_ids(KV_FORMATS))
def test_kv_format_bits(fmt: KvFormat) -> None:
    nominal = _nominal_bits(fmt.id)
    assert nominal <= fmt.bits_per_element < nominal + 1.5
