"""Settings of the API server: where data lives, who may call, how much one request may do.

A frozen record of parameters; nothing is read or created when it is built.
:meth:`Settings.from_env` reads ``LLMPLAN_HOME`` and ``LLMPLAN_DATABASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from llmplan.errors import InputError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Host names the server answers to unless told otherwise: this machine's only, so that a
#: web page whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing.
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Settings:
    """Everything :func:`llmplan.api.create_app` needs.

    ``database_url`` None means SQLite in ``home/llmplan.db``; ``token`` None means no
    authentication. The ``max_*`` limits bound the work one request can cause;
    ``job_timeout_s`` bounds one running job, ``queue_timeout_s`` (longer) its wait in the
    queue; ``allowed_hosts`` are the ``Host`` names answered (``"*"``: any).
    """

    home: Path
    database_url: str | None = None
    token: str | None = None
    max_body_bytes: int = 1_048_576
    max_monte_carlo_samples: int = 10_000
    max_measurement_rows: int = 10_000
    max_simulated_requests: int = 200_000
    max_pending_jobs: int = 16
    job_workers: int = 1
    job_timeout_s: float = 120.0
    queue_timeout_s: float = 900.0
    finished_jobs_kept: int = 100
    docs: bool = True
    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS

    def __post_init__(self) -> None:
        counts = ("max_body_bytes", "max_simulated_requests", "max_pending_jobs")
        for name in (*counts, "job_workers", "finished_jobs_kept"):
            if getattr(self, name) < 1:
                raise InputError(f"must be >= 1, got {getattr(self, name)}", field=name)
        if not 0 < self.job_timeout_s < self.queue_timeout_s:
            raise InputError(
                f"must be > 0 and below queue_timeout_s ({self.queue_timeout_s:g}), got "
                f"{self.job_timeout_s:g}",
                field="job_timeout_s",
            )
        if not self.allowed_hosts or not all(h.strip() for h in self.allowed_hosts):
            raise InputError("give at least one host name, none empty", field="allowed_hosts")
        if self.token is not None and not self.token.strip():
            raise InputError("the API token is empty", field="token")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, SQLite under ``home`` by default."""
        return self.database_url or f"sqlite:///{self.home / 'llmplan.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``LLMPLAN_HOME`` (default ``~/.llmplan``),
        ``LLMPLAN_DATABASE_URL`` and ``LLMPLAN_ALLOWED_HOSTS`` (comma-separated names,
        added to the defaults); keyword arguments override fields."""
        env = os.environ if environ is None else environ
        home = Path(env.get("LLMPLAN_HOME") or Path.home() / ".llmplan")
        values: dict[str, object] = {
            "home": home,
            "database_url": env.get("LLMPLAN_DATABASE_URL") or None,
        }
        extra_hosts = [h.strip() for h in env.get("LLMPLAN_ALLOWED_HOSTS", "").split(",")]
        if any(extra_hosts):
            values["allowed_hosts"] = (*DEFAULT_ALLOWED_HOSTS, *filter(None, extra_hosts))
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def read_token_file(path: Path) -> str:
    """The API token in ``path`` (surrounding white space removed)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read the token file ({exc})", field="token_file"
        ) from None
    if not token:
        raise InputError(f"{path}: the token file is empty", field="token_file")
    if any(c.isspace() for c in token):
        raise InputError(f"{path}: the token must be one word", field="token_file")
    return token
