"""The ``llmplan`` command line: a thin layer over the core models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from llmplan.catalog.loader import Catalog
from llmplan.cli import (
    bench,
    calibrate,
    catalogs,
    deploy,
    plan_view,
    prices,
    serve,
    simulate,
    sizing,
    sweep,
)
from llmplan.cli.common import CalibrationOpt, console, handle_errors, print_json
from llmplan.errors import InputError
from llmplan.limits import MAX_DATA_FILE_BYTES, read_text_bounded
from llmplan.validation.dataset import Measurement, bundled_measurements_path, parse_measurements
from llmplan.validation.summary import validate as run_validation

app = typer.Typer(
    name="llmplan",
    help="Plan self-hosted LLM deployments: memory, performance, cost and the decision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("memory")(sizing.memory_command)
app.command("perf")(sizing.perf_command)
app.command("example")(sizing.example_command)
app.command("plan")(plan_view.plan_command)
app.command("deploy")(deploy.deploy_command)
app.command("calibrate")(calibrate.calibrate_command)
app.command("bench")(bench.bench_command)
app.command("serve")(serve.serve_command)
app.command("simulate")(simulate.simulate_command)
app.command("sweep")(sweep.sweep_command)
app.add_typer(catalogs.gpus_app, name="gpus")
app.add_typer(catalogs.models_app, name="models")
app.add_typer(catalogs.engines_app, name="engines")
app.add_typer(catalogs.precisions_app, name="precisions")
app.add_typer(prices.prices_app, name="prices")


@app.command("validate")
@handle_errors
def validate_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Measurements CSV (schema of the bundled dev set); default: the dev set."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with a predicted-vs-measured plot.")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Also break errors down by this column (engine, gpu, mode, ...).")
    ] = "engine",
    calibration: CalibrationOpt = None,
    cv: Annotated[
        bool,
        typer.Option(
            "--cv",
            help="Leave-one-source-out cross-validation instead: refit the engine profiles "
            "without each source and predict it; held-out error and interval coverage. "
            "Slow: minutes on the development set (see --workers).",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes for --cv (one refit per task).")
    ] = 1,
) -> None:
    """Predict every row of a measurements CSV and report the errors per metric family,
    with the share of rows inside their 80 % interval."""
    from llmplan.cli.common import catalog
    from llmplan.cli.validation_view import render_validation, validation_payload

    columns = list(Measurement.__dataclass_fields__)
    if by not in columns:
        raise InputError(f"unknown column '{by}'; allowed: {', '.join(columns)}", field="by")
    path = file if file is not None else bundled_measurements_path()
    text = read_text_bounded(path, "file", MAX_DATA_FILE_BYTES)  # a byte-order mark is dropped
    rows = parse_measurements(text, str(path))
    if not rows:
        raise InputError(f"{path}: no measurement rows after the header", field="file")
    if cv:
        if report is not None:
            raise InputError("not available with --cv", field="report")
        _cross_validate(rows, catalog(calibration), workers, json_out)
        return
    result = run_validation(rows, catalog(calibration))
    if report is not None:
        from llmplan.report.validation import write_validation_report

        write_validation_report(result, report, title=f"Validation on {path.name}")
    if json_out:
        print_json(validation_payload(result))
        return
    render_validation(result, by)
    if report is not None:
        console.print(f"report written to {report}")


def _cross_validate(rows: list[Measurement], cat: Catalog, workers: int, json_out: bool) -> None:
    from llmplan.cli.validation_view import render_cross_validation
    from llmplan.validation.crossval import cross_validate
    from llmplan.validation.interval_fit import summarise

    def progress(done: int, total: int) -> None:
        if not json_out:
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{done}/{total} refits (one per source and engine){end}")
            sys.stderr.flush()

    summary = summarise(cross_validate(rows, cat, workers=workers, progress=progress))
    if json_out:
        print_json(summary.as_dict())
        return
    render_cross_validation(summary)


def main() -> None:  # pragma: no cover - entry point
    app()
