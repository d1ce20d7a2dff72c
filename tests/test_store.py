"""The store: migrations, history, version conflicts and all-or-nothing writes.

Every test runs on SQLite (a file in tmp_path) and, when ``LLMPLAN_TEST_POSTGRES_URL`` is
set (``scripts/ci-postgres.sh`` prints one), on PostgreSQL too: a throwaway database
(its name must contain "test"), whose schema each test wipes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from llmplan.store import NewPlan, NotFoundError, Store, VersionConflictError, make_engine
from llmplan.store.engine import current_revision, downgrade, head_revision, upgrade
from llmplan.store.models import Base

POSTGRES_URL = os.environ.get("LLMPLAN_TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="LLMPLAN_TEST_POSTGRES_URL not set"),
    ),
]
TABLES = {"scenarios", "scenario_versions", "plan_results", "alembic_version"}


def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """An empty database of ``backend``: a new SQLite file, or PostgreSQL wiped clean."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'llmplan.db'}"
    assert POSTGRES_URL is not None
    database = make_url(POSTGRES_URL).database or ""
    if "test" not in database:  # the tests wipe it: never a real database by mistake
        pytest.fail(f"LLMPLAN_TEST_POSTGRES_URL names '{database}'; use a database named *test*")
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url(request.param, tmp_path)


@pytest.fixture
def store(database_url: str) -> Any:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def scenario_data(name: str, requests_per_day: float = 1000.0) -> dict[str, Any]:
    return {
        "name": name,
        "workloads": [
            {
                "name": "chat",
                "model": "meta-llama/Llama-3.1-8B",
                "requests_per_day": requests_per_day,
            }
        ],
    }


# --- migrations ----------------------------------------------------------------------------
def test_migrations_create_the_schema_from_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """A model changed without a migration (or the reverse) fails here."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_go_down_to_empty_and_up_again(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert not (TABLES - {"alembic_version"}) & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_opening_twice_keeps_the_data(database_url: str) -> None:
    first = Store.open(database_url)
    saved = first.create_scenario("A", scenario_data("A"))
    first.close()
    again = Store.open(database_url)
    assert again.get_scenario(saved.id).name == "A"
    again.close()


def test_sqlite_file_and_folder_are_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'deeper' / 'llmplan.db'}"
    store = Store.open(url)
    store.close()
    assert (tmp_path / "new" / "deeper" / "llmplan.db").is_file()


# --- scenarios and history -------------------------------------------------------------------
def test_create_read_and_list(store: Store) -> None:
    a = store.create_scenario("Alpha chat", scenario_data("Alpha chat"), note="first")
    store.create_scenario("Beta_rag 100%", scenario_data("Beta_rag 100%"))
    read = store.get_scenario(a.id)
    assert (read.version, read.latest_version, read.note) == (1, 1, "first")
    assert read.data == scenario_data("Alpha chat")
    assert read.created_at.tzinfo is not None
    assert store.list_scenarios().total == 2
    assert [s.name for s in store.list_scenarios("ALPHA").items] == ["Alpha chat"]
    # LIKE wildcards in the search are taken literally
    assert store.list_scenarios("%").total == 1
    assert store.list_scenarios("_").total == 1
    assert len(store.list_scenarios(limit=1).items) == 1
    assert len(store.list_scenarios(limit=1, offset=1).items) == 1


def test_every_version_is_kept_and_readable(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A", 1000))
    for n in (2, 3):
        store.update_scenario(
            saved.id, f"A{n}", scenario_data(f"A{n}", 1000 * n), expected_version=n - 1
        )
    assert store.get_scenario(saved.id).version == 3
    assert store.get_scenario(saved.id, 1).data == scenario_data("A", 1000)
    assert store.get_scenario(saved.id, 2).name == "A2"
    assert store.get_scenario(saved.id, 2).latest_version == 3
    assert [v.version for v in store.list_versions(saved.id)] == [3, 2, 1]
    with pytest.raises(NotFoundError):
        store.get_scenario(saved.id, 4)


def test_stale_version_is_refused_and_nothing_changes(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    store.update_scenario(saved.id, "B", scenario_data("B"), expected_version=1)
    with pytest.raises(VersionConflictError) as caught:
        store.update_scenario(saved.id, "C", scenario_data("C"), expected_version=1)
    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert store.get_scenario(saved.id).name == "B"
    assert len(store.list_versions(saved.id)) == 2


def test_update_without_expected_version_overwrites(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    assert store.update_scenario(saved.id, "B", {}, expected_version=None).version == 2


def test_missing_scenario_is_not_found(store: Store) -> None:
    for call in (
        lambda: store.get_scenario("nope"),
        lambda: store.list_versions("nope"),
        lambda: store.update_scenario("nope", "A", {}, expected_version=1),
        lambda: store.update_scenario("nope", "A", {}, expected_version=None),
        lambda: store.delete_scenario("nope"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_concurrent_updates_of_one_version_let_exactly_one_win(
    store: Store, database_url: str
) -> None:
    """Six writers, on two stores (as two server processes would be), all replace v1."""
    saved = store.create_scenario("A", scenario_data("A"))
    other = Store.open(database_url)
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        barrier.wait()
        try:
            (store, other)[index % 2].update_scenario(
                saved.id, f"W{index}", scenario_data(f"W{index}"), expected_version=1
            )
            result = "won"
        except VersionConflictError:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert sorted(outcomes) == ["conflict"] * (writers - 1) + ["won"]
    assert [v.version for v in store.list_versions(saved.id)] == [2, 1]


def test_failed_write_leaves_the_previous_version_intact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = store.create_scenario("A", scenario_data("A"))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert_version", broken)  # after the version bump
    with pytest.raises(RuntimeError):
        store.update_scenario(saved.id, "B", scenario_data("B"), expected_version=1)
    monkeypatch.undo()
    current = store.get_scenario(saved.id)
    assert (current.version, current.name) == (1, "A")
    assert len(store.list_versions(saved.id)) == 1
    assert store.update_scenario(saved.id, "B", scenario_data("B"), expected_version=1).version == 2


KILLED_WRITER = """
import os, signal, sys
from llmplan.store import Store
store = Store.open(sys.argv[1])
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the server is killed in the middle of a save
store._insert_version = die
store.update_scenario(sys.argv[2], "B", {"name": "B"}, expected_version=1)
"""


def test_killed_writer_leaves_the_previous_version_intact(store: Store, database_url: str) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, database_url, saved.id],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    current = store.get_scenario(saved.id)
    assert (current.version, current.name, current.data) == (1, "A", scenario_data("A"))
    assert store.update_scenario(saved.id, "B", scenario_data("B"), expected_version=1).version == 2


def test_delete_removes_history_and_plans(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    plan = store.save_plan(NewPlan("A", 0, 10, {"x": 1}, saved.id, 1))
    other = store.create_scenario("B", scenario_data("B"))
    with pytest.raises(VersionConflictError):
        store.delete_scenario(saved.id, expected_version=2)
    store.delete_scenario(saved.id, expected_version=1)
    with pytest.raises(NotFoundError):
        store.get_scenario(saved.id)
    with pytest.raises(NotFoundError):
        store.get_plan(plan.id)
    assert store.get_scenario(other.id).name == "B"


# --- plan results --------------------------------------------------------------------------
def test_plan_results_are_saved_listed_read_and_deleted(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    payload = {"recommended": {"option": "api", "npv_usd": 12.5}, "values": [1.5, None]}
    first = store.save_plan(NewPlan("A", 7, 300, payload, saved.id, 1, "api", 12.5))
    second = store.save_plan(NewPlan("Ad hoc", 0, 0, {"recommended": None}))
    listed = store.list_plans()
    assert listed.total == 2
    assert {p.id for p in listed.items} == {first.id, second.id}
    assert all(p.payload is None for p in listed.items)
    assert [p.id for p in store.list_plans(scenario_id=saved.id).items] == [first.id]
    assert [p.id for p in store.list_plans(search="hoc").items] == [second.id]
    read = store.get_plan(first.id)
    assert (read.payload, read.seed, read.recommended, read.npv_usd) == (payload, 7, "api", 12.5)
    store.delete_plan(first.id)
    with pytest.raises(NotFoundError):
        store.get_plan(first.id)
    with pytest.raises(NotFoundError):
        store.delete_plan(first.id)


def test_plan_of_a_missing_version_is_refused(store: Store) -> None:
    saved = store.create_scenario("A", scenario_data("A"))
    with pytest.raises(NotFoundError):
        store.save_plan(NewPlan("A", 0, 0, {}, saved.id, 5))
    assert store.list_plans().total == 0


def test_large_seed_fits(store: Store) -> None:
    plan = store.save_plan(NewPlan("A", 2**32 - 1, 0, {}))
    assert store.get_plan(plan.id).seed == 2**32 - 1
