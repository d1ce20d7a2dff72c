"""``llmplan calibrate``: fit engine profiles to your own measurements."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from llmplan.cli.common import catalog, console, handle_errors, print_json
from llmplan.errors import InputError


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


@handle_errors
def calibrate_command(
    measurements: Annotated[
        Path, typer.Argument(help="Measurements CSV (the schema of `llmplan validate`).")
    ],
    out: Annotated[Path, typer.Option(help="Calibration profile to write (YAML).")] = Path(
        "calibration.yaml"
    ),
    name: Annotated[
        str | None, typer.Option(help="Name shown in reports (default: the CSV's name).")
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="Share of rows held out to check the fit."),
    ] = 0.25,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the hold-out split.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Fit the engine efficiencies to measurements; report errors before and after."""
    from llmplan.calibration import MIN_ROWS, calibrate_engine, fitted_fields, prepare_all
    from llmplan.catalog.calibration_file import CalibrationProfile, save_calibration
    from llmplan.limits import MAX_DATA_FILE_BYTES, read_text_bounded
    from llmplan.validation.dataset import parse_measurements

    cat = catalog()
    text = read_text_bounded(measurements, "measurements", MAX_DATA_FILE_BYTES)
    prepared = prepare_all(parse_measurements(text, str(measurements)), cat)
    by_engine: dict[str, list[Any]] = {}
    for item in prepared:
        by_engine.setdefault(item.deployment.engine.engine_family, []).append(item)
    usable = {k: v for k, v in by_engine.items() if len(v) >= MIN_ROWS}
    if not usable:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in by_engine.items()) or "none"
        raise InputError(
            f"no engine has the {MIN_ROWS} predictable rows a fit needs (rows: {counts})",
            field="measurements",
        )
    rng = np.random.default_rng(seed)
    results = [
        calibrate_engine(rows, cat.engine(engine), holdout_fraction=holdout, rng=rng)
        for engine, rows in sorted(usable.items())
    ]
    profile = CalibrationProfile(
        name=name or measurements.stem,
        source=str(measurements),
        created=dt.date.today(),
        rows=sum(r.rows for r in results),
        engines=tuple(
            era.model_copy(
                update={
                    **{name: getattr(r.engine, name) for name, *_ in fitted_fields()},
                    "how_obtained": f"llmplan calibrate on {r.rows} rows of {measurements.name}",
                    "source_date": dt.date.today(),
                }
            )
            for r in results
            for era in cat.engines
            if era.engine_family == r.engine.engine_family and era.platform == r.engine.platform
        ),
    )
    save_calibration(profile, out)
    payload = {
        "calibration": str(out),
        "engines": [
            {
                "engine": r.engine.id,
                "rows": r.rows,
                "median_ape_before": r.median_ape_before,
                "median_ape_after": r.median_ape_after,
                "holdout_rows": r.holdout_rows,
                "holdout_median_ape_before": r.holdout_ape_before,
                "holdout_median_ape_after": r.holdout_ape_after,
                "outliers": [
                    {"line": o.row.line, "metric": o.row.metric, "reason": o.outlier}
                    for o in r.outliers
                ],
            }
            for r in results
        ],
        "skipped_engines": {k: len(v) for k, v in by_engine.items() if k not in usable},
    }
    if json_out:
        print_json(payload)
        return
    table = Table(title=f"Calibration written to {out}", title_justify="left")
    for column in ("engine", "rows", "before", "after", "held out", "held-out before", "after"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for r in results:
        table.add_row(
            r.engine.id,
            str(r.rows),
            _pct(r.median_ape_before),
            _pct(r.median_ape_after),
            str(r.holdout_rows),
            _pct(r.holdout_ape_before),
            _pct(r.holdout_ape_after),
        )
    console.print(table)
    console.print("median absolute percentage error; use it with --calibration " + str(out))
    for r in results:
        for o in r.outliers:
            console.print(
                f"outlier, left out of the fit: line {o.row.line} {o.row.metric}: {o.outlier}"
            )
