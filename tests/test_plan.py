"""The planner on the bundled examples and on hand-made scenarios.

Checks behaviour that must hold whatever the calibrated efficiencies are: constraints
rule options out with a reason, chosen designs meet their SLOs and carry the peak, totals
add up, more demand never needs less hardware, Monte Carlo is reproducible by seed.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np
import pytest

from llmplan.catalog.loader import bundled_catalog
from llmplan.cost import CostLine
from llmplan.plan.evidence import pareto_points, readiness, reasons, risks
from llmplan.plan.options import PriceContext
from llmplan.plan.payload import plan_payload
from llmplan.plan.planner import BreakEven, Plan, make_plan, plan_context
from llmplan.prices.loader import bundled_prices
from llmplan.scenario import DeploymentOption, Scenario, bundled_examples, load_example
from llmplan.scenario.io import scenario_from_data, scenario_to_data

EXAMPLES = sorted(bundled_examples())


@cache
def planned(name: str, samples: int = 50) -> Plan:
    scenario = load_example(name)
    return make_plan(scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=samples)


def ctx_of(scenario: Scenario) -> PriceContext:
    return plan_context(scenario, bundled_catalog(), bundled_prices())


def variant(name: str, **workload_changes: object) -> Scenario:
    data = scenario_to_data(load_example(name))
    data["workloads"][0].update(workload_changes)
    return scenario_from_data(data)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_gets_a_recommendation(name: str) -> None:
    plan = planned(name)
    assert plan.recommended is not None, [o.excluded for o in plan.options]
    for option in plan.options:
        assert option.included != bool(option.excluded), option
        if option.excluded:
            assert option.option.value in option.excluded or "(" in option.excluded


@pytest.mark.parametrize("name", EXAMPLES)
def test_chosen_designs_meet_their_slos_and_carry_the_peak(name: str) -> None:
    plan = planned(name)
    horizon = plan.scenario.finance.horizon_months
    for option in plan.included:
        for choice in option.choices:
            design = choice.design
            if design is None:
                continue
            slo = design.workload.slo
            latency = design.capacity.latency
            assert slo.ttft_ms is None or latency.ttft_ms <= slo.ttft_ms * (1 + 1e-9)
            if design.measured_source is None:
                assert slo.tpot_ms is None or latency.tpot_ms <= slo.tpot_ms * (1 + 1e-9)
            peak = design.workload.peak_requests_per_s(horizon - 1)
            assert design.replicas * design.capacity.max_requests_per_s >= peak * (1 - 1e-9)
            added = plan.replicas_added.get(design.label, 0)  # by the simulator check
            assert (design.replicas - 1 - added) * design.capacity.max_requests_per_s < peak


@pytest.mark.parametrize("name", EXAMPLES)
def test_totals_are_the_sum_of_their_lines(name: str) -> None:
    for option in planned(name).included:
        cost = option.cost
        assert cost is not None
        lines = sum(cost.line_total_usd(line) for line in cost.lines_usd)
        assert cost.tco_usd == pytest.approx(lines, rel=1e-9)
        assert cost.cumulative_usd[-1] == pytest.approx(cost.tco_usd, rel=1e-9)
        assert cost.tco_usd > 0


def test_air_gapped_scenario_keeps_only_owned_options() -> None:
    plan = planned("airgapped-eu-gdpr")
    for option in plan.options:
        if option.option.is_owned:
            assert option.included, option.excluded
        else:
            assert not option.included
            assert "air-gapped" in option.excluded


def test_data_residency_excludes_the_api_with_the_reason() -> None:
    plan = planned("batch-summarisation")
    api = next(o for o in plan.options if o.option is DeploymentOption.API)
    assert not api.included
    assert "eu" in api.excluded


def test_impossible_slo_excludes_every_hardware_option_with_reasons() -> None:
    scenario = variant("airgapped-eu-gdpr", slo={"ttft_ms": 1, "tpot_ms": 0.01, "percentile": 99})
    plan = make_plan(scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=0)
    assert plan.recommended is None
    assert all(o.excluded for o in plan.options)
    assert plan.rejected and all("target" in r.reason for r in plan.rejected)
    assert reasons(plan) == ["no option can serve the scenario; see the excluded options"]


def test_more_requests_never_need_fewer_gpus() -> None:
    base = load_example("airgapped-eu-gdpr")
    volume = base.inference_workloads()[0].requests_per_day
    assert volume is not None
    gpus = []
    for factor in (0.5, 1, 4, 16):
        scenario = variant("airgapped-eu-gdpr", requests_per_day=volume * factor)
        plan = make_plan(scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=0)
        best = {d.label: d.gpus for d in plan.designs[scenario.workloads[0].name]}
        gpus.append(best)
    for smaller, larger in itertools.pairwise(gpus):
        for label, count in smaller.items():
            assert larger[label] >= count, label


def test_monte_carlo_is_reproducible_by_seed() -> None:
    scenario = load_example("chat-assistant")
    run = [
        make_plan(scenario, bundled_catalog(), bundled_prices(), seed=s, monte_carlo_samples=40)
        for s in (7, 7, 8)
    ]
    a, b, c = (r.monte_carlo for r in run)
    assert a is not None and b is not None and c is not None
    assert (a.samples_usd == b.samples_usd).all()
    assert "inference_volume_multiple" in a.inputs and "electricity_usd_per_kwh" in a.inputs
    assert not (a.samples_usd == c.samples_usd).all()


def test_pareto_front_is_not_dominated() -> None:
    scenario = load_example("rag-long-prompts")
    points = pareto_points(planned("rag-long-prompts"), ctx_of(scenario))
    front = [p for p in points if p.on_front]
    assert front
    for p in front:
        assert not any(q.npv_usd < p.npv_usd and q.ttft_ms < p.ttft_ms for q in points)


def test_readiness_states_staff_and_checklist() -> None:
    plan = planned("airgapped-eu-gdpr")
    best = plan.recommended
    assert best is not None
    ready = readiness(plan, best)
    finance = plan.scenario.finance
    gpus = sum(c.design.gpus for c in best.choices if c.design)
    expected = max(finance.min_staff_fte, gpus / finance.gpus_per_fte)
    assert ready["staff_fte"] == pytest.approx(expected)
    assert ready["checklist"]


def test_payload_is_plain_data_with_the_documented_keys() -> None:
    scenario = load_example("finetuning-programme")
    payload = plan_payload(planned("finetuning-programme"), ctx_of(scenario))
    keys = {"scenario", "recommended", "options", "breakeven", "pareto", "sensitivity", "search"}
    assert keys <= set(payload)
    assert payload["fine_tuning"] and all(t["hours_per_run"] > 0 for t in payload["fine_tuning"])
    for option in payload["options"]:
        if option["included"]:
            assert option["usd_per_mtok"] is None or math.isfinite(option["usd_per_mtok"])
            assert len(option["cumulative_usd"]) == scenario.finance.horizon_months + 1


def test_spot_is_not_recommended_for_workloads_with_latency_targets() -> None:
    plan = planned("chat-assistant")
    best = plan.recommended
    assert best is not None
    assert best.option is not DeploymentOption.CLOUD_SPOT


def test_volume_crossings_are_where_the_costs_meet() -> None:
    """At the reported volume multiple the two options swap order: just below it one is
    cheaper, just above it the other (costs step where a fleet gains a replica, so the
    swap may be at such a step rather than where the NPVs are equal)."""
    from llmplan.plan.crossing import VOLUME_MULTIPLES

    plan = planned("chat-assistant")
    recipes = {o.option.value: o.recipe for o in plan.included if o.recipe}
    finance = plan.scenario.finance
    crossings = [b for b in plan.breakeven if b.volume_multiple is not None]
    assert crossings
    for b in crossings:
        k = b.volume_multiple
        assert k is not None and VOLUME_MULTIPLES[0] <= k <= VOLUME_MULTIPLES[-1]

        def gap(m: float, b: BreakEven = b) -> float:
            return recipes[b.option](finance, m).npv_usd - recipes[b.versus](finance, m).npv_usd

        # costs may step up and down (a hybrid's base fleet gains a replica while its
        # burst shrinks), so the swap can be a narrow window: look for both signs close by
        gaps = [gap(k * (1 + t)) for t in np.linspace(-1e-3, 1e-3, 401)]
        assert min(gaps) <= 0 <= max(gaps), b


def test_hybrid_at_the_peak_percentile_has_no_bursts() -> None:
    data = scenario_to_data(load_example("chat-assistant"))
    data["workloads"][0]["requests_per_day"] = 200_000
    data["candidates"]["hybrid_base_demand_percentile"] = 100
    plan = make_plan(
        scenario_from_data(data), bundled_catalog(), bundled_prices(), monte_carlo_samples=0
    )
    hybrid = next(o for o in plan.options if o.option is DeploymentOption.HYBRID)
    assert hybrid.cost is not None
    assert hybrid.cost.line_total_usd(CostLine.CLOUD_HOURS) == 0
    data["candidates"]["hybrid_base_demand_percentile"] = 0
    plan = make_plan(
        scenario_from_data(data), bundled_catalog(), bundled_prices(), monte_carlo_samples=0
    )
    hybrid = next(o for o in plan.options if o.option is DeploymentOption.HYBRID)
    assert hybrid.cost is not None
    # bursts go to cloud on-demand, or to the API when no on-demand price of the design's GPU
    # satisfies constraints.compliance (soc2 here)
    burst = CostLine.CLOUD_HOURS, CostLine.API_TOKENS
    assert sum(hybrid.cost.line_total_usd(line) for line in burst) > 0


def test_full_utilisation_never_needs_more_replicas() -> None:
    """max_utilisation = 1 (hardware planned fully busy, as Lenovo LP2368 assumes)."""
    base = planned("rag-long-prompts")
    data = scenario_to_data(load_example("rag-long-prompts"))
    data["finance"]["max_utilisation"] = 1.0
    full = make_plan(
        scenario_from_data(data), bundled_catalog(), bundled_prices(), monte_carlo_samples=0
    )
    for name, designs in base.designs.items():
        replicas = {d.label: d.replicas for d in full.designs[name]}
        for design in designs:
            if design.label in replicas:
                assert replicas[design.label] <= design.replicas


def test_one_team_staffs_all_of_an_options_owned_gpus() -> None:
    """On premise, the serving replicas and the fine-tuning servers share one team:
    staff = max(min_staff_fte, all owned GPUs / gpus_per_fte), not one minimum per server."""
    plan = planned("finetuning-programme")
    finance = plan.scenario.finance
    option = next(o for o in plan.options if o.option is DeploymentOption.ON_PREMISE)
    assert option.cost is not None
    gpus = sum(c.design.gpus for c in option.choices if c.design) + sum(
        t.gpus for t in plan.training
    )
    fte = max(finance.min_staff_fte, gpus / finance.gpus_per_fte)
    expected = fte * finance.loaded_staff_usd_per_fte_year * finance.horizon_months / 12
    assert option.cost.line_total_usd(CostLine.STAFF) == pytest.approx(expected, rel=1e-9)


def test_readiness_checklist_items_are_sentences() -> None:
    """Every checklist item of data/readiness.yaml reads as text (a colon in an unquoted
    YAML item would turn it into a mapping)."""
    from llmplan.plan.evidence import readiness_items

    items = readiness_items()
    assert {"owned", "cloud", "api"} <= set(items)
    for kind, entries in items.items():
        for entry in entries:
            assert isinstance(entry, str) and not entry.startswith("{"), (kind, entry)


@pytest.mark.parametrize("name", ["airgapped-eu-gdpr", "batch-summarisation"])
def test_recommended_designs_are_confirmed_by_the_simulator(name: str) -> None:
    """The recommended option's designs were replayed at their peak hour; whatever the
    simulator said is in the plan, and a remaining miss is listed as a risk."""
    plan = planned(name)
    best = plan.recommended
    assert best is not None
    designs = [c.design for c in best.choices if c.design is not None]
    assert len(plan.simulation) == len(designs) > 0
    for check, design in zip(plan.simulation, designs, strict=True):
        assert check.replicas == design.replicas
        assert check.percentile == design.workload.slo.percentile
        if not check.meets_slo:
            assert any("simulator" in r for r in risks(plan, best))


def test_crossing_is_found_by_bisection_at_a_cost_step() -> None:
    """Two options whose NPV gap jumps from -1 to +1 at a volume of 1.3 (a fleet gaining
    a replica): linear interpolation between grid points would report the middle of the
    grid interval; bisection reports the step itself."""
    from llmplan.plan.crossing import (
        CROSSING_RELATIVE_TOLERANCE,
        VOLUME_MULTIPLES,
        crossing_multiple,
    )

    def gap(k: float) -> float:
        return -1.0 if k < 1.3 else 1.0

    a = np.array([gap(float(k)) for k in VOLUME_MULTIPLES])
    b = np.zeros_like(a)
    interpolated = crossing_multiple(a, b)
    bisected = crossing_multiple(a, b, gap)
    assert interpolated is not None and bisected is not None
    assert bisected == pytest.approx(1.3, rel=2 * CROSSING_RELATIVE_TOLERANCE)
    assert abs(interpolated - 1.3) > 10 * abs(bisected - 1.3)
