"""A saved scenario's history: the line diff between two versions, restoring a version,
and renaming. Restore and rename save a new version (nothing in the history is rewritten),
so they are undone by restoring the version before them.

The diff compares the versions' files as written (a version saved as an object is compared
as its YAML export). Unknown scenarios and versions are 404; a stale ``expected_version``
(or ``If-Match``) is 409, as for any update.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query, Response

from llmplan.api.errors import ApiError
from llmplan.api.inputs import scenario_of, stored_form
from llmplan.api.routes.scenarios import ERRORS, IfMatch, etag, parse_if_match, scenario_out
from llmplan.api.schemas import (
    DiffKind,
    DiffLineOut,
    RenameRequest,
    RestoreRequest,
    ScenarioDiff,
    ScenarioOut,
)
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.api.textdiff import line_diff, unified
from llmplan.api.yamltext import set_fields
from llmplan.limits import MAX_DATABASE_INT
from llmplan.scenario import dump_scenario, scenario_from_data
from llmplan.store import ScenarioRecord

router = APIRouter(prefix=f"{API_PREFIX}/scenarios", tags=["scenarios"])


def version_text(record: ScenarioRecord) -> str:
    """A version's file: as written, or its YAML export when it was saved as an object."""
    if record.text is not None:
        return record.text
    scenario = scenario_from_data(record.data, f"saved scenario {record.id}")
    return dump_scenario(scenario, full=False)


@router.get(
    "/{scenario_id}/diff",
    summary="Line diff between two versions (default: the current one and the one before)",
    responses=ERRORS,
)
def diff(
    scenario_id: str,
    state: State,
    from_version: Annotated[int | None, Query(alias="from", ge=1, le=MAX_DATABASE_INT)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1, le=MAX_DATABASE_INT)] = None,
) -> ScenarioDiff:
    new = state.store.get_scenario(scenario_id, to_version)
    old = state.store.get_scenario(scenario_id, from_version or max(1, new.version - 1))
    before, after = version_text(old), version_text(new)
    lines = [
        DiffLineOut(kind=DiffKind(x.kind), text=x.text, from_line=x.from_line, to_line=x.to_line)
        for x in line_diff(before, after)
    ]
    return ScenarioDiff(
        scenario_id=scenario_id,
        from_version=old.version,
        to_version=new.version,
        added=sum(x.kind == DiffKind.added for x in lines),
        removed=sum(x.kind == DiffKind.removed for x in lines),
        unified=unified(before, after, f"version {old.version}", f"version {new.version}"),
        lines=lines,
    )


def _expected(body_version: int | None, if_match: str | None, current: int) -> int:
    """The version a write replaces: If-Match, else the body's, else the one just read."""
    header = parse_if_match(if_match)
    if header is not None and body_version not in (None, header):
        raise ApiError(
            422, "invalid_input", "If-Match and expected_version differ", "expected_version"
        )
    return header or body_version or current


def _save(
    state: AppState, record: ScenarioRecord, text: str | None, expected: int, note: str
) -> ScenarioRecord:
    """Save ``text`` (or ``record.data`` when None) as the scenario's newest version."""
    scenario = scenario_of(
        None if text is not None else record.data, text, state.catalogs.catalog()
    )
    return state.store.update_scenario(
        record.id,
        scenario.name,
        stored_form(scenario),
        expected_version=expected,
        note=note,
        text=text,
    )


@router.post(
    "/{scenario_id}/restore",
    summary="Save an earlier version's content as the newest version",
    responses=ERRORS,
)
def restore(
    scenario_id: str,
    body: RestoreRequest,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> ScenarioOut:
    current = state.store.get_scenario(scenario_id)
    source = state.store.get_scenario(scenario_id, body.version)
    expected = _expected(body.expected_version, if_match, current.version)
    note = f"restored version {source.version}"
    record = _save(state, source, source.text, expected, note)
    response.headers["ETag"] = etag(record.version)
    return scenario_out(record)


@router.post(
    "/{scenario_id}/rename",
    summary="Rename a scenario (saved as a new version; the file's name field is changed)",
    responses=ERRORS,
)
def rename(
    scenario_id: str,
    body: RenameRequest,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> ScenarioOut:
    current = state.store.get_scenario(scenario_id)
    expected = _expected(body.expected_version, if_match, current.version)
    text = None if current.text is None else set_fields(current.text, {"name": body.name})
    renamed = current if text is not None else _with_name(current, body.name)
    note = f"renamed from {current.name}"
    record = _save(state, renamed, text, expected, note)
    response.headers["ETag"] = etag(record.version)
    return scenario_out(record)


def _with_name(record: ScenarioRecord, name: str) -> ScenarioRecord:
    return replace(record, data=record.data | {"name": name})
