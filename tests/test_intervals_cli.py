"""80 % intervals through the CLI and the REST API: perf, validate (and --cv), plan."""

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

PERF_ARGS = ["--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--request-rate", "2"]
PERF_BODY = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100", "request_rate": 2}
INTERVAL_KEYS = {"ttft_ms", "tpot_ms", "e2e_latency_ms", "output_tokens_per_s"}
HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes"
)
ROW = (
    "{source},vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,1,512,128,batch,{batch},,"
    "{metric},{value},high,"
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "llmplan-home"
    monkeypatch.setenv("LLMPLAN_HOME", str(folder))
    return folder


def invoke(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "300"})
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def cli_json(*args: str) -> Any:
    return json.loads(invoke(*args, "--json").stdout)


def small_csv(tmp_path: Path) -> Path:
    lines = [HEADER]
    for source, value in (("a", 900), ("b", 1500), ("c", 4000)):
        lines.append(ROW.format(source=source, batch=1, metric="output_tokens_per_s", value=150))
        lines.append(ROW.format(source=source, batch=16, metric="output_tokens_per_s", value=value))
        lines.append(ROW.format(source=source, batch=16, metric="tpot_ms", value=9))
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path / "api")), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def test_perf_json_and_table_show_intervals() -> None:
    payload = cli_json("perf", *PERF_ARGS)
    intervals = payload["intervals"]
    assert set(intervals) == INTERVAL_KEYS
    for name, (low, high) in intervals.items():
        assert 0 < low <= high, name
    table = invoke("perf", *PERF_ARGS).stdout
    low, high = intervals["tpot_ms"]
    assert f"(80 %: {low:,.2f}-{high:,.2f})" in table


def test_api_perf_answers_the_same_intervals(client: TestClient) -> None:
    response = client.post("/api/v1/perf", json=PERF_BODY)
    assert response.status_code == 200, response.text
    assert response.json()["intervals"] == cli_json("perf", *PERF_ARGS)["intervals"]


def test_validate_rows_carry_intervals_and_the_summary_their_coverage(tmp_path: Path) -> None:
    payload = cli_json("validate", str(small_csv(tmp_path)))
    rows = payload["rows"]
    assert len(rows) == 9
    inside = [r["predicted_low"] <= r["measured"] <= r["predicted_high"] for r in rows]
    assert all(r["predicted_low"] <= r["predicted_high"] for r in rows)
    assert payload["summary"]["interval_coverage"] == pytest.approx(sum(inside) / len(rows))
    table = invoke("validate", str(small_csv(tmp_path))).stdout
    assert "80 % interval coverage" in table


def test_api_validate_rows_carry_intervals(client: TestClient, tmp_path: Path) -> None:
    csv = small_csv(tmp_path).read_text(encoding="utf-8")
    response = client.post("/api/v1/validate", json={"csv": csv})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"predicted_low", "predicted_high"} <= set(body["rows"][0])
    assert (
        body["summary"]["interval_coverage"]
        == cli_json("validate", str(small_csv(tmp_path)))["summary"]["interval_coverage"]
    )


def test_validate_report_shows_interval_coverage(tmp_path: Path) -> None:
    report = tmp_path / "v.html"
    invoke("validate", str(small_csv(tmp_path)), "--report", str(report))
    assert "80 % interval coverage" in report.read_text(encoding="utf-8")


def test_validate_cv_on_a_small_csv(tmp_path: Path) -> None:
    """Three sources of three rows: each held out in turn (too few rows left to refit, so
    the priors predict it)."""
    payload = cli_json("validate", str(small_csv(tmp_path)), "--cv")
    assert payload["sources"] == 3 and payload["predicted"] == 9
    assert set(payload["families"]) == {"throughput", "ttft", "tpot", "e2e", "overall"}
    assert payload["families"]["overall"]["n"] == 9
    assert set(payload["engines"]) == {"vllm"}
    assert 0 <= payload["interval_coverage"]["overall"] <= 1
    text = invoke("validate", str(small_csv(tmp_path)), "--cv").stdout
    assert "held-out rows" in text


def test_validate_cv_refuses_a_report(tmp_path: Path) -> None:
    result = invoke("validate", "--cv", "--report", str(tmp_path / "r.html"), code=2)
    assert "report" in result.stderr


def _check_choices(payload: dict[str, Any]) -> int:
    checked = 0
    for option in payload["options"]:
        for choice in option.get("choices", []):
            if "gpu" not in choice:
                continue
            slo = next(
                w for w in payload["scenario"]["workloads"] if w["name"] == choice["workload"]
            )
            ttft, tpot = choice["intervals"]["ttft_ms"], choice["intervals"]["tpot_ms"]
            assert ttft[0] <= ttft[1] and tpot[0] <= tpot[1]
            target = slo["slo"]["ttft_ms"]
            misses_ttft = target is not None and choice["ttft_ms"] <= target < ttft[1]
            target = slo["slo"]["tpot_ms"]
            misses_tpot = target is not None and choice["tpot_ms"] <= target < tpot[1]
            assert choice["slo_optimistic_only"] == (misses_ttft or misses_tpot)
            assert len(choice["slo_pessimistic_misses"]) == misses_ttft + misses_tpot
            checked += 1
    return checked


def test_plan_json_shows_intervals_and_flags(tmp_path: Path) -> None:
    args = ("plan", "--example", "chat-assistant", "--samples", "0")
    payload = cli_json(*args)
    assert _check_choices(payload) > 0
    flagged = [
        c for o in payload["options"] for c in o.get("choices", []) if c.get("slo_optimistic_only")
    ]
    risks = " ".join(payload["recommended"]["risks"])
    best = payload["recommended"]["option"]
    best_flagged = [
        c
        for o in payload["options"]
        if o["option"] == best
        for c in o["choices"]
        if c.get("slo_optimistic_only")
    ]
    assert ("optimistic end" in risks) == bool(best_flagged)
    text = invoke(*args).stdout
    assert "80 %:" in text
    assert ("[!]" in text) == bool(flagged)
    report = tmp_path / "plan.html"
    invoke(*args, "--report", str(report))
    html = report.read_text(encoding="utf-8")
    assert "80 %:" in html
    assert ("SLO holds only at the optimistic end" in html) == bool(flagged)


def test_api_plan_result_carries_intervals(tmp_path: Path) -> None:
    body = {"example": "small-team-consumer-gpus", "samples": 0}
    with TestClient(
        create_app(Settings(home=tmp_path / "jobs")), base_url="http://localhost"
    ) as client:
        response = client.post("/api/v1/plans", json=body, params={"wait": 60})
        assert response.status_code == 200, response.text
        result = response.json()["result"]
    assert _check_choices(result) > 0
