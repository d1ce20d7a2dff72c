"""Memory, performance and validation: quick computations answered at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llmplan.api.compute import memory_payload, perf_payload, validation_result
from llmplan.api.errors import ApiError
from llmplan.api.schemas import ErrorBody, MemoryRequest, Payload, PerfRequest, ValidateRequest
from llmplan.api.state import API_PREFIX, State

router = APIRouter(prefix=API_PREFIX, tags=["compute"])
BAD_INPUT: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}}


# memory and perf take microseconds: they run on the event loop (no thread hop); validate
# takes up to seconds and runs in a worker thread.
@router.post(
    "/memory",
    summary="VRAM for weights, KV cache, activations and overhead (llmplan memory)",
    responses=BAD_INPUT,
)
async def memory(request: MemoryRequest, state: State) -> Payload:
    """What ``llmplan memory --json`` prints for the same options."""
    return memory_payload(request, await state.catalogs.current_catalog())


@router.post(
    "/perf",
    summary="Latency and throughput from first principles (llmplan perf)",
    responses=BAD_INPUT,
)
async def perf(request: PerfRequest, state: State) -> Payload:
    """What ``llmplan perf --json`` prints for the same options."""
    return perf_payload(request, await state.catalogs.current_catalog())


@router.post(
    "/validate",
    summary="Prediction error on a measurements CSV (llmplan validate)",
    responses=BAD_INPUT,
)
def validate(request: ValidateRequest, state: State) -> Payload:
    """``llmplan validate --json`` (rows, summary, skipped) plus ``breakdown`` by ``by``.
    At most ``max_measurement_rows`` rows (10,000 by default) per request."""
    settings = state.settings
    return validation_result(request, state.catalogs.catalog(), settings.max_measurement_rows)


# SIMULATE: placeholder until llmplan.sim (``llmplan simulate``) is merged. Then: a request
# model with the CLI's options in schemas.py, a "simulate" task in tasks.py, and this route
# submitting a job exactly as POST /plans does (202 + Location of the job).
@router.post(
    "/simulate",
    summary="Discrete-event simulation (llmplan simulate): not available yet",
    status_code=501,
    responses={501: {"model": ErrorBody}},
)
async def simulate() -> None:
    raise ApiError(
        501,
        "not_implemented",
        "the simulator is not part of this version of llmplan yet; use POST /api/v1/perf",
    )
