"""A model placed on hardware: the object sizing and performance models take.

A :class:`Deployment` is one model replica: ``tp`` x ``pp`` GPUs of one kind running one
engine with one weight and KV-cache format. It checks that the combination can work
(tensor parallelism dividing the heads, the GPU supporting the weight format) and
nothing else; it holds no state.

Layout rule for expert parallelism (``ep``) and data-parallel attention
(``dp_attention``), as SGLang (``--tp N --ep-size N --enable-dp-attention``), vLLM
(``--enable-expert-parallel``: EP over the TP x DP GPUs) and TensorRT-LLM
(``--ep_size``, ``enable_attention_dp``) lay a replica out: the routed experts of each
pipeline stage are spread over ``ep`` groups of its ``tp`` GPUs (``ep`` divides ``tp``;
inside a group of ``tp / ep`` GPUs each expert is tensor-split), so ``ep`` also divides
the number of routed experts. With ``dp_attention`` the stage's ``tp`` GPUs run attention
data-parallel: each holds the whole attention (MLA) weights and the KV cache of its own
1/tp of the sequences; the heads need not divide by ``tp``.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import (
    ComputeDtype,
    EngineProfile,
    GpuSpec,
    InterconnectKind,
    InterconnectProfile,
    KvFormat,
    ModelSpec,
    WeightFormat,
)
from llmplan.errors import ConfigurationError, InputError

MAX_PARALLEL_DEGREE = 1024


@dataclass(frozen=True)
class Deployment:
    """One replica of ``model`` on ``tp * pp`` GPUs of type ``gpu``."""

    model: ModelSpec
    gpu: GpuSpec
    weights: WeightFormat
    kv: KvFormat
    engine: EngineProfile
    interconnect: InterconnectProfile
    tp: int = 1
    pp: int = 1
    scale_out: InterconnectProfile | None = None
    """The network between nodes, used by collectives of a replica wider than a node."""
    ep: int = 1
    """Expert-parallel degree: routed experts spread over ``ep`` groups of the tp GPUs."""
    dp_attention: bool = False
    """Attention data-parallel over the tp GPUs (MoE models; see the module docstring)."""
    ep_load_imbalance: float | None = None
    """Busiest expert-parallel GPU's routed tokens over the mean (>= 1); None: the
    catalog default (``data/expert-parallel.yaml``)."""

    def __post_init__(self) -> None:
        for name, value in (("tp", self.tp), ("pp", self.pp), ("ep", self.ep)):
            if not 1 <= value <= MAX_PARALLEL_DEGREE:
                raise InputError(
                    f"must be between 1 and {MAX_PARALLEL_DEGREE}, got {value}", field=name
                )
        self._check_expert_layout()
        heads = self.model.num_attention_heads
        if heads % self.tp and not self.dp_attention:
            raise ConfigurationError(
                f"tp={self.tp} does not divide the {heads} attention heads of {self.model.id}; "
                f"allowed: {', '.join(str(d) for d in _divisors(heads) if d <= 64)}",
                field="tp",
            )
        if self.pp > self.model.num_layers:
            raise ConfigurationError(
                f"pp={self.pp} exceeds the {self.model.num_layers} layers of {self.model.id}",
                field="pp",
            )
        if self.compute_dtype is None:
            supported = ", ".join(sorted(d.value for d in self.gpu.peak_tflops))
            raise ConfigurationError(
                f"precision '{self.weights.id}' needs native {self.weights.compute_dtype.value} "
                f"support, which {self.gpu.id} lacks (it supports: {supported})",
                field="precision",
            )

    def _check_expert_layout(self) -> None:
        """Validate ``ep``, ``dp_attention`` and ``ep_load_imbalance`` (module docstring)."""
        moe = self.model.moe
        if (self.ep > 1 or self.dp_attention) and moe is None:
            field = "ep" if self.ep > 1 else "dp_attention"
            raise ConfigurationError(
                f"{field} needs a mixture-of-experts model; {self.model.id} is dense "
                "(allowed: ep=1, dp_attention off)",
                field=field,
            )
        if self.ep > 1 and moe is not None:
            if self.tp % self.ep:
                raise ConfigurationError(
                    f"ep={self.ep} must divide tp={self.tp} (experts are spread over the "
                    f"tensor-parallel GPUs); allowed: "
                    f"{', '.join(str(d) for d in _divisors(self.tp))}",
                    field="ep",
                )
            if moe.num_experts % self.ep:
                raise ConfigurationError(
                    f"ep={self.ep} does not divide the {moe.num_experts} routed experts of "
                    f"{self.model.id}",
                    field="ep",
                )
        if self.dp_attention and self.tp < 2:
            raise ConfigurationError(
                "dp_attention needs tp >= 2 (attention data-parallel over the tp GPUs)",
                field="dp_attention",
            )
        imbalance = self.ep_load_imbalance
        if imbalance is not None and not 1.0 <= imbalance <= 8.0:
            raise InputError(
                f"must be between 1 and 8 (busiest GPU's tokens over the mean), got {imbalance}",
                field="ep_load_imbalance",
            )

    @property
    def expert_layout(self) -> bool:
        """True when the new expert-parallel / DP-attention cost model applies."""
        return self.ep > 1 or self.dp_attention

    @property
    def num_gpus(self) -> int:
        return self.tp * self.pp

    @property
    def compute_dtype(self) -> ComputeDtype | None:
        """Format the matmuls run in on this GPU, or None if the format cannot run."""
        native = self.weights.compute_dtype
        if self.gpu.peak(native) is not None:
            return native
        fallback = self.weights.fallback_compute_dtype
        if fallback is not None and self.gpu.peak(fallback) is not None:
            return fallback
        if fallback is ComputeDtype.FP16 and self.gpu.peak(ComputeDtype.FP32) is not None:
            return ComputeDtype.FP32
        return None

    @property
    def weight_only_quantized(self) -> bool:
        """True when weights are dequantised on the fly (no native low-precision GEMM)."""
        return self.weights.quantized and self.compute_dtype is not self.weights.compute_dtype

    @property
    def matmul_peak_flops(self) -> float:
        """Dense peak in FLOP/s for the model's GEMMs on one GPU."""
        dtype = self.compute_dtype
        assert dtype is not None  # checked in __post_init__
        peak = self.gpu.peak(dtype)
        assert peak is not None
        return peak * 1e12

    @property
    def attention_peak_flops(self) -> float:
        """Dense peak in FLOP/s for attention (16-bit on every GPU here)."""
        peak = self.gpu.peak(ComputeDtype.FP16) or self.gpu.peak(ComputeDtype.FP32)
        assert peak is not None
        return peak * 1e12

    def identity(self) -> dict[str, str | int | bool]:
        """The catalog ids and parallelism that name this deployment in JSON output."""
        return {
            "model": self.model.id,
            "gpu": self.gpu.id,
            "tp": self.tp,
            "pp": self.pp,
            "ep": self.ep,
            "dp_attention": self.dp_attention,
            "precision": self.weights.id,
            "kv_precision": self.kv.id,
            "engine": self.engine.id,
        }

    @classmethod
    def from_names(
        cls,
        catalog: Catalog,
        *,
        model: str,
        gpu: str,
        precision: str | None = None,
        kv_precision: str | None = None,
        engine: str = "vllm",
        tp: int = 1,
        pp: int = 1,
        ep: int = 1,
        dp_attention: bool = False,
        ep_load_imbalance: float | None = None,
    ) -> Deployment:
        """Build from the ids users type; ``precision`` defaults to bf16, KV to fp16."""
        gpu_spec = catalog.gpu(gpu)
        domain = gpu_spec.link_domain_gpus
        if domain is not None and tp > domain:
            gpu_spec = pcie_only(gpu_spec)
        return cls(
            model=catalog.model(model),
            gpu=gpu_spec,
            interconnect=catalog.interconnect(gpu_spec.interconnect),
            weights=catalog.weight_format(precision or "bf16"),
            kv=catalog.kv_format(kv_precision or "fp16"),
            engine=engine_for_platform(catalog, engine, gpu_spec),
            tp=tp,
            pp=pp,
            scale_out=catalog.interconnects.get(InterconnectKind.INFINIBAND),
            ep=ep,
            dp_attention=dp_attention,
            ep_load_imbalance=ep_load_imbalance,
        )


def engine_for_platform(catalog: Catalog, engine: str, gpu: GpuSpec) -> EngineProfile:
    """The engine's profile, or its ROCm build's (``<id>-rocm``) on AMD GPUs if there is one."""
    profile = catalog.engine(engine)
    if gpu.vendor == "AMD" and profile.platform != "rocm":
        for rocm_id in (f"{profile.id}-rocm", f"{profile.engine_family}-rocm"):
            if rocm_id in catalog.engines.ids():
                return catalog.engine(rocm_id)
    return profile


def pcie_only(gpu: GpuSpec) -> GpuSpec:
    """The same GPU with its peer traffic over PCIe (no NVLink), both directions counted."""
    return gpu.model_copy(
        update={
            "interconnect": InterconnectKind.PCIE,
            "interconnect_bandwidth_gbps": 2 * gpu.pcie_bandwidth_gbps,
        }
    )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_context_window(deployment: Deployment, tokens: int, field: str) -> None:
    """Raise InputError (naming ``field``) if ``tokens`` per sequence exceed the model's
    context window."""
    window = deployment.model.max_context_tokens
    if tokens > window:
        raise InputError(
            f"{tokens:,} tokens per sequence exceed {deployment.model.id}'s context window "
            f"of {window:,}",
            field=field,
        )
