"""Catalog names in a scenario: resolution, field paths in errors, search-space filtering."""

from __future__ import annotations

from typing import Any

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.errors import ConfigurationError, InputError, UnknownNameError
from llmplan.scenario import (
    DEFAULT_CANDIDATE_GPUS,
    Scenario,
    check_names,
    resolve,
    scenario_from_data,
)
from llmplan.scenario.schema import DEFAULT_CANDIDATE_ENGINES, DEFAULT_CANDIDATE_PRECISIONS


def scenario(**blocks: Any) -> Scenario:
    workload = {
        "name": "chat",
        "model": "llama-3.1-8b",
        "requests_per_day": 1000,
        "input_tokens": 1000,
        "output_tokens": 200,
    }
    workload.update(blocks.pop("workload", {}))
    return scenario_from_data({"name": "s", "workloads": [workload], **blocks})


def test_aliases_resolve_to_canonical_records(catalog: Catalog) -> None:
    resolved = resolve(scenario(candidates={"gpus": ["H100", "RTX-5090"]}), catalog)
    assert resolved.models[0].id == "meta-llama/Llama-3.1-8B"
    assert [g.id for g in resolved.gpus] == ["H100-SXM-80GB", "RTX-5090-32GB"]
    assert resolved.model_of("chat").id == "meta-llama/Llama-3.1-8B"


def test_defaults_resolve(catalog: Catalog) -> None:
    resolved = resolve(scenario(), catalog)
    assert [g.id for g in resolved.gpus] == list(DEFAULT_CANDIDATE_GPUS)
    assert [p.id for p in resolved.precisions] == list(DEFAULT_CANDIDATE_PRECISIONS)
    assert [e.id for e in resolved.engines] == list(DEFAULT_CANDIDATE_ENGINES)


def test_unknown_model_names_the_field_path(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        check_names(scenario(workload={"model": "llama-3.3-70b-instrct"}), catalog)
    assert info.value.field == "workloads[0].model"
    message = str(info.value)
    assert message.startswith("workloads[0].model: unknown model")
    assert "llama-3.3-70b-instruct" in message and "\n" not in message


def test_ambiguous_gpu_names_the_list_entry(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match="ambiguous") as info:
        check_names(scenario(candidates={"gpus": ["H100", "A100"]}), catalog)
    assert info.value.field == "candidates.gpus[1]"


@pytest.mark.parametrize(
    ("blocks", "field"),
    [
        ({"candidates": {"precisions": ["bf16", "int3"]}}, "candidates.precisions[1]"),
        ({"candidates": {"engines": ["vlm"]}}, "candidates.engines[0]"),
        ({"constraints": {"gpu_deny": ["H1000"]}}, "constraints.gpu_deny[0]"),
        ({"overrides": {"gpus": {"H1000": {"power_w": 600}}}}, "overrides.gpus.H1000"),
        (
            {
                "overrides": {
                    "measured_throughput": [
                        {
                            "model": "llama-3.1-8b",
                            "gpu": "L4",
                            "engine": "vlm",
                            "output_tokens_per_s_per_gpu": 500,
                        }
                    ]
                }
            },
            "overrides.measured_throughput[0].engine",
        ),
    ],
)
def test_unknown_names_elsewhere(blocks: dict[str, Any], field: str, catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        check_names(scenario(**blocks), catalog)
    assert info.value.field == field


def test_same_gpu_twice_through_an_alias(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="already listed") as info:
        check_names(scenario(candidates={"gpus": ["H100", "H100-SXM-80GB"]}), catalog)
    assert info.value.field == "candidates.gpus[1]"


def test_allow_and_deny_filter_the_candidates(catalog: Catalog) -> None:
    resolved = resolve(
        scenario(
            constraints={"gpu_allow": ["H100", "L40S", "L4"], "gpu_deny": ["MI300X"]},
            candidates={"gpus": ["H100", "L4", "MI300X", "B200"]},
        ),
        catalog,
    )
    assert [g.id for g in resolved.gpus] == ["H100-SXM-80GB", "L4-24GB"]


def test_allow_list_is_the_search_space_without_candidates(catalog: Catalog) -> None:
    resolved = resolve(scenario(constraints={"gpu_allow": ["RTX-4090", "RTX-3090"]}), catalog)
    assert [g.id for g in resolved.gpus] == ["RTX-4090-24GB", "RTX-3090-24GB"]


def test_gpu_both_allowed_and_denied(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="both allowed") as info:
        check_names(
            scenario(constraints={"gpu_allow": ["H100"], "gpu_deny": ["H100-SXM-80GB"]}), catalog
        )
    assert info.value.field == "constraints.gpu_deny[0]"


def test_nothing_left_to_search(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="no GPU left") as info:
        check_names(
            scenario(constraints={"gpu_deny": ["H100"]}, candidates={"gpus": ["H100"]}), catalog
        )
    assert info.value.field == "candidates.gpus"


def test_prompt_longer_than_the_context_window(catalog: Catalog) -> None:
    """Llama-3.1-8B holds 131,072 tokens: a p95 prompt of 130,000 + 2,000 out is too long."""
    long_prompt = {"input_tokens": {"mean": 20_000, "p95": 130_000}, "output_tokens": 2000}
    with pytest.raises(ConfigurationError, match="131,072-token context window") as info:
        check_names(scenario(workload=long_prompt), catalog)
    assert info.value.field == "workloads[0].input_tokens"


def test_finetune_sequence_longer_than_the_context_window(catalog: Catalog) -> None:
    data = {
        "name": "s",
        "workloads": [
            {
                "kind": "finetune",
                "name": "t",
                "model": "Qwen/Qwen2.5-7B",
                "method": "lora",
                "dataset_tokens": 1e6,
                "runs_per_year": 1,
                "sequence_tokens": 10_000_000,
            }
        ],
    }
    with pytest.raises(ConfigurationError) as info:
        check_names(scenario_from_data(data), catalog)
    assert info.value.field == "workloads[0].sequence_tokens"


def test_overrides_and_measurements_use_canonical_ids(catalog: Catalog) -> None:
    resolved = resolve(
        scenario(
            overrides={
                "gpus": {"rtx-5090": {"purchase_price_usd": 3000, "power_w": 450}},
                "measured_throughput": [
                    {
                        "model": "llama-3.1-8b",
                        "gpu": "L4",
                        "precision": "FP8",
                        "tp": 1,
                        "output_tokens_per_s_per_gpu": 500,
                    }
                ],
            }
        ),
        catalog,
    )
    assert resolved.gpu_overrides["RTX-5090-32GB"].power_w == 450
    measured = resolved.measured_throughput[0]
    assert (measured.model, measured.gpu, measured.precision) == (
        "meta-llama/Llama-3.1-8B",
        "L4-24GB",
        "fp8",
    )


def test_two_override_keys_for_one_gpu(catalog: Catalog) -> None:
    blocks = {"overrides": {"gpus": {"H100": {"power_w": 600}, "h100-sxm": {"power_w": 650}}}}
    with pytest.raises(InputError, match="already has overrides"):
        check_names(scenario(**blocks), catalog)


def test_unknown_workload_name_suggests(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'chat'"):
        resolve(scenario(), catalog).model_of("chta")
