"""Downloading published price catalogs, only when the caller asks for it.

Every download goes through a :data:`Fetcher` (a function from URL to bytes). The default,
:func:`http_get`, imports ``httpx`` when first called, so llmplan works without it offline;
tests pass their own fetcher. Nothing here runs at import time.
"""

from __future__ import annotations

import importlib
import io
import re
import zipfile
from collections.abc import Callable

from llmplan.errors import InputError

Fetcher = Callable[[str], bytes]
"""Returns the body of a URL, or raises InputError."""

GPUHUNT_CATALOG_URL = (
    "https://dstack-gpu-pricing.s3.eu-west-1.amazonaws.com/v3/{provider}/latest/catalog.zip"
)
"""gpuhunt's published catalog per offline provider: a zip holding ``{provider}.csv``."""

LITELLM_PRICES_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
"""LiteLLM's model price table on its main branch."""

DOWNLOAD_TIMEOUT_S = 60.0
MAX_ZIP_MEMBER_BYTES = 512 * 2**20
"""Largest CSV read out of a downloaded zip (guards against zip bombs)."""

_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def http_get(url: str) -> bytes:
    """GET ``url`` with httpx (an optional dependency) and return the body."""
    try:
        httpx = importlib.import_module("httpx")
    except ImportError:
        raise InputError(
            "downloading prices needs the httpx package (pip install httpx); "
            "or download the file yourself and pass its path",
            field="online",
        ) from None
    try:
        response = httpx.get(url, timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise InputError(f"download of {url} failed: {exc}", field="online") from None
    return bytes(response.content)


def check_provider(provider: str) -> str:
    """``provider`` if it is a plain gpuhunt provider name (``aws``, ``lambdalabs``...)."""
    if not _PROVIDER.match(provider):
        raise InputError(
            f"'{provider}' is not a file nor a gpuhunt provider name "
            "(lower-case letters, digits, '-' or '_', e.g. aws, gcp, lambdalabs)",
            field="gpuhunt",
        )
    return provider


def gpuhunt_catalog_url(provider: str) -> str:
    return GPUHUNT_CATALOG_URL.format(provider=check_provider(provider))


def csv_from_zip(data: bytes, where: str, provider: str | None = None) -> tuple[str, str]:
    """``(member name, text)`` of the CSV in a gpuhunt ``catalog.zip``.

    Picks ``{provider}.csv`` when given, else the only CSV in the archive.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError(f"{where}: not a zip archive", field="gpuhunt") from None
    with archive:
        members = [i for i in archive.infolist() if i.filename.endswith(".csv")]
        if provider is not None:
            members = [i for i in members if i.filename.rsplit("/", 1)[-1] == f"{provider}.csv"]
        if len(members) != 1:
            names = ", ".join(i.filename for i in archive.infolist()) or "nothing"
            wanted = f"{provider}.csv" if provider else "one CSV file"
            raise InputError(f"{where}: expected {wanted}, found {names}", field="gpuhunt")
        member = members[0]
        if member.file_size > MAX_ZIP_MEMBER_BYTES:
            raise InputError(f"{where}: {member.filename} is too large", field="gpuhunt")
        raw = archive.read(member)
    return member.filename.rsplit("/", 1)[-1], decode_text(raw, f"{where}:{member.filename}")


def decode_text(raw: bytes, where: str) -> str:
    """``raw`` as UTF-8 text (a byte-order mark is dropped)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 text (byte {exc.start})", field="file") from None


def fetch_gpuhunt_csv(provider: str, fetch: Fetcher = http_get) -> tuple[str, str, str]:
    """``(url, csv name, text)`` of gpuhunt's latest catalog for ``provider``."""
    url = gpuhunt_catalog_url(provider)
    name, text = csv_from_zip(fetch(url), url, provider)
    return url, name, text


def fetch_litellm_json(url: str = LITELLM_PRICES_URL, fetch: Fetcher = http_get) -> str:
    """The text of LiteLLM's model price JSON."""
    return decode_text(fetch(url), url)
