"""Request and response bodies of the API (pydantic).

Scenarios travel as the one scenario schema (``#/components/schemas/Scenario`` in the
OpenAPI document, :class:`llmplan.scenario.Scenario`): the API checks them with
:func:`llmplan.scenario.scenario_from_data`, so an API client gets the same messages as a
scenario file (``scenario.workloads[0].slo.ttft_ms: must be > 0``). Memory, perf and
validate take the options of ``llmplan memory|perf|validate`` and answer what their
``--json`` prints; plan results are the payload of ``llmplan plan --json``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from llmplan.catalog.calibration_file import CalibrationProfile
from llmplan.cost.currency import Currency
from llmplan.limits import MAX_DATABASE_INT
from llmplan.perf.speculative import MAX_SPEC_TOKENS
from llmplan.sim.cluster import Router
from llmplan.sizing.finetune import FinetuneMethod

SCENARIO_REF = {"$ref": "#/components/schemas/Scenario"}
#: In a field schema, the reference is wrapped so that pydantic does not try to resolve it.
SCENARIO_FIELD_SCHEMA = {
    "allOf": [SCENARIO_REF],
    "description": "A scenario (as in scenario files).",
}
ScenarioData = Annotated[dict[str, Any], WithJsonSchema(SCENARIO_FIELD_SCHEMA)]
#: Any JSON object (a payload documented with the endpoint).
Payload = dict[str, Any]
MAX_TOKENS = 100_000_000
MAX_SEQUENCES = 10_000_000
MAX_GPUS = 1024
CALIBRATION_HELP = (
    "A calibration profile (what `llmplan calibrate` writes, as an object): its engine "
    "profiles replace the bundled ones, as --calibration does. Default: the bundled profiles."
)


class ApiModel(BaseModel):
    """Unknown keys are errors (with the closest allowed name), as in scenario files."""

    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------
class FieldError(ApiModel):
    field: str | None = Field(description="Dotted path of the input at fault, if any.")
    message: str


class ErrorBody(ApiModel):
    """Every error answer: a machine code, one line for people, and the field at fault."""

    code: str = Field(description="invalid_input, not_found, version_conflict, ...")
    message: str
    field: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    current_version: int | None = Field(None, description="On version_conflict.")


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
        None, gt=0, le=1e9, allow_inf_nan=False, description="Poisson arrivals, requests/s."
    )
    concurrency: int | None = Field(None, ge=1, le=MAX_SEQUENCES, description="Closed loop.")


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


# --- scenarios -----------------------------------------------------------------------------
class ScenarioInput(ApiModel):
    """A scenario as an object (``scenario``) or as YAML/JSON text (``text``)."""

    scenario: ScenarioData | None = None
    text: str | None = Field(None, description="A scenario file's content (YAML or JSON).")
    note: str = Field("", max_length=500, description="What changed (kept in the history).")


class YamlEdit(ApiModel):
    """Fields to change in a scenario file's text; everything else stays as written."""

    text: str = Field(description="The scenario file's content (YAML).")
    set: dict[str, Any] = Field(
        description="Field path (workloads[0].slo.ttft_ms) -> new value.", max_length=200
    )


class ScenarioUpdate(ScenarioInput):
    expected_version: int | None = Field(
        None,
        ge=1,
        le=MAX_DATABASE_INT,
        description="The version you read (or send it as If-Match).",
    )


class DuplicateRequest(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200, description="Default: copy.")
    version: int | None = Field(
        None, ge=1, le=MAX_DATABASE_INT, description="Version to copy (default: current)."
    )


class ScenarioOut(ApiModel):
    id: str
    version: int
    latest_version: int
    name: str
    note: str
    scenario: ScenarioData
    created_at: datetime
    updated_at: datetime
    version_created_at: datetime
    text: str | None = Field(
        None, description="The file as saved (comments kept); null when saved as an object."
    )


class ScenarioSummaryOut(ApiModel):
    id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


class ScenarioList(ApiModel):
    items: list[ScenarioSummaryOut]
    total: int
    limit: int
    offset: int


class VersionOut(ApiModel):
    version: int
    name: str
    note: str
    created_at: datetime


class CheckedScenario(ApiModel):
    """A valid scenario with every field, defaults included."""

    scenario: ScenarioData
    text: str | None = Field(None, description="The file as written (bundled examples).")


class ExampleOut(ApiModel):
    name: str
    title: str


# --- plans and jobs ------------------------------------------------------------------------
class PlanRequest(ApiModel):
    """What ``llmplan plan`` takes: one of a scenario object, its text, a saved scenario
    (``scenario_id``, optionally ``scenario_version``) or a bundled ``example``."""

    scenario: ScenarioData | None = None
    text: str | None = Field(None, description="A scenario file's content (YAML or JSON).")
    scenario_id: str | None = None
    scenario_version: int | None = Field(None, ge=1, le=MAX_DATABASE_INT)
    example: str | None = Field(None, description="GET /api/v1/examples lists them.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Monte Carlo seed.")
    samples: int = Field(300, ge=0, description="Monte Carlo draws (0: none).")
    currency: Currency | None = Field(
        None, description="Report in this currency (replaces the scenario's finance.currency)."
    )
    save: bool | None = Field(
        None, description="Save the result (default: yes for a saved scenario, else no)."
    )
    calibration: CalibrationProfile | None = Field(
        None,
        description=CALIBRATION_HELP + " Needed when the scenario names a calibration file: "
        "the API reads no file paths.",
    )


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobOut(ApiModel):
    id: str
    kind: str
    status: JobStatus
    progress: float = Field(ge=0, le=1)
    stage: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: ErrorBody | None = None
    plan_id: str | None = Field(None, description="The saved plan result, if saved.")
    result: Payload | None = Field(
        None, description="Once succeeded: the plan payload, or the simulation (kind simulate)."
    )


class JobList(ApiModel):
    items: list[JobOut]


class PlanSummaryOut(ApiModel):
    id: str
    scenario_id: str | None
    scenario_version: int | None
    scenario_name: str
    seed: int
    samples: int
    recommended: str | None
    npv_usd: float | None
    created_at: datetime


class PlanOut(PlanSummaryOut):
    payload: Payload


class PlanList(ApiModel):
    items: list[PlanSummaryOut]
    total: int
    limit: int
    offset: int


class Health(ApiModel):
    status: str
    version: str
    database: str


class CatalogPage(ApiModel):
    """Catalog entries as ``llmplan ... list --json`` prints them (with sources)."""

    items: list[Payload]
    total: int
    limit: int
    offset: int
