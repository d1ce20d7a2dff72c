"""One error shape for every failure (:class:`~llmplan.api.schemas.ErrorBody`).

Bad input (a body that fails the request schema, a scenario that fails the scenario schema,
an unknown catalog name, a model that does not fit) is HTTP 422 naming the field and the
reason; nothing is changed. Unknown ids are 404, a stale version 409, a missing version
428, a full job queue 503 (with Retry-After), a Host or Origin this server does not answer to
403. A calibration sent in a request is input: its faults are 422 too. 500 means a bug
(:class:`llmplan.api.middleware.LastResort`).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmplan.api.jobs import JobNotFound, QueueFull
from llmplan.api.schemas import ErrorBody, FieldError
from llmplan.errors import CatalogError, LlmplanError
from llmplan.store import NotFoundError, VersionConflictError

log = logging.getLogger("llmplan.api")
MAX_QUOTED_CHARS = 60
_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ApiError(LlmplanError):
    """An error answer raised by a route: HTTP status, code, message and field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def __str__(self) -> str:  # the message alone, as before it joined the tree
        return self.message


def error_response(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _path(loc: Sequence[Any]) -> str:
    parts = list(loc[1:] if loc and loc[0] in _LOCATIONS else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _quote(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 3] + "..."


def _unknown_key(error: dict[str, Any], request: Request) -> str:
    """'unknown field; did you mean ...' with the allowed names of the request body."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    names = list(getattr(model, "model_fields", {}) or {})
    key = str(error["loc"][-1])
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6) if len(error["loc"]) == 2 else []
    return f"unknown field; did you mean '{close[0]}'?" if close else "unknown field"


def _describe(error: dict[str, Any], request: Request) -> FieldError:
    field = _path(error["loc"]) or None
    kind = error["type"]
    if kind == "extra_forbidden":
        detail = _unknown_key(error, request)
    elif kind == "missing":
        detail = "required field is missing"
    elif kind == "json_invalid":
        detail = f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
        field = None
    else:
        message = str(error["msg"])
        detail = f"{message[:1].lower()}{message[1:]}, got {_quote(error.get('input'))}"
    return FieldError(field=field, message=f"{field}: {detail}" if field else detail)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(dict(e), request) for e in exc.errors()]
    if not errors:
        errors = [FieldError(field=None, message="invalid request")]
    errors.sort(key=lambda e: "unknown field" not in e.message)
    message = "; ".join(e.message for e in errors)
    more = f" ({len(errors)} errors)" if len(errors) > 1 else ""
    body = ErrorBody(
        code="invalid_input", message=message + more, field=errors[0].field, errors=errors
    )
    return error_response(422, body)


async def _llmplan(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LlmplanError)
    if isinstance(exc, CatalogError):  # a catalog file on the server is broken
        body = ErrorBody(code="catalog_error", message=str(exc), field=exc.field)
        return error_response(500, body)
    found = exc.details or ((exc.field, str(exc)),)
    errors = [FieldError(field=field, message=message) for field, message in found]
    body = ErrorBody(code="invalid_input", message=str(exc), field=exc.field, errors=errors)
    return error_response(422, body)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, JobNotFound):
        message = (
            f"no job '{exc}': never submitted, or forgotten (this server keeps the newest "
            "finished jobs in memory, none after a restart); a plan's result is kept if it "
            "was saved: GET /api/v1/plans"
        )
    else:
        message = str(exc)
    return error_response(404, ErrorBody(code="not_found", message=message))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VersionConflictError)
    body = ErrorBody(
        code="version_conflict", message=str(exc), current_version=exc.current, field="version"
    )
    return error_response(409, body, {"ETag": f'"{exc.current}"'})


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, ErrorBody(code="busy", message=str(exc)), {"Retry-After": "5"})


async def _api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = ErrorBody(code=exc.code, message=exc.message, field=exc.field)
    return error_response(exc.status, body, exc.headers)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, ErrorBody(code=code, message=message), exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(LlmplanError, _llmplan)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(JobNotFound, _not_found)
    app.add_exception_handler(VersionConflictError, _conflict)
    app.add_exception_handler(QueueFull, _busy)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(StarletteHTTPException, _http)
    # Any other exception: llmplan.api.middleware.LastResort (500, connection kept).
