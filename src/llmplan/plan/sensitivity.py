"""Which finance assumptions the plan's sensitivity analysis varies, and by how much.

Tornado: each field at a low and a high multiple of the scenario's value (ranges chosen
from the spreads in tco-references.md section 3: US electricity 0.06-0.24 USD/kWh, PUE
1.1-1.6, maintenance 10-12 %/yr, staff pay +-50 %). Monte Carlo: the same fields drawn
from triangular distributions over those ranges with the scenario's value as the mode.
Values are clipped to each field's declared bounds.
"""

from __future__ import annotations

from llmplan.cost import FinanceAssumptions, TornadoInput, Uncertainty
from llmplan.cost.sensitivity import field_bounds

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
