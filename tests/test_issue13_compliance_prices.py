"""Issue 13 items 4 and 5: compliance enforced on every cloud and API price (hybrid bursts
included), a broader price catalogue, and the scenario's own quotes.

Each test failed before the change: ``constraints.compliance`` was never read, a price in
region ``all`` passed any residency rule, the hybrid burst took an API that residency had
excluded, the catalogue had one hosted price per open model, and quotes were unknown keys.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app
from llmplan.errors import InputError
from llmplan.plan.compliance import location_of
from llmplan.plan.options import PriceContext, api_price_for, cloud_price, cloud_quote
from llmplan.plan.planner import make_plan, plan_context
from llmplan.prices.book import PriceBook
from llmplan.prices.loader import bundled_prices
from llmplan.prices.schema import ApiPrice, Attestation, CloudPrice, Pricing, ProviderProfile
from llmplan.scenario import Constraints, DeploymentOption, Region, load_example
from llmplan.scenario.io import scenario_from_data, scenario_to_data

DAY = dt.date(2026, 12, 1)
GPU = "H100-SXM-80GB"


def _cloud(provider: str, region: str, usd: float, **extra: Any) -> CloudPrice:
    return CloudPrice(
        provider=provider,
        instance=f"{provider}-h100",
        region=region,
        gpu=GPU,
        gpus=1,
        usd_per_hour=usd,
        pricing=Pricing.ON_DEMAND,
        source="test fixture price",
        price_date=DAY,
        **extra,
    )


def _book(cloud: tuple[CloudPrice, ...], api: tuple[ApiPrice, ...] = ()) -> PriceBook:
    providers = (
        ProviderProfile(
            provider="hyper",
            attestations=(Attestation.SOC2, Attestation.GDPR_DPA),
            source="test fixture profile",
            checked_date=DAY,
        ),
    )
    gpus = bundled_catalog().gpus
    return PriceBook((), cloud, api, (), gpus, providers)


def _ctx(book: PriceBook, **constraints: Any) -> PriceContext:
    return PriceContext(book, {}, Constraints(**constraints))


H100 = bundled_catalog().gpus.get(GPU)


def test_compliance_excludes_a_price_without_the_attestation() -> None:
    """The cheap provider attests nothing; SOC 2 leaves only the dearer one."""
    book = _book((_cloud("neo", "us-east", 2.0), _cloud("hyper", "us-east", 5.0)))
    assert cloud_price(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(book)) == (
        pytest.approx(2.0),
        f"neo neo-h100 us-east ({DAY})",
    )
    chosen = cloud_price(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(book, compliance=["soc2"]))
    assert not isinstance(chosen, str) and chosen[0] == pytest.approx(5.0)
    none = cloud_price(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(book, compliance=["hipaa"]))
    assert isinstance(none, str)
    assert "constraints.compliance" in none and "hipaa needs hipaa_baa" in none


def test_a_price_for_all_regions_never_satisfies_residency() -> None:
    book = _book((_cloud("hyper", "all", 1.0), _cloud("hyper", "europe-west4", 3.0)))
    chosen = cloud_quote(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(book, data_residency="eu"))
    assert not isinstance(chosen, str)
    assert (chosen.usd_per_gpu_hour, chosen.origin.region) == (3.0, "europe-west4")
    only_all = _book((_cloud("hyper", "all", 1.0),))
    why = cloud_quote(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(only_all, data_residency="eu"))
    assert isinstance(why, str)
    assert "region 'all'" in why and "constraints.data_residency eu" in why


@pytest.mark.parametrize(
    ("region", "country", "where"),
    [
        ("us-east-1", None, Region.US),
        ("fr-par", None, Region.FR),
        ("europe-west4", None, Region.EU),
        ("eu-north1", None, Region.EU),
        ("gra", "fr", Region.FR),
        ("all", "fr", None),  # "all" says nothing, whatever else is given
        ("unspecified", None, None),
        ("ap-south-1", None, None),
    ],
)
def test_where_a_region_processes_data(region: str, country: str | None, where: Region) -> None:
    assert location_of(region, country) is where


def test_a_union_does_not_satisfy_a_country_rule() -> None:
    """de residency: a price in 'eu' (somewhere in the union) is refused, one in de is not."""
    book = _book((_cloud("hyper", "eu", 1.0, country="eu"), _cloud("hyper", "de-fra", 2.0)))
    chosen = cloud_quote(H100, DeploymentOption.CLOUD_ON_DEMAND, _ctx(book, data_residency="de"))
    assert not isinstance(chosen, str) and chosen.usd_per_gpu_hour == 2.0


def test_api_prices_are_filtered_by_region_and_attestations() -> None:
    def api(provider: str, region: str, usd: float) -> ApiPrice:
        return ApiPrice(
            id=f"{provider}/llama",
            provider=provider,
            model="llama",
            open_model="meta-llama/Llama-3.3-70B-Instruct",
            region=region,
            input_usd_per_mtok=usd,
            output_usd_per_mtok=usd,
            source="test fixture price",
            price_date=DAY,
        )

    book = _book((), (api("neo", "us", 0.1), api("hyper", "fr-par", 0.9)))
    workload = load_example("chat-assistant").inference_workloads()[0]
    model = "meta-llama/Llama-3.3-70B-Instruct"
    assert api_price_for(workload, model, _ctx(book)).provider == "neo"  # type: ignore[union-attr]
    eu = api_price_for(workload, model, _ctx(book, data_residency="eu", compliance=["gdpr"]))
    assert not isinstance(eu, str) and eu.provider == "hyper"
    refused = api_price_for(workload, model, _ctx(book, compliance=["hipaa"]))
    assert isinstance(refused, str) and "hipaa needs hipaa_baa" in refused


def _chat_in_the_eu() -> Any:
    data = scenario_to_data(load_example("chat-assistant"))
    data["constraints"] = {
        "data_residency": "eu",
        "compliance": ["gdpr"],
        "allowed_options": ["on_premise", "cloud_on_demand", "api", "hybrid"],
    }
    return scenario_from_data(data)


@pytest.fixture(scope="module")
def eu_plan() -> Any:
    return make_plan(
        _chat_in_the_eu(), bundled_catalog(), bundled_prices(), monte_carlo_samples=0, confirm=False
    )


def test_every_rented_or_api_choice_satisfies_residency_and_gdpr(eu_plan: Any) -> None:
    """Hybrid bursts included: each choice's price is in the EU with a GDPR DPA."""
    seen = set()
    for option in eu_plan.options:
        if not option.included or option.option.is_owned:
            continue
        for choice in option.choices:
            origin = choice.origin
            assert origin is not None, (option.option, choice.note)
            where = location_of(origin.region, None)
            assert where is not None and Region.EU.contains(where), (option.option, origin)
            assert "gdpr_dpa" in origin.attestations
            seen.add(option.option)
    assert DeploymentOption.API in seen and DeploymentOption.HYBRID in seen


def test_an_excluded_option_names_the_rule(eu_plan: Any) -> None:
    cloud = next(o for o in eu_plan.options if o.option is DeploymentOption.CLOUD_ON_DEMAND)
    assert not cloud.included
    assert "constraints.data_residency eu" in cloud.excluded


def test_plan_json_choices_name_provider_region_attestations() -> None:
    result = CliRunner().invoke(app, ["plan", "--json", "--samples", "0"])
    assert result.exit_code == 0, result.output
    for option in json.loads(result.stdout)["options"]:
        for choice in option.get("choices", []):
            if "gpu" in choice or option["option"] == "api":
                assert {"provider", "region", "attestations"} <= set(choice), choice


def test_several_hosted_providers_for_popular_open_models() -> None:
    """Llama 3.3 70B, Llama 3.1 8B, gpt-oss-120b and Qwen3 32B have two API providers or more,
    and the market price of Llama 3.3 70B output is well under the single 1.04 USD/M."""
    book = bundled_prices()
    for model in (
        "meta-llama/Llama-3.3-70B-Instruct",
        "meta-llama/Llama-3.1-8B",
        "openai/gpt-oss-120b",
        "Qwen/Qwen3-32B",
    ):
        providers = {p.provider for p in book.api if p.open_model == model}
        assert len(providers) >= 2, (model, providers)
    llama = [p for p in book.api if p.open_model == "meta-llama/Llama-3.3-70B-Instruct"]
    assert min(p.output_usd_per_mtok for p in llama) <= 0.6
    eu = [p for p in book.api if (w := location_of(p.region, p.country)) and Region.EU.contains(w)]
    assert eu, "an API served in the EU"


def test_neocloud_spot_and_consumer_gpu_prices_are_listed() -> None:
    book = bundled_prices()
    for gpu in ("H100-SXM-80GB", "H200-SXM-141GB", "B200-180GB", "MI300X-192GB", "RTX-4090-24GB"):
        assert book.cloud_prices(gpu, Pricing.ON_DEMAND), gpu
    assert book.cloud_prices("MI300X-192GB", Pricing.SPOT)
    assert book.cloud_prices("RTX-4090-24GB", Pricing.SPOT)


# --- your own quotes -----------------------------------------------------------------------


def _with_quotes(**overrides: Any) -> Any:
    data = scenario_to_data(_chat_in_the_eu())
    data["overrides"] = {**data.get("overrides", {}), **overrides}
    return scenario_from_data(data)


QUOTE = {
    "provider": "my-reseller",
    "gpu": "H100",
    "usd_per_gpu_hour": 1.5,
    "region": "de-fra",
    "attestations": ["gdpr_dpa", "iso27001"],
    "source": "quote 2026-11-30",
}


def test_a_cloud_quote_in_the_eu_is_used() -> None:
    """No list price qualifies for EU + GDPR; the quote does, at its own price."""
    scenario = _with_quotes(cloud_prices=[QUOTE])
    ctx = plan_context(scenario, bundled_catalog(), bundled_prices())
    quote = cloud_quote(H100, DeploymentOption.CLOUD_ON_DEMAND, ctx)
    assert not isinstance(quote, str)
    assert (quote.usd_per_gpu_hour, quote.origin.provider) == (1.5, "my-reseller")
    assert quote.origin.attestations == ("gdpr_dpa", "iso27001")


def test_an_api_quote_joins_the_list_and_wins_when_cheapest() -> None:
    api = {
        "provider": "my-eu-host",
        "model": "llama-3.3-70b",
        "open_model": "meta-llama/Llama-3.3-70B-Instruct",
        "region": "nl-ams",
        "attestations": ["gdpr_dpa"],
        "input_usd_per_mtok": 0.2,
        "output_usd_per_mtok": 0.3,
    }
    scenario = _with_quotes(api_prices=[api])
    ctx = plan_context(scenario, bundled_catalog(), bundled_prices())
    workload = scenario.inference_workloads()[0]
    price = api_price_for(workload, "meta-llama/Llama-3.3-70B-Instruct", ctx)
    assert not isinstance(price, str) and price.provider == "my-eu-host"


def test_a_quote_without_attestations_fails_compliance() -> None:
    bare = {k: v for k, v in QUOTE.items() if k != "attestations"}
    scenario = _with_quotes(cloud_prices=[bare])
    ctx = plan_context(scenario, bundled_catalog(), bundled_prices())
    why = cloud_quote(H100, DeploymentOption.CLOUD_ON_DEMAND, ctx)
    assert isinstance(why, str) and "my-reseller lacks" in why and "gdpr needs gdpr_dpa" in why


def test_a_quote_for_an_unknown_gpu_names_the_field() -> None:
    scenario = _with_quotes(cloud_prices=[{**QUOTE, "gpu": "H1000"}])
    with pytest.raises(InputError) as info:
        plan_context(scenario, bundled_catalog(), bundled_prices())
    assert info.value.field == "overrides.cloud_prices[0].gpu"


def _write(tmp_path: Path, scenario: Any) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario_to_data(scenario)), encoding="utf-8")
    return path


def test_bad_quotes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    data = scenario_to_data(_chat_in_the_eu())
    for quote, field in (
        ({**QUOTE, "usd_per_gpu_hour": -1}, "usd_per_gpu_hour"),
        ({**QUOTE, "attestations": ["soc3"]}, "attestations"),
        ({**QUOTE, "gpu": "H1000"}, "overrides.cloud_prices[0].gpu"),
    ):
        data["overrides"] = {"cloud_prices": [quote]}
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        result = CliRunner().invoke(app, ["plan", str(path), "--samples", "0"])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and field in lines[0], result.stderr


# --- reasoning tokens -----------------------------------------------------------------------


def test_reasoning_tokens_are_billed_at_the_reasoning_price() -> None:
    """1,000 requests/day x 30 days x 1,000 output tokens = 30 M output tokens a month, half
    of them reasoning: 15 M x 2 + 15 M x 6 = 120 USD a month of output, against 60 USD when
    the same API bills reasoning as output."""
    data = scenario_to_data(load_example("chat-assistant"))
    workload = data["workloads"][0]
    for key in ("tokens_per_day", "tokens_per_month", "growth_per_year"):
        workload.pop(key, None)
    workload.update(
        requests_per_day=1000,
        days_per_month=30,
        input_tokens=1,
        output_tokens=1000,
        cached_input_fraction=0,
        reasoning_share_of_output=0.5,
        api_model="thinker",
    )
    scenario = scenario_from_data(data)
    base = dict(
        id="thinker",
        provider="hyper",
        model="thinker",
        input_usd_per_mtok=1e-6,
        output_usd_per_mtok=2.0,
        source="test fixture price",
        price_date=DAY,
    )
    from llmplan.cost import CostLine, FinanceAssumptions
    from llmplan.plan.options import cost_api_option

    finance = FinanceAssumptions(horizon_months=1)
    for reasoning, monthly in ((6.0, 120.0), (None, 60.0)):
        book = _book((), (ApiPrice(**base, reasoning_output_usd_per_mtok=reasoning),))
        made = cost_api_option(scenario.inference_workloads()[0], "x", _ctx(book))
        assert not isinstance(made, str)
        cost = made[0](finance, 1.0)
        assert cost.line_total_usd(CostLine.API_TOKENS) == pytest.approx(monthly, rel=1e-4)


def test_litellm_reasoning_price_is_imported() -> None:
    from llmplan.prices.importers import parse_litellm_json

    text = json.dumps(
        {
            "o-thinker": {
                "litellm_provider": "openai",
                "mode": "chat",
                "input_cost_per_token": 1e-6,
                "output_cost_per_token": 4e-6,
                "output_cost_per_reasoning_token": 8e-6,
            }
        }
    )
    imported = parse_litellm_json(text, where="t.json", imported_on=DAY)
    (price,) = imported.entries.api
    assert price.reasoning_output_usd_per_mtok == pytest.approx(8.0)
    assert price.output_rate(0.25) == pytest.approx(0.75 * 4.0 + 0.25 * 8.0)


def test_prices_list_shows_each_price_effective_attestations() -> None:
    result = CliRunner().invoke(app, ["prices", "list", "--kind", "cloud", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["cloud"]
    aws = next(r for r in rows if r["provider"] == "aws")
    assert "hipaa_baa" in aws["attestations"] and "aws.amazon.com" in aws["attestations_source"]
    assert all(r["attestations"] == [] for r in rows if r["provider"] == "lambda")


def test_api_refuses_a_bad_quote_at_once(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from llmplan.api import Settings, create_app

    client = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    try:
        data = scenario_to_data(_chat_in_the_eu())
        for quote, field in (
            ({**QUOTE, "gpu": "H1000"}, "overrides.cloud_prices[0].gpu"),
            ({**QUOTE, "usd_per_gpu_hour": 0}, "usd_per_gpu_hour"),
        ):
            data["overrides"] = {"cloud_prices": [quote]}
            response = client.post("/api/v1/plans", json={"scenario": data})
            assert response.status_code == 422, response.text
            assert field in response.json()["field"]
    finally:
        client.app.state.llmplan.store.close()  # type: ignore[attr-defined]
