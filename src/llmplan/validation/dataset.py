"""Reading measurement CSVs in the schema of the development set.

Columns (see ``data/measurements-README.md``): source, engine, engine_version, model,
precision, kv_precision, gpu, num_gpus, tp, pp, input_len, output_len, mode, batch,
request_rate, metric, value, trust, notes, and the optional expert-parallel layout
``ep`` (an integer) and ``dp_attention`` (true/false; empty: not stated), and the optional
speculative decoding a source states, ``spec_method`` (mtp, eagle, ngram) and
``spec_tokens`` (tokens drafted per step; empty: the method's default). Free-text
cells such as ``~7 (short prompt)`` or ``ShareGPT (mean ~215)`` are kept as text;
:func:`leading_number` reads the number in them.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from llmplan.errors import InputError

REQUIRED_COLUMNS = (
    "source",
    "engine",
    "model",
    "precision",
    "gpu",
    "num_gpus",
    "input_len",
    "output_len",
    "mode",
    "metric",
    "value",
)
OPTIONAL_COLUMNS = (
    "engine_version",
    "kv_precision",
    "tp",
    "pp",
    "batch",
    "request_rate",
    "trust",
    "notes",
    "ep",
    "dp_attention",
    "spec_method",
    "spec_tokens",
)
MAX_ROWS = 1_000_000
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Measurement:
    """One published measurement; text cells as printed, ``value`` parsed."""

    line: int
    source: str
    engine: str
    engine_version: str
    model: str
    precision: str
    kv_precision: str
    gpu: str
    num_gpus: str
    tp: str
    pp: str
    input_len: str
    output_len: str
    mode: str
    batch: str
    request_rate: str
    metric: str
    value: float
    trust: str
    notes: str
    ep: str = ""
    dp_attention: str = ""
    spec_method: str = ""
    spec_tokens: str = ""

    def as_dict(self) -> dict[str, str | float | int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def leading_number(text: str) -> float | None:
    """The first number in ``text`` (``'~7 (short prompt)'`` -> 7), or None."""
    match = _NUMBER.search(text or "")
    return float(match.group(1)) if match else None


def _parse_value(raw: str, line: int) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"line {line}: '{raw}' is not a number", field="value") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"line {line}: must be a positive finite number, got {raw}", field="value")
    return value


def parse_measurements(text: str, origin: str = "<csv>") -> list[Measurement]:
    """Rows of a measurements CSV; raises InputError naming the column and line."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{origin}: missing column(s) {', '.join(missing)}; "
            f"required: {', '.join(REQUIRED_COLUMNS)}",
            field="csv",
        )
    rows: list[Measurement] = []
    try:
        for number, record in enumerate(reader, start=2):
            if len(rows) >= MAX_ROWS:
                raise InputError(f"{origin}: more than {MAX_ROWS} rows", field="csv")
            if None in record:
                raise InputError(
                    f"{origin}: line {number} has more cells than the header", field="csv"
                )
            cells = {k: (record.get(k) or "").strip() for k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
            value = _parse_value(cells.pop("value"), number)
            rows.append(Measurement(line=number, value=value, **cells))
    except csv.Error as exc:
        raise InputError(f"{origin}: malformed CSV ({exc})", field="csv") from None
    return rows


def read_measurements(path: Path) -> list[Measurement]:
    """Rows of the measurements CSV at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", field="file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})", field="file") from None
    return parse_measurements(text, str(path))


def bundled_measurements_path() -> Path:
    """Path of the development set shipped with llmplan."""
    from importlib import resources

    return Path(str(resources.files("llmplan").joinpath("data", "measurements-dev.csv")))
