"""Sweep results on disk: a JSON-lines checkpoint written as points finish, and the
final table as CSV or Parquet (by the file's extension)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmplan.errors import InputError

FORMATS = (".csv", ".parquet")


def checkpoint_path_for(out: Path) -> Path:
    """Where the checkpoint of a sweep writing ``out`` lives (beside it)."""
    return out.with_name(out.name + ".progress.jsonl")


def check_output(out: Path) -> None:
    """Refuse an output whose extension names no format, or whose folder is missing."""
    if out.suffix.lower() not in FORMATS:
        raise InputError(f"'{out.name}' must end in {' or '.join(FORMATS)}", field="out")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist", field="out")


@dataclass
class Checkpoint:
    """Rows finished so far, keyed by point index; each new row is appended and flushed
    at once, so an interrupted sweep loses at most the points in flight."""

    path: Path
    signature: str
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, signature: str) -> Checkpoint:
        """The checkpoint at ``path``, created if missing; one of another sweep (other
        scenario, points or settings) is refused rather than mixed in."""
        checkpoint = cls(path, signature)
        if not path.exists():
            path.write_text(json.dumps({"signature": signature}) + "\n", encoding="utf-8")
            return checkpoint
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except json.JSONDecodeError:
            header = {}
        if header.get("signature") != signature:
            raise InputError(
                f"{path.name} holds another sweep's progress; delete it or choose another --out",
                field="out",
            )
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption: that point runs again
            checkpoint.rows[int(row["point"])] = row
        return checkpoint

    def append(self, row: dict[str, Any]) -> None:
        self.rows[int(row["point"])] = row
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, default=_json_default) + "\n")
            handle.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Column names in first-seen order over all rows."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def write_table(rows: list[dict[str, Any]], out: Path) -> None:
    """Write ``rows`` to ``out`` as CSV or Parquet, through a temporary file so an
    existing table is replaced only by a complete one."""
    columns = columns_of(rows)
    partial = out.with_name(out.name + ".partial")
    if out.suffix.lower() == ".parquet":
        _write_parquet(rows, columns, partial)
    else:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    partial.replace(out)


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError(
            "Parquet output needs pyarrow: pip install 'llmplan[sweep]' (or write .csv)",
            field="out",
        ) from exc
    table = pa.table({name: _column(rows, name) for name in columns})
    pq.write_table(table, path)


def _column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """One column; a column mixing numbers and text (a varied key given as both) is
    written as text so Parquet gets one type per column."""
    values = [row.get(name) for row in rows]
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) > 1 and not kinds <= {int, float}:
        return [None if v is None else str(v) for v in values]
    if kinds == {int, float}:
        return [None if v is None else float(v) for v in values]
    return values
