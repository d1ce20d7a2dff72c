"""Typed, frozen records for the catalogs (GPUs, models, precisions, engine profiles).

Units are in the field names: ``_gib`` binary gigabytes (2**30 bytes), ``_gbps`` decimal
gigabytes per second (1e9 B/s), ``_tflops`` dense tera-operations per second (1e12,
without 2:4 sparsity), ``_w`` watts, ``_usd`` US dollars. Every entry carries a
``source`` and a ``source_date`` (ISO date the source was read or published).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class _Record(BaseModel):
    """Base for catalog records: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ComputeDtype(StrEnum):
    """Numeric formats a tensor unit can multiply in; keys of :attr:`GpuSpec.peak_tflops`."""

    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"
    FP4 = "fp4"
    INT4 = "int4"


class InterconnectKind(StrEnum):
    """How GPUs talk to each other for tensor-parallel all-reduce.

    ``pcie`` is PCIe with peer-to-peer transfers (data-centre and workstation cards);
    ``pcie-host`` is PCIe without them (GeForce cards: NCCL stages through host memory);
    ``infiniband`` is the scale-out network between nodes (InfiniBand or RoCE).
    """

    NVLINK = "nvlink"
    NVLINK_BRIDGE = "nvlink-bridge"
    INFINITY_FABRIC = "infinity-fabric"
    PCIE = "pcie"
    PCIE_HOST = "pcie-host"
    INFINIBAND = "infiniband"
    ETHERNET = "ethernet"
    UNIFIED_MEMORY = "unified-memory"


class GpuSpec(_Record):
    """One accelerator model, with its datasheet figures.

    ``peak_tflops`` holds dense peaks keyed by :class:`ComputeDtype`; a missing key
    means the hardware has no native support for that format (e.g. no fp8 on A100).
    ``interconnect_bandwidth_gbps`` is the vendor-style aggregate per GPU (NVLink 4 = 900).
    ``pcie_bandwidth_gbps`` is the host link per direction (PCIe 4 x16 = 32, PCIe 5 x16 = 64).
    ``link_domain_gpus`` is how many GPUs the interconnect joins when fewer than a node
    (NVLink bridges pair cards): tensor parallelism wider than that runs over PCIe.
    ``usable_memory_fraction`` is the share of ``memory_gib`` a GPU program may use
    (below 1 for unified-memory chips, whose OS keeps part of the RAM).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
    name: str
    vendor: Literal["NVIDIA", "AMD", "Intel", "Apple"]
    aliases: tuple[str, ...] = ()
    architecture: str
    category: Literal["datacenter", "workstation", "consumer", "laptop", "soc"]
    memory_gib: PositiveFloat
    memory_bandwidth_gbps: PositiveFloat
    peak_tflops: dict[ComputeDtype, PositiveFloat]
    interconnect: InterconnectKind
    interconnect_bandwidth_gbps: PositiveFloat
    pcie_bandwidth_gbps: PositiveFloat
    max_gpus_per_node: PositiveInt = 8
    link_domain_gpus: PositiveInt | None = None
    usable_memory_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    tdp_w: PositiveFloat
    release_year: Annotated[int, Field(ge=2015, le=2030)]
    price_usd: PositiveFloat | None = None
    price_source: str | None = None
    price_date: dt.date | None = None
    source: str = Field(min_length=8)
    source_date: dt.date
    notes: str = ""

    @model_validator(mode="after")
    def _check_consistency(self) -> GpuSpec:
        if ComputeDtype.FP16 not in self.peak_tflops and ComputeDtype.BF16 not in self.peak_tflops:
            raise ValueError(f"GPU {self.id}: peak_tflops needs fp16 or bf16")
        if self.price_usd is not None and not self.price_source:
            raise ValueError(f"GPU {self.id}: price_usd needs price_source")
        return self

    def peak(self, dtype: ComputeDtype) -> float | None:
        """Dense peak in TFLOPS for ``dtype``; fp16 and bf16 stand in for each other."""
        value = self.peak_tflops.get(dtype)
        if value is None and dtype in (ComputeDtype.FP16, ComputeDtype.BF16):
            other = ComputeDtype.BF16 if dtype is ComputeDtype.FP16 else ComputeDtype.FP16
            value = self.peak_tflops.get(other)
        return value


class MlpKind(StrEnum):
    """Feed-forward block shape: gated (SwiGLU/GeGLU, 3 matrices) or plain (2 matrices)."""

    GATED = "gated"
    PLAIN = "plain"


class MoeSpec(_Record):
    """Mixture-of-experts layout.

    ``dense_layers`` counts leading layers that use a dense FFN of ``intermediate_size``
    (DeepSeek's ``first_k_dense_replace``); ``moe_layer_interval`` = 2 means every other
    layer is MoE (Llama 4 Maverick), the others dense.
    """

    num_experts: PositiveInt
    experts_per_token: PositiveInt
    shared_experts: NonNegativeInt = 0
    expert_intermediate_size: PositiveInt
    shared_expert_intermediate_size: PositiveInt | None = None
    dense_layers: NonNegativeInt = 0
    moe_layer_interval: PositiveInt = 1


class MlaSpec(_Record):
    """Multi-head latent attention (DeepSeek-V2/V3): the KV cache stores a compressed latent."""

    kv_lora_rank: PositiveInt
    q_lora_rank: PositiveInt | None = None
    qk_rope_head_dim: PositiveInt
    qk_nope_head_dim: PositiveInt
    v_head_dim: PositiveInt


class SlidingWindowSpec(_Record):
    """Local attention: ``window_tokens`` wide on all but one in ``global_layer_every`` layers.

    ``global_layer_every`` = 0 means every layer is local (Mistral-7B-v0.1);
    6 means five local layers then one global (Gemma 3); 2 alternates (gpt-oss).
    """

    window_tokens: PositiveInt
    global_layer_every: NonNegativeInt = 0


class ModelSpec(_Record):
    """A transformer's architecture, as in its Hugging Face ``config.json``.

    ``params_total_b`` / ``params_active_b`` are the published counts in billions, used
    by integrity tests to check that the architecture fields reproduce them.
    """

    id: str = Field(min_length=2)
    aliases: tuple[str, ...] = ()
    family: str
    num_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_kv_heads: PositiveInt
    head_dim: PositiveInt
    intermediate_size: PositiveInt
    vocab_size: PositiveInt
    tie_word_embeddings: bool = False
    mlp: MlpKind = MlpKind.GATED
    max_context_tokens: PositiveInt
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None
    sliding_window: SlidingWindowSpec | None = None
    params_total_b: PositiveFloat
    params_active_b: PositiveFloat | None = None
    source: str = Field(min_length=8)
    source_date: dt.date
    notes: str = ""

    @model_validator(mode="after")
    def _check_heads(self) -> ModelSpec:
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError(
                f"model {self.id}: num_attention_heads ({self.num_attention_heads}) "
                f"must be a multiple of num_kv_heads ({self.num_kv_heads})"
            )
        return self

    @property
    def is_moe(self) -> bool:
        return self.moe is not None


class WeightFormat(_Record):
    """A weight storage format: bits per weight including scales, and how it is computed.

    ``compute_dtype`` is the tensor-core format the matmuls run in when the GPU supports
    it natively; ``fallback_compute_dtype`` is used otherwise (weight-only dequantisation),
    or ``None`` when the format cannot run without native support.
    """

    id: str
    aliases: tuple[str, ...] = ()
    bits_per_weight: PositiveFloat
    embedding_bits: PositiveFloat | None = None
    compute_dtype: ComputeDtype
    fallback_compute_dtype: ComputeDtype | None
    quantized: bool
    dequant_overhead: Annotated[float, Field(ge=0, le=1)] = 0.0
    description: str
    source: str = Field(min_length=8)
    source_date: dt.date


class KvFormat(_Record):
    """A KV-cache element format and its size in bits (scales included)."""

    id: str
    aliases: tuple[str, ...] = ()
    bits_per_element: PositiveFloat
    description: str
    source: str = Field(min_length=8)
    source_date: dt.date


class FitRecord(_Record):
    """How an engine profile's factors were fitted (``scripts/fit_engine_profiles.py``):
    the development set's SHA-256, the code version, the rows used and left out as
    outliers, the prior weight, and each factor's (low, high, typical) range."""

    dataset_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    code_version: str = Field(min_length=1)
    rows: NonNegativeInt
    outliers: NonNegativeInt
    median_ape: Annotated[float, Field(ge=0)]
    prior_weight: Annotated[float, Field(ge=0)]
    ranges: dict[str, tuple[float, float, float]]
    fitted_on: dt.date


class EngineProfile(_Record):
    """Efficiency factors of a serving engine, used by the performance model.

    Efficiencies are fractions of the roofline (0-1]: ``compute_efficiency`` of peak
    tensor FLOPS reached by large prefill GEMMs, ``bandwidth_efficiency`` of peak HBM
    bandwidth reached by decode weight/KV reads; ``moe_efficiency`` scales both for the
    expert GEMMs of MoE layers (grouped GEMMs over few tokens per expert run below dense
    GEMM efficiency); ``attention_efficiency`` scales the compute rate of attention
    kernels (flash attention in prefill) relative to dense GEMMs, ``kv_read_efficiency``
    the rate at which decode attention reads the paged KV cache relative to weight reads
    (split from one factor on 2026-12-05: held-out TPOT 18.4 -> 17.0 %).
    ``step_overhead_s`` is the fixed CPU and
    launch cost of one forward step; ``per_layer_overhead_s`` the floor of a layer's
    kernels (launch gaps and minimum kernel durations, paid even by tiny steps);
    ``per_sequence_overhead_s`` grows with batch size
    (sampling, scheduling). ``quantized_kv_format`` is the KV-cache format the engine uses
    by default with quantised weights (None: 16-bit). ``kv_reservation`` = full: the
    scheduler reserves KV blocks for a request's whole prompt + output at admission
    (TensorRT-LLM's GUARANTEED_NO_EVICT); on_demand: blocks are taken as tokens are made
    (vLLM). ``memory_fraction_of`` says whether ``gpu_memory_utilization`` is a share of
    the whole GPU (vLLM) or of the memory left after weights (TensorRT-LLM's
    kv_cache_free_gpu_mem_fraction). ``platform`` = rocm marks the profile of an
    engine's ROCm build (id ``<engine>-rocm``), used instead of the generic one on AMD
    GPUs. ``attention_data_parallel``: the attention of a MoE model runs data-parallel
    (SGLang's dp-attention, TensorRT-LLM's attention DP): each GPU holds the whole
    attention weights and the KV cache of its own share of the sequences, the experts
    stay split over the GPUs. ``first_token_from`` = prefill: the step that finishes a
    prompt samples its first token (vLLM, SGLang, TensorRT-LLM); decode_step: prefill
    stops one token short and the first decode step after every waiting prompt has been
    prefilled runs that token and samples the first output (TurboMind's context
    decoding). ``how_obtained`` says where the numbers come from.

    Engine eras: ``family`` names the engine a profile is one era of (default: its own
    id), ``versions`` the releases it covers as a PEP 440 specifier (``"<0.8"``,
    ``">=1.0"``), ``years`` the calendar years those releases came out (for measurements
    that print only a date). Each family's profile whose id is the family's own is the
    current era, used when planning. ``fitted_values_from`` names the profile whose
    fitted factors this one takes (an era or engine without measurements of its own).
    """

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    family: str | None = None
    versions: str | None = None
    years: tuple[int, ...] = ()
    fitted_values_from: str | None = None
    compute_efficiency: Annotated[float, Field(gt=0, le=1)]
    bandwidth_efficiency: Annotated[float, Field(gt=0, le=1)]
    communication_efficiency: Annotated[float, Field(gt=0, le=1)]
    moe_efficiency: Annotated[float, Field(gt=0, le=1)] = 1.0
    attention_efficiency: Annotated[float, Field(gt=0, le=1)] = 1.0
    kv_read_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.85
    step_overhead_s: Annotated[float, Field(ge=0, le=1)]
    per_layer_overhead_s: Annotated[float, Field(ge=0, le=0.01)] = 0.0
    per_sequence_overhead_s: Annotated[float, Field(ge=0, le=1)]
    max_num_seqs: PositiveInt
    max_batched_tokens: PositiveInt
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)]
    runtime_overhead_gib: Annotated[float, Field(ge=0)]
    continuous_batching: bool = True
    chunked_prefill: bool = True
    multi_gpu_split: Literal["tensor", "layer"] = "tensor"
    platform: Literal["any", "rocm"] = "any"
    quantized_kv_format: str | None = None
    kv_reservation: Literal["on_demand", "full"] = "on_demand"
    attention_data_parallel: bool = False
    first_token_from: Literal["prefill", "decode_step"] = "prefill"
    memory_fraction_of: Literal["total", "free"] = "total"
    how_obtained: str = Field(min_length=8)
    source_date: dt.date
    fit: FitRecord | None = None

    @model_validator(mode="after")
    def _check_versions(self) -> EngineProfile:
        if self.versions is not None:
            try:
                SpecifierSet(self.versions)
            except InvalidSpecifier:
                raise ValueError(
                    f"engine {self.id}: versions '{self.versions}' is not a version "
                    "specifier such as '<0.8' or '>=1.0'"
                ) from None
        return self

    @property
    def engine_family(self) -> str:
        """The engine this profile is an era of (its own id for a current profile)."""
        return self.family or self.id

    def covers(self, version: str) -> bool:
        """True if release ``version`` (e.g. '0.6.3') falls in this era's range."""
        if self.versions is None:
            return True
        try:
            return Version(version) in SpecifierSet(self.versions)
        except InvalidVersion:
            return False


class CollectivePath(_Record):
    """One all-reduce algorithm as an alpha-beta model.

    Time for ``n`` GPUs and a message of ``S`` bytes:
    ``latency_us_2_gpus + latency_us_per_extra_gpu * (n - 2)`` (alpha, microseconds) plus
    ``traffic(S, n) / (link unidirectional bandwidth x bandwidth_fraction)`` (beta).
    """

    latency_us_2_gpus: Annotated[float, Field(ge=0, le=1000)]
    latency_us_per_extra_gpu: Annotated[float, Field(ge=0, le=100)]
    bandwidth_fraction: Annotated[float, Field(gt=0, le=1)]


class KvTransferPath(_Record):
    """A prompt's KV cache moved point to point between a prefill and a decode replica
    (disaggregated serving): ``latency_us`` per transfer plus the bytes at the link's
    one-way bandwidth x ``bandwidth_fraction`` (what a transfer library such as
    Mooncake's Transfer Engine or NIXL reaches of the line rate)."""

    latency_us: Annotated[float, Field(ge=0, le=100_000)]
    bandwidth_fraction: Annotated[float, Field(gt=0, le=1)]
    source: str = Field(min_length=8)


class InterconnectProfile(_Record):
    """Collective-communication figures of one interconnect kind, from microbenchmarks.

    ``unidirectional_fraction`` converts the vendor's aggregate (bidirectional) figure
    into one direction's bandwidth. ``low_latency`` is the small-message path engines use
    in decode (one-shot custom all-reduce kernels, NCCL's LL protocol): every GPU reads
    the whole message of each peer. ``ring`` is the bandwidth path for large messages
    (ring / two-shot: each GPU moves 2(n-1)/n of the message). ``link_bandwidth_gbps``
    is the per-GPU link of a kind that is not the GPU's own node link (the network
    between nodes), aggregate bidirectional like the GPU catalog's figures.
    ``mesh_links``: on a fully connected mesh (no switch) each GPU's bandwidth is split
    over this many point-to-point links, and a collective over n GPUs uses n - 1 of them.
    ``all_to_all``: the path of expert-parallel dispatch/combine (DeepEP, NCCL alltoall);
    None: the ring path's figures.
    ``kv_transfer``: KV-cache transfers between disaggregated prefill and decode pools
    over this link (None: the ring path's 2-GPU latency and bandwidth fraction).
    """

    kind: InterconnectKind
    unidirectional_fraction: Annotated[float, Field(gt=0, le=1)]
    low_latency: CollectivePath
    ring: CollectivePath
    all_to_all: CollectivePath | None = None
    link_bandwidth_gbps: PositiveFloat | None = None
    mesh_links: PositiveInt | None = None
    kv_transfer: KvTransferPath | None = None
    source: str = Field(min_length=8)
    source_date: dt.date
