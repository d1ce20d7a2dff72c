"""``llmplan plan``: run the planner on a scenario file and show the decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmplan.cli.common import (
    CalibrationOpt,
    calibration_label,
    catalog,
    console,
    fail,
    handle_errors,
    print_json,
    user_home,
)
from llmplan.domain.currency import Currency
from llmplan.errors import InputError
from llmplan.limits import check_monte_carlo_size
from llmplan.report.paper import DEFAULT_PAPER, Paper

DEFAULT_EXAMPLE = "chat-assistant"
OPTIMISTIC_MARK = "[!]"
"""Marks a design whose SLO holds only at the optimistic end of its 80 % interval."""


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _options_table(payload: dict[str, Any]) -> Table:
    code = payload["currency"]
    table = Table(title=f"Options ({code} over the horizon; cheapest first)", title_justify="left")
    for column in ("option", "NPV", "TCO", "capex", f"{code}/M tok", "hardware"):
        table.add_column(
            column, justify="right" if column not in ("option", "hardware") else "left"
        )
    included = sorted((o for o in payload["options"] if o["included"]), key=lambda o: o["npv_usd"])
    best = (payload["recommended"] or {}).get("option")
    if any(c.get("slo_optimistic_only") for o in included for c in o["choices"]):
        table.caption = (
            f"{OPTIMISTIC_MARK} the SLO holds only at the optimistic end of the 80 % interval "
            "(its pessimistic end misses the target)"
        )
    for o in included:
        hardware = "; ".join(_choice_text(c) for c in o["choices"])
        name = Text(o["option"], style="bold green" if o["option"] == best else "")
        money = o["in_currency"]
        per_mtok = money["per_mtok"]
        table.add_row(
            name,
            _money(money["npv"]),
            _money(money["tco"]),
            _money(money["capex"]),
            "-" if per_mtok is None else f"{per_mtok:,.3f}",
            hardware,
        )
    return table


def features_text(choice: dict[str, Any]) -> str:
    """A design's layout and serving features as text, e.g. ``, EP8 + DP attention,
    prefix cache 50 %, eagle K=3 (2.73 tokens/step)``; empty without them."""
    text = f", {choice['layout']}" if choice.get("layout") else ""
    if choice.get("prefix_hit"):
        text += f", prefix cache {100 * choice['prefix_hit']:.0f} %"
    if choice.get("spec_method", "none") != "none":
        text += (
            f", {choice['spec_method']} K={choice['spec_tokens']} "
            f"({choice['accepted_tokens_per_step']:.2f} tokens/step)"
        )
    return text


def _replica_gpus(choice: dict[str, Any]) -> int:
    """GPUs of one replica (a prefill + decode unit when disaggregated)."""
    return int(choice.get("gpus_per_replica") or choice["tp"] * choice["pp"])


def _choice_text(choice: dict[str, Any]) -> str:
    if choice.get("placement"):  # a fine-tuning job: where it runs
        return f"{choice['workload']}: {choice['note']}"
    if "gpu" not in choice:
        return f"{choice['workload']}: {choice['note'].split(':')[0]}"
    text = (
        f"{choice['workload']}: {choice['replicas']} x {_replica_gpus(choice)} "
        f"{choice['gpu']} {choice['precision']} ({choice['engine']}{features_text(choice)})"
    )
    intervals = choice.get("intervals")
    if intervals:
        ttft, tpot = intervals["ttft_ms"], intervals["tpot_ms"]
        text += (
            f", p{choice['percentile']:g} TTFT {choice['ttft_ms']:,.0f} ms "
            f"(80 %: {ttft[0]:,.0f}-{ttft[1]:,.0f}), TPOT {choice['tpot_ms']:,.1f} ms "
            f"(80 %: {tpot[0]:,.1f}-{tpot[1]:,.1f})"
        )
    if choice.get("slo_optimistic_only"):
        text += f" {OPTIMISTIC_MARK}"
    if choice.get("shared_with"):
        text += f", shares servers with {', '.join(choice['shared_with'])}"
    return text


def _power(kw: float) -> str:
    """Power at the wall in kW, or MW from 1,000 kW."""
    return f"{kw / 1000:,.2f} MW" if kw >= 1000 else f"{kw:,.1f} kW"


def _excluded_table(payload: dict[str, Any]) -> Table | None:
    excluded = [o for o in payload["options"] if not o["included"]]
    if not excluded:
        return None
    table = Table(title="Excluded options", title_justify="left")
    table.add_column("option")
    table.add_column("reason")
    for o in excluded:
        table.add_row(o["option"], Text(o["excluded_reason"] or ""))
    return table


def _sensitivity_table(payload: dict[str, Any]) -> Table | None:
    bars = payload["sensitivity"]["tornado"][:6]
    if not bars:
        return None
    table = Table(title="What moves the decision (NPV, low / high value)", title_justify="left")
    for column in ("input", "low", "high", "cheapest at low", "cheapest at high"):
        table.add_column(column)
    for bar in bars:
        style = "bold yellow" if bar["changes_cheapest"] else ""
        table.add_row(
            Text(bar["field"], style=style),
            f"{bar['low_value']:g}",
            f"{bar['high_value']:g}",
            bar["cheapest_low"],
            bar["cheapest_high"],
        )
    return table


def _rejected_table(payload: dict[str, Any]) -> Table | None:
    rejected = payload["rejected_designs"]
    if not rejected:
        return None
    table = Table(title="Designs that cannot serve a workload", title_justify="left")
    for column in ("workload", "design", "reason"):
        table.add_column(column)
    for r in rejected[:12]:
        table.add_row(r["workload"], r["label"], Text(r["reason"]))
    if len(rejected) > 12:
        table.caption = f"{len(rejected) - 12} more in --json / --report"
    return table


def _pareto_table(payload: dict[str, Any]) -> Table | None:
    front = [p for p in payload["pareto"] if p["on_front"]]
    if not front:
        return None
    table = Table(title="Pareto set: cost vs time to first token", title_justify="left")
    for column in ("workload", "design", "cheapest option", "NPV", "TTFT ms", "TPOT ms"):
        left = column in ("workload", "design", "cheapest option")
        table.add_column(column, justify="left" if left else "right")
    for p in front:
        table.add_row(
            p["workload"],
            p["label"],
            p["option"],
            _money(p["npv_usd"]),
            f"{p['ttft_ms']:,.0f}",
            f"{p['tpot_ms']:,.1f}",
        )
    return table


def _breakeven_table(payload: dict[str, Any]) -> Table | None:
    best = (payload["recommended"] or {}).get("option")
    rows = [b for b in payload["breakeven"] if best in (b["option"], b["versus"])]
    if not rows:
        return None
    table = Table(title="Break-even (owning vs renting or buying tokens)", title_justify="left")
    for column in ("option", "against", "no dearer from month", "same cost at volume x"):
        table.add_column(column)
    for b in rows:
        months = b.get("months")
        month = "never" if b["month"] is None else str(b["month"])
        if months is not None:
            month = f"{months:.1f}"
        multiple = b["volume_multiple"]
        table.add_row(
            b["option"], b["versus"], month, "-" if multiple is None else f"{multiple:.2f}"
        )
    return table


def _fleet_line(payload: dict[str, Any], name: str) -> str:
    """Servers, idle GPUs, power at the wall, racks and purchases of an owned option."""
    option = next((o for o in payload["options"] if o["option"] == name), None)
    if option is None or not option.get("servers"):
        return ""
    bought = ", ".join(
        f"month {p['month']}: {p['servers']} ({_money(p['usd'])} USD)"
        for p in option["purchases"][:6]
    )
    more = " ..." if len(option["purchases"]) > 6 else ""
    shared = option.get("shared_servers")
    sharing = ""
    if shared:
        sharing = (
            f"{', '.join(shared['workloads'])} share {shared['servers']} {shared['gpu']} "
            f"servers (instead of {shared['servers_if_separate']} of their own); "
        )
    return (
        f"Fleet: {option['servers']} servers ({option['idle_gpus']} idle GPUs), "
        f"{_power(option['power_kw'])} at the wall, {option['racks']} racks; {sharing}"
        f"servers bought at {bought}{more}\n"
    )


def render_plan(payload: dict[str, Any]) -> None:
    """Rich terminal view of a plan payload."""
    console.print(Text(payload["scenario"]["name"], style="bold"))
    best = payload["recommended"]
    if best is None:
        console.print(Text("No option can serve this scenario.", style="bold red"))
    else:
        lines = Text()
        lines.append(f"Recommended: {best['option']}\n", style="bold green")
        detail = best.get("close_call_detail")
        if detail is not None:
            style = "bold yellow" if best["close_call"] else ""
            lines.append(f"{detail['summary']}\n", style=style)
        for reason in best["reasons"]:
            lines.append(f"- {reason}\n")
        for risk in best["risks"]:
            lines.append(f"! {risk}\n", style="yellow")
        lines.append(_fleet_line(payload, best["option"]))
        ready = best["readiness"]
        lines.append(f"Staff: {ready['staff_fte']:.2f} FTE ({ready['assumption']})")
        console.print(Panel(lines, title="Decision", expand=False))
    if payload["recommended"] is not None:
        console.print(_options_table(payload))
    tables = (
        _excluded_table(payload),
        _rejected_table(payload),
        _pareto_table(payload),
        _breakeven_table(payload),
        _sensitivity_table(payload),
    )
    for table in tables:
        if table is not None:
            console.print(table)
    mc = payload["sensitivity"].get("monte_carlo")
    if mc:
        shares = ", ".join(
            f"{k} {v:.0%}"
            for k, v in sorted(mc["probability_cheapest"].items(), key=lambda i: -i[1])
        )
        console.print(f"Monte Carlo ({mc['samples']} draws, seed {mc['seed']}): cheapest {shares}")
    rate = payload["exchange_rate"]
    if rate["code"] != "USD":
        console.print(
            f"Amounts in {rate['code']} at {rate['units_per_usd']:.4g} per USD "
            f"({rate['source']}{', ' + rate['rate_date'] if rate['rate_date'] else ''})"
        )
    search = payload["search"]
    console.print(
        f"{search['candidates_evaluated']} designs evaluated in {search['search_seconds']:.2f} s; "
        f"performance from {payload.get('calibration', 'bundled engine profiles')}"
    )


@handle_errors
def plan_command(
    scenario: Annotated[
        Path | None,
        typer.Argument(help=f"Scenario YAML or JSON; default: the bundled {DEFAULT_EXAMPLE}."),
    ] = None,
    example: Annotated[
        str | None, typer.Option(help="Plan a bundled example by name instead of a file.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write the report: .html (charts included, works offline), .pdf (printed "
            "by Chromium) or .xlsx (the same tables as a workbook)."
        ),
    ] = None,
    paper: Annotated[
        Paper, typer.Option(help="Paper size of the printed report (HTML and PDF).")
    ] = DEFAULT_PAPER,
    seed: Annotated[int, typer.Option(min=0, help="Monte Carlo seed.")] = 0,
    samples: Annotated[
        int, typer.Option(min=0, max=100_000, help="Monte Carlo draws (0: none).")
    ] = 300,
    calibration: CalibrationOpt = None,
    currency: Annotated[
        Currency | None,
        typer.Option(help="Report in this currency (replaces finance.currency)."),
    ] = None,
) -> None:
    """Recommend hardware and deployment for a scenario: cost, latency, break-even, risks."""
    from llmplan.plan.payload import plan_payload
    from llmplan.plan.planner import make_plan, plan_context
    from llmplan.plan.quotes import with_currency
    from llmplan.prices.loader import load_prices
    from llmplan.scenario import load_example, load_scenario

    if scenario is not None and example is not None:
        raise InputError("give a scenario file or --example, not both", field="example")
    if report is not None:
        from llmplan.report.plan import check_report_path

        check_report_path(report)  # before the plan runs, not after
    if scenario is not None:
        loaded = load_scenario(scenario)
    else:
        loaded = load_example(example or DEFAULT_EXAMPLE)
    loaded = with_currency(loaded, currency)
    if calibration is None and loaded.calibration is not None:
        base = scenario.parent if scenario is not None else Path.cwd()
        calibration = base / loaded.calibration
    cat = catalog(calibration)
    prices = load_prices(user_home())
    check_monte_carlo_size(len(loaded.workloads), samples)
    plan = make_plan(loaded, cat, prices, seed=seed, monte_carlo_samples=samples)
    ctx = plan_context(loaded, cat, prices)
    payload = plan_payload(plan, ctx)
    payload["calibration"] = calibration_label(calibration)
    if report is not None:
        from llmplan.report.plan import write_plan_report

        write_plan_report(payload, report, paper)
    if json_out:
        print_json(payload)
    else:
        render_plan(payload)
        if report is not None:
            console.print(f"report written to {report}")
    if payload["recommended"] is None:
        reasons = [o["excluded_reason"] for o in payload["options"] if o["excluded_reason"]]
        raise fail(f"no option can serve the scenario; first reason: {reasons[0]}")
