"""Reading and writing scenario files: examples, round trips, one-line errors, the docs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.errors import InputError, UnknownNameError
from llmplan.scenario import (
    DeploymentOption,
    FineTuneWorkload,
    InferenceWorkload,
    Scenario,
    bundled_examples,
    dump_scenario,
    load_example,
    load_scenario,
    parse_scenario,
    resolve,
    scenario_from_data,
    scenario_to_data,
)
from llmplan.scenario.docs import BEGIN_MARKER, END_MARKER, render_reference, replace_generated

REPO = Path(__file__).resolve().parent.parent
EXPECTED_EXAMPLES = {
    "chat-assistant",
    "rag-long-prompts",
    "airgapped-eu-gdpr",
    "small-team-consumer-gpus",
    "batch-summarisation",
    "finetuning-programme",
    "saas-startup-growth",
    "multi-model-platform",
}

GOOD = textwrap.dedent(
    """\
    name: test
    workloads:
      - name: chat
        model: llama-3.3-70b-instruct
        requests_per_day: 10000
        input_tokens: 1000
        output_tokens: {mean: 300, p95: 900}
        operating_hours_per_day: 8
        peak_to_average: 2
        slo: {ttft_ms: 1000, tpot_ms: 50}
      - kind: finetune
        name: tune
        model: Qwen/Qwen3-8B
        method: qlora
        dataset_tokens: 5.0e+7
        runs_per_year: 12
    finance:
      electricity_usd_per_kwh: 0.2
    """
)


def error_of(text: str, source: str = "s.yaml") -> InputError:
    with pytest.raises(InputError) as info:
        parse_scenario(text, source)
    return info.value


def assert_one_line(error: InputError) -> str:
    message = str(error)
    assert "\n" not in message
    assert "Traceback" not in message and "pydantic" not in message.lower()
    return message


# --- examples ----------------------------------------------------------------------------


def test_all_six_examples_are_bundled() -> None:
    assert set(bundled_examples()) == EXPECTED_EXAMPLES


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
def test_example_loads_and_its_names_resolve(name: str, catalog: Catalog) -> None:
    scenario = load_example(name)
    resolved = resolve(scenario, catalog)
    assert len(resolved.models) == len(scenario.workloads)
    assert resolved.gpus and resolved.precisions and resolved.engines
    assert scenario.constraints.permitted_options()


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
def test_repo_root_examples_are_the_bundled_files(name: str) -> None:
    root_file = REPO / "examples" / f"{name}.yaml"
    assert root_file.read_bytes() == bundled_examples()[name].read_bytes()


def test_examples_cover_what_the_issue_asks_for() -> None:
    examples = {name: load_example(name) for name in EXPECTED_EXAMPLES}
    airgapped = examples["airgapped-eu-gdpr"].constraints
    assert airgapped.air_gapped and airgapped.data_residency == "eu"
    assert set(airgapped.permitted_options()) == {
        DeploymentOption.ON_PREMISE,
        DeploymentOption.COLOCATION,
    }
    rag = examples["rag-long-prompts"].inference_workloads()[0]
    assert rag.input_tokens.mean >= 8000
    batch = examples["batch-summarisation"].inference_workloads()[0]
    assert batch.tokens_per_day is not None
    tuning = examples["finetuning-programme"]
    assert {w.method for w in tuning.finetune_workloads()} == {"lora", "qlora"}
    assert tuning.inference_workloads()
    small = examples["small-team-consumer-gpus"]
    assert small.candidates.gpus == ("RTX-4090-24GB", "RTX-5090-32GB")


def test_unknown_example_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'chat-assistant'"):
        load_example("chat-asistant")


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
@pytest.mark.parametrize("full", [True, False])
def test_dump_then_load_gives_an_equal_scenario(name: str, full: bool) -> None:
    scenario = load_example(name)
    assert parse_scenario(dump_scenario(scenario, full=full), "dump") == scenario


def test_full_dump_states_every_assumption() -> None:
    data = scenario_to_data(parse_scenario(GOOD))
    assert data["finance"]["pue"] == 1.3
    assert data["workloads"][0]["days_per_month"] == pytest.approx(365 / 12)
    assert "allowed_options" in data["constraints"]


def test_short_dump_keeps_only_what_differs() -> None:
    data = scenario_to_data(parse_scenario(GOOD), full=False)
    assert data["finance"] == {"electricity_usd_per_kwh": 0.2}
    assert "constraints" not in data
    assert data["workloads"][1]["kind"] == "finetune"


def test_json_file_and_json_text(tmp_path: Path) -> None:
    scenario = parse_scenario(GOOD)
    text = json.dumps(scenario_to_data(scenario))
    assert parse_scenario(text, "api") == scenario
    path = tmp_path / "scenario.json"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(path) == scenario
    assert scenario_from_data(json.loads(text)) == scenario


def test_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    text = (
        "{name: t, workloads: [{name: a, model: m, requests_per_day: 1, "
        "input_tokens: 1, output_tokens: 1}]}"
    )
    assert parse_scenario(text).name == "t"


def test_file_without_known_suffix_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "scenario.txt"
    path.write_text(GOOD, encoding="utf-8")
    assert isinstance(load_scenario(path).workloads[0], InferenceWorkload)
    assert isinstance(load_scenario(path).workloads[1], FineTuneWorkload)


# --- bad input: one line naming the field ------------------------------------------------


def test_malformed_yaml_names_the_line() -> None:
    error = error_of(GOOD.replace("slo: {", "slo: {{"))
    message = assert_one_line(error)
    assert message.startswith("s.yaml, line 11") and "malformed YAML" in message


def test_malformed_json_names_the_line() -> None:
    error = error_of('{\n  "name": "x",\n  "workloads": [}\n}', "s.json")
    assert assert_one_line(error).startswith("s.json, line 3, column 17: malformed JSON")


def test_duplicate_key_is_an_error() -> None:
    message = assert_one_line(error_of(GOOD.replace("name: test\n", "name: test\nname: b\n")))
    assert "line 2" in message and "duplicate key 'name' (first given on line 1)" in message


def test_unknown_field_suggests_the_right_name() -> None:
    error = error_of(GOOD.replace("electricity_usd_per_kwh", "electricty_usd_per_kwh"))
    message = assert_one_line(error)
    assert error.field == "finance.electricty_usd_per_kwh"
    assert "unknown field in finance; did you mean 'electricity_usd_per_kwh'?" in message
    assert "line 18" in message


def test_misspelt_top_level_key_is_reported_before_the_missing_one() -> None:
    error = error_of(GOOD.replace("workloads:", "worklods:"))
    assert error.field == "worklods"
    assert "did you mean 'workloads'?" in assert_one_line(error)


def test_unknown_field_in_a_small_block_lists_the_allowed_ones() -> None:
    error = error_of(GOOD.replace("tpot_ms: 50}", "tpot_ms: 50, jitter: 3}"))
    assert error.field == "workloads[0].slo.jitter"
    assert "allowed: ttft_ms, tpot_ms, percentile" in assert_one_line(error)


def test_negative_volume() -> None:
    error = error_of(GOOD.replace("requests_per_day: 10000", "requests_per_day: -5"))
    assert error.field == "workloads[0].requests_per_day"
    assert "greater than or equal to 0.01, got -5" in assert_one_line(error)


def test_two_volumes_name_the_second() -> None:
    text = GOOD.replace("requests_per_day: 10000", "requests_per_day: 10000\n    tokens_per_day: 5")
    error = error_of(text)
    assert error.field == "workloads[0].tokens_per_day"
    assert "give only one volume" in assert_one_line(error)


def test_no_volume() -> None:
    error = error_of(GOOD.replace("    requests_per_day: 10000\n", ""))
    assert error.field == "workloads[0]"
    assert "no volume given" in assert_one_line(error)


def test_slo_percentile_out_of_range() -> None:
    error = error_of(GOOD.replace("tpot_ms: 50}", "tpot_ms: 50, percentile: 100}"))
    assert error.field == "workloads[0].slo.percentile"
    assert "less than 100, got 100" in assert_one_line(error)


def test_field_path_of_a_later_workload() -> None:
    error = error_of(GOOD.replace("method: qlora", "method: dora"))
    assert error.field == "workloads[1].method"
    assert "'full', 'lora' or 'qlora'" in assert_one_line(error)


def test_unknown_workload_kind() -> None:
    error = error_of(GOOD.replace("kind: finetune", "kind: training"))
    assert error.field == "workloads[1].kind"
    assert "allowed: inference, finetune" in assert_one_line(error)


def test_negative_price_in_overrides() -> None:
    text = GOOD + "overrides:\n  gpus:\n    H100:\n      purchase_price_usd: -1\n"
    error = error_of(text)
    assert error.field == "overrides.gpus.H100.purchase_price_usd"
    assert "line 22" in assert_one_line(error)


def test_length_given_as_text() -> None:
    error = error_of(GOOD.replace("input_tokens: 1000", "input_tokens: lots"))
    assert error.field == "workloads[0].input_tokens"
    assert "a number of tokens (the mean) or a mapping" in assert_one_line(error)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("name: x\nworkloads: []\n", "workloads: must list at least 1 item"),
        ("name: x\nworkloads: {a: 1}\n", "workloads: must be a list"),
        ("name: x\n", "workloads: required field is missing"),
        ("name: x\nschema_version: 2\nworkloads: []", "schema_version"),
    ],
)
def test_structural_errors(text: str, needle: str) -> None:
    assert needle in assert_one_line(error_of(text))


def test_json_input_error_names_the_field() -> None:
    data = {
        "name": "x",
        "workloads": [
            {
                "name": "a",
                "model": "m",
                "requests_per_day": 1,
                "input_tokens": 1,
                "output_tokens": 1,
                "slo": {"ttft_ms": -1},
            },
        ],
    }
    error = error_of(json.dumps(data), "request")
    assert error.field == "workloads[0].slo.ttft_ms"
    assert assert_one_line(error).endswith("(in request)")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_scenario(bad)


def test_a_scenario_is_the_contract_type() -> None:
    assert isinstance(parse_scenario(GOOD), Scenario)


# --- docs --------------------------------------------------------------------------------


def test_docs_reference_is_up_to_date() -> None:
    """If this fails, run: python3 scripts/gen_scenario_docs.py"""
    current = (REPO / "docs" / "scenario.md").read_text(encoding="utf-8")
    assert BEGIN_MARKER in current and END_MARKER in current
    assert replace_generated(current, render_reference()) == current


def test_docs_example_is_valid() -> None:
    doc = (REPO / "docs" / "scenario.md").read_text(encoding="utf-8")
    snippet = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_scenario(snippet, "docs/scenario.md").workloads[0].name == "chat"


def test_every_field_has_a_description() -> None:
    reference = render_reference()
    assert "| None |" not in reference
    for line in reference.splitlines():
        if line.startswith("| `"):
            assert not line.rstrip().endswith("|  |"), line


def test_yaml_aliases_are_refused() -> None:
    """Nested aliases ("billion laughs") would grow exponentially; scenario files need
    none, so any alias is one clear error, found before anything is expanded."""
    from llmplan.errors import InputError
    from llmplan.scenario import parse_scenario

    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 12):
        items = ", ".join(["*l" + str(i - 1)] * 9)
        lines.append(f"l{i}: &l{i} [{items}]")
    with pytest.raises(InputError, match="alias"):
        parse_scenario("\n".join(lines) + "\n", "bomb.yaml")
