"""Hourly view of an owned fleet, as in Lenovo LP2368: cost per hour and per M tokens.

hourly cost = purchase x (1 - residual) / (useful life in hours) + running costs per hour,
with useful life in hours = ``depreciation_years`` x 12 x ``hours_per_month`` (43,800 h for
5 years of 730 h months). Running costs per hour are the monthly running costs of
:func:`~llmplan.cost.model.monthly_running_usd` divided by ``hours_per_month``, so the
hourly and monthly views share one set of formulas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llmplan.cost.inputs import TOKENS_PER_MTOK, Fleet, SiteKind, check_positive, check_range
from llmplan.cost.model import monthly_running_usd, purchase_usd
from llmplan.cost.result import CostLine
from llmplan.domain.finance import FinanceAssumptions

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class HourlyCost:
    """Cost of running an owned fleet for one hour, USD/h."""

    capex_usd_per_hour: float
    opex_usd_per_hour_by_line: Mapping[CostLine, float]

    @property
    def opex_usd_per_hour(self) -> float:
        """Running costs per hour, USD/h."""
        return sum(self.opex_usd_per_hour_by_line.values())

    @property
    def total_usd_per_hour(self) -> float:
        """Amortised purchase plus running costs, USD/h."""
        return self.capex_usd_per_hour + self.opex_usd_per_hour


def self_hosted_hourly(fleet: Fleet, finance: FinanceAssumptions, site: SiteKind) -> HourlyCost:
    """Hourly cost of ``fleet`` at ``site``: straight-line purchase plus running costs."""
    life_hours = finance.depreciation_months * finance.hours_per_month
    depreciable = purchase_usd(fleet, finance) * (1.0 - finance.residual_value_fraction)
    running = monthly_running_usd(fleet, finance, site)
    per_hour = {line: usd / finance.hours_per_month for line, usd in running.items()}
    return HourlyCost(depreciable / life_hours, per_hour)


def usd_per_mtok(usd_per_hour: float, tokens_per_s: float) -> float:
    """Cost per million tokens of hardware costing ``usd_per_hour`` that serves
    ``tokens_per_s`` (busy all the time): usd_per_hour / 3600 / tokens_per_s x 1e6."""
    check_range("usd_per_hour", usd_per_hour, 0.0)
    check_positive("tokens_per_s", tokens_per_s)
    return usd_per_hour / SECONDS_PER_HOUR / tokens_per_s * TOKENS_PER_MTOK
