"""Compressed static assets (issue 15, missing 6): the page's scripts, styles and plotly.js
(4.8 MB) go out gzipped to a browser that accepts gzip, as they are to one that does not;
already-compressed exports (PDF, XLSX) are not compressed again. Sizes and load times are
measured by ``benchmarks/bench_static_assets.py`` (no timing here)."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from llmplan.api import Settings, create_app
from llmplan.report.xlsx import XLSX_MEDIA_TYPE
from llmplan.web.compress import GZIP_MIN_BYTES, accepts_gzip, install_compression
from llmplan.web.routes import PLOTLY_PATH, STATIC_DIR, plotly_js

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def _raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    """Headers and the bytes on the wire (httpx would decode them)."""
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, path
        return dict(response.headers), b"".join(response.iter_raw())


def test_plotly_is_sent_gzipped_to_a_browser_that_accepts_it(client: TestClient) -> None:
    path = plotly_js()
    assert path is not None
    original = path.read_bytes()
    headers, body = _raw(client, PLOTLY_PATH, GZIP)
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert gzip.decompress(body) == original
    assert len(body) < len(original) / 2  # minified JS compresses about 3:1
    headers, body = _raw(client, PLOTLY_PATH, IDENTITY)
    assert "content-encoding" not in headers and body == original


@pytest.mark.parametrize("name", ["app.css", "core.js", "index.html"])
def test_the_page_and_its_large_files_are_gzipped(client: TestClient, name: str) -> None:
    original = (STATIC_DIR / name).read_bytes()
    assert len(original) >= GZIP_MIN_BYTES  # large enough to be worth it
    url = "/" if name == "index.html" else f"/web/static/{name}"
    headers, body = _raw(client, url, GZIP)
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == original
    headers, body = _raw(client, url, IDENTITY)
    assert "content-encoding" not in headers and body == original


def test_small_responses_and_compressed_exports_are_sent_as_they_are() -> None:
    app = FastAPI()
    install_compression(app)
    big = b"PK" + b"0" * 50_000

    @app.get("/small")
    def small() -> Response:
        return Response(b"x" * (GZIP_MIN_BYTES - 1), media_type="text/plain")

    @app.get("/xlsx")
    def xlsx() -> Response:
        return Response(big, media_type=XLSX_MEDIA_TYPE)

    @app.get("/pdf")
    def pdf() -> Response:
        return Response(big, media_type="application/pdf")

    client = TestClient(app)
    for url in ("/small", "/xlsx", "/pdf"):
        headers, _ = _raw(client, url, GZIP)
        assert "content-encoding" not in headers, url


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("GZip, deflate", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("br, *;q=0", False),
        ("*;q=0, gzip", True),
        ("identity", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected
