"""Screenshots of the web UI and the HTML report at three window sizes, to look at.

    python3 scripts/screenshots.py [--url http://127.0.0.1:8000] [--example NAME] [--out DIR]

Without ``--url`` it starts ``llmplan serve`` on a free local port with a throwaway
LLMPLAN_HOME. It loads the example, runs its plan in the page, and writes, for each size
(1440x900, 1280x720, 390x844): the executive summary, the options table, the charts and
the report's first page, as PNG files in ``--out`` (default ``screenshots/``). It prints the
page width at each size (wider than the window means horizontal scrolling). Needs
Playwright for Python and Debian's chromium (``/usr/bin/chromium``); nothing is fetched
from outside this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

SIZES = {"desktop": (1440, 900), "laptop": (1280, 720), "phone": (390, 844)}
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SERVE = "import typer; from llmplan.cli.serve import serve_command; typer.run(serve_command)"
PLAN_TIMEOUT_MS = 180_000


@contextmanager
def local_server() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tempfile.mkdtemp(prefix="llmplan-shots-")
    env = os.environ | {"LLMPLAN_HOME": home}
    command = [sys.executable, "-c", SERVE, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _shot(page: Page, selector: str, path: Path) -> None:
    element = page.locator(selector)
    if element.count() and element.first.is_visible():
        element.first.screenshot(path=str(path))
        print(f"  {path}")


def plan_in_page(page: Page, base: str, example: str) -> None:
    page.goto(base)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#examples", example)
    page.click("#load-example")
    page.wait_for_function("document.querySelector('#check').textContent.startsWith('valid')")
    page.fill("#samples", "200")
    page.click("#run")
    page.wait_for_selector("#plan:not([hidden])", timeout=PLAN_TIMEOUT_MS)
    page.wait_for_selector("#chart-cumulative .main-svg")
    # a plan without a self-hosted design has no latency chart
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_selector("#latency-note:not(:empty)", timeout=PLAN_TIMEOUT_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running llmplan serve (default: start one)")
    parser.add_argument("--example", default="airgapped-eu-gdpr")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    server = local_server() if options.url is None else contextlib.nullcontext(options.url)
    with server as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, (width, height) in SIZES.items():
            print(f"{name} {width}x{height}")
            viewport = {"width": width, "height": height}
            page = browser.new_page(viewport=viewport, accept_downloads=True)
            page.on("dialog", lambda d: d.accept())
            plan_in_page(page, base, options.example)
            print(f"  page width {page.evaluate('document.documentElement.scrollWidth')} px")
            stem = options.out / f"{options.example}-{name}"
            _shot(page, "#summary", Path(f"{stem}-summary.png"))
            _shot(page, "#options", Path(f"{stem}-options.png"))
            _shot(page, "#charts", Path(f"{stem}-charts.png"))
            with page.expect_download() as download:
                page.click("#dl-html")
            report = Path(f"{stem}-report.html")
            download.value.save_as(report)
            page.goto(report.resolve().as_uri())
            page.wait_for_timeout(1000)
            print(f"  report width {page.evaluate('document.documentElement.scrollWidth')} px")
            page.screenshot(path=f"{stem}-report.png")
            print(f"  {stem}-report.png")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
