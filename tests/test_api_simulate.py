"""``POST /api/v1/simulate``: checked at once (422 naming the field, nothing queued), run as
a job (progress, cancel) whose result is what ``llmplan simulate --json`` prints.

The job tests share one app (its worker process takes a few seconds to start)."""

from __future__ import annotations

import json
import time
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

#: The Host the API answers to by default (TestClient sends "testserver" otherwise).
LOCAL = "http://localhost"

BASE = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"}
WAIT = {"wait": 60}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(home=tmp_path_factory.mktemp("sim"))), base_url=LOCAL
    ) as made:
        yield made


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """An app without job workers: bad input is refused before anything is queued."""
    made = TestClient(
        create_app(Settings(home=tmp_path, max_simulated_requests=5000)), base_url=LOCAL
    )
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def cli_simulate(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["simulate", *BASE_ARGS, *args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


BASE_ARGS = ("--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100")


def simulated(jobs: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = jobs.post("/api/v1/simulate", json=BASE | body, params=WAIT)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    assert (job["kind"], job["status"], job["progress"]) == ("simulate", "succeeded", 1.0), job
    assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
    return job


def test_simulation_answers_what_the_cli_prints(jobs: TestClient) -> None:
    body = {
        "rate": 6, "cv": 2, "requests": 1500, "seed": 7, "input_tokens": 900,
        "input_p95": 2500, "output_tokens": 200, "output_p95": 600, "replicas": 2,
        "router": "least-outstanding", "ttft_slo_ms": 500, "tpot_slo_ms": 50, "percentile": 90,
    }  # fmt: skip
    job = simulated(jobs, body)
    expected = cli_simulate(
        *("--rate", "6", "--cv", "2", "--requests", "1500", "--seed", "7"),
        *("--input-tokens", "900", "--input-p95", "2500"),
        *("--output-tokens", "200", "--output-p95", "600"),
        *("--replicas", "2", "--router", "least-outstanding"),
        *("--ttft-slo-ms", "500", "--tpot-slo-ms", "50", "--percentile", "90"),
    )
    assert job["result"] == expected
    series = job["result"]["result"]["series"]
    assert len(series["time_s"]) == len(series["queue"]) == len(series["kv_utilisation"]) > 1


def test_max_rate_search_and_closed_loop_match_the_cli(jobs: TestClient) -> None:
    search = simulated(
        jobs, {"find_max_rate": True, "requests": 400, "tpot_slo_ms": 40, "seed": 2}
    )["result"]
    expected = cli_simulate(
        "--find-max-rate", "--requests", "400", "--tpot-slo-ms", "40", "--seed", "2"
    )
    assert search == expected
    assert search["max_rate_per_s"] > 0 and search["search_trials"] > 1
    closed = simulated(jobs, {"clients": 12, "think_time_s": 2, "requests": 500})["result"]
    assert closed == cli_simulate("--clients", "12", "--think-time-s", "2", "--requests", "500")


def test_hourly_rates_match_the_cli(jobs: TestClient) -> None:
    rates = [0.5] * 8 + [4.0] * 10 + [1.0] * 6
    job = simulated(jobs, {"hourly_rates": rates, "requests": 800, "seed": 1})
    expected = cli_simulate(
        "--hourly-rates", ",".join(f"{r:g}" for r in rates), "--requests", "800", "--seed", "1"
    )
    assert job["result"] == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "no-such-model", "rate": 1}, "model"),
        ({"gpu": "no-such-gpu", "rate": 1}, "gpu"),
        ({}, "arrivals"),
        ({"rate": 1, "clients": 3}, "arrivals"),
        ({"rate": 0}, "rate"),
        ({"rate": 1, "requests": 5001}, "requests"),
        ({"rate": 1, "requests": 0}, "requests"),
        ({"hourly_rates": [1, 2]}, "hourly_rates"),
        ({"clients": 2, "cv": 2}, "cv"),
        ({"rate": 1, "input_tokens": 1000, "input_p95": 10}, "input_p95"),
        ({"rate": 1, "ttft_slo_ms": -1}, "ttft_slo_ms"),
        ({"rate": 1, "percentile": 100}, "percentile"),
        ({"find_max_rate": True}, "ttft_slo_ms"),
        ({"rate": 1, "router": "random"}, "router"),
        ({"rate": 1, "replicas": 0}, "replicas"),
        ({"rate": 1, "tp": 2, "num_gpus": 4}, "num_gpus"),
        ({"rate": 1, "trace": "a.csv"}, "trace"),
        ({"model": "meta-llama/Llama-3.1-70B", "rate": 1, "gpu": "L4"}, None),
    ],
)
def test_bad_simulation_input_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str | None
) -> None:
    response = client.post("/api/v1/simulate", json=BASE | {"requests": 100} | body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert set(error) >= {"code", "message", "field"}
    if field is not None:
        assert error["field"] == field, error
    assert client.get("/api/v1/jobs").json()["items"] == []  # nothing queued


def test_running_simulation_reports_progress_and_can_be_cancelled(jobs: TestClient) -> None:
    body = BASE | {"rate": 40, "requests": 200_000, "replicas": 4}
    job = jobs.post("/api/v1/simulate", json=body).json()
    assert job["status"] == "queued"
    deadline = time.monotonic() + 60
    while job["status"] == "queued" or job["progress"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        job = jobs.get(f"/api/v1/jobs/{job['id']}").json()
    assert job["status"] == "running" and 0 < job["progress"] < 1 and "simulating" in job["stage"]
    cancelled = jobs.delete(f"/api/v1/jobs/{job['id']}").json()
    assert cancelled["status"] == "cancelled"
    assert jobs.get(f"/api/v1/jobs/{job['id']}/report.html").status_code == 409
    # a fresh worker serves the next job
    assert simulated(jobs, {"rate": 2, "requests": 100})["result"]["result"]["requests"] == 100


def test_simulation_job_has_no_plan_report(jobs: TestClient) -> None:
    job = simulated(jobs, {"rate": 2, "requests": 50})
    for ext in ("html", "xlsx", "pdf"):
        response = jobs.get(f"/api/v1/jobs/{job['id']}/report.{ext}")
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "no_result"
