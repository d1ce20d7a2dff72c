"""Bytes on the wire and cold-load time of the web UI, with and without gzip (issue 15,
missing 6: "the charting library is 4.8 MB uncompressed; cold load 2.5-3.8 s").

Usage: python benchmarks/bench_static_assets.py [--repeats 3] [--write FILE.md]

1. Sizes (deterministic): each file the page loads, fetched in-process (Starlette's
   TestClient) with ``Accept-Encoding: identity`` (before) and ``gzip`` (after).
2. Cold load (needs Debian's Chromium and Playwright): a real ``uvicorn`` server on
   loopback, once as before (compression switched off) and once as now; a fresh browser
   context per load (empty cache), Chromium's own network throttling (DevTools
   ``Network.emulateNetworkConditions``) at each link profile below, time from navigation
   to the ``load`` event and the bytes Chromium received. Median of ``--repeats`` loads.

Run on demand; nothing here passes or fails on time (the machine is shared).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from llmplan.api import Settings, create_app
from llmplan.web import routes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

ASSETS = ("/", "/web/static/app.css", "/web/static/app.js", "/web/static/core.js",
          "/web/static/plan.js", "/web/static/charts.js", "/web/static/editor.js",
          "/web/static/form.js",
          routes.PLOTLY_PATH, routes.LABELS_PATH)  # fmt: skip
#: (name, download Mbit/s, round-trip ms): an office link, a VPN or hotel Wi-Fi (about the
#: speed at which 4.8 MB takes the issue's 2.5-3.8 s), and loopback (no throttling).
PROFILES = (("office 50 Mbit/s, 20 ms", 50.0, 20.0), ("VPN 12 Mbit/s, 60 ms", 12.0, 60.0),
            ("loopback (no throttling)", 0.0, 0.0))  # fmt: skip
CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def _compression(enabled: bool) -> Iterator[None]:
    """Build apps as now (``enabled``) or as before this change (nothing gzipped)."""
    saved = routes.install_compression, routes.accepts_gzip
    if not enabled:
        routes.install_compression = lambda app: None
        routes.accepts_gzip = lambda header: False
    try:
        yield
    finally:
        routes.install_compression, routes.accepts_gzip = saved


def sizes(home: Path) -> list[tuple[str, int, int]]:
    """(path, bytes sent without gzip, bytes sent with gzip) per asset."""
    out = []
    client = TestClient(create_app(Settings(home=home)), base_url="http://localhost")
    for path in ASSETS:
        row = [path]
        for encoding in ("identity", "gzip"):
            with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
                response.raise_for_status()
                row.append(len(b"".join(response.iter_raw())))
        out.append((row[0], int(row[1]), int(row[2])))
    client.app.state.llmplan.store.close()  # type: ignore[attr-defined]
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(home: Path, compressed: bool) -> Iterator[str]:
    with _compression(compressed):  # for the server's life: routes read it per request
        app = create_app(Settings(home=home))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _load(browser: Any, url: str, mbit_s: float, rtt_ms: float) -> tuple[float, int]:
    """Seconds to the ``load`` event and bytes received, cold cache."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    received: list[int] = []
    cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if mbit_s:
        rate = mbit_s * 1e6 / 8  # bytes/s
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": rtt_ms, "downloadThroughput": rate,
             "uploadThroughput": rate},
        )  # fmt: skip
    start = time.perf_counter()
    page.goto(url, wait_until="load", timeout=120_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds, sum(received)


def cold_loads(home: Path, repeats: int) -> list[tuple[str, str, float, int]]:
    """(profile, before|after, median seconds, bytes) per profile and build."""
    from playwright.sync_api import sync_playwright

    executable = str(CHROMIUM) if CHROMIUM.is_file() else shutil.which("chromium")
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        for label, compressed in (("before", False), ("after", True)):
            with _server(home / label, compressed) as url:
                _load(browser, url, 0, 0)  # warm the server (plotly gzipped once)
                for name, mbit_s, rtt_ms in PROFILES:
                    runs = [_load(browser, url, mbit_s, rtt_ms) for _ in range(repeats)]
                    seconds = statistics.median(r[0] for r in runs)
                    rows.append((name, label, seconds, max(r[1] for r in runs)))
        browser.close()
    return rows


def report(size_rows: list[tuple[str, int, int]], load_rows: list[Any], repeats: int) -> str:
    lines = [
        f"# Static assets: bytes and cold load ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "`python benchmarks/bench_static_assets.py --repeats "
        f"{repeats}` (shared 2-core machine; median of {repeats} cold loads).",
        "",
        "| file | before, bytes | gzip, bytes | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for path, plain, packed in size_rows:
        lines.append(f"| `{path}` | {plain:,} | {packed:,} | {plain / packed:.1f} |")
    plain_total = sum(r[1] for r in size_rows)
    packed_total = sum(r[2] for r in size_rows)
    lines.append(
        f"| total | {plain_total:,} | {packed_total:,} | {plain_total / packed_total:.1f} |"
    )
    for name, mbit_s, _ in PROFILES:
        if mbit_s:
            before, after = (8 * n / (mbit_s * 1e6) for n in (plain_total, packed_total))
            lines.append(
                f"\nTransfer alone at {name}: {before:.2f} s before, {after:.2f} s gzipped."
            )
    if load_rows:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        lines += [
            "",
            f"Cold loads (load average during the run: {load}; the load event also waits "
            "for the browser to parse and run plotly.js, which is CPU-bound):",
        ]
        lines += [
            "",
            "| link | build | load event, s | bytes received |",
            "| --- | --- | ---: | ---: |",
        ]
        lines += [f"| {p} | {b} | {s:.2f} | {n:,} |" for p, b, s, n in load_rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", type=Path, help="also write the Markdown table here")
    parser.add_argument("--sizes-only", action="store_true", help="skip the browser loads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        size_rows = sizes(home / "sizes")
        load_rows = [] if args.sizes_only else cold_loads(home, args.repeats)
    text = report(size_rows, load_rows, args.repeats)
    sys.stdout.write(text)
    if args.write:
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
