"""Choosing which prices to list: the one rule shared by ``llmplan prices list`` and the
API's ``/catalog/prices``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from llmplan.catalog.loader import normalise_name
from llmplan.errors import InputError
from llmplan.prices.book import PriceBook
from llmplan.prices.schema import ApiPrice, CloudPrice, HardwarePrice, Pricing

PriceEntry = HardwarePrice | CloudPrice | ApiPrice


class PriceKind(StrEnum):
    """The three price lists."""

    HARDWARE = "hardware"
    CLOUD = "cloud"
    API = "api"


def matches(search: str | None, *names: str | None) -> bool:
    """Whether any of ``names`` contains ``search`` (case, spaces and underscores aside)."""
    if not search:
        return True
    key = normalise_name(search)
    return any(key in normalise_name(n) for n in names if n)


def price_kinds(
    kind: PriceKind | None, gpu: str | None, pricing: Pricing | None, *, prefix: str = ""
) -> list[PriceKind]:
    """The lists to give: a GPU leaves out API prices, a pricing keeps only cloud ones.
    ``prefix`` is put before option names in messages (``--`` on the command line)."""
    if kind is PriceKind.API and gpu:
        raise InputError(
            f"API prices are not per GPU; drop {prefix}gpu or {prefix}kind api", field="gpu"
        )
    if kind not in (None, PriceKind.CLOUD) and pricing:
        raise InputError(f"{prefix}pricing applies to cloud prices only", field="pricing")
    if kind is not None:
        return [kind]
    if pricing:
        return [PriceKind.CLOUD]
    if gpu:
        return [PriceKind.HARDWARE, PriceKind.CLOUD]
    return list(PriceKind)


def select_prices(
    book: PriceBook,
    kind: PriceKind,
    gpu: str | None,
    pricing: Pricing | None,
    search: str | None,
) -> list[PriceEntry]:
    """The prices of one list matching the filters, in the book's order."""
    if kind is PriceKind.HARDWARE:
        return [
            h for h in book.hardware_prices(gpu) if matches(search, h.id, h.name, h.gpu, h.vendor)
        ]
    if kind is PriceKind.CLOUD:
        return [
            c
            for c in book.cloud_prices(gpu, pricing)
            if matches(search, c.provider, c.instance, c.region, c.gpu)
        ]
    api = sorted(book.api, key=lambda p: (p.provider, p.id))
    return [p for p in api if matches(search, p.id, p.model, p.provider, p.open_model)]


def price_record(entry: PriceEntry, book: PriceBook | None = None) -> dict[str, Any]:
    """An entry as JSON-ready data, with its per-GPU figure; with ``book``, a cloud or API
    price's ``attestations`` are the effective ones (its own, else its provider's)."""
    payload: dict[str, Any] = entry.model_dump(mode="json")
    if isinstance(entry, HardwarePrice):
        payload["usd_per_gpu"] = entry.usd_per_gpu
    elif isinstance(entry, CloudPrice):
        payload["usd_per_gpu_hour"] = entry.usd_per_gpu_hour
    if book is not None and isinstance(entry, CloudPrice | ApiPrice):
        attestations, source = book.attestations(entry)
        payload["attestations"] = [a.value for a in attestations]
        payload["attestations_source"] = source or None
    return payload
