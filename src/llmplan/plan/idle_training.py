"""Fine-tuning on idle inference capacity (issue 13 item 8).

An inference fleet sized for its busiest hour stands idle in other hours: outside the
operating hours (``operating_hours_per_day``, the zero hours of ``hourly_profile``, the days
beyond ``days_per_month``) and, with an ``hourly_profile``, in hours whose traffic needs
fewer replicas than the fleet has. A fine-tuning job whose model fits the fleet's GPU can
run there (checkpointed between idle windows) instead of on extra GPUs.

Idle GPU-hours per month: for each hour of the day, the replicas the hour's traffic does
not need (ceil(hour's rate / replica capacity) serve it; without a profile every operating
hour is counted busy), times GPUs per replica, in whole training groups of the job's GPUs
(the router is assumed to idle whole servers); summed over the fleets of that GPU type,
and the **least month** of the horizon counts (the final fleet against growing traffic,
or each month's tranche when phased). The job fits when its GPU-hours per month (and
those of earlier jobs placed on the same GPU type) are within that, and, with
``max_hours_per_run``, when a run spread over the idle hours of a day (wall clock =
hours per run x 24 / idle hours per day) finishes in time.

What it costs: owned fleets (on premise, colocation) only the extra energy of the
training GPUs over their idle draw (``average_power_fraction_of_tdp`` minus
``idle_power_fraction_of_tdp``, at ``energy_usd_per_it_kwh``); reserved cloud GPUs are
billed every hour anyway, so nothing extra. On-demand and spot capacity is released
outside operating hours, and hybrid bases are not used. Not modelled: the time to swap
model weights in and out of GPU memory, and training slowing inference in shared hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llmplan.cost import FinanceAssumptions, OptionCost
from llmplan.cost.result import CostLine, OptionKind
from llmplan.plan.finetune import TrainingSetup
from llmplan.plan.options import PriceContext, Recipe, gpu_power_w, replicas_by_month
from llmplan.plan.search import SECONDS_PER_HOUR, Design
from llmplan.scenario import DeploymentOption, InferenceWorkload
from llmplan.scenario.workloads import DEFAULT_DAYS_PER_MONTH, HOURS_PER_DAY

IDLE_OPTIONS = frozenset(
    {
        DeploymentOption.ON_PREMISE,
        DeploymentOption.COLOCATION,
        DeploymentOption.CLOUD_RESERVED_1Y,
        DeploymentOption.CLOUD_RESERVED_3Y,
    }
)
"""Options whose inference GPUs stay in place when idle (owned, or reserved all month)."""


def hourly_demand_share(workload: InferenceWorkload) -> list[float]:
    """Share of a day's requests arriving in each hour 0..23, or [] without a profile."""
    profile = workload.hourly_profile
    if profile is None:
        return []
    total = sum(profile)
    return [w / total for w in profile]


def idle_groups_by_hour(
    design: Design, replicas: int, month: int, group_gpus: int
) -> tuple[int, float, float]:
    """(training groups idle in every hour outside operating hours, group-hours per
    operating day, hours per day with at least one group idle) of ``replicas`` replicas
    of ``design`` in ``month``."""
    workload = design.workload
    per_replica = design.deployment.num_gpus
    whole = replicas * per_replica // group_gpus
    shares = hourly_demand_share(workload)
    if not shares:
        off = HOURS_PER_DAY - workload.active_hours_per_day()
        return whole, whole * off, off if whole else 0.0
    per_day = workload.requests_per_day_at(month)
    capacity = design.capacity.max_requests_per_s
    group_hours, hours = 0.0, 0.0
    for share in shares:
        need = math.ceil(per_day * share / SECONDS_PER_HOUR / capacity - 1e-9)
        groups = max(0, replicas - need) * per_replica // group_gpus
        group_hours += groups
        hours += 1.0 if groups else 0.0
    return whole, group_hours, hours


@dataclass(frozen=True)
class IdleWindow:
    """Idle capacity of one GPU type in the least month: GPU-hours per month for groups of
    ``group_gpus`` GPUs, and hours per day at least one group is idle."""

    gpu_hours_per_month: float
    hours_per_day: float


def idle_window(
    designs: Sequence[Design],
    group_gpus: int,
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
) -> IdleWindow:
    """Idle capacity of ``designs`` (one GPU type) for training groups of ``group_gpus``."""
    months = finance.horizon_months
    worst: IdleWindow | None = None
    fleets = [
        replicas_by_month(d, 1.0, months) if ctx.capacity.phased else [d.replicas] * months
        for d in designs
    ]
    for month in range(months):
        gpu_hours, hours = 0.0, 0.0
        for design, replicas in zip(designs, fleets, strict=True):
            whole, group_hours, idle_hours = idle_groups_by_hour(
                design, replicas[month], month, group_gpus
            )
            days = design.workload.days_per_month
            off_days = max(0.0, DEFAULT_DAYS_PER_MONTH - days)
            gpu_hours += group_gpus * (group_hours * days + whole * HOURS_PER_DAY * off_days)
            hours = max(hours, idle_hours)
        if worst is None or gpu_hours < worst.gpu_hours_per_month:
            worst = IdleWindow(gpu_hours, hours)
    return worst if worst is not None else IdleWindow(0.0, 0.0)


def idle_energy_recipe(setup: TrainingSetup, option: DeploymentOption, ctx: PriceContext) -> Recipe:
    """The job's cost on idle inference GPUs: the extra energy of busy over idle GPUs on
    owned fleets, nothing on reserved cloud capacity."""

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> OptionCost:
        """Fine-tuning does not follow the inference volume."""
        kwh = 0.0
        if option.is_owned:
            kw = setup.gpus * gpu_power_w(setup.gpu, ctx) / 1000
            kw *= 1 + finance.server_non_gpu_power_fraction_of_gpu
            extra = finance.average_power_fraction_of_tdp - finance.idle_power_fraction_of_tdp
            hours = setup.hours_per_run * setup.job.runs_per_month()
            kwh = kw * max(0.0, extra) * hours
        running = np.full(finance.horizon_months + 1, kwh, dtype=np.float64)
        running[0] = 0.0
        lines = {
            CostLine.ENERGY: running * finance.electricity_usd_per_kwh * finance.pue,
            CostLine.COOLING: running * finance.cooling_usd_per_kwh,
        }
        note = f"{setup.job.name} runs on idle inference GPUs: {kwh:,.0f} extra kWh/month"
        kind = OptionKind.CLOUD if option.is_cloud_rental else OptionKind.ON_PREMISE
        return OptionCost(
            f"finetune-{setup.job.name}", kind, lines, finance.monthly_discount_rate, (note,)
        )

    return recipe


@dataclass(frozen=True)
class IdlePlacement:
    """A fine-tuning job placed on idle inference GPUs: its setup, recipe and why it fits."""

    setup: TrainingSetup
    recipe: Recipe
    note: str


def place_on_idle(
    setups: Mapping[str, TrainingSetup],
    designs: Sequence[Design],
    option: DeploymentOption,
    finance: FinanceAssumptions,
    ctx: PriceContext,
    used: dict[str, float],
) -> IdlePlacement | str:
    """The job on the idle GPUs of ``designs`` (``setups``: the job's setup per GPU id),
    or why not; ``used`` (GPU id -> GPU-hours per month already placed) is updated."""
    if not ctx.capacity.finetune_on_idle_inference:
        return "capacity.finetune_on_idle_inference is false"
    if option is DeploymentOption.HYBRID:
        return "a hybrid's owned base is not used for fine-tuning"
    if option not in IDLE_OPTIONS:
        return f"{option.value} releases its inference GPUs when idle"
    why = "no inference fleet on a GPU that holds the job"
    for gpu_id in dict.fromkeys(d.deployment.gpu.id for d in designs):
        setup = setups.get(gpu_id)
        if setup is None:
            continue
        mine = [d for d in designs if d.deployment.gpu.id == gpu_id]
        window = idle_window(mine, setup.gpus, option, finance, ctx)
        need = setup.gpu_hours_per_month + used.get(gpu_id, 0.0)
        if need > window.gpu_hours_per_month:
            why = (
                f"{need:,.0f} GPU-hours/month needed on {gpu_id}, "
                f"{window.gpu_hours_per_month:,.0f} idle"
            )
            continue
        wall = setup.hours_per_run * HOURS_PER_DAY / max(window.hours_per_day, 1e-9)
        limit = setup.job.max_hours_per_run
        if limit is not None and wall > limit:
            why = f"a run would take {wall:,.0f} h of idle windows, over max_hours_per_run"
            continue
        used[gpu_id] = need
        note = (
            f"{setup.gpus} x {gpu_id} of the inference fleet in its idle hours "
            f"({setup.gpu_hours_per_month:,.0f} of {window.gpu_hours_per_month:,.0f} idle "
            f"GPU-hours/month; {setup.hours_per_run:,.1f} h per run, about {wall:,.0f} h "
            "wall clock)"
        )
        return IdlePlacement(setup, idle_energy_recipe(setup, option, ctx), note)
    return why
