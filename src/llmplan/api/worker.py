"""A worker process that runs jobs one at a time (the child side of :mod:`llmplan.api.jobs`).

Messages on the pipe, parent to child: ``("run", kind, params)`` or None (stop). Child to
parent: ``("ready",)`` once the catalogs are loaded, then for each job any number of
``("progress", fraction, stage)`` and one ``("done", payload)`` or
``("error", code, message, field)``. The worker ends when the pipe closes, so it never
outlives its server. Cancelling a running job kills the worker; the server starts another.
"""

from __future__ import annotations

import contextlib
import signal
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from llmplan.api.catalogs import CatalogCache
from llmplan.errors import LlmplanError

Message = tuple[Any, ...]


def run_task(kind: str, params: dict[str, Any], cache: CatalogCache, conn: Connection) -> Message:
    """Run one task; its outcome as the message to send."""
    from llmplan.api.tasks import TASKS

    def report(fraction: float, stage: str) -> None:
        conn.send(("progress", min(max(fraction, 0.0), 1.0), stage))

    task = TASKS.get(kind)
    if task is None:
        return ("error", "not_implemented", f"no task of kind '{kind}'", "kind")
    try:
        return ("done", task(params, cache, report))
    except LlmplanError as exc:
        return ("error", "invalid_input", str(exc), exc.field)
    except Exception as exc:  # a bug: report it rather than kill the worker
        traceback.print_exc()
        return ("error", "internal", f"{type(exc).__name__}: {exc}", None)


def worker_main(conn: Connection, home: str) -> None:
    """Entry point of the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    cache = CatalogCache(Path(home))
    with contextlib.suppress(LlmplanError):  # reported by the first job that needs it
        cache.catalog()
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _, kind, params = message
        conn.send(run_task(kind, params, cache, conn))
