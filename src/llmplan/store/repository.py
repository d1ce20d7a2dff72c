"""The store: saved scenarios with their history, and plan results.

Every method runs in its own transaction and returns frozen records (never ORM objects),
so nothing half-written is ever visible and callers hold no database state. Updates are
optimistic: the caller names the version it read (``expected_version``); the store bumps
the version only if it is still current, in the same statement, and otherwise raises
:class:`~llmplan.store.errors.VersionConflictError`. A version row is inserted in the same
transaction as the bump, so a crash between the two leaves the previous version current.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from llmplan.store.engine import WRITE_OPTION, make_engine, upgrade
from llmplan.store.errors import NotFoundError, VersionConflictError
from llmplan.store.models import PlanResultRow, ScenarioRow, ScenarioVersionRow

T = TypeVar("T")
MAX_PAGE = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the number of matching records in all."""

    items: tuple[T, ...]
    total: int


@dataclass(frozen=True)
class ScenarioSummary:
    id: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ScenarioRecord:
    """One version of a saved scenario (``version``; the newest is ``latest_version``)."""

    id: str
    version: int
    latest_version: int
    name: str
    note: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version_created_at: datetime
    #: The scenario file as written (comments kept); None when saved from an object.
    text: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    name: str
    note: str
    created_at: datetime


@dataclass(frozen=True)
class PlanRecord:
    """A saved plan result; ``payload`` is None in listings."""

    id: str
    scenario_id: str | None
    scenario_version: int | None
    scenario_name: str
    seed: int
    samples: int
    recommended: str | None
    npv_usd: float | None
    created_at: datetime
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewPlan:
    """What :meth:`Store.save_plan` needs to save a plan payload."""

    scenario_name: str
    seed: int
    samples: int
    payload: dict[str, Any]
    scenario_id: str | None = None
    scenario_version: int | None = None
    recommended: str | None = None
    npv_usd: float | None = None


def _page_bounds(limit: int, offset: int) -> tuple[int, int]:
    return max(0, min(limit, MAX_PAGE)), max(0, offset)


def _plan_record(row: PlanResultRow, with_payload: bool) -> PlanRecord:
    return PlanRecord(
        id=row.id,
        scenario_id=row.scenario_id,
        scenario_version=row.scenario_version,
        scenario_name=row.scenario_name,
        seed=row.seed,
        samples=row.samples,
        recommended=row.recommended,
        npv_usd=row.npv_usd,
        created_at=_aware(row.created_at),
        payload=dict(row.payload) if with_payload else None,
    )


class Store:
    """Saved scenarios and plan results in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        # SQLite has one writer at a time; queueing this process's writers on a lock hands
        # the turn over at once, where SQLite's busy handler would poll with sleeps.
        sqlite = engine.dialect.name == "sqlite"
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if sqlite else nullcontext()
        )

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` and (by default) apply any pending migration."""
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with (
            self._write_lock,
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    # --- scenarios ---------------------------------------------------------------------
    def create_scenario(
        self, name: str, data: dict[str, Any], note: str = "", text: str | None = None
    ) -> ScenarioRecord:
        """Save a new scenario as version 1 (``text``: its file as written, kept verbatim)."""
        scenario_id, now = new_id(), _now()
        with self._write() as session:
            session.execute(
                insert(ScenarioRow).values(
                    id=scenario_id, name=name, current_version=1, created_at=now, updated_at=now
                )
            )
            self._insert_version(session, scenario_id, 1, name, (data, text), note, now)
        return ScenarioRecord(scenario_id, 1, 1, name, note, data, now, now, now, text)

    def _insert_version(
        self,
        session: Session,
        scenario_id: str,
        version: int,
        name: str,
        content: tuple[dict[str, Any], str | None],
        note: str,
        now: datetime,
    ) -> None:
        data, text = content
        session.execute(
            insert(ScenarioVersionRow).values(
                scenario_id=scenario_id,
                version=version,
                name=name,
                note=note,
                data=data,
                text=text,
                created_at=now,
            )
        )

    def list_scenarios(
        self, search: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[ScenarioSummary]:
        """Scenarios whose name contains ``search`` (any case), most recently updated first."""
        limit, offset = _page_bounds(limit, offset)
        where = [ScenarioRow.name.icontains(search, autoescape=True)] if search else []
        with self._read() as session:
            total = session.scalar(select(func.count()).select_from(ScenarioRow).where(*where))
            rows = session.scalars(
                select(ScenarioRow)
                .where(*where)
                .order_by(ScenarioRow.updated_at.desc(), ScenarioRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            items = tuple(
                ScenarioSummary(
                    r.id, r.name, r.current_version, _aware(r.created_at), _aware(r.updated_at)
                )
                for r in rows
            )
        return Page(items, int(total or 0))

    def get_scenario(self, scenario_id: str, version: int | None = None) -> ScenarioRecord:
        """The current version of a scenario, or the version asked for."""
        with self._read() as session:
            head = session.get(ScenarioRow, scenario_id)
            if head is None:
                raise NotFoundError("scenario", scenario_id)
            wanted = head.current_version if version is None else version
            row = session.get(ScenarioVersionRow, (scenario_id, wanted))
            if row is None:
                raise NotFoundError("version", f"{scenario_id} v{wanted}")
            return ScenarioRecord(
                id=scenario_id,
                version=row.version,
                latest_version=head.current_version,
                name=row.name,
                note=row.note,
                data=dict(row.data),
                created_at=_aware(head.created_at),
                updated_at=_aware(head.updated_at),
                version_created_at=_aware(row.created_at),
                text=row.text,
            )

    def list_versions(self, scenario_id: str) -> list[VersionInfo]:
        """Every saved version of a scenario, newest first."""
        with self._read() as session:
            if session.get(ScenarioRow, scenario_id) is None:
                raise NotFoundError("scenario", scenario_id)
            rows = session.scalars(
                select(ScenarioVersionRow)
                .where(ScenarioVersionRow.scenario_id == scenario_id)
                .order_by(ScenarioVersionRow.version.desc())
            ).all()
            return [VersionInfo(r.version, r.name, r.note, _aware(r.created_at)) for r in rows]

    def update_scenario(
        self,
        scenario_id: str,
        name: str,
        data: dict[str, Any],
        *,
        expected_version: int | None,
        note: str = "",
        text: str | None = None,
    ) -> ScenarioRecord:
        """Save a new version; ``expected_version`` None overwrites whatever is current."""
        now = _now()
        with self._write() as session:
            version = self._bump(session, scenario_id, expected_version, name, now)
            self._insert_version(session, scenario_id, version, name, (data, text), note, now)
            created = session.scalar(
                select(ScenarioRow.created_at).where(ScenarioRow.id == scenario_id)
            )
        assert created is not None  # the row was just updated in this transaction
        return ScenarioRecord(
            scenario_id, version, version, name, note, data, _aware(created), now, now, text
        )

    def _bump(
        self,
        session: Session,
        scenario_id: str,
        expected: int | None,
        name: str,
        now: datetime,
    ) -> int:
        """Increment the current version if it is ``expected``; the new version number."""
        condition = [ScenarioRow.id == scenario_id]
        if expected is not None:
            condition.append(ScenarioRow.current_version == expected)
        new_version = session.execute(
            update(ScenarioRow)
            .where(*condition)
            .values(current_version=ScenarioRow.current_version + 1, name=name, updated_at=now)
            .returning(ScenarioRow.current_version)
        ).scalar_one_or_none()
        if new_version is None:
            raise self._missing_or_conflict(session, scenario_id, expected)
        return int(new_version)

    def _missing_or_conflict(
        self, session: Session, scenario_id: str, expected: int | None
    ) -> Exception:
        current = session.scalar(
            select(ScenarioRow.current_version).where(ScenarioRow.id == scenario_id)
        )
        if current is None or expected is None:
            return NotFoundError("scenario", scenario_id)
        return VersionConflictError(scenario_id, expected, current)

    def delete_scenario(self, scenario_id: str, *, expected_version: int | None = None) -> None:
        """Delete a scenario, its history and its plan results."""
        condition = [ScenarioRow.id == scenario_id]
        if expected_version is not None:
            condition.append(ScenarioRow.current_version == expected_version)
        with self._write() as session:
            deleted = session.execute(
                delete(ScenarioRow).where(*condition).returning(ScenarioRow.id)
            ).scalar_one_or_none()
            if deleted is None:
                raise self._missing_or_conflict(session, scenario_id, expected_version)
            # ON DELETE CASCADE does this too; explicit so no database setting can skip it.
            session.execute(
                delete(ScenarioVersionRow).where(ScenarioVersionRow.scenario_id == scenario_id)
            )
            session.execute(delete(PlanResultRow).where(PlanResultRow.scenario_id == scenario_id))

    # --- plan results --------------------------------------------------------------------
    def save_plan(self, plan: NewPlan) -> PlanRecord:
        """Save a plan result; its scenario version, if given, must exist."""
        plan_id, now = new_id(), _now()
        with self._write() as session:
            if plan.scenario_id is not None:
                key = (plan.scenario_id, plan.scenario_version or 0)
                if session.get(ScenarioVersionRow, key) is None:
                    raise NotFoundError(
                        "scenario version", f"{plan.scenario_id} v{plan.scenario_version}"
                    )
            session.execute(
                insert(PlanResultRow).values(
                    id=plan_id,
                    scenario_id=plan.scenario_id,
                    scenario_version=plan.scenario_version,
                    scenario_name=plan.scenario_name,
                    seed=plan.seed,
                    samples=plan.samples,
                    recommended=plan.recommended,
                    npv_usd=plan.npv_usd,
                    payload=plan.payload,
                    created_at=now,
                )
            )
        return PlanRecord(
            plan_id,
            plan.scenario_id,
            plan.scenario_version,
            plan.scenario_name,
            plan.seed,
            plan.samples,
            plan.recommended,
            plan.npv_usd,
            now,
            plan.payload,
        )

    def list_plans(
        self,
        scenario_id: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[PlanRecord]:
        """Plan results (without payloads), newest first."""
        limit, offset = _page_bounds(limit, offset)
        where = []
        if scenario_id is not None:
            where.append(PlanResultRow.scenario_id == scenario_id)
        if search:
            where.append(
                or_(
                    PlanResultRow.scenario_name.icontains(search, autoescape=True),
                    PlanResultRow.recommended.icontains(search, autoescape=True),
                )
            )
        with self._read() as session:
            total = session.scalar(select(func.count()).select_from(PlanResultRow).where(*where))
            rows = session.scalars(
                select(PlanResultRow)
                .where(*where)
                .order_by(PlanResultRow.created_at.desc(), PlanResultRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            items = tuple(_plan_record(r, with_payload=False) for r in rows)
        return Page(items, int(total or 0))

    def get_plan(self, plan_id: str) -> PlanRecord:
        with self._read() as session:
            row = session.get(PlanResultRow, plan_id)
            if row is None:
                raise NotFoundError("plan result", plan_id)
            return _plan_record(row, with_payload=True)

    def delete_plan(self, plan_id: str) -> None:
        with self._write() as session:
            gone = session.execute(
                delete(PlanResultRow).where(PlanResultRow.id == plan_id).returning(PlanResultRow.id)
            ).scalar_one_or_none()
            if gone is None:
                raise NotFoundError("plan result", plan_id)
