"""One deployment option assembled from its parts: each inference workload's cheapest
design (or the API), the workloads of one GPU type on shared servers where that is cheaper
(:mod:`llmplan.plan.sharing`), the fine-tuning jobs on idle inference GPUs or GPUs of their
own (:mod:`llmplan.plan.idle_training`), one staff line, and the fleet-wide limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from llmplan.cost import CostLine, FinanceAssumptions, OptionCost, staff_fte
from llmplan.cost.result import FloatArray, OptionKind, combine
from llmplan.errors import InputError
from llmplan.plan.compliance import PriceOrigin
from llmplan.plan.demand import hybrid_split
from llmplan.plan.finetune import TrainingSetup, training_cost
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
from llmplan.plan.schedule import fleet_limit_reason, owned_gpus_in_service
from llmplan.plan.search import Design
from llmplan.plan.sharing import SharedServers, shareable
from llmplan.scenario import DeploymentOption, Scenario


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


def tokens_over_horizon(scenario: Scenario) -> float:
    months = scenario.finance.horizon_months
    return sum(
        w.total_tokens_per_month(m) for w in scenario.inference_workloads() for m in range(months)
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
    capacity = ctx.capacity
    sharing = capacity.whole_servers and capacity.share_servers_across_models
    if not (sharing and option.is_owned and len(served.designs) >= 2):
        return out
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
        tokens_over_horizon=tokens_over_horizon(scenario),
        shared=served.shared,
    )


def option_plan(
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
