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
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

# The request bodies of memory, perf, simulate and validate are the application's options.
from llmplan.application.options import (
    CALIBRATION_HELP as CALIBRATION_HELP,
)
from llmplan.application.options import (
    MAX_GPUS as MAX_GPUS,
)
from llmplan.application.options import (
    MAX_SEQUENCES as MAX_SEQUENCES,
)
from llmplan.application.options import (
    MAX_TOKENS as MAX_TOKENS,
)
from llmplan.application.options import (
    ApiModel as ApiModel,
)
from llmplan.application.options import (
    DeploymentInput as DeploymentInput,
)
from llmplan.application.options import (
    MemoryRequest as MemoryRequest,
)
from llmplan.application.options import (
    PerfRequest as PerfRequest,
)
from llmplan.application.options import (
    SimulateRequest as SimulateRequest,
)
from llmplan.application.options import (
    ValidateRequest as ValidateRequest,
)
from llmplan.catalog.calibration_file import CalibrationProfile
from llmplan.domain.currency import Currency
from llmplan.limits import MAX_DATABASE_INT

SCENARIO_REF = {"$ref": "#/components/schemas/Scenario"}
#: In a field schema, the reference is wrapped so that pydantic does not try to resolve it.
SCENARIO_FIELD_SCHEMA = {
    "allOf": [SCENARIO_REF],
    "description": "A scenario (as in scenario files).",
}
ScenarioData = Annotated[dict[str, Any], WithJsonSchema(SCENARIO_FIELD_SCHEMA)]
#: Any JSON object (a payload documented with the endpoint).
Payload = dict[str, Any]


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
        default_factory=dict,
        description="Field path (workloads[0].slo.ttft_ms) -> new value; a list item by "
        "index (workloads[1]) is replaced whole.",
        max_length=200,
    )
    append: dict[str, Any] = Field(
        default_factory=dict,
        description="List field path (workloads, overrides.api_prices) -> item to append.",
        max_length=200,
    )
    remove: list[str] = Field(
        default_factory=list,
        description="Field paths or list items (workloads[1]) to delete. Applied after set "
        "and append.",
        max_length=200,
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


class RenameRequest(ApiModel):
    """A new name for a saved scenario (saved as a new version; the history keeps the old)."""

    name: str = Field(min_length=1, max_length=200, description="The scenario's new name.")
    expected_version: int | None = Field(
        None,
        ge=1,
        le=MAX_DATABASE_INT,
        description="The version you read (or If-Match); default: the current one.",
    )


class RestoreRequest(ApiModel):
    """Save an earlier version's content as the newest version."""

    version: int = Field(ge=1, le=MAX_DATABASE_INT, description="The version to restore.")
    expected_version: int | None = Field(
        None,
        ge=1,
        le=MAX_DATABASE_INT,
        description="The version you read (or If-Match); default: the current one.",
    )


class DiffKind(StrEnum):
    same = "same"
    added = "added"
    removed = "removed"


class DiffLineOut(ApiModel):
    """One line of a line diff; ``from_line``/``to_line`` count from 1 (None: not there)."""

    kind: DiffKind
    text: str
    from_line: int | None
    to_line: int | None


class ScenarioDiff(ApiModel):
    """The line diff between two saved versions' files (YAML as written)."""

    scenario_id: str
    from_version: int
    to_version: int
    added: int = Field(description="Lines only in to_version.")
    removed: int = Field(description="Lines only in from_version.")
    unified: str = Field(description="The diff in unified format (diff -u), 3 lines of context.")
    lines: list[DiffLineOut] = Field(description="Every line of both files, in order.")
