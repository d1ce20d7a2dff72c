"""Importing into the user's folder: atomic saves, offline by default, injected downloads.

No test touches the network: online imports get an in-process fetcher, and offline ones get
a fetcher that fails the test if called.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import types
import zipfile
from pathlib import Path

import pytest

from llmplan.errors import InputError
from llmplan.prices import (
    GPUHUNT_CATALOG_URL,
    LITELLM_PRICES_URL,
    Pricing,
    http_get,
    import_gpuhunt,
    import_litellm,
    load_prices,
    read_price_file,
)
from llmplan.prices.loader import PriceEntries
from llmplan.prices.user import save_user_prices

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
DAY = dt.date(2026, 11, 30)


def no_network(url: str) -> bytes:
    raise AssertionError(f"offline import tried to download {url}")


def _zip(member: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text)
    return buffer.getvalue()


def test_gpuhunt_import_writes_a_dated_sourced_file(tmp_path: Path) -> None:
    result = import_gpuhunt(FIXTURES / "aws.csv", tmp_path, today=DAY, fetch=no_network)
    assert result.path == tmp_path / "prices" / "gpuhunt-aws.yaml"
    assert (result.imported, result.rows_read) == (5, 9)
    text = result.path.read_text(encoding="utf-8")
    assert text.startswith("# Imported by llmplan on 2026-11-30 from ")
    entries = read_price_file(result.path).cloud
    assert len(entries) == 5
    assert all(e.price_date == DAY and "aws.csv" in e.source for e in entries)
    book = load_prices(tmp_path)
    cheapest = book.cheapest_cloud_price("H100", Pricing.SPOT, include_secondary=False)
    assert cheapest is not None and cheapest.usd_per_hour == 21.6
    assert not list((tmp_path / "prices").glob(".tmp-*"))


def test_reimport_replaces_the_file(tmp_path: Path) -> None:
    import_gpuhunt(FIXTURES / "aws.csv", tmp_path, today=DAY)
    csv = tmp_path / "aws.csv"
    lines = (FIXTURES / "aws.csv").read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    result = import_gpuhunt(csv, tmp_path, today=DAY)
    assert result.imported == 1
    assert len(read_price_file(result.path).cloud) == 1


def test_failed_import_leaves_existing_file_untouched(tmp_path: Path) -> None:
    first = import_gpuhunt(FIXTURES / "aws.csv", tmp_path, today=DAY)
    before = first.path.read_bytes()
    bad = tmp_path / "aws.csv"
    bad.write_bytes((FIXTURES / "gpuhunt-malformed.csv").read_bytes())
    with pytest.raises(InputError, match="line 3: field 'price'"):
        import_gpuhunt(bad, tmp_path, today=DAY)
    assert first.path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "prices").iterdir()) == ["gpuhunt-aws.yaml"]


def test_interrupted_write_leaves_existing_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = import_litellm(FIXTURES / "litellm-sample.json", tmp_path, today=DAY)
    before = first.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        import_litellm(FIXTURES / "litellm-sample.json", tmp_path, today=dt.date(2026, 12, 1))
    assert first.path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "prices").iterdir()) == ["litellm.yaml"]


def test_import_with_nothing_usable_writes_nothing(tmp_path: Path) -> None:
    only_cpu = tmp_path / "cpu.csv"
    lines = (FIXTURES / "aws.csv").read_text(encoding="utf-8").splitlines()
    only_cpu.write_text(lines[0] + "\n" + lines[4] + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"nothing to import \(1 rows read; skipped no GPU: 1\)"):
        import_gpuhunt(only_cpu, tmp_path, today=DAY)
    assert not (tmp_path / "prices").exists()


def test_offline_import_never_downloads(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--online"):
        import_gpuhunt("aws", tmp_path, fetch=no_network)
    with pytest.raises(InputError, match=r"aws\.csv: no such file"):
        import_gpuhunt(tmp_path / "aws.csv", tmp_path, fetch=no_network)
    with pytest.raises(InputError, match="--online"):
        import_litellm("latest", tmp_path, fetch=no_network)
    with pytest.raises(InputError, match="not a file"):
        import_litellm(tmp_path / "missing.json", tmp_path, online=True, fetch=no_network)


def test_online_gpuhunt_import_uses_the_fetcher(tmp_path: Path) -> None:
    calls: list[str] = []
    csv_text = (FIXTURES / "aws.csv").read_text(encoding="utf-8")

    def fake(url: str) -> bytes:
        calls.append(url)
        return _zip("aws.csv", csv_text)

    result = import_gpuhunt("aws", tmp_path, online=True, fetch=fake, today=DAY)
    assert calls == [GPUHUNT_CATALOG_URL.format(provider="aws")]
    assert result.imported == 5 and result.path.name == "gpuhunt-aws.yaml"
    assert calls[0] in read_price_file(result.path).cloud[0].source
    with pytest.raises(InputError, match="not a file nor a gpuhunt provider name"):
        import_gpuhunt("../etc", tmp_path, online=True, fetch=fake)


def test_online_litellm_import_uses_the_fetcher(tmp_path: Path) -> None:
    calls: list[str] = []

    def fake(url: str) -> bytes:
        calls.append(url)
        return (FIXTURES / "litellm-sample.json").read_bytes()

    result = import_litellm("latest", tmp_path, online=True, fetch=fake, today=DAY)
    assert calls == [LITELLM_PRICES_URL]
    assert result.imported == 4 and result.path.name == "litellm.yaml"
    book = load_prices(tmp_path)
    assert book.api_price("gpt-5").price_date == DAY  # the import replaces the bundled entry


def test_local_catalog_zip(tmp_path: Path) -> None:
    archive = tmp_path / "catalog.zip"
    archive.write_bytes(_zip("lambdalabs.csv", (FIXTURES / "aws.csv").read_text("utf-8")))
    result = import_gpuhunt(archive, tmp_path, today=DAY)
    assert result.path.name == "gpuhunt-lambdalabs.yaml"
    empty = tmp_path / "empty.zip"
    empty.write_bytes(_zip("readme.txt", "hi"))
    with pytest.raises(InputError, match=r"expected one CSV file, found readme\.txt"):
        import_gpuhunt(empty, tmp_path)


def test_save_rejects_bad_file_names(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a valid price file name"):
        save_user_prices(PriceEntries(), tmp_path, "../escape.yaml")


def test_http_get_without_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # makes `import httpx` fail
    with pytest.raises(InputError, match="needs the httpx package"):
        http_get("https://example.invalid/prices.json")


def test_http_get_with_a_fake_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    class HTTPError(Exception):
        pass

    class Response:
        content = b"{}"

        def raise_for_status(self) -> None:
            return None

    def get(url: str, **kwargs: object) -> Response:
        if "broken" in url:
            raise HTTPError("503 Service Unavailable")
        return Response()

    fake = types.SimpleNamespace(get=get, HTTPError=HTTPError)
    monkeypatch.setitem(sys.modules, "httpx", fake)
    assert http_get("https://example.invalid/ok.json") == b"{}"
    with pytest.raises(InputError, match=r"download of .*broken.* failed: 503"):
        http_get("https://example.invalid/broken.json")
