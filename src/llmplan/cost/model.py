"""Monthly cost of each option: owned fleet on premise or in colocation, cloud, API, hybrid.

Formulas (per month, ``h`` = ``hours_per_month``):

- energy = servers x rated kW x (busy x average fraction + idle share x idle fraction) x h
  x electricity price x PUE; cooling = the same IT kWh x ``cooling_usd_per_kwh``;
- space = rated kW x per-kW rent (+ racks x per-rack rent in colocation), racks =
  ceil(servers / floor(rack_kw / server kW));
- maintenance = ``maintenance_fraction_per_year`` x purchase price / 12;
- staff = max(``min_staff_fte``, GPUs / ``gpus_per_fte``) x salary / 12;
- hardware is bought at t=0 and again at each end of its useful life inside the horizon;
  each retired generation is sold at ``residual_value_fraction``; hardware still in use at
  the horizon is credited at straight-line book value when ``credit_residual_at_horizon``;
- cloud = instances x hourly rate x billed hours; a reserved term extending past the
  horizon is charged in full (the excess in the last month);
- API = tokens x price per M tokens.
"""

from __future__ import annotations

import math

import numpy as np

from llmplan.cost.inputs import ApiUsage, CloudRental, Fleet, SiteKind
from llmplan.cost.result import CostLine, FloatArray, OptionCost, OptionKind, combine
from llmplan.domain.finance import MONTHS_PER_YEAR, FinanceAssumptions
from llmplan.errors import ConfigurationError

_SITE_KIND = {
    SiteKind.ON_PREMISE: OptionKind.ON_PREMISE,
    SiteKind.COLOCATION: OptionKind.COLOCATION,
}


def staff_fte(gpus: int, finance: FinanceAssumptions) -> float:
    """Staff for a self-hosted fleet of ``gpus`` GPUs, FTE."""
    return max(finance.min_staff_fte, gpus / finance.gpus_per_fte)


def racks_needed(fleet: Fleet, finance: FinanceAssumptions) -> int:
    """Racks for the fleet within ``rack_kw`` per rack (a server never spans racks, unless
    it alone exceeds the budget, when it takes ceil(server kW / rack kW) racks)."""
    if fleet.server_power_kw > finance.rack_kw:
        return fleet.servers * math.ceil(fleet.server_power_kw / finance.rack_kw)
    per_rack = max(1, math.floor(finance.rack_kw / fleet.server_power_kw))
    return math.ceil(fleet.servers / per_rack)


def it_kwh_per_month(fleet: Fleet, finance: FinanceAssumptions) -> float:
    """Energy drawn by the servers in one month, kWh, before PUE."""
    busy = fleet.busy_fraction * finance.average_power_fraction_of_tdp
    idle = (1.0 - fleet.busy_fraction) * finance.idle_power_fraction_of_tdp
    return fleet.rated_kw * (busy + idle) * finance.hours_per_month


def purchase_usd(fleet: Fleet, finance: FinanceAssumptions) -> float:
    """Price of buying the whole fleet once (servers and their network share), USD."""
    return fleet.servers * (fleet.server_price_usd + finance.network_capex_usd_per_server)


def _space_usd_per_month(fleet: Fleet, finance: FinanceAssumptions, site: SiteKind) -> float:
    if site is SiteKind.ON_PREMISE:
        return fleet.rated_kw * finance.on_premise_site_usd_per_kw_month
    per_kw = fleet.rated_kw * finance.colocation_usd_per_kw_month
    return per_kw + racks_needed(fleet, finance) * finance.colocation_usd_per_rack_month


def monthly_running_usd(
    fleet: Fleet, finance: FinanceAssumptions, site: SiteKind
) -> dict[CostLine, float]:
    """Running costs of an owned fleet for one month, USD by line."""
    kwh = it_kwh_per_month(fleet, finance)
    staff_usd_per_month = finance.loaded_staff_usd_per_fte_year / MONTHS_PER_YEAR
    return {
        CostLine.ENERGY: kwh * finance.electricity_usd_per_kwh * finance.pue,
        CostLine.COOLING: kwh * finance.cooling_usd_per_kwh,
        CostLine.SPACE: _space_usd_per_month(fleet, finance, site),
        CostLine.MAINTENANCE: purchase_usd(fleet, finance)
        * finance.maintenance_fraction_per_year
        / MONTHS_PER_YEAR,
        CostLine.STAFF: staff_fte(fleet.gpus, finance) * staff_usd_per_month,
        CostLine.NETWORK_STORAGE: finance.network_storage_usd_per_month,
    }


def purchase_months(finance: FinanceAssumptions) -> list[int]:
    """Month indices at which hardware is bought: 0, then every useful life (rounded)."""
    months: list[int] = []
    generation = 0
    while (month := round(generation * finance.depreciation_months)) < finance.horizon_months:
        months.append(month)
        generation += 1
    return months


def _horizon_credit_fraction(months: list[int], finance: FinanceAssumptions) -> float:
    """Share of the price credited at the horizon for the generation bought last.

    A generation whose life ends exactly at the horizon is sold at the residual value; one
    still in use is credited at book value only when ``credit_residual_at_horizon``.
    """
    life_months = finance.depreciation_months
    life_ended = round(len(months) * life_months) <= finance.horizon_months
    if not finance.credit_residual_at_horizon and not life_ended:
        return 0.0
    used = 1.0 if life_ended else (finance.horizon_months - months[-1]) / life_months
    return 1.0 - (1.0 - finance.residual_value_fraction) * used


def _ownership_lines(fleet: Fleet, finance: FinanceAssumptions) -> dict[CostLine, FloatArray]:
    length = finance.horizon_months + 1
    hardware, network, credit = np.zeros(length), np.zeros(length), np.zeros(length)
    server_usd = fleet.servers * fleet.server_price_usd
    network_usd = fleet.servers * finance.network_capex_usd_per_server
    months = purchase_months(finance)
    for month in months:
        hardware[month] += server_usd
        network[month] += network_usd
        if month > 0:
            credit[month] -= finance.residual_value_fraction * (server_usd + network_usd)
    credit[-1] -= _horizon_credit_fraction(months, finance) * (server_usd + network_usd)
    return {
        CostLine.HARDWARE: hardware,
        CostLine.NETWORK_HARDWARE: network,
        CostLine.RESIDUAL_CREDIT: credit,
    }


def _running(per_month: float, finance: FinanceAssumptions) -> FloatArray:
    """``per_month`` at the end of months 1..H, nothing at t=0."""
    values = np.full(finance.horizon_months + 1, per_month, dtype=np.float64)
    values[0] = 0.0
    return values


def _self_hosted_notes(
    fleet: Fleet, finance: FinanceAssumptions, site: SiteKind
) -> tuple[str, ...]:
    fte = staff_fte(fleet.gpus, finance)
    notes = [
        f"staff = max({finance.min_staff_fte:g} FTE, {fleet.gpus} GPUs / "
        f"{finance.gpus_per_fte:g} GPUs per FTE) = {fte:.3g} FTE",
        f"IT energy {it_kwh_per_month(fleet, finance):,.0f} kWh/month at busy fraction "
        f"{fleet.busy_fraction:g}, {finance.energy_usd_per_it_kwh:.4g} USD per IT kWh",
        f"hardware bought at months {purchase_months(finance)}",
    ]
    if site is SiteKind.COLOCATION:
        notes.append(f"{racks_needed(fleet, finance)} racks of {finance.rack_kw:g} kW")
    return tuple(notes)


def cost_self_hosted(
    fleet: Fleet, finance: FinanceAssumptions, site: SiteKind, *, name: str | None = None
) -> OptionCost:
    """Owned fleet at ``site``; ``name`` defaults to the site's name."""
    lines = _ownership_lines(fleet, finance)
    for line, usd in monthly_running_usd(fleet, finance, site).items():
        lines[line] = _running(usd, finance)
    notes = _self_hosted_notes(fleet, finance, site)
    label = name if name is not None else site.value
    return OptionCost(label, _SITE_KIND[site], lines, finance.monthly_discount_rate, notes)


def cost_on_premise(
    fleet: Fleet, finance: FinanceAssumptions, *, name: str = "on-premise"
) -> OptionCost:
    """Owned fleet in an owned site (space at ``on_premise_site_usd_per_kw_month``)."""
    return cost_self_hosted(fleet, finance, SiteKind.ON_PREMISE, name=name)


def cost_colocation(
    fleet: Fleet, finance: FinanceAssumptions, *, name: str = "colocation"
) -> OptionCost:
    """Owned fleet in rented colocation space (per-kW and per-rack rent)."""
    return cost_self_hosted(fleet, finance, SiteKind.COLOCATION, name=name)


def billed_hours_per_month(rental: CloudRental, finance: FinanceAssumptions) -> float:
    """Hours each instance is billed per month; checks them against the month and term."""
    hours = rental.billed_hours_per_month
    if hours is None:
        return finance.hours_per_month
    if hours > finance.hours_per_month:
        raise ConfigurationError(
            f"{hours:g} billed hours exceed the {finance.hours_per_month:g} hours of a month",
            field="billed_hours_per_month",
        )
    if rental.commitment.term_months and hours < finance.hours_per_month:
        raise ConfigurationError(
            f"{rental.commitment.value} capacity is billed for every hour; leave "
            "billed_hours_per_month unset",
            field="billed_hours_per_month",
        )
    return hours


def _commitment_overhang_months(rental: CloudRental, finance: FinanceAssumptions) -> int:
    term = rental.commitment.term_months
    if not term:
        return 0
    return math.ceil(finance.horizon_months / term) * term - finance.horizon_months


def cost_cloud(
    rental: CloudRental, finance: FinanceAssumptions, *, name: str | None = None
) -> OptionCost:
    """Rented instances billed by the hour, plus storage/egress and cloud staff."""
    hours = billed_hours_per_month(rental, finance)
    monthly = rental.usd_per_hour * hours
    overhang = np.zeros(finance.horizon_months + 1)
    overhang_months = _commitment_overhang_months(rental, finance)
    overhang[-1] = overhang_months * monthly
    staff = finance.cloud_staff_fte * finance.loaded_staff_usd_per_fte_year / MONTHS_PER_YEAR
    extras = finance.cloud_storage_egress_usd_per_month
    lines = {
        CostLine.CLOUD_HOURS: _running(monthly, finance),
        CostLine.CLOUD_COMMITMENT_OVERHANG: overhang,
        CostLine.CLOUD_STORAGE_EGRESS: _running(extras, finance),
        CostLine.STAFF: _running(staff, finance),
    }
    notes = (
        f"{rental.instances} instances x {rental.usd_per_instance_hour:g} USD/h x "
        f"{hours:g} h/month ({rental.commitment.value})",
        f"{overhang_months} months of commitment beyond the horizon charged",
        f"cloud staff {finance.cloud_staff_fte:g} FTE",
    )
    label = name if name is not None else f"cloud-{rental.commitment.value}"
    return OptionCost(label, OptionKind.CLOUD, lines, finance.monthly_discount_rate, notes)


def cost_api(usage: ApiUsage, finance: FinanceAssumptions, *, name: str = "api") -> OptionCost:
    """Per-token API bill for the same monthly volumes every month."""
    lines = {CostLine.API_TOKENS: _running(usage.usd_per_month, finance)}
    notes = (
        f"{usage.tokens_per_month:,.0f} tokens/month, "
        f"{usage.cached_input_fraction:g} of input cached",
    )
    return OptionCost(name, OptionKind.API, lines, finance.monthly_discount_rate, notes)


def cost_hybrid(
    fleet: Fleet,
    finance: FinanceAssumptions,
    *,
    site: SiteKind = SiteKind.COLOCATION,
    burst_cloud: CloudRental | None = None,
    burst_api: ApiUsage | None = None,
    name: str = "hybrid",
) -> OptionCost:
    """Owned base fleet plus burst capacity given as cloud hours and/or API volumes.

    Each part is costed on its own and the lines summed (cloud staff included if set).
    """
    parts = [cost_self_hosted(fleet, finance, site, name=f"base-{site.value}")]
    if burst_cloud is not None:
        parts.append(cost_cloud(burst_cloud, finance, name="burst-cloud"))
    if burst_api is not None:
        parts.append(cost_api(burst_api, finance, name="burst-api"))
    return combine(name, OptionKind.HYBRID, tuple(parts))
