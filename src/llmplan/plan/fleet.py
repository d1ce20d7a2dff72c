"""Servers as the unit of purchase, and the footprint of a whole fleet against its limits.

- :func:`whole_server_packing`: the cheapest way to hold a design's replicas in servers that
  are sold whole: an entry of the server catalogue for the GPU, or a full node of the GPU's
  ``max_gpus_per_node`` GPUs priced from the GPU price (a consumer or workstation card:
  a tower with just the cards needed, up to the node size). GPUs bought but not used by a
  replica are counted as idle.
- :func:`footprint` and :func:`fleet_limit_problem`: rated IT kW, kW at the wall with PUE,
  racks and servers summed over every workload of an option, checked against
  ``constraints.power_budget_kw`` (IT kW), ``constraints.site_power_budget_kw`` (with PUE),
  ``constraints.max_racks`` and ``constraints.max_floor_m2`` (racks x
  ``capacity.floor_m2_per_rack``). Each workload's servers fill racks of their own: servers
  per rack = the fewest allowed by ``finance.rack_kw`` and by
  ``capacity.rack_units_per_rack``; a rack-scale platform fills one rack per unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from llmplan.catalog.servers import ServerForm, ServerSpec
from llmplan.cost import FinanceAssumptions, Fleet
from llmplan.cost.phasing import servers_needed
from llmplan.domain.capacity import CapacityAssumptions

DERIVED_SERVER_RACK_UNITS = 8
"""Height of a server priced from GPU prices (an 8-GPU HGX chassis is 8U: DGX H100
datasheet); towers of consumer or workstation cards stand on the floor (0 U)."""


@dataclass(frozen=True)
class Packing:
    """How replicas fill servers bought whole."""

    gpus_per_server: int
    replicas_per_server: int
    servers_per_replica: int
    server_price_usd: float
    server_power_kw: float
    rack_units: int
    fills_rack: bool = False
    server_id: str | None = None

    def servers(self, replicas: int) -> int:
        """Servers holding ``replicas`` replicas."""
        return servers_needed(replicas, self.replicas_per_server, self.servers_per_replica)

    def fleet(self, replicas: int, busy_fraction: float, spare: int = 0) -> Fleet:
        """The fleet for ``replicas`` replicas and ``spare`` spare servers."""
        return Fleet(
            servers=self.servers(replicas) + spare,
            gpus_per_server=self.gpus_per_server,
            server_price_usd=self.server_price_usd,
            server_power_kw=self.server_power_kw,
            busy_fraction=busy_fraction,
        )


def _packing(spec: ServerSpec, gpus_per_replica: int) -> Packing:
    if gpus_per_replica <= spec.gpus:
        per_server, span = spec.gpus // gpus_per_replica, 1
    else:
        per_server, span = 1, math.ceil(gpus_per_replica / spec.gpus)
    return Packing(
        gpus_per_server=spec.gpus,
        replicas_per_server=per_server,
        servers_per_replica=span,
        server_price_usd=spec.price_usd,
        server_power_kw=spec.power_kw,
        rack_units=spec.rack_units,
        fills_rack=spec.form is ServerForm.RACK,
        server_id=spec.id,
    )


def derived_packing(
    gpus_per_replica: int,
    node_gpus: int,
    usd_per_gpu: float,
    chassis_usd: float,
    gpu_power_w: float,
    finance: FinanceAssumptions,
    *,
    tower: bool = False,
) -> Packing:
    """A node of ``node_gpus`` GPUs priced from the GPU price plus ``chassis_usd``, its power
    from TDP x (1 + ``server_non_gpu_power_fraction_of_gpu``)."""
    spec_gpus = max(node_gpus, gpus_per_replica) if tower else node_gpus
    spec = ServerSpec(
        id="derived-node",
        name="node priced from GPU prices",
        form=ServerForm.WORKSTATION if tower else ServerForm.HGX8,
        gpu="derived",
        gpus=spec_gpus,
        price_usd=max(spec_gpus * usd_per_gpu + chassis_usd, 1e-9),
        power_kw=spec_gpus
        * gpu_power_w
        / 1000
        * (1 + finance.server_non_gpu_power_fraction_of_gpu),
        rack_units=0 if tower else DERIVED_SERVER_RACK_UNITS,
        source="derived from the GPU price and TDP",
        price_date="2000-01-01",
    )
    packing = _packing(spec, gpus_per_replica)
    return Packing(**{**packing.__dict__, "server_id": None})


def whole_server_packing(
    candidates: Iterable[ServerSpec], derived: Packing | None, gpus_per_replica: int, replicas: int
) -> Packing | None:
    """The packing that buys ``replicas`` replicas for the least money (ties: fewer idle
    GPUs, then catalogue order); ``None`` when nothing can be priced."""
    options = [_packing(spec, gpus_per_replica) for spec in candidates]
    if derived is not None:
        options.append(derived)
    if not options:
        return None

    def key(p: Packing) -> tuple[float, int]:
        servers = p.servers(replicas)
        return servers * p.server_price_usd, servers * p.gpus_per_server

    return min(options, key=key)


@dataclass(frozen=True)
class Footprint:
    """What an owned fleet takes: servers, GPUs (idle ones too), rated IT kW, racks."""

    servers: int = 0
    gpus: int = 0
    idle_gpus: int = 0
    it_kw: float = 0.0
    racks: int = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(
            self.servers + other.servers,
            self.gpus + other.gpus,
            self.idle_gpus + other.idle_gpus,
            self.it_kw + other.it_kw,
            self.racks + other.racks,
        )

    def floor_m2(self, capacity: CapacityAssumptions) -> float:
        """Floor space of the racks with their aisles, m2."""
        return self.racks * capacity.floor_m2_per_rack

    def wall_kw(self, finance: FinanceAssumptions) -> float:
        """Power drawn from the grid at rated load, IT kW x PUE."""
        return self.it_kw * finance.pue


def racks_for(
    servers: int,
    server_kw: float,
    rack_units: int,
    finance: FinanceAssumptions,
    capacity: CapacityAssumptions,
    *,
    fills_rack: bool = False,
) -> int:
    """Racks holding ``servers`` identical servers (a server never spans racks unless it
    alone exceeds the rack's power, when it takes ceil(kW / rack kW) racks)."""
    if servers == 0:
        return 0
    if fills_rack:
        return servers
    if server_kw > finance.rack_kw:
        return servers * math.ceil(server_kw / finance.rack_kw)
    per_rack = math.floor(finance.rack_kw / server_kw)
    if rack_units > 0:
        per_rack = min(per_rack, capacity.rack_units_per_rack // rack_units)
    return math.ceil(servers / max(1, per_rack))


def footprint(
    fleet: Fleet,
    used_gpus: int,
    rack_units: int,
    finance: FinanceAssumptions,
    capacity: CapacityAssumptions,
    *,
    fills_rack: bool = False,
) -> Footprint:
    """The footprint of one workload's fleet in which ``used_gpus`` GPUs serve replicas."""
    racks = racks_for(
        fleet.servers, fleet.server_power_kw, rack_units, finance, capacity, fills_rack=fills_rack
    )
    return Footprint(
        fleet.servers, fleet.gpus, max(0, fleet.gpus - used_gpus), fleet.rated_kw, racks
    )


def fleet_limit_problem(
    total: Footprint,
    power_budget_kw: float | None,
    site_power_budget_kw: float | None,
    max_racks: int | None,
    finance: FinanceAssumptions,
    max_floor_m2: float | None = None,
    capacity: CapacityAssumptions | None = None,
) -> str:
    """Which fleet-wide limit ``total`` breaks, with the figures ('' when none)."""
    if power_budget_kw is not None and total.it_kw > power_budget_kw:
        return (
            f"the fleet of all workloads draws {total.it_kw:,.1f} kW of IT power "
            f"({total.servers} servers), over constraints.power_budget_kw {power_budget_kw:g}"
        )
    wall = total.wall_kw(finance)
    if site_power_budget_kw is not None and wall > site_power_budget_kw:
        return (
            f"the fleet of all workloads draws {wall:,.1f} kW at the wall "
            f"({total.it_kw:,.1f} kW IT x PUE {finance.pue:g}), over "
            f"constraints.site_power_budget_kw {site_power_budget_kw:g}"
        )
    if max_racks is not None and total.racks > max_racks:
        return (
            f"the fleet of all workloads needs {total.racks} racks ({total.servers} servers, "
            f"{total.it_kw:,.1f} kW, racks of {finance.rack_kw:g} kW), over "
            f"constraints.max_racks {max_racks}"
        )
    capacity = capacity if capacity is not None else CapacityAssumptions()
    floor = total.floor_m2(capacity)
    if max_floor_m2 is not None and floor > max_floor_m2:
        return (
            f"the fleet of all workloads needs {floor:,.1f} m2 of floor ({total.racks} racks "
            f"x {capacity.floor_m2_per_rack:g} m2), over constraints.max_floor_m2 "
            f"{max_floor_m2:g}"
        )
    return ""
