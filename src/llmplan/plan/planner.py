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
    FinanceAssumptions,
    MonteCarloResult,
    TornadoBar,
    breakeven_month,
    tornado,
)
from llmplan.cost.breakeven import breakeven_months
from llmplan.cost.result import FloatArray
from llmplan.errors import InputError
from llmplan.plan.assembly import OptionPlan as OptionPlan
from llmplan.plan.assembly import WorkloadChoice as WorkloadChoice
from llmplan.plan.assembly import option_plan
from llmplan.plan.confirm import SimulationCheck, confirm_designs
from llmplan.plan.crossing import crossing_multiple, volume_bar, volume_curves
from llmplan.plan.draws import throughput_log_spread
from llmplan.plan.finetune import TrainingSetup, best_setup, setup_on
from llmplan.plan.options import PriceContext
from llmplan.plan.quotes import with_quotes
from llmplan.plan.search import Design, Rejected, SearchSpace, designs_for
from llmplan.plan.sensitivity import (
    TORNADO_MULTIPLIERS,
    monte_carlo_with_volume,
    tornado_inputs,
)
from llmplan.prices.book import PriceBook
from llmplan.scenario import DeploymentOption, Scenario, resolve

DEFAULT_MONTE_CARLO_SAMPLES = 300


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


def _no_design_reason(workload: str, rejected: list[Rejected]) -> str:
    """Why no design serves ``workload``: how many were tried and one reason."""
    mine = [r for r in rejected if r.workload == workload]
    if not mine:
        return "no candidate design (check candidates and constraints.gpu_allow)"
    return f"none of {len(mine)} candidate designs can serve it; e.g. {mine[-1].label}: " + (
        mine[-1].reason
    )


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
            option_plan(option, scenario, designs, training, ctx, model_ids, no_design, idle_setups)
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
