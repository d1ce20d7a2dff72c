"""Property tests: non-negative costs, conservation, monotonicity, discounting, seeds."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplan.cost import (
    ApiUsage,
    CloudRental,
    Commitment,
    CostLine,
    FinanceAssumptions,
    Fleet,
    OptionCost,
    SiteKind,
    Uncertainty,
    breakeven_hours,
    cost_api,
    cost_cloud,
    cost_hybrid,
    cost_self_hosted,
    monte_carlo,
    with_overrides,
)

REL = 1e-9  # relative tolerance for sums of up to a few hundred floats
money = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
fraction = st.floats(min_value=0.0, max_value=1.0)

finances = st.builds(
    FinanceAssumptions,
    horizon_months=st.integers(1, 120),
    discount_rate_per_year=st.floats(0.0, 0.3),
    electricity_usd_per_kwh=st.floats(0.0, 0.5),
    pue=st.floats(1.0, 2.0),
    cooling_usd_per_kwh=st.floats(0.0, 0.2),
    average_power_fraction_of_tdp=fraction,
    idle_power_fraction_of_tdp=fraction,
    colocation_usd_per_kw_month=st.floats(0.0, 500.0),
    colocation_usd_per_rack_month=st.floats(0.0, 3000.0),
    rack_kw=st.floats(1.0, 60.0),
    on_premise_site_usd_per_kw_month=st.floats(0.0, 500.0),
    maintenance_fraction_per_year=st.floats(0.0, 0.3),
    depreciation_years=st.floats(0.5, 8.0),
    residual_value_fraction=fraction,
    credit_residual_at_horizon=st.booleans(),
    staff_usd_per_fte_year=st.floats(0.0, 400_000.0),
    gpus_per_fte=st.floats(1.0, 200.0),
    min_staff_fte=st.floats(0.0, 2.0),
    cloud_staff_fte=st.floats(0.0, 2.0),
    network_storage_usd_per_month=st.floats(0.0, 5000.0),
    network_capex_usd_per_server=st.floats(0.0, 50_000.0),
    cloud_storage_egress_usd_per_month=st.floats(0.0, 5000.0),
)
fleets = st.builds(
    Fleet,
    servers=st.integers(1, 64),
    gpus_per_server=st.integers(1, 8),
    server_price_usd=money,
    server_power_kw=st.floats(0.1, 40.0),
    busy_fraction=fraction,
)
rentals = st.builds(
    CloudRental,
    instances=st.integers(1, 64),
    usd_per_instance_hour=st.floats(0.0, 200.0),
    commitment=st.sampled_from(Commitment),
)
usages = st.builds(
    ApiUsage,
    input_tokens_per_month=st.floats(0.0, 1e11),
    output_tokens_per_month=st.floats(0.0, 1e11),
    input_usd_per_mtok=st.floats(0.0, 30.0),
    output_usd_per_mtok=st.floats(0.0, 100.0),
    cached_input_fraction=fraction,
    cached_input_usd_per_mtok=st.none() | st.floats(0.0, 3.0),
)
sites = st.sampled_from(SiteKind)


def assert_consistent(cost: OptionCost) -> None:
    """No line is negative except resale credits; totals equal the sum of their parts."""
    for line, values in cost.lines_usd.items():
        if line is CostLine.RESIDUAL_CREDIT:
            assert (values <= 0.0).all()
        else:
            assert (values >= 0.0).all(), line
    parts = cost.capex_usd + sum(cost.opex_usd_by_line.values()) - cost.residual_value_usd
    assert cost.tco_usd == pytest.approx(parts, rel=REL, abs=1e-6)
    assert cost.tco_usd >= -1e-6
    assert cost.cumulative_usd[-1] == pytest.approx(cost.tco_usd, rel=REL, abs=1e-6)


@given(fleets, finances, sites)
def test_self_hosted_consistent(fleet, finance, site):
    assert_consistent(cost_self_hosted(fleet, finance, site))


@given(rentals, finances)
def test_cloud_consistent(rental, finance):
    assert_consistent(cost_cloud(rental, finance))


@given(usages, finances)
def test_api_consistent(usage, finance):
    assert_consistent(cost_api(usage, finance))


@given(fleets, finances, sites, st.integers(0, 3))
def test_hybrid_consistent(fleet, finance, site, which):
    rental = CloudRental(2, 30.0, billed_hours_per_month=50.0) if which & 1 else None
    usage = ApiUsage(1e8, 2e7, 1.0, 4.0) if which & 2 else None
    hybrid = cost_hybrid(fleet, finance, site=site, burst_cloud=rental, burst_api=usage)
    assert_consistent(hybrid)
    parts = cost_self_hosted(fleet, finance, site).tco_usd
    parts += cost_cloud(rental, finance).tco_usd if rental else 0.0
    parts += cost_api(usage, finance).tco_usd if usage else 0.0
    assert hybrid.tco_usd == pytest.approx(parts, rel=REL, abs=1e-6)


@given(fleets, finances, sites, st.integers(1, 16))
def test_more_servers_never_cheaper(fleet, finance, site, extra):
    bigger = replace(fleet, servers=fleet.servers + extra)
    small = cost_self_hosted(fleet, finance, site).tco_usd
    assert cost_self_hosted(bigger, finance, site).tco_usd >= small * (1 - REL) - 1e-6


@given(fleets, finances, sites, st.integers(1, 8))
def test_more_gpus_per_server_never_cheaper(fleet, finance, site, extra):
    bigger = replace(fleet, gpus_per_server=fleet.gpus_per_server + extra)
    small = cost_self_hosted(fleet, finance, site).tco_usd
    assert cost_self_hosted(bigger, finance, site).tco_usd >= small * (1 - REL) - 1e-6


@given(rentals, finances, st.integers(1, 16))
def test_more_instances_never_cheaper(rental, finance, extra):
    bigger = replace(rental, instances=rental.instances + extra)
    small = cost_cloud(rental, finance).tco_usd
    assert cost_cloud(bigger, finance).tco_usd >= small * (1 - REL)


@given(fleets, finances, sites, st.floats(0.0, 1.0))
def test_higher_electricity_never_cheaper(fleet, finance, site, increase):
    dearer = with_overrides(
        finance, electricity_usd_per_kwh=finance.electricity_usd_per_kwh + increase
    )
    base = cost_self_hosted(fleet, finance, site)
    high = cost_self_hosted(fleet, dearer, site)
    assert high.tco_usd >= base.tco_usd * (1 - REL) - 1e-6
    assert high.npv_usd >= base.npv_usd * (1 - REL) - 1e-6


@given(fleets, finances, sites, st.floats(0.001, 0.5))
def test_npv_at_most_tco_when_flows_positive(fleet, finance, site, rate):
    """With no resale credit every flow is >= 0, so discounting can only lower the total."""
    positive = with_overrides(
        finance,
        discount_rate_per_year=rate,
        residual_value_fraction=0.0,
        credit_residual_at_horizon=False,
    )
    cost = cost_self_hosted(fleet, positive, site)
    assert (cost.cash_flow_usd >= 0.0).all()
    assert cost.npv_usd <= cost.tco_usd * (1 + REL) + 1e-6


@given(rentals, finances)
def test_npv_equals_tco_without_discounting(rental, finance):
    cost = cost_cloud(rental, with_overrides(finance, discount_rate_per_year=0.0))
    assert cost.npv_usd == pytest.approx(cost.tco_usd, rel=REL, abs=1e-6)


@given(money, st.floats(0.0, 100.0), st.floats(0.0, 500.0))
def test_breakeven_hours_balance(capex, opex_h, cloud_h):
    hours = breakeven_hours(capex, opex_h, cloud_h)
    if cloud_h <= opex_h:
        assert hours is None
    elif hours is None:  # the margin is so thin that no finite number of hours pays back
        assert not math.isfinite(capex / (cloud_h - opex_h))
    else:
        assert capex + opex_h * hours == pytest.approx(cloud_h * hours, rel=1e-6, abs=1e-6)


def _scenario(finance: FinanceAssumptions) -> dict[str, float]:
    fleet = Fleet(2, 8, 250_000.0, 10.0)
    return {
        "colo": cost_self_hosted(fleet, finance, SiteKind.COLOCATION).tco_usd,
        "cloud": cost_cloud(CloudRental(2, 40.0), finance).tco_usd,
    }


@given(st.integers(0, 2**32 - 1))
def test_monte_carlo_reproducible(seed):
    spec = [
        Uncertainty("electricity_usd_per_kwh", 0.05, 0.25, mode=0.12),
        Uncertainty("staff_usd_per_fte_year", 100_000.0, 300_000.0, mode=175_000.0),
    ]
    runs = [
        monte_carlo(
            _scenario, FinanceAssumptions(), spec, rng=np.random.default_rng(seed), samples=8
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].samples_usd, runs[1].samples_usd)
    assert runs[0].probability_cheapest == runs[1].probability_cheapest
