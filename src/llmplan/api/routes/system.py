"""Health, the bundled example scenarios and the scenario schema."""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from llmplan.api.errors import ApiError
from llmplan.api.schemas import SCENARIO_REF, CheckedScenario, ExampleOut, Health
from llmplan.api.state import API_PREFIX, State
from llmplan.errors import UnknownNameError
from llmplan.scenario import bundled_examples, load_example, scenario_to_data

router = APIRouter()


@functools.cache
def _version() -> str:
    try:
        return metadata.version("llmplan")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@router.get("/health", tags=["system"], summary="Is the server up (no token needed)")
def health(state: State) -> Health:
    try:
        with state.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # report, do not fail: the process itself is up
        database = f"unavailable ({type(exc).__name__})"
    return Health(status="ok", version=_version(), database=database)


@router.get(f"{API_PREFIX}/examples", tags=["scenarios"], summary="Bundled example scenarios")
def examples() -> list[ExampleOut]:
    return [ExampleOut(name=n, title=load_example(n).name) for n in bundled_examples()]


@router.get(
    f"{API_PREFIX}/examples/{{name}}",
    tags=["scenarios"],
    summary="One bundled example, every field, and its file as written (text)",
)
def example(name: str) -> CheckedScenario:
    try:
        scenario = scenario_to_data(load_example(name))
    except UnknownNameError as exc:
        raise ApiError(404, "not_found", str(exc), exc.field) from None
    text = bundled_examples()[name].read_text(encoding="utf-8")
    return CheckedScenario(scenario=scenario, text=text)


@router.get(
    f"{API_PREFIX}/schema/scenario",
    tags=["scenarios"],
    summary="JSON Schema of a scenario (field descriptions and defaults, for forms)",
)
def scenario_schema() -> dict[str, Any]:
    from llmplan.scenario import Scenario

    schema = Scenario.model_json_schema()
    schema["$comment"] = f"Also in /openapi.json as {SCENARIO_REF['$ref']}"
    return schema
