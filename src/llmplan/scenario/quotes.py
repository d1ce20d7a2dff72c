"""Your own price quotes: ``overrides.api_prices`` and ``overrides.cloud_prices``.

A quote joins the bundled price list for this scenario only: the planner picks the cheapest
price that satisfies the constraints, quotes and list prices alike, so a quote is used when
it is the best offer. Residency and compliance read a quote's ``region``/``country`` and
``attestations`` exactly as they read a list price's (an empty ``attestations`` fails every
``constraints.compliance`` rule). GPU and model names are catalog names, checked when the
scenario is planned.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from llmplan.prices.schema import Attestation, Pricing
from llmplan.scenario._base import ScenarioModel

MAX_QUOTES = 200
_Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=80)]
_Country = Annotated[str, Field(pattern=r"^[a-z]{2}$")]
_TokenUsd = Annotated[float, Field(gt=0, le=10_000)]


class _Quote(ScenarioModel):
    """Where the quoted service runs, what its provider attests, and the quote itself."""

    provider: _Slug = Field(description="Provider name, lower case (e.g. nebius, my-reseller).")
    region: str = Field(
        "unspecified",
        min_length=1,
        max_length=80,
        description="Region where the service processes data (provider's name); 'all' or "
        "'unspecified' never satisfy constraints.data_residency.",
    )
    country: _Country | None = Field(
        None, description="Where that region is: ISO 3166 alpha-2, or eu/us; null: read the region."
    )
    attestations: tuple[Attestation, ...] = Field(
        (),
        description="What the provider attests for this service: soc2, iso27001, hipaa_baa, "
        "bsi_c5, gdpr_dpa, eu_data_boundary, pci_dss, fedramp.",
    )
    source: str = Field(
        "your quote", min_length=1, max_length=500, description="Who quoted it and when."
    )
    quote_date: dt.date | None = Field(None, description="Date of the quote; null: today.")


class ApiPriceQuote(_Quote):
    """A per-token price for a model behind an API, USD per million tokens."""

    model: str = Field(min_length=1, max_length=200, description="The API's model name.")
    open_model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Catalog id of the open-weight model it serves; workloads with that model "
        "(or whose api_model names this quote) can use it.",
    )
    input_usd_per_mtok: _TokenUsd = Field(description="Input tokens, USD per million.")
    output_usd_per_mtok: _TokenUsd = Field(
        description="Output tokens (reasoning tokens included where billed), USD per million."
    )
    cached_input_usd_per_mtok: Annotated[float, Field(ge=0, le=10_000)] | None = Field(
        None, description="Cached input tokens, USD per million; null: no discount."
    )
    reasoning_output_usd_per_mtok: Annotated[float, Field(ge=0, le=10_000)] | None = Field(
        None, description="Reasoning tokens, USD per million, if billed apart; null: as output."
    )


class CloudPriceQuote(_Quote):
    """An hourly price for GPUs rented from a cloud."""

    gpu: str = Field(min_length=1, max_length=100, description="GPU (catalog name).")
    pricing: Pricing = Field(
        Pricing.ON_DEMAND,
        description="on_demand, reserved_1y, reserved_3y, reserved_5y or spot.",
    )
    usd_per_gpu_hour: Annotated[float, Field(gt=0, le=10_000)] = Field(
        description="Price of one GPU for one hour, USD."
    )
    instance: str = Field("quote", min_length=1, max_length=100, description="Instance name.")
