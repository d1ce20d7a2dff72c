"""What one planned workload runs: the service a deployment target starts.

A :class:`ServiceSpec` is built from a plan's chosen design for one inference workload
under one deployment option: the model, GPUs and parallelism, the formats, the engine
limits of the design's engine profile, the longest request the engine accepts (the
workload's p95 prompt plus p95 output), prefix caching when the workload's prompts
repeat (``cached_input_fraction`` > 0), and the load each replica was sized for (which
the autoscaler and ``bench.sh`` use).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from llmplan.catalog.schema import EngineProfile
from llmplan.errors import ConfigurationError, InputError
from llmplan.perf.percentiles import lognormal_quantile
from llmplan.perf.speculative import SpecDecoding
from llmplan.plan.assembly import OptionPlan
from llmplan.plan.demand import hybrid_split
from llmplan.plan.planner import Plan, recommended_option
from llmplan.plan.search import Design, length_law
from llmplan.scenario import DeploymentOption, LengthDistribution

LENGTH_QUANTILE = 0.95
"""Quantile of prompt and output lengths the engine's maximum length covers."""

MODEL_LENGTH_ROUNDING_TOKENS = 256
"""The maximum model length is rounded up to a multiple of this (a KV block multiple)."""

SCALE_OUT_VOLUME = 2.0
"""The autoscaler's ceiling: the replicas that carry this multiple of the planned peak."""


@dataclass(frozen=True)
class ServiceSpec:
    """One workload's service: ``replicas`` copies of one replica design."""

    workload: str
    name: str
    option: str
    model: str
    gpu: str
    gpu_vendor: str
    gpus_per_node: int
    engine: EngineProfile
    precision: str
    kv_precision: str
    tp: int
    pp: int
    ep: int
    replicas: int
    max_replicas: int
    max_model_len: int
    prefix_caching: bool
    speculative: SpecDecoding | None
    running_per_replica: int
    peak_requests_per_s_per_replica: float
    input_tokens_mean: float
    input_tokens_cv: float
    output_tokens_mean: float
    output_tokens_cv: float
    checkpoint_gib: float = 0.0
    """Upper bound of the weights' size on disk (for the model-cache volume)."""
    predicted: bool = True
    """False when the engine is not the one the plan predicted (another target engine)."""
    dp_attention: bool = False
    """Attention data-parallel over the ``tp`` GPUs (with ``ep``, the expert layout)."""
    split: str = ""
    """The plan's prefill:decode GPUs per unit ("8:24") when it chose a disaggregated
    design (its launch commands are not generated yet); empty otherwise."""

    @property
    def gpus_per_replica(self) -> int:
        return self.tp * self.pp

    @property
    def nodes_per_replica(self) -> int:
        return math.ceil(self.gpus_per_replica / self.gpus_per_node)

    @property
    def family(self) -> str:
        return engine_family(self.engine)

    def with_engine(self, profile: EngineProfile) -> ServiceSpec:
        """The same service on another engine (its own limits; no longer the prediction)."""
        same = engine_family(profile) == self.family
        return replace(self, engine=profile, predicted=self.predicted and same)


def engine_family(profile: EngineProfile) -> str:
    """vllm, sglang, trtllm, ... (a ROCm build belongs to its engine's family)."""
    return (profile.family or profile.id).removesuffix("-rocm")


def slug(text: str) -> str:
    """A DNS-1123 label (Kubernetes, systemd and compose names) from ``text``."""
    value = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return value[:40].rstrip("-") or "llm"


def quantile_tokens(lengths: LengthDistribution) -> float:
    """The :data:`LENGTH_QUANTILE` of a length law: the stated p95, else the lognormal's."""
    if lengths.p95 is not None:
        return lengths.p95
    mean, cv = length_law(lengths)
    return lognormal_quantile(mean, cv, LENGTH_QUANTILE)


def max_model_len(design: Design) -> int:
    """p95 prompt plus p95 output tokens, rounded up, at most the model's window."""
    work = design.workload
    need = quantile_tokens(work.input_tokens) + quantile_tokens(work.output_tokens)
    step = MODEL_LENGTH_ROUNDING_TOKENS
    rounded = int(math.ceil(need / step) * step)
    return min(rounded, design.deployment.model.max_context_tokens)


def service_spec(design: Design, option: str, base_percentile: float = 50.0) -> ServiceSpec:
    """The service of ``design`` (a plan's choice for one workload under ``option``).
    A hybrid fleet owns the replicas of its base demand (``base_percentile`` of the
    operating hours, :func:`~llmplan.plan.demand.hybrid_split`) and may grow to the full
    design's replicas on burst capacity. A disaggregated design's units count as the
    replicas of the layout they hold (``replicas`` x (P + D) / GPUs per replica)."""
    dep = design.deployment
    per_unit = design.gpus_per_replica // dep.num_gpus
    work = design.workload
    in_mean, in_cv = length_law(work.input_tokens)
    out_mean, out_cv = length_law(work.output_tokens)
    spec: SpecDecoding | None = design.capacity.features.spec
    replicas = design.replicas
    if option == DeploymentOption.HYBRID.value:
        replicas = min(replicas, hybrid_split(design, base_percentile).base_replicas)
    replicas *= per_unit
    return ServiceSpec(
        workload=work.name,
        name=slug(work.name),
        option=option,
        model=dep.model.id,
        gpu=dep.gpu.id,
        gpu_vendor=dep.gpu.vendor,
        gpus_per_node=dep.gpu.max_gpus_per_node,
        engine=dep.engine,
        precision=dep.weights.id,
        kv_precision=dep.kv.id,
        tp=dep.tp,
        pp=dep.pp,
        ep=int(getattr(dep, "ep", 1)),
        replicas=replicas,
        max_replicas=per_unit * max(design.replicas, design.replicas_at(SCALE_OUT_VOLUME)),
        max_model_len=max_model_len(design),
        prefix_caching=work.cached_input_fraction > 0,
        speculative=spec,
        running_per_replica=max(1, math.ceil(design.capacity.result.batch / per_unit)),
        peak_requests_per_s_per_replica=design.peak_requests_per_s / (design.replicas * per_unit),
        input_tokens_mean=in_mean,
        input_tokens_cv=in_cv,
        output_tokens_mean=out_mean,
        output_tokens_cv=out_cv,
        checkpoint_gib=checkpoint_gib(design),
        dp_attention=dep.dp_attention,
        split=(
            f"{design.split.prefill_gpus}:{design.split.decode_gpus}"
            if design.split is not None
            else ""
        ),
    )


def checkpoint_gib(design: Design) -> float:
    """GiB of the checkpoint the engine loads: 16-bit weights for fp8 (quantised at
    load time by vLLM and SGLang), the format's own bits otherwise."""
    dep = design.deployment
    bits = dep.weights.bits_per_weight
    if dep.weights.id == "fp8":
        bits = max(bits, 16.0)
    return dep.model.params_total_b * 1e9 * bits / 8 / 2**30


def chosen_option(plan: Plan, option: str | None) -> OptionPlan:
    """``option``'s plan, or by default the option the plan recommends among those that
    run servers of their own (the cheapest, never spot capacity under latency targets)."""
    if option is not None:
        allowed = [o.value for o in DeploymentOption]
        if option not in allowed:
            raise InputError(
                f"unknown option '{option}'; allowed: {', '.join(allowed)}", field="option"
            )
        found = next(o for o in plan.options if o.option.value == option)
        if not found.included:
            raise InputError(f"option '{option}' is excluded: {found.excluded}", field="option")
        if not _designs(found):
            raise InputError(
                f"option '{option}' runs no servers of its own; choose one of: "
                + ", ".join(_deployable(plan)),
                field="option",
            )
        return found
    own = tuple(o for o in plan.options if o.included and _designs(o))
    best = recommended_option(own, plan.scenario)
    if best is None:
        raise InputError("no included option runs servers of its own", field="option")
    return best


def _designs(option: OptionPlan) -> list[Design]:
    return [c.design for c in option.choices if c.design is not None]


def _deployable(plan: Plan) -> list[str]:
    return [o.option.value for o in plan.included if _designs(o)] or ["(none)"]


def service_specs(plan: Plan, option: str | None, workload: str | None) -> list[ServiceSpec]:
    """The services of the chosen option: every inference workload, or ``workload``."""
    chosen = chosen_option(plan, option)
    designs = _designs(chosen)
    if workload is not None:
        names = [d.workload.name for d in designs]
        designs = [d for d in designs if d.workload.name == workload]
        if not designs:
            raise InputError(
                f"unknown workload '{workload}'; allowed: {', '.join(names)}", field="workload"
            )
    percentile = plan.scenario.candidates.hybrid_base_demand_percentile
    specs = [service_spec(d, chosen.option.value, percentile) for d in designs]
    if len({s.name for s in specs}) != len(specs):
        raise ConfigurationError("two workloads have the same service name", field="workload")
    return specs
