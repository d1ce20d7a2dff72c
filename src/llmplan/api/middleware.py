"""ASGI middleware: Host/Origin checks, bearer-token authentication, the request-size
limit, the input guard and the last-resort error handler.

Each answers with the API's error shape before any route runs. The body limit reads the
body (at most ``max_bytes``) before the route does, so a request over the limit is refused
with 413 whether or not it declared its length, and a route never sees a partial body;
then a JSON body nested deeper than :data:`llmplan.limits.MAX_NESTING_DEPTH` or holding
control characters is refused with 422 before a parser recurses into it or a database
refuses to store it. The host check refuses a ``Host`` that is not an allowed name (DNS
rebinding: a web page whose name resolves to 127.0.0.1) and an ``Origin`` of another site
on a request that changes data (cross-site requests).
"""

from __future__ import annotations

import hmac
import logging
import re
from urllib.parse import unquote, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmplan.api.errors import error_response
from llmplan.api.schemas import ErrorBody
from llmplan.limits import MAX_NESTING_DEPTH, nesting_depth

log = logging.getLogger("llmplan.api")

#: Paths answered without a token (a load balancer's health check, the web UI's page,
#: which holds no data and asks for the token itself).
OPEN_PATHS = frozenset({"/health", "/", "/web/labels.json"})
#: Path prefixes answered without a token: the web UI's scripts and styles (no data).
OPEN_PREFIXES = ("/web/static/", "/web/vendor/")
#: Methods that change nothing: an Origin of another site is checked only on the others.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A JSON escape of a control character other than tab, line feed and carriage return.
_JSON_CONTROL = re.compile(
    rb"\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


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
        body = b"".join(chunks)
        problem = body_problem(body) or query_problem(scope)
        if problem is not None:
            response = error_response(422, ErrorBody(code="invalid_input", message=problem))
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that gives ``body`` once, then defers to ``receive``."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


def _host_name(value: str) -> str:
    """The host of a ``Host`` header or an origin's netloc, lower case, port removed."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostCheck:
    """Answer only requests whose ``Host`` is an allowed name (``"*"``: any), and refuse
    a request that may change data when its ``Origin`` is another site."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = frozenset(_host_name(h) for h in allowed_hosts)

    def _refusal(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        host = _host_name(headers.get("host", ""))
        if not self.any_host and host not in self.allowed:
            return f"the Host '{host[:60]}' is not one this server answers to"
        origin = headers.get("origin")
        if origin is None or scope.get("method", "GET") in SAFE_METHODS:
            return None
        origin_host = _host_name(urlsplit(origin).netloc) if origin != "null" else "null"
        if origin_host != host and origin_host not in self.allowed:
            return f"requests from the origin '{origin[:60]}' are not accepted"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        message = f"{refusal}: add it with `llmplan serve --allowed-host NAME`"
        response = error_response(403, ErrorBody(code="forbidden_host", message=message))
        await response(scope, receive, send)


def body_problem(body: bytes) -> str | None:
    """Why a request body is refused before parsing, or None."""
    if _JSON_CONTROL.search(body):
        return "control characters (U+0000-U+001F but tab and line breaks) are not accepted"
    depth = nesting_depth(body.decode("utf-8", "replace")) if b"[" in body or b"{" in body else 0
    if depth > MAX_NESTING_DEPTH + 4:
        return f"the body is nested {depth} levels deep, more than {MAX_NESTING_DEPTH + 4}"
    return None


def query_problem(scope: Scope) -> str | None:
    """Why a URL is refused (a control character in its path or query), or None."""
    raw = scope.get("query_string", b"").decode("latin-1")
    text = unquote(raw) + scope.get("path", "")
    if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        return "control characters are not accepted in the URL"
    return None


class LastResort:
    """Turn an exception no handler took into a 500 in the API's error shape, logged with
    its traceback, without dropping the client's keep-alive connection (Starlette's own
    handler re-raises, and the server then resets the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = ErrorBody(
                code="internal",
                message=f"internal error ({type(exc).__name__}); this is a bug in llmplan, "
                "please report it with the request that caused it",
            )
            await error_response(500, body)(scope, receive, send)
