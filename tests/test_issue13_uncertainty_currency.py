"""Issue 13 items 6 and 7: Monte Carlo over throughput and prices, the recommendation's win
share and close call, loaded staff cost, and plans reported in another currency.

Each test failed before the change: the Monte Carlo drew finance only, nothing flagged a
recommendation that wins few draws, staff was base pay, and ``finance.currency`` accepted
USD only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app
from llmplan.cost import (
    CostLine,
    FinanceAssumptions,
    Fleet,
    MonteCarloResult,
    SiteKind,
    cost_self_hosted,
    finance_from_mapping,
    with_overrides,
)
from llmplan.domain.currency import Currency, exchange_table, money_for
from llmplan.errors import InputError
from llmplan.plan.decision import CLOSE_CALL_WIN_SHARE, confidence
from llmplan.plan.draws import THROUGHPUT_FIELD, price_spreads
from llmplan.plan.payload import plan_payload
from llmplan.plan.planner import make_plan, plan_context
from llmplan.plan.sensitivity import monte_carlo_with_volume
from llmplan.prices.loader import bundled_prices
from llmplan.scenario import load_example
from llmplan.scenario.io import scenario_from_data, scenario_to_data

TIGHT = 1e-9

# --- Monte Carlo draws throughput and prices ---------------------------------------------------


def test_throughput_draw_divides_the_volume_a_design_must_carry() -> None:
    """A recipe costing 100 USD per unit of volume, throughput multiple t = exp(mu + sigma z):
    the option needs volume k / t, so its NPV is 100 / t at k = 1 (volume spread off). An
    option without a throughput spread (the API) stays at 100 in every draw."""

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> Any:
        class Cost:
            npv_usd = 100.0 * volume

        return Cost()

    mu, sigma = -0.2, 0.5
    mc = monte_carlo_with_volume(
        {"owned": recipe, "api": recipe},
        FinanceAssumptions(),
        rng=np.random.default_rng(1),
        samples=200,
        volume_p10_p90=(1.0, 1.0),
        throughput={"owned": (mu, sigma)},
    )
    z = mc.inputs[THROUGHPUT_FIELD]
    owned = mc.samples_usd[:, mc.options.index("owned")]
    api = mc.samples_usd[:, mc.options.index("api")]
    np.testing.assert_allclose(owned, 100.0 / np.exp(mu + sigma * z), rtol=TIGHT)
    np.testing.assert_allclose(api, 100.0, rtol=TIGHT)


def test_price_multiples_are_drawn_around_the_scenario_value() -> None:
    """Each price multiple's sample P10/P90 is near the bundled spread times the base."""

    def recipe(finance: FinanceAssumptions, volume: float = 1.0) -> Any:
        class Cost:
            npv_usd = finance.api_price_multiple

        return Cost()

    base = with_overrides(FinanceAssumptions(), api_price_multiple=2.0)
    mc = monte_carlo_with_volume({"api": recipe}, base, rng=np.random.default_rng(2), samples=4000)
    spread = price_spreads()["api_price_multiple"]
    drawn = mc.inputs["api_price_multiple"]
    assert np.percentile(drawn, 10) == pytest.approx(2.0 * spread.p10, rel=0.08)
    assert np.percentile(drawn, 90) == pytest.approx(2.0 * spread.p90, rel=0.08)
    np.testing.assert_allclose(mc.samples_usd[:, 0], drawn, rtol=TIGHT)
    for name in ("hardware_price_multiple", "cloud_price_multiple", "api_price_multiple"):
        assert name in mc.inputs


@pytest.fixture(scope="module")
def chat_plan() -> Any:
    scenario = load_example("chat-assistant")
    return make_plan(scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=60)


def test_plan_monte_carlo_varies_throughput_and_prices(chat_plan: Any) -> None:
    inputs = chat_plan.monte_carlo.inputs
    assert {THROUGHPUT_FIELD, "cloud_price_multiple", "api_price_multiple"} <= set(inputs)


# --- win share and close call -------------------------------------------------------------------


def _mc(a: list[float], b: list[float], driver: list[float]) -> MonteCarloResult:
    samples = np.column_stack([a, b]).astype(float)
    return MonteCarloResult(("a", "b"), samples, {"driver": np.asarray(driver, dtype=float)})


def test_a_recommendation_winning_half_the_draws_is_a_close_call() -> None:
    """a wins draws 0-4 (cheaper), b wins 5-9; the driver rises with b - a, so a higher
    driver favours a."""
    a = [1.0] * 5 + [3.0] * 5
    b = [2.0] * 5 + [2.0] * 5
    driver = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    found = confidence(_mc(a, b, driver), "a", ("a", "b"))
    assert found.win_share == pytest.approx(0.5)
    assert found.close_call and found.runner_up == "b"
    assert found.runner_up_share == pytest.approx(0.5)
    assert found.deciders[0].input == "driver" and found.deciders[0].favours == "a"
    assert "close call" in found.summary("a")


def test_a_clear_winner_is_not_a_close_call() -> None:
    a = [1.0] * 7 + [3.0] * 3
    b = [2.0] * 10
    found = confidence(_mc(a, b, list(range(10))), "a", ("a", "b"))
    assert found.win_share == pytest.approx(0.7)
    assert found.win_share > CLOSE_CALL_WIN_SHARE
    assert not found.close_call and found.deciders == ()


def test_spot_is_left_out_of_the_win_share_when_not_eligible() -> None:
    """b (say spot) wins every draw but cannot be recommended: a wins all eligible draws."""
    found = confidence(_mc([2.0] * 4, [1.0] * 4, [0, 1, 2, 3]), "a", ("a",))
    assert found.win_share == 1.0 and not found.close_call


def test_recommended_has_win_share_and_close_call(chat_plan: Any) -> None:
    ctx = plan_context(chat_plan.scenario, bundled_catalog(), bundled_prices())
    best = plan_payload(chat_plan, ctx)["recommended"]
    assert 0.0 <= best["win_share"] <= 1.0
    assert best["close_call"] is (best["win_share"] < CLOSE_CALL_WIN_SHARE)
    shares = chat_plan.monte_carlo.probability_cheapest
    assert best["win_share"] >= shares[best["option"]] - TIGHT  # fewer rivals, never less


# --- loaded staff cost ------------------------------------------------------------------------


def test_staff_is_charged_at_loaded_cost() -> None:
    """0.5 FTE (the minimum) x 120,000 USD base x 1.45 on-cost / 12 = 7,250 USD a month,
    87,000 over 12 months."""
    finance = FinanceAssumptions(horizon_months=12, staff_usd_per_fte_year=120_000.0)
    assert finance.staff_on_cost_factor == 1.45
    fleet = Fleet(servers=1, gpus_per_server=8, server_price_usd=300_000.0, server_power_kw=10.0)
    cost = cost_self_hosted(fleet, finance, SiteKind.ON_PREMISE)
    assert cost.line_total_usd(CostLine.STAFF) == pytest.approx(87_000.0, rel=TIGHT)


# --- currencies ----------------------------------------------------------------------------------


def test_exchange_rate_comes_from_the_dated_table() -> None:
    """ECB: 1 EUR = 1.1741 USD, so 1 USD = 1 / 1.1741 = 0.851716 EUR; 173.76 JPY per EUR
    gives 147.994 JPY per USD."""
    table = exchange_table()
    assert table.rate_date.year == 2026 and "ECB" in table.source
    assert money_for(Currency.EUR).units_per_usd == pytest.approx(1 / 1.1741, rel=TIGHT)
    assert money_for(Currency.JPY).units_per_usd == pytest.approx(173.76 / 1.1741, rel=TIGHT)
    assert money_for(Currency.GBP, 0.8).units_per_usd == 0.8  # the scenario's own rate


def test_a_currency_without_a_rate_names_the_field() -> None:
    with pytest.raises(InputError) as info:
        finance_from_mapping({"currency": "SEK"})
    assert info.value.field == "currency_units_per_usd"
    assert FinanceAssumptions(currency=Currency.SEK, currency_units_per_usd=10.5).money.convert(
        2.0
    ) == pytest.approx(21.0)


def _eur_plan_payload(units_per_usd: float | None) -> dict[str, Any]:
    data = scenario_to_data(load_example("small-team-consumer-gpus"))
    data["finance"] = {**data.get("finance", {}), "currency": "EUR"}
    if units_per_usd is not None:
        data["finance"]["currency_units_per_usd"] = units_per_usd
    scenario = scenario_from_data(data)
    plan = make_plan(scenario, bundled_catalog(), bundled_prices(), monte_carlo_samples=0)
    return plan_payload(plan, plan_context(scenario, bundled_catalog(), bundled_prices()))


@pytest.mark.parametrize("rate", [None, 0.9])
def test_plan_json_is_reported_in_the_currency(rate: float | None) -> None:
    payload = _eur_plan_payload(rate)
    expected = rate if rate is not None else 1 / 1.1741
    assert payload["currency"] == "EUR"
    assert payload["exchange_rate"]["units_per_usd"] == pytest.approx(expected, rel=TIGHT)
    for option in payload["options"]:
        if option["included"]:
            money = option["in_currency"]
            assert money["npv"] == pytest.approx(option["npv_usd"] * expected, rel=TIGHT)
            assert money["tco"] == pytest.approx(option["tco_usd"] * expected, rel=TIGHT)
    best = payload["recommended"]
    assert best["in_currency"]["npv"] == pytest.approx(best["npv_usd"] * expected, rel=TIGHT)
    assert "EUR" in best["reasons"][0]


def test_cli_currency_option_and_bad_values(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["plan", "--example", "small-team-consumer-gpus", "--samples", "0"]
    result = runner.invoke(app, [*args, "--json", "--currency", "GBP"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["currency"] == "GBP"
    assert payload["exchange_rate"]["units_per_usd"] == pytest.approx(0.8734 / 1.1741, rel=1e-5)
    bad = runner.invoke(app, [*args, "--currency", "XYZ"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    data = scenario_to_data(load_example("small-team-consumer-gpus"))
    data["finance"] = {**data.get("finance", {}), "currency": "SEK"}
    path = tmp_path / "sek.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    no_rate = runner.invoke(app, ["plan", str(path), "--samples", "0"])
    assert no_rate.exit_code == 2, no_rate.output
    lines = no_rate.stderr.strip().splitlines()
    assert len(lines) == 1 and "currency_units_per_usd" in lines[0]


def test_api_currency_is_422_when_bad(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from llmplan.api import Settings, create_app

    client = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    try:
        bad = client.post("/api/v1/plans", json={"example": "chat-assistant", "currency": "XYZ"})
        assert bad.status_code == 422 and bad.json()["field"].endswith("currency")
        data = scenario_to_data(load_example("chat-assistant"))
        data["finance"] = {**data.get("finance", {}), "currency": "SEK"}
        no_rate = client.post("/api/v1/plans", json={"scenario": data})
        assert no_rate.status_code == 422, no_rate.text
        assert "currency_units_per_usd" in no_rate.json()["message"]
    finally:
        client.app.state.llmplan.store.close()  # type: ignore[attr-defined]
