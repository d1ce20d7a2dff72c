"""``llmplan sweep``: many variants of one scenario, in local processes or on Ray."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli.common import console, handle_errors, user_home
from llmplan.errors import InputError

DEFAULT_EXAMPLE = "chat-assistant"


@handle_errors
def sweep_command(
    scenario: Annotated[
        Path | None, typer.Argument(help=f"Scenario YAML or JSON; default: {DEFAULT_EXAMPLE}.")
    ] = None,
    example: Annotated[str | None, typer.Option(help="A bundled example by name.")] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=V1,V2,... (grid values) or KEY=LO..HI (a range, with --samples); dotted "
            "scenario keys, e.g. finance.electricity_usd_per_kwh=0.08,0.2 or "
            "workloads.chat.requests_per_day=1e4,1e5. Repeat for more keys.",
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(help="Draw N random points (seeded) instead of the full grid."),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Results table: .csv or .parquet (one row per point).")
    ] = Path("sweep.csv"),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the samples and Monte Carlo.")] = 0,
    mc_samples: Annotated[
        int, typer.Option(min=0, max=10_000, help="Monte Carlo draws per point.")
    ] = 100,
    workers: Annotated[int, typer.Option(min=1, max=256, help="Local processes.")] = 1,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run the points as Ray tasks: 'local' (a cluster in this process), 'auto' "
            "(this machine's cluster) or ray://HOST:PORT. Needs llmplan[ray].",
        ),
    ] = None,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration profile for every point.")
    ] = None,
) -> None:
    """Plan many variants of a scenario; resumable (finished points are kept beside OUT)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from llmplan.scenario import load_example, load_scenario
    from llmplan.scenario.io import scenario_to_data
    from llmplan.sweep import SweepSettings, parse_vary, run_sweep, sweep_points
    from llmplan.sweep.output import check_output, checkpoint_path_for, write_table
    from llmplan.sweep.run import check_points

    if scenario is not None and example is not None:
        raise InputError("give a scenario file or --example, not both", field="example")
    base = (
        load_scenario(scenario)
        if scenario is not None
        else load_example(example or DEFAULT_EXAMPLE)
    )
    check_output(out)
    points = sweep_points([parse_vary(v) for v in vary or []], samples, seed)
    settings = SweepSettings(
        scenario=scenario_to_data(base),
        seed=seed,
        monte_carlo_samples=mc_samples,
        calibration=str(calibration) if calibration is not None else None,
        home=str(user_home()),
    )
    check_points(settings, points)
    started = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("planning points", total=len(points))

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        rows = run_sweep(
            settings, points, checkpoint_path_for(out),
            workers=workers, ray_address=ray, progress=progress,
        )  # fmt: skip
    write_table(rows, out)
    elapsed = time.perf_counter() - started
    ok = sum(1 for r in rows if r.get("status") == "ok")
    console.print(
        f"{len(rows)} points ({ok} with a recommendation) written to {out} "
        f"in {elapsed:.1f} s ({len(rows) / max(elapsed, 1e-9):.2f} points/s)"
    )
