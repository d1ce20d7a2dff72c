"""Cost engine: hand-derived monthly costs, residual values, cloud, API and hybrid.

Every expected number is worked by hand in the test's docstring from the inputs shown,
never copied from llmplan's output. ``EXACT`` is the relative tolerance for sums of a few
dozen floats.
"""

from __future__ import annotations

import numpy as np
import pytest

from llmplan.cost import (
    ApiUsage,
    CloudRental,
    Commitment,
    CostLine,
    FinanceAssumptions,
    Fleet,
    OptionKind,
    SiteKind,
    cost_api,
    cost_cloud,
    cost_colocation,
    cost_hybrid,
    cost_on_premise,
    finance_from_mapping,
    fleet_from_gpus,
    racks_needed,
    self_hosted_hourly,
    staff_fte,
    with_overrides,
)
from llmplan.cost.result import OptionCost
from llmplan.errors import ConfigurationError, InputError

EXACT = 1e-9

# Shared plain finance: no PUE, cooling, staff, space, maintenance or discounting unless a
# test sets them, so each test exercises the lines it names.
PLAIN = FinanceAssumptions(
    horizon_months=12,
    electricity_usd_per_kwh=0.10,
    pue=1.0,
    average_power_fraction_of_tdp=1.0,
    colocation_usd_per_kw_month=0.0,
    maintenance_fraction_per_year=0.0,
    staff_usd_per_fte_year=0.0,
    min_staff_fte=0.0,
)


@pytest.fixture
def colo_finance() -> FinanceAssumptions:
    return FinanceAssumptions(
        horizon_months=24,
        depreciation_years=3,
        residual_value_fraction=0.3,
        electricity_usd_per_kwh=0.10,
        pue=1.5,
        cooling_usd_per_kwh=0.02,
        average_power_fraction_of_tdp=0.6,
        idle_power_fraction_of_tdp=0.2,
        colocation_usd_per_kw_month=200.0,
        colocation_usd_per_rack_month=1000.0,
        rack_kw=20.0,
        maintenance_fraction_per_year=0.12,
        staff_usd_per_fte_year=120_000.0,
        staff_on_cost_factor=1.0,  # base pay: the hand derivation below
        gpus_per_fte=16.0,
        min_staff_fte=0.5,
        network_storage_usd_per_month=500.0,
        network_capex_usd_per_server=10_000.0,
    )


def test_colocation_by_hand(colo_finance):
    """3 servers x 8 GPUs, $200k, 10 kW, busy half the time, 24 months:

    IT power 30 kW x (0.5 x 0.6 + 0.5 x 0.2) = 12 kW -> 8,760 kWh/month;
    energy 8,760 x 0.10 x 1.5 = 1,314; cooling 8,760 x 0.02 = 175.2;
    space 30 kW x 200 + 2 racks (2 servers per 20-kW rack) x 1,000 = 8,000;
    maintenance 630,000 x 0.12 / 12 = 6,300; staff max(0.5, 24/16) = 1.5 x 10,000 = 15,000;
    network/storage 500 -> running 31,289.2/month, 750,940.8 over 24 months.
    Purchase 3 x (200,000 + 10,000) = 630,000 at t=0; at month 24 of a 36-month life the
    book value is 630,000 x (1 - 0.7 x 24/36) = 336,000 (credited).
    TCO = 630,000 + 750,940.8 - 336,000 = 1,044,940.8.
    """
    fleet = Fleet(
        servers=3,
        gpus_per_server=8,
        server_price_usd=200_000.0,
        server_power_kw=10.0,
        busy_fraction=0.5,
    )
    cost = cost_colocation(fleet, colo_finance)
    per_month = {
        CostLine.ENERGY: 1_314.0,
        CostLine.COOLING: 175.2,
        CostLine.SPACE: 8_000.0,
        CostLine.MAINTENANCE: 6_300.0,
        CostLine.STAFF: 15_000.0,
        CostLine.NETWORK_STORAGE: 500.0,
    }
    for line, usd in per_month.items():
        assert cost.opex_usd_by_line[line] == pytest.approx(24 * usd, rel=EXACT), line
    assert cost.capex_usd == pytest.approx(630_000.0, rel=EXACT)
    assert cost.line_total_usd(CostLine.HARDWARE) == pytest.approx(600_000.0, rel=EXACT)
    assert cost.residual_value_usd == pytest.approx(336_000.0, rel=EXACT)
    assert cost.tco_usd == pytest.approx(1_044_940.8, rel=EXACT)
    assert cost.kind is OptionKind.COLOCATION
    assert cost.cash_flow_usd[0] == pytest.approx(630_000.0, rel=EXACT)
    assert len(cost.cash_flow_usd) == 25
    assert any("1.5 FTE" in note for note in cost.assumptions)


def _refresh_finance(**overrides: object) -> FinanceAssumptions:
    base = {
        **PLAIN.model_dump(),
        "horizon_months": 60,
        "depreciation_years": 2,
        "residual_value_fraction": 0.1,
        "on_premise_site_usd_per_kw_month": 50.0,
    }
    return finance_from_mapping({**base, **overrides})


def test_on_premise_refresh_and_book_value():
    """1 server $100k, 5 kW, 60 months, 2-year life, 10 % residual, site $50/kW-month:

    bought at months 0, 24, 48 = 300,000; sold at 24 and 48 for 10,000 each; at 60 the last
    one is 12 of 24 months old: book 100,000 x (1 - 0.9 x 0.5) = 55,000 -> credits 75,000.
    Energy 5 x 730 x 0.10 = 365/month, space 250/month -> 36,900 over 60 months.
    TCO = 300,000 - 75,000 + 36,900 = 261,900; without the horizon credit 316,900.
    """
    fleet = Fleet(1, 8, 100_000.0, 5.0)
    cost = cost_on_premise(fleet, _refresh_finance())
    assert cost.capex_usd == pytest.approx(300_000.0, rel=EXACT)
    assert cost.residual_value_usd == pytest.approx(75_000.0, rel=EXACT)
    assert cost.tco_usd == pytest.approx(261_900.0, rel=EXACT)
    assert cost.cash_flow_usd[24] == pytest.approx(100_000 - 10_000 + 365 + 250, rel=EXACT)
    kept = cost_on_premise(fleet, _refresh_finance(credit_residual_at_horizon=False))
    assert kept.tco_usd == pytest.approx(316_900.0, rel=EXACT)


def test_life_ending_at_horizon_is_sold_at_residual():
    """48 months, 2-year life: bought at 0 and 24, the second sold at 48 for 10 % even when
    book value is not credited: capex 200,000, credits 2 x 10,000 = 20,000."""
    cost = cost_on_premise(
        Fleet(1, 8, 100_000.0, 5.0),
        _refresh_finance(horizon_months=48, credit_residual_at_horizon=False),
    )
    assert cost.capex_usd == pytest.approx(200_000.0, rel=EXACT)
    assert cost.residual_value_usd == pytest.approx(20_000.0, rel=EXACT)


def test_cloud_on_demand_part_time():
    """2 instances x $5/h x 200 h/month x 12 months = 24,000; storage $100/month = 1,200;
    cloud staff 0.25 FTE x $120k / 12 = 2,500/month = 30,000. TCO 55,200."""
    finance = with_overrides(
        PLAIN,
        cloud_storage_egress_usd_per_month=100.0,
        cloud_staff_fte=0.25,
        staff_usd_per_fte_year=120_000.0,
        staff_on_cost_factor=1.0,  # base pay: the hand derivation below
    )
    cost = cost_cloud(CloudRental(2, 5.0, billed_hours_per_month=200.0), finance)
    assert cost.opex_usd_by_line[CostLine.CLOUD_HOURS] == pytest.approx(24_000.0, rel=EXACT)
    assert cost.opex_usd_by_line[CostLine.CLOUD_STORAGE_EGRESS] == pytest.approx(1_200.0)
    assert cost.opex_usd_by_line[CostLine.STAFF] == pytest.approx(30_000.0, rel=EXACT)
    assert cost.tco_usd == pytest.approx(55_200.0, rel=EXACT)
    assert cost.capex_usd == 0.0
    assert cost.name == "cloud-on_demand"


def test_reserved_term_past_horizon_is_charged():
    """1-year reserved over 18 months: 2 x $5 x 730 h = 7,300/month x 18 = 131,400, plus the
    6 months left on the second term, 43,800, booked in month 18. TCO 175,200."""
    finance = with_overrides(PLAIN, horizon_months=18)
    cost = cost_cloud(CloudRental(2, 5.0, commitment=Commitment.RESERVED_1Y), finance)
    assert cost.line_total_usd(CostLine.CLOUD_COMMITMENT_OVERHANG) == pytest.approx(43_800.0)
    assert cost.cash_flow_usd[-1] == pytest.approx(7_300.0 + 43_800.0, rel=EXACT)
    assert cost.tco_usd == pytest.approx(175_200.0, rel=EXACT)


@pytest.mark.parametrize(
    ("rental", "field"),
    [
        (
            CloudRental(1, 5.0, billed_hours_per_month=100.0, commitment=Commitment.RESERVED_3Y),
            "billed_hours_per_month",
        ),
        (CloudRental(1, 5.0, billed_hours_per_month=800.0), "billed_hours_per_month"),
    ],
)
def test_cloud_billing_conflicts(rental, field):
    with pytest.raises(ConfigurationError) as info:
        cost_cloud(rental, PLAIN)
    assert info.value.field == field


def test_api_by_hand():
    """100M input (40 % cached at $0.30), 20M output; $3 / $15 per M tokens:
    60 x 3 + 40 x 0.3 + 20 x 15 = 180 + 12 + 300 = $492/month, x 12 = $5,904;
    per M tokens 5,904 / (120M x 12) x 1e6 = $4.10."""
    usage = ApiUsage(
        100e6, 20e6, 3.0, 15.0, cached_input_fraction=0.4, cached_input_usd_per_mtok=0.3
    )
    cost = cost_api(usage, PLAIN)
    assert usage.usd_per_month == pytest.approx(492.0, rel=EXACT)
    assert cost.tco_usd == pytest.approx(5_904.0, rel=EXACT)
    assert cost.cost_per_mtok(usage.tokens_per_month * 12) == pytest.approx(4.1, rel=EXACT)


def test_cached_price_defaults_to_input_price():
    """Without a cached price, 1M input at $2 with 50 % cached still costs $2."""
    assert ApiUsage(1e6, 0.0, 2.0, 8.0, cached_input_fraction=0.5).usd_per_month == 2.0


def test_npv_by_hand():
    """$10/h x 730 h = 7,300 at the end of months 1..12, 12 %/year: monthly factor
    v = 1.12^(-1/12); sum v^m = (1 - 1/1.12) / (1.12^(1/12) - 1) = 11.2915 -> 82,428."""
    finance = with_overrides(PLAIN, discount_rate_per_year=0.12)
    cost = cost_cloud(CloudRental(1, 10.0), finance)
    annuity = (1 - 1 / 1.12) / (1.12 ** (1 / 12) - 1)
    assert cost.npv_usd == pytest.approx(7_300.0 * annuity, rel=EXACT)
    assert cost.npv_usd == pytest.approx(82_428, rel=1e-4)
    assert cost.tco_usd == pytest.approx(87_600.0, rel=EXACT)


def test_hybrid_is_sum_of_parts(colo_finance):
    fleet = Fleet(2, 8, 150_000.0, 8.0)
    rental = CloudRental(1, 40.0, billed_hours_per_month=100.0)
    usage = ApiUsage(5e6, 1e6, 1.0, 4.0)
    hybrid = cost_hybrid(fleet, colo_finance, burst_cloud=rental, burst_api=usage)
    parts = [
        cost_colocation(fleet, colo_finance),
        cost_cloud(rental, colo_finance),
        cost_api(usage, colo_finance),
    ]
    assert hybrid.kind is OptionKind.HYBRID
    assert hybrid.tco_usd == pytest.approx(sum(p.tco_usd for p in parts), rel=EXACT)
    np.testing.assert_allclose(hybrid.cash_flow_usd, sum(p.cash_flow_usd for p in parts))
    on_prem = cost_hybrid(fleet, colo_finance, site=SiteKind.ON_PREMISE)
    assert on_prem.tco_usd == pytest.approx(cost_on_premise(fleet, colo_finance).tco_usd)


def test_racks_and_staff():
    """20-kW racks: 7-kW servers go 2 per rack (5 servers -> 3 racks); a 30-kW server takes
    2 racks. Staff: 8 GPUs -> max(0.5, 8/75) = 0.5 FTE; 150 GPUs -> 2 FTE."""
    finance = FinanceAssumptions(rack_kw=20.0)
    assert racks_needed(Fleet(5, 8, 1.0, 7.0), finance) == 3
    assert racks_needed(Fleet(2, 8, 1.0, 30.0), finance) == 4
    assert staff_fte(8, FinanceAssumptions()) == 0.5
    assert staff_fte(150, FinanceAssumptions()) == pytest.approx(2.0, rel=EXACT)


def test_fleet_from_gpus():
    """8 GPUs x $30,000 + $74,000 overhead = $314,000; 8 x 700 W x (1 + 0.8) = 10.08 kW."""
    fleet = fleet_from_gpus(2, 8, 30_000.0, 700.0, FinanceAssumptions())
    assert fleet.server_price_usd == pytest.approx(314_000.0, rel=EXACT)
    assert fleet.server_power_kw == pytest.approx(10.08, rel=EXACT)
    assert fleet.gpus == 16


def test_hourly_by_hand():
    """$87,600 server, 1-year life, 730 h months: 87,600 / 8,760 = $10/h; maintenance
    12 %/year = $1.20/h; 2 kW x $0.10 = $0.20/h (PLAIN has no PUE or space)."""
    finance = with_overrides(PLAIN, depreciation_years=1, maintenance_fraction_per_year=0.12)
    hourly = self_hosted_hourly(Fleet(1, 8, 87_600.0, 2.0), finance, SiteKind.ON_PREMISE)
    assert hourly.capex_usd_per_hour == pytest.approx(10.0, rel=EXACT)
    assert hourly.opex_usd_per_hour == pytest.approx(1.4, rel=EXACT)
    assert hourly.total_usd_per_hour == pytest.approx(11.4, rel=EXACT)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Fleet(0, 8, 1.0, 1.0), "servers"),
        (lambda: Fleet(1, 8, -1.0, 1.0), "server_price_usd"),
        (lambda: Fleet(1, 8, 1.0, 1.0, busy_fraction=1.5), "busy_fraction"),
        (lambda: Fleet(1, 8, 1.0, 0.0), "server_power_kw"),
        (lambda: CloudRental(1, float("nan")), "usd_per_instance_hour"),
        (lambda: ApiUsage(1.0, 1.0, 1.0, 1.0, cached_input_fraction=2.0), "cached_input_fraction"),
        (lambda: finance_from_mapping({"pue": 0.9}), "pue"),
        (lambda: with_overrides(FinanceAssumptions(), bogus_usd=1.0), "bogus_usd"),
    ],
)
def test_bad_values_raise_input_error(build, field):
    with pytest.raises(InputError) as info:
        build()
    assert info.value.field == field


def test_option_cost_is_read_only():
    cost = cost_api(ApiUsage(1e6, 1e6, 1.0, 1.0), PLAIN)
    with pytest.raises(ValueError, match="read-only"):
        cost.lines_usd[CostLine.API_TOKENS][1] = 0.0
    with pytest.raises(TypeError):
        cost.lines_usd[CostLine.ENERGY] = np.zeros(13)  # type: ignore[index]


def test_option_cost_rejects_mismatched_lines():
    with pytest.raises(ConfigurationError):
        OptionCost(
            "x",
            OptionKind.API,
            {CostLine.API_TOKENS: np.zeros(3), CostLine.STAFF: np.zeros(4)},
            0.0,
        )


def test_cost_per_mtok_needs_tokens():
    with pytest.raises(ConfigurationError):
        cost_api(ApiUsage(1e6, 1e6, 1.0, 1.0), PLAIN).cost_per_mtok(0.0)


def test_package_docstring_example_runs():
    import doctest

    import llmplan.cost

    assert doctest.testmod(llmplan.cost).failed == 0
