"""Issue 14, item 2: the command line and the REST API offer the same options.

Walks every CLI command's options (through the lazy group, so every command is loaded) and
the OpenAPI schema of the REST API, and fails on any option that exists on one side only
and is not in the commented allow-lists below. Option names compare as JSON keys do:
``--input-tokens`` is ``input_tokens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup

from llmplan.cli.main import app
from llmplan.report.paper import Paper

pytest.importorskip("fastapi")

#: CLI command -> the API operation answering the same question.
OPERATIONS: dict[str, tuple[str, str]] = {
    "memory": ("post", "/api/v1/memory"),
    "perf": ("post", "/api/v1/perf"),
    "simulate": ("post", "/api/v1/simulate"),
    "validate": ("post", "/api/v1/validate"),
    "plan": ("post", "/api/v1/plans"),
    "deploy": ("post", "/api/v1/deploy"),
    "gpus list": ("get", "/api/v1/catalog/gpus"),
    "gpus show": ("get", "/api/v1/catalog/gpus/{name}"),
    "models list": ("get", "/api/v1/catalog/models"),
    "models show": ("get", "/api/v1/catalog/models/{name}"),
    "engines list": ("get", "/api/v1/catalog/engines"),
    "precisions list": ("get", "/api/v1/catalog/precisions"),
    "prices list": ("get", "/api/v1/catalog/prices"),
}

#: Commands with no API operation, and why.
CLI_ONLY_COMMANDS = {
    "example": "prints a fixed example; the API's examples are GET /api/v1/examples",
    "calibrate": "writes a profile file; API clients send a profile as `calibration`",
    "bench": "drives a live server from this machine; not a planning question",
    "serve": "starts the API itself",
    "sweep": "runs many plans for minutes to hours on this machine or a Ray cluster and "
    "writes a table file; API clients post one plan per point",
    "models import": "writes the user's catalog folder on this machine",
    "prices import": "writes the user's price folder on this machine",
}

#: Options on every command that only make sense on a terminal.
CLI_ONLY_EVERYWHERE = {"json"}  # --json: the API always answers JSON

#: Options of one CLI command that cannot exist in the API, and why.
CLI_ONLY: dict[str, set[str]] = {
    # the API reads no files on the server: files become content (csv, calibration object)
    "validate": {
        "file",  # the CSV's path; the API takes its text as `csv`
        "report",  # an HTML file; the API serves reports of plans only
        "cv",  # cross-validation refits for minutes: not a request (see README)
        "workers",  # processes for --cv
    },
    "plan": {
        "report",  # an HTML, PDF or XLSX file; the API has GET /plans/{id}/report.html|pdf|xlsx
        "paper",  # of that report: the API's report routes take ?paper= (checked below)
    },
    "deploy": {
        "out",  # a folder on this machine; the API answers the files (or a zip)
    },
    "simulate": {
        "plot",  # an HTML file
        "trace",  # a trace file on this machine
        "input_lengths",  # a length file on this machine
        "output_lengths",  # a length file on this machine
        "scenario",  # a scenario file to take the workload from
        "workload",  # the workload of that scenario file
        "workers",  # processes for the rate search on this machine
    },
}

#: Options the API has and the CLI cannot, and why.
API_ONLY: dict[str, set[str]] = {
    "validate": {
        "csv",  # the CSV's text (the CLI's FILE argument)
        "include_rows",  # trims a large answer; --json on the CLI prints every row
    },
    "plan": {
        "text",  # the scenario as YAML text (the CLI reads a file)
        "scenario_id",  # a saved scenario (the store is the server's)
        "scenario_version",
        "save",  # keep the plan in the store
    },
    "deploy": {
        "text",  # the scenario as YAML text (the CLI reads a file)
        "scenario_id",  # a saved scenario (the store is the server's)
        "scenario_version",
        # the body is the plan request's; these do not change the design or its files
        "save",
        "samples",
        "seed",
        "currency",
    },
    # paging of long lists over HTTP; the CLI prints the whole list
    "gpus list": {"limit", "offset"},
    "models list": {"limit", "offset"},
    "engines list": {"limit", "offset"},
}


def _commands() -> dict[str, Any]:
    """Every leaf command of the CLI by its full name (``gpus list``)."""
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        if isinstance(command, TyperGroup):
            ctx = typer.Context(command)
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])
        else:
            found[" ".join(path)] = command

    walk(root, [])
    return found


def _cli_options(command: Any) -> set[str]:
    names = set()
    for param in command.params:
        long = [o for o in param.opts if o.startswith("--")]
        name = long[0][2:] if long else param.name
        names.add(name.replace("-", "_"))
    return names - CLI_ONLY_EVERYWHERE


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def _api_options(spec: dict[str, Any], method: str, path: str) -> set[str]:
    operation = spec["paths"][path][method]
    names = {p["name"] for p in operation.get("parameters", []) if p["in"] in ("query", "path")}
    names.discard("wait")  # how long the HTTP call waits for a job: no CLI meaning
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        names |= set(_resolve(spec, body["schema"]).get("properties", {}))
    return names


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from llmplan.api import Settings, create_app

    home: Path = tmp_path_factory.mktemp("home")
    spec: dict[str, Any] = create_app(Settings(home=home)).openapi()
    return spec


def test_every_command_is_mapped_or_explained() -> None:
    commands = set(_commands())
    assert commands == set(OPERATIONS) | set(CLI_ONLY_COMMANDS), commands ^ (
        set(OPERATIONS) | set(CLI_ONLY_COMMANDS)
    )


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_cli_and_api_offer_the_same_options(name: str, openapi: dict[str, Any]) -> None:
    cli = _cli_options(_commands()[name])
    api = _api_options(openapi, *OPERATIONS[name])
    assert cli - api == CLI_ONLY.get(name, set()), f"CLI only: {sorted(cli - api)}"
    assert api - cli == API_ONLY.get(name, set()), f"API only: {sorted(api - cli)}"


@pytest.mark.parametrize("path", ["/api/v1/memory", "/api/v1/perf", "/api/v1/validate"])
def test_computations_document_their_results(path: str, openapi: dict[str, Any]) -> None:
    """The answers have response models, so /openapi.json documents results too."""
    ok = openapi["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
    schema = _resolve(openapi, ok["schema"])
    assert schema.get("properties"), schema


def test_the_parity_check_sees_a_missing_option(openapi: dict[str, Any]) -> None:
    """The walk really reads the API: perf's body has the CLI's load options."""
    api = _api_options(openapi, *OPERATIONS["perf"])
    assert {"request_rate", "requests", "concurrency", "offline", "batch"} <= api


@pytest.mark.parametrize("kind", ["html", "pdf"])
@pytest.mark.parametrize("owner", ["plans/{plan_id}", "jobs/{job_id}"])
def test_report_routes_take_the_cli_paper_option(
    owner: str, kind: str, openapi: dict[str, Any]
) -> None:
    """``plan --paper`` is the report routes' ``paper`` query parameter, same values."""
    operation = openapi["paths"][f"/api/v1/{owner}/report.{kind}"]["get"]
    (param,) = [p for p in operation["parameters"] if p["name"] == "paper"]
    assert param["in"] == "query"
    assert set(_resolve(openapi, param["schema"])["enum"]) == {p.value for p in Paper}
