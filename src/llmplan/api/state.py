"""What the routes share: settings, store, catalogs and the job runner of one app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from llmplan.api.catalogs import CatalogCache
from llmplan.api.jobs import JobRunner
from llmplan.api.settings import Settings
from llmplan.store import Store

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class AppState:
    settings: Settings
    store: Store
    catalogs: CatalogCache
    jobs: JobRunner


async def get_state(request: Request) -> AppState:
    """(async: FastAPI runs a sync dependency in a worker thread, a needless hop.)"""
    state = request.app.state.llmplan
    assert isinstance(state, AppState)
    return state


#: Route parameter type giving the app's :class:`AppState`.
State = Annotated[AppState, Depends(get_state)]
