"""Saved scenarios (every version kept) and plan results, in SQLite or PostgreSQL.

An edge layer like the CLI and the API: the core never imports it. Public API::

    from llmplan.store import Store
    store = Store.open("sqlite:///tmp/llmplan.db")  # migrates the schema to the newest
    saved = store.create_scenario("Chat", data)     # version 1
    store.update_scenario(saved.id, "Chat", data2, expected_version=1)  # version 2
"""

from llmplan.store.engine import default_url, make_engine, upgrade
from llmplan.store.errors import NotFoundError, StoreError, VersionConflictError
from llmplan.store.repository import (
    NewPlan,
    Page,
    PlanRecord,
    ScenarioRecord,
    ScenarioSummary,
    Store,
    VersionInfo,
)

__all__ = [
    "NewPlan",
    "NotFoundError",
    "Page",
    "PlanRecord",
    "ScenarioRecord",
    "ScenarioSummary",
    "Store",
    "StoreError",
    "VersionConflictError",
    "VersionInfo",
    "default_url",
    "make_engine",
    "upgrade",
]
