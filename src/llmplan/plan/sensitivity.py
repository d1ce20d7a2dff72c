"""Which finance assumptions the plan's sensitivity analysis varies, and by how much.

Tornado: each field at a low and a high multiple of the scenario's value (ranges chosen
from the spreads in tco-references.md section 3: US electricity 0.06-0.24 USD/kWh, PUE
1.1-1.6, maintenance 10-12 %/yr, staff pay +-50 %). Monte Carlo: the same fields drawn
from triangular distributions over those ranges with the scenario's value as the mode.
Values are clipped to each field's declared bounds. The Monte Carlo also draws the
inference volume (:data:`VOLUME_P10_P90`), re-costing the same designs at that volume.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np

from llmplan.cost import (
    FinanceAssumptions,
    MonteCarloResult,
    TornadoInput,
    Uncertainty,
    with_overrides,
)
from llmplan.cost.result import FloatArray
from llmplan.cost.sensitivity import field_bounds
from llmplan.errors import InputError
from llmplan.plan.draws import THROUGHPUT_FIELD, price_draws, price_spreads
from llmplan.plan.options import Recipe

TORNADO_MULTIPLIERS: dict[str, tuple[float, float]] = {
    "electricity_usd_per_kwh": (0.5, 2.0),
    "pue": (0.85, 1.25),
    "maintenance_fraction_per_year": (0.5, 1.5),
    "staff_usd_per_fte_year": (0.7, 1.5),
    "gpus_per_fte": (0.5, 2.0),
    "server_overhead_usd": (0.5, 1.5),
    "colocation_usd_per_kw_month": (0.7, 1.5),
    "depreciation_years": (0.6, 1.4),
}
"""Field -> (low, high) multiples of the scenario's value."""

DISCOUNT_RATE_RANGE = (0.0, 0.12)
"""Absolute low/high discount rates per year (the base may be 0, so no multiple)."""


def _clipped(name: str, value: float) -> float:
    low, high = field_bounds(name)
    return min(max(value, low), high)


def _range(finance: FinanceAssumptions, name: str, low: float, high: float) -> tuple[float, float]:
    base = float(getattr(finance, name))
    return _clipped(name, base * low), _clipped(name, base * high)


def tornado_inputs(
    finance: FinanceAssumptions, multipliers: dict[str, tuple[float, float]]
) -> list[TornadoInput]:
    """One input per field whose range is not empty, plus the discount rate."""
    inputs = []
    for name, (low, high) in multipliers.items():
        lo, hi = _range(finance, name, low, high)
        if lo != hi:
            inputs.append(TornadoInput(name, lo, hi))
    inputs.append(TornadoInput("discount_rate_per_year", *DISCOUNT_RATE_RANGE))
    return inputs


def uncertainties(finance: FinanceAssumptions) -> list[Uncertainty]:
    """Triangular spreads over the tornado ranges, the scenario's value as the mode."""
    out = []
    for name, (low, high) in TORNADO_MULTIPLIERS.items():
        lo, hi = _range(finance, name, low, high)
        if lo != hi:
            mode = min(max(float(getattr(finance, name)), lo), hi)
            out.append(Uncertainty(name, lo, hi, mode))
    return out


VOLUME_P10_P90 = (0.7, 1.4)
"""Monte Carlo spread of the inference volume, as multiples of the scenario's (P10, P90 of
a lognormal): an llmplan assumption, demand forecasts for new services miss by tens of
percent; set your own with ``volume_p10_p90``."""


def monte_carlo_with_volume(
    recipes: Mapping[str, Recipe],
    finance: FinanceAssumptions,
    *,
    rng: np.random.Generator,
    samples: int,
    volume_p10_p90: tuple[float, float] = VOLUME_P10_P90,
    throughput: Mapping[str, tuple[float, float]] | None = None,
) -> MonteCarloResult:
    """NPV of every option over ``samples`` joint draws of the finance assumptions
    (:func:`uncertainties`), the inference volume (lognormal, P10/P90 given), the prices paid
    and each option's throughput (:mod:`llmplan.plan.draws`; ``throughput`` maps an option
    to the (mu, sigma) of its log throughput multiple, absent: exact)."""
    if samples < 1:
        raise InputError(f"must be >= 1, got {samples}", field="samples")
    fields = uncertainties(finance)
    draws = {u.field: u.sample(rng, samples) for u in fields}
    low, high = volume_p10_p90
    if not 0 < low <= high:
        raise InputError("needs 0 < P10 <= P90", field="volume_p10_p90")
    draws[VOLUME_FIELD] = _lognormal(low, high, rng, samples)
    model_error = rng.standard_normal(samples)
    base_prices = {name: float(getattr(finance, name)) for name in price_spreads()}
    draws.update(price_draws(base_prices, rng, samples))
    spread = throughput or {}
    multiples = {
        name: np.exp(spread[name][0] + spread[name][1] * model_error)
        if name in spread
        else np.ones(samples)
        for name in recipes
    }
    if spread:
        draws[THROUGHPUT_FIELD] = model_error
    names = tuple(recipes)
    outcomes = np.empty((samples, len(names)))
    for i in range(samples):
        values = {n: float(v[i]) for n, v in draws.items() if n in FinanceAssumptions.model_fields}
        drawn = with_overrides(finance, **values)
        k = float(draws[VOLUME_FIELD][i])
        outcomes[i] = [recipes[n](drawn, k / float(multiples[n][i])).npv_usd for n in names]
    return MonteCarloResult(names, outcomes, draws)


VOLUME_FIELD = "inference_volume_multiple"


def _lognormal(low: float, high: float, rng: np.random.Generator, size: int) -> FloatArray:
    """Lognormal draws with ``low`` / ``high`` as P10 / P90."""
    z = NormalDist().inv_cdf(0.9)
    sigma = math.log(high / low) / (2 * z)
    mu = math.log(math.sqrt(low * high))
    return np.asarray(rng.lognormal(mu, sigma, size), dtype=np.float64)
