"""``--disaggregate P:D`` in ``llmplan perf`` and ``simulate`` and the same fields in the
REST API: the JSON keys, one payload for both, bad input as one line / HTTP 422."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.cli.main import app as cli

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"
MODEL = ("--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100")
BODY = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"}


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return CliRunner()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """An app without job workers: bad input is refused before anything is queued."""
    made = TestClient(
        create_app(Settings(home=tmp_path, max_simulated_requests=5000)), base_url=LOCAL
    )
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def _json(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def _error(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_perf_json_names_the_pools_and_the_transfer(runner: CliRunner) -> None:
    payload = _json(runner, "perf", *MODEL, "--tp", "1", "--disaggregate", "2:6", "--offline")
    assert (payload["prefill_gpus"], payload["decode_gpus"], payload["num_gpus"]) == (2, 6, 8)
    assert (payload["prefill_replicas"], payload["decode_replicas"]) == (2, 6)
    assert payload["kv_transfer_ms"] > 0 and payload["kv_transfer_link"] == "nvlink"
    assert payload["binding_pool"] in ("prefill", "decode")
    assert payload["output_tokens_per_s_per_gpu"] == pytest.approx(
        payload["output_tokens_per_s"] / 8
    )
    aggregated = _json(runner, "perf", *MODEL, "--offline")
    assert "prefill_gpus" not in aggregated  # nothing changes without the flag


def test_api_perf_answers_what_the_cli_prints(runner: CliRunner, client: TestClient) -> None:
    args = ("--disaggregate", "8:8", "--kv-transfer-layerwise", "--concurrency", "64")
    expected = _json(runner, "perf", *MODEL, *args, "--input-tokens", "3000")
    body = BODY | {
        "disaggregate": "8:8",
        "kv_transfer_layerwise": True,
        "concurrency": 64,
        "input_tokens": 3000,
    }
    response = client.post("/api/v1/perf", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == expected
    assert expected["kv_transfer_link"] == "infiniband" and expected["kv_transfer_layerwise"]


def test_simulate_json_names_the_pools(runner: CliRunner) -> None:
    args = ("--disaggregate", "1:2", "--rate", "10", "--requests", "300")
    payload = _json(runner, "simulate", *MODEL, *args)
    assert (payload["prefill_gpus"], payload["decode_gpus"]) == (1, 2)
    assert payload["kv_transfer_ms"] > 0
    assert payload["result"]["requests"] == 300
    assert payload["result"]["replicas"] == 3
    closed = _json(runner, "simulate", *MODEL, "--disaggregate", "1:1", "--clients", "8",
                   "--requests", "200")  # fmt: skip
    assert closed["result"]["requests"] == 200 and closed["decode_gpus"] == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("perf", "--disaggregate", "8-8"), "disaggregate"),
        (("perf", "--disaggregate", "0:8"), "disaggregate"),
        (("perf", "--tp", "2", "--disaggregate", "3:4"), "disaggregate"),
        (("perf", "--kv-transfer-layerwise"), "kv_transfer_layerwise"),
        (("simulate", "--disaggregate", "1:1", "--rate", "2", "--replicas", "2"), "replicas"),
        (("simulate", "--disaggregate", "1:x", "--rate", "2"), "disaggregate"),
        (("simulate", "--disaggregate", "9000:9000", "--rate", "2"), "disaggregate"),
        (
            ("simulate", "--disaggregate", "1:1", "--find-max-rate", "--ttft-slo-ms", "100"),
            "find_max_rate",
        ),
    ],
)
def test_bad_cli_input_is_one_line_exit_2(
    runner: CliRunner, args: tuple[str, ...], field: str
) -> None:
    command, *rest = args
    line = _error(runner, command, *MODEL, *rest)
    assert line.startswith(f"error: {field}:"), line


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/perf", {"disaggregate": "8-8"}, "disaggregate"),
        ("/api/v1/perf", {"tp": 2, "disaggregate": "3:4"}, "disaggregate"),
        ("/api/v1/perf", {"kv_transfer_layerwise": True}, "kv_transfer_layerwise"),
        ("/api/v1/simulate", {"disaggregate": "2:", "rate": 1}, "disaggregate"),
        ("/api/v1/simulate", {"disaggregate": "1:1", "rate": 1, "replicas": 2}, "replicas"),
    ],
)
def test_bad_api_input_is_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    extra = {"requests": 100} if path.endswith("simulate") else {}
    response = client.post(path, json=BODY | extra | body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
