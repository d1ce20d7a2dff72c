"""``llmplan simulate``, ``POST /api/v1/simulate`` and scenarios with prefix caching and
speculative decoding: the JSON keys, the same answer from the CLI and the API, the
scenario's ``cached_input_fraction`` and ``speculative`` in simulate and plan, and
one-line errors naming the field (exit 2, HTTP 422)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app as cli
from llmplan.errors import InputError
from llmplan.perf import speculative
from llmplan.perf.prefix import prefix_hit_of
from llmplan.scenario import parse_scenario, workloads
from llmplan.sim.scenario import features_from

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"
BASE = ["simulate", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--rate", "3",
        "--requests", "400", "--input-tokens", "1500", "--output-tokens", "200"]  # fmt: skip
BODY = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100", "rate": 3, "requests": 400,
        "input_tokens": 1500, "output_tokens": 200}  # fmt: skip
SCENARIO = """
name: chat with features
workloads:
  - name: chat
    model: meta-llama/Llama-3.1-8B-Instruct
    requests_per_day: 100000
    input_tokens: 2000
    output_tokens: 300
    cached_input_fraction: 0.5
    speculative: {method: eagle, tokens: 3, acceptance: 0.7}
    slo: {ttft_ms: 1000, tpot_ms: 40}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return tmp_path


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_json_keys_without_the_features(home: Path) -> None:
    payload = cli_json(*BASE)
    assert (payload["prefix_hit"], payload["spec_method"]) == (0, "none")
    assert payload["accepted_tokens_per_step"] == 1
    assert payload["result"]["accepted_tokens_per_step"] == 1


def test_json_keys_with_the_features(home: Path) -> None:
    """MTP, K = 1, a = 0.85: 1.85 tokens a step expected; 199 tokens after the first of
    each request take about 108 steps, the last one's surplus cut, so the simulated
    figure is a little under 1.85. Half the prompt cached lowers TTFT, MTP lowers TPOT."""
    plain = cli_json(*BASE)
    payload = cli_json(*BASE, "--prefix-hit", "0.5", "--spec-method", "mtp")
    assert payload["prefix_hit"] == 0.5
    assert payload["spec_method"] == "mtp"
    assert payload["spec_tokens"] == 1 and payload["spec_acceptance"] == 0.85
    assert 1.80 < payload["accepted_tokens_per_step"] < 1.85
    assert payload["result"]["ttft"]["mean_ms"] < plain["result"]["ttft"]["mean_ms"]
    assert payload["result"]["tpot"]["mean_ms"] < plain["result"]["tpot"]["mean_ms"]


def test_table_names_the_features(home: Path) -> None:
    result = CliRunner().invoke(cli, [*BASE, "--prefix-hit", "0.25", "--spec-method", "ngram"])
    assert result.exit_code == 0, result.stderr
    assert "prefix cache hit" in result.stdout and "25% of prompt tokens" in result.stdout
    assert "accepted tokens per step (simulated)" in result.stdout


def test_api_answers_what_the_cli_prints(home: Path, tmp_path: Path) -> None:
    body = BODY | {"prefix_hit": 0.3, "spec_method": "eagle", "spec_acceptance": 0.6}
    with TestClient(create_app(Settings(home=tmp_path / "api")), base_url=LOCAL) as client:
        response = client.post("/api/v1/simulate", json=body, params={"wait": 60})
    assert response.status_code == 200, response.text
    expected = cli_json(
        *BASE, "--prefix-hit", "0.3", "--spec-method", "eagle", "--spec-acceptance", "0.6"
    )
    assert response.json()["result"] == expected


def test_scenario_features_drive_simulate_unless_options_are_given(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "chat.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    stated = ["simulate", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "H100",
              "--scenario", str(path), "--requests", "300"]  # fmt: skip
    payload = cli_json(*stated)
    assert payload["prefix_hit"] == 0.5 and payload["spec_method"] == "eagle"
    assert payload["spec_tokens"] == 3 and payload["spec_acceptance"] == 0.7
    overridden = cli_json(*stated, "--prefix-hit", "0.1")
    assert overridden["prefix_hit"] == 0.1 and overridden["spec_method"] == "none"


def test_plan_sizes_and_names_the_features(home: Path, tmp_path: Path) -> None:
    """The same workload without the features needs no fewer GPUs per request/s: each
    design's capacity per replica is at least as high with them."""
    with_features = tmp_path / "chat.yaml"
    with_features.write_text(SCENARIO, encoding="utf-8")
    without = tmp_path / "plain.yaml"
    plain_text = SCENARIO.replace("    cached_input_fraction: 0.5\n", "")
    without.write_text(plain_text.replace("    speculative: {method: eagle, tokens: 3, "
                                          "acceptance: 0.7}\n", ""), encoding="utf-8")  # fmt: skip
    planned = cli_json("plan", str(with_features), "--samples", "0")
    plain = cli_json("plan", str(without), "--samples", "0")
    chosen = {o["option"]: o["choices"][0] for o in planned["options"] if o["included"]}
    base = {o["option"]: o["choices"][0] for o in plain["options"] if o["included"]}
    design = chosen["on_premise"]
    assert design["prefix_hit"] == 0.5 and design["spec_method"] == "eagle"
    assert design["accepted_tokens_per_step"] == pytest.approx((1 - 0.7**4) / 0.3)
    assert base["on_premise"]["spec_method"] == "none" and base["on_premise"]["prefix_hit"] == 0
    for name, choice in chosen.items():
        if "gpu" in choice and "gpu" in base[name] and choice["gpu"] == base[name]["gpu"]:
            mine = choice["max_requests_per_s_per_replica"]
            assert mine >= base[name]["max_requests_per_s_per_replica"]


def test_scenario_features_by_hand() -> None:
    """0.5 of a 2,000-token prompt cached; a full hit (1.0) is capped at all but one
    token of the mean prompt: 1 - 1/2,000 = 0.9995."""
    catalog = bundled_catalog()
    scenario = parse_scenario(SCENARIO, "chat.yaml")
    workload = scenario.inference_workloads()[0]
    target = catalog.models.get(workload.model)
    features = features_from(workload, target, catalog.models)
    assert features.prefix_hit == 0.5
    assert features.spec is not None and features.spec.tokens_per_step == pytest.approx(2.533)
    assert prefix_hit_of(1.0, 2000) == pytest.approx(0.9995)
    assert prefix_hit_of(0.3, 1) == 0.0
    assert workloads.MAX_SPEC_TOKENS == speculative.MAX_SPEC_TOKENS


def test_default_draft_model_when_none_can_be_found() -> None:
    """A draft method without a draft model takes a catalog model of the same
    vocabulary; with no candidate at all the error names the draft model."""
    catalog = bundled_catalog()
    text = SCENARIO.replace("method: eagle", "method: draft")
    workload = parse_scenario(text, "chat.yaml").inference_workloads()[0]
    target = catalog.models.get("meta-llama/Llama-3.1-70B-Instruct")
    features = features_from(workload, target, catalog.models)
    assert features.spec is not None and features.spec.draft_model is not None
    with pytest.raises(InputError) as caught:
        features_from(workload, catalog.models.get("meta-llama/Llama-3.2-1B"), catalog.models)
    assert caught.value.field == "spec_draft_model"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--prefix-hit", "1"], "prefix_hit"),
        (["--prefix-hit", "-0.2"], "prefix_hit"),
        (["--spec-method", "medusa"], "spec_method"),
        (["--spec-tokens", "3"], "spec_method"),
        (["--spec-method", "eagle", "--spec-tokens", "40"], "spec_tokens"),
        (["--spec-method", "eagle", "--spec-acceptance", "1.5"], "spec_acceptance"),
        (["--spec-method", "mtp", "--spec-draft-model", "meta-llama/Llama-3.2-1B"],
         "spec_draft_model"),
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


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url=LOCAL)
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"prefix_hit": 1.0}, "prefix_hit"),
        ({"spec_method": "medusa"}, "spec_method"),
        ({"spec_tokens": 2}, "spec_method"),
        ({"spec_method": "mtp", "spec_acceptance": 2}, "spec_acceptance"),
        ({"spec_method": "eagle", "spec_tokens": 17}, "spec_tokens"),
        ({"spec_method": "draft", "spec_draft_model": "no-such-model"}, "spec_draft_model"),
    ],
)
def test_api_errors_are_422_naming_the_field(
    client: TestClient, extra: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/simulate", json=BODY | extra)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert client.get("/api/v1/jobs").json()["items"] == []  # nothing queued


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("method: eagle, ", "method: eagle, draft_model: Llama-3.2-1B, "),
         "workloads[0].speculative.draft_model"),
        (("method: eagle, ", "method: draft, draft_model: no-such-model, "),
         "workloads[0].speculative.draft_model"),
        (("method: eagle", "method: medusa"), "workloads[0].speculative.method"),
        (("tokens: 3", "tokens: 17"), "workloads[0].speculative.tokens"),
        (("acceptance: 0.7", "acceptance: 1.2"), "workloads[0].speculative.acceptance"),
    ],
)  # fmt: skip
def test_bad_speculative_block_is_one_line_naming_the_key(
    home: Path, tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace(*change), encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", str(path), "--samples", "0"])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], result.stderr
