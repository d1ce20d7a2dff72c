"""ASGI middleware: bearer-token authentication and the request-size limit.

Both answer with the API's error shape before any route runs. The body limit reads the
body (at most ``max_bytes``) before the route does, so a request over the limit is refused
with 413 whether or not it declared its length, and a route never sees a partial body.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmplan.api.errors import error_response
from llmplan.api.schemas import ErrorBody

#: Paths answered without a token (a load balancer's health check, the web UI's page).
OPEN_PATHS = frozenset({"/health", "/"})
#: Path prefixes answered without a token: the web UI's scripts and styles (no data).
OPEN_PREFIXES = ("/web/static/", "/web/vendor/")


class TokenAuth:
    """Every HTTP request but :data:`OPEN_PATHS` needs ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None or _open(scope["path"]):
            await self.app(scope, receive, send)
            return
        scheme, _, value = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token):
            await self.app(scope, receive, send)
            return
        message = "this server needs an API token: send 'Authorization: Bearer <token>'"
        if scheme:
            message = "the API token is wrong"
        response = error_response(
            401,
            ErrorBody(code="unauthorized", message=message),
            {"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with HTTP 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = ErrorBody(
            code="too_large",
            message=f"the request body is larger than {self.max_bytes:,} bytes",
        )
        await error_response(413, body, {"Connection": "close"})(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that gives ``body`` once, then defers to ``receive``."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay
