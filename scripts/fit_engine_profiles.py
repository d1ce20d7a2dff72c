"""Refit the engine profiles' efficiency factors on the development set.

Usage: python scripts/fit_engine_profiles.py [--write]

For every engine profile with enough rows, runs the bounded least-squares fit of
``llmplan.calibration`` (a handful of physical efficiencies and overheads per engine, weak
priors, never per-row or per-source constants) and prints the result; ``--write`` stores
the fitted values and a note of how they were obtained in ``src/llmplan/data/engines.yaml``.
TGI, which has no rows, gets vLLM's values (same kernels).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

from llmplan.calibration import FITTED_FIELDS, MIN_ROWS, fit_engine, prepare_all
from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.dataset import bundled_measurements_path, read_measurements

ENGINES_FILE = Path(__file__).resolve().parents[1] / "src" / "llmplan" / "data" / "engines.yaml"


def _block(text: str, engine_id: str) -> tuple[int, int]:
    start = text.index(f"  - id: {engine_id}\n")
    end = text.find("\n  - id: ", start + 5)
    return start, len(text) if end < 0 else end


def _set_field(block: str, name: str, value: float) -> str:
    line = f"\n    {name}: {value}"
    if re.search(rf"\n    {name}: ", block):
        return re.sub(rf"\n    {name}: [^\n]*", line, block)
    return block.replace("\n    per_sequence_overhead_s", f"{line}\n    per_sequence_overhead_s", 1)


def _dated_today(block: str) -> str:
    return re.sub(r"\n    source_date: [^\n]*", f"\n    source_date: {dt.date.today()}", block)


def main() -> None:
    catalog = bundled_catalog()
    prepared = prepare_all(read_measurements(bundled_measurements_path()), catalog)
    text = ENGINES_FILE.read_text(encoding="utf-8")
    fitted: dict[str, dict[str, float]] = {}
    for engine in catalog.engines:
        rows = [p for p in prepared if p.deployment.engine.id == engine.id]
        if len(rows) < MIN_ROWS:
            continue
        result = fit_engine(rows, engine)
        values = {name: round(getattr(result.engine, name), 6) for name, *_ in FITTED_FIELDS}
        fitted[engine.id] = values
        print(
            f"{engine.id}: {result.rows} rows, median APE {result.median_ape_before:.3f} -> "
            f"{result.median_ape_after:.3f}, {values}"
        )
        start, end = _block(text, engine.id)
        block = text[start:end]
        for name, value in values.items():
            block = _set_field(block, name, value)
        note = (
            f"efficiencies and overheads fitted by llmplan.calibration on {result.rows} rows "
            f"of the development set (median APE {result.median_ape_after:.3f} on them);"
        )
        block = re.sub(
            r"how_obtained: (efficiencies and overheads fitted[^;]*; )?",
            f"how_obtained: {note} ",
            block,
        )
        block = _dated_today(block)
        text = text[:start] + block + text[end:]
    if "vllm" in fitted:
        start, end = _block(text, "tgi")
        block = text[start:end]
        for name, value in fitted["vllm"].items():
            block = _set_field(block, name, value)
        block = _dated_today(block)
        text = text[:start] + block + text[end:]
    if "--write" in sys.argv:
        ENGINES_FILE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
