"""The job queue's order and time limits (issue 17): a small job passes a large one, a
large one is not starved, a job that waited past the queue's time-out fails, and the
per-job budget stays below that time-out."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.api import Settings
from llmplan.api.jobs import JobRunner
from llmplan.api.schemas import JobStatus
from llmplan.errors import InputError


def runner(tmp_path: Path, **options: float) -> JobRunner:
    made = JobRunner(tmp_path, **options)  # type: ignore[arg-type]
    made.start = lambda: None  # type: ignore[method-assign]  # no worker: claims by hand
    return made


def test_a_small_job_passes_a_large_one(tmp_path: Path) -> None:
    jobs = runner(tmp_path)
    large = jobs.submit("plan", {}, cost_s=300.0)
    small = jobs.submit("plan", {}, cost_s=1.0)
    first = jobs._claim_next()
    assert first is not None and first.job.id == small.id
    second = jobs._claim_next()
    assert second is not None and second.job.id == large.id


def test_a_large_job_that_waited_its_cost_goes_first(tmp_path: Path) -> None:
    jobs = runner(tmp_path)
    large = jobs.submit("plan", {}, cost_s=30.0)
    jobs._entries[large.id].queued_at -= 60.0  # it has waited a minute
    jobs.submit("plan", {}, cost_s=1.0)
    first = jobs._claim_next()
    assert first is not None and first.job.id == large.id


def test_a_job_that_waited_past_the_queue_time_out_fails(tmp_path: Path) -> None:
    jobs = runner(tmp_path, timeout_s=10.0, queue_timeout_s=60.0)
    stale = jobs.submit("plan", {})
    jobs._entries[stale.id].queued_at -= 61.0
    assert jobs._claim_next() is None
    job = jobs.get(stale.id)
    assert job.status is JobStatus.FAILED and job.error is not None
    assert job.error.code == "timeout" and "queue" in job.error.message


def test_the_job_budget_is_below_the_queue_time_out(tmp_path: Path) -> None:
    defaults = Settings(home=tmp_path)
    assert 0 < defaults.job_timeout_s < defaults.queue_timeout_s
    with pytest.raises(InputError, match="job_timeout_s"):
        Settings(home=tmp_path, job_timeout_s=900.0, queue_timeout_s=600.0)
