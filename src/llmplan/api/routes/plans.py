"""Plans run as jobs; saved plan results; the jobs themselves.

``POST /api/v1/plans`` checks the request at once (422 for bad input, nothing queued), then
queues the plan and answers 202 with the job (``Location: /api/v1/jobs/<id>``). Poll
``GET /api/v1/jobs/<id>`` for its status, progress and stage; once ``succeeded`` it holds
the result (the payload of ``llmplan plan --json``) and, if saved, ``plan_id``.
``DELETE /api/v1/jobs/<id>`` cancels it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from llmplan.api.inputs import PlanTarget, plan_target
from llmplan.api.jobs import FINISHED, Job
from llmplan.api.schemas import (
    ErrorBody,
    JobList,
    JobOut,
    PlanList,
    PlanOut,
    PlanRequest,
    PlanSummaryOut,
)
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.application.compute import calibrated
from llmplan.limits import MAX_DATABASE_INT
from llmplan.plan.quotes import with_currency
from llmplan.scenario import scenario_to_data
from llmplan.store import NewPlan, PlanRecord

#: Rough cost of a plan for the job queue's order, measured on one core: the search
#: ~0.4 s per workload, the Monte Carlo run ~0.5 ms per draw per workload.
PLAN_COST_S_PER_WORKLOAD = 0.4
PLAN_COST_S_PER_WORKLOAD_DRAW = 0.0005
router = APIRouter(prefix=API_PREFIX)
WAIT_POLL_S = 0.1
Wait = Annotated[
    float, Query(ge=0, le=60, description="Wait up to this many seconds for the job to end.")
]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody},
    422: {"model": ErrorBody},
    503: {"model": ErrorBody},
}


def job_out(job: Job, with_result: bool = True) -> JobOut:
    error = None
    if job.error is not None:
        error = ErrorBody(code=job.error.code, message=job.error.message, field=job.error.field)
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        stage=job.stage,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=error,
        plan_id=job.saved_id,
        result=job.result if with_result else None,
    )


def _saver(state: AppState, target: PlanTarget, request: PlanRequest) -> Any:
    """The callback that saves a finished plan (None when it is not to be saved)."""
    if not target.save:
        return None

    def save(payload: dict[str, Any]) -> str:
        best = payload.get("recommended") or {}
        record = state.store.save_plan(
            NewPlan(
                scenario_name=target.scenario.name,
                seed=request.seed,
                samples=request.samples,
                payload=payload,
                scenario_id=target.scenario_id,
                scenario_version=target.scenario_version,
                recommended=best.get("option"),
                npv_usd=best.get("npv_usd"),
            )
        )
        return record.id

    return save


@router.post(
    "/plans",
    status_code=202,
    tags=["plans"],
    summary="Plan a scenario (llmplan plan): queues a job",
    responses=ERRORS | {200: {"model": JobOut, "description": "Finished within `wait`."}},
)
async def create_plan(
    request: PlanRequest, state: State, response: Response, wait: Wait = 0
) -> JobOut:
    job = await run_in_threadpool(_submit, request, state)
    if wait > 0:
        job = await wait_for(state, job.id, wait)
    response.headers["Location"] = f"{API_PREFIX}/jobs/{job.id}"
    if job.status in FINISHED:
        response.status_code = 200
    return job_out(job)


def _submit(request: PlanRequest, state: AppState) -> Job:
    catalog = calibrated(state.catalogs.catalog(), request.calibration)
    target = plan_target(request, state.store, catalog, state.settings.max_monte_carlo_samples)
    profile = request.calibration
    params = {
        "scenario": scenario_to_data(with_currency(target.scenario, request.currency)),
        "seed": request.seed,
        "samples": request.samples,
        "calibration": None if profile is None else profile.model_dump(mode="json"),
    }
    workloads = len(target.scenario.workloads)
    per_workload_s = PLAN_COST_S_PER_WORKLOAD + PLAN_COST_S_PER_WORKLOAD_DRAW * request.samples
    cost_s = workloads * per_workload_s
    return state.jobs.submit("plan", params, _saver(state, target, request), cost_s=cost_s)


async def wait_for(state: AppState, job_id: str, timeout_s: float) -> Job:
    """The job once finished, or as it is after ``timeout_s`` (without holding a thread)."""
    deadline = time.monotonic() + timeout_s
    job = state.jobs.get(job_id)
    while job.status not in FINISHED and time.monotonic() < deadline:
        await asyncio.sleep(WAIT_POLL_S)
        job = state.jobs.get(job_id)
    return job


def _summary(record: PlanRecord) -> PlanSummaryOut:
    return PlanSummaryOut(
        id=record.id,
        scenario_id=record.scenario_id,
        scenario_version=record.scenario_version,
        scenario_name=record.scenario_name,
        seed=record.seed,
        samples=record.samples,
        recommended=record.recommended,
        npv_usd=record.npv_usd,
        created_at=record.created_at,
    )


@router.get("/plans", tags=["plans"], summary="Saved plan results, newest first")
def list_plans(
    state: State,
    scenario_id: Annotated[str | None, Query(description="Only this scenario's.")] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DATABASE_INT)] = 0,
) -> PlanList:
    found = state.store.list_plans(scenario_id, search, limit, offset)
    return PlanList(
        items=[_summary(r) for r in found.items], total=found.total, limit=limit, offset=offset
    )


@router.get("/plans/{plan_id}", tags=["plans"], summary="A saved plan result", responses=ERRORS)
def read_plan(plan_id: str, state: State) -> PlanOut:
    record = state.store.get_plan(plan_id)
    return PlanOut(**_summary(record).model_dump(), payload=record.payload or {})


@router.delete(
    "/plans/{plan_id}", tags=["plans"], status_code=204, summary="Delete a saved plan result"
)
def delete_plan(plan_id: str, state: State) -> Response:
    state.store.delete_plan(plan_id)
    return Response(status_code=204)


@router.get("/jobs", tags=["jobs"], summary="Jobs this server knows, newest first")
def list_jobs(state: State) -> JobList:
    return JobList(items=[job_out(j, with_result=False) for j in state.jobs.list()])


@router.get("/jobs/{job_id}", tags=["jobs"], summary="A job's status and progress; its result")
async def read_job(job_id: str, state: State, wait: Wait = 0) -> JobOut:
    return job_out(await wait_for(state, job_id, wait))


@router.delete("/jobs/{job_id}", tags=["jobs"], summary="Cancel a queued or running job")
def cancel_job(job_id: str, state: State) -> JobOut:
    return job_out(state.jobs.cancel(job_id), with_result=False)
