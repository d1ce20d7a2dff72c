"""``llmplan serve``: the REST API on this machine (needs the ``web`` extra).

With no option it listens on 127.0.0.1:8000 and keeps saved scenarios in SQLite under
``$LLMPLAN_HOME`` (default ``~/.llmplan/llmplan.db``), created on first start.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmplan.cli.common import error_console, fail, handle_errors, user_home

if TYPE_CHECKING:
    from fastapi import FastAPI

    from llmplan.api import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Connections uvicorn serves at once; more are answered 503 rather than queued forever.
MAX_CONNECTIONS = 256
MISSING_EXTRA = "llmplan serve needs the web extra: python3 -m pip install 'llmplan[web]'"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_hosts(host: str, extra: list[str]) -> tuple[str, ...]:
    """Host names the server answers to: this machine's, the bound address, ``extra``
    and those of ``$LLMPLAN_ALLOWED_HOSTS`` (comma-separated)."""
    from llmplan.api.settings import DEFAULT_ALLOWED_HOSTS

    bound = [] if host in ("0.0.0.0", "::", "") else [host]
    from_env = os.environ.get("LLMPLAN_ALLOWED_HOSTS", "").split(",")
    named = [h.strip() for h in (*extra, *from_env) if h.strip()]
    return tuple(dict.fromkeys([*DEFAULT_ALLOWED_HOSTS, *bound, *named]))


def _shown_url(url: str) -> str:
    """``url`` with any password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@handle_errors
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 serves this machine only.")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="LLMPLAN_DATABASE_URL",
            help="SQLAlchemy URL, e.g. postgresql://user:pass@host/db "
            "(default: SQLite in $LLMPLAN_HOME/llmplan.db).",
            show_default=False,
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding an API token: every request but GET /health must then send "
            "'Authorization: Bearer <token>'.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes running plans (jobs).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients use to reach the server (repeat for several; '*': "
            "any). Always allowed: localhost, 127.0.0.1, ::1 and the --host address.",
        ),
    ] = None,
) -> None:
    """Serve the REST API (OpenAPI schema at /openapi.json, interactive docs at /docs)."""
    try:
        import uvicorn

        from llmplan.api import Settings, read_token_file
    except ImportError:
        raise fail(MISSING_EXTRA) from None
    token = read_token_file(token_file) if token_file is not None else None
    settings = Settings(
        home=user_home(),
        database_url=database_url,
        token=token,
        job_workers=workers,
        allowed_hosts=_allowed_hosts(host, allowed_host or []),
    )
    app = _create(settings)
    _announce(host, port, settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=10,
    )


def _announce(host: str, port: int, settings: Settings) -> None:
    """Where the API listens, which database it uses; a warning if it is open to all."""
    if settings.token is None and not _is_loopback(host):
        error_console.print(
            f"warning: listening on {host} without --token-file: anyone who can reach this "
            "port can read and change your saved scenarios",
            style="yellow",
            highlight=False,
        )
    if host in ("0.0.0.0", "::") and set(settings.allowed_hosts) <= {
        "localhost",
        "127.0.0.1",
        "::1",
    }:
        error_console.print(
            "warning: listening on all addresses but answering only requests addressed to "
            "localhost; name the host clients use with --allowed-host NAME",
            style="yellow",
            highlight=False,
        )
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    error_console.print(
        f"llmplan API on http://{shown}:{port} (docs: /docs); database "
        f"{_shown_url(settings.resolved_database_url)}",
        highlight=False,
        soft_wrap=True,
    )


def _create(settings: Settings) -> FastAPI:
    """The app, or one error line if the database cannot be opened or migrated."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from llmplan.api import create_app

    try:
        return create_app(settings)
    except ArgumentError as exc:
        raise fail(f"--database-url: not a database URL ({exc})") from None
    except ModuleNotFoundError as exc:  # the database driver (psycopg) is missing
        raise fail(f"--database-url: the driver is not installed ({exc.name})") from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        url = _shown_url(settings.resolved_database_url)
        raise fail(f"cannot open the database {url}: {reason}") from None
