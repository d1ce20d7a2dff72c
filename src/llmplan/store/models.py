"""Tables of the store (SQLAlchemy 2.x declarative models).

``scenarios`` holds one row per saved scenario with its current version; every saved
version lives in ``scenario_versions`` (its data, and its text as written when it was
saved from a file's text; never updated, never deleted while its scenario
exists); ``plan_results`` holds plan payloads, tied to the scenario version they planned
when there is one. The migrations in ``migrations/versions`` create exactly these tables
(``tests/test_store.py`` checks that they agree).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
ID_LENGTH = 32
NAME_LENGTH = 200
NOTE_LENGTH = 500
OPTION_LENGTH = 40

#: JSON documents: ``jsonb`` on PostgreSQL, JSON text elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ScenarioRow(Base):
    __tablename__ = "scenarios"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ScenarioVersionRow(Base):
    __tablename__ = "scenario_versions"

    scenario_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    note: Mapped[str] = mapped_column(String(NOTE_LENGTH))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    #: The scenario file exactly as the user wrote it (comments, integers, key order);
    #: None for a version saved from an object or by llmplan before 0002.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlanResultRow(Base):
    __tablename__ = "plan_results"
    __table_args__ = (Index("ix_plan_results_scenario", "scenario_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    scenario_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("scenarios.id", ondelete="CASCADE"), nullable=True
    )
    scenario_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scenario_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    seed: Mapped[int] = mapped_column(BigInteger)
    samples: Mapped[int] = mapped_column(Integer)
    recommended: Mapped[str | None] = mapped_column(String(OPTION_LENGTH), nullable=True)
    npv_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
