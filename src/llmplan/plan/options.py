"""Costing one sized replica design under each deployment option.

- **on-premise / colocation**: the replicas are packed into servers of up to the GPU's
  ``max_gpus_per_node``, bought at the price list's (or your) price;
- **cloud on-demand / spot**: GPUs rented only during operating hours (scaled to zero
  outside them), at the cheapest price in an allowed region;
- **cloud reserved (1 / 3 years)**: GPUs rented every hour of the term;
- **per-token API**: the workload's token volumes at the API's prices;
- **hybrid**: an owned base sized to a percentile of the operating hours' demand,
  bursting to cloud on-demand (or the API) for the rest (:mod:`llmplan.plan.demand`).

Each option is a *recipe*, a function of the finance assumptions and of a multiple of
the inference volume, so sensitivity analysis re-costs the same designs under other
assumptions and other volumes (replicas, GPU-hours and tokens follow the volume).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from llmplan.catalog.schema import GpuSpec
from llmplan.catalog.servers import ServerSpec, servers_for_gpu
from llmplan.cost import (
    ApiUsage,
    CloudRental,
    Commitment,
    FinanceAssumptions,
    Fleet,
    OptionCost,
    SiteKind,
    cost_api,
    cost_cloud,
    cost_hybrid,
    cost_self_hosted,
)
from llmplan.cost.phasing import (
    PhasedFleet,
    cost_phased_api,
    cost_phased_cloud,
    cost_phased_owned,
    with_facility,
)
from llmplan.domain.capacity import CapacityAssumptions
from llmplan.errors import LlmplanError
from llmplan.plan.compliance import (
    PriceOrigin,
    origin_of,
    qualification,
    refusal,
    residency_problem,
)
from llmplan.plan.demand import hybrid_split
from llmplan.plan.fleet import Packing, derived_packing, whole_server_packing
from llmplan.plan.search import HOURS_PER_MONTH, SECONDS_PER_HOUR, Design
from llmplan.prices.book import PriceBook
from llmplan.prices.schema import ApiPrice, CloudPrice, Pricing
from llmplan.scenario import Constraints, DeploymentOption, GpuOverride, InferenceWorkload

Recipe = Callable[[FinanceAssumptions, float], OptionCost]
"""(finance, inference volume multiple) -> cost; the multiple is 1 for the scenario."""

WORKSTATION_CATEGORIES = frozenset({"consumer", "workstation"})
_CLOUD_PRICING = {
    DeploymentOption.CLOUD_ON_DEMAND: (Pricing.ON_DEMAND, Commitment.ON_DEMAND),
    DeploymentOption.CLOUD_RESERVED_1Y: (Pricing.RESERVED_1Y, Commitment.RESERVED_1Y),
    DeploymentOption.CLOUD_RESERVED_3Y: (Pricing.RESERVED_3Y, Commitment.RESERVED_3Y),
    DeploymentOption.CLOUD_SPOT: (Pricing.SPOT, Commitment.SPOT),
}


@dataclass(frozen=True)
class PriceContext:
    """Where prices come from: the price list, your overrides, and the constraints."""

    prices: PriceBook
    gpu_overrides: Mapping[str, GpuOverride]
    constraints: Constraints
    hybrid_base_demand_percentile: float = 50.0
    capacity: CapacityAssumptions = field(default_factory=CapacityAssumptions)
    servers: tuple[ServerSpec, ...] = ()


@dataclass(frozen=True)
class Costed:
    """A design costed under one option: the recipe and what it was built from."""

    option: DeploymentOption
    design: Design
    recipe: Recipe
    price_note: str
    origin: PriceOrigin | None = None

    def cost(self, finance: FinanceAssumptions) -> OptionCost:
        return self.recipe(finance, 1.0)


# --- prices ---------------------------------------------------------------------------------


def gpu_price_usd(gpu: GpuSpec, ctx: PriceContext) -> tuple[float, bool, str] | None:
    """(USD per GPU, whether the price includes the server around it, its source)."""
    override = ctx.gpu_overrides.get(gpu.id)
    if override is not None and override.purchase_price_usd is not None:
        return override.purchase_price_usd, False, override.source or "scenario override"
    quote = ctx.prices.purchase_price(gpu.id)
    if quote is not None:
        server = quote.basis.value == "server"
        return quote.usd_per_gpu, server, f"{quote.entry.source} ({quote.entry.price_date})"
    if gpu.price_usd is not None:
        return gpu.price_usd, False, f"{gpu.price_source} ({gpu.price_date})"
    return None


def gpu_power_w(gpu: GpuSpec, ctx: PriceContext) -> float:
    override = ctx.gpu_overrides.get(gpu.id)
    if override is not None and override.power_w is not None:
        return override.power_w
    return gpu.tdp_w


def region_allowed(constraints: Constraints, region: str, country: str | None = None) -> bool:
    """Whether a price's region lies inside the data-residency constraint (a region of
    ``all`` or ``unspecified`` never does; see :mod:`llmplan.plan.compliance`)."""
    return not residency_problem(constraints, region, country)


@dataclass(frozen=True)
class CloudQuote:
    """The cloud price an option uses: USD per GPU-hour, its source and its origin."""

    usd_per_gpu_hour: float
    source: str
    origin: PriceOrigin


def _override_origin(ctx: PriceContext, source: str) -> PriceOrigin:
    residency = ctx.constraints.data_residency
    where = residency.value if residency is not None else "unspecified"
    return PriceOrigin("scenario override", where, (), source)


def cloud_quote(gpu: GpuSpec, option: DeploymentOption, ctx: PriceContext) -> CloudQuote | str:
    """The cheapest qualifying cloud price of ``gpu`` for ``option``, or why there is none
    (each price refused names the rule it breaks)."""
    override = ctx.gpu_overrides.get(gpu.id)
    if override is not None and (value := override.cloud_usd_per_gpu_hour(option)) is not None:
        source = override.source or "scenario override"
        return CloudQuote(value, source, _override_origin(ctx, source))
    pricing = _CLOUD_PRICING[option][0]
    offers: tuple[CloudPrice, ...] = ctx.prices.cloud_prices(gpu.id, pricing)
    refused = [(o, qualification(ctx.constraints, o, ctx.prices)) for o in offers]
    allowed = [o for o, why in refused if not why]
    if not allowed:
        if offers:
            return refusal(f"{pricing.value} price for {gpu.id}", refused)
        return f"no {pricing.value} price for {gpu.id}"
    best = allowed[0]
    source = f"{best.provider} {best.instance} {best.region} ({best.price_date})"
    return CloudQuote(best.usd_per_gpu_hour, source, origin_of(best, ctx.prices))


def cloud_price(
    gpu: GpuSpec, option: DeploymentOption, ctx: PriceContext
) -> tuple[float, str] | str:
    """(USD per GPU-hour, source) for ``option``, or why there is none."""
    quote = cloud_quote(gpu, option, ctx)
    return quote if isinstance(quote, str) else (quote.usd_per_gpu_hour, quote.source)


def api_price_for(workload: InferenceWorkload, model_id: str, ctx: PriceContext) -> ApiPrice | str:
    """The cheapest qualifying API price standing in for the workload, or why there is none
    (the workload's ``api_model`` if set, else every API serving ``model_id``)."""
    if workload.api_model is not None:
        try:
            named = ctx.prices.api_prices(workload.api_model)
        except LlmplanError as exc:
            return str(exc)
        candidates = list(named)
    else:
        candidates = [p for p in ctx.prices.api if p.open_model == model_id]
        if not candidates:
            return f"no API serves {model_id} in the price list; set api_model on the workload"
    refused = [(p, qualification(ctx.constraints, p, ctx.prices)) for p in candidates]
    allowed = [p for p, why in refused if not why]
    if not allowed:
        return refusal(f"API price for {workload.api_model or model_id}", refused)
    return min(allowed, key=lambda p: (p.input_usd_per_mtok + p.output_usd_per_mtok, p.id))


# --- fleets -----------------------------------------------------------------------------


def fleet_for(
    design: Design,
    replicas: int,
    finance: FinanceAssumptions,
    ctx: PriceContext,
    volume: float = 1.0,
) -> Fleet | str:
    """Servers holding ``replicas`` replicas of ``design`` serving ``volume`` times the
    workload's volume, or why they cannot be priced."""
    gpu = design.deployment.gpu
    price = gpu_price_usd(gpu, ctx)
    if price is None:
        return f"no purchase price for {gpu.id}; set overrides.gpus.{gpu.id}.purchase_price_usd"
    usd_per_gpu, includes_server, _ = price
    per_replica = design.gpus_per_replica
    busy = min(1.0, volume * design.busy_fraction * design.replicas / replicas)
    if ctx.capacity.whole_servers:
        packing = packing_for(design, replicas, finance, ctx)
        if isinstance(packing, str):
            return packing
        spare = ctx.capacity.spare_servers(packing.servers(replicas))
        bought = (packing.servers(replicas) + spare) * packing.gpus_per_server
        return packing.fleet(replicas, busy * replicas * per_replica / bought, spare)
    per_server = max(1, gpu.max_gpus_per_node // per_replica)
    servers = math.ceil(replicas / per_server)
    gpus_per_server = min(replicas, per_server) * per_replica
    if includes_server:
        chassis = 0.0
    elif gpu.category in WORKSTATION_CATEGORIES:
        chassis = finance.workstation_overhead_usd
    else:
        chassis = finance.server_overhead_usd
    gpu_kw = gpus_per_server * gpu_power_w(gpu, ctx) / 1000
    spare = ctx.capacity.spare_servers(servers)
    if spare:  # spare servers stand idle
        busy = busy * servers / (servers + spare)
    return Fleet(
        servers=servers + spare,
        gpus_per_server=gpus_per_server,
        server_price_usd=(gpus_per_server * usd_per_gpu + chassis)
        * finance.hardware_price_multiple,
        server_power_kw=gpu_kw * (1 + finance.server_non_gpu_power_fraction_of_gpu),
        busy_fraction=busy,
    )


def _chassis_usd(gpu: GpuSpec, includes_server: bool, finance: FinanceAssumptions) -> float:
    if includes_server:
        return 0.0
    if gpu.category in WORKSTATION_CATEGORIES:
        return finance.workstation_overhead_usd
    return finance.server_overhead_usd


def packing_for(
    design: Design, replicas: int, finance: FinanceAssumptions, ctx: PriceContext
) -> Packing | str:
    """Servers of the design's packing: with ``capacity.whole_servers``, the cheapest whole
    server for ``replicas`` replicas (the server catalogue unless your GPU price or power
    override applies); otherwise servers of just the GPUs needed (price per GPU)."""
    gpu = design.deployment.gpu
    price = gpu_price_usd(gpu, ctx)
    per_replica = design.gpus_per_replica
    if not ctx.capacity.whole_servers:
        fleet = fleet_for(design, replicas, finance, ctx)
        if isinstance(fleet, str):
            return fleet
        per_server = fleet.gpus_per_server // per_replica  # the replicas a server holds
        return Packing(
            fleet.gpus_per_server, per_server, 1, fleet.server_price_usd, fleet.server_power_kw, 0
        )
    override = ctx.gpu_overrides.get(gpu.id)
    overridden = override is not None and (
        override.purchase_price_usd is not None or override.power_w is not None
    )
    catalogue = () if overridden else servers_for_gpu(ctx.servers, gpu.id)
    tower = gpu.category in WORKSTATION_CATEGORIES
    node = gpu.max_gpus_per_node
    if tower:  # a tower holds just the cards needed, up to the node size
        node = min(replicas, max(1, node // per_replica)) * per_replica
    derived = None
    if price is not None:
        derived = derived_packing(
            per_replica,
            node,
            price[0],
            _chassis_usd(gpu, price[1], finance),
            gpu_power_w(gpu, ctx),
            finance,
            tower=tower,
        )
    packing = whole_server_packing(catalogue, derived, per_replica, replicas)
    if packing is None:
        return f"no purchase price for {gpu.id}; set overrides.gpus.{gpu.id}.purchase_price_usd"
    if finance.hardware_price_multiple == 1.0:
        return packing
    paid = packing.server_price_usd * finance.hardware_price_multiple  # a Monte Carlo draw
    return replace(packing, server_price_usd=paid)


def site_of(option: DeploymentOption) -> SiteKind:
    return SiteKind.ON_PREMISE if option is DeploymentOption.ON_PREMISE else SiteKind.COLOCATION


def _operating_hours(workload: InferenceWorkload) -> float:
    return workload.active_hours_per_day() * workload.days_per_month


def _api_usage(
    workload: InferenceWorkload, price: ApiPrice, finance: FinanceAssumptions, share: float
) -> ApiUsage:
    months = finance.horizon_months
    mean = sum(workload.growth_factor(m) for m in range(months)) / max(1, months)
    paid = finance.api_price_multiple
    cached = price.cached_input_usd_per_mtok
    return ApiUsage(
        input_tokens_per_month=workload.input_tokens_per_month() * mean * share,
        output_tokens_per_month=workload.output_tokens_per_month() * mean * share,
        input_usd_per_mtok=price.input_usd_per_mtok * paid,
        output_usd_per_mtok=price.output_rate(workload.reasoning_share_of_output) * paid,
        cached_input_fraction=workload.cached_input_fraction,
        cached_input_usd_per_mtok=None if cached is None else cached * paid,
    )


def _owned_recipe(design: Design, option: DeploymentOption, ctx: PriceContext) -> Recipe:
    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        fleet = fleet_for(design, design.replicas_at(volume), finance, ctx, volume)
        if isinstance(fleet, str):  # pragma: no cover - checked before the recipe is made
            raise LlmplanError(fleet)
        site = site_of(option)
        cost = cost_self_hosted(fleet, finance, site, name=option.value)
        return with_facility(cost, fleet.rated_kw, ctx.capacity, site)

    return recipe


def _cloud_recipe(design: Design, option: DeploymentOption, usd_per_gpu_hour: float) -> Recipe:
    commitment = _CLOUD_PRICING[option][1]
    scaled = commitment in (Commitment.ON_DEMAND, Commitment.SPOT)
    hours = _operating_hours(design.workload) if scaled else None

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        billed = min(hours, finance.hours_per_month) if hours is not None else None
        gpus = design.replicas_at(volume) * design.gpus_per_replica
        paid = usd_per_gpu_hour * finance.cloud_price_multiple
        rental = CloudRental(gpus, paid, billed, commitment)
        return cost_cloud(rental, finance, name=option.value)

    return recipe


def replicas_by_month(design: Design, volume: float, months: int) -> list[int]:
    """Replicas carrying each month's busiest hour at ``volume`` x the workload's volume."""
    sized = design.workload.growth_factor(design.sizing_month)
    return [
        design.replicas_at(volume * design.workload.growth_factor(m) / sized) for m in range(months)
    ]


def phased_fleet(
    design: Design, finance: FinanceAssumptions, ctx: PriceContext, volume: float = 1.0
) -> tuple[PhasedFleet, Packing]:
    """Servers ``design`` needs in each month of the horizon, and how they are packed."""
    replicas = replicas_by_month(design, volume, finance.horizon_months)
    packing = packing_for(design, max(replicas), finance, ctx)
    if isinstance(packing, str):  # pragma: no cover - checked before the recipe is made
        raise LlmplanError(packing)
    in_service = [packing.servers(r) for r in replicas]
    spares = [ctx.capacity.spare_servers(n) for n in in_service]
    need = tuple(n + spare for n, spare in zip(in_service, spares, strict=True))
    busy = []
    for month, (count, servers) in enumerate(zip(replicas, need, strict=True)):
        spare = spares[month]
        average = design.workload.requests_per_month(month) * volume
        average /= HOURS_PER_MONTH * SECONDS_PER_HOUR
        fraction = min(1.0, average / (count * design.capacity.max_requests_per_s))
        if ctx.capacity.whole_servers:  # as fleet_for: idle GPUs and spares lower it
            fraction *= count * design.gpus_per_replica / (servers * packing.gpus_per_server)
        elif spare:
            fraction *= (servers - spare) / servers
        busy.append(fraction)
    return PhasedFleet(packing.fleet(1, 0.0), need, tuple(busy)), packing


def _phased_owned_recipe(design: Design, option: DeploymentOption, ctx: PriceContext) -> Recipe:
    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        fleet, _ = phased_fleet(design, finance, ctx, volume)
        return cost_phased_owned(fleet, finance, ctx.capacity, site_of(option), name=option.value)

    return recipe


def _phased_cloud_recipe(
    design: Design, option: DeploymentOption, usd_per_gpu_hour: float
) -> Recipe:
    commitment = _CLOUD_PRICING[option][1]
    hours = _operating_hours(design.workload)

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        replicas = replicas_by_month(design, volume, finance.horizon_months)
        gpus = [r * design.gpus_per_replica for r in replicas]
        term = commitment.term_months
        billed = finance.hours_per_month if term else min(hours, finance.hours_per_month)
        paid = usd_per_gpu_hour * finance.cloud_price_multiple  # a Monte Carlo draw
        return cost_phased_cloud(gpus, paid, billed, term, finance, name=option.value)

    return recipe


def _monthly_api_usage(
    workload: InferenceWorkload, price: ApiPrice, finance: FinanceAssumptions, share: float
) -> list[ApiUsage]:
    paid = finance.api_price_multiple
    cached = price.cached_input_usd_per_mtok
    return [
        ApiUsage(
            input_tokens_per_month=workload.input_tokens_per_month(m) * share,
            output_tokens_per_month=workload.output_tokens_per_month(m) * share,
            input_usd_per_mtok=price.input_usd_per_mtok * paid,
            output_usd_per_mtok=price.output_rate(workload.reasoning_share_of_output) * paid,
            cached_input_fraction=workload.cached_input_fraction,
            cached_input_usd_per_mtok=None if cached is None else cached * paid,
        )
        for m in range(finance.horizon_months)
    ]


def _hybrid_recipe(
    design: Design, ctx: PriceContext, burst: float | ApiPrice, percentile: float
) -> Recipe:
    workload = design.workload
    base = hybrid_split(design, percentile).base_replicas

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        split = hybrid_split(design, percentile, volume)
        owned = min(base, design.replicas_at(volume))
        fleet = fleet_for(design, owned, finance, ctx, volume)
        if isinstance(fleet, str):  # pragma: no cover - checked before the recipe is made
            raise LlmplanError(fleet)
        cloud = api = None
        per_day = split.burst_replica_hours_per_day
        if per_day > 0 and isinstance(burst, float):
            gpus = design.gpus_per_replica * max(1, design.replicas_at(volume) - base)
            hours = per_day * workload.days_per_month * design.gpus_per_replica / gpus
            paid = burst * finance.cloud_price_multiple
            cloud = CloudRental(gpus, paid, min(hours, finance.hours_per_month))
        elif split.burst_request_share > 0 and isinstance(burst, ApiPrice):
            share = split.burst_request_share * volume
            api = _api_usage(workload, burst, finance, share)
        return cost_hybrid(fleet, finance, burst_cloud=cloud, burst_api=api, name="hybrid")

    return recipe


def _owned_check(design: Design, finance: FinanceAssumptions, ctx: PriceContext) -> str:
    fleet = fleet_for(design, design.replicas, finance, ctx)
    if isinstance(fleet, str):
        return fleet
    budget = ctx.constraints.power_budget_kw
    if budget is not None and fleet.rated_kw > budget:
        return (
            f"{design.gpus} x {design.deployment.gpu.id} draw {fleet.rated_kw:,.1f} kW, "
            f"over constraints.power_budget_kw {budget:g}"
        )
    racks = math.ceil(fleet.rated_kw / finance.rack_kw)
    if ctx.constraints.max_racks is not None and racks > ctx.constraints.max_racks:
        return f"needs {racks} racks of {finance.rack_kw:g} kW, over constraints.max_racks"
    return ""


def _burst_source(
    design: Design, model_id: str, ctx: PriceContext
) -> tuple[float | ApiPrice, str, PriceOrigin] | str:
    """Where the hybrid bursts: cloud on-demand, else the API; both filtered by the
    residency and compliance rules like the options themselves."""
    permitted = ctx.constraints.permitted_options()
    why: list[str] = []
    if DeploymentOption.CLOUD_ON_DEMAND in permitted:
        quote = cloud_quote(design.deployment.gpu, DeploymentOption.CLOUD_ON_DEMAND, ctx)
        if not isinstance(quote, str):
            usd = quote.usd_per_gpu_hour
            note = f"burst to cloud on-demand at {usd:.2f} USD/GPU-h ({quote.source})"
            return usd, note, quote.origin
        why.append(f"cloud: {quote}")
    if DeploymentOption.API in permitted:
        api = api_price_for(design.workload, model_id, ctx)
        if not isinstance(api, str):
            return api, f"burst to the {api.id} API", origin_of(api, ctx.prices)
        why.append(f"api: {api}")
    detail = f" ({'; '.join(why)})" if why else ""
    return f"hybrid needs cloud on-demand or the API for bursts, and neither is available{detail}"


def cost_design(
    design: Design,
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
) -> Costed | str:
    """``design`` costed under ``option``, or the one-line reason it cannot be."""
    gpu = design.deployment.gpu
    model_id = design.deployment.model.id
    if option.is_owned or option is DeploymentOption.HYBRID:
        problem = _owned_check(design, finance, ctx)
        if problem:
            return problem
        price = gpu_price_usd(gpu, ctx)
        note = f"{gpu.id} at {price[0]:,.0f} USD/GPU ({price[2]})" if price else ""
        if option is DeploymentOption.HYBRID:
            burst = _burst_source(design, model_id, ctx)
            if isinstance(burst, str):
                return burst
            return Costed(
                option,
                design,
                _hybrid_recipe(design, ctx, burst[0], ctx.hybrid_base_demand_percentile),
                burst[1],
                burst[2],
            )
        make = _phased_owned_recipe if ctx.capacity.phased else _owned_recipe
        return Costed(option, design, make(design, option, ctx), note, owned_origin(option))
    if option.is_cloud_rental:
        quote = cloud_quote(gpu, option, ctx)
        if isinstance(quote, str):
            return quote
        usd = quote.usd_per_gpu_hour
        note = f"{gpu.id} at {usd:.2f} USD/GPU-hour ({quote.source})"
        make_cloud = _phased_cloud_recipe if ctx.capacity.phased else _cloud_recipe
        return Costed(option, design, make_cloud(design, option, usd), note, quote.origin)
    return "not a hardware option"


def owned_origin(option: DeploymentOption) -> PriceOrigin:
    """Owned hardware: the organisation's own site and its own attestations."""
    site = "own site" if option is DeploymentOption.ON_PREMISE else "colocation site"
    return PriceOrigin("self-hosted", site, ())


def cost_api_option(
    workload: InferenceWorkload, model_id: str, ctx: PriceContext
) -> tuple[Recipe, str, PriceOrigin] | str:
    """The per-token API recipe for ``workload``, or why there is none (only prices that
    satisfy the residency and compliance rules are used)."""
    price = api_price_for(workload, model_id, ctx)
    if isinstance(price, str):
        return price

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        if ctx.capacity.phased:
            usages = _monthly_api_usage(workload, price, finance, volume)
            return cost_phased_api(usages, finance, name="api")
        usage = _api_usage(workload, price, finance, volume)
        return cost_api(usage, finance, name="api")

    note = (
        f"{price.id}: {price.input_usd_per_mtok:g} in / {price.output_usd_per_mtok:g} out "
        f"USD per M tokens ({price.source}, {price.price_date})"
    )
    return recipe, note, origin_of(price, ctx.prices)
