"""The FastAPI application: :func:`create_app` wires settings, store, catalogs and jobs.

Creating the app opens the database and applies pending migrations (so a bad database
URL fails at once, before the server listens); starting it (the ASGI lifespan) starts the
job workers, and stopping it stops them and closes the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from llmplan.api.catalogs import CatalogCache
from llmplan.api.docs import install_docs
from llmplan.api.errors import install_error_handlers
from llmplan.api.jobs import JobRunner
from llmplan.api.middleware import BodyLimit, HostCheck, LastResort, TokenAuth
from llmplan.api.routes import catalog, compute, deploy, history, plans, scenarios, system
from llmplan.api.settings import Settings
from llmplan.api.state import AppState
from llmplan.scenario import Scenario
from llmplan.store import Store

DESCRIPTION = """\
llmplan behind HTTP: memory, performance, validation, simulation and plans on the same
scenario schema and engine as the command line, saved scenarios with their history, and plan
results. Every error is `{code, message, field}`; bad input is HTTP 422 naming the field.
Plans and simulations run as jobs: `POST /api/v1/plans` or `/api/v1/simulate`, then
`GET /api/v1/jobs/{id}`.
"""


def _scenario_schemas() -> dict[str, Any]:
    """JSON Schemas of the scenario and its parts, as OpenAPI components."""
    _, top = models_json_schema(
        [(Scenario, "validation")], ref_template="#/components/schemas/{model}"
    )
    defs: dict[str, Any] = top.get("$defs", {})
    return defs


ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _document_errors(schema: dict[str, Any]) -> None:
    """Every 422 answers :class:`ErrorBody` (FastAPI documents its own shape)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response is not None:
                response["description"] = "Bad input: the field and the reason"
                response["content"] = {"application/json": {"schema": ERROR_REF}}
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def _openapi(app: FastAPI, token: bool) -> Any:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(_scenario_schemas())
            _document_errors(schema)
            if token:
                components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
                schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def _state(settings: Settings) -> AppState:
    store = Store.open(settings.resolved_database_url)
    jobs = JobRunner(
        settings.home,
        workers=settings.job_workers,
        timeout_s=settings.job_timeout_s,
        queue_timeout_s=settings.queue_timeout_s,
        max_pending=settings.max_pending_jobs,
        keep_finished=settings.finished_jobs_kept,
    )
    return AppState(settings, store, CatalogCache(settings.home), jobs)


def _install_web(app: FastAPI) -> None:
    """The browser UI at ``/`` (:mod:`llmplan.web`), when its files are installed."""
    try:
        from llmplan.web import install_web
    except ImportError:  # pragma: no cover - a build without the web package
        return
    install_web(app)


def create_app(settings: Settings) -> FastAPI:
    """The llmplan API for ``settings`` (database migrated; workers start with the app)."""
    state = _state(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.jobs.start()
        await state.catalogs.current_catalog()  # loaded before the first request
        await state.catalogs.current_prices()
        try:
            yield
        finally:
            state.jobs.stop()
            state.store.close()

    from llmplan.api.routes.system import _version

    app = FastAPI(
        title="llmplan",
        version=_version(),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.llmplan = state
    install_error_handlers(app)
    for module in (system, compute, catalog, scenarios, history, plans, deploy):
        app.include_router(module.router)
    install_docs(app, settings.docs)
    _install_web(app)
    app.openapi = _openapi(app, settings.token is not None)  # type: ignore[method-assign]
    app.add_middleware(LastResort)  # innermost: sees every exception a handler left
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TokenAuth, token=settings.token)
    app.add_middleware(HostCheck, allowed_hosts=settings.allowed_hosts)  # outermost
    return app
