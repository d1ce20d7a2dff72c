"""``llmplan deploy``: write the files that start the plan's chosen design."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli.common import (
    CalibrationOpt,
    catalog,
    console,
    handle_errors,
    print_json,
    user_home,
)
from llmplan.deploy import DeployTarget, parse_target
from llmplan.errors import InputError

DEFAULT_EXAMPLE = "chat-assistant"


@handle_errors
def deploy_command(
    scenario: Annotated[
        Path | None,
        typer.Argument(help=f"Scenario YAML or JSON; default: the bundled {DEFAULT_EXAMPLE}."),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            help="vllm, sglang, trtllm (launch command), docker-compose, systemd or kubernetes."
        ),
    ] = DeployTarget.VLLM.value,
    out: Annotated[Path, typer.Option(help="Folder to write the files to.")] = Path("deploy"),
    example: Annotated[
        str | None, typer.Option(help="Deploy a bundled example by name instead of a file.")
    ] = None,
    option: Annotated[
        str | None,
        typer.Option(help="Deployment option (default: the recommended one that runs servers)."),
    ] = None,
    workload: Annotated[
        str | None, typer.Option(help="Only this inference workload (default: all).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the files as JSON.")] = False,
    calibration: CalibrationOpt = None,
) -> None:
    """Write what starts the plan's design: launch commands (vllm, sglang, trtllm),
    docker-compose, systemd or Kubernetes files, with a README and bench.sh."""
    from llmplan.deploy import deploy_files
    from llmplan.plan.planner import make_plan
    from llmplan.prices.loader import load_prices
    from llmplan.scenario import load_example, load_scenario

    if scenario is not None and example is not None:
        raise InputError("give a scenario file or --example, not both", field="example")
    loaded = (
        load_scenario(scenario)
        if scenario is not None
        else load_example(example or DEFAULT_EXAMPLE)
    )
    if calibration is None and loaded.calibration is not None:
        base = scenario.parent if scenario is not None else Path.cwd()
        calibration = base / loaded.calibration
    cat = catalog(calibration)
    plan = make_plan(loaded, cat, load_prices(user_home()), monte_carlo_samples=0)
    files = deploy_files(plan, parse_target(target), cat, option=option, workload=workload)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder", field="out")
    for name, text in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if json_out:
        print_json({"target": target, "out": str(out), "files": files})
        return
    console.print(f"{len(files)} files written to {out}/ (target {target}):")
    for name in sorted(files):
        console.print(f"  {name}")
