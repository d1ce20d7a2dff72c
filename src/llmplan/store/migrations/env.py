"""Alembic environment: runs on the connection :mod:`llmplan.store.engine` passes in."""

from __future__ import annotations

from alembic import context

from llmplan.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "llmplan migrations run through llmplan.store.engine.upgrade(engine), "
        "which passes the connection"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
