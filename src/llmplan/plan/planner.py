"""``make_plan``: search, cost, compare and recommend for one scenario.

1. every inference workload's replica designs are sized against its SLOs
   (:mod:`llmplan.plan.search`);
2. each deployment option the constraints allow takes, per workload, its cheapest design
   (by NPV, which equals TCO at a zero discount rate), plus the fine-tuning jobs;
3. options are compared: cheapest first, break-even month between every pair, tornado
   sensitivity and Monte Carlo over the finance assumptions (explicit seed);
4. the cheapest option is recommended, with the evidence.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import ModelSpec
from llmplan.catalog.servers import bundled_servers
from llmplan.cost import (
    CostLine,
    FinanceAssumptions,
    MonteCarloResult,
    OptionCost,
    TornadoBar,
    breakeven_month,
    staff_fte,
    tornado,
)
from llmplan.cost.breakeven import breakeven_months
from llmplan.cost.result import FloatArray, OptionKind, combine
from llmplan.errors import InputError
from llmplan.plan.compliance import PriceOrigin
from llmplan.plan.confirm import SimulationCheck, confirm_designs
from llmplan.plan.crossing import crossing_multiple, volume_bar, volume_curves
from llmplan.plan.demand import hybrid_split
from llmplan.plan.draws import throughput_log_spread
from llmplan.plan.finetune import TrainingSetup, best_setup, setup_on, training_cost
from llmplan.plan.idle_training import IDLE_OPTIONS, place_on_idle
from llmplan.plan.options import (
    Costed,
    PriceContext,
    Recipe,
    cloud_quote,
    cost_api_option,
    cost_design,
    owned_origin,
)
from llmplan.plan.quotes import with_quotes
from llmplan.plan.schedule import fleet_limit_reason, owned_gpus_in_service
from llmplan.plan.search import Design, Rejected, SearchSpace, designs_for
from llmplan.plan.sensitivity import (
    TORNADO_MULTIPLIERS,
    monte_carlo_with_volume,
    tornado_inputs,
)
from llmplan.plan.sharing import SharedServers, shareable
from llmplan.prices.book import PriceBook
from llmplan.scenario import DeploymentOption, Scenario, resolve

DEFAULT_MONTE_CARLO_SAMPLES = 300


@dataclass(frozen=True)
class WorkloadChoice:
    """What serves one workload under an option: a design, or the API, and its cost."""

    workload: str
    design: Design | None
    note: str
    origin: PriceOrigin | None = None
    placement: str = ""
    shared_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptionPlan:
    """One deployment option: its cost, or the reason it is excluded."""

    option: DeploymentOption
    excluded: str = ""
    choices: tuple[WorkloadChoice, ...] = ()
    recipe: Recipe | None = None
    cost: OptionCost | None = None
    tokens_over_horizon: float = 0.0
    shared: SharedServers | None = None

    @property
    def included(self) -> bool:
        return self.cost is not None

    def score_usd(self) -> float:
        return self.cost.npv_usd if self.cost is not None else float("inf")

    def usd_per_mtok(self) -> float:
        if self.cost is None or self.tokens_over_horizon <= 0:
            return float("nan")
        return self.cost.cost_per_mtok(self.tokens_over_horizon)


@dataclass(frozen=True)
class BreakEven:
    """``option`` (the one with more capital cost) becomes no dearer than ``versus`` from
    ``month`` on (None: never within the horizon); ``months``: the same crossing as a
    fractional month, not rounded (:func:`~llmplan.cost.breakeven.breakeven_months`);
    ``volume_multiple``: the multiple of the scenario's inference volume at which their
    NPVs cross (None: not within 1/16-16x)."""

    option: str
    versus: str
    month: int | None
    volume_multiple: float | None = None
    months: float | None = None


@dataclass(frozen=True)
class Plan:
    """The result of planning a scenario."""

    scenario: Scenario
    options: tuple[OptionPlan, ...]
    designs: dict[str, list[Design]]
    rejected: tuple[Rejected, ...]
    training: tuple[TrainingSetup, ...]
    breakeven: tuple[BreakEven, ...]
    tornado: tuple[TornadoBar, ...]
    monte_carlo: MonteCarloResult | None
    seed: int
    candidates_evaluated: int
    search_seconds: float
    notes: tuple[str, ...] = field(default=())
    simulation: tuple[SimulationCheck, ...] = ()
    replicas_added: dict[str, int] = field(default_factory=dict)

    @property
    def included(self) -> tuple[OptionPlan, ...]:
        return tuple(sorted((o for o in self.options if o.included), key=OptionPlan.score_usd))

    @property
    def recommended(self) -> OptionPlan | None:
        """The cheapest included option; spot capacity only when no workload has latency
        targets (it can be reclaimed at any time, so it cannot promise an SLO)."""
        return recommended_option(self.options, self.scenario)


def recommended_option(options: tuple[OptionPlan, ...], scenario: Scenario) -> OptionPlan | None:
    """See :attr:`Plan.recommended`."""
    has_targets = any(w.slo.has_targets() for w in scenario.inference_workloads())
    ranked = sorted((o for o in options if o.included), key=OptionPlan.score_usd)
    ranked = [o for o in ranked if not (has_targets and o.option is DeploymentOption.CLOUD_SPOT)]
    return ranked[0] if ranked else None


def _tokens_over_horizon(scenario: Scenario) -> float:
    months = scenario.finance.horizon_months
    return sum(
        w.total_tokens_per_month(m) for w in scenario.inference_workloads() for m in range(months)
    )


def _space(scenario: Scenario, catalog: Catalog) -> tuple[SearchSpace, dict[str, object]]:
    resolved = resolve(scenario, catalog)
    space = SearchSpace(
        gpus=resolved.gpus,
        precisions=resolved.precisions,
        engines=resolved.engines,
        max_gpus_per_replica=scenario.candidates.max_gpus_per_replica,
        horizon_months=scenario.finance.horizon_months,
        measured=resolved.measured_throughput,
        max_utilisation=scenario.finance.max_utilisation,
    )
    models = {w.name: resolved.model_of(w.name) for w in scenario.workloads}
    return space, {"models": models, "overrides": resolved.gpu_overrides}


@dataclass(frozen=True)
class _Served:
    """How an option serves the inference workloads: choices, recipes, a shared fleet."""

    choices: tuple[WorkloadChoice, ...]
    recipes: tuple[Recipe, ...]
    shared: SharedServers | None = None

    @property
    def designs(self) -> tuple[Design, ...]:
        return tuple(c.design for c in self.choices if c.design is not None)


def _served(
    option: DeploymentOption,
    scenario: Scenario,
    designs: dict[str, list[Design]],
    ctx: PriceContext,
    model_ids: dict[str, str],
    no_design: dict[str, str],
) -> _Served | str:
    """Each inference workload's cheapest design (or the API) under ``option``, or why
    the option is excluded."""
    recipes: list[Recipe] = []
    choices: list[WorkloadChoice] = []
    for workload in scenario.inference_workloads():
        if option is DeploymentOption.API:
            api = cost_api_option(workload, model_ids[workload.name], ctx)
            if isinstance(api, str):
                return f"api excluded ({workload.name}): {api}"
            recipes.append(api[0])
            choices.append(WorkloadChoice(workload.name, None, api[1], api[2]))
            continue
        if not designs[workload.name]:
            why = no_design[workload.name]
            return f"{option.value} excluded ({workload.name}): {why}"
        best = _cheapest_design(designs[workload.name], option, scenario.finance, ctx)
        if isinstance(best, str):
            return f"{option.value} excluded ({workload.name}): {best}"
        recipes.append(best.recipe)
        choices.append(WorkloadChoice(workload.name, best.design, best.price_note, best.origin))
    return _Served(tuple(choices), tuple(recipes))


def _shared_alternatives(
    option: DeploymentOption,
    served: _Served,
    designs: dict[str, list[Design]],
    finance: FinanceAssumptions,
    ctx: PriceContext,
) -> list[_Served]:
    """For each GPU type, the workloads that have a design on it packed into shared
    servers (each with its cheapest design on that GPU), the others as ``served``."""
    out: list[_Served] = []
    gpus = dict.fromkeys(d.deployment.gpu.id for ds in designs.values() for d in ds)
    for gpu in gpus:
        picked: dict[str, Costed] = {}
        for choice in served.choices:
            on_gpu = [d for d in designs.get(choice.workload, []) if d.deployment.gpu.id == gpu]
            best = _cheapest_design(on_gpu, option, finance, ctx) if on_gpu else None
            if best is not None and not isinstance(best, str):
                picked[choice.workload] = best
        group = shareable([c.design for c in picked.values()], option, finance, ctx)
        if group is None:
            continue
        choices, recipes = [], []
        for choice, recipe in zip(served.choices, served.recipes, strict=True):
            mine = picked.get(choice.workload)
            if mine is None:
                choices.append(choice)
                recipes.append(recipe)
                continue
            others = tuple(w for w in group.workloads if w != choice.workload)
            note = f"{mine.price_note}; shares servers with {', '.join(others)}"
            choices.append(
                WorkloadChoice(choice.workload, mine.design, note, mine.origin, shared_with=others)
            )
        recipes.append(group.recipe(option, ctx))
        out.append(_Served(tuple(choices), tuple(recipes), group))
    return out


def _training_parts(
    option: DeploymentOption,
    served: _Served,
    training: tuple[TrainingSetup, ...],
    idle_setups: Mapping[str, Mapping[str, TrainingSetup]],
    finance: FinanceAssumptions,
    ctx: PriceContext,
) -> tuple[list[WorkloadChoice], list[Recipe], tuple[TrainingSetup, ...]] | str:
    """Each fine-tuning job on idle inference GPUs when that fits and is cheaper, else on
    its own GPUs: (choices, recipes, setups on GPUs of their own), or why it cannot run."""
    choices: list[WorkloadChoice] = []
    recipes: list[Recipe] = []
    dedicated: list[TrainingSetup] = []
    used: dict[str, float] = {}
    for setup in training:
        cost = training_cost(setup, option, finance, ctx)
        if isinstance(cost, str):
            return f"{option.value} excluded ({setup.job.name}): {cost}"
        placed = place_on_idle(
            idle_setups.get(setup.job.name, {}), served.designs, option, finance, ctx, used
        )
        if not isinstance(placed, str) and placed.recipe(finance, 1.0).npv_usd <= cost.npv_usd:
            origin = _training_origin(placed.setup, option, ctx)
            note = f"{placed.note}; instead of {setup.gpus} x {setup.gpu.id} of its own"
            choices.append(WorkloadChoice(setup.job.name, None, note, origin, IDLE_PLACEMENT))
            recipes.append(placed.recipe)
            continue
        if not isinstance(placed, str):  # not cheaper: give its GPU-hours back
            gpu_id = placed.setup.gpu.id
            used[gpu_id] -= placed.setup.gpu_hours_per_month
        dedicated.append(setup)
        recipes.append(_training_recipe(setup, option, ctx))
        note = f"{setup.gpus} x {setup.gpu.id}, {setup.hours_per_run:,.1f} h per run"
        if ctx.capacity.finetune_on_idle_inference and not isinstance(placed, str):
            note += " (cheaper than the inference fleet's idle hours)"
        elif ctx.capacity.finetune_on_idle_inference and option in IDLE_OPTIONS:
            note += f" (not on idle inference GPUs: {placed})"
        origin = _training_origin(setup, option, ctx)
        choices.append(WorkloadChoice(setup.job.name, None, note, origin, DEDICATED_PLACEMENT))
    return choices, recipes, tuple(dedicated)


IDLE_PLACEMENT = "idle_inference_capacity"
DEDICATED_PLACEMENT = "dedicated"


def _assembled(
    option: DeploymentOption,
    scenario: Scenario,
    served: _Served,
    training: tuple[TrainingSetup, ...],
    idle_setups: Mapping[str, Mapping[str, TrainingSetup]],
    ctx: PriceContext,
) -> OptionPlan:
    """``served`` and the fine-tuning jobs as one option, or excluded by a fleet limit."""
    finance = scenario.finance
    parts = _training_parts(option, served, training, idle_setups, finance, ctx)
    if isinstance(parts, str):
        return OptionPlan(option, excluded=parts)
    train_choices, train_recipes, dedicated = parts
    chosen = served.designs
    limit = fleet_limit_reason(chosen, option, finance, ctx, served.shared)
    if limit:
        return OptionPlan(option, excluded=f"{option.value} excluded: {limit}")
    staffing = _staffing(option, chosen, dedicated, ctx, served.shared)
    recipe = _combined(option, (*served.recipes, *train_recipes), staffing)
    return OptionPlan(
        option,
        choices=(*served.choices, *train_choices),
        recipe=recipe,
        cost=recipe(finance, 1.0),
        tokens_over_horizon=_tokens_over_horizon(scenario),
        shared=served.shared,
    )


def _option_plan(
    option: DeploymentOption,
    scenario: Scenario,
    designs: dict[str, list[Design]],
    training: tuple[TrainingSetup, ...],
    ctx: PriceContext,
    model_ids: dict[str, str],
    no_design: dict[str, str],
    idle_setups: Mapping[str, Mapping[str, TrainingSetup]] | None = None,
) -> OptionPlan:
    """``option`` costed with each workload's cheapest design, and with the workloads of
    one GPU type on shared servers where allowed: the cheaper plan within the limits."""
    served = _served(option, scenario, designs, ctx, model_ids, no_design)
    if isinstance(served, str):
        return OptionPlan(option, excluded=served)
    setups = idle_setups or {}
    candidates = [served, *_shared_alternatives(option, served, designs, scenario.finance, ctx)]
    best: OptionPlan | None = None
    first = None
    for candidate in candidates:
        plan = _assembled(option, scenario, candidate, training, setups, ctx)
        first = first or plan
        if plan.included and (best is None or plan.score_usd() < best.score_usd()):
            best = plan
    assert first is not None
    return best if best is not None else first


def _no_design_reason(workload: str, rejected: list[Rejected]) -> str:
    """Why no design serves ``workload``: how many were tried and one reason."""
    mine = [r for r in rejected if r.workload == workload]
    if not mine:
        return "no candidate design (check candidates and constraints.gpu_allow)"
    return f"none of {len(mine)} candidate designs can serve it; e.g. {mine[-1].label}: " + (
        mine[-1].reason
    )


def _cheapest_design(
    designs: list[Design], option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> Costed | str:
    """The design with the lowest NPV under ``option``, or why none can be used (the
    reason of the design with the fewest GPUs, which came closest)."""
    best: tuple[float, Costed] | None = None
    refused: list[tuple[int, str]] = []
    for design in designs:
        costed = cost_design(design, option, finance, ctx)
        if isinstance(costed, str):
            refused.append((design.gpus, f"{design.label}: {costed}"))
            continue
        score = costed.cost(finance).npv_usd
        if best is None or score < best[0]:
            best = (score, costed)
    if best is not None:
        return best[1]
    if not refused:
        return "no design meets the SLOs (see the rejected designs)"
    closest = min(refused)[1]
    return f"none of {len(refused)} designs can be used; closest: {closest}"


def _training_origin(
    setup: TrainingSetup, option: DeploymentOption, ctx: PriceContext
) -> PriceOrigin | None:
    """Where a fine-tuning job runs: the owned site, or the on-demand cloud price it rents."""
    if option.is_owned or option is DeploymentOption.HYBRID:
        return owned_origin(option if option.is_owned else DeploymentOption.ON_PREMISE)
    quote = cloud_quote(setup.gpu, DeploymentOption.CLOUD_ON_DEMAND, ctx)
    return None if isinstance(quote, str) else quote.origin


def _training_recipe(setup: TrainingSetup, option: DeploymentOption, ctx: PriceContext) -> Recipe:
    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        """Fine-tuning does not follow the inference volume."""
        cost = training_cost(setup, option, finance, ctx)
        if isinstance(cost, str):  # pragma: no cover - checked when the plan was built
            raise InputError(cost, field="finance")
        return cost

    return recipe


_KIND = {
    DeploymentOption.ON_PREMISE: OptionKind.ON_PREMISE,
    DeploymentOption.COLOCATION: OptionKind.COLOCATION,
    DeploymentOption.API: OptionKind.API,
    DeploymentOption.HYBRID: OptionKind.HYBRID,
}


Staffing = Callable[[FinanceAssumptions, float], FloatArray]
"""(finance, volume multiple) -> FTE at t = 0..H (index m+1: month m)."""


def _staffing(
    option: DeploymentOption,
    designs: tuple[Design, ...],
    training: tuple[TrainingSetup, ...],
    ctx: PriceContext,
    shared: SharedServers | None = None,
) -> Staffing:
    """FTE of the whole option: one team for every owned GPU of the option (inference
    and training), ``cloud_staff_fte`` for rented capacity, none for an API alone."""
    owned = option.is_owned or option is DeploymentOption.HYBRID
    percentile = ctx.hybrid_base_demand_percentile

    def owned_gpus(design: Design, volume: float) -> int:
        replicas = design.replicas_at(volume)
        if option is DeploymentOption.HYBRID:
            replicas = min(replicas, hybrid_split(design, percentile, volume).base_replicas)
        return replicas * design.deployment.num_gpus

    def fte(finance: FinanceAssumptions, volume: float) -> FloatArray:
        months = finance.horizon_months + 1
        if ctx.capacity.phased and option.is_owned:
            gpus = owned_gpus_in_service(designs, finance, ctx, volume, shared)
            gpus = gpus + sum(t.gpus for t in training)
            per_month = [staff_fte(round(g), finance) for g in gpus]
            return np.asarray([per_month[0], *per_month], dtype=np.float64)
        if owned:
            count = sum(owned_gpus(d, volume) for d in designs) + sum(t.gpus for t in training)
            return np.full(months, staff_fte(count, finance))
        if option is DeploymentOption.API and not training:
            return np.zeros(months)
        return np.full(months, finance.cloud_staff_fte)

    return fte


def _combined(option: DeploymentOption, recipes: tuple[Recipe, ...], staffing: Staffing) -> Recipe:
    """The option's parts summed, with one staff line for the whole option (parts each
    count their own staff, which would count the team several times)."""
    kind = _KIND.get(option, OptionKind.CLOUD)

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        total = combine(option.value, kind, tuple(r(finance, volume) for r in recipes))
        ftes = staffing(finance, volume)
        staff = ftes * finance.loaded_staff_usd_per_fte_year / 12
        staff[0] = 0.0
        lines: dict[CostLine, FloatArray] = {
            line: v for line, v in total.lines_usd.items() if line is not CostLine.STAFF
        }
        fte = float(ftes[-1])
        if ftes.max() > 0:
            lines[CostLine.STAFF] = staff
        low = float(ftes[1:].min()) if len(ftes) > 1 else fte
        staff_note = (
            f"staff {fte:.2f} FTE for the whole option"
            if low == fte
            else f"staff {low:.2f} to {fte:.2f} FTE for the whole option (GPUs in service)"
        )
        notes = (*(n for n in total.assumptions if "staff" not in n.lower()), staff_note)
        return OptionCost(total.name, total.kind, lines, total.monthly_discount_rate, notes)

    return recipe


def _npv_gap(
    a: OptionPlan, b: OptionPlan, finance: FinanceAssumptions
) -> Callable[[float], float] | None:
    """NPV of ``a`` minus NPV of ``b`` at a volume multiple, when both can be re-costed."""
    recipe_a, recipe_b = a.recipe, b.recipe
    if recipe_a is None or recipe_b is None:
        return None
    return lambda k: recipe_a(finance, k).npv_usd - recipe_b(finance, k).npv_usd


def _breakevens(
    options: tuple[OptionPlan, ...], curves: dict[str, FloatArray], finance: FinanceAssumptions
) -> tuple[BreakEven, ...]:
    out = []
    for a in options:
        for b in options:
            if a is b or a.cost is None or b.cost is None:
                continue
            if a.cost.capex_usd > b.cost.capex_usd:
                month = breakeven_month(a.cost, b.cost, sustained=True)
                name_a, name_b = a.option.value, b.option.value
                volume = crossing_multiple(curves[name_a], curves[name_b], _npv_gap(a, b, finance))
                fraction = breakeven_months(a.cost, b.cost)
                out.append(BreakEven(name_a, name_b, month, volume, fraction))
    return tuple(out)


def _with_volume_bar(bars: tuple[TornadoBar, ...], volume: TornadoBar) -> tuple[TornadoBar, ...]:
    """``bars`` and ``volume``, widest swing first (as ``cost.tornado`` orders them)."""

    def width(bar: TornadoBar) -> float:
        return max(bar.swing_usd(option) for option in bar.base_usd)

    return tuple(sorted((*bars, volume), key=width, reverse=True))


def _costs_under(options: tuple[OptionPlan, ...]):  # type: ignore[no-untyped-def]
    def scenario(finance: FinanceAssumptions) -> dict[str, float]:
        return {o.option.value: o.recipe(finance, 1.0).npv_usd for o in options if o.recipe}

    return scenario


def throughput_spreads(options: tuple[OptionPlan, ...]) -> dict[str, tuple[float, float]]:
    """(mu, sigma) of each hardware option's log throughput multiple (the API has none)."""
    out = {}
    for o in options:
        designs = tuple(c.design for c in o.choices if c.design is not None)
        if designs and o.option is not DeploymentOption.API:
            out[o.option.value] = throughput_log_spread(designs)
    return out


MAX_CONFIRM_ROUNDS = 8


def _cost_options(
    scenario: Scenario,
    designs: dict[str, list[Design]],
    training: tuple[TrainingSetup, ...],
    ctx: PriceContext,
    model_ids: dict[str, str],
    no_design: dict[str, str],
    idle_setups: Mapping[str, Mapping[str, TrainingSetup]] | None = None,
) -> tuple[OptionPlan, ...]:
    """Every deployment option costed with ``designs``, or excluded with its reason."""
    excluded = scenario.constraints.option_exclusions()
    plans = []
    for option in DeploymentOption:
        if option in excluded:
            plans.append(OptionPlan(option, excluded=excluded[option]))
            continue
        plans.append(
            _option_plan(
                option, scenario, designs, training, ctx, model_ids, no_design, idle_setups
            )
        )
    return tuple(plans)


def _confirmed(
    cost_all: Callable[[dict[str, list[Design]]], tuple[OptionPlan, ...]],
    designs: dict[str, list[Design]],
    scenario: Scenario,
    seed: int,
) -> tuple[
    tuple[OptionPlan, ...], dict[str, list[Design]], tuple[SimulationCheck, ...], dict[str, int]
]:
    """Cost, simulate the recommended option's designs, add a replica to each design that
    misses its SLO in simulation, and repeat until the recommendation holds."""
    added: dict[str, int] = {}
    checks: tuple[SimulationCheck, ...] = ()
    for _ in range(MAX_CONFIRM_ROUNDS):
        options = cost_all(designs)
        best = recommended_option(options, scenario)
        chosen = [c.design for c in best.choices if c.design is not None] if best else []
        checks = tuple(confirm_designs(chosen, seed=seed))
        failing = [d for d, c in zip(chosen, checks, strict=True) if not c.meets_slo and not c.note]
        if not failing:
            return options, designs, checks, added
        for design in failing:
            bigger = dataclasses.replace(design, replicas=design.replicas + 1)
            name = design.workload.name
            designs = {**designs, name: [bigger if d is design else d for d in designs[name]]}
            added[design.label] = added.get(design.label, 0) + 1
    return cost_all(designs), designs, checks, added


def _idle_setups(
    catalog: Catalog, scenario: Scenario, models: dict[str, object], space: SearchSpace
) -> dict[str, dict[str, TrainingSetup]]:
    """Each fine-tuning job's setup on each candidate GPU that holds it (for running it on
    idle inference GPUs of that type)."""
    if not scenario.capacity.finetune_on_idle_inference:
        return {}
    out: dict[str, dict[str, TrainingSetup]] = {}
    for job in scenario.finetune_workloads():
        model = models[job.name]
        assert isinstance(model, ModelSpec)
        found = {gpu.id: setup_on(catalog, job, model, gpu) for gpu in space.gpus}
        out[job.name] = {g: s for g, s in found.items() if not isinstance(s, str)}
    return out


def plan_context(scenario: Scenario, catalog: Catalog, prices: PriceBook) -> PriceContext:
    """Prices, overrides and constraints the options of ``scenario`` are costed with."""
    return PriceContext(
        with_quotes(prices, scenario.overrides, catalog),
        resolve(scenario, catalog).gpu_overrides,
        scenario.constraints,
        scenario.candidates.hybrid_base_demand_percentile,
        scenario.capacity,
        bundled_servers(),
    )


def make_plan(
    scenario: Scenario,
    catalog: Catalog,
    prices: PriceBook,
    *,
    seed: int = 0,
    monte_carlo_samples: int = DEFAULT_MONTE_CARLO_SAMPLES,
    confirm: bool = True,
) -> Plan:
    """Plan ``scenario``: every option costed or excluded with its reason. With
    ``confirm``, the recommended option's designs are replayed in the serving simulator
    at their peak hour, and replicas are added until the simulated SLO percentile is met
    (at most :data:`MAX_CONFIRM_ROUNDS` rounds; a remaining miss is reported)."""
    started = time.perf_counter()
    space, extra = _space(scenario, catalog)
    models = extra["models"]
    assert isinstance(models, dict)
    ctx = plan_context(scenario, catalog, prices)
    designs: dict[str, list[Design]] = {}
    rejected: list[Rejected] = []
    for workload in scenario.inference_workloads():
        found, refused = designs_for(catalog, workload, models[workload.name], space)
        designs[workload.name], rejected = found, rejected + refused
    training = []
    for job in scenario.finetune_workloads():
        setup = best_setup(catalog, job, models[job.name], space.gpus, ctx)
        if isinstance(setup, str):
            raise InputError(f"fine-tuning job '{job.name}': {setup}", field="workloads")
        training.append(setup)
    model_ids = {name: m.id for name, m in models.items()}
    no_design = {name: _no_design_reason(name, rejected) for name in designs}
    idle = _idle_setups(catalog, scenario, models, space) if training else {}

    def cost_all(current: dict[str, list[Design]]) -> tuple[OptionPlan, ...]:
        return _cost_options(scenario, current, tuple(training), ctx, model_ids, no_design, idle)

    options, designs, checks, added = (
        _confirmed(cost_all, designs, scenario, seed)
        if confirm
        else (cost_all(designs), designs, (), {})
    )
    included = tuple(o for o in options if o.included)
    search_seconds = time.perf_counter() - started
    bars: tuple[TornadoBar, ...] = ()
    mc = None
    curves = volume_curves(
        {o.option.value: o.recipe for o in included if o.recipe}, scenario.finance
    )
    if included:
        costs = _costs_under(included)
        inputs = tornado_inputs(scenario.finance, TORNADO_MULTIPLIERS)
        bars = _with_volume_bar(tornado(costs, scenario.finance, inputs), volume_bar(curves))
        if monte_carlo_samples > 0:
            mc = monte_carlo_with_volume(
                {o.option.value: o.recipe for o in included if o.recipe},
                scenario.finance,
                rng=np.random.default_rng(seed),
                samples=monte_carlo_samples,
                throughput=throughput_spreads(included),
            )
    evaluated = sum(len(d) for d in designs.values()) + len(rejected)
    return Plan(
        scenario,
        options,
        designs,
        tuple(rejected),
        tuple(training),
        _breakevens(included, curves, scenario.finance),
        bars,
        mc,
        seed,
        evaluated,
        search_seconds,
        simulation=checks,
        replicas_added=added,
    )
