"""Long operations as jobs: queued, run in worker processes, observable and cancellable.

``submit`` queues a job and returns at once; ``get`` shows its status, progress and stage,
and its result once it succeeded; ``cancel`` stops it. Each worker is a separate process
(started with *spawn*, warmed up with the catalogs loaded), so a running plan can really be
stopped: cancelling it, or running past ``timeout_s``, kills the process, and a fresh one
is started. A worker that dies (out of memory) fails its job, not the server. At most
``max_pending`` jobs wait; finished jobs are kept in memory (the newest
``keep_finished``), so a restart forgets them: results worth keeping are saved by the
``on_success`` callback (plan results go to the store).

Scheduling is fair rather than first come, first served: each job carries an estimated
cost (seconds of work, from its size), and a free worker takes the queued job with the
smallest cost minus the time it has waited. Small jobs pass a large one, and a large one
still runs once it has waited as long as its cost. A job that waits longer than
``queue_timeout_s`` fails instead of running for a client that gave up; ``timeout_s``, the
budget of one running job, is below it.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

from llmplan.api.schemas import JobStatus
from llmplan.api.worker import worker_main
from llmplan.errors import LlmplanError

log = logging.getLogger("llmplan.api.jobs")
POLL_S = 0.05
WORKER_START_TIMEOUT_S = 120.0
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
OnSuccess = Callable[[dict[str, Any]], str | None]


class JobNotFound(LlmplanError, LookupError):
    """No job with that id (never submitted, or forgotten)."""


class QueueFull(LlmplanError, RuntimeError):
    """Too many jobs are waiting."""


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class Job:
    """A snapshot of one job."""

    id: str
    kind: str
    status: JobStatus
    progress: float
    stage: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: JobError | None = None
    result: dict[str, Any] | None = None
    saved_id: str | None = None


@dataclass
class _Entry:
    job: Job
    params: dict[str, Any]
    on_success: OnSuccess | None
    cost_s: float = 1.0
    queued_at: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)

    def priority(self, now: float) -> float:
        """Lower runs first: the estimated cost less the seconds waited (aging)."""
        return self.cost_s - (now - self.queued_at)


def _now() -> datetime:
    return datetime.now(UTC)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process: SpawnProcess | None = None
        self.conn: Connection | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def start(self, stop: threading.Event) -> bool:
        """Start the process and wait until it is ready (False if stopped meanwhile)."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=worker_main, args=(child, str(self.home)), daemon=True, name="llmplan-job"
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not stop.is_set() and time.monotonic() < deadline and process.is_alive():
            try:
                if parent.poll(POLL_S):
                    return bool(parent.recv() == ("ready",))
            except (EOFError, OSError):
                break
        self.kill()
        return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join(timeout=5)
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None


class JobRunner:
    """Queue and worker processes for long operations."""

    def __init__(
        self,
        home: Path,
        *,
        workers: int = 1,
        timeout_s: float = 120.0,
        max_pending: int = 16,
        keep_finished: int = 100,
        queue_timeout_s: float = 900.0,
    ) -> None:
        self.home = home
        self.workers = workers
        self.timeout_s = timeout_s
        self.queue_timeout_s = queue_timeout_s
        self.max_pending = max_pending
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._work = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker processes (in the background: this returns at once)."""
        with self._lock:
            if self._threads:
                return
            self._stop.clear()
            for index in range(self.workers):
                thread = threading.Thread(
                    target=self._serve, name=f"llmplan-jobs-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Cancel what runs, stop the workers and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    # --- the public operations -------------------------------------------------------------
    def submit(
        self,
        kind: str,
        params: dict[str, Any],
        on_success: OnSuccess | None = None,
        *,
        cost_s: float = 1.0,
    ) -> Job:
        """Queue a job of estimated cost ``cost_s`` (seconds of work; it orders the queue);
        raises :class:`QueueFull` when too many are waiting."""
        self.start()
        job = Job(uuid.uuid4().hex, kind, JobStatus.QUEUED, 0.0, "queued", _now())
        with self._lock:
            waiting = sum(1 for e in self._entries.values() if e.job.status is JobStatus.QUEUED)
            if waiting >= self.max_pending:
                raise QueueFull(f"{waiting} jobs are already waiting; try again later")
            self._entries[job.id] = _Entry(job, params, on_success, cost_s=max(0.0, cost_s))
            self._work.notify()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is None:
                raise JobNotFound(job_id)
            return entry.job

    def list(self) -> list[Job]:
        """Every job known, newest first."""
        with self._lock:
            return sorted((e.job for e in self._entries.values()), key=lambda j: j.created_at)[::-1]

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (a finished one is left as it is)."""
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is None:
                raise JobNotFound(job_id)
            if entry.job.status is JobStatus.QUEUED:
                self._finish(entry, JobStatus.CANCELLED, "cancelled before it started")
            elif entry.job.status is JobStatus.RUNNING:
                entry.cancel.set()
            else:
                return entry.job
        if entry.job.status is JobStatus.RUNNING:
            self._wait_finished(entry, timeout_s=10.0)
        return self.get(job_id)

    def wait(self, job_id: str, timeout_s: float) -> Job:
        """The job once it has finished, or as it is after ``timeout_s``."""
        with self._lock:
            entry = self._entries.get(job_id)
        if entry is None:
            raise JobNotFound(job_id)
        self._wait_finished(entry, timeout_s)
        return self.get(job_id)

    # --- bookkeeping -----------------------------------------------------------------------
    def _wait_finished(self, entry: _Entry, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while entry.job.status not in FINISHED and time.monotonic() < deadline:
            time.sleep(POLL_S)

    def _update(self, entry: _Entry, **changes: Any) -> None:
        with self._lock:
            entry.job = replace(entry.job, **changes)

    def _finish(
        self, entry: _Entry, status: JobStatus, stage: str, error: JobError | None = None
    ) -> None:
        """Mark a job finished (the caller holds the lock) and forget the oldest ones."""
        progress = 1.0 if status is JobStatus.SUCCEEDED else entry.job.progress
        entry.job = replace(
            entry.job,
            status=status,
            stage=stage,
            error=error,
            finished_at=_now(),
            progress=progress,
        )
        finished = [e for e in self._entries.values() if e.job.status in FINISHED]
        by_age = sorted(finished, key=lambda e: e.job.finished_at or e.job.created_at)
        for old in by_age[: -self.keep_finished]:
            del self._entries[old.job.id]

    def _finish_locked(
        self, entry: _Entry, status: JobStatus, stage: str, error: JobError | None = None
    ) -> None:
        with self._lock:
            self._finish(entry, status, stage, error)

    # --- the dispatcher threads ------------------------------------------------------------
    def _serve(self) -> None:
        worker = _Worker(self.home)
        try:
            while not self._stop.is_set():
                if not worker.alive and not worker.start(self._stop):
                    if not self._stop.is_set():
                        log.error("a job worker process did not start; trying again")
                    self._stop.wait(1.0)
                    continue
                entry = self._claim_next()
                if entry is not None:
                    self._run(worker, entry)
        finally:
            worker.kill()

    def _claim_next(self) -> _Entry | None:
        """The queued job to run next, marked running (None after a short wait if none);
        jobs that waited past ``queue_timeout_s`` fail on the way."""
        with self._lock:
            now = time.monotonic()
            queued = [e for e in self._entries.values() if e.job.status is JobStatus.QUEUED]
            for stale in [e for e in queued if now - e.queued_at > self.queue_timeout_s]:
                message = f"the job waited longer than {self.queue_timeout_s:g} s in the queue"
                self._finish(stale, JobStatus.FAILED, "failed", JobError("timeout", message))
                queued.remove(stale)
            if not queued:
                self._work.wait(POLL_S * 4)
                return None
            entry = min(queued, key=lambda e: e.priority(now))
            entry.job = replace(
                entry.job, status=JobStatus.RUNNING, stage="started", started_at=_now()
            )
            return entry

    def _run(self, worker: _Worker, entry: _Entry) -> None:
        """Send a job to the worker and follow it to its end."""
        assert worker.conn is not None
        try:
            worker.conn.send(("run", entry.job.kind, entry.params))
        except (OSError, ValueError):
            worker.kill()
            self._finish_locked(entry, JobStatus.FAILED, "failed", _DIED)
            return
        started = time.monotonic()
        while True:
            stopped = self._interrupted(entry, started)
            if stopped is not None:
                worker.kill()
                self._finish_locked(entry, *stopped)
                return
            message = self._receive(worker)
            if message is None:
                continue
            if message[0] == "progress":
                self._update(entry, progress=float(message[1]), stage=str(message[2]))
                continue
            self._conclude(entry, message)
            return

    def _interrupted(
        self, entry: _Entry, started: float
    ) -> tuple[JobStatus, str, JobError | None] | None:
        if entry.cancel.is_set():
            return JobStatus.CANCELLED, "cancelled", None
        if self._stop.is_set():
            return JobStatus.CANCELLED, "cancelled: the server stopped", None
        if time.monotonic() - started > self.timeout_s:
            error = JobError("timeout", f"the job ran longer than {self.timeout_s:g} s")
            return JobStatus.FAILED, "failed", error
        return None

    def _receive(self, worker: _Worker) -> tuple[Any, ...] | None:
        """The next message, None if none yet; ``("died",)`` if the worker is gone."""
        assert worker.conn is not None
        try:
            if worker.conn.poll(POLL_S):
                message: tuple[Any, ...] = worker.conn.recv()
                return message
        except (EOFError, OSError):
            worker.kill()
            return ("died",)
        if not worker.alive:
            worker.kill()
            return ("died",)
        return None

    def _conclude(self, entry: _Entry, message: tuple[Any, ...]) -> None:
        if message[0] == "done":
            self._succeed(entry, message[1])
        elif message[0] == "error":
            error = JobError(str(message[1]), str(message[2]), message[3])
            self._finish_locked(entry, JobStatus.FAILED, "failed", error)
        else:
            self._finish_locked(entry, JobStatus.FAILED, "failed", _DIED)

    def _succeed(self, entry: _Entry, result: dict[str, Any]) -> None:
        self._update(entry, stage="saving the result", progress=0.95)
        saved_id = None
        if entry.on_success is not None:
            try:
                saved_id = entry.on_success(result)
            except Exception as exc:  # the result is computed; say why it was not saved
                error = JobError("not_saved", f"the result could not be saved: {exc}")
                with self._lock:
                    entry.job = replace(entry.job, result=result)
                    self._finish(entry, JobStatus.FAILED, "failed", error)
                return
        with self._lock:
            entry.job = replace(entry.job, result=result, saved_id=saved_id)
            self._finish(entry, JobStatus.SUCCEEDED, "done")


_DIED = JobError("worker_died", "the worker process stopped unexpectedly (out of memory?)")
