"""``llmplan calibrate``: fit engine profiles to your own measurements."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmplan.cli.common import catalog, console, handle_errors, print_json


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
    from llmplan.application.calibrate import run_calibration
    from llmplan.catalog.calibration_file import save_calibration
    from llmplan.limits import MAX_DATA_FILE_BYTES, read_text_bounded
    from llmplan.validation.dataset import parse_measurements

    text = read_text_bounded(measurements, "measurements", MAX_DATA_FILE_BYTES)
    run = run_calibration(
        parse_measurements(text, str(measurements)),
        catalog(),
        name=name or measurements.stem,
        source=str(measurements),
        holdout=holdout,
        seed=seed,
    )
    save_calibration(run.profile, out)
    payload = run.payload(str(out))
    results = run.results
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
