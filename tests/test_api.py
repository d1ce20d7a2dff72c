"""The REST API's quick endpoints: memory, perf, validate, catalogs, errors, docs, auth, limits.

Each answer is compared with what the CLI prints for the same options (``--json``), so the
API and the CLI cannot drift apart. Saved scenarios: ``test_api_scenarios.py``; plans and
jobs: ``test_api_jobs.py``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.api import Settings, create_app, read_token_file
from llmplan.cli.main import app as cli
from llmplan.errors import InputError
from llmplan.validation.dataset import bundled_measurements_path

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

#: The Host the API answers to by default (TestClient sends "testserver" otherwise).
LOCAL = "http://localhost"

MEMORY = {
    "model": "meta-llama/Llama-3.1-70B",
    "gpu": "H100",
    "tp": 2,
    "precision": "fp8",
    "context": 8192,
    "batch": 16,
}
PERF = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"}


def make_client(home: Path, **settings: Any) -> TestClient:
    """A client of a fresh app (no lifespan: no job workers are started)."""
    return TestClient(create_app(Settings(home=home, **settings)), base_url=LOCAL)


def close(client: TestClient) -> None:
    client.app.state.llmplan.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = make_client(tmp_path)
    yield made
    close(made)


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_of(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message", "field"}
    return body


# --- memory and perf, as the CLI ---------------------------------------------------------------
def test_memory_answers_what_the_cli_prints(client: TestClient) -> None:
    response = client.post("/api/v1/memory", json=MEMORY)
    assert response.status_code == 200
    expected = cli_json(
        "memory",
        *("--model", "meta-llama/Llama-3.1-70B", "--gpu", "H100", "--tp", "2"),
        *("--precision", "fp8", "--context", "8192", "--batch", "16"),
    )
    assert response.json() == expected


def test_memory_without_gpu_and_for_finetuning(client: TestClient) -> None:
    totals = client.post("/api/v1/memory", json={"model": "meta-llama/Llama-3.1-8B"}).json()
    assert totals == cli_json("memory", "--model", "meta-llama/Llama-3.1-8B")
    assert "fits" not in totals
    body = {"model": "meta-llama/Llama-3.1-8B", "gpu": "A100-80GB", "finetune": "qlora"}
    finetune = client.post("/api/v1/memory", json=body).json()
    assert finetune == cli_json(
        "memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "A100-80GB", "--finetune", "qlora"
    )


@pytest.mark.parametrize(
    ("load", "options"),
    [
        ({}, []),
        ({"batch": 8}, ["--batch", "8"]),
        ({"offline": True}, ["--offline"]),
        ({"request_rate": 4.0}, ["--request-rate", "4"]),
        ({"concurrency": 16}, ["--concurrency", "16"]),
    ],
)
def test_perf_answers_what_the_cli_prints(
    client: TestClient, load: dict[str, Any], options: list[str]
) -> None:
    body = {"model": "Qwen/Qwen3-30B-A3B", "gpu": "L40S", "tp": 2, "precision": "fp8"} | load
    response = client.post("/api/v1/perf", json=body)
    assert response.status_code == 200, response.text
    expected = cli_json(
        "perf",
        *("--model", "Qwen/Qwen3-30B-A3B", "--gpu", "L40S", "--tp", "2", "--precision", "fp8"),
        *options,
    )
    assert response.json() == expected


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("memory", {"model": "meta-llama/Llama-3.1-8Bx"}, "model", "did you mean"),
        ("memory", MEMORY | {"tpp": 2}, "tpp", "did you mean 'tp'"),
        ("memory", MEMORY | {"tp": 3}, "tp", "does not divide"),
        ("memory", MEMORY | {"context": -5}, "context", "greater than or equal to 1"),
        ("memory", MEMORY | {"batch": "many"}, "batch", "valid integer"),
        ("memory", MEMORY | {"num_gpus": 4}, "num_gpus", "tp x pp"),
        ("memory", MEMORY | {"context": 10_000_000}, "context", "context window"),
        ("memory", MEMORY | {"gpu": "A100-80GB", "precision": "nvfp4"}, "precision", "lacks"),
        ("memory", {"gpu": "H100"}, "model", "required"),
        ("memory", MEMORY | {"finetune": "partial"}, "finetune", "full"),
        ("perf", {"model": "meta-llama/Llama-3.1-8B"}, "gpu", "required"),
        ("perf", PERF | {"batch": 2, "offline": True}, "load", "only one of"),
        ("perf", PERF | {"gpu": "H1000"}, "gpu", "unknown gpu"),
        ("perf", PERF | {"request_rate": 0}, "request_rate", "greater than 0"),
        ("perf", PERF | {"input_tokens": 200_000}, "input_tokens", "context window"),
        ("perf", PERF | {"context": 10}, "context", "unknown field"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    error = error_of(client.post(f"/api/v1/{path}", json=body))
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert error["message"].startswith(field)
    assert words.lower() in error["message"].lower()


def test_malformed_json_and_wrong_body_type(client: TestClient) -> None:
    broken = client.post(
        "/api/v1/memory", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    assert "malformed JSON" in error_of(broken)["message"]
    listed = client.post("/api/v1/memory", json=[1, 2])
    assert error_of(listed)["code"] == "invalid_input"


# --- validate ------------------------------------------------------------------------------
def _dev_csv(rows: int) -> str:
    lines = bundled_measurements_path().read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[: rows + 1]) + "\n"


def test_validate_default_set_matches_the_cli(client: TestClient) -> None:
    response = client.post("/api/v1/validate", json={})
    assert response.status_code == 200
    body = response.json()
    expected = cli_json("validate")
    assert body["summary"] == expected["summary"]
    assert body["rows"] == expected["rows"]
    assert body["breakdown"]["by"] == "engine"
    assert "vllm" in body["breakdown"]["groups"]


def test_validate_a_csv_body(client: TestClient) -> None:
    response = client.post(
        "/api/v1/validate", json={"csv": _dev_csv(30), "by": "gpu", "include_rows": False}
    )
    assert response.status_code == 200
    body = response.json()
    assert "rows" not in body
    assert body["summary"]["rows"] == 30
    assert body["breakdown"]["by"] == "gpu"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"csv": "a,b\n1,2\n"}, "csv"),
        ({"csv": _dev_csv(3).replace(",", ";")}, "csv"),
        ({"by": "colour"}, "by"),
        ({"csv": _dev_csv(0)}, "csv"),
    ],
)
def test_validate_bad_input(client: TestClient, body: dict[str, Any], field: str) -> None:
    assert error_of(client.post("/api/v1/validate", json=body))["field"] == field


def test_validate_rows_are_capped(tmp_path: Path) -> None:
    capped = make_client(tmp_path, max_measurement_rows=5)
    error = error_of(capped.post("/api/v1/validate", json={"csv": _dev_csv(6)}))
    assert error["field"] == "csv"
    assert "at most 5" in error["message"]
    assert capped.post("/api/v1/validate", json={"csv": _dev_csv(5)}).status_code == 200
    close(capped)


# --- catalogs ------------------------------------------------------------------------------
def test_gpu_catalog_search_paging_and_one(client: TestClient) -> None:
    everything = client.get("/api/v1/catalog/gpus").json()
    assert everything["total"] == len(everything["items"]) > 20
    found = client.get("/api/v1/catalog/gpus", params={"search": "h100"}).json()
    assert found["total"] >= 2
    assert all("H100" in g["id"] for g in found["items"])
    assert found["items"] == cli_json("gpus", "list", "--search", "h100")
    paged = client.get("/api/v1/catalog/gpus", params={"limit": 2, "offset": 1}).json()
    assert paged["items"] == everything["items"][1:3]
    one = client.get("/api/v1/catalog/gpus/h100")
    assert one.status_code == 200
    assert one.json() == cli_json("gpus", "show", "h100")
    missing = error_of(client.get("/api/v1/catalog/gpus/H1000"), 404)
    assert missing["code"] == "not_found"
    assert "H100" in missing["message"]


def test_model_engine_and_precision_catalogs(client: TestClient) -> None:
    models = client.get("/api/v1/catalog/models", params={"search": "qwen3"}).json()
    assert models["total"] >= 1
    assert all("qwen3" in m["id"].lower() or m["aliases"] for m in models["items"])
    one = client.get("/api/v1/catalog/models/meta-llama/Llama-3.1-8B").json()
    assert one == cli_json("models", "show", "meta-llama/Llama-3.1-8B")
    assert error_of(client.get("/api/v1/catalog/models/nobody/nothing"), 404)["field"] == "model"
    engines = client.get("/api/v1/catalog/engines").json()
    assert engines["items"] == cli_json("engines", "list")
    assert client.get("/api/v1/catalog/engines/vllm").json()["id"] == "vllm"
    assert client.get("/api/v1/catalog/engines/nope").status_code == 404
    precisions = client.get("/api/v1/catalog/precisions").json()
    assert precisions == cli_json("precisions", "list")
    fp8 = client.get("/api/v1/catalog/precisions", params={"search": "fp8"}).json()
    assert fp8["weight_formats"] and all("fp8" in w["id"] for w in fp8["weight_formats"])


def test_price_catalog_filters(client: TestClient) -> None:
    everything = client.get("/api/v1/catalog/prices").json()
    assert everything == cli_json("prices", "list")
    assert set(everything) == {"hardware", "cloud", "api"}
    api = client.get("/api/v1/catalog/prices", params={"kind": "api"}).json()
    assert list(api) == ["api"]
    h100 = client.get("/api/v1/catalog/prices", params={"gpu": "H100"}).json()
    assert set(h100) == {"hardware", "cloud"}
    assert all(p["gpu"] == "H100-SXM-80GB" for p in h100["cloud"])
    spot = client.get("/api/v1/catalog/prices", params={"pricing": "spot", "limit": 3}).json()
    assert list(spot) == ["cloud"] and len(spot["cloud"]) <= 3
    assert all(p["pricing"] == "spot" for p in spot["cloud"])
    bad = client.get("/api/v1/catalog/prices", params={"kind": "api", "gpu": "H100"})
    assert error_of(bad)["field"] == "gpu"
    assert (
        error_of(client.get("/api/v1/catalog/prices", params={"kind": "gold"}))["field"] == "kind"
    )


def test_user_models_appear_without_a_restart(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/api/v1/catalog/models/my-org/tiny").status_code == 404
    base = client.get("/api/v1/catalog/models/meta-llama/Llama-3.1-8B").json()
    spec = {k: v for k, v in base.items() if not k.startswith("counted_")}
    spec |= {"id": "my-org/tiny", "aliases": []}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny.yaml").write_text(json.dumps({"models": [spec]}))
    assert client.get("/api/v1/catalog/models/my-org/tiny").status_code == 200


# --- examples, schema, docs ----------------------------------------------------------------
def test_examples_and_scenario_schema(client: TestClient) -> None:
    examples = client.get("/api/v1/examples").json()
    names = {e["name"] for e in examples}
    assert {"chat-assistant", "rag-long-prompts"} <= names
    one = client.get("/api/v1/examples/chat-assistant").json()["scenario"]
    assert one["workloads"][0]["name"] == "chat"
    assert "finance" in one  # every field, defaults included
    assert error_of(client.get("/api/v1/examples/chat"), 404)["field"] == "example"
    schema = client.get("/api/v1/schema/scenario").json()
    assert {"name", "workloads", "finance"} <= set(schema["properties"])


def test_openapi_documents_every_endpoint_and_the_scenario(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = set(schema["paths"])
    for path in (
        "/health",
        "/api/v1/memory",
        "/api/v1/perf",
        "/api/v1/validate",
        "/api/v1/simulate",
        "/api/v1/catalog/gpus",
        "/api/v1/catalog/prices",
        "/api/v1/scenarios",
        "/api/v1/scenarios/{scenario_id}",
        "/api/v1/scenarios/{scenario_id}/versions/{version}",
        "/api/v1/scenarios/{scenario_id}/duplicate",
        "/api/v1/plans",
        "/api/v1/jobs/{job_id}",
    ):
        assert path in paths
    components = schema["components"]["schemas"]
    assert {"Scenario", "InferenceWorkload", "ErrorBody"} <= set(components)
    assert "HTTPValidationError" not in components
    bad = schema["paths"]["/api/v1/memory"]["post"]["responses"]["422"]
    assert bad["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "securitySchemes" not in schema["components"]


def test_docs_are_served_from_local_files(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert '"validatorUrl": null' in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/docs/assets/{asset}").status_code == 200


def test_docs_can_be_switched_off(tmp_path: Path) -> None:
    quiet = make_client(tmp_path, docs=False)
    assert "openapi.json" in error_of(quiet.get("/docs"), 404)["message"]
    assert quiet.get("/openapi.json").status_code == 200
    close(quiet)


def test_simulate_checks_its_input_at_once(client: TestClient) -> None:
    """Jobs and results: ``test_api_simulate.py``."""
    assert error_of(client.post("/api/v1/simulate", json=PERF))["field"] == "arrivals"


def test_unknown_endpoint_and_method(client: TestClient) -> None:
    assert error_of(client.get("/api/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(client.delete("/api/v1/memory"), 405)["code"] == "method_not_allowed"


def test_internal_errors_are_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("llmplan.api.routes.compute.memory_payload", broken)
    app = create_app(Settings(home=tmp_path))
    quiet = TestClient(app, raise_server_exceptions=False, base_url=LOCAL)
    error = error_of(quiet.post("/api/v1/memory", json=MEMORY), 500)
    assert error["code"] == "internal"
    close(quiet)


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"


# --- authentication ------------------------------------------------------------------------
def test_token_is_required_everywhere_but_health(tmp_path: Path) -> None:
    guarded = make_client(tmp_path, token="s3cret-token")
    assert guarded.get("/health").status_code == 200
    for method, path in (
        ("GET", "/api/v1/catalog/gpus"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("POST", "/api/v1/memory"),
        ("GET", "/api/v1/scenarios"),
        ("GET", "/api/v1/nothing"),
    ):
        missing = guarded.request(method, path)
        assert error_of(missing, 401)["code"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
    wrong = guarded.get("/api/v1/catalog/gpus", headers={"Authorization": "Bearer nope"})
    assert "wrong" in error_of(wrong, 401)["message"]
    right = {"Authorization": "Bearer s3cret-token"}
    assert guarded.get("/api/v1/catalog/gpus", headers=right).status_code == 200
    assert guarded.post("/api/v1/memory", json=MEMORY, headers=right).status_code == 200
    schema = guarded.get("/openapi.json", headers=right).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    close(guarded)


def test_token_file(tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text("  abc123\n")
    assert read_token_file(good) == "abc123"
    for content in ("", "two words"):
        good.write_text(content)
        with pytest.raises(InputError):
            read_token_file(good)
    with pytest.raises(InputError):
        read_token_file(tmp_path / "missing")


# --- limits --------------------------------------------------------------------------------
def test_request_body_size_is_limited(tmp_path: Path) -> None:
    small = make_client(tmp_path, max_body_bytes=2_000)
    padded = MEMORY | {"precision": "fp8" + " " * 3_000}
    error = error_of(small.post("/api/v1/memory", json=padded), 413)
    assert error["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        yield b'{"model": "'
        for _ in range(10):
            yield b"x" * 500

    chunked = small.post(
        "/api/v1/memory", content=chunks(), headers={"content-type": "application/json"}
    )
    assert error_of(chunked, 413)["code"] == "too_large"
    assert small.post("/api/v1/memory", json=MEMORY).status_code == 200
    close(small)


def test_settings_from_env_and_checks(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"LLMPLAN_HOME": str(tmp_path), "LLMPLAN_DATABASE_URL": "sqlite:///x.db"}
    )
    assert settings.home == tmp_path
    assert settings.resolved_database_url == "sqlite:///x.db"
    assert Settings(home=tmp_path).resolved_database_url == f"sqlite:///{tmp_path / 'llmplan.db'}"
    with pytest.raises(InputError):
        Settings(home=tmp_path, token=" ")
    with pytest.raises(InputError):
        Settings(home=tmp_path, max_body_bytes=0)


def _calibration(client: TestClient) -> dict[str, Any]:
    vllm = client.get("/api/v1/catalog/engines/vllm").json()
    vllm["compute_efficiency"] = round(vllm["compute_efficiency"] * 0.5, 4)
    vllm["bandwidth_efficiency"] = round(vllm["bandwidth_efficiency"] * 0.5, 4)
    return {
        "name": "slow lab",
        "source": "made up for a test",
        "created": "2026-12-01",
        "rows": 12,
        "engines": [vllm],
    }


def test_perf_with_a_calibration_profile(client: TestClient, tmp_path: Path) -> None:
    profile = _calibration(client)
    body = PERF | {"batch": 8, "calibration": profile}
    calibrated = client.post("/api/v1/perf", json=body).json()
    bundled = client.post("/api/v1/perf", json=PERF | {"batch": 8}).json()
    assert calibrated["tpot_ms"] > bundled["tpot_ms"] * 1.5
    assert calibrated["calibration"] == "slow lab (12 rows of made up for a test)"
    assert bundled["calibration"] == "bundled engine profiles"
    path = tmp_path / "calibration.yaml"
    path.write_text(json.dumps(profile))
    options = ("--model", PERF["model"], "--gpu", "H100", "--batch", "8")
    expected = cli_json("perf", *options, "--calibration", str(path))
    assert {k: v for k, v in calibrated.items() if k != "calibration"} == {
        k: v for k, v in expected.items() if k != "calibration"
    }
    bad = client.post("/api/v1/perf", json=PERF | {"calibration": profile | {"rows": 0}})
    assert error_of(bad)["field"] == "calibration.rows"
