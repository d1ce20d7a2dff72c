"""``POST /api/v1/deploy``: the files that start a plan's chosen design (llmplan deploy).

Plans the scenario (no Monte Carlo: the design does not depend on it) and answers the
files as ``{path: text}``; nothing is written on the server.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from llmplan.api.compute import calibrated
from llmplan.api.inputs import plan_target
from llmplan.api.schemas import ErrorBody, Payload, PlanRequest
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.deploy import DeployTarget, deploy_files, parse_target

router = APIRouter(prefix=API_PREFIX, tags=["deploy"])
BAD_INPUT: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}}


class DeployRequest(PlanRequest):
    """What ``llmplan deploy`` takes: a scenario as for ``POST /plans`` (``seed``,
    ``samples`` and ``save`` are not used), the target, and optionally the deployment
    option and the workload."""

    target: str = Field(
        DeployTarget.VLLM.value,
        description="vllm, sglang, trtllm, docker-compose, systemd or kubernetes.",
    )
    option: str | None = Field(
        None, description="Deployment option (default: the recommended one that runs servers)."
    )
    workload: str | None = Field(None, description="Only this inference workload.")


def deploy_payload(request: DeployRequest, state: AppState) -> Payload:
    """The same files ``llmplan deploy --json`` prints."""
    from llmplan.plan.planner import make_plan

    target = parse_target(request.target)
    catalog = calibrated(state.catalogs.catalog(), request.calibration)
    planned = plan_target(request, state.store, catalog, state.settings.max_monte_carlo_samples)
    plan = make_plan(planned.scenario, catalog, state.catalogs.prices(), monte_carlo_samples=0)
    files = deploy_files(plan, target, catalog, option=request.option, workload=request.workload)
    return {"target": target.value, "files": files}


@router.post(
    "/deploy",
    summary="Launch commands, compose, systemd or Kubernetes files (llmplan deploy)",
    responses=BAD_INPUT,
)
def deploy(request: DeployRequest, state: State) -> Payload:
    """Plans the scenario and answers ``{target, files: {path: text}}``: the launch
    command (vllm, sglang, trtllm) or the docker-compose, systemd or Kubernetes files,
    with ``README.md`` and ``bench.sh``. Bad input is 422 naming the field."""
    return deploy_payload(request, state)
