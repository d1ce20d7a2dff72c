"""Several models on shared servers (issue 13 item 8): multi-model serving, kept physical.

With ``capacity.whole_servers`` an 8-GPU board is bought whole, so a workload whose
replicas need 2 GPUs buys 8. When several inference workloads run on the same GPU type,
their replicas can instead be packed into shared servers: a server's GPUs are divided
among the replicas of several models, **whole GPUs per replica** (e.g. one 4-GPU replica
of a 70B model and two 2-GPU replicas of an 8B model in one HGX server).

What is modelled: each replica keeps its own GPUs, weights and KV cache, and is sized
for its own workload's busiest hour, so every workload's SLOs hold at the combined load
exactly as they do on separate servers; the saving is in whole servers bought (and their
power, racks, space and spares: ``redundant_servers`` spare servers per shared fleet).
Replicas are packed best-fit decreasing by GPU count, never worse than separate servers.

What is not modelled: several models time-sharing one GPU (fractional GPUs, MIG or
MPS), contention between replicas for the server's CPUs, PCIe or network, and a replica
spanning servers (such designs are not shared). Hybrid options and consumer or
workstation towers keep one fleet per workload.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from llmplan.cost import FinanceAssumptions, Fleet, OptionCost, cost_self_hosted
from llmplan.cost.model import purchase_months
from llmplan.cost.phasing import PhasedFleet, cost_phased_owned, purchases, with_facility
from llmplan.cost.phasing import in_service as servers_in_service
from llmplan.cost.phasing import tranches as tranche_events
from llmplan.errors import LlmplanError
from llmplan.plan.fleet import Footprint, Packing, footprint
from llmplan.plan.options import (
    WORKSTATION_CATEGORIES,
    PriceContext,
    Recipe,
    packing_for,
    replicas_by_month,
    site_of,
)
from llmplan.plan.search import HOURS_PER_MONTH, SECONDS_PER_HOUR, Design
from llmplan.scenario import DeploymentOption


def packed_servers(replicas: Sequence[tuple[int, int]], gpus_per_server: int) -> int:
    """Servers of ``gpus_per_server`` GPUs holding (GPUs per replica, replicas) pairs, whole
    GPUs per replica: best-fit decreasing, and never more than separate servers per size."""
    separate = sum(
        math.ceil(count / (gpus_per_server // size)) for size, count in replicas if count
    )
    sizes = sorted({size for size, count in replicas if count}, reverse=True)
    if not sizes:
        return 0
    chain = (gpus_per_server, *sizes)
    if all(big % small == 0 for big, small in pairwise(chain)):
        # each size divides the next larger one and the server: no gaps are left
        used = sum(size * count for size, count in replicas)
        return min(separate, math.ceil(used / gpus_per_server))
    free: Counter[int] = Counter()  # free GPUs -> servers with that many free
    servers = 0
    for size, count in sorted(replicas, reverse=True):
        for _ in range(count):
            fit = min((f for f, n in free.items() if n and f >= size), default=None)
            if fit is None:
                servers, fit = servers + 1, gpus_per_server
                free[fit] += 1
            free[fit] -= 1
            free[fit - size] += 1
    return min(separate, servers)


@dataclass(frozen=True)
class SharedServers:
    """The replicas of ``designs`` (one per workload, one GPU type) in shared servers."""

    designs: tuple[Design, ...]

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(d.workload.name for d in self.designs)

    def packing(self, finance: FinanceAssumptions, ctx: PriceContext) -> Packing:
        """The server type: the cheapest whole server for the design with the widest
        replica, holding as many of its replicas as the whole group has GPUs."""
        widest = max(self.designs, key=lambda d: d.gpus_per_replica)
        used = sum(d.gpus for d in self.designs)
        packing = packing_for(widest, math.ceil(used / widest.gpus_per_replica), finance, ctx)
        if isinstance(packing, str):  # pragma: no cover - checked by shareable()
            raise LlmplanError(packing)
        return packing

    def servers(self, replicas: Sequence[int], gpus_per_server: int) -> int:
        """Shared servers holding ``replicas[i]`` replicas of ``designs[i]``."""
        pairs = [(d.gpus_per_replica, r) for d, r in zip(self.designs, replicas, strict=True)]
        return packed_servers(pairs, gpus_per_server)

    def separate_servers(self, finance: FinanceAssumptions, ctx: PriceContext) -> int:
        """Servers the designs would buy on their own (spares included)."""
        total = 0
        for design in self.designs:
            packing = packing_for(design, design.replicas, finance, ctx)
            if isinstance(packing, str):  # pragma: no cover - checked by shareable()
                raise LlmplanError(packing)
            servers = packing.servers(design.replicas)
            total += servers + ctx.capacity.spare_servers(servers)
        return total

    def fleet(self, finance: FinanceAssumptions, ctx: PriceContext, volume: float = 1.0) -> Fleet:
        """The shared fleet at ``volume`` x the workloads' volumes (flat model)."""
        packing = self.packing(finance, ctx)
        replicas = [d.replicas_at(volume) for d in self.designs]
        servers = self.servers(replicas, packing.gpus_per_server)
        servers += ctx.capacity.spare_servers(servers)
        busy_gpus = sum(
            min(1.0, volume * d.busy_fraction * d.replicas / r) * r * d.gpus_per_replica
            for d, r in zip(self.designs, replicas, strict=True)
        )
        busy = min(1.0, busy_gpus / (servers * packing.gpus_per_server))
        return packing_fleet(packing, servers, busy)

    def phased(
        self, finance: FinanceAssumptions, ctx: PriceContext, volume: float = 1.0
    ) -> PhasedFleet:
        """Shared servers needed in each month, and how busy they would be."""
        packing = self.packing(finance, ctx)
        months = finance.horizon_months
        by_design = [replicas_by_month(d, volume, months) for d in self.designs]
        need, busy = [], []
        for month in range(months):
            counts = [replicas[month] for replicas in by_design]
            servers = self.servers(counts, packing.gpus_per_server)
            servers += ctx.capacity.spare_servers(servers)
            busy_gpus = 0.0
            for design, count in zip(self.designs, counts, strict=True):
                rate = design.workload.requests_per_month(month) * volume
                rate /= HOURS_PER_MONTH * SECONDS_PER_HOUR
                load = min(1.0, rate / (count * design.capacity.max_requests_per_s))
                busy_gpus += load * count * design.gpus_per_replica
            need.append(servers)
            busy.append(min(1.0, busy_gpus / (servers * packing.gpus_per_server)))
        return PhasedFleet(packing_fleet(packing, 1, 0.0), tuple(need), tuple(busy))

    def footprint(self, finance: FinanceAssumptions, ctx: PriceContext) -> Footprint:
        """Servers, GPUs, idle GPUs, rated kW and racks of the shared fleet at its peak."""
        packing = self.packing(finance, ctx)
        return footprint(
            self.fleet(finance, ctx),
            sum(d.gpus for d in self.designs),
            packing.rack_units,
            finance,
            ctx.capacity,
            fills_rack=packing.fills_rack,
        )

    def schedule(
        self, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
    ) -> tuple[tuple[tuple[int, int, int, float], ...], tuple[int, ...]]:
        """(purchases as (month, servers, GPUs, USD), GPUs in service per month)."""
        months = finance.horizon_months
        if ctx.capacity.phased:
            phased = self.phased(finance, ctx)
            gps = phased.template.gpus_per_server
            bought = purchases(phased, finance, ctx.capacity, site_of(option))
            rows = tuple((p.month, p.servers, p.servers * gps, p.usd) for p in bought)
            return rows, tuple(c * gps for c in self.servers_by_month(phased, ctx, months))
        fleet = self.fleet(finance, ctx)
        usd = fleet.servers * (fleet.server_price_usd + finance.network_capex_usd_per_server)
        rows = tuple((m, fleet.servers, fleet.gpus, usd) for m in purchase_months(finance))
        return rows, (fleet.gpus,) * months

    @staticmethod
    def servers_by_month(phased: PhasedFleet, ctx: PriceContext, months: int) -> list[int]:
        """Servers in service each month after the tranches."""
        capacity = ctx.capacity
        events = tranche_events(
            phased.need, capacity.lead_time_months, capacity.min_tranche_servers
        )
        return servers_in_service(events, months)

    def recipe(self, option: DeploymentOption, ctx: PriceContext) -> Recipe:
        """The shared fleet's cost under ``option`` at a volume multiple."""

        def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
            site = site_of(option)
            if ctx.capacity.phased:
                phased = self.phased(finance, ctx, volume)
                return cost_phased_owned(phased, finance, ctx.capacity, site, name=option.value)
            fleet = self.fleet(finance, ctx, volume)
            cost = cost_self_hosted(fleet, finance, site, name=option.value)
            return with_facility(cost, fleet.rated_kw, ctx.capacity, site)

        return recipe


def packing_fleet(packing: Packing, servers: int, busy: float) -> Fleet:
    """``servers`` servers of ``packing``'s type at ``busy`` load."""
    return Fleet(
        servers=servers,
        gpus_per_server=packing.gpus_per_server,
        server_price_usd=packing.server_price_usd,
        server_power_kw=packing.server_power_kw,
        busy_fraction=busy,
    )


def shareable(
    designs: Sequence[Design],
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
) -> SharedServers | None:
    """The designs as one shared fleet, when sharing is allowed and physical: two or more
    designs on one data-centre GPU type, owned whole servers, every replica within one
    server; ``None`` otherwise."""
    capacity = ctx.capacity
    if not (capacity.whole_servers and capacity.share_servers_across_models):
        return None
    if not option.is_owned or len(designs) < 2:
        return None
    gpu = designs[0].deployment.gpu
    if gpu.category in WORKSTATION_CATEGORIES:
        return None
    if any(d.deployment.gpu.id != gpu.id for d in designs):
        return None
    group = SharedServers(tuple(designs))
    for design in designs:
        if isinstance(packing_for(design, design.replicas, finance, ctx), str):
            return None
    packing = group.packing(finance, ctx)
    if packing.servers_per_replica > 1 or any(
        d.gpus_per_replica > packing.gpus_per_server for d in designs
    ):
        return None
    return group
