"""Issue 13, items 1, 2, 3 and 8: time-phased capacity, whole servers, fleet-wide limits and
fractional break-even months.

Each ``test_issue13_problem_N`` failed before the feature (the field did not exist or the
answer was the flattened / fractional / per-workload / rounded one) and passes now.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmplan.catalog.loader import bundled_catalog
from llmplan.catalog.servers import ServerForm, bundled_servers, parse_servers
from llmplan.cli.main import app
from llmplan.cost import ApiUsage, CloudRental, CostLine, FinanceAssumptions, Fleet, OptionCost
from llmplan.cost.breakeven import breakeven_month, breakeven_months
from llmplan.cost.inputs import SiteKind
from llmplan.cost.model import cost_cloud, cost_colocation
from llmplan.cost.phasing import (
    PhasedFleet,
    commitment_ladder,
    cost_phased_api,
    cost_phased_owned,
    in_service,
    purchases,
    tranches,
)
from llmplan.cost.result import OptionKind
from llmplan.domain.capacity import CapacityAssumptions
from llmplan.errors import CatalogError, InputError
from llmplan.plan.fleet import Footprint, fleet_limit_problem, racks_for
from llmplan.plan.payload import plan_payload
from llmplan.plan.planner import make_plan, plan_context
from llmplan.prices.loader import bundled_prices
from llmplan.scenario.io import scenario_from_data

LENOVO = Path(__file__).parent / "fixtures" / "lenovo_lp2368.yaml"

GROWTH: dict[str, Any] = {
    "schema_version": 1,
    "name": "SaaS start-up growing 200 %/year",
    "workloads": [
        {
            "kind": "inference",
            "name": "assistant",
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "requests_per_day": 2_000_000,
            "input_tokens": {"mean": 1500},
            "output_tokens": {"mean": 300},
            "peak_to_average": 2,
            "slo": {"ttft_ms": 1000, "tpot_ms": 50, "percentile": 95},
            "growth_per_year": 2.0,
        }
    ],
    "constraints": {
        "allowed_options": ["on_premise", "cloud_on_demand", "cloud_reserved_1y"],
    },
    "finance": {"horizon_months": 36},
    "capacity": {"phased": True, "lead_time_months": 3},
    "candidates": {"gpus": ["H100-SXM-80GB"], "precisions": ["fp8"], "engines": ["vllm"]},
}


def with_changes(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(base))
    for key, values in sections.items():
        data.setdefault(key, {}).update(values)
    return data


@cache
def payload_of(text: str) -> dict[str, Any]:
    scenario = scenario_from_data(yaml.safe_load(text))
    plan = make_plan(
        scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=0, confirm=False
    )
    return plan_payload(plan, plan_context(scenario, bundled_catalog(), bundled_prices()))


def planned(data: dict[str, Any]) -> dict[str, Any]:
    return payload_of(yaml.safe_dump(data))


def option(payload: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in payload["options"] if o["option"] == name)
    return found


# --- problem 1: growth is no longer flattened -------------------------------------------------


def test_tranches_by_hand() -> None:
    """Need 1,1,2,2,3,5 servers. No lead time: buy the shortfall when it appears (months 0,
    2, 4, 5). Lead time 2: each tranche covers the largest need of the next 2 months too:
    month 0 buys max(1,1,2) = 2; month 4 buys max(3,5) - 2 = 3."""
    need = [1, 1, 2, 2, 3, 5]
    assert tranches(need, 0, 1) == [(0, 1), (2, 1), (4, 1), (5, 2)]
    assert tranches(need, 2, 1) == [(0, 2), (4, 3)]
    assert tranches([1, 2, 3], 0, 2) == [(0, 2), (2, 2)]  # at least 2 at a time
    assert in_service([(0, 2), (4, 3)], 6) == [2, 2, 2, 2, 5, 5]


def test_reserved_ladder_by_hand() -> None:
    """Term of 2 months, need 1,1,2,2,3: a rung of 1 at month 0, of 2 at month 2 (the first
    has expired), of 3 at month 4."""
    committed, rungs = commitment_ladder([1, 1, 2, 2, 3], 2)
    assert committed == [1, 1, 2, 2, 3]
    assert rungs == [(0, 1), (2, 2), (4, 3)]


@given(
    need=st.lists(st.integers(1, 40), min_size=1, max_size=48),
    lead=st.integers(0, 12),
    minimum=st.integers(1, 10),
)
def test_tranches_always_meet_the_need(need: list[int], lead: int, minimum: int) -> None:
    events = tranches(need, lead, minimum)
    counts = in_service(events, len(need))
    assert all(c >= n for c, n in zip(counts, need, strict=True))
    assert all(servers >= minimum for _, servers in events)
    assert counts == sorted(counts)  # capacity is kept, never sold early


def test_phased_fleet_with_constant_need_costs_what_one_purchase_costs() -> None:
    """No growth: one tranche in month 0, the same TCO as the flat model's (Lenovo-like
    server of 250,141.80 USD, 10.2 kW, 5-year life over a 5-year horizon)."""
    finance = FinanceAssumptions(horizon_months=60)
    server = Fleet(3, 8, 250_141.80, 10.2, busy_fraction=0.5)
    flat = cost_colocation(server, finance)
    phased = PhasedFleet(Fleet(1, 8, 250_141.80, 10.2), (3,) * 60, (0.5,) * 60)
    cost = cost_phased_owned(phased, finance, CapacityAssumptions(), SiteKind.COLOCATION, name="x")
    assert cost.tco_usd == pytest.approx(flat.tco_usd, rel=1e-12)


def test_price_decline_and_refresh_by_hand() -> None:
    """Two tranches of 1 server (months 0 and 12) at 100,000 USD with a 20 %/year decline,
    a 2-year life, a 36-month horizon: bought at 0 (100,000), 12 (80,000), refreshed at 24
    (64,000) and 36 is the horizon, so the month-12 tranche's refresh never happens."""
    finance = FinanceAssumptions(
        horizon_months=36, depreciation_years=2, residual_value_fraction=0.0
    )
    capacity = CapacityAssumptions(lead_time_months=0, hardware_price_decline_per_year=0.2)
    need = (1,) * 12 + (2,) * 24
    fleet = PhasedFleet(Fleet(1, 8, 100_000.0, 10.0), need, (1.0,) * 36)
    bought = [
        (p.month, round(p.usd)) for p in purchases(fleet, finance, capacity, SiteKind.COLOCATION)
    ]
    assert bought == [(0, 100_000), (12, 80_000), (24, 64_000)]
    cost = cost_phased_owned(fleet, finance, capacity, SiteKind.COLOCATION, name="x")
    assert cost.capex_usd == pytest.approx(244_000)


def test_phased_api_bills_each_months_tokens() -> None:
    """1 M tokens in month 0 growing to 4 M: at 1 USD/M tokens the bill is 1, 2, 4 USD."""
    usages = [ApiUsage(m * 0.5e6, m * 0.5e6, 1.0, 1.0) for m in (1, 2, 4)]
    cost = cost_phased_api(usages, FinanceAssumptions(horizon_months=3))
    assert list(cost.cash_flow_usd) == pytest.approx([0.0, 1.0, 2.0, 4.0])


def test_issue13_problem_1_growth_buys_tranches_and_scales_cloud() -> None:
    """200 %/year: several purchases, cloud on-demand billed for a rising fleet (last month
    well above the first), so it costs less than the final fleet billed every month."""
    phased = planned(GROWTH)
    owned = option(phased, "on_premise")
    assert len(owned["purchases"]) >= 3
    assert len({p["month"] for p in owned["purchases"]}) == len(owned["purchases"])
    in_service_gpus = [m["gpus_in_service"] for m in owned["monthly"]]
    assert in_service_gpus == sorted(in_service_gpus) and in_service_gpus[-1] > in_service_gpus[0]
    cloud = option(phased, "cloud_on_demand")
    bills = [m["usd"] for m in cloud["monthly"]]
    assert bills[-1] > 3 * bills[0]  # x 3^(35/12) = 7.5 in demand, in whole GPUs
    demand = [m["demand_requests_per_s"] for m in cloud["monthly"]]
    assert demand[-1] / demand[0] == pytest.approx(3 ** (35 / 12), rel=1e-6)
    flat = planned(with_changes(GROWTH, capacity={"phased": False}))
    assert cloud["tco_usd"] < 0.7 * option(flat, "cloud_on_demand")["tco_usd"]
    assert sum(bills) == pytest.approx(cloud["tco_usd"], rel=1e-9)


@pytest.mark.parametrize("whole", [False, True])
def test_without_growth_phased_costs_what_the_flat_model_costs(whole: bool) -> None:
    """No growth: one tranche at month 0, the same GPUs every month, the same tokens; every
    option's TCO is the flat model's (N+1 spare included)."""
    steady = with_changes(
        GROWTH,
        finance={"horizon_months": 24},
        capacity={"whole_servers": whole, "redundant_servers": 1},
    )
    steady["workloads"][0]["growth_per_year"] = 0.0
    flat = planned(with_changes(steady, capacity={"phased": False}))
    phased = planned(steady)
    for name in ("on_premise", "cloud_on_demand", "cloud_reserved_1y"):
        assert option(phased, name)["tco_usd"] == pytest.approx(
            option(flat, name)["tco_usd"], rel=1e-9
        ), name


def test_issue13_problem_1_breakeven_moves_with_growth() -> None:
    """With growth the owned fleet is bought later and the cloud bill starts small, so the
    crossing of on-premise and cloud on-demand is not the flat model's."""

    def crossing(data: dict[str, Any]) -> float | None:
        rows = planned(data)["breakeven"]
        row = next(
            (b for b in rows if {b["option"], b["versus"]} == {"on_premise", "cloud_on_demand"}),
            None,
        )
        return None if row is None else row["months"]

    slow = with_changes(GROWTH)
    slow["workloads"][0]["growth_per_year"] = 0.5
    assert crossing(GROWTH) != crossing(slow)


# --- problem 2: servers are bought whole ---------------------------------------------------

B200: dict[str, Any] = {
    "schema_version": 1,
    "name": "one replica of a 405B model on 4 B200",
    "workloads": [
        {
            "kind": "inference",
            "name": "big",
            "model": "meta-llama/Llama-3.1-405B-Instruct",
            "requests_per_day": 500,
            "input_tokens": {"mean": 1000},
            "output_tokens": {"mean": 200},
            "slo": {"ttft_ms": 5000, "tpot_ms": 100, "percentile": 95},
        }
    ],
    "constraints": {"allowed_options": ["on_premise"]},
    "finance": {"horizon_months": 36},
    "capacity": {"whole_servers": True},
    "candidates": {
        "gpus": ["B200-180GB"],
        "precisions": ["fp8"],
        "engines": ["vllm"],
        "max_gpus_per_replica": 4,
    },
}


def test_issue13_problem_2_four_gpus_of_an_hgx_board_cost_the_whole_server() -> None:
    """A 4-GPU replica on B200 buys the whole 8-GPU server (the catalogue's cheapest B200
    system, Lenovo SR680a V3 at 338,495.75 USD), and 4 GPUs are reported idle."""
    cheapest = min(s.price_usd for s in bundled_servers() if s.gpu == "B200-180GB")
    assert cheapest == pytest.approx(338_495.75)
    owned = option(planned(B200), "on_premise")
    choice = owned["choices"][0]
    assert choice["gpus"] == 4
    assert choice["servers"] == 1
    assert choice["idle_gpus"] == 4
    assert owned["lines_usd"]["hardware"] == pytest.approx(cheapest)
    assert owned["purchases"] == [
        {"month": 0, "servers": 1, "gpus": 8, "usd": pytest.approx(cheapest)}
    ]
    # 14.3 kW (DGX B200 rating) at the wall with the default PUE of 1.3
    assert owned["power_kw"] == pytest.approx(14.3 * 1.3)
    assert owned["racks"] == 1


def test_redundant_server_is_bought_and_powered() -> None:
    """N+1: one spare server more than the replicas need."""
    spare = option(planned(with_changes(B200, capacity={"redundant_servers": 1})), "on_premise")
    assert spare["purchases"][0]["servers"] == 2
    assert spare["lines_usd"]["hardware"] == pytest.approx(2 * 338_495.75)
    assert spare["it_power_kw"] == pytest.approx(2 * 14.3)


def test_server_catalogue_integrity() -> None:
    """Every entry names a catalog GPU, holds at most a rack's worth of them, draws at least
    its GPUs' TDP, takes rack space unless it is a tower, and is sourced and dated."""
    gpus = {g.id: g for g in bundled_catalog().gpus.records}
    entries = bundled_servers()
    assert len({e.id for e in entries}) == len(entries)
    forms = {e.form for e in entries}
    assert forms >= {
        ServerForm.HGX8,
        ServerForm.OAM8,
        ServerForm.PCIE4,
        ServerForm.RACK,
        ServerForm.WORKSTATION,
    }
    for entry in entries:
        gpu = gpus[entry.gpu]
        assert entry.power_kw >= entry.gpus * gpu.tdp_w / 1000, entry.id
        assert (entry.rack_units == 0) == (entry.form is ServerForm.WORKSTATION), entry.id
        assert entry.price_date.year >= 2020 and len(entry.source) > 20, entry.id
        if gpu.price_usd is not None and entry.form is not ServerForm.RACK:
            assert entry.usd_per_gpu >= 0.5 * gpu.price_usd, entry.id


def test_bad_server_entry_names_the_entry_and_field() -> None:
    text = (
        "servers:\n- {id: bad-box, name: box, form: hgx8, gpu: H100-SXM-80GB, gpus: 8,\n"
        "   price_usd: -1, power_kw: 10, rack_units: 8, source: somewhere else,\n"
        "   price_date: 2025-01-01}\n"
    )
    with pytest.raises(CatalogError, match="bad-box: price_usd"):
        parse_servers(text, "mine.yaml")


# --- problem 3: limits hold for the whole fleet ---------------------------------------------

TWO_WORKLOADS: dict[str, Any] = {
    "schema_version": 1,
    "name": "two workloads, one rack",
    "workloads": [
        {
            "kind": "inference",
            "name": name,
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "requests_per_day": 1000,
            "input_tokens": {"mean": 500},
            "output_tokens": {"mean": 100},
            "slo": {"ttft_ms": 2000, "tpot_ms": 100, "percentile": 95},
        }
        for name in ("chat", "search")
    ],
    "constraints": {"allowed_options": ["on_premise", "api"], "max_racks": 1},
    "finance": {"horizon_months": 36},
    # each workload on servers of its own (shared servers: tests/test_issue13_item8.py)
    "capacity": {"whole_servers": True, "share_servers_across_models": False},
    "candidates": {"gpus": ["H100-SXM-80GB"], "precisions": ["fp8"], "engines": ["vllm"]},
}


def test_issue13_problem_3_two_racks_under_a_one_rack_limit_are_excluded() -> None:
    """Each workload alone fits one rack (one 10.2 kW server in a 15 kW rack); together they
    need 2 racks, over max_racks 1, and the reason names the rule and the figures."""
    owned = option(planned(TWO_WORKLOADS), "on_premise")
    assert not owned["included"]
    reason = owned["excluded_reason"]
    assert "constraints.max_racks 1" in reason and "2 racks" in reason, reason
    single = with_changes(TWO_WORKLOADS)
    single["workloads"] = single["workloads"][:1]
    assert option(planned(single), "on_premise")["included"]


def test_power_budgets_apply_to_the_whole_fleet_with_and_without_pue() -> None:
    """Two 10.2 kW servers: 20.4 kW IT, 26.52 kW at the wall with PUE 1.3."""
    it_limited = with_changes(TWO_WORKLOADS, constraints={"max_racks": None, "power_budget_kw": 15})
    reason = option(planned(it_limited), "on_premise")["excluded_reason"]
    assert "20.4 kW" in reason and "constraints.power_budget_kw 15" in reason, reason
    wall = with_changes(TWO_WORKLOADS, constraints={"max_racks": None, "site_power_budget_kw": 25})
    reason = option(planned(wall), "on_premise")["excluded_reason"]
    assert "26.5 kW at the wall" in reason and "site_power_budget_kw 25" in reason, reason
    roomy = with_changes(TWO_WORKLOADS, constraints={"max_racks": 2, "site_power_budget_kw": 27})
    owned = option(planned(roomy), "on_premise")
    assert owned["included"] and owned["racks"] == 2
    assert owned["power_kw"] == pytest.approx(2 * 10.2 * 1.3)


def test_floor_space_is_summed_over_the_fleet() -> None:
    """Two racks of 2.5 m2 (default) = 5 m2, over a 4 m2 limit; 3 m2 racks, 6 m2."""
    small = with_changes(TWO_WORKLOADS, constraints={"max_racks": None, "max_floor_m2": 4})
    reason = option(planned(small), "on_premise")["excluded_reason"]
    assert "5.0 m2 of floor" in reason and "constraints.max_floor_m2 4" in reason, reason
    roomy = with_changes(
        TWO_WORKLOADS, constraints={"max_racks": None}, capacity={"floor_m2_per_rack": 3}
    )
    assert option(planned(roomy), "on_premise")["floor_m2"] == pytest.approx(6.0)


def test_racks_by_hand() -> None:
    """15 kW racks of 42U: 10.2 kW servers one per rack; 2.52 kW 2U servers 5 per rack
    (power); 0.3 kW 2U servers 21 per rack (height); a 20 kW server takes 2 racks."""
    finance, capacity = FinanceAssumptions(), CapacityAssumptions()
    assert racks_for(3, 10.2, 8, finance, capacity) == 3
    assert racks_for(6, 2.52, 2, finance, capacity) == 2
    assert racks_for(30, 0.3, 2, finance, capacity) == 2
    assert racks_for(2, 20.0, 8, finance, capacity) == 4
    assert racks_for(2, 120.0, 48, finance, capacity, fills_rack=True) == 2


def test_fleet_limit_problem_is_empty_within_limits() -> None:
    total = Footprint(servers=2, gpus=16, it_kw=20.4, racks=2)
    assert fleet_limit_problem(total, 21.0, 26.6, 2, FinanceAssumptions()) == ""


# --- problem 8: break-even months are not rounded -------------------------------------------


def test_fractional_breakeven_by_hand() -> None:
    """A: 100 USD at t=0 then 10/month; B: 33/month. A - B = 100 - 23 m, zero at 4.3478."""
    months = 12
    a = np.full(months + 1, 10.0)
    a[0] = 100.0
    b = np.full(months + 1, 33.0)
    b[0] = 0.0
    cost_a = OptionCost("a", OptionKind.ON_PREMISE, {CostLine.HARDWARE: a}, 0.0)
    cost_b = OptionCost("b", OptionKind.CLOUD, {CostLine.CLOUD_HOURS: b}, 0.0)
    assert breakeven_months(cost_a, cost_b) == pytest.approx(100 / 23)
    assert breakeven_month(cost_a, cost_b, sustained=True) == 5


def test_issue13_problem_8_lenovo_breakeven_is_3_73_months_not_4() -> None:
    """LP2368 config A vs Azure ND96isr H100 v5 on demand: 2,720 h = 3.73 months of 730 h
    (the study's figure); the whole-month answer is 4."""
    study = yaml.safe_load(LENOVO.read_text(encoding="utf-8"))
    from llmplan.cost import finance_from_mapping

    finance = finance_from_mapping(study["finance"])
    spec = study["configs"]["A"]
    kw = spec["power_and_cooling_usd_per_hour"] / finance.energy_usd_per_it_kwh
    owned = cost_colocation(Fleet(1, spec["gpus"], spec["price_usd"], kw), finance)
    azure = study["cloud_usd_per_instance_hour"]["azure_nd96isr_h100_v5"]["on_demand"]
    rented = cost_cloud(CloudRental(instances=1, usd_per_instance_hour=azure), finance)
    expected = study["results"]["breakeven_hours_a_vs_azure"]["on_demand"] / finance.hours_per_month
    assert breakeven_months(owned, rented) == pytest.approx(expected, rel=0.01)
    assert not math.isclose(breakeven_months(owned, rented) or 0, 4.0, abs_tol=0.1)


def test_plan_breakeven_rows_carry_fractional_months() -> None:
    for row in planned(GROWTH)["breakeven"]:
        if row["month"] is None:
            assert row["months"] is None
        else:
            assert row["month"] - 1 <= row["months"] <= row["month"]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("capacity", {"lead_time_months": -1}, "capacity.lead_time_months"),
        ("capacity", {"min_tranche_servers": 0}, "capacity.min_tranche_servers"),
        (
            "capacity",
            {"hardware_price_decline_per_year": 1.5},
            "capacity.hardware_price_decline_per_year",
        ),
        ("capacity", {"phasd": True}, "capacity.phasd"),
        ("constraints", {"site_power_budget_kw": 0}, "constraints.site_power_budget_kw"),
        ("constraints", {"max_floor_m2": -5}, "constraints.max_floor_m2"),
        ("capacity", {"floor_m2_per_rack": 0}, "capacity.floor_m2_per_rack"),
    ],
)
def test_bad_capacity_fields_name_the_field(
    section: str,
    values: dict[str, Any],
    field: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = with_changes(GROWTH, **{section: values})
    with pytest.raises(InputError) as caught:
        scenario_from_data(data)
    assert caught.value.field == field
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["plan", str(path), "--json"])
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert field.split(".")[-1] in result.stderr


def test_api_refuses_a_bad_capacity_field_with_422(tmp_path: Path) -> None:
    import warnings

    from llmplan.api import Settings, create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    client = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    try:
        body = {"scenario": with_changes(GROWTH, capacity={"lead_time_months": -1})}
        response = client.post("/api/v1/plans", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "scenario.capacity.lead_time_months"
    finally:
        client.app.state.llmplan.store.close()  # type: ignore[attr-defined]


# --- redundancy from a failure rate (issue 13, "What to build" 3) ------------------------------


def _poisson_tail(mean: float, k: int) -> float:
    """P(X > k) for X ~ Poisson(mean), summed by hand."""
    return 1.0 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k + 1))


@pytest.mark.parametrize(
    ("servers", "failures", "days", "shortfall"),
    [(1, 1.4, 3.0, 0.01), (100, 1.4, 3.0, 0.01), (1000, 1.4, 7.0, 0.001), (10, 0.2, 14.0, 0.05)],
)
def test_spares_are_the_smallest_count_with_the_accepted_shortfall(
    servers: int, failures: float, days: float, shortfall: float
) -> None:
    capacity = CapacityAssumptions(
        server_failures_per_year=failures,
        server_repair_days=days,
        spare_shortfall_probability=shortfall,
    )
    mean = servers * failures * days / 365
    k = capacity.spare_servers(servers)
    assert _poisson_tail(mean, k) <= shortfall
    assert k == 0 or _poisson_tail(mean, k - 1) > shortfall


def test_spares_never_fall_below_the_stated_n_plus_one() -> None:
    capacity = CapacityAssumptions(redundant_servers=2, server_failures_per_year=0.1)
    assert capacity.spare_servers(1) == 2
    assert CapacityAssumptions().spare_servers(500) == 0


def test_a_failure_rate_buys_a_spare_server() -> None:
    """One DGX B200 with Meta's ~1.4 failures per server-year, 3 days to repair and a 1 %
    shortfall: P(down > 0) = 1 - exp(-0.0115) = 1.1 % > 1 %, so one spare is bought."""
    spare = option(
        planned(with_changes(B200, capacity={"server_failures_per_year": 1.4})), "on_premise"
    )
    assert spare["purchases"][0]["servers"] == 2
    assert spare["lines_usd"]["hardware"] == pytest.approx(2 * 338_495.75)
