"""``POST /api/v1/deploy``: the files that start a plan's chosen design (llmplan deploy).

Plans the scenario (no Monte Carlo: the design does not depend on it) and answers the
files as ``{path: text}``, or as a zip archive from ``/deploy/archive`` (the web UI's
download); nothing is written on the server.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from llmplan.api.inputs import plan_target
from llmplan.api.schemas import ErrorBody, Payload, PlanRequest
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.application.compute import calibrated
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


ZIP_DATE = (2026, 1, 1, 0, 0, 0)
"""Fixed timestamp of the archive's entries, so the same request gives the same bytes."""


def zip_archive(files: dict[str, str], folder: str) -> bytes:
    """``files`` in a zip under ``folder/``; shell scripts executable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=ZIP_DATE)
            mode = 0o755 if name.endswith(".sh") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


@router.post(
    "/deploy/archive",
    summary="The deployment files as a zip archive (llmplan deploy)",
    responses=BAD_INPUT | {200: {"content": {"application/zip": {}}}},
    response_class=Response,
)
def deploy_archive(request: DeployRequest, state: State) -> Response:
    """What ``POST /deploy`` answers, as ``deploy-<target>.zip``."""
    payload = deploy_payload(request, state)
    folder = f"deploy-{payload['target']}"
    return Response(
        zip_archive(payload["files"], folder),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{folder}.zip"'},
    )
