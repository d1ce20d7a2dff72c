"""A plan as plain data (dicts, lists, numbers): what ``--json``, the API and the HTML
report show. Every ``_usd`` figure is USD; ``in_currency`` blocks and the top-level
``currency`` give the headline figures in ``finance.currency``; every latency is at the
workload's SLO percentile.
"""

from __future__ import annotations

from typing import Any

from llmplan.cost import OptionCost
from llmplan.perf.load import serving_features
from llmplan.plan.assembly import OptionPlan, WorkloadChoice
from llmplan.plan.decision import plan_confidence
from llmplan.plan.evidence import (
    GIB,
    ParetoPoint,
    pareto_points,
    readiness,
    reasons,
    risks,
)
from llmplan.plan.options import PriceContext
from llmplan.plan.planner import BreakEven, Plan
from llmplan.plan.schedule import design_footprint, owns_hardware, schedule_payload
from llmplan.plan.uncertainty import design_intervals
from llmplan.scenario import scenario_to_data


def _choice(choice: WorkloadChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"workload": choice.workload, "note": choice.note}
    if choice.placement:
        out["placement"] = choice.placement
    if choice.shared_with:
        out["shared_with"] = list(choice.shared_with)
    if choice.origin is not None:
        out.update(choice.origin.as_dict())
    design = choice.design
    if design is None:
        return out
    dep = design.deployment
    latency = design.capacity.latency
    sure = design_intervals(design)
    out.update(
        gpu=dep.gpu.id,
        precision=dep.weights.id,
        kv_precision=dep.kv.id,
        engine=dep.engine.id,
        tp=dep.tp,
        pp=dep.pp,
        replicas=design.replicas,
        gpus=design.gpus,
        max_requests_per_s_per_replica=design.capacity.max_requests_per_s,
        limited_by=design.capacity.limited_by,
        percentile=latency.percentile,
        ttft_ms=latency.ttft_ms,
        tpot_ms=latency.tpot_ms,
        e2e_latency_ms=latency.e2e_latency_ms,
        intervals={"ttft_ms": list(sure.ttft_ms), "tpot_ms": list(sure.tpot_ms)},
        slo_optimistic_only=sure.optimistic_only,
        slo_pessimistic_misses=list(sure.pessimistic_misses),
        busy_fraction=design.busy_fraction,
        memory_per_gpu_gib=design.memory_per_gpu_bytes() / GIB,
        gpu_memory_gib=dep.gpu.memory_gib,
        measured_throughput_source=design.measured_source,
    )
    features = design.capacity.features
    out.update(serving_features(features.prefix_hit, features.spec))
    return out


def _cost(cost: OptionCost, tokens: float) -> dict[str, Any]:
    return {
        "tco_usd": cost.tco_usd,
        "npv_usd": cost.npv_usd,
        "capex_usd": cost.capex_usd,
        "opex_usd": cost.opex_usd,
        "residual_value_usd": cost.residual_value_usd,
        "lines_usd": {line.value: cost.line_total_usd(line) for line in cost.lines_usd},
        "usd_per_mtok": cost.cost_per_mtok(tokens) if tokens > 0 else None,
        "cumulative_usd": [float(v) for v in cost.cumulative_usd],
        "assumptions": list(cost.assumptions),
    }


def _fleet(plan: Plan, option: OptionPlan, ctx: PriceContext) -> dict[str, Any]:
    """Purchases, monthly schedule, power and racks of an included option."""
    assert option.cost is not None
    designs = tuple(c.design for c in option.choices if c.design is not None)
    workloads = plan.scenario.inference_workloads()
    finance = plan.scenario.finance
    return schedule_payload(
        designs, option.option, workloads, option.cost, finance, ctx, option.shared
    )


def _shared(plan: Plan, option: OptionPlan, ctx: PriceContext) -> dict[str, Any] | None:
    """The shared servers of an option (None: every workload has servers of its own)."""
    shared = option.shared
    if shared is None:
        return None
    finance = plan.scenario.finance
    fp = shared.footprint(finance, ctx)
    return {
        "workloads": list(shared.workloads),
        "gpu": shared.designs[0].deployment.gpu.id,
        "servers": fp.servers,
        "servers_if_separate": shared.separate_servers(finance, ctx),
        "gpus_per_server": fp.gpus // fp.servers if fp.servers else 0,
        "idle_gpus": fp.idle_gpus,
    }


def _idle(
    choice: dict[str, Any], option: OptionPlan, design: Any, ctx: PriceContext, plan: Plan
) -> None:
    """Servers bought for one workload and the GPUs in them no replica uses (a workload on
    shared servers: see the option's ``shared_servers``)."""
    shared = option.shared
    if shared is not None and any(design is d for d in shared.designs):
        return
    if design is not None and owns_hardware(option.option):
        fp = design_footprint(design, option.option, plan.scenario.finance, ctx)
        choice.update(servers=fp.servers, idle_gpus=fp.idle_gpus)


def _option(plan: Plan, option: OptionPlan, ctx: PriceContext) -> dict[str, Any]:
    out: dict[str, Any] = {
        "option": option.option.value,
        "included": option.included,
        "excluded_reason": option.excluded or None,
    }
    if option.cost is not None:
        out.update(_cost(option.cost, option.tokens_over_horizon))
        out["in_currency"] = _in_currency(plan, option.cost, option.tokens_over_horizon)
        out["choices"] = [_choice(c) for c in option.choices]
        for data, choice in zip(out["choices"], option.choices, strict=True):
            _idle(data, option, choice.design, ctx, plan)
        out.update(_fleet(plan, option, ctx))
        out["shared_servers"] = _shared(plan, option, ctx)
        out["risks"] = risks(plan, option)
    return out


def _in_currency(plan: Plan, cost: OptionCost, tokens: float) -> dict[str, Any]:
    """The headline figures in ``finance.currency`` (the ``_usd`` figures converted)."""
    money = plan.scenario.finance.money
    per_mtok = cost.cost_per_mtok(tokens) if tokens > 0 else None
    return {
        "currency": money.currency.value,
        "tco": money.convert(cost.tco_usd),
        "npv": money.convert(cost.npv_usd),
        "capex": money.convert(cost.capex_usd),
        "opex": money.convert(cost.opex_usd),
        "per_mtok": None if per_mtok is None else money.convert(per_mtok),
    }


def _confidence(plan: Plan) -> dict[str, Any]:
    """``win_share`` and ``close_call`` of the recommendation (None without Monte Carlo)."""
    best = plan.recommended
    found = plan_confidence(plan)
    if found is None or best is None:
        return {"win_share": None, "close_call": None, "close_call_detail": None}
    return {
        "win_share": found.win_share,
        "close_call": found.close_call,
        "close_call_detail": {
            "runner_up": found.runner_up,
            "runner_up_share": found.runner_up_share,
            "decided_by": [d.__dict__.copy() for d in found.deciders],
            "summary": found.summary(best.option.value),
        },
    }


def _breakeven(plan: Plan, item: BreakEven) -> dict[str, Any]:
    out = item.__dict__.copy()
    tokens = sum(w.total_tokens_per_month() for w in plan.scenario.inference_workloads())
    multiple = item.volume_multiple
    out["tokens_per_month_at_crossing"] = tokens * multiple if multiple is not None else None
    return out


def _pareto(points: list[ParetoPoint]) -> list[dict[str, Any]]:
    return [p.__dict__.copy() for p in points]


def _sensitivity(plan: Plan) -> dict[str, Any]:
    bars = [
        {
            "field": bar.field,
            "low_value": bar.low_value,
            "high_value": bar.high_value,
            "low_usd": dict(bar.low_usd),
            "high_usd": dict(bar.high_usd),
            "cheapest_low": bar.cheapest_low,
            "cheapest_high": bar.cheapest_high,
            "changes_cheapest": bar.changes_cheapest,
        }
        for bar in plan.tornado
    ]
    out: dict[str, Any] = {"base_npv_usd": dict(plan.tornado[0].base_usd) if plan.tornado else {}}
    out["tornado"] = bars
    mc = plan.monte_carlo
    if mc is not None:
        out["monte_carlo"] = {
            "seed": plan.seed,
            "samples": len(mc.samples_usd),
            "npv_usd_p10_p50_p90": {k: list(v) for k, v in mc.percentiles_usd().items()},
            "probability_cheapest": dict(mc.probability_cheapest),
            "inputs": sorted(mc.inputs),
        }
    return out


def plan_payload(plan: Plan, ctx: PriceContext) -> dict[str, Any]:
    """The whole plan as JSON-ready data."""
    best = plan.recommended
    recommended = None
    if best is not None and best.cost is not None:
        recommended = {
            "option": best.option.value,
            "npv_usd": best.cost.npv_usd,
            "tco_usd": best.cost.tco_usd,
            "usd_per_mtok": best.usd_per_mtok(),
            "reasons": reasons(plan),
            "risks": risks(plan, best),
            "readiness": readiness(plan, best),
            **_confidence(plan),
        }
        recommended["in_currency"] = _in_currency(plan, best.cost, best.tokens_over_horizon)
    evaluated = plan.candidates_evaluated
    money = plan.scenario.finance.money
    return {
        "currency": money.currency.value,
        "exchange_rate": dict(money.as_dict()),
        "scenario": scenario_to_data(plan.scenario),
        "recommended": recommended,
        "options": [_option(plan, o, ctx) for o in plan.options],
        "breakeven": [_breakeven(plan, b) for b in plan.breakeven],
        "pareto": _pareto(pareto_points(plan, ctx)),
        "rejected_designs": [r.__dict__.copy() for r in plan.rejected],
        "fine_tuning": [
            {
                "job": t.job.name,
                "gpu": t.gpu.id,
                "gpus": t.gpus,
                "hours_per_run": t.hours_per_run,
                "gpu_hours_per_month": t.gpu_hours_per_month,
                "memory_per_gpu_gib": t.per_gpu_bytes / GIB,
            }
            for t in plan.training
        ],
        "sensitivity": _sensitivity(plan),
        "simulation": [c.__dict__.copy() for c in plan.simulation],
        "replicas_added_after_simulation": dict(plan.replicas_added),
        "search": {
            "candidates_evaluated": evaluated,
            "search_seconds": plan.search_seconds,
            "candidates_per_s": evaluated / plan.search_seconds if plan.search_seconds else None,
        },
    }
