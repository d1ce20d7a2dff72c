"""Saved scenarios over HTTP: create, list, read, update, delete, duplicate, history,
version conflicts, and bad input that changes nothing. On SQLite, and on PostgreSQL when
``LLMPLAN_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmplan.api import Settings, create_app
from llmplan.scenario import bundled_examples, scenario_from_data, scenario_to_data
from test_store import BACKENDS, fresh_database_url

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

#: The Host the API answers to by default (TestClient sends "testserver" otherwise).
LOCAL = "http://localhost"

BASE = "/api/v1/scenarios"


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """How the store keeps a scenario: validated, only what differs from the defaults."""
    return scenario_to_data(scenario_from_data(data), full=False)


def scenario(name: str = "Team chat", requests_per_day: float = 5000) -> dict[str, Any]:
    return {
        "name": name,
        "workloads": [
            {
                "name": "chat",
                "model": "meta-llama/Llama-3.1-8B-Instruct",
                "requests_per_day": requests_per_day,
                "input_tokens": 800,
                "output_tokens": 200,
            }
        ],
    }


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    url = fresh_database_url(request.param, tmp_path)
    app = create_app(Settings(home=tmp_path, database_url=url))
    made = TestClient(app, base_url=LOCAL)
    yield made
    app.state.llmplan.store.close()


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def create(client: TestClient, data: dict[str, Any] | None = None, note: str = "") -> Any:
    response = client.post(BASE, json={"scenario": data or scenario(), "note": note})
    assert response.status_code == 201, response.text
    return response


def test_create_and_read(client: TestClient) -> None:
    response = create(client, note="first draft")
    body = response.json()
    assert response.headers["location"] == f"{BASE}/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert (body["version"], body["latest_version"], body["note"]) == (1, 1, "first draft")
    assert body["scenario"] == canonical(scenario())  # defaults left out
    assert body["scenario"]["workloads"][0]["input_tokens"] == {"mean": 800.0}
    read = client.get(f"{BASE}/{body['id']}")
    assert read.headers["etag"] == '"1"'
    assert read.json()["scenario"] == canonical(scenario())
    full = client.get(f"{BASE}/{body['id']}", params={"full": True}).json()["scenario"]
    assert full["finance"]["horizon_months"] > 0  # every default filled in


def test_create_from_yaml_or_json_text(client: TestClient) -> None:
    text = bundled_examples()["rag-long-prompts"].read_text(encoding="utf-8")
    from_yaml = client.post(BASE, json={"text": text})
    assert from_yaml.status_code == 201, from_yaml.text
    assert from_yaml.json()["name"] == yaml.safe_load(text)["name"]
    as_json = client.post(BASE, json={"text": '{"name": "J", "workloads": []}'})
    assert error_of(as_json, 422)["field"] == "text.workloads"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"scenario": scenario() | {"horizon": 3}}, "scenario.horizon", "unknown field"),
        (
            {
                "scenario": scenario()
                | {"workloads": [scenario()["workloads"][0] | {"slo": {"ttft_ms": -1}}]}
            },
            "scenario.workloads[0].slo.ttft_ms",
            "greater than 0",
        ),
        (
            {
                "scenario": scenario()
                | {"workloads": [scenario()["workloads"][0] | {"model": "gpt-99"}]}
            },
            "scenario.workloads[0].model",
            "unknown model",
        ),
        ({"scenario": {"workloads": []}}, "scenario", ""),
        ({"text": "name: [unclosed"}, "text", "malformed YAML"),
        ({"scenario": scenario(), "text": "name: x"}, "scenario", "not both"),
        ({}, "scenario", "not both"),
        ({"scenario": "a string"}, "scenario", "valid dictionary"),
        ({"scenario": scenario(), "note": "x" * 501}, "note", "at most 500"),
    ],
)
def test_bad_scenarios_are_refused_and_nothing_is_saved(
    client: TestClient, body: dict[str, Any], field: str, words: str
) -> None:
    error = error_of(client.post(BASE, json=body), 422)
    assert error["code"] == "invalid_input"
    assert error["field"].startswith(field)
    assert words in error["message"]
    assert client.get(BASE).json()["total"] == 0


def test_list_search_and_paging(client: TestClient) -> None:
    for name in ("Alpha chat", "Beta RAG", "Gamma chat"):
        create(client, scenario(name))
    listed = client.get(BASE).json()
    assert listed["total"] == 3
    assert [s["name"] for s in listed["items"]] == ["Gamma chat", "Beta RAG", "Alpha chat"]
    chats = client.get(BASE, params={"search": "CHAT"}).json()
    assert {s["name"] for s in chats["items"]} == {"Alpha chat", "Gamma chat"}
    page = client.get(BASE, params={"limit": 1, "offset": 1}).json()
    assert [s["name"] for s in page["items"]] == ["Beta RAG"]
    assert error_of(client.get(BASE, params={"limit": 0}), 422)["field"] == "limit"


def test_updates_keep_every_version(client: TestClient) -> None:
    sid = create(client).json()["id"]
    second = client.put(
        f"{BASE}/{sid}",
        json={"scenario": scenario("Team chat v2", 6000), "note": "more users"},
        headers={"If-Match": '"1"'},
    )
    assert second.status_code == 200, second.text
    assert second.headers["etag"] == '"2"'
    third = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("Team chat v3", 7000), "expected_version": 2}
    )
    assert third.json()["version"] == 3
    history = client.get(f"{BASE}/{sid}/versions").json()
    assert [(v["version"], v["name"]) for v in history] == [
        (3, "Team chat v3"),
        (2, "Team chat v2"),
        (1, "Team chat"),
    ]
    assert history[1]["note"] == "more users"
    first = client.get(f"{BASE}/{sid}/versions/1").json()
    assert (first["version"], first["latest_version"]) == (1, 3)
    assert first["scenario"] == canonical(scenario())
    assert client.get(f"{BASE}/{sid}", params={"version": 2}).json()["name"] == "Team chat v2"
    assert error_of(client.get(f"{BASE}/{sid}/versions/9"), 404)["code"] == "not_found"


def test_update_needs_the_version_it_replaces(client: TestClient) -> None:
    sid = create(client).json()["id"]
    missing = client.put(f"{BASE}/{sid}", json={"scenario": scenario("X")})
    assert error_of(missing, 428)["code"] == "version_required"
    differ = client.put(
        f"{BASE}/{sid}",
        json={"scenario": scenario("X"), "expected_version": 2},
        headers={"If-Match": '"1"'},
    )
    assert error_of(differ, 422)["field"] == "expected_version"
    garbage = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("X")}, headers={"If-Match": "v1"}
    )
    assert error_of(garbage, 422)["field"] == "If-Match"
    assert client.get(f"{BASE}/{sid}").json()["version"] == 1
    anyway = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("X")}, headers={"If-Match": "*"}
    )
    assert anyway.json()["version"] == 2


def test_two_editors_of_one_version_conflict(client: TestClient) -> None:
    """Both read version 1; the second save is refused, not silently applied."""
    sid = create(client).json()["id"]
    tag_a = client.get(f"{BASE}/{sid}").headers["etag"]
    tag_b = client.get(f"{BASE}/{sid}").headers["etag"]
    saved = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("Edit A")}, headers={"If-Match": tag_a}
    )
    assert saved.status_code == 200
    late = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("Edit B")}, headers={"If-Match": tag_b}
    )
    error = error_of(late, 409)
    assert (error["code"], error["current_version"]) == ("version_conflict", 2)
    assert late.headers["etag"] == '"2"'
    assert client.get(f"{BASE}/{sid}").json()["name"] == "Edit A"
    assert len(client.get(f"{BASE}/{sid}/versions").json()) == 2


def test_bad_update_changes_nothing(client: TestClient) -> None:
    sid = create(client).json()["id"]
    bad = client.put(
        f"{BASE}/{sid}",
        json={"scenario": scenario() | {"finance": {"horizon_months": -3}}},
        headers={"If-Match": '"1"'},
    )
    assert error_of(bad, 422)["field"] == "scenario.finance.horizon_months"
    current = client.get(f"{BASE}/{sid}").json()
    assert (current["version"], current["scenario"]) == (1, canonical(scenario()))


def test_failed_save_keeps_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(home=tmp_path))
    client = TestClient(app, raise_server_exceptions=False, base_url=LOCAL)
    sid = create(client).json()["id"]
    store = app.state.llmplan.store

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "_insert_version", broken)
    failed = client.put(
        f"{BASE}/{sid}", json={"scenario": scenario("B")}, headers={"If-Match": '"1"'}
    )
    assert error_of(failed, 500)["code"] == "internal"
    monkeypatch.undo()
    current = client.get(f"{BASE}/{sid}").json()
    assert (current["version"], current["name"]) == (1, "Team chat")
    store.close()


def test_delete(client: TestClient) -> None:
    sid = create(client).json()["id"]
    stale = client.delete(f"{BASE}/{sid}", headers={"If-Match": '"7"'})
    assert error_of(stale, 409)["current_version"] == 1
    assert client.delete(f"{BASE}/{sid}", headers={"If-Match": '"1"'}).status_code == 204
    assert error_of(client.get(f"{BASE}/{sid}"), 404)["code"] == "not_found"
    assert client.get(f"{BASE}/{sid}/versions").status_code == 404
    assert client.delete(f"{BASE}/{sid}").status_code == 404
    gone = client.put(f"{BASE}/{sid}", json={"scenario": scenario()}, headers={"If-Match": "*"})
    assert gone.status_code == 404


def test_duplicate(client: TestClient) -> None:
    sid = create(client).json()["id"]
    client.put(f"{BASE}/{sid}", json={"scenario": scenario("Second")}, headers={"If-Match": '"1"'})
    copy = client.post(f"{BASE}/{sid}/duplicate")
    assert copy.status_code == 201
    body = copy.json()
    assert body["id"] != sid
    assert (body["name"], body["version"]) == ("Second (copy)", 1)
    assert body["note"] == f"copy of {sid} version 2"
    old = client.post(f"{BASE}/{sid}/duplicate", json={"version": 1, "name": "From v1"}).json()
    assert old["scenario"] == canonical(scenario("From v1"))
    assert client.get(BASE).json()["total"] == 3
    assert client.post(f"{BASE}/nope/duplicate").status_code == 404
    assert client.post(f"{BASE}/{sid}/duplicate", json={"name": ""}).status_code == 422


def test_export_as_yaml(client: TestClient) -> None:
    sid = create(client).json()["id"]
    exported = client.get(f"{BASE}/{sid}/yaml")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "attachment" in exported.headers["content-disposition"]
    reimported = client.post(BASE, json={"text": exported.text})
    assert reimported.json()["scenario"] == canonical(scenario())


def test_check_without_saving(client: TestClient) -> None:
    checked = client.post(f"{BASE}/check", json={"scenario": scenario()})
    assert checked.status_code == 200
    assert checked.json()["scenario"]["finance"]["horizon_months"] > 0
    bad = client.post(f"{BASE}/check", json={"scenario": scenario() | {"name": ""}})
    assert error_of(bad, 422)["field"] == "scenario.name"
    assert client.get(BASE).json()["total"] == 0


def test_unknown_scenario_is_404(client: TestClient) -> None:
    for method, path in (
        ("GET", f"{BASE}/nope"),
        ("GET", f"{BASE}/nope/versions"),
        ("GET", f"{BASE}/nope/yaml"),
        ("DELETE", f"{BASE}/nope"),
    ):
        assert error_of(client.request(method, path), 404)["code"] == "not_found"


def test_yaml_aliases_are_refused_at_once(client: TestClient) -> None:
    """Nested aliases would expand into billions of nodes: refused before reading."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    started = time.monotonic()
    error = error_of(client.post(BASE, json={"text": "\n".join([*lines, "name: x"])}), 422)
    assert time.monotonic() - started < 5
    assert (error["field"], "aliases" in error["message"]) == ("text", True)
