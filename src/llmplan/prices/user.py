"""Importing price catalogs into the user's folder, ``<home>/prices/``.

Each import writes one file (``gpuhunt-<provider>.yaml``, ``litellm.yaml``), replacing the
previous import of the same catalog. Files are written as JSON, one entry per line (JSON is YAML,
and reads back much faster than block YAML). Writes are atomic (a temporary file renamed
over the old one) and happen only after the whole input parsed and the file to write validated, so a
failed import leaves existing files untouched. Every entry records the file it came from and
the import date. Downloads happen only with ``online=True``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmplan.errors import InputError
from llmplan.files import write_text_atomic
from llmplan.prices.book import PriceBook
from llmplan.prices.fetch import (
    LITELLM_PRICES_URL,
    Fetcher,
    check_provider,
    csv_from_zip,
    decode_text,
    fetch_gpuhunt_csv,
    fetch_litellm_json,
    http_get,
)
from llmplan.prices.importers import ImportedPrices, parse_gpuhunt_csv, parse_litellm_json
from llmplan.prices.loader import PRICES_DIR, PriceEntries, load_prices, parse_price_text

LITELLM_FILE = "litellm.yaml"
_PROVIDER_LIKE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*\.yaml$")


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote: the file, how many entries, and what was skipped and why."""

    path: Path
    source: str
    imported: int
    rows_read: int
    skipped: Mapping[str, int]
    warnings: tuple[str, ...]


def _payload(entries: PriceEntries) -> dict[str, list[dict[str, Any]]]:
    payload: dict[str, list[dict[str, Any]]] = {}
    for key in ("hardware", "cloud", "api", "gpuhunt_names"):
        records = getattr(entries, key)
        if records:
            payload[key] = [r.model_dump(mode="json", exclude_defaults=True) for r in records]
    return payload


def _json_yaml(payload: Mapping[str, list[dict[str, Any]]]) -> str:
    """``payload`` as JSON with one entry per line: valid YAML, and quick to read back."""
    parts = []
    for key, records in payload.items():
        lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        parts.append(f"{json.dumps(key)}: [\n{lines}\n]")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def save_user_prices(
    entries: PriceEntries, home: Path, file_name: str, *, comment: str = ""
) -> Path:
    """Write ``entries`` to ``<home>/prices/<file_name>`` atomically; returns the path.

    The text is validated by reading it back before anything is written.
    """
    if not _FILE_NAME.match(file_name):
        raise InputError(
            f"'{file_name}' is not a valid price file name (lower case, ending in .yaml)",
            field="file",
        )
    path = home / PRICES_DIR / file_name
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    text = header + _json_yaml(_payload(entries))
    parse_price_text(text, str(path))
    write_text_atomic(path, text)
    return path


def _save(
    imported: ImportedPrices, home: Path, file_name: str, origin: str, imported_on: dt.date
) -> ImportResult:
    if not imported.imported:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(imported.skipped.items())) or "none"
        raise InputError(
            f"{origin}: nothing to import ({imported.rows_read} rows read; skipped {reasons})",
            field="file",
        )
    comment = (
        f"Imported by llmplan on {imported_on.isoformat()} from {origin}.\n"
        "Re-import to refresh; delete this file to drop these prices."
    )
    path = save_user_prices(imported.entries, home, file_name, comment=comment)
    return ImportResult(
        path=path,
        source=origin,
        imported=imported.imported,
        rows_read=imported.rows_read,
        skipped=imported.skipped,
        warnings=imported.warnings,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", field="file") from None


def _gpuhunt_local(path: Path, provider: str | None) -> tuple[str, str, str, str]:
    """``(provider, csv name, where, text)`` of a local gpuhunt CSV or catalog.zip."""
    raw = _read_bytes(path)
    if raw[:4] == b"PK\x03\x04":
        name, text = csv_from_zip(raw, str(path), provider)
        where = f"{path}:{name}"
    else:
        name, where, text = path.name, str(path), decode_text(raw, str(path))
    return provider or Path(name).stem.lower(), name, where, text


def import_gpuhunt(
    source: str | Path,
    home: Path,
    *,
    online: bool = False,
    provider: str | None = None,
    strict: bool = True,
    fetch: Fetcher | None = None,
    today: dt.date | None = None,
    book: PriceBook | None = None,
) -> ImportResult:
    """Import cloud prices from a gpuhunt catalog into ``<home>/prices/gpuhunt-<provider>.yaml``.

    ``source`` is a ``{provider}.csv`` or ``catalog.zip`` file; with ``online=True`` it may
    instead be a provider name (``aws``), whose latest catalog is downloaded with ``fetch``.
    ``provider`` defaults to the CSV's file name.
    """
    path = Path(source)
    if path.is_file():
        provider, name, where, text = _gpuhunt_local(path, provider)
        origin = str(path)
    elif not online:
        if not _PROVIDER_LIKE.match(str(source)):
            raise InputError(f"{source}: no such file", field="gpuhunt")
        raise InputError(
            f"'{source}' is not a file; to download gpuhunt's catalog for provider "
            f"'{source}', allow network access (--online)",
            field="gpuhunt",
        )
    else:
        provider = provider or str(source)
        origin, name, text = fetch_gpuhunt_csv(provider, fetch or http_get)
        where = f"{origin}:{name}"
    provider = check_provider(provider)
    imported_on = today or dt.date.today()
    imported = parse_gpuhunt_csv(
        text,
        provider=provider,
        where=where,
        book=book or load_prices(home),
        imported_on=imported_on,
        source=f"gpuhunt catalog {name} ({origin}), imported by llmplan",
        strict=strict,
    )
    return _save(imported, home, f"gpuhunt-{provider}.yaml", origin, imported_on)


def import_litellm(
    source: str | Path,
    home: Path,
    *,
    online: bool = False,
    strict: bool = True,
    fetch: Fetcher | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Import API prices from LiteLLM's price JSON into ``<home>/prices/litellm.yaml``.

    ``source`` is a local ``model_prices_and_context_window.json``; with ``online=True`` it
    may be ``latest`` (LiteLLM's main branch) or an http(s) URL, downloaded with ``fetch``.
    """
    text_source = str(source)
    path = Path(source)
    if path.is_file():
        text, origin, name = decode_text(_read_bytes(path), str(path)), str(path), path.name
        where = origin
    elif text_source != "latest" and not text_source.startswith(("http://", "https://")):
        raise InputError(
            f"'{source}' is not a file (give a path, or 'latest' or a URL with --online)",
            field="litellm",
        )
    elif not online:
        raise InputError(
            f"downloading '{source}' needs network access: pass --online", field="litellm"
        )
    else:
        origin = LITELLM_PRICES_URL if text_source == "latest" else text_source
        text, name = fetch_litellm_json(origin, fetch or http_get), origin.rsplit("/", 1)[-1]
        where = origin
    imported_on = today or dt.date.today()
    imported = parse_litellm_json(
        text,
        where=where,
        imported_on=imported_on,
        source=f"LiteLLM {name} ({origin}), imported by llmplan",
        strict=strict,
    )
    return _save(imported, home, LITELLM_FILE, origin, imported_on)
