"""HTML reports as PDF, printed by a headless Chromium (Debian's ``/usr/bin/chromium``).

The HTML is written to a temporary folder, Chromium prints it there with its own throwaway
profile and no network services (no sync, updates or background fetches), and the folder
is removed. The report inlines plotly.js, so its charts are drawn before printing and no
file is fetched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

#: Where Debian installs Chromium; else the first ``chromium`` on the PATH.
CHROMIUM_PATH = Path("/usr/bin/chromium")
PDF_TIMEOUT_S = 90.0
#: Milliseconds of page time Chromium lets scripts run (the charts) before printing.
SCRIPT_BUDGET_MS = 10_000


class PdfUnavailable(RuntimeError):
    """No Chromium to print with."""


class PdfFailed(RuntimeError):
    """Chromium ran but wrote no PDF (or ran past the time limit)."""


def chromium() -> Path | None:
    """The Chromium to print with, None if none is installed."""
    if CHROMIUM_PATH.is_file():
        return CHROMIUM_PATH
    found = shutil.which("chromium")
    return Path(found) if found else None


def _command(browser: Path, html: Path, pdf: Path, profile: Path) -> list[str]:
    return [
        str(browser),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--no-pdf-header-footer",
        f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
        f"--user-data-dir={profile}",
        f"--print-to-pdf={pdf}",
        html.as_uri(),
    ]


def html_to_pdf(html: str, timeout_s: float = PDF_TIMEOUT_S) -> bytes:
    """``html`` printed to PDF; :class:`PdfUnavailable` without Chromium,
    :class:`PdfFailed` if it writes nothing within ``timeout_s``."""
    browser = chromium()
    if browser is None:
        raise PdfUnavailable(
            "the PDF export needs Chromium (Debian: apt-get install chromium); "
            "meanwhile download the HTML report and print it from a browser"
        )
    with tempfile.TemporaryDirectory(prefix="llmplan-pdf-") as folder:
        root = Path(folder)
        page, pdf, profile = root / "report.html", root / "report.pdf", root / "profile"
        page.write_text(html, encoding="utf-8")
        status, errors = _run(_command(browser, page, pdf, profile), timeout_s)
        if not pdf.is_file() or pdf.stat().st_size == 0:
            tail = errors.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfFailed(f"Chromium wrote no PDF (exit status {status}): {' / '.join(tail)}")
        return pdf.read_bytes()


def _run(command: list[str], timeout_s: float) -> tuple[int, bytes]:
    """Run Chromium in its own process group, so that a time-out stops its helpers too."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, errors = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise PdfFailed(f"Chromium did not print the report within {timeout_s:g} s") from None
    return process.returncode, errors
