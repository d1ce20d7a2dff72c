"""The planner's layout search: non-power-of-two GPU counts, multi-node replicas and
every layout a user measured (issue 12, item 5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplan.catalog.loader import bundled_catalog
from llmplan.plan.planner import make_plan
from llmplan.plan.search import (
    MAX_TENSOR_PARALLEL,
    SearchSpace,
    designs_for,
    layout_for,
    parallel_layouts,
    replica_gpu_counts,
)
from llmplan.prices.loader import bundled_prices
from llmplan.scenario import MeasuredThroughput, Scenario, load_example
from llmplan.scenario.io import scenario_from_data, scenario_to_data

CATALOG = bundled_catalog()


def test_gpu_counts_include_multiples_of_three() -> None:
    assert replica_gpu_counts(24) == [1, 2, 3, 4, 6, 8, 12, 16, 24]
    assert replica_gpu_counts(1) == [1]


def test_six_gpus_of_a_64_head_model_are_two_way_tensor_three_way_pipeline() -> None:
    # 64 heads: 6 does not divide them, 3 neither, so the widest group is 2.
    llama = CATALOG.model("meta-llama/Llama-3.1-70B")
    assert llama.num_attention_heads == 64
    assert layout_for(6, CATALOG.gpu("H100"), llama) == (2, 3)
    assert layout_for(12, CATALOG.gpu("H100"), llama) == (4, 3)
    assert layout_for(16, CATALOG.gpu("H100"), llama) == (8, 2)  # two 8-GPU nodes


def test_nvl72_domain_allows_sixteen_way_tensor_parallelism() -> None:
    model = CATALOG.model("meta-llama/Llama-3.1-405B")
    assert layout_for(16, CATALOG.gpu("GB200"), model) == (16, 1)
    assert layout_for(16, CATALOG.gpu("H100"), model) == (8, 2)


@given(st.integers(1, 64), st.sampled_from(["H100", "GB200", "L40S", "RTX-4090"]))
def test_every_layout_is_valid_for_the_model(max_gpus: int, gpu_name: str) -> None:
    gpu = CATALOG.gpu(gpu_name)
    model = CATALOG.model("Qwen/Qwen2.5-7B-Instruct")  # 28 heads: tp 1, 2, 4, 7 ...
    layouts = parallel_layouts(gpu, model, max_gpus)
    counts = [tp * pp for tp, pp in layouts]
    assert counts == sorted(counts)
    for tp, pp in layouts:
        assert model.num_attention_heads % tp == 0
        assert tp <= min(gpu.max_gpus_per_node, MAX_TENSOR_PARALLEL)
        assert tp * pp <= max_gpus


def test_a_measured_layout_is_always_searched() -> None:
    model = CATALOG.model("meta-llama/Llama-3.1-70B")
    layouts = parallel_layouts(CATALOG.gpu("H100"), model, 8, required=((1, 6),))
    assert (1, 6) in layouts


def _with_measured() -> Scenario:
    data = scenario_to_data(load_example("chat-assistant"))
    workload = data["workloads"][0]
    data["overrides"] = {
        "measured_throughput": [
            {
                "model": workload["model"],
                "gpu": "H100",
                "precision": "fp8",
                "engine": "vllm",
                "tp": 2,
                "pp": 3,
                "output_tokens_per_s_per_replica": 9000,
                "source": "a 6-GPU study",
            }
        ]
    }
    data["candidates"] = {**data.get("candidates", {}), "gpus": ["H100"], "precisions": ["fp8"]}
    return scenario_from_data(data)


def test_a_measured_six_gpu_layout_is_priced_in_the_plan() -> None:
    scenario = _with_measured()
    workload = scenario.inference_workloads()[0]
    resolved_model = CATALOG.model(workload.model)
    space = SearchSpace(
        gpus=(CATALOG.gpu("H100"),),
        precisions=(CATALOG.weight_format("fp8"),),
        engines=(CATALOG.engine("vllm"),),
        max_gpus_per_replica=8,
        horizon_months=12,
        measured=(
            MeasuredThroughput(
                model=resolved_model.id,
                gpu="H100-SXM-80GB",
                precision="fp8",
                engine="vllm",
                tp=2,
                pp=3,
                output_tokens_per_s_per_replica=9000,
                source="a 6-GPU study",
            ),
        ),
    )
    designs, _ = designs_for(CATALOG, workload, resolved_model, space)
    six = [d for d in designs if (d.deployment.tp, d.deployment.pp) == (2, 3)]
    assert six, [d.label for d in designs]
    assert six[0].measured_source == "a 6-GPU study"
    assert six[0].label.endswith("tp2 pp3")
    # The whole plan runs with it.
    plan = make_plan(scenario, CATALOG, bundled_prices(), monte_carlo_samples=20)
    assert plan.options


@pytest.mark.parametrize("max_gpus", [5, 7])
def test_counts_beyond_the_limit_are_never_searched(max_gpus: int) -> None:
    llama = CATALOG.model("meta-llama/Llama-3.1-70B")
    layouts = parallel_layouts(CATALOG.gpu("H100"), llama, max_gpus)
    assert max(tp * pp for tp, pp in layouts) <= max_gpus
