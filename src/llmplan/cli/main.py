"""The ``llmplan`` command line: a thin layer over the core models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmplan.cli.common import CalibrationOpt, console, handle_errors, print_json
from llmplan.cli.lazy import LazyCommand, lazy_group
from llmplan.errors import InputError

if TYPE_CHECKING:
    from llmplan.catalog.loader import Catalog
    from llmplan.validation.dataset import Measurement

# Every command, in the order `llmplan --help` lists them. A command's module is imported
# only when that command runs (start-up stays fast); `help` is the listing's line and a
# test checks it against the command's own docstring. Add new commands here.
COMMANDS: dict[str, LazyCommand] = {
    "memory": LazyCommand(
        "llmplan.cli.sizing",
        "memory_command",
        "VRAM for weights, KV cache, activations and overhead; whether it fits the GPUs.",
    ),
    "perf": LazyCommand(
        "llmplan.cli.sizing",
        "perf_command",
        "Predict TTFT, TPOT, latency and throughput from first principles (roofline).",
    ),
    "example": LazyCommand(
        "llmplan.cli.sizing",
        "example_command",
        "Run memory and performance for the bundled example (Llama-3.1-70B, FP8, 2 x H100).",
    ),
    "plan": LazyCommand(
        "llmplan.cli.plan_view",
        "plan_command",
        "Recommend hardware and deployment for a scenario: cost, latency, break-even, risks.",
    ),
    "deploy": LazyCommand(
        "llmplan.cli.deploy",
        "deploy_command",
        "Write what starts the plan's design: launch commands (vllm, sglang, trtllm),\n"
        "docker-compose, systemd or Kubernetes files, with a README and bench.sh.",
    ),
    "calibrate": LazyCommand(
        "llmplan.cli.calibrate",
        "calibrate_command",
        "Fit the engine efficiencies to measurements; report errors before and after.",
    ),
    "bench": LazyCommand(
        "llmplan.cli.bench",
        "bench_command",
        "Benchmark an OpenAI-compatible endpoint (streaming) and write measurement rows.",
    ),
    "serve": LazyCommand(
        "llmplan.cli.serve",
        "serve_command",
        "Serve the REST API (OpenAPI schema at /openapi.json, interactive docs at /docs).",
    ),
    "simulate": LazyCommand(
        "llmplan.cli.simulate",
        "simulate_command",
        "Simulate requests through continuous batching: TTFT/TPOT/ITL percentiles, goodput.",
    ),
    "sweep": LazyCommand(
        "llmplan.cli.sweep",
        "sweep_command",
        "Plan many variants of a scenario; resumable (finished points are kept beside OUT).",
    ),
    "validate": LazyCommand(
        "llmplan.cli.main",
        "validate_command",
        "Predict every row of a measurements CSV and report the errors per metric family,\n"
        "with the share of rows inside their 80 % interval.",
    ),
    "gpus": LazyCommand("llmplan.cli.catalogs", "gpus_app", "The GPU catalog."),
    "models": LazyCommand("llmplan.cli.catalogs", "models_app", "The model catalog."),
    "engines": LazyCommand("llmplan.cli.catalogs", "engines_app", "Serving-engine profiles."),
    "precisions": LazyCommand(
        "llmplan.cli.catalogs", "precisions_app", "Weight and KV-cache precisions."
    ),
    "prices": LazyCommand(
        "llmplan.cli.prices",
        "prices_app",
        "Prices: buying GPUs and servers, renting cloud GPUs, paying per token.",
    ),
}

app = typer.Typer(
    name="llmplan",
    help="Plan self-hosted LLM deployments: memory, performance, cost and the decision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=lazy_group(COMMANDS),
)


@app.callback()
def _root() -> None:
    """(typer needs a callback to build a group whose commands are all lazy)"""


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
    from llmplan.limits import MAX_DATA_FILE_BYTES, read_text_bounded
    from llmplan.validation.dataset import (
        Measurement,
        bundled_measurements_path,
        parse_measurements,
    )
    from llmplan.validation.summary import validate as run_validation

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
