"""The evidence behind a plan: Pareto front, reasons, risks and organisational readiness.

Pure functions over a :class:`~llmplan.plan.planner.Plan`; the checklist comes from the
data file ``readiness.yaml`` read by the caller (:func:`readiness_items`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml

from llmplan.cost import CostLine
from llmplan.errors import CatalogError
from llmplan.plan.assembly import OptionPlan
from llmplan.plan.confirm import SimulationCheck
from llmplan.plan.options import PriceContext, cost_design
from llmplan.plan.planner import Plan
from llmplan.plan.search import Design
from llmplan.plan.uncertainty import design_intervals
from llmplan.scenario import DeploymentOption, Scenario

GIB = 2**30


@dataclass(frozen=True)
class ParetoPoint:
    """A design at its cheapest option: NPV against latency at the SLO percentile."""

    workload: str
    label: str
    option: str
    npv_usd: float
    ttft_ms: float
    tpot_ms: float
    on_front: bool = False


def pareto_points(plan: Plan, ctx: PriceContext) -> list[ParetoPoint]:
    """Every design at its cheapest permitted hardware option, front marked per workload."""
    finance = plan.scenario.finance
    permitted = [
        o.option
        for o in plan.options
        if o.included and o.option not in (DeploymentOption.API, DeploymentOption.HYBRID)
    ]
    points = []
    for workload, designs in plan.designs.items():
        found = []
        for design in designs:
            costs = []
            for option in permitted:
                costed = cost_design(design, option, finance, ctx)
                if not isinstance(costed, str):
                    costs.append((costed.cost(finance).npv_usd, option.value))
            if costs:
                npv, option_name = min(costs)
                latency = design.capacity.latency
                found.append(
                    ParetoPoint(
                        workload, design.label, option_name, npv, latency.ttft_ms, latency.tpot_ms
                    )
                )
        points.extend(_mark_front(found))
    return points


def _mark_front(points: list[ParetoPoint]) -> list[ParetoPoint]:
    """Points no other point beats on both cost and TTFT (ties kept)."""
    marked = []
    for p in points:
        dominated = any(
            q.npv_usd <= p.npv_usd
            and q.ttft_ms <= p.ttft_ms
            and (q.npv_usd < p.npv_usd or q.ttft_ms < p.ttft_ms)
            for q in points
        )
        marked.append(
            ParetoPoint(
                p.workload, p.label, p.option, p.npv_usd, p.ttft_ms, p.tpot_ms, not dominated
            )
        )
    return sorted(marked, key=lambda p: p.npv_usd)


def features_summary(design: Design) -> str:
    """A design's prefix-cache hits and speculative decoding as text, e.g. ``, prefix
    cache 50 %, eagle K=3 (2.53 tokens/step)``; empty without them."""
    features = design.capacity.features
    text = f", prefix cache {100 * features.prefix_hit:.0f} %" if features.prefix_hit else ""
    spec = features.spec
    if spec is not None:
        text += (
            f", {spec.method.value} K={spec.draft_tokens} ({spec.tokens_per_step:.2f} tokens/step)"
        )
    return text


def design_summary(design: Design) -> str:
    """One line: replicas, hardware, latency against the targets, memory, capacity."""
    dep = design.deployment
    slo = design.workload.slo
    lat = design.capacity.latency
    sure = design_intervals(design)
    ttft = f"TTFT {lat.ttft_ms:,.0f} ms (80 %: {sure.ttft_ms[0]:,.0f}-{sure.ttft_ms[1]:,.0f}"
    tpot = f"TPOT {lat.tpot_ms:,.1f} ms (80 %: {sure.tpot_ms[0]:,.1f}-{sure.tpot_ms[1]:,.1f}"
    p = f"p{slo.percentile:g}"
    targets = []
    if slo.ttft_ms is not None:
        targets.append(f"{ttft}; target {slo.ttft_ms:,.0f})")
    if slo.tpot_ms is not None:
        targets.append(f"{tpot}; target {slo.tpot_ms:,.1f})")
    latency = f"{p} " + ", ".join(targets) if targets else f"{p} {ttft})"
    memory = design.memory_per_gpu_bytes() / GIB
    return (
        f"{design.workload.name}: {design.replicas} x {dep.num_gpus} {dep.gpu.id} "
        f"({dep.weights.id}, {dep.engine.id}, tp{dep.tp}{features_summary(design)}); "
        f"{latency}; "
        f"{memory:,.1f} of {dep.gpu.memory_gib:g} GiB per GPU; up to "
        f"{design.capacity.max_requests_per_s:,.2f} req/s per replica "
        f"({design.capacity.limited_by})"
    )


def simulation_summary(check: SimulationCheck) -> str:
    """One line: what the simulator saw at the peak hour."""
    if check.note:
        return f"{check.workload}: {check.note}"
    verdict = "meets" if check.meets_slo else "MISSES"
    return (
        f"{check.workload}: simulated peak hour ({check.rate_per_s:,.2f} req/s on "
        f"{check.replicas} replica(s)): p{check.percentile:g} TTFT {check.ttft_ms:,.0f} ms, "
        f"TPOT {check.tpot_ms:,.1f} ms; {verdict} the targets "
        f"({check.slo_attainment:.0%} of requests within both)"
    )


def reasons(plan: Plan) -> list[str]:
    """Why the recommended option: cost ranking, the designs, break-even, Monte Carlo."""
    best = plan.recommended
    if best is None or best.cost is None:
        return ["no option can serve the scenario; see the excluded options"]
    ranked = [best, *(o for o in plan.included if o is not best)]
    months = plan.scenario.finance.horizon_months
    money = plan.scenario.finance.money
    code = money.currency.value
    out = [
        f"cheapest of {len(ranked)} options over {months} months: NPV "
        f"{money.convert(best.cost.npv_usd):,.0f} {code} (undiscounted TCO "
        f"{money.convert(best.cost.tco_usd):,.0f} {code})"
    ]
    if len(ranked) > 1 and ranked[1].cost is not None:
        nxt = ranked[1].cost.npv_usd
        gap = (nxt - best.cost.npv_usd) / best.cost.npv_usd if best.cost.npv_usd else 0.0
        out.append(
            f"next: {ranked[1].option.value} at {money.convert(nxt):,.0f} {code} ({gap:+.0%})"
        )
    if plan.included and plan.included[0] is not best:
        out.append(
            f"{plan.included[0].option.value} costs less but is not recommended: spot "
            "capacity cannot promise the workloads' latency targets"
        )
    out += [
        design_summary(c.design) if c.design else f"{c.workload}: {c.note}" for c in best.choices
    ]
    for label, count in plan.replicas_added.items():
        out.append(f"{label}: {count} replica(s) added so the simulated peak hour meets the SLO")
    for check in plan.simulation:
        out.append(simulation_summary(check))
    for item in plan.breakeven:
        if item.option == best.option.value and item.month is not None:
            out.append(f"pays back against {item.versus} from month {item.month}")
    if plan.monte_carlo is not None:
        share = plan.monte_carlo.probability_cheapest.get(best.option.value, 0.0)
        out.append(
            f"cheapest in {share:.0%} of {len(plan.monte_carlo.samples_usd)} Monte Carlo "
            "draws of the finance assumptions, the volume, the prices and the throughput "
            f"(seed {plan.seed})"
        )
    return out


FREE_SITE_RISK = (
    "the site is counted as free: no space, power and cooling build-out or network "
    "equipment (an existing server room treated as sunk); set capacity.facility_usd_per_kw "
    "(Cushman & Wakefield 2025: 9,300-15,000 USD/kW), finance."
    "on_premise_site_usd_per_kw_month or finance.network_capex_usd_per_server to charge them"
)


def _site_is_free(scenario: Scenario) -> bool:
    """Whether an owned site's space, build-out and network equipment all cost nothing."""
    finance, capacity = scenario.finance, scenario.capacity
    return (
        capacity.facility_usd_per_kw == 0
        and finance.on_premise_site_usd_per_kw_month == 0
        and finance.network_capex_usd_per_server == 0
    )


def risks(plan: Plan, option: OptionPlan) -> list[str]:
    """Risks and caveats of ``option`` that the numbers do not show."""
    out = []
    if option.option is DeploymentOption.ON_PREMISE and _site_is_free(plan.scenario):
        out.append(FREE_SITE_RISK)
    if option.option is DeploymentOption.CLOUD_SPOT:
        out.append("spot capacity can be reclaimed at short notice: keep fallback capacity")
    if option.option is DeploymentOption.API:
        out.append("prompts and outputs leave the premises; prices and models change")
    for choice in option.choices:
        if choice.design is None:
            continue
        gpu = choice.design.deployment.gpu
        if gpu.category == "consumer":
            out.append(
                f"{gpu.id} is a consumer card: no ECC, and its driver licence restricts "
                "data-centre use"
            )
        for miss in design_intervals(choice.design).pessimistic_misses:
            out.append(
                f"{choice.workload}: the SLO holds only at the optimistic end of the "
                f"model's 80 % interval ({miss}); plan headroom or measure a pilot"
            )
        if choice.design.measured_source:
            out.append(f"throughput of {choice.workload} taken from your measurement")
        if choice.design.busy_fraction < 0.15 and option.option.is_owned:
            out.append(
                f"{choice.workload}: the fleet is busy {choice.design.busy_fraction:.0%} of "
                "the time; renting may be cheaper if volumes fall"
            )
    if option is plan.recommended:
        for check in plan.simulation:
            if not check.meets_slo:
                out.append(f"the simulator still sees a miss: {simulation_summary(check)}")
    if "secondary" in " ".join(c.note for c in option.choices).lower():
        out.append("a price comes from a secondary source; get a quote")
    return out


@functools.cache
def readiness_items() -> dict[str, list[str]]:
    """Checklist items per deployment kind, from ``data/readiness.yaml``."""
    text = resources.files("llmplan").joinpath("data/readiness.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    out: dict[str, list[str]] = {}
    for kind, entries in data["items"].items():
        if not all(isinstance(entry, str) for entry in entries):
            raise CatalogError(f"readiness.yaml: items.{kind}: every item must be text")
        out[str(kind)] = list(entries)
    return out


def readiness(plan: Plan, option: OptionPlan) -> dict[str, object]:
    """Staff FTE for ``option``'s fleet (with the assumption) and its checklist."""
    finance = plan.scenario.finance
    items = readiness_items()
    kinds = ["api"] if option.option is DeploymentOption.API else []
    if option.option.is_owned or option.option is DeploymentOption.HYBRID:
        kinds.insert(0, "owned")
    elif option.option.is_cloud_rental:
        kinds.append("cloud")
    if option.option is DeploymentOption.CLOUD_SPOT:
        kinds.append("spot")
    if plan.training:
        kinds.append("finetune")
    owned = option.option.is_owned or option.option is DeploymentOption.HYBRID
    fte = 0.0
    if option.cost is not None and finance.staff_usd_per_fte_year > 0:
        staff_usd = option.cost.line_total_usd(CostLine.STAFF)
        fte = staff_usd / (finance.loaded_staff_usd_per_fte_year * finance.horizon_months / 12)
    if owned:
        assumption = (
            f"max({finance.min_staff_fte:g}, owned GPUs / {finance.gpus_per_fte:g}) FTE for "
            "the option's owned fleet, inference and training together"
        )
    elif fte == 0:
        assumption = "no operations staff for a per-token API (integration work not costed)"
    else:
        assumption = f"cloud_staff_fte = {finance.cloud_staff_fte:g} FTE for rented capacity"
    return {
        "staff_fte": fte,
        "staff_usd_per_year": fte * finance.loaded_staff_usd_per_fte_year,
        "staff_on_cost_factor": finance.staff_on_cost_factor,
        "assumption": assumption,
        "checklist": [item for kind in kinds for item in items.get(kind, [])],
    }
