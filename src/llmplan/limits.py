"""Limits on the work one input may cause, the same on the command line and the API.

Every limit is a named constant here, documented in the README ("Limits"), and checked
before any work starts, so a hostile or careless input is refused with one line naming
the field instead of holding a CPU for minutes or exhausting memory:

- ``MAX_WORKLOADS_PER_SCENARIO``: a plan's search and Monte Carlo run grow with the
  workloads (about 0.4 s each on one core); 50 keeps the worst plan near half a minute.
- ``MAX_CANDIDATES_PER_LIST``: GPU, precision and engine candidates per plan; the search
  visits their product, so each list is bounded, and ``MAX_SEARCH_COMBINATIONS`` bounds
  workloads x GPUs x precisions x engines (11-16 ms each: 2,048 is 25-35 s on one core).
- ``MAX_NESTING_DEPTH``: a scenario is 4 levels deep; YAML and JSON parsers recurse, so
  depth past a few hundred is a crash, and YAML scanning of deep documents is quadratic.
- ``MAX_TEXT_BYTES``: scenario and calibration files and texts (the API body limit is
  the same 1 MiB); ``MAX_DATA_FILE_BYTES``: measurement CSVs and traces.
- ``MAX_SIMULATED_REQUESTS``, ``MAX_SIMULATED_CLIENTS``: a simulation's size.
- ``MAX_DATABASE_INT``: integers the store keeps (versions, offsets) fit a signed 32-bit
  column, PostgreSQL's ``integer``.

Files are read in bounded chunks after checking that they are regular files: a FIFO, a
device or ``/dev/zero`` is refused instead of blocking or growing without end.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from llmplan.errors import InputError

MAX_WORKLOADS_PER_SCENARIO = 50
MAX_CANDIDATES_PER_LIST = 32
MAX_SEARCH_COMBINATIONS = 2_048
#: Monte Carlo draws times workloads in one plan: ~0.5 ms each on one core (10 workloads
#: x 10,000 draws took 52 s), so 100,000 is under a minute.
MAX_WORKLOAD_DRAWS = 100_000
MAX_NESTING_DEPTH = 32
MAX_TEXT_BYTES = 1_048_576
MAX_DATA_FILE_BYTES = 64 * 1_048_576
MAX_SIMULATED_REQUESTS = 200_000
MAX_SIMULATED_CLIENTS = 100_000
MAX_DATABASE_INT = 2**31 - 1
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 10_000
_CHUNK_BYTES = 65_536
#: Control characters but tab, line feed, carriage return and NEL (C0, DEL, C1), lone
#: surrogates and U+FFFE/FFFF: outside YAML's printable set, and never in a scenario.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_BRACKETS = re.compile(r"[^\[\]{}]+")


def check_regular_file(path: Path, field: str | None, max_bytes: int) -> int:
    """Size of ``path`` once it is an existing regular file of at most ``max_bytes``."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", field=field) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "folder" if stat.S_ISDIR(info.st_mode) else "pipe, device or socket"
        raise InputError(f"{path}: is a {kind}, not a regular file", field=field)
    if info.st_size > max_bytes:
        raise InputError(
            f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} allowed", field=field
        )
    return info.st_size


def read_bytes_bounded(path: Path, field: str | None, max_bytes: int) -> bytes:
    """The bytes of regular file ``path``, read in chunks and never more than ``max_bytes``
    (a file that grows while read is refused too)."""
    check_regular_file(path, field, max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise InputError(f"{path}: more than {max_bytes:,} bytes", field=field)
                chunks.append(chunk)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", field=field) from None
    return b"".join(chunks)


def read_text_bounded(path: Path, field: str | None, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """UTF-8 text of ``path`` (a byte-order mark is dropped), bounded and checked with
    :func:`check_text`."""
    data = read_bytes_bounded(path, field, max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})", field=field) from None
    check_text(text, field, source=str(path))
    return text


def check_text(text: str, field: str | None, *, source: str = "text") -> None:
    """Refuse control characters (NUL, escape, ...): no scenario or data file has them,
    and a binary file read as text is full of them."""
    found = _CONTROL.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise InputError(
            f"{source}, line {line}: control character U+{ord(found.group()):04X} is not "
            "allowed (is this a binary file?)",
            field=field,
        )


def nesting_depth(text: str) -> int:
    """An upper bound of the nesting depth of YAML or JSON ``text``: its deepest bracket
    level plus its deepest block indentation (four spaces, or one ``- ``/``? `` marker,
    per level). Brackets inside strings count too: over-counting only refuses text no
    scenario needs, and a closing bracket never takes the level below zero."""
    level = deepest_bracket = 0
    for char in _BRACKETS.sub("", text):
        level = level + 1 if char in "[{" else max(0, level - 1)
        deepest_bracket = max(deepest_bracket, level)
    deepest_block = 0
    for line in text.splitlines():
        body = line.lstrip(" ")
        markers = len(body) - len(body.lstrip(" -?"))
        deepest_block = max(deepest_block, (len(line) - len(body)) // 4 + (markers + 1) // 2)
    return deepest_bracket + deepest_block


def check_depth(text: str, field: str | None, *, source: str = "text") -> None:
    """Refuse text nested deeper than :data:`MAX_NESTING_DEPTH` before a parser sees it."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING_DEPTH:
        raise InputError(
            f"{source}: nested {depth} levels deep, more than the {MAX_NESTING_DEPTH} allowed",
            field=field,
        )


#: Arrival rates the simulator computes with, requests/s: below one request in ~12 days
#: a run never ends in a useful time; above a million per second the gaps underflow.
MIN_RATE_PER_S = 1e-6
MAX_RATE_PER_S = 1e6
#: Coefficient of variation of gaps between arrivals (gamma shape 1/cv^2 stays finite).
MIN_CV = 1e-3
MAX_CV = 1e3


def _in_range(field: str, value: float, low: float, high: float) -> None:
    if not value > 0 < low:
        raise InputError(f"must be > 0, got {value:g}", field=field)
    if not low <= value <= high:
        raise InputError(f"must be between {low:g} and {high:g}, got {value:g}", field=field)


def check_simulation_inputs(
    *,
    requests: int,
    max_requests: int = MAX_SIMULATED_REQUESTS,
    rate: float | None = None,
    cv: float | None = None,
    hourly_rates: tuple[float, ...] | None = None,
    clients: int | None = None,
) -> None:
    """Refuse a simulation whose size or arrivals the simulator cannot run in bounded
    time and memory; fields as the CLI and the API name them."""
    if not 1 <= requests <= max_requests:
        raise InputError(
            f"must be between 1 and {max_requests:,} per run, got {requests:,}", field="requests"
        )
    if rate is not None:
        _in_range("rate", rate, MIN_RATE_PER_S, MAX_RATE_PER_S)
    if cv is not None:
        _in_range("cv", cv, MIN_CV, MAX_CV)
    if clients is not None:
        _in_range("clients", clients, 1, MAX_SIMULATED_CLIENTS)
    for hour, value in enumerate(hourly_rates or ()):
        if value != 0:
            _in_range(f"hourly_rates[{hour}]", value, MIN_RATE_PER_S, MAX_RATE_PER_S)


def check_monte_carlo_size(workloads: int, samples: int) -> None:
    """Refuse a plan whose Monte Carlo run (``samples`` draws of each of ``workloads``)
    would pass :data:`MAX_WORKLOAD_DRAWS`, with the most draws that would fit."""
    if workloads * samples > MAX_WORKLOAD_DRAWS:
        most = MAX_WORKLOAD_DRAWS // max(workloads, 1)
        raise InputError(
            f"{samples:,} Monte Carlo draws of {workloads} workloads is "
            f"{workloads * samples:,} workload-draws (~0.5 ms each), more than the "
            f"{MAX_WORKLOAD_DRAWS:,} allowed; use at most {most:,} draws",
            field="samples",
        )
