"""The executive summary (issue 15, missing 1) and readable names (missing 2), from a small
plan payload written by hand, so every number below is worked out in the comments."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from llmplan.report.labels import field_name, field_value, labels, money, option_name, option_order
from llmplan.report.plan import render_plan_report, volume_points
from llmplan.report.summary import executive_summary


def _option(name: str, npv: float, tco: float, **extra: Any) -> dict[str, Any]:
    return {
        "option": name,
        "included": True,
        "excluded_reason": None,
        "npv_usd": npv,
        "tco_usd": tco,
        "capex_usd": 0.0,
        "opex_usd": tco,
        "usd_per_mtok": 2.5,
        "lines_usd": {"staff": tco},
        "cumulative_usd": [tco * m / 12 for m in range(13)],
        "choices": [
            {
                "workload": "chat",
                "gpu": "H100-SXM-80GB",
                "precision": "fp8",
                "engine": "vllm",
                "tp": 2,
                "pp": 1,
                "replicas": 3,
                "gpus": 6,
                "percentile": 95.0,
                "ttft_ms": 800.0,
                "tpot_ms": 40.0,
                "busy_fraction": 0.5,
                "note": "H100 at 30,000 USD/GPU (a price list, 2026-01-01)",
            }
        ],
        **extra,
    }


def _bar(
    field: str,
    low: float,
    high: float,
    lows: dict[str, float],
    highs: dict[str, float],
    changes: bool = False,
) -> dict[str, Any]:
    return {
        "field": field,
        "low_value": low,
        "high_value": high,
        "low_usd": lows,
        "high_usd": highs,
        "cheapest_low": min(lows, key=lows.__getitem__),
        "cheapest_high": min(highs, key=highs.__getitem__),
        "changes_cheapest": changes,
    }


def payload() -> dict[str, Any]:
    """On-premise (NPV 100,000, TCO 120,000 over 12 months) beats colocation (150,000)."""
    base = {"on_premise": 100_000.0, "colocation": 150_000.0}
    return {
        "scenario": {
            "name": "Hand-made",
            "workloads": [{"name": "chat", "api_model": None}],
            "finance": {"horizon_months": 12, "discount_rate_per_year": 0.08, "currency": "USD"},
        },
        "recommended": {
            "option": "on_premise",
            "npv_usd": 100_000.0,
            "reasons": ["cheapest"],
            "risks": ["a risk"],
            "readiness": {
                "staff_fte": 1.0,
                "staff_usd_per_year": 1.0,
                "assumption": "x",
                "checklist": [],
            },
        },
        "options": [
            _option("colocation", 150_000.0, 170_000.0),
            _option("on_premise", 100_000.0, 120_000.0, power_kw=4.25),
            {"option": "api", "included": False, "excluded_reason": "api excluded: air gap"},
        ],
        "breakeven": [
            {
                "option": "on_premise",
                "versus": "colocation",
                "month": 7,
                "volume_multiple": 0.5,
                "tokens_per_month_at_crossing": 1e6,
            },
        ],
        "pareto": [],
        "rejected_designs": [],
        "fine_tuning": [],
        "search": {"candidates_evaluated": 1, "search_seconds": 0.1},
        "calibration": None,
        "sensitivity": {
            "base_npv_usd": base,
            "tornado": [
                # moves on-premise by 40,000 but its lead over colocation not at all
                _bar(
                    "staff_usd_per_fte_year",
                    100_000,
                    200_000,
                    {"on_premise": 80_000.0, "colocation": 130_000.0},
                    {"on_premise": 120_000.0, "colocation": 170_000.0},
                ),
                # narrows the lead from 50,000 to 10,000: second
                _bar(
                    "electricity_usd_per_kwh",
                    0.1,
                    0.3,
                    {"on_premise": 95_000.0, "colocation": 145_000.0},
                    {"on_premise": 140_000.0, "colocation": 150_000.0},
                ),
                # makes colocation cheapest at its high end: first
                _bar(
                    "inference_volume_multiple",
                    0.5,
                    2.0,
                    {"on_premise": 60_000.0, "colocation": 100_000.0},
                    {"on_premise": 210_000.0, "colocation": 200_000.0},
                    changes=True,
                ),
                # moves nothing: last
                _bar("pue", 1.1, 1.5, base, base),
            ],
            "monte_carlo": {
                "seed": 1,
                "samples": 400,
                "inputs": ["pue"],
                "npv_usd_p10_p50_p90": {"on_premise": [1, 2, 3], "colocation": [2, 3, 4]},
                "probability_cheapest": {"on_premise": 0.75, "colocation": 0.25},
            },
        },
    }


def test_summary_states_cost_runner_up_breakeven_power_and_win_share() -> None:
    s = executive_summary(payload())
    facts = dict(s["facts"])
    assert s["headline"] == "Recommendation: On-premise"
    assert s["design"] == "3 replicas x 2 H100-SXM-80GB (fp8, vllm) for chat"
    # 120,000 USD over 12 months = 10,000 USD a month
    assert facts["Cost"].startswith("100,000 USD net present value over 12 months (120,000 USD")
    assert "about 10,000 USD a month" in facts["Cost"]
    # 150,000 - 100,000 = 50,000 more, +50 %
    assert facts["Runner-up"] == "Colocation, 50,000 USD more (+50 %)"
    assert facts["Break-even"] == (
        "On-premise is no dearer than Colocation from month 7; "
        "they cost the same at 0.50 x the volume"
    )
    assert facts["Power"] == "4.2 kW" or facts["Power"] == "4.3 kW"
    assert facts["Confidence"] == "cheapest in 75 % of 400 Monte Carlo draws"
    assert s["risks"] == ["a risk"]


def test_deciding_assumptions_flip_first_then_the_lead_they_move() -> None:
    deciding = executive_summary(payload())["deciding"]
    assert len(deciding) == 3
    assert deciding[0].startswith("Request volume, multiple of the forecast: from 0.5 x to 2 x")
    assert deciding[0].endswith("at one end Colocation becomes cheapest")
    # the electricity bar narrows the lead from 50,000 to 10,000 USD
    assert deciding[1].startswith("Electricity price, USD/kWh: from 0.1 to 0.3")
    assert "lead over Colocation from 50,000 USD to 10,000 USD" in deciding[1]
    assert deciding[2].startswith("Staff cost per FTE, USD/year: from 100,000 to 200,000")


def test_summary_of_a_plan_no_option_can_serve() -> None:
    p = payload()
    p["recommended"] = None
    for o in p["options"]:
        o["included"] = False
        o["excluded_reason"] = f"{o['option']} excluded: air gap"
    s = executive_summary(p)
    assert s["headline"] == "No option can serve this scenario"
    assert s["facts"] == [] and len(s["risks"]) == 3


def test_summary_leaves_out_what_the_plan_does_not_carry() -> None:
    p = payload()
    del p["options"][1]["power_kw"]
    p["sensitivity"]["monte_carlo"] = None
    p["breakeven"] = []
    labels_of = [label for label, _ in executive_summary(p)["facts"]]
    assert labels_of == ["Cost", "Runner-up"]


def test_volume_points_are_the_tornado_ends_around_the_forecast() -> None:
    points = volume_points(payload())
    assert points["on_premise"] == [(0.5, 60_000.0), (1.0, 100_000.0), (2.0, 210_000.0)]


def test_report_leads_with_the_summary_and_fits_a_phone() -> None:
    html = render_plan_report(payload())
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.index('id="summary"') < html.index('id="options"')
    assert "Recommendation: On-premise" in html
    assert "on_premise" not in html.split('id="options"')[1].split("</table>")[0]
    assert "Staff cost per FTE, USD/year" in html  # the assumptions table in words


def test_names_in_words_with_units() -> None:
    assert option_name("on_premise") == "On-premise"
    assert field_name("staff_usd_per_fte_year") == "Staff cost per FTE, USD/year"
    assert field_name("some_new_usd_per_month") == "Some new, USD/month"  # not in the file
    assert field_value("discount_rate_per_year", 0.08) == "8 %"
    assert field_value("staff_usd_per_fte_year", 150000.0) == "150,000"
    assert money(1234567.4) == "1,234,567 USD"


def test_every_cost_line_and_option_has_its_own_colour() -> None:
    data = labels()
    for kind in ("line_colours", "option_colours"):
        colours = list(data[kind].values())
        assert len(colours) == len(set(colours)), kind
    assert set(data["lines"]) == set(data["line_colours"])
    assert set(data["options"]) == set(data["option_colours"]) == set(data["option_order"])
    from llmplan.cost.result import CostLine

    assert {line.value for line in CostLine} <= set(data["lines"])


@given(st.permutations(list(labels()["option_order"])))
def test_option_order_is_the_same_whatever_order_they_come_in(names: list[str]) -> None:
    assert option_order(names) == labels()["option_order"]


def test_labels_file_is_valid_json_served_to_the_page() -> None:
    json.dumps(labels())
