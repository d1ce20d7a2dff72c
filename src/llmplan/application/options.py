"""The typed options of memory, perf, simulate and validate: one set of names for the
Python API (keyword arguments), the command line (``--input-tokens``) and the REST API
(JSON keys). Unknown keys are errors, as in scenario files.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmplan.catalog.calibration_file import CalibrationProfile
from llmplan.domain.finetune import FinetuneMethod
from llmplan.perf.speculative import MAX_SPEC_TOKENS
from llmplan.sim.cluster import Router

MAX_TOKENS = 100_000_000
MAX_SEQUENCES = 10_000_000
MAX_GPUS = 1024
MAX_REQUEST_RATE = 1e9
CALIBRATION_HELP = (
    "A calibration profile (what `llmplan calibrate` writes, as an object): its engine "
    "profiles replace the bundled ones, as --calibration does. Default: the bundled profiles."
)


class ApiModel(BaseModel):
    """Unknown keys are errors (with the closest allowed name), as in scenario files."""

    model_config = ConfigDict(extra="forbid")


# --- memory, perf, validate ----------------------------------------------------------------
class DeploymentInput(ApiModel):
    model: str = Field(description="Model id or alias (GET /api/v1/catalog/models).")
    num_gpus: int | None = Field(None, ge=1, le=MAX_GPUS, description="GPUs per replica.")
    tp: int | None = Field(None, ge=1, le=MAX_GPUS, description="Tensor-parallel degree.")
    pp: int = Field(1, ge=1, le=MAX_GPUS, description="Pipeline-parallel degree.")
    ep: int = Field(
        1,
        ge=1,
        le=MAX_GPUS,
        description="Expert-parallel degree (MoE; divides tp and the expert count).",
    )
    dp_attention: bool = Field(
        False, description="Attention data-parallel over the tp GPUs (MoE models)."
    )
    ep_load_imbalance: float | None = Field(
        None,
        ge=1,
        le=8,
        allow_inf_nan=False,
        description="Busiest expert-parallel GPU's tokens over the mean (default: catalog).",
    )
    precision: str = Field("bf16", description="Weight format: bf16, fp8, int4-awq, ...")
    kv_precision: str | None = Field(None, description="KV-cache format (default fp16).")
    engine: str = Field("vllm", description="Engine profile: vllm, sglang, trtllm, ...")
    calibration: CalibrationProfile | None = Field(None, description=CALIBRATION_HELP)


class MemoryRequest(DeploymentInput):
    """The options of ``llmplan memory``."""

    gpu: str | None = Field(None, description="GPU id; omit for totals only.")
    context: int = Field(4096, ge=1, le=MAX_TOKENS, description="Tokens per sequence.")
    batch: int = Field(1, ge=1, le=MAX_SEQUENCES, description="Concurrent sequences.")
    finetune: FinetuneMethod | None = Field(None, description="Size fine-tuning instead.")
    lora_rank: int = Field(16, ge=1, le=65_536)
    gradient_checkpointing: bool = True


class DisaggregationInput(ApiModel):
    """Disaggregated prefill/decode, as ``--disaggregate`` and ``--kv-transfer-layerwise``."""

    disaggregate: str | None = Field(
        None,
        max_length=32,
        description="Prefill GPUs : decode GPUs, e.g. '8:16' (multiples of tp x pp; "
        "none: one aggregated replica).",
    )
    kv_transfer_layerwise: bool = Field(
        False, description="KV sent layer by layer during the prefill (with disaggregate)."
    )
    prefill_tp: int | None = Field(
        None, ge=1, le=MAX_GPUS, description="Prefill pool's tp (with disaggregate; default tp)."
    )
    prefill_ep: int | None = Field(
        None, ge=1, le=MAX_GPUS, description="Prefill pool's ep (with disaggregate; default ep)."
    )
    prefill_dp_attention: bool | None = Field(
        None, description="Prefill pool's DP attention (with disaggregate; default dp_attention)."
    )
    decode_tp: int | None = Field(
        None, ge=1, le=MAX_GPUS, description="Decode pool's tp (with disaggregate; default tp)."
    )
    decode_ep: int | None = Field(
        None, ge=1, le=MAX_GPUS, description="Decode pool's ep (with disaggregate; default ep)."
    )
    decode_dp_attention: bool | None = Field(
        None, description="Decode pool's DP attention (with disaggregate; default dp_attention)."
    )


class ServingFeaturesInput(ApiModel):
    """Prefix caching and speculative decoding (options of ``perf`` and ``simulate``)."""

    prefix_hit: float = Field(
        0.0, ge=0, lt=1, allow_inf_nan=False, description="Share of prompt tokens cached."
    )
    spec_method: Literal["draft", "eagle", "mtp", "ngram"] | None = Field(
        None, description="Speculative decoding method (none: off)."
    )
    spec_tokens: int | None = Field(
        None, ge=0, le=MAX_SPEC_TOKENS, description="Drafted tokens per step (default per method)."
    )
    spec_acceptance: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False, description="Per-token acceptance probability."
    )
    spec_draft_model: str | None = Field(None, description="Draft model for method 'draft'.")


class PerfRequest(ServingFeaturesInput, DisaggregationInput, DeploymentInput):
    """The options of ``llmplan perf``; give at most one of batch, offline, request_rate
    and concurrency (none: a batch of 1)."""

    gpu: str = Field(description="GPU id or alias (GET /api/v1/catalog/gpus).")
    input_tokens: int = Field(1024, ge=1, le=MAX_TOKENS)
    output_tokens: int = Field(256, ge=1, le=MAX_TOKENS)
    batch: int | None = Field(None, ge=1, le=MAX_SEQUENCES, description="Static batch.")
    offline: bool = Field(False, description="Maximum throughput.")
    request_rate: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=True,
        description="Poisson arrivals, requests/s, at most 1e9; the string 'inf' sends "
        "every request at once (with `requests`).",
    )
    concurrency: int | None = Field(None, ge=1, le=MAX_SEQUENCES, description="Closed loop.")
    requests: int | None = Field(
        None,
        ge=1,
        le=MAX_SEQUENCES,
        description="Requests in the run with request_rate (needed with 'inf'; default "
        "1000 when arrivals outpace the replica).",
    )

    @field_validator("request_rate")
    @classmethod
    def _finite_or_inf(cls, value: float | None) -> float | None:
        if value is not None and math.isfinite(value) and value > MAX_REQUEST_RATE:
            raise ValueError(f"must be at most {MAX_REQUEST_RATE:g} requests/s, or 'inf'")
        return value


class SimulateRequest(ServingFeaturesInput, DisaggregationInput, DeploymentInput):
    """The options of ``llmplan simulate``. Arrivals: exactly one of ``rate`` (with
    ``cv``), ``hourly_rates``, ``clients`` (with ``think_time_s``) or ``find_max_rate``.
    The API reads no files: no trace or length files (give means and p95s)."""

    gpu: str = Field(description="GPU id or alias (GET /api/v1/catalog/gpus).")
    rate: float | None = Field(
        None, le=1e9, allow_inf_nan=False, description="Poisson arrivals, requests/s overall."
    )
    cv: float | None = Field(
        None, le=1e3, allow_inf_nan=False, description="Gap variation with rate (1: Poisson)."
    )
    hourly_rates: list[float] | None = Field(
        None, description="24 hourly rates, requests/s (hour 0 first)."
    )
    clients: int | None = Field(None, le=MAX_SEQUENCES, description="Closed loop: users.")
    think_time_s: float = Field(
        0.0, ge=0, le=1e6, allow_inf_nan=False, description="Closed loop: mean think time."
    )
    input_tokens: int = Field(1024, le=MAX_TOKENS, description="Mean prompt tokens.")
    input_p95: float | None = Field(
        None, allow_inf_nan=False, description="95th-percentile prompt tokens (lognormal)."
    )
    output_tokens: int = Field(256, le=MAX_TOKENS, description="Mean output tokens.")
    output_p95: float | None = Field(
        None, allow_inf_nan=False, description="95th-percentile output tokens (lognormal)."
    )
    requests: int = Field(10_000, description="Requests to simulate (capped per call).")
    replicas: int = Field(1, description="Replicas behind the router.")
    router: Router = Field(Router.ROUND_ROBIN, description="How requests go to replicas.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Random seed (same seed, same result).")
    ttft_slo_ms: float | None = Field(None, allow_inf_nan=False, description="TTFT target, ms.")
    tpot_slo_ms: float | None = Field(None, allow_inf_nan=False, description="TPOT target, ms.")
    percentile: float = Field(95.0, allow_inf_nan=False, description="Share held to the SLO.")
    find_max_rate: bool = Field(False, description="Search the largest Poisson rate in SLO.")


class ValidateRequest(ApiModel):
    """The input of ``llmplan validate``: a measurements CSV (text), default the bundled
    development set."""

    csv: str | None = Field(None, description="CSV text in the development set's schema.")
    by: str = Field("engine", description="Also break errors down by this column.")
    include_rows: bool = Field(True, description="List every predicted row.")
    calibration: CalibrationProfile | None = Field(None, description=CALIBRATION_HELP)
