"""Memory, performance and validation: quick computations answered at once; simulations,
checked at once and run as jobs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from llmplan.api.jobs import FINISHED, Job
from llmplan.api.routes.plans import Wait, job_out, wait_for
from llmplan.api.schemas import (
    ErrorBody,
    JobOut,
    MemoryRequest,
    Payload,
    PerfRequest,
    SimulateRequest,
    ValidateRequest,
)
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.application.compute import memory_payload, perf_payload, validation_result
from llmplan.application.results import MemoryReport, PerfReport, ValidationReport
from llmplan.application.simulation import simulation_of

#: Simulated requests per second of work, for the job queue's order (200,000 took 2.6 s).
SIM_REQUESTS_PER_S = 50_000
router = APIRouter(prefix=API_PREFIX, tags=["compute"])
BAD_INPUT: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}}


# memory and perf take microseconds: they run on the event loop (no thread hop); validate
# takes up to seconds and runs in a worker thread.
@router.post(
    "/memory",
    summary="VRAM for weights, KV cache, activations and overhead (llmplan memory)",
    responses=BAD_INPUT,
    response_model=MemoryReport,
    response_model_exclude_unset=True,  # the keys --json prints, no more
)
async def memory(request: MemoryRequest, state: State) -> Payload:
    """What ``llmplan memory --json`` prints for the same options."""
    return memory_payload(request, await state.catalogs.current_catalog())


@router.post(
    "/perf",
    summary="Latency and throughput from first principles (llmplan perf)",
    responses=BAD_INPUT,
    response_model=PerfReport,
    response_model_exclude_unset=True,  # the keys --json prints, no more
)
async def perf(request: PerfRequest, state: State) -> Payload:
    """What ``llmplan perf --json`` prints for the same options."""
    return perf_payload(request, await state.catalogs.current_catalog())


@router.post(
    "/validate",
    summary="Prediction error on a measurements CSV (llmplan validate)",
    responses=BAD_INPUT,
    response_model=ValidationReport,
    response_model_exclude_unset=True,  # the keys --json prints, no more
)
def validate(request: ValidateRequest, state: State) -> Payload:
    """``llmplan validate --json`` (rows, summary, skipped) plus ``breakdown`` by ``by``.
    At most ``max_measurement_rows`` rows (10,000 by default) per request."""
    settings = state.settings
    return validation_result(request, state.catalogs.catalog(), settings.max_measurement_rows)


@router.post(
    "/simulate",
    status_code=202,
    summary="Discrete-event simulation of serving (llmplan simulate): queues a job",
    responses=BAD_INPUT
    | {
        200: {"model": JobOut, "description": "Finished within `wait`."},
        503: {"model": ErrorBody},
    },
)
async def simulate(
    request: SimulateRequest, state: State, response: Response, wait: Wait = 0
) -> JobOut:
    """Checks the options at once (422 naming the field, nothing queued), then runs the
    simulation in a worker process: ``GET /api/v1/jobs/{id}`` gives progress and, once
    succeeded, what ``llmplan simulate --json`` prints; ``DELETE`` cancels it. At most
    ``max_simulated_requests`` (200,000 by default) requests per call."""
    job = await run_in_threadpool(_submit_simulation, request, state)
    if wait > 0:
        job = await wait_for(state, job.id, wait)
    response.headers["Location"] = f"{API_PREFIX}/jobs/{job.id}"
    if job.status in FINISHED:
        response.status_code = 200
    return job_out(job)


def _submit_simulation(request: SimulateRequest, state: AppState) -> Job:
    limit = state.settings.max_simulated_requests
    simulation_of(request, state.catalogs.catalog(), limit)  # bad input: 422, nothing queued
    params = {"request": request.model_dump(mode="json"), "max_requests": limit}
    return state.jobs.submit("simulate", params, cost_s=request.requests / SIM_REQUESTS_PER_S)
