"""Tornado and Monte Carlo on toy scenarios whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llmplan.cost import (
    CloudRental,
    Distribution,
    FinanceAssumptions,
    Fleet,
    TornadoInput,
    Uncertainty,
    cost_cloud,
    cost_colocation,
    monte_carlo,
    tornado,
)
from llmplan.errors import ConfigurationError, InputError, UnknownNameError

BASE = FinanceAssumptions()


def toy(finance: FinanceAssumptions) -> dict[str, float]:
    """'power' costs 1,000 x the electricity price; 'flat' always 100."""
    return {"power": finance.electricity_usd_per_kwh * 1000, "flat": 100.0}


def test_tornado_by_hand():
    """Base 0.12 -> power 120 > flat 100, so flat is cheapest. Electricity 0.05..0.20 gives
    power 50..200 (swing 150), and at 0.05 power wins; PUE does not move the toy."""
    bars = tornado(
        toy,
        BASE,
        [TornadoInput("pue", 1.1, 1.6), TornadoInput("electricity_usd_per_kwh", 0.05, 0.20)],
    )
    first, second = bars
    assert first.field == "electricity_usd_per_kwh"
    assert first.cheapest_base == "flat"
    assert first.cheapest_low == "power"
    assert first.changes_cheapest
    assert first.swing_usd("power") == pytest.approx(150.0, rel=1e-9)
    assert second.field == "pue"
    assert not second.changes_cheapest
    assert second.swing_usd("power") == 0.0


def test_tornado_from_multipliers_and_integer_fields():
    """0.12 x 0.5 = 0.06 and 0.12 x 2 = 0.24; a horizon of 11.6 months rounds to 12."""
    item = TornadoInput.from_multipliers(BASE, "electricity_usd_per_kwh", 0.5, 2.0)
    assert (item.low, item.high) == pytest.approx((0.06, 0.24))
    seen: list[int] = []

    def horizon(finance: FinanceAssumptions) -> dict[str, float]:
        seen.append(finance.horizon_months)
        return {"a": float(finance.horizon_months)}

    tornado(horizon, BASE, [TornadoInput("horizon_months", 11.6, 24.0)])
    assert seen == [60, 12, 24]


def test_tornado_on_real_options():
    """Colocation vs always-on cloud: raising electricity only moves colocation."""
    fleet = Fleet(1, 8, 300_000.0, 10.0)

    def scenario(finance: FinanceAssumptions) -> dict[str, float]:
        return {
            "colo": cost_colocation(fleet, finance).tco_usd,
            "cloud": cost_cloud(CloudRental(1, 40.0), finance).tco_usd,
        }

    (bar,) = tornado(scenario, BASE, [TornadoInput("electricity_usd_per_kwh", 0.06, 0.24)])
    assert bar.high_usd["colo"] > bar.low_usd["colo"]
    assert bar.swing_usd("cloud") == 0.0


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: TornadoInput("no_such_field", 0.0, 1.0), UnknownNameError),
        (lambda: TornadoInput("currency", 0.0, 1.0), InputError),
        (lambda: Uncertainty("pue", 1.0, 1.5), InputError),  # triangular without mode
        (lambda: Uncertainty("pue", 1.5, 1.0, mode=1.2), InputError),
        (lambda: Uncertainty("pue", 0.0, 1.5, distribution=Distribution.LOGNORMAL), InputError),
    ],
)
def test_bad_sensitivity_inputs(build, error):
    with pytest.raises(error):
        build()


def test_tornado_value_outside_bounds():
    with pytest.raises(InputError) as info:
        tornado(toy, BASE, [TornadoInput("pue", 0.5, 1.5)])
    assert info.value.field == "pue"


def test_monte_carlo_symmetric_toy():
    """Electricity triangular(0.05, 0.10, 0.15) is symmetric about 0.10, where power = flat:
    power is cheapest in half the draws (+/- 0.05 for 2,000 draws), its P50 is ~100 and
    P10 < P50 < P90; flat is 100 at every percentile."""
    result = monte_carlo(
        toy,
        BASE,
        [Uncertainty("electricity_usd_per_kwh", 0.05, 0.15, mode=0.10)],
        rng=np.random.default_rng(7),
        samples=2000,
    )
    odds = result.probability_cheapest
    assert sum(odds.values()) == pytest.approx(1.0, rel=1e-12)
    assert odds["power"] == pytest.approx(0.5, abs=0.05)
    p10, p50, p90 = result.percentiles_usd()["power"]
    assert p10 < p50 < p90
    assert p50 == pytest.approx(100.0, rel=0.03)
    assert result.percentiles_usd()["flat"] == (100.0, 100.0, 100.0)
    draws = result.inputs["electricity_usd_per_kwh"]
    assert draws.min() >= 0.05
    assert draws.max() <= 0.15


def test_monte_carlo_same_seed_same_result():
    spec = [
        Uncertainty("electricity_usd_per_kwh", 0.05, 0.2, mode=0.1),
        Uncertainty("pue", 1.1, 1.6, distribution=Distribution.LOGNORMAL),
    ]
    first = monte_carlo(toy, BASE, spec, rng=np.random.default_rng(3), samples=50)
    again = monte_carlo(toy, BASE, spec, rng=np.random.default_rng(3), samples=50)
    other = monte_carlo(toy, BASE, spec, rng=np.random.default_rng(4), samples=50)
    np.testing.assert_array_equal(first.samples_usd, again.samples_usd)
    assert not np.array_equal(first.samples_usd, other.samples_usd)


def test_lognormal_quantiles_and_clipping():
    """low/high are P10/P90 (within 2 % over 200,000 draws); draws below PUE's lower bound
    of 1.0 are clipped to it."""
    spec = Uncertainty("pue", 1.0, 1.6, distribution=Distribution.LOGNORMAL)
    draws = spec.sample(np.random.default_rng(0), 200_000)
    assert draws.min() == 1.0
    assert np.percentile(draws, 90) == pytest.approx(1.6, rel=0.02)
    wide = Uncertainty("electricity_usd_per_kwh", 0.05, 0.2, distribution=Distribution.LOGNORMAL)
    values = wide.sample(np.random.default_rng(0), 200_000)
    assert np.percentile(values, 10) == pytest.approx(0.05, rel=0.02)
    assert np.percentile(values, 50) == pytest.approx(0.1, rel=0.02)


def test_monte_carlo_bad_arguments():
    spec = Uncertainty("pue", 1.1, 1.5, mode=1.3)
    with pytest.raises(InputError):
        monte_carlo(toy, BASE, [spec], rng=np.random.default_rng(0), samples=0)
    with pytest.raises(ConfigurationError):
        monte_carlo(toy, BASE, [spec, spec], rng=np.random.default_rng(0), samples=5)
