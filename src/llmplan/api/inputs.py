"""Scenarios from API requests: objects, YAML/JSON text, saved ids and bundled examples.

Error fields are paths in the request body (``scenario.workloads[0].slo.ttft_ms``), so a
client can point at the input at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from llmplan.api.schemas import PlanRequest
from llmplan.catalog.loader import Catalog
from llmplan.errors import InputError, LlmplanError
from llmplan.limits import check_monte_carlo_size
from llmplan.scenario import (
    Scenario,
    check_names,
    load_example,
    parse_scenario,
    scenario_from_data,
    scenario_to_data,
)
from llmplan.scenario.io import check_text_input
from llmplan.store import NotFoundError, Store


def prefixed(exc: LlmplanError, prefix: str) -> InputError:
    """``exc`` with its field (and the message's leading path) under ``prefix``; so are
    the fields of each of its ``details``."""
    if exc.details:
        details = tuple(_prefixed_one(field, text, prefix) for field, text in exc.details)
        message = "; ".join(text for _, text in details)
        return InputError(message, field=details[0][0], details=details)
    field, message = _prefixed_one(exc.field, exc.message, prefix)
    return InputError(message, field=field)


def _prefixed_one(field: str | None, message: str, prefix: str) -> tuple[str, str]:
    if field is None:
        return prefix, message
    if message.startswith(field):
        message = f"{prefix}.{message}"
    return f"{prefix}.{field}", message


def checked(scenario: Scenario, catalog: Catalog, prefix: str) -> Scenario:
    """``scenario`` once every catalog name in it resolves."""
    try:
        check_names(scenario, catalog)
    except LlmplanError as exc:
        raise prefixed(exc, prefix) from None
    return scenario


def refuse_aliases(text: str) -> None:
    """Refuse YAML aliases (``*name``): a few hundred bytes of nested aliases expand into
    billions of nodes, and reading them would hold the server for minutes."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AliasToken):
                raise InputError(
                    f"line {token.start_mark.line + 1}: YAML aliases (*name) are not accepted "
                    "here; write the values out"
                )
    except yaml.YAMLError:
        return  # malformed: parse_scenario says where


def scenario_of(data: dict[str, Any] | None, text: str | None, catalog: Catalog) -> Scenario:
    """The scenario given as an object or as text: validated, names checked."""
    if (data is None) == (text is None):
        raise InputError("give the scenario as an object or as text, not both", field="scenario")
    prefix = "text" if text is not None else "scenario"
    try:
        if text is not None:
            check_text_input(text, "text")  # size, depth, control characters: before scanning
            refuse_aliases(text)
            scenario = parse_scenario(text, "text")
        else:
            scenario = scenario_from_data(data, "scenario")
    except LlmplanError as exc:
        raise prefixed(exc, prefix) from None
    return checked(scenario, catalog, prefix)


def stored_form(scenario: Scenario) -> dict[str, Any]:
    """What the store keeps: the fields that differ from the defaults."""
    return scenario_to_data(scenario, full=False)


@dataclass(frozen=True)
class PlanTarget:
    """The scenario to plan, where it comes from (``field``) and whether to save the plan."""

    scenario: Scenario
    scenario_id: str | None
    scenario_version: int | None
    save: bool
    field: str = "scenario"


def _no_calibration_path(target: PlanTarget, request: PlanRequest) -> PlanTarget:
    """The API reads no file: a scenario naming a calibration file needs its content."""
    if target.scenario.calibration is not None and request.calibration is None:
        raise InputError(
            f"the scenario names the calibration file '{target.scenario.calibration}', which "
            "the API cannot read: send the profile's content as `calibration` in the request",
            field=f"{target.field}.calibration",
        )
    return target


def _given(request: PlanRequest) -> list[str]:
    sources = {
        "scenario": request.scenario,
        "text": request.text,
        "scenario_id": request.scenario_id,
        "example": request.example,
    }
    return [name for name, value in sources.items() if value is not None]


def _saved(request: PlanRequest, store: Store, catalog: Catalog) -> PlanTarget:
    assert request.scenario_id is not None
    try:
        record = store.get_scenario(request.scenario_id, request.scenario_version)
    except NotFoundError as exc:
        field = "scenario_version" if exc.kind == "version" else "scenario_id"
        raise InputError(f"no saved {exc.kind} '{exc.key}'", field=field) from None
    try:
        scenario = scenario_from_data(record.data, f"saved scenario {record.id}")
    except LlmplanError as exc:
        raise prefixed(exc, "scenario_id") from None
    scenario = checked(scenario, catalog, "scenario_id")
    save = request.save if request.save is not None else True
    return PlanTarget(scenario, record.id, record.version, save, "scenario_id")


def plan_target(
    request: PlanRequest, store: Store, catalog: Catalog, max_samples: int
) -> PlanTarget:
    """The scenario a plan request names, checked, and whether to save the result."""
    target = _plan_target(request, store, catalog, max_samples)
    check_monte_carlo_size(len(target.scenario.workloads), request.samples)
    return target


def _plan_target(
    request: PlanRequest, store: Store, catalog: Catalog, max_samples: int
) -> PlanTarget:
    given = _given(request)
    if len(given) != 1:
        listed = ", ".join(given) if given else "none"
        raise InputError(
            f"give exactly one of scenario, text, scenario_id, example (got {listed})",
            field="scenario",
        )
    if request.samples > max_samples:
        raise InputError(
            f"at most {max_samples:,} Monte Carlo draws per request, got {request.samples:,}",
            field="samples",
        )
    if request.scenario_version is not None and request.scenario_id is None:
        raise InputError("scenario_version needs scenario_id", field="scenario_version")
    if request.scenario_id is not None:
        return _no_calibration_path(_saved(request, store, catalog), request)
    if request.example is not None:
        scenario = checked(load_example(request.example), catalog, "example")
        target = PlanTarget(scenario, None, None, bool(request.save), "example")
    else:
        scenario = scenario_of(request.scenario, request.text, catalog)
        field = "text" if request.text is not None else "scenario"
        target = PlanTarget(scenario, None, None, bool(request.save), field)
    return _no_calibration_path(target, request)
