"""Plans as jobs (progress, result, cancel, time limit, full queue), saved plan results,
and ``llmplan serve`` itself on a real port.

The job tests share one app (its worker process takes a few seconds to start)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.cli.main import app as cli
from llmplan.cli.serve import serve_command

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

#: The Host the API answers to by default (TestClient sends "testserver" otherwise).
LOCAL = "http://localhost"

#: A plan that runs for several seconds in the worker (10,000 Monte Carlo draws).
LONG = {"example": "chat-assistant", "samples": 10_000}
QUICK = {"example": "small-team-consumer-gpus", "samples": 50, "seed": 3}
WAIT_S = 120


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("jobs")
    with TestClient(create_app(Settings(home=home)), base_url=LOCAL) as made:
        yield made


def finished(client: TestClient, job_id: str, timeout_s: float = WAIT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", params={"wait": 5}).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


def running(client: TestClient, job_id: str) -> dict[str, Any]:
    """The job once its worker has reported progress."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] != "queued" and (job["progress"] > 0 or job["status"] != "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never started")


def submit(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/plans", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/jobs/{response.json()['id']}"
    job: dict[str, Any] = response.json()
    return job


def cli_plan(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["plan", *args, "--json"])
    assert result.exit_code in (0, 2), result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_plan_job_gives_what_the_cli_prints(client: TestClient) -> None:
    job = finished(client, submit(client, QUICK)["id"])
    assert (job["status"], job["progress"], job["stage"]) == ("succeeded", 1.0, "done")
    assert job["plan_id"] is None  # an example is not saved unless asked
    expected = cli_plan("--example", "small-team-consumer-gpus", "--samples", "50", "--seed", "3")
    result = job["result"]
    for payload in (result, expected):
        payload.pop("search")  # timings
    assert result == expected
    listed = client.get("/api/v1/jobs").json()["items"]
    assert job["id"] in [j["id"] for j in listed]
    assert all(j["result"] is None for j in listed)


def test_plan_with_wait_answers_200_when_done(client: TestClient) -> None:
    response = client.post("/api/v1/plans", json=QUICK, params={"wait": 60})
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


def test_saved_scenario_plan_is_stored(client: TestClient) -> None:
    example = client.get("/api/v1/examples/small-team-consumer-gpus").json()["scenario"]
    sid = client.post("/api/v1/scenarios", json={"scenario": example}).json()["id"]
    job = finished(client, submit(client, {"scenario_id": sid, "samples": 20})["id"])
    assert job["status"] == "succeeded", job
    plan_id = job["plan_id"]
    saved = client.get(f"/api/v1/plans/{plan_id}").json()
    assert saved["payload"] == job["result"]
    assert (saved["scenario_id"], saved["scenario_version"], saved["samples"]) == (sid, 1, 20)
    recommended = job["result"]["recommended"]
    assert saved["recommended"] == (recommended and recommended["option"])
    listed = client.get("/api/v1/plans", params={"scenario_id": sid}).json()
    assert [p["id"] for p in listed["items"]] == [plan_id]
    assert "payload" not in listed["items"][0]
    assert client.delete(f"/api/v1/plans/{plan_id}").status_code == 204
    assert client.get(f"/api/v1/plans/{plan_id}").status_code == 404


def test_inline_scenario_saved_on_request(client: TestClient) -> None:
    example = client.get("/api/v1/examples/small-team-consumer-gpus").json()["scenario"]
    body = {"scenario": example, "samples": 0, "save": True}
    job = finished(client, submit(client, body)["id"])
    saved = client.get(f"/api/v1/plans/{job['plan_id']}").json()
    assert saved["scenario_id"] is None
    assert saved["scenario_name"] == example["name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "scenario"),
        ({"example": "chat-assistant", "text": "name: x"}, "scenario"),
        ({"example": "chat-assistant", "samples": 10_001}, "samples"),
        ({"example": "chat-assistant", "samples": -1}, "samples"),
        ({"example": "chat-assistan"}, "example"),
        ({"scenario_id": "nope"}, "scenario_id"),
        ({"example": "chat-assistant", "scenario_version": 2}, "scenario_version"),
        ({"scenario": {"name": "x", "workloads": [{"name": "a"}]}}, "scenario.workloads[0]"),
        ({"example": "chat-assistant", "seed": 2**40}, "seed"),
        ({"example": "chat-assistant", "scenario": None, "sample": 3}, "sample"),
    ],
)
def test_bad_plan_requests_queue_nothing(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    before = len(client.get("/api/v1/jobs").json()["items"])
    response = client.post("/api/v1/plans", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"].startswith(field)
    assert len(client.get("/api/v1/jobs").json()["items"]) == before


def test_scenario_naming_a_calibration_file_needs_its_content(client: TestClient) -> None:
    example = client.get("/api/v1/examples/small-team-consumer-gpus").json()["scenario"]
    body = {"scenario": example | {"calibration": "lab.yaml"}}
    error = client.post("/api/v1/plans", json=body).json()
    assert error["field"] == "scenario.calibration"
    assert "cannot read" in error["message"]


def test_running_job_reports_progress_and_can_be_cancelled(client: TestClient) -> None:
    job = running(client, submit(client, LONG)["id"])
    assert job["status"] == "running"
    assert 0 < job["progress"] < 1
    assert job["stage"]
    started = time.monotonic()
    cancelled = client.delete(f"/api/v1/jobs/{job['id']}").json()
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - started < 10
    assert cancelled["finished_at"] is not None
    again = client.delete(f"/api/v1/jobs/{job['id']}").json()
    assert again["status"] == "cancelled"
    # the worker was killed; a fresh one serves the next job
    assert finished(client, submit(client, QUICK)["id"])["status"] == "succeeded"


def test_queued_job_can_be_cancelled(client: TestClient) -> None:
    first = submit(client, LONG)
    second = submit(client, QUICK)
    cancelled = client.delete(f"/api/v1/jobs/{second['id']}").json()
    assert (cancelled["status"], cancelled["started_at"]) == ("cancelled", None)
    client.delete(f"/api/v1/jobs/{first['id']}")
    assert finished(client, first["id"])["status"] == "cancelled"


def test_unknown_job(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, "/api/v1/jobs/nope")
        assert response.status_code == 404
        assert "forgotten" in response.json()["message"]


def test_time_limit_and_full_queue(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, job_timeout_s=1.0, max_pending_jobs=1)
    with TestClient(create_app(settings), base_url=LOCAL) as limited:
        answers = [limited.post("/api/v1/plans", json=LONG) for _ in range(3)]
        busy = [a for a in answers if a.status_code == 503]
        assert busy, [a.status_code for a in answers]
        assert busy[0].json()["code"] == "busy"
        assert busy[0].headers["retry-after"] == "5"
        job = finished(limited, answers[0].json()["id"])
        assert job["status"] == "failed"
        assert job["error"]["code"] == "timeout"


# --- llmplan serve ---------------------------------------------------------------------------
def serve_app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)
    return app


def test_serve_reports_bad_settings_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    empty = tmp_path / "token"
    empty.write_text("\n")
    env = {"LLMPLAN_HOME": str(tmp_path)}
    result = runner.invoke(serve_app(), ["--token-file", str(empty)], env=env)
    assert result.exit_code == 2
    assert "token file is empty" in result.output
    refused = "postgresql://nobody@127.0.0.1:9/none"
    result = runner.invoke(serve_app(), ["--database-url", refused], env=env)
    assert result.exit_code == 2
    assert "cannot open the database" in result.output
    result = runner.invoke(serve_app(), ["--database-url", "not a url"], env=env)
    assert result.exit_code == 2
    assert "--database-url" in result.output
    assert "--token-file" in runner.invoke(serve_app(), ["--help"]).output


SERVE = "import typer; from llmplan.cli.serve import serve_command; typer.run(serve_command)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_runs_the_api_with_a_token(tmp_path: Path) -> None:
    port = _free_port()
    token = tmp_path / "token"
    token.write_text("letmein\n")
    env = os.environ | {"LLMPLAN_HOME": str(tmp_path / "home")}
    env.pop("LLMPLAN_DATABASE_URL", None)
    args = ["--port", str(port), "--token-file", str(token), "--log-level", "warning"]
    server = subprocess.Popen([sys.executable, "-c", SERVE, *args], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base, server)
        assert httpx.get(f"{base}/api/v1/catalog/gpus").status_code == 401
        auth = {"Authorization": "Bearer letmein"}
        assert httpx.get(f"{base}/api/v1/catalog/gpus", headers=auth).status_code == 200
        plan = httpx.post(
            f"{base}/api/v1/plans", json=QUICK, params={"wait": 60}, headers=auth, timeout=90
        )
        assert plan.json()["status"] == "succeeded"
        assert (tmp_path / "home" / "llmplan.db").is_file()
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C: a graceful stop
        assert server.wait(timeout=30) in (0, 130, -signal.SIGINT)


def _wait_for_health(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer /health")
