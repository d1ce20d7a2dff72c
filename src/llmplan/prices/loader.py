"""Reading and validating price files.

Nothing is read at import time. :func:`bundled_prices` reads ``llmplan/data/prices/*.yaml``
once and caches the result; :func:`load_prices` adds the user's own files
(``<home>/prices/*.yaml``, written by the importers). A price file holds any of the top-level
lists ``hardware``, ``cloud``, ``api``, ``gpuhunt_names`` and ``providers`` (imported files
are written in JSON, a subset of YAML that loads much faster). Entries must name GPUs by their
exact catalog id (and open-weight models by their exact model id); a bad entry raises
:class:`~llmplan.errors.CatalogError` naming the file, the entry, its line and the field.

User entries replace bundled ones that describe the same thing (same hardware id; same
provider, instance, region and pricing; same API id); among user files, read in name order,
a later file wins.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llmplan.catalog.loader import Catalog, bundled_catalog, load_catalog, normalise_name
from llmplan.errors import CatalogError
from llmplan.prices.book import PriceBook
from llmplan.prices.schema import (
    ApiPrice,
    CloudPrice,
    GpuNameMapping,
    HardwarePrice,
    ProviderProfile,
)

RecordT = TypeVar("RecordT", bound=BaseModel)
PRICES_DIR = "prices"
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class PriceEntries:
    """Price records as read from files, before they are checked against the catalogs."""

    hardware: tuple[HardwarePrice, ...] = ()
    cloud: tuple[CloudPrice, ...] = ()
    api: tuple[ApiPrice, ...] = ()
    gpuhunt_names: tuple[GpuNameMapping, ...] = ()
    providers: tuple[ProviderProfile, ...] = ()

    def __len__(self) -> int:
        return sum(len(getattr(self, f.name)) for f in fields(self))


_MODELS: dict[str, type[BaseModel]] = {
    "hardware": HardwarePrice,
    "cloud": CloudPrice,
    "api": ApiPrice,
    "gpuhunt_names": GpuNameMapping,
    "providers": ProviderProfile,
}


def _hardware_key(h: HardwarePrice) -> Hashable:
    return normalise_name(h.id)


def _cloud_key(c: CloudPrice) -> Hashable:
    return c.key


def _api_key(a: ApiPrice) -> Hashable:
    return normalise_name(a.id)


def _mapping_key(m: GpuNameMapping) -> Hashable:
    return (m.name.lower(), m.memory_gb, (m.instance_contains or "").lower())


def _provider_key(p: ProviderProfile) -> Hashable:
    return p.provider


_KEYS: dict[str, Callable[[Any], Hashable]] = {
    "hardware": _hardware_key,
    "cloud": _cloud_key,
    "api": _api_key,
    "gpuhunt_names": _mapping_key,
    "providers": _provider_key,
}


def _read_text(path: Path | Any) -> str:
    try:
        text: str = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not a UTF-8 text file") from None
    return text


def _json_document(text: str) -> Any:
    """The document if ``text`` is JSON (after ``#`` comment lines), else None.

    Imported price files are written as JSON, which is also YAML: the json module reads
    them some 50 times faster than a YAML parser, which matters for large cloud catalogs.
    """
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")).lstrip()
    if not body.startswith("{"):
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return None  # let the YAML parser read it, or report where it is malformed


def _parse_yaml(text: str, where: str) -> Any:
    document = _json_document(text)
    if document is not None:
        return document
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise CatalogError(
            f"{where}:{line} malformed YAML ({getattr(exc, 'problem', None) or exc})"
        ) from None


def _entry_line(text: str, key: str, index: int) -> int | None:
    """1-based line of entry ``index`` under top-level ``key`` (for error messages)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key_node, value_node in root.value:
        if (
            key_node.value == key
            and isinstance(value_node, yaml.SequenceNode)
            and index < len(value_node.value)
        ):
            return int(value_node.value[index].start_mark.line) + 1
    return None


def _entry_label(entry: Any, index: int) -> str:
    if isinstance(entry, dict):
        for name in ("id", "instance", "name"):
            if entry.get(name):
                return str(entry[name])
    return f"#{index + 1}"


def _validate(
    model_cls: type[RecordT], entries: Any, key: str, where: str, text: str
) -> tuple[RecordT, ...]:
    if not isinstance(entries, list):
        raise CatalogError(f"{where}: top-level key '{key}' must hold a list")
    out: list[RecordT] = []
    for index, entry in enumerate(entries):
        try:
            out.append(model_cls.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "entry"
            line = _entry_line(text, key, index)
            at = f" line {line}" if line is not None else ""
            raise CatalogError(
                f"{where}:{at} {key} entry '{_entry_label(entry, index)}' field '{loc}': "
                f"{first['msg']}"
            ) from None
    return tuple(out)


def parse_price_text(text: str, where: str) -> PriceEntries:
    """Validated records from the YAML ``text`` of one price file (``where`` names it)."""
    document = _parse_yaml(text, where)
    if document is None:
        return PriceEntries()
    if not isinstance(document, dict):
        raise CatalogError(f"{where}: expected a mapping with lists {', '.join(_MODELS)}")
    unknown = sorted(str(k) for k in document if k not in _MODELS)
    if unknown:
        raise CatalogError(
            f"{where}: unknown top-level key(s) {', '.join(unknown)}; allowed: {', '.join(_MODELS)}"
        )
    parsed: dict[str, Any] = {
        key: _validate(_MODELS[key], document[key], key, where, text)
        for key in _MODELS
        if key in document
    }
    entries = PriceEntries(**parsed)
    _check_unique(entries, where)
    return entries


def read_price_file(path: Path | Any) -> PriceEntries:
    """Validated records of one price file (a Path or an importlib resource)."""
    return parse_price_text(_read_text(path), str(path))


def _check_unique(entries: PriceEntries, where: str) -> None:
    for key, key_of in _KEYS.items():
        seen: set[Hashable] = set()
        for record in getattr(entries, key):
            record_key = key_of(record)
            if record_key in seen:
                raise CatalogError(f"{where}: {key} entry {record_key!r} appears twice")
            seen.add(record_key)


def merge_entries(base: PriceEntries, override: PriceEntries) -> PriceEntries:
    """``base`` with every record of ``override`` added; same-key records are replaced."""
    merged: dict[str, tuple[Any, ...]] = {}
    for key, key_of in _KEYS.items():
        records: dict[Hashable, Any] = {key_of(r): r for r in getattr(base, key)}
        for record in getattr(override, key):
            records[key_of(record)] = record
        merged[key] = tuple(records.values())
    return PriceEntries(**merged)


def check_references(entries: PriceEntries, catalog: Catalog, where: str) -> None:
    """Every GPU named is a GPU catalog id; every open model a model catalog id."""
    gpu_ids = set(catalog.gpus.ids())
    gpu_refs: Iterable[tuple[str, str]] = [
        *((f"hardware '{h.id}'", h.gpu) for h in entries.hardware),
        *((f"cloud '{c.provider} {c.instance}'", c.gpu) for c in entries.cloud),
        *((f"gpuhunt_names '{m.name}'", m.gpu) for m in entries.gpuhunt_names),
    ]
    for label, gpu in gpu_refs:
        if gpu not in gpu_ids:
            raise CatalogError(f"{where}: {label}: '{gpu}' is not a GPU catalog id")
    model_ids = set(catalog.models.ids())
    for api in entries.api:
        if api.open_model is not None and api.open_model not in model_ids:
            raise CatalogError(
                f"{where}: api '{api.id}': open_model '{api.open_model}' is not a model catalog id"
            )


def price_book(entries: PriceEntries, catalog: Catalog) -> PriceBook:
    """A queryable book over ``entries``, resolving GPU names with ``catalog``."""
    return PriceBook(
        hardware=entries.hardware,
        cloud=entries.cloud,
        api=entries.api,
        gpuhunt_names=entries.gpuhunt_names,
        gpus=catalog.gpus,
        providers=entries.providers,
    )


def _yaml_files(folder: Any) -> list[Any]:
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))),
        key=lambda f: f.name,
    )


def _concat(a: PriceEntries, b: PriceEntries) -> PriceEntries:
    return PriceEntries(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(a)})


@functools.cache
def bundled_entries() -> PriceEntries:
    """The price records shipped with llmplan, validated (read once, then cached)."""
    folder = resources.files("llmplan").joinpath("data").joinpath(PRICES_DIR)
    everything = PriceEntries()
    for path in _yaml_files(folder):
        everything = _concat(everything, read_price_file(path))
    _check_unique(everything, "bundled prices")
    check_references(everything, bundled_catalog(), "bundled prices")
    return everything


@functools.cache
def bundled_prices() -> PriceBook:
    """The prices shipped with llmplan (read once, then cached)."""
    return price_book(bundled_entries(), bundled_catalog())


def user_price_files(user_home: Path) -> list[Path]:
    """The user's price files, ``<home>/prices/*.yaml``, in the order they are applied."""
    folder = user_home / PRICES_DIR
    if not folder.is_dir():
        return []
    return [Path(p) for p in _yaml_files(folder)]


def load_prices(user_home: Path | None = None) -> PriceBook:
    """The bundled prices, updated with the user's files under ``<user_home>/prices``."""
    if user_home is None:
        return bundled_prices()
    files = user_price_files(user_home)
    if not files:
        return bundled_prices()
    catalog = load_catalog(user_home)
    entries = bundled_entries()
    for path in files:
        extra = read_price_file(path)
        check_references(extra, catalog, str(path))
        entries = merge_entries(entries, extra)
    return price_book(entries, catalog)
