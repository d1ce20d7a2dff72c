"""Reporting amounts in another currency: a dated exchange-rate table and the conversion.

llmplan computes every amount in US dollars (prices, assumptions and results carry ``_usd``
in their names); :class:`Money` converts results for display in ``finance.currency`` at the
bundled ECB reference rate (``llmplan/data/exchange-rates.yaml``, with its source and date) or
at ``finance.currency_units_per_usd`` when the scenario sets one. Nothing is read at import
time; :func:`exchange_table` reads the file once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

from llmplan.errors import ConfigurationError


class Currency(StrEnum):
    """Currencies a plan can be reported in (ISO 4217)."""

    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    CHF = "CHF"
    JPY = "JPY"
    SEK = "SEK"
    NOK = "NOK"
    DKK = "DKK"
    PLN = "PLN"
    CAD = "CAD"
    AUD = "AUD"
    INR = "INR"
    KRW = "KRW"
    SGD = "SGD"
    BRL = "BRL"
    CNY = "CNY"


PositiveRate = Annotated[float, Field(gt=0, le=1e6)]


class ExchangeTable(BaseModel):
    """Units of each currency per 1 EUR on ``rate_date`` (the ECB's form), with the source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=8)
    rate_date: dt.date
    date_precision: str = "day"
    per_eur: dict[Currency, PositiveRate]

    def units_per_usd(self, currency: Currency) -> float | None:
        """Units of ``currency`` one US dollar buys, or None when the table lacks it."""
        if currency is Currency.USD:
            return 1.0
        if currency not in self.per_eur or Currency.USD not in self.per_eur:
            return None
        return self.per_eur[currency] / self.per_eur[Currency.USD]


@functools.cache
def exchange_table() -> ExchangeTable:
    """The bundled exchange-rate table (read once)."""
    path = resources.files("llmplan").joinpath("data").joinpath("exchange-rates.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return ExchangeTable.model_validate(data)


@dataclass(frozen=True)
class Money:
    """How USD amounts are shown: ``currency`` at ``units_per_usd``, with where the rate
    comes from."""

    currency: Currency
    units_per_usd: float
    source: str
    rate_date: str | None

    def convert(self, usd: float) -> float:
        """``usd`` US dollars in :attr:`currency`."""
        return usd * self.units_per_usd

    def as_dict(self) -> Mapping[str, object]:
        return {
            "code": self.currency.value,
            "units_per_usd": self.units_per_usd,
            "source": self.source,
            "rate_date": self.rate_date,
        }


def money_for(currency: Currency, units_per_usd: float | None = None) -> Money:
    """The conversion for ``currency``: the override when given, else the bundled table.

    Raises ConfigurationError naming ``finance.currency_units_per_usd`` when the table has
    no rate for ``currency`` and none is given.
    """
    if currency is Currency.USD and units_per_usd is None:
        return Money(currency, 1.0, "amounts are computed in USD", None)
    if units_per_usd is not None:
        return Money(currency, units_per_usd, "finance.currency_units_per_usd (scenario)", None)
    table = exchange_table()
    rate = table.units_per_usd(currency)
    if rate is None:
        known = ", ".join(c.value for c in table.per_eur)
        raise ConfigurationError(
            f"no bundled exchange rate for {currency.value} (the table has {known}); set "
            "finance.currency_units_per_usd",
            field="finance.currency_units_per_usd",
        )
    return Money(currency, rate, table.source, table.rate_date.isoformat())
