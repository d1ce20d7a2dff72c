"""Refit the engine profiles' efficiency factors on the development set.

Usage: python scripts/fit_engine_profiles.py [--write]

For every engine profile with enough rows, runs the bounded least-squares fit of
``llmplan.calibration`` (a handful of physical efficiencies and overheads per engine era,
each inside its published range, pulled towards its typical value; never per-row or
per-source constants; rows outside the physical envelope left out) and prints the result.
``--write`` stores the fitted values in ``src/llmplan/data/engines.yaml`` (comments kept,
with ruamel.yaml) together with a ``fit`` record: the dataset's SHA-256, the code
version, rows and outliers, the prior weight and every factor's range. Profiles with
``fitted_values_from`` (an era or engine without rows of its own) take the named
profile's fitted values. Selection between model variants is by leave-one-source-out
cross-validation (``llmplan validate --cv``), never by these in-sample figures.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

from llmplan.calibration import (
    MIN_ROWS,
    PRIOR_WEIGHT,
    CalibrationResult,
    fit_engine,
    fitted_fields,
    prepare_all,
)
from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.dataset import bundled_measurements_path, read_measurements

ROOT = Path(__file__).resolve().parents[1]
ENGINES_FILE = ROOT / "src" / "llmplan" / "data" / "engines.yaml"


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _flow(values: list[float]) -> CommentedSeq:
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _fit_record(result: CalibrationResult, outliers: int, sha: str) -> dict[str, Any]:
    return {
        "dataset_sha256": sha,
        "code_version": _code_version(),
        "rows": result.rows,
        "outliers": outliers,
        "median_ape": round(result.median_ape_after, 4),
        "prior_weight": PRIOR_WEIGHT,
        "ranges": {name: _flow([lo, hi, typical]) for name, lo, hi, typical in fitted_fields()},
        "fitted_on": dt.date.today().isoformat(),
    }


def _fit_all(sha: str) -> dict[str, tuple[dict[str, float], dict[str, Any], str]]:
    """Fitted values, fit record and note per engine family (eras pooled: leave-one-
    source-out CV preferred one fit per family to one per era)."""
    catalog = bundled_catalog()
    prepared = prepare_all(read_measurements(bundled_measurements_path()), catalog)
    fitted: dict[str, tuple[dict[str, float], dict[str, Any], str]] = {}
    for family in dict.fromkeys(e.engine_family for e in catalog.engines):
        rows = [p for p in prepared if p.deployment.engine.engine_family == family]
        inliers = [p for p in rows if p.outlier is None]
        if len(inliers) < MIN_ROWS:
            continue
        result = fit_engine(inliers, catalog.engine(family))
        values = {name: round(getattr(result.engine, name), 6) for name, *_ in fitted_fields()}
        outliers = len(rows) - len(inliers)
        note = (
            f"efficiencies and overheads fitted by llmplan.calibration on {result.rows} rows "
            f"of the development set, all {family} eras pooled ({outliers} outside the "
            f"physical envelope left out, median APE {result.median_ape_after:.3f} on the "
            "fitted rows)"
        )
        fitted[family] = (values, _fit_record(result, outliers, sha), note)
        print(
            f"{family}: {result.rows} rows (+{outliers} outliers), median APE "
            f"{result.median_ape_before:.3f} -> {result.median_ape_after:.3f}, {values}"
        )
    return fitted


_GENERATED_PREFIXES = ("efficiencies and overheads fitted", "fitted values of", "median APE ")
"""How the sentences an earlier run wrote into how_obtained begin (replaced, not kept)."""


def _documented_part(how: str) -> str:
    """What how_obtained says beyond the generated fit note (limits, sources)."""
    parts = [p for p in how.split("; ") if not p.startswith(_GENERATED_PREFIXES)]
    return "; ".join(parts).strip()


def _apply(entry: Any, values: dict[str, float], record: dict[str, Any], note: str) -> None:
    for name, value in values.items():
        entry[name] = value
    kept = _documented_part(str(entry.get("how_obtained", "")))
    entry["how_obtained"] = f"{note}; {kept}" if kept else note
    entry["source_date"] = dt.date.today()
    entry["fit"] = copy.deepcopy(record)  # a copy per entry: no YAML anchors


def main() -> None:
    sha = hashlib.sha256(bundled_measurements_path().read_bytes()).hexdigest()
    fitted = _fit_all(sha)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(ENGINES_FILE.read_text(encoding="utf-8"))
    for entry in document["engines"]:
        family = entry.get("family") or entry["id"]
        if family in fitted:
            _apply(entry, *fitted[family])
        elif (origin := entry.get("fitted_values_from")) in fitted:
            values, record, _ = fitted[origin]
            _apply(entry, values, record, f"fitted values of {origin} (no rows of its own)")
    if "--write" in sys.argv:
        with ENGINES_FILE.open("w", encoding="utf-8") as handle:
            yaml.dump(document, handle)


if __name__ == "__main__":
    main()
