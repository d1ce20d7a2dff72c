"""The planner searches expert-parallel and disaggregated designs (issue 12, "plan picks
such designs when they are cheaper, and reports them").

The DeepSeek-R1 high-volume example (``moe-high-volume``: 10 million requests a day,
TensorRT-LLM on H200) must come out on an EP8 + DP-attention layout with fewer GPUs
than any plain tensor-parallel design the same plan evaluated; dense models never get
expert layouts; adding the layouts never makes an option dearer (its designs are a
superset of the plain search); the chosen disaggregated design is confirmed by the
simulator within the agreement tolerance of ``tests/test_plan_sim_agreement.py``; the
plan's JSON, table and deploy files name the layout; bad scenario fields are one line
naming the field (exit code 2, HTTP 422).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmplan.catalog.expert_parallel import (
    EpSizes,
    engine_expert_support,
    ep_constant,
    expert_support_of,
)
from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app
from llmplan.cli.plan_view import features_text
from llmplan.deploy.engines import launch
from llmplan.deploy.options import check_argv
from llmplan.deploy.service import service_spec
from llmplan.deployment import Deployment
from llmplan.perf.expert_parallel import dispatch_combine_bytes
from llmplan.perf.openloop import Lengths
from llmplan.perf.step import StepShape, step_time
from llmplan.plan.capacity import ReplicaCapacity
from llmplan.plan.confirm import simulate_design
from llmplan.plan.disagg import SplitWorkload, split_candidates, try_split_capacity
from llmplan.plan.layouts import Layout, expert_layouts, layouts_for
from llmplan.plan.options import PriceContext
from llmplan.plan.payload import plan_payload
from llmplan.plan.planner import Plan, make_plan, plan_context
from llmplan.plan.search import Design, length_law, targets_of
from llmplan.plan.uncertainty import operating_latency
from llmplan.prices.loader import bundled_prices
from llmplan.scenario import Scenario, bundled_examples, load_example

R1 = "deepseek-ai/DeepSeek-R1"
EXAMPLE = "moe-high-volume"
AGREEMENT = 0.15  # as tests/test_plan_sim_agreement.py
STEADY_REQUESTS = 20_000
"""Requests for a steady-state simulation of the example's fleet: about 7,000 are in
flight at once (116 requests/s x about 60 s each), so the default 3,000 would end while
the decode batches are still filling."""


@cache
def _plan(scenario_json: str, confirm: bool = False) -> Plan:
    scenario = Scenario.model_validate_json(scenario_json)
    return make_plan(
        scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=0, confirm=confirm
    )


def _example(**candidates: Any) -> Scenario:
    scenario = load_example(EXAMPLE)
    if not candidates:
        return scenario
    return scenario.model_copy(
        update={"candidates": scenario.candidates.model_copy(update=candidates)}
    )


def plan_of(scenario: Scenario, confirm: bool = False) -> Plan:
    return _plan(scenario.model_dump_json(), confirm)


def _designs(plan: Plan) -> list[Design]:
    return [d for designs in plan.designs.values() for d in designs]


def _chosen(plan: Plan, option: str) -> Design:
    found = next(o for o in plan.options if o.option.value == option)
    design = found.choices[0].design
    assert design is not None
    return design


def _is_plain(design: Design) -> bool:
    dep = design.deployment
    return dep.ep == 1 and not dep.dp_attention and design.split is None


# ----------------------------------------------------------------------------- layouts


def test_engine_support_comes_from_the_data_file() -> None:
    support = engine_expert_support()
    assert set(support) == {"sglang", "trtllm", "vllm"}
    assert all(s.source and s.dp_attention for s in support.values())
    catalog = bundled_catalog()
    assert expert_support_of(catalog.engine("sglang-rocm")) is support["sglang"]
    assert expert_support_of(catalog.engine("lmdeploy")) is None
    assert support["trtllm"].ep_sizes is EpSizes.DIVISORS_OF_TP
    assert support["trtllm"].ep_degrees(8) == (8, 4, 2)
    assert support["vllm"].ep_degrees(8) == (8,)


def test_moe_layouts_are_ep_equal_tp_with_and_without_dp_attention() -> None:
    catalog = bundled_catalog()
    r1 = catalog.model(R1)
    for engine in ("sglang", "trtllm", "vllm"):
        assert expert_layouts(r1, catalog.engine(engine), 8, 2) == [
            Layout(8, 2, 8, True),
            Layout(8, 2, 8, False),
        ]
    assert expert_layouts(r1, catalog.engine("lmdeploy"), 8, 1) == []
    assert expert_layouts(r1, catalog.engine("sglang"), 1, 1) == []
    plain = [(1, 1), (8, 1)]
    assert layouts_for(r1, catalog.engine("sglang"), plain, expert=False) == [
        Layout(1, 1),
        Layout(8, 1),
    ]


@cache
def _dense_models() -> list[str]:
    return sorted(m.id for m in bundled_catalog().models if m.moe is None)


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, 10_000),
    engine=st.sampled_from(["sglang", "trtllm", "vllm", "vllm-rocm"]),
    tp=st.sampled_from([1, 2, 4, 8, 16]),
)
def test_dense_models_never_get_expert_layouts(index: int, engine: str, tp: int) -> None:
    catalog = bundled_catalog()
    models = _dense_models()
    model = catalog.model(models[index % len(models)])
    assert expert_layouts(model, catalog.engine(engine), tp, 1) == []


def test_dense_example_plans_no_expert_layout() -> None:
    plan = plan_of(load_example("saas-startup-growth"))
    assert all(d.deployment.ep == 1 and not d.deployment.dp_attention for d in _designs(plan))


@settings(max_examples=25, deadline=None)
@given(decode=st.floats(1, 2048), context=st.floats(100, 8000))
def test_ep_without_dp_attention_differs_from_tp_only_by_the_copies_it_saves(
    decode: float, context: float
) -> None:
    """Why the search tries it (plan/layouts.py): with the routed-token copies set aside it
    is never faster than tensor parallelism; the copies it saves (those of tokens routed to
    other GPUs' experts) always count in its favour."""
    import llmplan.perf.step as step_module

    catalog = bundled_catalog()
    plain = Deployment.from_names(catalog, model=R1, gpu="H200", precision="fp8", tp=8)
    ep = dataclasses.replace(plain, ep=8)
    shape = StepShape(decode_seqs=decode, decode_context=context)
    with_copies = step_time(plain, shape).total_s - step_time(ep, shape).total_s
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(step_module, "moe_activation_bytes", lambda *args: 0.0)
        without = step_time(plain, shape).total_s - step_time(ep, shape).total_s
    assert without <= 1e-12 * step_time(plain, shape).total_s
    assert with_copies >= without - 1e-12


def test_the_search_prices_ep_without_dp_attention() -> None:
    plan = plan_of(_example())
    layouts = {(d.deployment.ep, d.deployment.dp_attention) for d in _designs(plan)}
    assert (8, False) in layouts and (8, True) in layouts


# ----------------------------------------------------------------------------- the plan


def test_high_volume_r1_picks_ep_dp_attention_with_fewer_gpus_than_plain_tp() -> None:
    plan = plan_of(_example())
    best = plan.recommended
    assert best is not None
    chosen = best.choices[0].design
    assert chosen is not None
    assert chosen.deployment.ep == 8 and chosen.deployment.dp_attention
    plain = [d for d in _designs(plan) if _is_plain(d)]
    assert plain, "the plan evaluated no plain tensor-parallel design"
    assert chosen.gpus < min(d.gpus for d in plain)
    # the aggregated EP8 + DP-attention replica alone already beats every plain design
    aggregated = [d for d in _designs(plan) if d.deployment.ep == 8 and d.split is None]
    assert min(d.gpus for d in aggregated) < min(d.gpus for d in plain)


@settings(max_examples=3, deadline=None)
@given(requests_per_day=st.sampled_from([3_000_000, 10_000_000, 30_000_000]))
def test_new_layouts_never_make_an_option_dearer(requests_per_day: int) -> None:
    scenario = _example()
    workload = scenario.workloads[0].model_copy(update={"requests_per_day": requests_per_day})
    scenario = scenario.model_copy(update={"workloads": (workload,)})
    old_space = scenario.model_copy(
        update={
            "candidates": scenario.candidates.model_copy(
                update={"expert_parallel": False, "split_ratios": ()}
            )
        }
    )
    new, old = plan_of(scenario), plan_of(old_space)
    assert all(_is_plain(d) for d in _designs(old))
    new_labels = {(d.label, d.capacity.max_requests_per_s) for d in _designs(new)}
    assert {(d.label, d.capacity.max_requests_per_s) for d in _designs(old)} <= new_labels
    old_npv = {o.option: o.score_usd() for o in old.options if o.included}
    for option in new.options:
        if option.option in old_npv:
            assert option.score_usd() <= old_npv[option.option] * (1 + 1e-9)


def test_disaggregated_choice_is_confirmed_by_the_simulator() -> None:
    """The example's on-premise choice is EP8 + DP-attention units of 8 prefill and 24
    decode GPUs; replayed as one prefill and one decode pool at the peak hour, the
    simulator meets the targets and its p95 TTFT and TPOT are within the agreement
    tolerance of the planner's at that rate."""
    plan = plan_of(_example())
    design = _chosen(plan, "on_premise")
    assert design.split is not None
    check = simulate_design(design, seed=0, requests=STEADY_REQUESTS)
    assert not check.note, check.note
    assert check.meets_slo, check
    planned = operating_latency(design)
    assert check.ttft_ms == pytest.approx(planned.ttft_ms, rel=AGREEMENT)
    assert check.tpot_ms == pytest.approx(planned.tpot_ms, rel=AGREEMENT)


def test_split_is_kept_only_when_it_needs_the_fewest_gpus() -> None:
    """Every disaggregated design is the ratio that needs the fewest GPUs: no ratio of
    the scenario's list, sized the same way, needs fewer."""
    plan = plan_of(_example())
    aggregated = {d.label: d for d in _designs(plan) if d.split is None}
    for design in (d for d in _designs(plan) if d.split is not None):
        base = aggregated[design.label.rsplit(" ", 1)[0]]
        inp, cv_in = length_law(base.workload.input_tokens)
        out, cv_out = length_law(base.workload.output_tokens)
        work = SplitWorkload(Lengths(inp, cv_in), Lengths(out, cv_out), targets_of(base.workload))
        utilisation = plan.scenario.finance.max_utilisation
        for split in split_candidates(base.deployment, base.replicas):
            capacity = try_split_capacity(base.deployment, split, work, utilisation)
            if isinstance(capacity, ReplicaCapacity):
                units = math.ceil(design.peak_requests_per_s / capacity.max_requests_per_s - 1e-9)
                assert design.gpus <= units * (split.prefill_gpus + split.decode_gpus)


# ----------------------------------------------------------------------------- reporting


@cache
def _payload() -> dict[str, Any]:
    plan = plan_of(_example())
    ctx: PriceContext = plan_context(plan.scenario, bundled_catalog(), bundled_prices())
    return plan_payload(plan, ctx)


def _choice(option: str) -> dict[str, Any]:
    options = _payload()["options"]
    return next(o for o in options if o["option"] == option)["choices"][0]  # type: ignore[no-any-return]


def test_json_choices_carry_the_layout() -> None:
    split = _choice("on_premise")
    assert (split["ep"], split["dp_attention"]) == (8, True)
    assert (split["prefill_gpus"], split["decode_gpus"]) == (8, 24)
    assert split["gpus"] == split["replicas"] * 32 == split["gpus_per_replica"] * split["replicas"]
    assert "EP8 + DP attention" in features_text(split)
    assert "8 prefill : 24 decode" in features_text(split)
    plan = plan_of(_example())
    for option, data in zip(plan.options, _payload()["options"], strict=True):
        for choice, row in zip(option.choices, data.get("choices") or [], strict=True):
            design = choice.design
            if design is not None:
                assert (row["prefill_gpus"] is None) == (design.split is None)
                assert row["ep"] == (design.deployment.ep if design.deployment.ep > 1 else None)
    json.dumps(_payload())  # plain data


def test_dense_choice_has_null_layout_keys() -> None:
    plan = plan_of(load_example("saas-startup-growth"))
    ctx = plan_context(plan.scenario, bundled_catalog(), bundled_prices())
    for option in plan_payload(plan, ctx)["options"]:
        for choice in option.get("choices") or []:
            if "gpu" in choice:
                keys = ("ep", "dp_attention", "prefill_gpus", "decode_gpus")
                assert all(choice[k] is None for k in keys)
                assert choice["layout"] == ""


def test_deploy_emits_dp_attention_with_the_engines_own_options() -> None:
    plan = plan_of(_example())
    design = next(d for d in _designs(plan) if d.deployment.ep == 8 and d.split is None)
    spec = service_spec(design, "cloud_on_demand")
    assert (spec.ep, spec.dp_attention) == (8, True)
    catalog = bundled_catalog()
    sglang = launch(spec.with_engine(catalog.engine("sglang")), "30000").argv
    assert sglang[sglang.index("--ep-size") + 1] == "8"
    assert "--enable-dp-attention" in sglang and sglang[sglang.index("--dp-size") + 1] == "8"
    vllm = launch(spec.with_engine(catalog.engine("vllm")), "8000").argv
    assert vllm[vllm.index("--tensor-parallel-size") + 1] == "1"
    assert vllm[vllm.index("--data-parallel-size") + 1] == "8"
    assert "--enable-expert-parallel" in vllm
    trt = launch(spec, "8000")
    assert trt.argv[trt.argv.index("--ep_size") + 1] == "8"
    extra = yaml.safe_load(next(iter(trt.files.values())).split("\n", 1)[1])
    assert extra["enable_attention_dp"] is True
    for argv, family in ((sglang, "sglang"), (vllm, "vllm"), (trt.argv, "trtllm")):
        assert check_argv(family, argv) == []


def test_deploy_counts_a_units_replicas() -> None:
    design = _chosen(plan_of(_example()), "on_premise")
    assert design.split is not None
    spec = service_spec(design, "on_premise")
    assert spec.replicas == design.gpus // design.deployment.num_gpus
    assert spec.split == "8:24"


# ----------------------------------------------------------------------------- bad input

BAD = [
    ("split_ratios", ["1:0"], "candidates.split_ratios"),
    ("split_ratios", ["three"], "candidates.split_ratios"),
    ("split_ratios", ["1:17"], "candidates.split_ratios"),
    ("expert_parallel", "maybe", "candidates.expert_parallel"),
]


@pytest.mark.parametrize(("key", "value", "field"), BAD)
def test_cli_names_the_bad_field(tmp_path: Path, key: str, value: Any, field: str) -> None:
    data = yaml.safe_load(load_example_text())
    data["candidates"][key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and field in lines[0], result.output
    assert "Traceback" not in result.output


def load_example_text() -> str:
    return Path(bundled_examples()[EXAMPLE]).read_text(encoding="utf-8")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from llmplan.api import Settings, create_app

    made = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()


@pytest.mark.parametrize(("key", "value", "field"), BAD)
def test_api_names_the_bad_field(client: Any, key: str, value: Any, field: str) -> None:
    data = yaml.safe_load(load_example_text())
    data["candidates"][key] = value
    response = client.post("/api/v1/plans", json={"scenario": data})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == f"scenario.{field}"


@settings(max_examples=25, deadline=None)
@given(decode=st.floats(1, 2048), context=st.floats(100, 8000), ep=st.sampled_from([2, 4]))
def test_ep_below_tp_is_never_faster_than_ep_equal_tp(
    decode: float, context: float, ep: int
) -> None:
    """Why the search tries ``ep < tp`` only where ``ep = tp`` cannot be (plan/layouts.py)."""
    catalog = bundled_catalog()
    full = Deployment.from_names(
        catalog, model=R1, gpu="H200", precision="fp8", tp=8, ep=8, dp_attention=True
    )
    part = dataclasses.replace(full, ep=ep)
    shape = StepShape(decode_seqs=decode, decode_context=context)
    assert step_time(part, shape).total_s >= step_time(full, shape).total_s * (1 - 1e-12)


def test_ep_below_tp_moves_the_group_times_the_bytes() -> None:
    """Hand-derived: DeepSeek-R1 (top 8, hidden 7168) on tp8, 128 tokens per GPU, no
    imbalance. EP8: 128 x 8 x 7/8 = 896 token copies leave a GPU; EP2: each expert is
    split over 4 GPUs, so 128 x 8 x 4 x 7/8 = 3,584 copies, four times as many."""
    catalog = bundled_catalog()
    full = Deployment.from_names(
        catalog, model=R1, gpu="H200", precision="fp8", tp=8, ep=8, dp_attention=True,
        ep_load_imbalance=1.0,
    )  # fmt: skip
    half = dataclasses.replace(full, ep=2)
    dispatch_full = dispatch_combine_bytes(full, 128)[0]
    dispatch_half = dispatch_combine_bytes(half, 128)[0]
    per_element = ep_constant("dispatch_bytes_per_element")
    assert dispatch_full == pytest.approx(896 * 7168 * per_element, rel=1e-12)
    assert dispatch_half == pytest.approx(3584 * 7168 * per_element, rel=1e-12)


def test_ep_below_tp_is_searched_only_where_ep_equal_tp_cannot_be() -> None:
    """A model whose routed experts do not divide by tp (here DeepSeek-R1 given 100)
    gets the largest divisor that does on TensorRT-LLM and none on SGLang (EP = TP)."""
    catalog = bundled_catalog()
    r1 = catalog.model(R1)
    odd = r1.model_copy(update={"moe": r1.moe.model_copy(update={"num_experts": 100})})
    assert expert_layouts(odd, catalog.engine("trtllm"), 8, 1) == [
        Layout(8, 1, 4, True),
        Layout(8, 1, 4, False),
    ]
    assert expert_layouts(odd, catalog.engine("sglang"), 8, 1) == []
