"""Break-even month, hours, crossing points and volumes, worked by hand."""

from __future__ import annotations

import pytest

from llmplan.cost import (
    ApiUsage,
    CloudRental,
    Commitment,
    FinanceAssumptions,
    Fleet,
    SiteKind,
    breakeven_api_tokens_per_month,
    breakeven_busy_fraction,
    breakeven_hours,
    breakeven_month,
    cost_api,
    cost_cloud,
    cost_on_premise,
    crossing_point,
)
from llmplan.errors import ConfigurationError

EXACT = 1e-9
ROOT = 1e-6  # relative tolerance on roots found by brentq

# Only hardware and energy: no PUE, staff, space, maintenance, discounting.
PLAIN = FinanceAssumptions(
    horizon_months=24,
    depreciation_years=1,
    electricity_usd_per_kwh=0.10,
    pue=1.0,
    average_power_fraction_of_tdp=1.0,
    idle_power_fraction_of_tdp=0.0,
    colocation_usd_per_kw_month=0.0,
    maintenance_fraction_per_year=0.0,
    staff_usd_per_fte_year=0.0,
    min_staff_fte=0.0,
)


def _cloud_usd_per_month(usd: float) -> CloudRental:
    return CloudRental(1, usd / PLAIN.hours_per_month)


def test_breakeven_month_first_and_sustained():
    """Owned $10,000 server, no running cost, 1-year life, bought again at month 12;
    cloud $1,000/month. Cumulative owned: 10,000 (m<12), 20,000 (m>=12); cloud 1,000 m.
    First month owned <= cloud: 10. It is dearer again at 12..19 and cheaper from 20."""
    owned = cost_on_premise(Fleet(1, 8, 10_000.0, 1e-9), PLAIN)
    rented = cost_cloud(_cloud_usd_per_month(1_000.0), PLAIN)
    assert breakeven_month(owned, rented) == 10
    assert breakeven_month(owned, rented, sustained=True) == 20
    assert breakeven_month(rented, owned, sustained=True) is None
    assert breakeven_month(rented, owned) == 0  # both 0 at t=0


def test_breakeven_month_needs_same_horizon():
    other = PLAIN.model_copy(update={"horizon_months": 12})
    usage = ApiUsage(1e6, 0.0, 1.0, 1.0)
    with pytest.raises(ConfigurationError):
        breakeven_month(cost_api(usage, PLAIN), cost_api(usage, other))


def test_breakeven_hours_formula():
    """x = 100,000 / (30 - 5) = 4,000 h; no break-even when the cloud is not dearer."""
    assert breakeven_hours(100_000.0, 5.0, 30.0) == pytest.approx(4_000.0, rel=EXACT)
    assert breakeven_hours(100_000.0, 5.0, 5.0) is None


def test_crossing_point_linear():
    """100 + 2x = 5x at x = 33.33; 100 + 2x never meets x on [0, 50]."""
    x = crossing_point(lambda v: 100 + 2 * v, lambda v: 5 * v, 0.0, 100.0)
    assert x == pytest.approx(100 / 3, rel=ROOT)
    assert crossing_point(lambda v: 100 + 2 * v, lambda v: v, 0.0, 50.0) is None
    assert crossing_point(lambda v: v, lambda v: 2 * v, 0.0, 1.0) == 0.0
    with pytest.raises(ConfigurationError):
        crossing_point(lambda v: v, lambda v: v, 1.0, 1.0)


def test_breakeven_busy_fraction_by_hand():
    """24 months, 1-year life: owned 2 x $8,760 = 17,520 plus 1 kW x busy share u x 730 h x
    $0.10 x 24 = 1,752 u; cloud $10/h x 730 u h x 24 = 175,200 u.
    17,520 + 1,752 u = 175,200 u -> u = 17,520 / 173,448 = 0.10101."""
    fraction = breakeven_busy_fraction(
        Fleet(1, 8, 8_760.0, 1.0), SiteKind.ON_PREMISE, CloudRental(1, 10.0), PLAIN
    )
    assert fraction == pytest.approx(17_520 / 173_448, rel=ROOT)


def test_breakeven_busy_fraction_none_and_reserved():
    """A $1M server never pays off against $1/h; reserved rentals have no busy share."""
    fleet = Fleet(1, 8, 1e6, 1.0)
    assert breakeven_busy_fraction(fleet, SiteKind.ON_PREMISE, CloudRental(1, 1.0), PLAIN) is None
    reserved = CloudRental(1, 10.0, commitment=Commitment.RESERVED_1Y)
    with pytest.raises(ConfigurationError):
        breakeven_busy_fraction(fleet, SiteKind.ON_PREMISE, reserved, PLAIN)


def test_breakeven_api_tokens():
    """API at $492 per 120M tokens/month (see test_cost_model) over 24 months = 11,808;
    a TCO of 23,616 buys twice that: 240M tokens/month."""
    usage = ApiUsage(
        100e6, 20e6, 3.0, 15.0, cached_input_fraction=0.4, cached_input_usd_per_mtok=0.3
    )
    assert breakeven_api_tokens_per_month(23_616.0, usage, PLAIN) == pytest.approx(240e6)
    with pytest.raises(ConfigurationError):
        breakeven_api_tokens_per_month(1.0, ApiUsage(0.0, 0.0, 1.0, 1.0), PLAIN)
