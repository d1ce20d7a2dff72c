"""``llmplan bench``: measure an OpenAI-compatible endpoint, or import another tool's
results, and write rows of the measurements CSV schema."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from llmplan.bench.csvout import Labels, StepMetrics, from_summary, write_csv
from llmplan.bench.importers import ImportFormat, import_results
from llmplan.bench.workload import (
    Api,
    BenchConfig,
    LengthDist,
    LengthSpec,
    LoadStep,
    parse_steps,
)
from llmplan.cli.common import console, error_console, handle_errors, print_json
from llmplan.errors import ConfigurationError, InputError
from llmplan.limits import MAX_DATA_FILE_BYTES, check_regular_file

if TYPE_CHECKING:
    from llmplan.bench.client import BenchRun
    from llmplan.bench.summary import StepSummary

EXIT_NO_SUCCESS = 1


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.2f}"


def _run(config: BenchConfig, quiet: bool) -> BenchRun:
    """Run the benchmark with a progress bar; Ctrl-C keeps what was measured."""
    from llmplan.bench.client import BenchRun, run_bench

    run = BenchRun(config, ignore_eos=config.ignore_eos)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=error_console,
        transient=True,
        disable=quiet,
    )
    tasks: dict[LoadStep, Any] = {}

    def hook(step: LoadStep, done: int, total: int | None) -> None:
        if step not in tasks:
            tasks[step] = progress.add_task(step.label, total=total)
        progress.update(tasks[step], completed=done)

    with progress:
        try:
            asyncio.run(run_bench(config, run, hook))
        except KeyboardInterrupt:
            run.interrupted = True
    return run


def _table(summaries: list[StepSummary]) -> Table:
    table = Table(title="llmplan bench", title_justify="left")
    for column in (
        "step",
        "ok/sent",
        "errors",
        "TTFT p50/p90/p99 ms",
        "TPOT p50/p99 ms",
        "ITL p50 ms",
        "e2e p50/p99 ms",
        "out tok/s",
        "req/s",
    ):
        table.add_column(column, justify="left" if column in ("step", "errors") else "right")
    for s in summaries:
        table.add_row(
            s.step.label,
            f"{s.succeeded}/{s.requests}",
            ", ".join(f"{k} {v}" for k, v in s.errors.items()) or "-",
            "/".join(_ms(v) for v in (s.ttft_ms.p50, s.ttft_ms.p90, s.ttft_ms.p99)),
            "/".join(_ms(v) for v in (s.tpot_ms.p50, s.tpot_ms.p99)),
            _ms(s.itl_ms.p50),
            "/".join(_ms(v) for v in (s.e2e_ms.p50, s.e2e_ms.p99)),
            _rate(s.output_tokens_per_s),
            _rate(s.requests_per_s),
        )
    return table


def _measure(config: BenchConfig, labels: Labels, out: Path, json_out: bool) -> None:
    from llmplan.bench.summary import summarise

    run = _run(config, quiet=json_out)
    summaries = summarise(run)
    requested = f"input {config.input_len.label}, output {config.output_len.label} tokens"
    written = write_csv(out, [from_summary(s, requested) for s in summaries], labels)
    warm_errors: dict[str, int] = {}
    for r in run.warmup:
        if r.error:
            warm_errors[r.error] = warm_errors.get(r.error, 0) + 1
    succeeded = sum(s.succeeded for s in summaries)
    if json_out:
        print_json(
            {
                "out": str(out),
                "rows": written,
                "interrupted": run.interrupted,
                "ignore_eos": run.ignore_eos,
                "warmup": {"requests": len(run.warmup), "errors": warm_errors},
                "steps": [s.as_dict() for s in summaries],
            }
        )
    else:
        console.print(_table(summaries))
        for s in summaries:
            for kind, example in s.error_examples.items():
                console.print(f"  {s.step.label}: {kind}: {example}", markup=False)
        if run.interrupted:
            console.print("interrupted: wrote the requests measured so far")
        if not run.ignore_eos:
            console.print("the server rejected ignore_eos; outputs may stop before max_tokens")
        console.print(f"{written} rows written to {out}", markup=False)
    if succeeded == 0:
        error_console.print("no request succeeded", markup=False)
        raise typer.Exit(EXIT_NO_SUCCESS)


def _import(path: Path, fmt: ImportFormat | None, labels: Labels, out: Path, js: bool) -> None:
    if fmt is None:
        raise InputError("--import needs --format vllm, guidellm or aiperf", field="format")
    steps: list[StepMetrics] = import_results(path, fmt)
    written = write_csv(out, steps, labels)
    if js:
        print_json({"out": str(out), "rows": written, "steps": len(steps)})
        return
    console.print(f"{len(steps)} steps imported from {path}, {written} rows written to {out}")


def _required(name: str, value: str | None) -> str:
    if not value:
        raise InputError(f"--{name} is required (it labels the CSV rows)", field=name)
    return value


@handle_errors
def bench_command(
    url: Annotated[
        str | None,
        typer.Argument(help="Server base URL, e.g. http://localhost:8000 (not with --import)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Hugging Face id of the model served (CSV label).")
    ] = None,
    gpu: Annotated[str | None, typer.Option(help="GPU id, e.g. H100-SXM-80GB (label).")] = None,
    engine: Annotated[str | None, typer.Option(help="Engine, e.g. vllm, llama.cpp.")] = None,
    precision: Annotated[str, typer.Option(help="Weight precision (label).")] = "bf16",
    num_gpus: Annotated[int, typer.Option(min=1, help="GPUs serving (label).")] = 1,
    tp: Annotated[int | None, typer.Option(min=1, help="Tensor-parallel degree.")] = None,
    pp: Annotated[int | None, typer.Option(min=1, help="Pipeline-parallel degree.")] = None,
    engine_version: Annotated[str, typer.Option(help="Engine version (label).")] = "",
    kv_precision: Annotated[str, typer.Option(help="KV-cache precision if not 16-bit.")] = "",
    out: Annotated[Path, typer.Option(help="Measurements CSV to write.")] = Path(
        "measurements.csv"
    ),
    served_model: Annotated[
        str | None, typer.Option(help="Model name sent to the server (default: --model).")
    ] = None,
    api: Annotated[Api, typer.Option(help="Endpoint: chat or completions.")] = Api.COMPLETIONS,
    concurrency: Annotated[
        str | None, typer.Option(help="Closed-loop client counts, e.g. 1,2,4 (default 1).")
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="Poisson request rates per second, e.g. 0.5,1,2.")
    ] = None,
    requests: Annotated[
        int | None, typer.Option(help="Requests per step (default 32 without --duration-s).")
    ] = None,
    duration_s: Annotated[float | None, typer.Option(help="Seconds per step.")] = None,
    input_tokens: Annotated[int, typer.Option(help="Prompt tokens (mean).")] = 128,
    output_tokens: Annotated[int, typer.Option(help="Generated tokens (mean).")] = 128,
    lengths: Annotated[
        LengthDist, typer.Option(help="fixed lengths or lognormal around the means.")
    ] = LengthDist.FIXED,
    length_cv: Annotated[float, typer.Option(help="Lognormal coefficient of variation.")] = 0.5,
    warmup: Annotated[int, typer.Option(help="Warm-up requests, not measured.")] = 2,
    timeout_s: Annotated[
        float, typer.Option(help="Seconds to wait for a connection or for the next bytes.")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of lengths, prompts and arrivals.")] = 0,
    ignore_eos: Annotated[
        bool, typer.Option(help="Ask the server to generate exactly the output tokens.")
    ] = True,
    api_key: Annotated[
        str | None, typer.Option(envvar="OPENAI_API_KEY", help="Bearer token, if needed.")
    ] = None,
    import_file: Annotated[
        Path | None, typer.Option("--import", help="Import a result file instead of measuring.")
    ] = None,
    fmt: Annotated[
        ImportFormat | None, typer.Option("--format", help="Format of --import.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Benchmark an OpenAI-compatible endpoint (streaming) and write measurement rows."""
    labels = Labels(
        model=_required("model", model),
        gpu=_required("gpu", gpu),
        engine=_required("engine", engine),
        precision=precision,
        num_gpus=num_gpus,
        tp=tp,
        pp=pp,
        engine_version=engine_version,
        kv_precision=kv_precision,
        source="llmplan bench" if import_file is None else f"llmplan bench --import {fmt}",
    )
    if import_file is not None:
        if import_file.exists():  # a FIFO or device is refused, not read
            check_regular_file(import_file, "import", MAX_DATA_FILE_BYTES)
        if url is not None:
            raise ConfigurationError("give a URL or --import, not both", field="import")
        _import(import_file, fmt, labels, out, json_out)
        return
    if url is None:
        raise InputError("give the server URL, or --import FILE --format ...", field="url")
    config = BenchConfig(
        url=url,
        model=served_model or labels.model,
        steps=parse_steps(concurrency if concurrency or rate else "1", rate),
        input_len=LengthSpec(input_tokens, lengths, length_cv),
        output_len=LengthSpec(output_tokens, lengths, length_cv),
        api=api,
        requests=requests if requests is not None or duration_s is not None else 32,
        duration_s=duration_s,
        warmup=warmup,
        timeout_s=timeout_s,
        seed=seed,
        ignore_eos=ignore_eos,
        api_key=api_key,
    )
    _measure(config, labels, out, json_out)
