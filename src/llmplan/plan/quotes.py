"""Scenario-level overrides applied when planning: the scenario's own price quotes added to
the price list, and the currency a plan is reported in."""

from __future__ import annotations

import dataclasses
import datetime as dt

from llmplan.catalog.loader import Catalog
from llmplan.domain.currency import Currency
from llmplan.domain.finance import with_overrides
from llmplan.errors import InputError, LlmplanError
from llmplan.prices.book import PriceBook
from llmplan.prices.schema import ApiPrice, CloudPrice
from llmplan.scenario import Overrides, Scenario
from llmplan.scenario.quotes import ApiPriceQuote, CloudPriceQuote

QUOTE_SOURCE_PREFIX = "scenario quote: "


def _source(text: str) -> str:
    return f"{QUOTE_SOURCE_PREFIX}{text}"


def api_price_of(quote: ApiPriceQuote, catalog: Catalog, index: int) -> ApiPrice:
    """``quote`` as an API price record (its open model resolved to a catalog id)."""
    open_model = None
    if quote.open_model is not None:
        try:
            open_model = catalog.models.get(quote.open_model, field_name="open_model").id
        except LlmplanError as exc:
            raise InputError(str(exc), field=f"overrides.api_prices[{index}].open_model") from None
    return ApiPrice(
        id=f"{quote.provider}/{quote.model}",
        provider=quote.provider,
        model=quote.model,
        open_model=open_model,
        region=quote.region,
        country=quote.country,
        attestations=quote.attestations,
        attestations_source=_source(quote.source),
        input_usd_per_mtok=quote.input_usd_per_mtok,
        output_usd_per_mtok=quote.output_usd_per_mtok,
        cached_input_usd_per_mtok=quote.cached_input_usd_per_mtok,
        reasoning_output_usd_per_mtok=quote.reasoning_output_usd_per_mtok,
        source=_source(quote.source),
        price_date=quote.quote_date or dt.date.today(),
    )


def cloud_price_of(quote: CloudPriceQuote, catalog: Catalog, index: int) -> CloudPrice:
    """``quote`` as a cloud price record for one GPU (its GPU resolved to a catalog id)."""
    try:
        gpu = catalog.gpus.get(quote.gpu, field_name="gpu").id
    except LlmplanError as exc:
        raise InputError(str(exc), field=f"overrides.cloud_prices[{index}].gpu") from None
    return CloudPrice(
        provider=quote.provider,
        instance=quote.instance,
        region=quote.region,
        country=quote.country,
        attestations=quote.attestations,
        attestations_source=_source(quote.source),
        gpu=gpu,
        gpus=1,
        usd_per_hour=quote.usd_per_gpu_hour,
        pricing=quote.pricing,
        source=_source(quote.source),
        price_date=quote.quote_date or dt.date.today(),
    )


def with_quotes(book: PriceBook, overrides: Overrides, catalog: Catalog) -> PriceBook:
    """``book`` with the scenario's quotes added (unchanged when there are none)."""
    if not overrides.api_prices and not overrides.cloud_prices:
        return book
    api = tuple(api_price_of(q, catalog, i) for i, q in enumerate(overrides.api_prices))
    cloud = tuple(cloud_price_of(q, catalog, i) for i, q in enumerate(overrides.cloud_prices))
    return dataclasses.replace(book, api=book.api + api, cloud=book.cloud + cloud)


def with_currency(scenario: Scenario, currency: Currency | None) -> Scenario:
    """``scenario`` reported in ``currency`` (the ``--currency`` / ``currency`` request
    option; None: unchanged). The scenario's own ``currency_units_per_usd`` is dropped
    when the currency changes, since it was a rate for another currency."""
    finance = scenario.finance
    if currency is None or currency is finance.currency:
        return scenario
    changed = with_overrides(finance, currency=currency, currency_units_per_usd=None)
    return scenario.model_copy(update={"finance": changed})
