"""Request traces: CSV files of ``arrival_s,input_tokens,output_tokens`` to replay.

The header names the columns (in any order; other columns are ignored). Arrival times
are seconds from any origin, non-decreasing; token counts are whole numbers >= 1. A
malformed file raises :class:`~llmplan.errors.InputError` naming the line and column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from llmplan.errors import InputError

TRACE_COLUMNS = ("arrival_s", "input_tokens", "output_tokens")


@dataclass(frozen=True, eq=False)
class Trace:
    """Requests in arrival order."""

    arrival_s: NDArray[np.float64]
    input_tokens: NDArray[np.int64]
    output_tokens: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = self.arrival_s.size
        if n == 0:
            raise InputError("the trace holds no requests", field="trace")
        if self.input_tokens.size != n or self.output_tokens.size != n:
            raise InputError("columns of different lengths", field="trace")
        if np.any(np.diff(self.arrival_s) < 0):
            raise InputError("arrival times must not decrease", field="trace")

    def __len__(self) -> int:
        return int(self.arrival_s.size)


def _fail(path: Path, line: int, column: str, message: str) -> InputError:
    return InputError(f"{path}, line {line}, column {column}: {message}", field="trace")


def _token_count(path: Path, line: int, column: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(path, line, column, f"{text!r} is not a whole number") from None
    if value < 1:
        raise _fail(path, line, column, f"{value} is not >= 1")
    return value


def _arrival(path: Path, line: int, text: str, previous: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, line, "arrival_s", f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value >= 0):
        raise _fail(path, line, "arrival_s", f"{text!r} is not a finite number >= 0")
    if value < previous:
        raise _fail(path, line, "arrival_s", f"{value:g} is before the previous {previous:g}")
    return value


def _columns(path: Path, header: list[str] | None) -> list[int]:
    if header is None:
        raise InputError(f"{path} is empty", field="trace")
    names = [h.strip() for h in header]
    missing = [c for c in TRACE_COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{path}, line 1: missing column(s) {', '.join(missing)}; the header must name "
            f"{','.join(TRACE_COLUMNS)}",
            field="trace",
        )
    return [names.index(c) for c in TRACE_COLUMNS]


def load_trace(path: Path) -> Trace:
    """Read and check a trace CSV."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            columns = _columns(path, next(reader, None))
            width = max(columns) + 1
            arrivals: list[float] = []
            inputs: list[int] = []
            outputs: list[int] = []
            previous = -math.inf
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < width:
                    absent = TRACE_COLUMNS[[c >= len(row) for c in columns].index(True)]
                    raise _fail(path, line, absent, f"missing (only {len(row)} fields)")
                a, i, o = (row[c].strip() for c in columns)
                previous = _arrival(path, line, a, previous)
                arrivals.append(previous)
                inputs.append(_token_count(path, line, "input_tokens", i))
                outputs.append(_token_count(path, line, "output_tokens", o))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}", field="trace") from None
    if not arrivals:
        raise InputError(f"{path} holds no requests (only a header)", field="trace")
    return Trace(
        np.asarray(arrivals, dtype=np.float64),
        np.asarray(inputs, dtype=np.int64),
        np.asarray(outputs, dtype=np.int64),
    )
