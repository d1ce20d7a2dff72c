"""The executive summary of a plan in plain language: one screen on the web page and the
first page of the report, both made from this (so they never disagree).

What it says: the recommendation and its design; its cost (net present value over the
horizon, the undiscounted total and the average per month); the runner-up and by how much;
break-even; the three assumptions that decide it (the tornado bars that change the cheapest
option first, then the widest swing of the recommended option's NPV); the risks; power in
kW and the Monte Carlo win share when the plan reports them. Keys the plan does not carry
are left out, never guessed.
"""

from __future__ import annotations

from typing import Any

from llmplan.report.labels import field_name, field_value, money, option_name, power_text

#: How many deciding assumptions the summary names.
DECIDING = 3


def _included(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((o for o in payload["options"] if o["included"]), key=lambda o: o["npv_usd"])


def currency_of(payload: dict[str, Any]) -> str:
    finance = payload.get("scenario", {}).get("finance", {}) or {}
    return str(payload.get("currency") or finance.get("currency") or "USD")


def rate_of(payload: dict[str, Any]) -> float:
    """Units of the payload's currency per USD (1 for USD): the payload's amounts are USD."""
    rate = (payload.get("exchange_rate") or {}).get("units_per_usd")
    return float(rate) if isinstance(rate, int | float) and rate > 0 else 1.0


def design_of(option: dict[str, Any]) -> str:
    """ "2 x RTX-4090-24GB (fp8, vllm) for code-chat"; the API model for an API option."""
    parts = []
    for c in option.get("choices") or []:
        if c.get("gpu"):
            parts.append(
                f"{c['replicas']} replica{'s' if c['replicas'] != 1 else ''} x "
                f"{c['tp'] * c.get('pp', 1)} {c['gpu']} ({c['precision']}, {c['engine']}) "
                f"for {c['workload']}"
            )
        else:
            parts.append(f"{c['workload']}: {c.get('note', '')}")
    return "; ".join(parts)


def _cost(best: dict[str, Any], horizon: int, currency: str, rate: float) -> str:
    text = (
        f"{money(best['npv_usd'] * rate, currency)} net present value over {horizon} months "
        f"({money(best['tco_usd'] * rate, currency)} undiscounted, about "
        f"{money(best['tco_usd'] * rate / max(horizon, 1), currency)} a month)"
    )
    if best.get("usd_per_mtok") is not None:
        text += f"; {best['usd_per_mtok'] * rate:,.2f} {currency} per million tokens"
    return text


def _runner_up(options: list[dict[str, Any]], currency: str, rate: float) -> str | None:
    if len(options) < 2:
        return None
    best, second = options[0], options[1]
    gap = second["npv_usd"] - best["npv_usd"]
    share = f" (+{100 * gap / abs(best['npv_usd']):,.0f} %)" if best["npv_usd"] else ""
    return f"{option_name(second['option'])}, {money(gap * rate, currency)} more{share}"


def _breakeven(payload: dict[str, Any], best: str, horizon: int) -> str | None:
    sentences = []
    for b in payload.get("breakeven") or []:
        if best not in (b["option"], b["versus"]):
            continue
        mine, other = option_name(b["option"]), option_name(b["versus"])
        if b.get("month") is not None:
            when = f"{mine} is no dearer than {other} from month {b['month']}"
        else:
            when = f"{mine} does not catch up with {other} within {horizon} months"
        if b.get("volume_multiple") is not None:
            when += f"; they cost the same at {b['volume_multiple']:.2f} x the volume"
        sentences.append(when)
    return "; ".join(sentences) or None


def _gap(values: dict[str, float], best: str, rival: str | None) -> float:
    return values.get(rival, values[best]) - values[best] if rival else 0.0


def deciding_assumptions(
    payload: dict[str, Any], best: str, rival: str | None, currency: str, rate: float = 1.0
) -> list[str]:
    """The tornado bars that decide the recommendation, in words with low/high values:
    those that change the cheapest option first, then those that move the lead over the
    runner-up (``rival``) most, then those that move the recommended option's NPV most."""
    bars = (payload.get("sensitivity") or {}).get("tornado") or []
    usable = [b for b in bars if best in b.get("low_usd", {}) and best in b.get("high_usd", {})]
    usable.sort(
        key=lambda b: (
            not b.get("changes_cheapest"),
            -abs(_gap(b["high_usd"], best, rival) - _gap(b["low_usd"], best, rival)),
            -abs(b["high_usd"][best] - b["low_usd"][best]),
        )
    )
    out = []
    for b in usable[:DECIDING]:
        field = b["field"]
        text = (
            f"{field_name(field)}: from {field_value(field, b['low_value'])} to "
            f"{field_value(field, b['high_value'])} moves the NPV of {option_name(best)} from "
            f"{money(b['low_usd'][best] * rate, currency)} to "
            f"{money(b['high_usd'][best] * rate, currency)}"
        )
        if rival and rival in b["low_usd"] and rival in b["high_usd"]:
            text += (
                f" and its lead over {option_name(rival)} from "
                f"{money(_gap(b['low_usd'], best, rival) * rate, currency)} to "
                f"{money(_gap(b['high_usd'], best, rival) * rate, currency)}"
            )
        flips = [v for v in (b.get("cheapest_low"), b.get("cheapest_high")) if v and v != best]
        if b.get("changes_cheapest") and flips:
            text += f"; at one end {option_name(flips[0])} becomes cheapest"
        out.append(text)
    return out


def _power(payload: dict[str, Any], best: dict[str, Any]) -> str | None:
    for source in (best, payload.get("recommended") or {}):
        value = source.get("power_kw")
        if isinstance(value, int | float):
            return power_text(value)
    return None


def _win_share(payload: dict[str, Any], best: str) -> str | None:
    recommended = payload.get("recommended") or {}
    mc = (payload.get("sensitivity") or {}).get("monte_carlo") or {}
    share = recommended.get("win_share")
    if share is None:
        share = (mc.get("probability_cheapest") or {}).get(best)
    if share is None or not mc.get("samples"):
        return None
    return f"cheapest in {100 * share:,.0f} % of {mc['samples']:,} Monte Carlo draws"


def executive_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """``headline``, ``design``, ``facts`` ([label, sentence]), ``deciding`` and ``risks``."""
    currency, rate = currency_of(payload), rate_of(payload)
    horizon = int((payload.get("scenario", {}).get("finance") or {}).get("horizon_months") or 0)
    options = _included(payload)
    recommended = payload.get("recommended")
    if not recommended or not options:
        reasons = [
            f"{option_name(o['option'])}: {o.get('excluded_reason') or 'excluded'}"
            for o in payload["options"]
            if not o["included"]
        ]
        return {
            "headline": "No option can serve this scenario",
            "design": "Every option is excluded; the reasons are below.",
            "facts": [],
            "deciding": [],
            "risks": reasons,
            "currency": currency,
        }
    best = next((o for o in options if o["option"] == recommended["option"]), options[0])
    rival = next((o["option"] for o in options if o is not best), None)
    facts: list[tuple[str, str | None]] = [
        ("Cost", _cost(best, horizon, currency, rate)),
        ("Runner-up", _runner_up(options, currency, rate)),
        ("Break-even", _breakeven(payload, best["option"], horizon)),
        ("Power", _power(payload, best)),
        ("Confidence", _win_share(payload, best["option"])),
    ]
    return {
        "headline": f"Recommendation: {option_name(best['option'])}",
        "design": design_of(best),
        "facts": [[label, text] for label, text in facts if text],
        "deciding": deciding_assumptions(payload, best["option"], rival, currency, rate),
        "risks": list(recommended.get("risks") or []),
        "currency": currency,
    }
