"""Time-phased capacity: fleets bought in tranches, cloud scaled or laddered, API per month.

Month ``m`` (0 = the first month) runs from t=m to t=m+1. A purchase made for month ``m`` is
paid at t=m (array index ``m``); the running costs of month ``m`` at its end (index m+1),
as in :mod:`llmplan.cost.model`.

- **Tranches** (:func:`tranches`): when the servers in service fall short of a month's need,
  a tranche arrives that month. It was ordered ``lead_time_months`` earlier, so it must cover
  the need until the next order can arrive: the largest need from that month to
  ``lead_time_months`` later, and at least ``min_tranche_servers``.
- **Price decline**: a server bought in month ``m`` costs the list price times
  ``(1 - hardware_price_decline_per_year) ** (m / 12)``; refreshes at the end of a tranche's
  life are bought at the declined price; each retired tranche is sold at
  ``residual_value_fraction`` and the ones still in use at the horizon are credited at book
  value (as :mod:`llmplan.cost.model` does for one purchase).
- **Facility build-out** (on premise): ``facility_usd_per_kw`` per rated IT kW added, paid
  with the tranche that adds it, never refreshed or resold within the horizon.
- The defaults of :class:`CapacityAssumptions` keep the flat model of earlier versions: the
  final month's fleet bought in month 0, the API billed at the horizon's average volume.
- **Reserved ladder** (:func:`commitment_ladder`): whenever the committed capacity falls short
  of a month's need, a new commitment of the shortfall starts that month for the full term;
  expired ones are replaced the same way. A term running past the horizon is charged in full
  (the excess in the last month), as for one commitment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmplan.cost.inputs import ApiUsage, Fleet, SiteKind, check_range
from llmplan.cost.model import monthly_running_usd
from llmplan.cost.result import CostLine, FloatArray, OptionCost, OptionKind
from llmplan.domain.capacity import CapacityAssumptions
from llmplan.domain.finance import MONTHS_PER_YEAR, FinanceAssumptions

_SITE_KIND = {
    SiteKind.ON_PREMISE: OptionKind.ON_PREMISE,
    SiteKind.COLOCATION: OptionKind.COLOCATION,
}


def with_facility(
    cost: OptionCost, it_kw: float, capacity: CapacityAssumptions, site: SiteKind
) -> OptionCost:
    """Flat model: ``cost`` plus building out ``it_kw`` rated IT kW on premise at
    ``capacity.facility_usd_per_kw``, paid at t=0 (the phased model pays it per tranche)."""
    if site is not SiteKind.ON_PREMISE or capacity.facility_usd_per_kw == 0:
        return cost
    built = np.zeros(cost.horizon_months + 1)
    built[0] = it_kw * capacity.facility_usd_per_kw
    lines = {**cost.lines_usd, CostLine.FACILITY: built}
    note = f"site build-out {it_kw:,.1f} kW x {capacity.facility_usd_per_kw:,.0f} USD/kW at month 0"
    return OptionCost(
        cost.name, cost.kind, lines, cost.monthly_discount_rate, (*cost.assumptions, note)
    )


def price_factor(month: float, decline_per_year: float) -> float:
    """Price of hardware bought in ``month`` relative to month 0."""
    return float((1.0 - decline_per_year) ** (month / MONTHS_PER_YEAR))


def tranches(need: Sequence[int], lead_time_months: int, min_tranche: int) -> list[tuple[int, int]]:
    """(month, servers added) so that the servers in service meet ``need[m]`` every month.

    Capacity is never sold before the end of its life (a falling need keeps it)."""
    check_range("lead_time_months", lead_time_months, 0)
    check_range("min_tranche_servers", min_tranche, 1)
    in_service, out = 0, []
    for month, servers in enumerate(need):
        if servers > in_service:
            cover = max(need[month : month + lead_time_months + 1])
            added = max(min_tranche, cover - in_service)
            out.append((month, added))
            in_service += added
    return out


def in_service(events: Sequence[tuple[int, int]], months: int) -> list[int]:
    """Servers in service in each month 0..months-1 after the tranches ``events``."""
    counts = [0] * months
    for month, servers in events:
        for m in range(month, months):
            counts[m] += servers
    return counts


def commitment_ladder(
    need: Sequence[int], term_months: int
) -> tuple[list[int], list[tuple[int, int]]]:
    """Committed units per month and the rungs (start month, units) of a reserved ladder."""
    check_range("term_months", term_months, 1)
    rungs: list[tuple[int, int]] = []
    committed: list[int] = []
    for month, units in enumerate(need):
        active = sum(u for start, u in rungs if start <= month < start + term_months)
        if units > active:
            rungs.append((month, units - active))
            active = units
        committed.append(active)
    return committed, rungs


@dataclass(frozen=True)
class Purchase:
    """Servers bought at t=``month`` (new capacity or a refresh), what they cost in USD
    (servers, network share and facility build-out) and whether it is a refresh."""

    month: int
    servers: int
    usd: float
    refresh: bool = False


@dataclass(frozen=True)
class PhasedFleet:
    """Identical servers needed month by month: ``need[m]`` servers in month m (m = 0..H-1),
    which would be busy ``busy_fraction[m]`` of the hours (servers in service beyond the need
    lower it in proportion); ``template`` gives the server's price, power and GPUs at
    month-0 prices."""

    template: Fleet
    need: tuple[int, ...]
    busy_fraction: tuple[float, ...]


def _life_events(
    month: int, servers: int, finance: FinanceAssumptions, capacity: CapacityAssumptions
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(purchases (t, price per server), credits (t, USD per server)) of one tranche's
    successive generations within the horizon."""
    horizon, life = finance.horizon_months, finance.depreciation_months
    buys: list[tuple[int, float]] = []
    credits: list[tuple[int, float]] = []
    start = month
    while start < horizon:
        unit = price_factor(start, capacity.hardware_price_decline_per_year)
        buys.append((start, unit))
        end = round(start + life)
        if end <= horizon:
            credits.append((end, finance.residual_value_fraction * unit))
            if end == horizon:
                break
            start = end
            continue
        if finance.credit_residual_at_horizon:
            used = (horizon - start) / life
            credits.append((horizon, (1.0 - (1.0 - finance.residual_value_fraction) * used) * unit))
        break
    return buys, credits


def purchases(
    fleet: PhasedFleet, finance: FinanceAssumptions, capacity: CapacityAssumptions, site: SiteKind
) -> list[Purchase]:
    """Every purchase of ``fleet``: tranches and their refreshes, in month order."""
    out = []
    per_server = fleet.template.server_price_usd + finance.network_capex_usd_per_server
    facility = 0.0
    if site is SiteKind.ON_PREMISE:
        facility = fleet.template.server_power_kw * capacity.facility_usd_per_kw
    for month, servers in tranches(
        fleet.need, capacity.lead_time_months, capacity.min_tranche_servers
    ):
        buys, _ = _life_events(month, servers, finance, capacity)
        for index, (when, unit) in enumerate(buys):
            usd = servers * (per_server * unit + (facility if index == 0 else 0.0))
            out.append(Purchase(when, servers, usd, refresh=index > 0))
    return sorted(out, key=lambda p: p.month)


def _ownership_lines(
    fleet: PhasedFleet, finance: FinanceAssumptions, capacity: CapacityAssumptions, site: SiteKind
) -> dict[CostLine, FloatArray]:
    length = finance.horizon_months + 1
    lines = {
        line: np.zeros(length)
        for line in (
            CostLine.HARDWARE,
            CostLine.NETWORK_HARDWARE,
            CostLine.RESIDUAL_CREDIT,
            CostLine.FACILITY,
        )
    }
    price = fleet.template.server_price_usd
    network = finance.network_capex_usd_per_server
    facility = fleet.template.server_power_kw * capacity.facility_usd_per_kw
    events = tranches(fleet.need, capacity.lead_time_months, capacity.min_tranche_servers)
    for month, servers in events:
        buys, credits = _life_events(month, servers, finance, capacity)
        for when, unit in buys:
            lines[CostLine.HARDWARE][when] += servers * price * unit
            lines[CostLine.NETWORK_HARDWARE][when] += servers * network * unit
        for when, unit in credits:
            lines[CostLine.RESIDUAL_CREDIT][when] -= servers * (price + network) * unit
        if site is SiteKind.ON_PREMISE:
            lines[CostLine.FACILITY][month] += servers * facility
    if not lines[CostLine.FACILITY].any():
        del lines[CostLine.FACILITY]
    return lines


def cost_phased_owned(
    fleet: PhasedFleet,
    finance: FinanceAssumptions,
    capacity: CapacityAssumptions,
    site: SiteKind,
    *,
    name: str,
) -> OptionCost:
    """An owned fleet bought in tranches; running costs follow the servers in service."""
    lines = _ownership_lines(fleet, finance, capacity, site)
    events = tranches(fleet.need, capacity.lead_time_months, capacity.min_tranche_servers)
    counts = in_service(events, finance.horizon_months)
    for month, servers in enumerate(counts):
        if servers == 0:
            continue
        current = Fleet(
            servers,
            fleet.template.gpus_per_server,
            fleet.template.server_price_usd,
            fleet.template.server_power_kw,
            min(1.0, fleet.busy_fraction[month] * fleet.need[month] / servers),
        )
        for line, usd in monthly_running_usd(current, finance, site).items():
            lines.setdefault(line, np.zeros(finance.horizon_months + 1))[month + 1] += usd
    notes = (
        f"phased: {len(events)} tranches (lead time {capacity.lead_time_months} months, "
        f"at least {capacity.min_tranche_servers} servers), {counts[0]} to {counts[-1]} "
        "servers in service",
        f"hardware price decline {capacity.hardware_price_decline_per_year:g}/year",
    )
    return OptionCost(name, _SITE_KIND[site], lines, finance.monthly_discount_rate, notes)


def cost_phased_cloud(
    gpus_by_month: Sequence[int],
    usd_per_gpu_hour: float,
    billed_hours_per_month: float,
    term_months: int,
    finance: FinanceAssumptions,
    *,
    name: str,
) -> OptionCost:
    """Cloud GPUs rented per month: as needed (``term_months`` 0) or as a ladder of
    reservations of ``term_months`` billed every hour."""
    length = finance.horizon_months + 1
    hours, overhang = np.zeros(length), np.zeros(length)
    rate = usd_per_gpu_hour * billed_hours_per_month
    billed = list(gpus_by_month)
    if term_months:
        billed, rungs = commitment_ladder(gpus_by_month, term_months)
        beyond = sum(max(0, s + term_months - finance.horizon_months) * u for s, u in rungs)
        overhang[-1] = beyond * rate
    hours[1:] = np.asarray(billed, dtype=float) * rate
    staff = finance.cloud_staff_fte * finance.loaded_staff_usd_per_fte_year / MONTHS_PER_YEAR
    flat = np.full(length, finance.cloud_storage_egress_usd_per_month)
    flat[0] = 0.0
    staff_line = np.full(length, staff)
    staff_line[0] = 0.0
    lines = {
        CostLine.CLOUD_HOURS: hours,
        CostLine.CLOUD_COMMITMENT_OVERHANG: overhang,
        CostLine.CLOUD_STORAGE_EGRESS: flat,
        CostLine.STAFF: staff_line,
    }
    kind = "ladder of reservations" if term_months else "scaled each month"
    notes = (
        f"phased: {min(billed)} to {max(billed)} GPUs at {usd_per_gpu_hour:g} USD/GPU-h x "
        f"{billed_hours_per_month:g} h/month, {kind}",
    )
    return OptionCost(name, OptionKind.CLOUD, lines, finance.monthly_discount_rate, notes)


def cost_phased_api(
    usage_by_month: Sequence[ApiUsage], finance: FinanceAssumptions, *, name: str = "api"
) -> OptionCost:
    """Per-token API billed for each month's own volume."""
    values = np.zeros(finance.horizon_months + 1)
    values[1:] = [usage.usd_per_month for usage in usage_by_month]
    total = sum(usage.tokens_per_month for usage in usage_by_month)
    notes = (f"phased: {total:,.0f} tokens over the horizon, billed month by month",)
    return OptionCost(
        name, OptionKind.API, {CostLine.API_TOKENS: values}, finance.monthly_discount_rate, notes
    )


def servers_needed(replicas: int, replicas_per_server: int, servers_per_replica: int) -> int:
    """Servers holding ``replicas`` replicas packed ``replicas_per_server`` to a server, or
    spanning ``servers_per_replica`` servers each."""
    return math.ceil(replicas / replicas_per_server) * servers_per_replica
