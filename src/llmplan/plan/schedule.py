"""An option's fleet over time: purchases, GPUs in service and spending month by month,
and its footprint (servers, idle GPUs, kW, racks) against the fleet-wide limits.

Month ``m`` (0 = the first) runs from t=m to t=m+1: its spending is the purchases and
resale credits at t=m plus its running costs (paid at t=m+1); the horizon's resale credit
counts in the last month, so the months add up to the option's TCO.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmplan.cost import FinanceAssumptions, OptionCost
from llmplan.cost.model import purchase_months
from llmplan.cost.phasing import commitment_ladder, in_service, purchases, tranches
from llmplan.cost.result import FloatArray
from llmplan.plan.demand import hybrid_split
from llmplan.plan.fleet import Footprint, fleet_limit_problem, footprint
from llmplan.plan.options import (
    PriceContext,
    fleet_for,
    packing_for,
    phased_fleet,
    replicas_by_month,
    site_of,
)
from llmplan.plan.search import Design
from llmplan.plan.sharing import SharedServers
from llmplan.scenario import Constraints, DeploymentOption, InferenceWorkload

_COMMITMENT_MONTHS = {
    DeploymentOption.CLOUD_RESERVED_1Y: 12,
    DeploymentOption.CLOUD_RESERVED_3Y: 36,
}


def owns_hardware(option: DeploymentOption) -> bool:
    """Whether ``option`` buys servers (on premise, colocation, the hybrid's base)."""
    return option.is_owned or option is DeploymentOption.HYBRID


def owned_replicas(design: Design, option: DeploymentOption, ctx: PriceContext) -> int:
    """Replicas the option owns for ``design`` in the final month."""
    if option is DeploymentOption.HYBRID:
        base = hybrid_split(design, ctx.hybrid_base_demand_percentile).base_replicas
        return min(base, design.replicas)
    return design.replicas


def design_footprint(
    design: Design, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> Footprint:
    """Servers, GPUs, idle GPUs, rated kW and racks of ``design``'s owned fleet at its peak."""
    replicas = owned_replicas(design, option, ctx)
    fleet = fleet_for(design, replicas, finance, ctx)
    packing = packing_for(design, replicas, finance, ctx)
    if isinstance(fleet, str) or isinstance(packing, str):
        return Footprint()
    used = replicas * design.deployment.num_gpus
    return footprint(
        fleet, used, packing.rack_units, finance, ctx.capacity, fills_rack=packing.fills_rack
    )


def unshared(designs: tuple[Design, ...], shared: SharedServers | None) -> tuple[Design, ...]:
    """The designs with servers of their own (not in the ``shared`` group)."""
    if shared is None:
        return designs
    return tuple(d for d in designs if not any(d is s for s in shared.designs))


def option_footprint(
    designs: tuple[Design, ...],
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
    shared: SharedServers | None = None,
) -> Footprint:
    """The owned fleet of every workload of ``option`` together (empty when it owns none);
    the designs of ``shared`` count once, as their shared servers."""
    total = Footprint()
    if owns_hardware(option):
        for design in unshared(designs, shared):
            total = total + design_footprint(design, option, finance, ctx)
        if shared is not None:
            total = total + shared.footprint(finance, ctx)
    return total


def owned_gpus_in_service(
    designs: tuple[Design, ...],
    finance: FinanceAssumptions,
    ctx: PriceContext,
    volume: float,
    shared: SharedServers | None = None,
) -> FloatArray:
    """GPUs of the phased owned fleets in service in each month 0..H-1 (tranches)."""
    total = np.zeros(finance.horizon_months)
    capacity = ctx.capacity
    if shared is not None:
        phased = shared.phased(finance, ctx, volume)
        servers = shared.servers_by_month(phased, ctx, finance.horizon_months)
        total += np.asarray(servers, dtype=float) * phased.template.gpus_per_server
    for design in unshared(designs, shared):
        fleet, _ = phased_fleet(design, finance, ctx, volume)
        events = tranches(fleet.need, capacity.lead_time_months, capacity.min_tranche_servers)
        counts = np.asarray(in_service(events, finance.horizon_months), dtype=float)
        total += counts * fleet.template.gpus_per_server
    return total


def fleet_limit_reason(
    designs: tuple[Design, ...],
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
    shared: SharedServers | None = None,
) -> str:
    """Why the whole fleet of ``option`` breaks a constraint ('' when it does not)."""
    limits: Constraints = ctx.constraints
    total = option_footprint(designs, option, finance, ctx, shared)
    return fleet_limit_problem(
        total,
        limits.power_budget_kw,
        limits.site_power_budget_kw,
        limits.max_racks,
        finance,
        limits.max_floor_m2,
        ctx.capacity,
    )


@dataclass(frozen=True)
class Schedule:
    """Purchases (month, servers, GPUs, USD) and GPUs in service per month of one option."""

    purchases: tuple[tuple[int, int, int, float], ...]
    gpus_in_service: tuple[int, ...]


def _owned_schedule(
    design: Design, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> Schedule:
    months = finance.horizon_months
    if ctx.capacity.phased and option.is_owned:
        phased, _ = phased_fleet(design, finance, ctx)
        gps = phased.template.gpus_per_server
        bought = purchases(phased, finance, ctx.capacity, site_of(option))
        events = tranches(
            phased.need, ctx.capacity.lead_time_months, ctx.capacity.min_tranche_servers
        )
        counts = in_service(events, months)
        rows = tuple((p.month, p.servers, p.servers * gps, p.usd) for p in bought)
        return Schedule(rows, tuple(c * gps for c in counts))
    fleet_or_reason = fleet_for(design, owned_replicas(design, option, ctx), finance, ctx)
    if isinstance(fleet_or_reason, str):
        return Schedule((), (0,) * months)
    fleet = fleet_or_reason
    usd = fleet.servers * (fleet.server_price_usd + finance.network_capex_usd_per_server)
    rows = tuple((m, fleet.servers, fleet.gpus, usd) for m in purchase_months(finance))
    return Schedule(rows, (fleet.gpus,) * months)


def _rented_gpus(
    design: Design, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> tuple[int, ...]:
    months = finance.horizon_months
    per_replica = design.deployment.num_gpus
    if not ctx.capacity.phased:
        return (design.replicas * per_replica,) * months
    gpus = [r * per_replica for r in replicas_by_month(design, 1.0, months)]
    term = _COMMITMENT_MONTHS.get(option, 0)
    if term:
        gpus = commitment_ladder(gpus, term)[0]
    return tuple(gpus)


def design_schedule(
    design: Design, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> Schedule:
    """What ``option`` buys or rents for ``design``, month by month."""
    if owns_hardware(option):
        return _owned_schedule(design, option, finance, ctx)
    if option.is_cloud_rental:
        return Schedule((), _rented_gpus(design, option, finance, ctx))
    return Schedule((), (0,) * finance.horizon_months)


def merged(schedules: list[Schedule], months: int) -> Schedule:
    """Purchases of every schedule summed by month, GPUs in service summed."""
    by_month: dict[int, list[float]] = {}
    for schedule in schedules:
        for month, servers, gpus, usd in schedule.purchases:
            row = by_month.setdefault(month, [0, 0, 0.0])
            row[0] += servers
            row[1] += gpus
            row[2] += usd
    rows = tuple((m, int(r[0]), int(r[1]), r[2]) for m, r in sorted(by_month.items()))
    service = np.zeros(months, dtype=int)
    for schedule in schedules:
        service += np.asarray(schedule.gpus_in_service, dtype=int)
    return Schedule(rows, tuple(int(g) for g in service))


def monthly_usd(cost: OptionCost) -> FloatArray:
    """Spending attributed to each month 0..H-1 (purchases and credits at its start,
    running costs at its end; the horizon's credit in the last month)."""
    horizon = cost.horizon_months
    out = np.zeros(horizon)
    for line, values in cost.lines_usd.items():
        if line.is_opex:
            out += values[1:]
        else:
            out += values[:-1]
            out[-1] += values[-1]
    return out


def demand_requests_per_s(workloads: tuple[InferenceWorkload, ...], months: int) -> list[float]:
    """Mean arrival rate within operating hours of each month, summed over workloads."""
    return [sum(w.average_requests_per_s(m) for w in workloads) for m in range(months)]


def schedule_payload(
    designs: tuple[Design, ...],
    option: DeploymentOption,
    workloads: tuple[InferenceWorkload, ...],
    cost: OptionCost,
    finance: FinanceAssumptions,
    ctx: PriceContext,
    shared: SharedServers | None = None,
) -> dict[str, object]:
    """``purchases``, ``monthly``, ``power_kw`` (at the wall), ``it_power_kw``, ``racks``,
    ``floor_m2``, ``servers`` and ``idle_gpus`` of one included option, as JSON-ready data."""
    months = finance.horizon_months
    parts = [design_schedule(d, option, finance, ctx) for d in unshared(designs, shared)]
    if shared is not None:
        parts.append(Schedule(*shared.schedule(option, finance, ctx)))
    schedule = merged(parts, months)
    spent = monthly_usd(cost)
    demand = demand_requests_per_s(workloads, months)
    total = option_footprint(designs, option, finance, ctx, shared)
    return {
        "purchases": [
            {"month": m, "servers": s, "gpus": g, "usd": usd} for m, s, g, usd in schedule.purchases
        ],
        "monthly": [
            {
                "month": m,
                "demand_requests_per_s": demand[m],
                "gpus_in_service": schedule.gpus_in_service[m],
                "usd": float(spent[m]),
            }
            for m in range(months)
        ],
        "power_kw": total.wall_kw(finance),
        "it_power_kw": total.it_kw,
        "racks": total.racks,
        "floor_m2": total.floor_m2(ctx.capacity),
        "servers": total.servers,
        "idle_gpus": total.idle_gpus,
    }
