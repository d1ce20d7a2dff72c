"""The tables of a plan report as plain text, shared by the HTML report and the XLSX
workbook so both say the same thing: the options, break-even, the Monte Carlo spread,
the tornado of the recommended option and the assumptions with units and sources.

Every cell is a string in words with units (:mod:`.labels`), money in the plan's currency
(the payload's amounts are USD, converted at :func:`.summary.rate_of`). A cell that holds
several lines (one per workload) is a list of strings.
"""

from __future__ import annotations

from typing import Any

from llmplan.report.labels import (
    field_name,
    field_unit,
    field_value,
    option_name,
    option_order,
    power_text,
)
from llmplan.report.summary import currency_of, rate_of

Cell = str | list[str]


def included(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Included options in the one order every table and chart uses."""
    by_name = {o["option"]: o for o in payload["options"] if o["included"]}
    return [by_name[name] for name in option_order(list(by_name))]


def _amounts(option: dict[str, Any], rate: float) -> dict[str, float | None]:
    """NPV, total, purchases and cost per million tokens in the report's currency."""
    converted = option.get("in_currency")
    if converted:
        return {k: converted.get(k) for k in ("npv", "tco", "capex", "per_mtok")}
    per_mtok = option.get("usd_per_mtok")
    return {
        "npv": option["npv_usd"] * rate,
        "tco": option["tco_usd"] * rate,
        "capex": option["capex_usd"] * rate,
        "per_mtok": None if per_mtok is None else per_mtok * rate,
    }


def _whole(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _gpu_choice(c: dict[str, Any]) -> str:
    engine = str(c["engine"])
    if c.get("prefix_hit"):
        engine += f", prefix cache {c['prefix_hit'] * 100:.0f} %"
    if c.get("spec_method") and c["spec_method"] != "none":
        engine += (
            f", {c['spec_method']} K={c['spec_tokens']} "
            f"({c['accepted_tokens_per_step']:.2f} tokens/step)"
        )
    ttft = f"p{c['percentile']:.0f} TTFT {c['ttft_ms']:,.0f} ms"
    tpot = f"TPOT {c['tpot_ms']:.1f} ms"
    if c.get("intervals"):
        low, high = c["intervals"]["ttft_ms"]
        ttft += f" (80 %: {low:,.0f}-{high:,.0f})"
        low, high = c["intervals"]["tpot_ms"]
        tpot += f" (80 %: {low:.1f}-{high:.1f})"
    text = (
        f"{c['workload']}: {c['replicas']} x {c['tp'] * c.get('pp', 1)} {c['gpu']} "
        f"{c['precision']} ({engine}), {ttft}, {tpot}, busy {c['busy_fraction'] * 100:.0f} %"
    )
    if c.get("slo_optimistic_only"):
        misses = "; ".join(c.get("slo_pessimistic_misses") or [])
        text += f"; SLO holds only at the optimistic end: {misses}"
    return text


def _design(option: dict[str, Any], payload: dict[str, Any]) -> list[str]:
    models = {w["name"]: w.get("api_model") or "" for w in payload["scenario"]["workloads"]}
    return [
        _gpu_choice(c) if c.get("gpu") else f"{c['workload']}: {models.get(c['workload'], '')}"
        for c in option["choices"]
    ]


def _price_sources(option: dict[str, Any]) -> list[str]:
    out = []
    for c in option["choices"]:
        text = str(c.get("note") or "")
        if c.get("provider"):
            text += f"; {c['provider']}, {c.get('region')}"
            if c.get("attestations"):
                text += ", " + ", ".join(c["attestations"])
        out.append(text)
    return out


def _count(choices: list[dict[str, Any]], key: str) -> str:
    if not choices or any(key not in c for c in choices):
        return "-"
    return str(sum(int(c[key]) for c in choices))


def options_table(payload: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """The options table: header and one row per included option."""
    currency, rate = currency_of(payload), rate_of(payload)
    header = [
        "Option", "GPUs", "Servers", "Power at the wall", "Replicas", "Design", f"NPV, {currency}",
        f"Total cost, {currency}", f"Purchases, {currency}",
        f"Per million tokens, {currency}", "Price and its source",
    ]  # fmt: skip
    rows: list[list[Cell]] = []
    for o in included(payload):
        gpu_choices = [c for c in o["choices"] if c.get("gpu")]
        m = _amounts(o, rate)
        per_mtok = m["per_mtok"]
        rows.append(
            [
                option_name(o["option"]),
                _count(gpu_choices, "gpus"),
                str(o["servers"]) if o.get("servers") else _count(gpu_choices, "servers"),
                power_text(o["power_kw"]) if o.get("power_kw") else "-",
                _count(gpu_choices, "replicas"),
                _design(o, payload),
                _whole(m["npv"]),
                _whole(m["tco"]),
                _whole(m["capex"]),
                "" if per_mtok is None else f"{per_mtok:.2f}",
                _price_sources(o),
            ]
        )
    return header, rows


def breakeven_table(payload: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    header = [
        "Option", "Against", "No dearer from month",
        "Costs the same at this multiple of the volume",
    ]  # fmt: skip
    rows: list[list[Cell]] = []
    for b in payload.get("breakeven") or []:
        month = str(b["month"]) if b.get("month") is not None else "never within the horizon"
        if b.get("volume_multiple") is not None:
            tokens = b.get("tokens_per_month_at_crossing") or 0
            volume = f"{b['volume_multiple']:.2f} x ({tokens:,.0f} tokens/month)"
        else:
            volume = "no crossing between 1/16 and 16 x"
        rows.append([option_name(b["option"]), option_name(b["versus"]), month, volume])
    return header, rows


def uncertainty_table(payload: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """The Monte Carlo spread of each option's NPV (empty without draws)."""
    currency, rate = currency_of(payload), rate_of(payload)
    mc = (payload.get("sensitivity") or {}).get("monte_carlo") or {}
    header = ["Option", f"P10, {currency}", f"P50, {currency}", f"P90, {currency}", "Cheapest in"]
    rows: list[list[Cell]] = []
    for name, quantiles in (mc.get("npv_usd_p10_p50_p90") or {}).items():
        share = (mc.get("probability_cheapest") or {}).get(name, 0.0)
        rows.append(
            [option_name(name), *[_whole(v * rate) for v in quantiles], f"{share * 100:.0f} %"]
        )
    return header, rows


def tornado_table(payload: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """Each tornado input's low and high values and the recommended option's NPV at each."""
    currency, rate = currency_of(payload), rate_of(payload)
    best = (payload.get("recommended") or {}).get("option")
    header = [
        "Input", "Low value", "High value", f"NPV at low, {currency}",
        f"NPV at high, {currency}", "Changes the cheapest option",
    ]  # fmt: skip
    rows: list[list[Cell]] = []
    for b in (payload.get("sensitivity") or {}).get("tornado") or []:
        if best is None or best not in b.get("low_usd", {}):
            continue
        field = b["field"]
        rows.append(
            [
                field_name(field),
                field_value(field, b["low_value"]),
                field_value(field, b["high_value"]),
                _whole(b["low_usd"][best] * rate),
                _whole(b["high_usd"][best] * rate),
                "yes" if b.get("changes_cheapest") else "no",
            ]
        )
    return header, rows


def assumptions_table(payload: dict[str, Any]) -> tuple[list[str], list[list[Cell]]]:
    """The finance assumptions: name, value, unit, and the default with its source."""
    from llmplan.scenario import Scenario

    finance = payload["scenario"].get("finance") or {}
    schema = Scenario.model_json_schema()
    fields: dict[str, Any] = next(
        (d["properties"] for name, d in schema.get("$defs", {}).items() if "Finance" in name), {}
    )
    header = ["Assumption", "Value", "Unit", "Default and its source"]
    rows: list[list[Cell]] = [
        [
            field_name(key),
            field_value(key, value),
            field_unit(key),
            str(fields.get(key, {}).get("description", "")).replace("`", ""),
        ]
        for key, value in finance.items()
    ]
    return header, rows
