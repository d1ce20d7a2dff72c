"""The cost of one option over the horizon, line by line and month by month.

Cash-flow convention: arrays have ``horizon_months + 1`` entries; index 0 is t=0 (purchases),
index m >= 1 the end of month m (running costs, refresh purchases, resale credits). Every
total is derived from the per-line arrays, so totals always equal the sum of their parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from llmplan.cost.inputs import TOKENS_PER_MTOK, check_range
from llmplan.errors import ConfigurationError

FloatArray = NDArray[np.float64]


class OptionKind(StrEnum):
    """The kind of deployment an :class:`OptionCost` describes."""

    ON_PREMISE = "on_premise"
    COLOCATION = "colocation"
    CLOUD = "cloud"
    API = "api"
    HYBRID = "hybrid"


class CostLine(StrEnum):
    """One line of a cost breakdown."""

    HARDWARE = "hardware"
    NETWORK_HARDWARE = "network_hardware"
    RESIDUAL_CREDIT = "residual_credit"
    ENERGY = "energy"
    COOLING = "cooling"
    SPACE = "space"
    MAINTENANCE = "maintenance"
    STAFF = "staff"
    NETWORK_STORAGE = "network_storage"
    CLOUD_HOURS = "cloud_hours"
    CLOUD_COMMITMENT_OVERHANG = "cloud_commitment_overhang"
    CLOUD_STORAGE_EGRESS = "cloud_storage_egress"
    API_TOKENS = "api_tokens"
    FACILITY = "facility"

    @property
    def is_capex(self) -> bool:
        """Purchases of equipment (not running costs, not resale credits)."""
        return self in (CostLine.HARDWARE, CostLine.NETWORK_HARDWARE, CostLine.FACILITY)

    @property
    def is_opex(self) -> bool:
        """Running costs."""
        return not self.is_capex and self is not CostLine.RESIDUAL_CREDIT


def discount_factors(months: int, monthly_rate: float) -> FloatArray:
    """Present-value factors for t = 0..months: (1 + monthly_rate) ** -m."""
    return np.power(1.0 + monthly_rate, -np.arange(months + 1, dtype=np.float64))


def _frozen(array: FloatArray) -> FloatArray:
    copy = np.array(array, dtype=np.float64, copy=True)
    copy.flags.writeable = False
    return copy


@dataclass(frozen=True, eq=False)
class OptionCost:
    """Costs of one option: USD per line per month (see module docstring for the timing).

    ``assumptions`` lists, in words, the choices the engine made (e.g. the staff formula).
    """

    name: str
    kind: OptionKind
    lines_usd: Mapping[CostLine, FloatArray]
    monthly_discount_rate: float
    assumptions: tuple[str, ...] = ()
    _length: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        lengths = {len(values) for values in self.lines_usd.values()}
        if len(lengths) != 1:
            raise ConfigurationError("cost lines must share one horizon", field="lines_usd")
        frozen = {line: _frozen(values) for line, values in self.lines_usd.items()}
        object.__setattr__(self, "lines_usd", MappingProxyType(frozen))
        object.__setattr__(self, "_length", lengths.pop())

    @property
    def horizon_months(self) -> int:
        """Months covered (arrays hold one more entry, for t=0)."""
        return self._length - 1

    @property
    def cash_flow_usd(self) -> FloatArray:
        """Net spending at t=0 and at the end of each month, USD."""
        total = np.zeros(self._length)
        for values in self.lines_usd.values():
            total = total + values
        return total

    @property
    def cumulative_usd(self) -> FloatArray:
        """Cumulative net spending up to and including each month, USD."""
        return np.cumsum(self.cash_flow_usd)

    def line_total_usd(self, line: CostLine) -> float:
        """Undiscounted total of one line over the horizon, USD (0 when absent)."""
        values = self.lines_usd.get(line)
        return 0.0 if values is None else float(values.sum())

    @property
    def capex_usd(self) -> float:
        """Equipment purchases over the horizon (including refreshes), USD."""
        return sum(self.line_total_usd(line) for line in self.lines_usd if line.is_capex)

    @property
    def opex_usd_by_line(self) -> Mapping[CostLine, float]:
        """Running costs over the horizon by line, USD."""
        return {line: self.line_total_usd(line) for line in self.lines_usd if line.is_opex}

    @property
    def opex_usd(self) -> float:
        """All running costs over the horizon, USD."""
        return sum(self.opex_usd_by_line.values())

    @property
    def residual_value_usd(self) -> float:
        """Resale and book value credited (a positive number subtracted from the TCO), USD."""
        return -self.line_total_usd(CostLine.RESIDUAL_CREDIT)

    @property
    def tco_usd(self) -> float:
        """Undiscounted total cost of ownership: capex + opex - residual value, USD."""
        return float(self.cash_flow_usd.sum())

    @property
    def npv_usd(self) -> float:
        """Present value at t=0 of all cash flows at ``monthly_discount_rate``, USD."""
        factors = discount_factors(self.horizon_months, self.monthly_discount_rate)
        return float(self.cash_flow_usd @ factors)

    def cost_per_mtok(self, tokens_over_horizon: float, *, discounted: bool = False) -> float:
        """TCO (or NPV when ``discounted``) per million tokens served over the horizon."""
        check_range("tokens_over_horizon", tokens_over_horizon, 0.0)
        if tokens_over_horizon == 0.0:
            raise ConfigurationError(
                "no tokens served: cost per token is undefined", field="tokens_over_horizon"
            )
        total = self.npv_usd if discounted else self.tco_usd
        return total / tokens_over_horizon * TOKENS_PER_MTOK


def combine(name: str, kind: OptionKind, parts: tuple[OptionCost, ...]) -> OptionCost:
    """One option whose lines are the sums of the parts' lines (same horizon and rate)."""
    if not parts:
        raise ConfigurationError("nothing to combine", field="parts")
    rates = {part.monthly_discount_rate for part in parts}
    if len(rates) != 1:
        raise ConfigurationError("parts use different discount rates", field="parts")
    lines: dict[CostLine, FloatArray] = {}
    for part in parts:
        for line, values in part.lines_usd.items():
            lines[line] = lines[line] + values if line in lines else np.array(values)
    notes = tuple(f"{part.name}: {note}" for part in parts for note in part.assumptions)
    return OptionCost(name, kind, lines, rates.pop(), notes)
