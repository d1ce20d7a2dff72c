"""gpuhunt cloud catalogs (dstackai/gpuhunt, MPL-2.0): ``{provider}.csv`` to cloud prices.

Columns used: ``instance_name, location, price, gpu_count, gpu_name, gpu_memory, spot``
(``price`` is USD per hour for the whole instance; ``gpu_memory`` GB per GPU); other columns
are ignored. Rows without a GPU, or with a GPU not in llmplan's catalog, are skipped with a
counted reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from llmplan.catalog.loader import normalise_name
from llmplan.catalog.schema import GpuSpec
from llmplan.errors import InputError
from llmplan.prices.book import PriceBook
from llmplan.prices.checks import WarningLog, gpu_hour_warning
from llmplan.prices.imported import ImportedPrices, RowError
from llmplan.prices.loader import PriceEntries
from llmplan.prices.schema import CloudPrice, Pricing

GPUHUNT_COLUMNS = (
    "instance_name",
    "location",
    "price",
    "gpu_count",
    "gpu_name",
    "gpu_memory",
    "spot",
)
MEMORY_TOLERANCE = 0.10
"""Relative gap allowed between a catalog's GPU memory and llmplan's (GB vs GiB, rounding)."""
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


# --- GPU names ---------------------------------------------------------------------------
def _memory_close(actual_gb: float, expected_gb: float) -> bool:
    return abs(actual_gb - expected_gb) <= MEMORY_TOLERANCE * expected_gb


def match_gpu_name(name: str, memory_gb: float, instance: str, book: PriceBook) -> str | None:
    """The GPU catalog id for a cloud catalog's GPU ``name`` with ``memory_gb`` per GPU.

    Tries the ``gpuhunt_names`` mappings (instance-specific ones first), then the GPU
    catalog's ids and aliases, exactly (also with hyphens between letters and digits,
    ``RTX5090`` as ``RTX-5090``, and with ``-<memory>GB`` appended); the memory must agree
    within :data:`MEMORY_TOLERANCE`.
    """
    return _GpuMatcher(book)(name, memory_gb, instance)


@dataclass
class _GpuMatcher:
    """:func:`match_gpu_name` over one book, remembering answers (rows repeat per region)."""

    book: PriceBook
    _by_name: dict[str, GpuSpec] = field(default_factory=dict)
    _known: dict[tuple[str, float, str], str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for spec in self.book.gpus:
            for alias in (spec.id, *spec.aliases):
                self._by_name.setdefault(normalise_name(alias), spec)

    def __call__(self, name: str, memory_gb: float, instance: str) -> str | None:
        key = (name, memory_gb, instance)
        if key not in self._known:
            self._known[key] = self._mapped(name, memory_gb, instance.lower()) or self._catalog(
                name, memory_gb
            )
        return self._known[key]

    def _mapped(self, name: str, memory_gb: float, instance: str) -> str | None:
        key = name.strip().lower()
        candidates = [
            m
            for m in self.book.gpuhunt_names
            if m.name.lower() == key and _memory_close(memory_gb, m.memory_gb)
        ]
        for mapping in candidates:
            if mapping.instance_contains and mapping.instance_contains.lower() in instance:
                return mapping.gpu
        for mapping in candidates:
            if not mapping.instance_contains:
                return mapping.gpu
        return None

    def _catalog(self, name: str, memory_gb: float) -> str | None:
        hyphenated = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", "-", name.strip())
        spellings = dict.fromkeys((name.strip(), hyphenated))
        candidates = [f"{s}-{memory_gb:g}GB" for s in spellings] + list(spellings)
        for candidate in candidates:
            spec = self._by_name.get(normalise_name(candidate))
            if spec is not None and _memory_close(memory_gb, spec.memory_gib):
                return spec.id
        return None


# --- gpuhunt -----------------------------------------------------------------------------
def _cell(row: Mapping[str | None, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        raise RowError(column, "missing (row has too few fields)")
    return str(value).strip()


def _number(row: Mapping[str | None, Any], column: str) -> float:
    text = _cell(row, column)
    try:
        value = float(text)
    except ValueError:
        raise RowError(column, f"not a number ({text!r})") from None
    if not math.isfinite(value):
        raise RowError(column, f"not a finite number ({text!r})")
    return value


def _flag(row: Mapping[str | None, Any], column: str) -> bool:
    text = _cell(row, column).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(column, f"expected True or False, got {text!r}")


def _gpu_count(row: Mapping[str | None, Any]) -> int:
    if not _cell(row, "gpu_count"):
        return 0
    count = _number(row, "gpu_count")
    if count < 0 or count != int(count):
        raise RowError("gpu_count", f"expected a whole number >= 0, got {count:g}")
    return int(count)


def _gpuhunt_offer(
    row: Mapping[str | None, Any],
    *,
    provider: str,
    source: str,
    imported_on: dt.date,
    match: _GpuMatcher,
) -> CloudPrice | str:
    """The offer in one CSV row, or the reason to skip it."""
    gpu_name = _cell(row, "gpu_name")
    count = _gpu_count(row)
    if not gpu_name or count == 0:
        return "no GPU"
    price = _number(row, "price")
    memory_gb = _number(row, "gpu_memory")
    spot = _flag(row, "spot")
    instance = _cell(row, "instance_name")
    if not instance:
        raise RowError("instance_name", "empty")
    if price <= 0:
        return "zero or negative price"
    gpu = match(gpu_name, memory_gb, instance)
    if gpu is None:
        return f"GPU not in catalog: {gpu_name} {memory_gb:g} GB"
    try:
        return CloudPrice(
            provider=provider,
            instance=instance,
            region=_cell(row, "location") or "unspecified",
            gpu=gpu,
            gpus=count,
            usd_per_hour=price,
            pricing=Pricing.SPOT if spot else Pricing.ON_DEMAND,
            source=source,
            price_date=imported_on,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RowError(".".join(str(p) for p in first["loc"]), first["msg"]) from None


def _csv_reader(text: str, where: str) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InputError(f"{where}: line 1: malformed CSV ({exc})", field="gpuhunt") from None
    if not header:
        raise InputError(f"{where}: empty file; expected a gpuhunt catalog CSV", field="gpuhunt")
    missing = [c for c in GPUHUNT_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{where}: line 1: missing column(s) {', '.join(missing)}; "
            f"a gpuhunt catalog CSV has {', '.join(GPUHUNT_COLUMNS)}, ...",
            field="gpuhunt",
        )
    return reader


def parse_gpuhunt_csv(
    text: str,
    *,
    provider: str,
    where: str,
    book: PriceBook,
    imported_on: dt.date,
    source: str | None = None,
    strict: bool = True,
) -> ImportedPrices:
    """Cloud prices from the text of a gpuhunt ``{provider}.csv``.

    ``where`` names the file in messages; ``source`` is stored on every entry (default: a
    description naming ``where``). Duplicate offers (same instance, region and pricing) keep
    the lowest price.
    """
    source = source or f"gpuhunt catalog {where}, imported by llmplan"
    reader = _csv_reader(text, where)
    log = WarningLog()
    match = _GpuMatcher(book)
    offers: dict[tuple[str, str, str, Pricing], CloudPrice] = {}
    rows = 0
    try:
        for row in reader:
            rows += 1
            line = reader.line_num
            try:
                offer = _gpuhunt_offer(
                    row, provider=provider, source=source, imported_on=imported_on, match=match
                )
            except RowError as exc:
                message = f"{where}: line {line}: field '{exc.field}': {exc.message}"
                if strict:
                    raise InputError(message, field="gpuhunt") from None
                log.skip("malformed row")
                log.warn("malformed", message)
                continue
            if isinstance(offer, str):
                _skip_row(log, offer, f"{where}: line {line}")
                continue
            _keep_cheapest(offers, offer, log)
            warning = gpu_hour_warning(offer.usd_per_gpu_hour)
            if warning:
                log.warn("outlier", f"{where}: line {line}: {offer.instance}: {warning}")
    except csv.Error as exc:
        raise InputError(
            f"{where}: line {reader.line_num}: malformed CSV ({exc})", field="gpuhunt"
        ) from None
    entries = PriceEntries(cloud=tuple(offers.values()))
    return ImportedPrices(where, entries, rows, dict(log.skipped), log.summary())


def _skip_row(log: WarningLog, reason: str, at: str) -> None:
    log.skip(reason)
    if reason == "zero or negative price":
        log.warn("price", f"{at}: zero or negative price; row skipped")


def _keep_cheapest(
    offers: dict[tuple[str, str, str, Pricing], CloudPrice], offer: CloudPrice, log: WarningLog
) -> None:
    previous = offers.get(offer.key)
    if previous is not None:
        log.skip("duplicate offer")
        if previous.usd_per_hour <= offer.usd_per_hour:
            return
    offers[offer.key] = offer
