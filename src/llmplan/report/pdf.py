"""HTML reports as PDF, printed by a headless Chromium (Debian's ``/usr/bin/chromium``).

The HTML is written to a temporary folder, Chromium prints it there with its own throwaway
profile and no network services (no sync, updates or background fetches), and the folder
is removed. The report inlines plotly.js, so its charts are drawn before printing and no
file is fetched.

Offline for sure, in two layers: Chromium runs in a network namespace of its own with no
interface but a loopback (``unshare --net``, where the kernel allows it: as root, or with
user namespaces), so nothing it does reaches any network; and its flags resolve every host
name to "not found" and send every request, loopback included, to a proxy at a closed
port, so no DNS query or connection leaves even where namespaces are unavailable.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from llmplan.errors import LlmplanError

#: Where Debian installs Chromium; else the first ``chromium`` on the PATH.
CHROMIUM_PATH = Path("/usr/bin/chromium")
PDF_TIMEOUT_S = 90.0
#: Milliseconds of page time Chromium lets scripts run (the charts) before printing.
SCRIPT_BUDGET_MS = 10_000
#: A proxy nobody listens on (port 9, "discard", closed on a normal host): every request
#: Chromium would send fails at once on this machine.
DEAD_PROXY = "http://127.0.0.1:9"
#: Flags that keep Chromium off the network even outside a network namespace.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    f"--proxy-server={DEAD_PROXY}",
    "--proxy-bypass-list=<-loopback>",
    "--dns-prefetch-disable",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--no-default-browser-check",
    "--disable-features=MediaRouter,OptimizationHints,Translate,NetworkTimeServiceQuerying,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
)


class PdfUnavailable(LlmplanError, RuntimeError):
    """No Chromium to print with."""


class PdfFailed(LlmplanError, RuntimeError):
    """Chromium ran but wrote no PDF (or ran past the time limit)."""


def chromium() -> Path | None:
    """The Chromium to print with, None if none is installed."""
    if CHROMIUM_PATH.is_file():
        return CHROMIUM_PATH
    found = shutil.which("chromium")
    return Path(found) if found else None


@functools.cache
def network_namespace_prefix() -> tuple[str, ...]:
    """The command prefix that runs a program with no network (``unshare --net``, with
    ``--map-root-user`` when not root), or ``()`` where this kernel does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    prefix = (unshare, "--net") if os.geteuid() == 0 else (unshare, "--map-root-user", "--net")
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 else ()


def _command(browser: Path, html: Path, pdf: Path, profile: Path) -> list[str]:
    return [
        *network_namespace_prefix(),
        str(browser),
        *OFFLINE_FLAGS,
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


def require_chromium() -> Path:
    """The Chromium to print with; :class:`PdfUnavailable` (one line, with the fix) if none."""
    browser = chromium()
    if browser is None:
        raise PdfUnavailable(
            "the PDF report needs Chromium (Debian: apt-get install chromium); "
            "meanwhile write the HTML report and print it from a browser",
            field="report",
        )
    return browser


def html_to_pdf(html: str, timeout_s: float = PDF_TIMEOUT_S) -> bytes:
    """``html`` printed to PDF, on the paper its CSS names (``@page { size }``), with the
    page numbers of its ``@page`` margin boxes; :class:`PdfUnavailable` without Chromium,
    :class:`PdfFailed` if it writes nothing within ``timeout_s``."""
    browser = require_chromium()
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
