"""The scenario: the one schema shared by the CLI, the API, the web UI and the reports.

A scenario file holds a name, one or more workloads, constraints, finance assumptions,
overrides of catalog figures and the search space of the planner::

    name: Internal chat assistant
    workloads:
      - name: chat
        model: meta-llama/Llama-3.3-70B-Instruct
        requests_per_day: 20000
        input_tokens: {mean: 1500, p95: 6000}
        output_tokens: 350
        slo: {ttft_ms: 1500, tpot_ms: 60, percentile: 95}
    constraints: {data_residency: eu, compliance: [gdpr]}
    finance: {horizon_months: 36, electricity_usd_per_kwh: 0.20}

Every block rejects unknown keys. Catalog names (models, GPUs, precisions, engines) are
plain strings here and are checked against a catalog by
:func:`llmplan.scenario.resolve.check_names`, so building a scenario never reads a file.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, model_validator

from llmplan.deployment import MAX_PARALLEL_DEGREE
from llmplan.domain.capacity import CapacityAssumptions
from llmplan.domain.finance import FinanceAssumptions
from llmplan.errors import UnknownNameError
from llmplan.limits import (
    MAX_CANDIDATES_PER_LIST,
    MAX_DESCRIPTION_CHARS,
    MAX_SEARCH_COMBINATIONS,
    MAX_WORKLOADS_PER_SCENARIO,
)
from llmplan.scenario._base import FieldValueError, ScenarioModel
from llmplan.scenario.constraints import Constraints, DeploymentOption
from llmplan.scenario.quotes import MAX_QUOTES, ApiPriceQuote, CloudPriceQuote
from llmplan.scenario.workloads import (
    FineTuneWorkload,
    InferenceWorkload,
    Workload,
)

#: GPUs searched when ``candidates.gpus`` and ``constraints.gpu_allow`` are not given:
#: current data-centre parts of each vendor, one inference card, and the two consumer
#: cards small teams buy.
DEFAULT_CANDIDATE_GPUS = (
    "H100-SXM-80GB",
    "H200-SXM-141GB",
    "B200-180GB",
    "A100-SXM-80GB",
    "L40S-48GB",
    "L4-24GB",
    "MI300X-192GB",
    "RTX-PRO-6000-Blackwell-Server-96GB",
    "RTX-4090-24GB",
    "RTX-5090-32GB",
)
#: Weight formats searched by default: 16-bit, 8-bit float and 4-bit AWQ.
DEFAULT_CANDIDATE_PRECISIONS = ("bf16", "fp8", "int4-awq")
DEFAULT_CANDIDATE_ENGINES = ("vllm",)
CLOUD_PRICE_FIELDS = (
    "cloud_on_demand_usd_per_gpu_hour",
    "cloud_reserved_1y_usd_per_gpu_hour",
    "cloud_reserved_3y_usd_per_gpu_hour",
    "cloud_spot_usd_per_gpu_hour",
)


#: Price bounds of a GPU override: 100x the dearest data-centre GPU (a B200 near $40k).
MAX_GPU_PRICE_USD = 4e6
MAX_GPU_HOUR_USD = 10_000.0


class GpuOverride(ScenarioModel):
    """Your own figures for one GPU, replacing the catalog's and the price files'."""

    purchase_price_usd: float | None = Field(
        None,
        gt=0,
        le=MAX_GPU_PRICE_USD,
        description="Price of one GPU, USD (replaces the catalog's price_usd).",
    )
    power_w: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="Rated board power of one GPU, W (replaces the catalog's tdp_w).",
    )
    cloud_on_demand_usd_per_gpu_hour: float | None = Field(
        None, gt=0, le=MAX_GPU_HOUR_USD, description="On-demand rental price, USD per GPU-hour."
    )
    cloud_reserved_1y_usd_per_gpu_hour: float | None = Field(
        None,
        gt=0,
        le=MAX_GPU_HOUR_USD,
        description="1-year reserved rental price, USD per GPU-hour.",
    )
    cloud_reserved_3y_usd_per_gpu_hour: float | None = Field(
        None,
        gt=0,
        le=MAX_GPU_HOUR_USD,
        description="3-year reserved rental price, USD per GPU-hour.",
    )
    cloud_spot_usd_per_gpu_hour: float | None = Field(
        None, gt=0, le=MAX_GPU_HOUR_USD, description="Spot rental price, USD per GPU-hour."
    )
    source: str = Field("", description="Where the figures come from (quote, invoice, date).")

    @model_validator(mode="after")
    def _check_something_set(self) -> GpuOverride:
        values = ("purchase_price_usd", "power_w", *CLOUD_PRICE_FIELDS)
        if all(getattr(self, name) is None for name in values):
            raise ValueError(f"set at least one of {', '.join(values)}")
        return self

    def cloud_usd_per_gpu_hour(self, option: DeploymentOption) -> float | None:
        """The rental price given for a cloud ``option``, or None."""
        if not option.is_cloud_rental:
            return None
        value: float | None = getattr(self, f"{option.value}_usd_per_gpu_hour")
        return value


class MeasuredThroughput(ScenarioModel):
    """A throughput you measured, used instead of the predicted one for this setup."""

    model: str = Field(min_length=1, description="Model id or alias.")
    gpu: str = Field(min_length=1, description="GPU id or alias.")
    precision: str | None = Field(
        None, description="Weight format of the measurement; null: any precision."
    )
    engine: str | None = Field(None, description="Engine of the measurement; null: any engine.")
    tp: int = Field(1, ge=1, le=MAX_PARALLEL_DEGREE, description="Tensor-parallel GPUs.")
    pp: int = Field(1, ge=1, le=MAX_PARALLEL_DEGREE, description="Pipeline-parallel stages.")
    output_tokens_per_s_per_gpu: float | None = Field(
        None, gt=0, description="Generated tokens per second per GPU at saturation."
    )
    output_tokens_per_s_per_replica: float | None = Field(
        None, gt=0, description="Generated tokens per second of one tp x pp replica."
    )
    source: str = Field("", description="How and when it was measured.")

    @model_validator(mode="after")
    def _check_one_rate(self) -> MeasuredThroughput:
        per_gpu = self.output_tokens_per_s_per_gpu
        per_replica = self.output_tokens_per_s_per_replica
        if per_gpu is None and per_replica is None:
            raise ValueError("give output_tokens_per_s_per_gpu or output_tokens_per_s_per_replica")
        if per_gpu is not None and per_replica is not None:
            raise FieldValueError(
                "output_tokens_per_s_per_replica",
                "give output_tokens_per_s_per_gpu or this field, not both",
            )
        return self

    @property
    def gpus_per_replica(self) -> int:
        return self.tp * self.pp

    def gpu_output_tokens_per_s(self) -> float:
        """Generated tokens per second per GPU, whichever rate was given."""
        if self.output_tokens_per_s_per_gpu is not None:
            return self.output_tokens_per_s_per_gpu
        assert self.output_tokens_per_s_per_replica is not None  # checked above
        return self.output_tokens_per_s_per_replica / self.gpus_per_replica

    def replica_output_tokens_per_s(self) -> float:
        """Generated tokens per second of one replica."""
        return self.gpu_output_tokens_per_s() * self.gpus_per_replica


class Overrides(ScenarioModel):
    """Figures that replace catalog data or predictions."""

    gpus: dict[str, GpuOverride] = Field(
        default_factory=dict,
        description="Per-GPU prices and power, keyed by GPU id or alias.",
    )
    measured_throughput: tuple[MeasuredThroughput, ...] = Field(
        (),
        max_length=MAX_CANDIDATES_PER_LIST * 8,
        description="Measured throughputs that replace the performance model's.",
    )
    api_prices: tuple[ApiPriceQuote, ...] = Field(
        (),
        max_length=MAX_QUOTES,
        description="Your own per-token API quotes; they join the price list for this scenario.",
    )
    cloud_prices: tuple[CloudPriceQuote, ...] = Field(
        (),
        max_length=MAX_QUOTES,
        description="Your own cloud GPU-hour quotes; they join the price list for this scenario.",
    )


DEFAULT_SPLIT_RATIOS = ("2:1", "1:1", "1:2", "1:3", "1:4")
"""Prefill:decode replica ratios of disaggregated units (see llmplan.plan.disagg)."""
MAX_SPLIT_RATIOS = 8
MAX_SPLIT_REPLICAS = 16


class Candidates(ScenarioModel):
    """The planner's search space."""

    gpus: tuple[str, ...] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CANDIDATES_PER_LIST,
        description="GPUs to consider. null: constraints.gpu_allow if given, else "
        f"{', '.join(DEFAULT_CANDIDATE_GPUS)}. Filtered by gpu_allow and gpu_deny.",
    )
    precisions: tuple[str, ...] = Field(
        DEFAULT_CANDIDATE_PRECISIONS,
        min_length=1,
        max_length=MAX_CANDIDATES_PER_LIST,
        description="Weight formats to consider (`llmplan` precision ids); a GPU without "
        "support for one skips it.",
    )
    engines: tuple[str, ...] = Field(
        DEFAULT_CANDIDATE_ENGINES,
        min_length=1,
        max_length=MAX_CANDIDATES_PER_LIST,
        description="Serving engines to consider.",
    )
    max_gpus_per_replica: int = Field(
        8,
        ge=1,
        le=MAX_PARALLEL_DEGREE,
        description="Largest tp x pp of one replica (8 = one 8-GPU server).",
    )
    hybrid_base_demand_percentile: float = Field(
        50.0,
        ge=0,
        le=100,
        description="Hybrid option: the owned base serves this percentile of the hourly "
        "demand over operating hours (50 = the median hour, 100 = the peak: no bursts); "
        "the rest bursts to cloud on-demand or the API.",
    )
    expert_parallel: bool = Field(
        True,
        description="Also search expert parallelism (ep = tp) with DP attention for "
        "mixture-of-experts models on the engines that run it (SGLang, TensorRT-LLM, vLLM; "
        "data/expert-parallel.yaml). false: tensor x pipeline parallel layouts only.",
    )
    split_ratios: tuple[str, ...] = Field(
        DEFAULT_SPLIT_RATIOS,
        max_length=MAX_SPLIT_RATIOS,
        description="Disaggregated prefill/decode units tried for large fleets (designs of "
        "4+ multi-GPU replicas, units wider than a node), as prefill replicas:decode "
        f"replicas of the design's layout, each 1-{MAX_SPLIT_REPLICAS}; the ratio that "
        "serves the busiest hour on the fewest GPUs is kept. []: no disaggregation.",
    )

    @model_validator(mode="after")
    def _check_split_ratios(self) -> Candidates:
        for text in self.split_ratios:
            parts = text.split(":")
            ok = len(parts) == 2 and all(p.strip().isdigit() for p in parts)
            if not ok or not all(1 <= int(p) <= MAX_SPLIT_REPLICAS for p in parts):
                raise FieldValueError(
                    "split_ratios",
                    f"expected prefill:decode replicas, each 1-{MAX_SPLIT_REPLICAS} "
                    f"(e.g. 1:3), got {text[:20]!r}",
                )
        return self

    def split_ratio_pairs(self) -> tuple[tuple[int, int], ...]:
        """:attr:`split_ratios` as (prefill replicas, decode replicas)."""
        pairs = (tuple(int(p) for p in text.split(":")) for text in self.split_ratios)
        return tuple((a, b) for a, b in pairs)


class Scenario(ScenarioModel):
    """Workloads, constraints, finance, overrides and search space of one decision."""

    schema_version: Literal[1] = Field(
        1, description="Version of this schema; 1 is the only one so far."
    )
    name: str = Field(min_length=1, max_length=200, description="Title used in reports.")
    description: str = Field(
        "", max_length=MAX_DESCRIPTION_CHARS, description="Free text for reports."
    )
    workloads: tuple[Workload, ...] = Field(
        min_length=1,
        max_length=MAX_WORKLOADS_PER_SCENARIO,
        description="Inference and fine-tuning workloads (at least one, at most "
        f"{MAX_WORKLOADS_PER_SCENARIO}).",
    )
    constraints: Constraints = Field(
        default_factory=Constraints, description="What the plan must respect."
    )
    finance: FinanceAssumptions = Field(
        default_factory=FinanceAssumptions,
        description="Horizon, energy, site, depreciation and staff assumptions "
        "(llmplan.domain.finance).",
    )
    capacity: CapacityAssumptions = Field(
        default_factory=CapacityAssumptions,
        description="How capacity is added over time and bought: monthly tranches, whole "
        "servers, spare servers, facility build-out (llmplan.domain.capacity).",
    )
    overrides: Overrides = Field(
        default_factory=Overrides, description="Your figures replacing catalog data."
    )
    candidates: Candidates = Field(
        default_factory=Candidates, description="The planner's search space."
    )
    calibration: str | None = Field(
        None,
        min_length=1,
        description="Calibration profile written by `llmplan calibrate` (a path, relative "
        "to the scenario file): its engine profiles replace the bundled ones. null: the "
        "bundled profiles. `llmplan plan --calibration` overrides it.",
    )

    @model_validator(mode="after")
    def _check_unique_names(self) -> Scenario:
        seen: set[str] = set()
        for workload in self.workloads:
            if workload.name in seen:
                raise FieldValueError(
                    "workloads", f"two workloads are named '{workload.name}'; names must differ"
                )
            seen.add(workload.name)
        return self

    @model_validator(mode="after")
    def _check_search_size(self) -> Scenario:
        """Refuse a search larger than :data:`~llmplan.limits.MAX_SEARCH_COMBINATIONS`
        (11-16 ms each on one core), with its size, before any work starts."""
        gpus = self.candidates.gpus or self.constraints.gpu_allow or DEFAULT_CANDIDATE_GPUS
        size = len(self.workloads) * len(gpus)
        size *= len(self.candidates.precisions) * len(self.candidates.engines)
        if size > MAX_SEARCH_COMBINATIONS:
            raise FieldValueError(
                "candidates",
                f"the search would try {size:,} combinations (workloads x GPUs x precisions "
                f"x engines), more than the {MAX_SEARCH_COMBINATIONS:,} allowed; narrow the "
                "candidates or split the scenario",
            )
        return self

    def inference_workloads(self) -> tuple[InferenceWorkload, ...]:
        return tuple(w for w in self.workloads if isinstance(w, InferenceWorkload))

    def finetune_workloads(self) -> tuple[FineTuneWorkload, ...]:
        return tuple(w for w in self.workloads if isinstance(w, FineTuneWorkload))

    def workload(self, name: str) -> InferenceWorkload | FineTuneWorkload:
        """The workload called ``name``; :class:`UnknownNameError` otherwise."""
        for workload in self.workloads:
            if workload.name == name:
                return workload
        names = [w.name for w in self.workloads]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(names)}"
        raise UnknownNameError(f"no workload named '{name}'; {hint}", field="workloads")
