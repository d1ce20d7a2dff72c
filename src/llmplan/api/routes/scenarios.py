"""Saved scenarios: create, list, read, update, delete, duplicate, and every version.

Each save makes a new version; old versions stay readable. A scenario saved as text keeps
that text byte for byte (comments, integers, key order): the YAML export returns it. Reads answer
``ETag: "<version>"``; an update must say which version it replaces (``If-Match`` or
``expected_version``): if another save came first, the answer is 409 and nothing changes.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import PlainTextResponse

from llmplan.api.errors import ApiError
from llmplan.api.inputs import scenario_of, stored_form
from llmplan.api.schemas import (
    CheckedScenario,
    DuplicateRequest,
    ErrorBody,
    ScenarioInput,
    ScenarioList,
    ScenarioOut,
    ScenarioSummaryOut,
    ScenarioUpdate,
    VersionOut,
)
from llmplan.api.state import API_PREFIX, State
from llmplan.api.yamltext import set_fields
from llmplan.errors import LlmplanError
from llmplan.limits import MAX_DATABASE_INT
from llmplan.scenario import dump_scenario, scenario_from_data, scenario_to_data
from llmplan.store import ScenarioRecord

router = APIRouter(prefix=f"{API_PREFIX}/scenarios", tags=["scenarios"])
IfMatch = Annotated[
    str | None, Header(description='The version you read, as its ETag ("3"); * for any.')
]
Full = Annotated[bool, Query(description="Every field, defaults included.")]
NAME_LENGTH = 200
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody},
    409: {"model": ErrorBody},
    422: {"model": ErrorBody},
}


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str | None) -> int | None:
    """The version in an If-Match header (None for absent or ``*``)."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DATABASE_INT:
        raise ApiError(
            422, "invalid_input", f'If-Match must be a version like "3", got {value!r}', "If-Match"
        )
    return int(text)


def scenario_out(record: ScenarioRecord, full: bool = False) -> ScenarioOut:
    data = record.data
    if full:
        # saved by an older llmplan and no longer valid: shown as saved
        with contextlib.suppress(LlmplanError):
            data = scenario_to_data(scenario_from_data(data, "saved scenario"))
    return ScenarioOut(
        id=record.id,
        version=record.version,
        latest_version=record.latest_version,
        name=record.name,
        note=record.note,
        scenario=data,
        created_at=record.created_at,
        updated_at=record.updated_at,
        version_created_at=record.version_created_at,
        text=record.text,
    )


def _created(record: ScenarioRecord, response: Response) -> ScenarioOut:
    response.headers["Location"] = f"{router.prefix}/{record.id}"
    response.headers["ETag"] = etag(record.version)
    return scenario_out(record)


@router.post("", status_code=201, summary="Save a new scenario (version 1)", responses=ERRORS)
def create(body: ScenarioInput, state: State, response: Response) -> ScenarioOut:
    scenario = scenario_of(body.scenario, body.text, state.catalogs.catalog())
    record = state.store.create_scenario(
        scenario.name, stored_form(scenario), body.note, text=body.text
    )
    return _created(record, response)


@router.get("", summary="Saved scenarios, most recently updated first")
def list_scenarios(
    state: State,
    search: Annotated[str | None, Query(max_length=200, description="Name contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DATABASE_INT)] = 0,
) -> ScenarioList:
    found = state.store.list_scenarios(search, limit, offset)
    items = [
        ScenarioSummaryOut(
            id=s.id,
            name=s.name,
            version=s.version,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
        for s in found.items
    ]
    return ScenarioList(items=items, total=found.total, limit=limit, offset=offset)


@router.post(
    "/check",
    summary="Check a scenario without saving it; answers it with every default filled in",
    responses=ERRORS,
)
def check(body: ScenarioInput, state: State) -> CheckedScenario:
    scenario = scenario_of(body.scenario, body.text, state.catalogs.catalog())
    return CheckedScenario(scenario=scenario_to_data(scenario))


@router.get("/{scenario_id}", summary="A saved scenario (current version)", responses=ERRORS)
def read(
    scenario_id: str,
    state: State,
    response: Response,
    version: Annotated[int | None, Query(ge=1, le=MAX_DATABASE_INT)] = None,
    full: Full = False,
) -> ScenarioOut:
    record = state.store.get_scenario(scenario_id, version)
    response.headers["ETag"] = etag(record.version)
    return scenario_out(record, full)


@router.get("/{scenario_id}/versions", summary="Every saved version, newest first")
def versions(scenario_id: str, state: State) -> list[VersionOut]:
    return [
        VersionOut(version=v.version, name=v.name, note=v.note, created_at=v.created_at)
        for v in state.store.list_versions(scenario_id)
    ]


@router.get("/{scenario_id}/versions/{version}", summary="One saved version", responses=ERRORS)
def read_version(
    scenario_id: str,
    version: Annotated[int, Path(ge=1, le=MAX_DATABASE_INT)],
    state: State,
    full: Full = False,
) -> ScenarioOut:
    return scenario_out(state.store.get_scenario(scenario_id, version), full)


@router.get(
    "/{scenario_id}/yaml",
    summary="Export as a scenario file (YAML), for llmplan plan FILE",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}, 404: {"model": ErrorBody}},
)
def export_yaml(
    scenario_id: str,
    state: State,
    version: Annotated[int | None, Query(ge=1, le=MAX_DATABASE_INT)] = None,
) -> PlainTextResponse:
    record = state.store.get_scenario(scenario_id, version)
    if record.text is not None:
        text = record.text  # as the user wrote it, byte for byte
    else:
        scenario = scenario_from_data(record.data, f"saved scenario {scenario_id}")
        text = dump_scenario(scenario, full=False)
    filename = f"scenario-{scenario_id[:8]}-v{record.version}.yaml"
    return PlainTextResponse(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _expected(body: ScenarioUpdate, if_match: str | None) -> int | None:
    header = parse_if_match(if_match)
    if if_match is None and body.expected_version is None:
        raise ApiError(
            428,
            "version_required",
            'say which version you are replacing: If-Match: "<version>" or expected_version '
            "(If-Match: * overwrites whatever is current)",
            "expected_version",
        )
    if header is not None and body.expected_version not in (None, header):
        raise ApiError(
            422, "invalid_input", "If-Match and expected_version differ", "expected_version"
        )
    return header if if_match is not None else body.expected_version


@router.put(
    "/{scenario_id}",
    summary="Save a new version (If-Match or expected_version required)",
    responses=ERRORS | {428: {"model": ErrorBody}},
)
def update(
    scenario_id: str,
    body: ScenarioUpdate,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> ScenarioOut:
    expected = _expected(body, if_match)
    scenario = scenario_of(body.scenario, body.text, state.catalogs.catalog())
    record = state.store.update_scenario(
        scenario_id,
        scenario.name,
        stored_form(scenario),
        expected_version=expected,
        note=body.note,
        text=body.text,
    )
    response.headers["ETag"] = etag(record.version)
    return scenario_out(record)


@router.delete(
    "/{scenario_id}",
    status_code=204,
    summary="Delete a scenario, its history and its plan results",
    responses=ERRORS,
)
def remove(scenario_id: str, state: State, if_match: IfMatch = None) -> Response:
    state.store.delete_scenario(scenario_id, expected_version=parse_if_match(if_match))
    return Response(status_code=204)


@router.post(
    "/{scenario_id}/duplicate",
    status_code=201,
    summary="Copy a scenario (a version of it) as a new scenario",
    responses=ERRORS,
)
def duplicate(
    scenario_id: str, state: State, response: Response, body: DuplicateRequest | None = None
) -> ScenarioOut:
    request = body or DuplicateRequest()
    source = state.store.get_scenario(scenario_id, request.version)
    name = request.name or f"{source.name} (copy)"[:NAME_LENGTH]
    text = None if source.text is None else set_fields(source.text, {"name": name})
    scenario = scenario_of(source.data | {"name": name}, None, state.catalogs.catalog())
    note = f"copy of {scenario_id} version {source.version}"
    record = state.store.create_scenario(scenario.name, stored_form(scenario), note, text=text)
    return _created(record, response)
