"""``llmplan perf`` and ``POST /api/v1/perf`` with prefix caching and speculative
decoding: the JSON keys, the same answer from both, one-line errors naming the field."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.api.app import create_app
from llmplan.api.settings import Settings
from llmplan.cli.main import app as cli

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

BASE = ["perf", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "H100", "--tp", "2",
        "--precision", "fp8", "--batch", "4"]  # fmt: skip
BODY = {"model": "meta-llama/Llama-3.1-70B", "gpu": "H100", "tp": 2, "precision": "fp8",
        "batch": 4}  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_json_keys_without_the_features(home: Path) -> None:
    payload = cli_json(*BASE)
    assert payload["prefix_hit"] == 0
    assert payload["spec_method"] == "none"
    assert payload["accepted_tokens_per_step"] == 1


def test_json_keys_with_the_features(home: Path) -> None:
    plain = cli_json(*BASE)
    payload = cli_json(*BASE, "--prefix-hit", "0.5", "--spec-method", "mtp")
    assert payload["prefix_hit"] == 0.5
    assert payload["spec_method"] == "mtp"
    assert payload["spec_tokens"] == 1 and payload["spec_acceptance"] == 0.85
    assert payload["accepted_tokens_per_step"] == pytest.approx(1.85)
    assert payload["ttft_ms"] < plain["ttft_ms"]
    assert payload["tpot_ms"] < plain["tpot_ms"]


def test_draft_method_names_its_default_draft(home: Path) -> None:
    payload = cli_json(*BASE, "--spec-method", "draft", "--spec-tokens", "4")
    assert payload["spec_draft_model"].startswith("meta-llama/Llama-3.2")
    assert payload["accepted_tokens_per_step"] == pytest.approx((1 - 0.7**5) / 0.3)


def test_api_answers_what_the_cli_prints(client: TestClient, home: Path) -> None:
    body = BODY | {"prefix_hit": 0.3, "spec_method": "eagle", "spec_acceptance": 0.6}
    response = client.post("/api/v1/perf", json=body)
    assert response.status_code == 200, response.text
    expected = cli_json(
        *BASE, "--prefix-hit", "0.3", "--spec-method", "eagle", "--spec-acceptance", "0.6"
    )
    assert response.json() == expected


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--prefix-hit", "1"], "prefix_hit"),
        (["--prefix-hit", "-0.2"], "prefix_hit"),
        (["--spec-method", "medusa"], "spec_method"),
        (["--spec-tokens", "3"], "spec_method"),
        (["--spec-method", "eagle", "--spec-tokens", "40"], "spec_tokens"),
        (["--spec-method", "eagle", "--spec-acceptance", "1.5"], "spec_acceptance"),
        (["--spec-method", "eagle", "--spec-draft-model", "meta-llama/Llama-3.2-1B"],
         "spec_draft_model"),
        (["--spec-method", "draft", "--spec-draft-model", "no-such-model"], "spec_draft_model"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_naming_the_field(
    home: Path, options: list[str], field: str
) -> None:
    result = CliRunner().invoke(cli, [*BASE, *options])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"prefix_hit": 1.0}, "prefix_hit"),
        ({"spec_method": "medusa"}, "spec_method"),
        ({"spec_tokens": 2}, "spec_method"),
        ({"spec_method": "mtp", "spec_acceptance": 2}, "spec_acceptance"),
        ({"spec_method": "mtp", "spec_tokens": -1}, "spec_tokens"),
        ({"spec_method": "ngram", "spec_draft_model": "meta-llama/Llama-3.2-1B"},
         "spec_draft_model"),
    ],
)  # fmt: skip
def test_api_errors_are_422_naming_the_field(
    client: TestClient, extra: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/perf", json=BODY | extra)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
