"""LiteLLM's ``model_prices_and_context_window.json`` (BerriAI/litellm, MIT) to API prices.

One JSON object keyed by model id with ``input_cost_per_token``, ``output_cost_per_token``
(USD per token), ``cache_read_input_token_cost``, ``litellm_provider``, ``mode``...; only
text-generation modes (:data:`CHAT_MODES`) are kept and ``sample_spec`` (the schema's own
documentation) is skipped. Prices are stored per million tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from llmplan.catalog.loader import normalise_name
from llmplan.errors import InputError
from llmplan.prices.checks import WarningLog, looks_per_million, token_price_warning
from llmplan.prices.imported import ImportedPrices, RowError
from llmplan.prices.loader import PriceEntries
from llmplan.prices.schema import ApiPrice

CHAT_MODES = frozenset({"chat", "responses"})
"""LiteLLM modes kept: chat completions and OpenAI's Responses-API-only text models."""
_LONG_CONTEXT = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")


def _cost(entry: Mapping[str, Any], name: str) -> float | None:
    """A USD-per-token value, or None when absent."""
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RowError(name, f"not a number ({value!r})")
    return float(value)


def _per_mtok(value: float | None) -> float | None:
    """Dollars per token as dollars per million, without float noise (1.04e-06 -> 1.04)."""
    return None if value is None else round(value * 1e6, 9)


def _provider_of(key: str, entry: Mapping[str, Any]) -> str:
    raw = entry.get("litellm_provider")
    if not isinstance(raw, str) or not raw.strip():
        raw = key.split("/", 1)[0] if "/" in key else "unknown"
    slug = re.sub(r"[^a-z0-9_.\-]+", "-", raw.strip().lower()).strip("-")
    return slug or "unknown"


def _long_context(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The lowest long-context tier that has both an input and an output price."""
    tiers = sorted(int(m.group(1)) for k in entry if (m := _LONG_CONTEXT.match(k)))
    for thousands in tiers:
        rate_in = _cost(entry, f"input_cost_per_token_above_{thousands}k_tokens")
        rate_out = _cost(entry, f"output_cost_per_token_above_{thousands}k_tokens")
        if rate_in is not None and rate_out is not None and rate_in > 0 and rate_out > 0:
            return {
                "long_context_threshold_tokens": thousands * 1000,
                "long_context_input_usd_per_mtok": _per_mtok(rate_in),
                "long_context_output_usd_per_mtok": _per_mtok(rate_out),
            }
    return {}


def _optional_fields(key: str, entry: Mapping[str, Any], log: WarningLog) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "cached_input_usd_per_mtok": _per_mtok(_cost(entry, "cache_read_input_token_cost")),
        "batch_input_usd_per_mtok": _per_mtok(_cost(entry, "input_cost_per_token_batches")),
        "batch_output_usd_per_mtok": _per_mtok(_cost(entry, "output_cost_per_token_batches")),
        "reasoning_output_usd_per_mtok": _per_mtok(_cost(entry, "output_cost_per_reasoning_token")),
        **_long_context(entry),
    }
    max_input = entry.get("max_input_tokens")
    if isinstance(max_input, int) and not isinstance(max_input, bool) and max_input > 0:
        fields["max_input_tokens"] = max_input
    deprecation = entry.get("deprecation_date")
    if isinstance(deprecation, str):
        try:
            fields["deprecation_date"] = dt.date.fromisoformat(deprecation)
        except ValueError:
            log.warn("date", f"entry '{key}': deprecation_date {deprecation!r} is not a date")
    return {k: v for k, v in fields.items() if v is not None}


def _litellm_price(
    key: str, entry: Any, *, source: str, imported_on: dt.date, log: WarningLog
) -> ApiPrice | str:
    """The API price in one LiteLLM entry, or the reason to skip it."""
    if key == "sample_spec":
        return "sample_spec"
    if not isinstance(entry, dict):
        raise RowError("entry", f"expected an object, got {type(entry).__name__}")
    mode = entry.get("mode")
    if mode is None:
        return "no mode"
    if mode not in CHAT_MODES:
        return f"mode {mode}"
    rates = {f: _cost(entry, f) for f in ("input_cost_per_token", "output_cost_per_token")}
    if any(v is None for v in rates.values()):
        return "no per-token price"
    if any(v is not None and v <= 0 for v in rates.values()):
        return "zero or negative price"
    for name, value in rates.items():
        if value is not None and looks_per_million(value):
            log.warn(
                "units",
                f"entry '{key}' field '{name}': {value:g} is a price per million tokens, "
                "not per token; entry skipped",
            )
            return "price per million given as per token"
    return _api_record(key, entry, rates, source=source, imported_on=imported_on, log=log)


def _api_record(
    key: str,
    entry: Mapping[str, Any],
    rates: Mapping[str, float | None],
    *,
    source: str,
    imported_on: dt.date,
    log: WarningLog,
) -> ApiPrice:
    provider = _provider_of(key, entry)
    optional = _optional_fields(key, entry, log)
    input_mtok = _per_mtok(rates["input_cost_per_token"]) or 0.0
    cached = optional.get("cached_input_usd_per_mtok")
    if cached is not None and cached > input_mtok:
        log.warn("cache", f"entry '{key}': cache-read price above the input price; dropped")
        del optional["cached_input_usd_per_mtok"]
    try:
        return ApiPrice(
            id=key,
            provider=provider,
            model=key[len(provider) + 1 :] if key.startswith(f"{provider}/") else key,
            input_usd_per_mtok=input_mtok,
            output_usd_per_mtok=_per_mtok(rates["output_cost_per_token"]) or 0.0,
            source=source,
            price_date=imported_on,
            **optional,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RowError(".".join(str(p) for p in first["loc"]), first["msg"]) from None


def _json_line(text: str, key: str) -> int | None:
    position = text.find(json.dumps(key) + ":")
    if position < 0:
        position = text.find(json.dumps(key))
    return text.count("\n", 0, position) + 1 if position >= 0 else None


def _load_json_object(text: str, where: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: line {exc.lineno} column {exc.colno}: malformed JSON ({exc.msg})",
            field="litellm",
        ) from None
    if not isinstance(document, dict):
        raise InputError(
            f"{where}: expected a JSON object keyed by model id (LiteLLM "
            "model_prices_and_context_window.json)",
            field="litellm",
        )
    return document


def parse_litellm_json(
    text: str,
    *,
    where: str,
    imported_on: dt.date,
    source: str | None = None,
    strict: bool = True,
) -> ImportedPrices:
    """API prices (USD per million tokens) from LiteLLM's model price JSON ``text``."""
    source = source or f"LiteLLM {where}, imported by llmplan"
    document = _load_json_object(text, where)
    log = WarningLog()
    prices: dict[str, ApiPrice] = {}
    for key, entry in document.items():
        try:
            price = _litellm_price(key, entry, source=source, imported_on=imported_on, log=log)
        except RowError as exc:
            line = _json_line(text, key)
            at = f" line {line}:" if line is not None else ""
            message = f"{where}:{at} entry '{key}' field '{exc.field}': {exc.message}"
            if strict:
                raise InputError(message, field="litellm") from None
            log.skip("malformed entry")
            log.warn("malformed", message)
            continue
        if isinstance(price, str):
            log.skip(price)
            continue
        _warn_token_prices(price, log)
        normalised = normalise_name(key)
        if normalised in prices:
            log.skip("duplicate entry")
            continue
        prices[normalised] = price
    entries = PriceEntries(api=tuple(prices.values()))
    return ImportedPrices(where, entries, len(document), dict(log.skipped), log.summary())


def _warn_token_prices(price: ApiPrice, log: WarningLog) -> None:
    for label, value in (
        ("input", price.input_usd_per_mtok),
        ("output", price.output_usd_per_mtok),
    ):
        warning = token_price_warning(value)
        if warning:
            log.warn("outlier", f"entry '{price.id}': {label} {warning}")
