"""Issue 15, missing item 4 at the API: a saved scenario's history as a line diff between
two versions, restoring a version, renaming (each a new version, the files kept as
written), and form edits that add or remove workloads and price quotes without losing the
file's comments.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from llmplan.api import Settings, create_app
from llmplan.api.textdiff import line_diff, unified
from llmplan.api.yamltext import edit_text

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"
BASE = "/api/v1/scenarios"

#: 12 lines; line 8 holds the volume and its justification.
COMMENTED = """\
# Volumes from the pilot's logs (March).
schema_version: 1
name: Audit trail
workloads:
  - kind: inference
    name: chat
    model: meta-llama/Llama-3.1-8B-Instruct
    requests_per_day: 9000   # pilot logs, busiest week
    input_tokens: {mean: 1000, p95: 3000}
    output_tokens: 200
finance:
  horizon_months: 36  # the IT budget period
"""
EDITED = COMMENTED.replace("9000   #", "12000   #")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url=LOCAL)
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def saved_twice(client: TestClient) -> str:
    """A scenario saved as COMMENTED (version 1), then as EDITED (version 2)."""
    scenario_id: str = client.post(BASE, json={"text": COMMENTED}).json()["id"]
    put = client.put(f"{BASE}/{scenario_id}", json={"text": EDITED}, headers={"If-Match": '"1"'})
    assert put.status_code == 200, put.text
    return scenario_id


def changed(diff: dict[str, Any]) -> list[tuple[str, str, int | None, int | None]]:
    return [
        (x["kind"], x["text"], x["from_line"], x["to_line"])
        for x in diff["lines"]
        if x["kind"] != "same"
    ]


def test_diff_between_two_versions_names_the_changed_line(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    answer = client.get(f"{BASE}/{scenario_id}/diff", params={"from": 1, "to": 2})
    assert answer.status_code == 200, answer.text
    diff = answer.json()
    assert (diff["from_version"], diff["to_version"], diff["added"], diff["removed"]) == (
        1,
        2,
        1,
        1,
    )
    # line 8 of both files, comment kept on both sides
    assert changed(diff) == [
        ("removed", "    requests_per_day: 9000   # pilot logs, busiest week", 8, None),
        ("added", "    requests_per_day: 12000   # pilot logs, busiest week", None, 8),
    ]
    assert len(diff["lines"]) == 13  # 11 kept lines + the removed + the added one
    assert "-    requests_per_day: 9000" in diff["unified"]
    assert "+    requests_per_day: 12000" in diff["unified"]
    assert diff["unified"].startswith("--- version 1\n+++ version 2\n@@ -5,7 +5,7 @@")
    # default: the current version against the one before; reversed: the signs swap
    assert client.get(f"{BASE}/{scenario_id}/diff").json()["lines"] == diff["lines"]
    back = client.get(f"{BASE}/{scenario_id}/diff", params={"from": 2, "to": 1}).json()
    assert [k for k, *_ in changed(back)] == ["removed", "added"]
    assert "12000" in changed(back)[0][1]


def test_diff_of_a_version_with_itself_is_empty(client: TestClient) -> None:
    scenario_id = client.post(BASE, json={"text": COMMENTED}).json()["id"]
    diff = client.get(f"{BASE}/{scenario_id}/diff").json()  # only version 1: v1 against v1
    assert (diff["from_version"], diff["to_version"]) == (1, 1)
    assert (diff["added"], diff["removed"], diff["unified"]) == (0, 0, "")
    assert len(diff["lines"]) == COMMENTED.count("\n")


def test_diff_errors(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    assert client.get(f"{BASE}/nope/diff").status_code == 404
    missing = client.get(f"{BASE}/{scenario_id}/diff", params={"from": 1, "to": 7})
    assert missing.status_code == 404 and "v7" in missing.json()["message"]
    zero = client.get(f"{BASE}/{scenario_id}/diff", params={"from": 0})
    assert zero.status_code == 422 and zero.json()["field"] == "from"


def test_restore_saves_the_old_text_as_the_newest_version(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    answer = client.post(f"{BASE}/{scenario_id}/restore", json={"version": 1})
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] == '"3"'
    assert (answer.json()["version"], answer.json()["note"]) == (3, "restored version 1")
    assert client.get(f"{BASE}/{scenario_id}/yaml").text == COMMENTED  # byte for byte
    assert [v["version"] for v in client.get(f"{BASE}/{scenario_id}/versions").json()] == [
        3,
        2,
        1,
    ]
    assert client.get(f"{BASE}/{scenario_id}/diff", params={"from": 1, "to": 3}).json()[
        "unified"
    ] == ("")


def test_restore_errors(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    assert client.post(f"{BASE}/nope/restore", json={"version": 1}).status_code == 404
    assert client.post(f"{BASE}/{scenario_id}/restore", json={"version": 9}).status_code == 404
    bad = client.post(f"{BASE}/{scenario_id}/restore", json={"version": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "version"
    stale = client.post(f"{BASE}/{scenario_id}/restore", json={"version": 1, "expected_version": 1})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    header = client.post(
        f"{BASE}/{scenario_id}/restore", json={"version": 1}, headers={"If-Match": '"1"'}
    )
    assert header.status_code == 409
    assert client.get(f"{BASE}/{scenario_id}").json()["version"] == 2  # nothing changed


def test_rename_changes_only_the_name_line_and_keeps_history(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    answer = client.post(f"{BASE}/{scenario_id}/rename", json={"name": "Audit trail 2027"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["version"]) == ("Audit trail 2027", 3)
    assert body["note"] == "renamed from Audit trail"
    # a name with spaces is written quoted, the rest as it was
    assert body["text"] == EDITED.replace("name: Audit trail\n", 'name: "Audit trail 2027"\n')
    listed = client.get(BASE, params={"search": "2027"}).json()["items"]
    assert [s["id"] for s in listed] == [scenario_id]
    assert client.get(f"{BASE}/{scenario_id}/versions/2").json()["name"] == "Audit trail"


def test_rename_of_a_scenario_saved_as_an_object(client: TestClient) -> None:
    created = client.post(BASE, json={"scenario": yaml.safe_load(COMMENTED)}).json()
    answer = client.post(f"{BASE}/{created['id']}/rename", json={"name": "Renamed"}).json()
    assert (answer["name"], answer["scenario"]["name"], answer["text"]) == (
        "Renamed",
        "Renamed",
        None,
    )


def test_rename_errors(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    assert client.post(f"{BASE}/nope/rename", json={"name": "x"}).status_code == 404
    empty = client.post(f"{BASE}/{scenario_id}/rename", json={"name": ""})
    assert empty.status_code == 422 and empty.json()["field"] == "name"
    long = client.post(f"{BASE}/{scenario_id}/rename", json={"name": "x" * 201})
    assert long.status_code == 422 and long.json()["field"] == "name"
    stale = client.post(f"{BASE}/{scenario_id}/rename", json={"name": "x", "expected_version": 1})
    assert stale.status_code == 409
    both = client.post(
        f"{BASE}/{scenario_id}/rename",
        json={"name": "x", "expected_version": 2},
        headers={"If-Match": '"1"'},
    )
    assert both.status_code == 422 and both.json()["field"] == "expected_version"


def test_delete_then_every_history_route_is_404(client: TestClient) -> None:
    scenario_id = saved_twice(client)
    assert client.delete(f"{BASE}/{scenario_id}").status_code == 204
    assert client.get(f"{BASE}/{scenario_id}/diff").status_code == 404
    assert client.post(f"{BASE}/{scenario_id}/rename", json={"name": "x"}).status_code == 404
    assert client.delete(f"{BASE}/{scenario_id}").status_code == 404


# --- form edits that change the structure ------------------------------------------------
SECOND = {
    "kind": "inference",
    "name": "batch",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "requests_per_day": 500.0,
    "input_tokens": {"mean": 2000},
    "output_tokens": 300,
    "hourly_profile": [0] * 12 + [1.0] * 12,
}


def test_form_adds_and_removes_a_workload_keeping_comments(client: TestClient) -> None:
    added = client.post(
        "/api/v1/yaml/edit", json={"text": COMMENTED, "append": {"workloads": SECOND}}
    )
    assert added.status_code == 200, added.text
    text = added.text
    assert "# pilot logs, busiest week" in text and "# the IT budget period" in text
    assert "requests_per_day: 500\n" in text  # a form's 500.0 written as an integer
    # a list of numbers on one line, integers as written
    assert f"hourly_profile: [{', '.join(['0'] * 12 + ['1'] * 12)}]\n" in text
    assert [w["name"] for w in yaml.safe_load(text)["workloads"]] == ["chat", "batch"]
    removed = client.post("/api/v1/yaml/edit", json={"text": text, "remove": ["workloads[0]"]})
    assert removed.status_code == 200, removed.text
    assert [w["name"] for w in yaml.safe_load(removed.text)["workloads"]] == ["batch"]
    assert removed.text.startswith("# Volumes from the pilot's logs (March).\n")
    assert "# the IT budget period" in removed.text


def test_form_adds_a_price_quote_and_a_gpu_price(client: TestClient) -> None:
    quote = {
        "provider": "acme",
        "model": "acme-large",
        "input_usd_per_mtok": 0.5,
        "output_usd_per_mtok": 1.5,
    }
    answer = client.post(
        "/api/v1/yaml/edit",
        json={
            "text": COMMENTED,
            "append": {"overrides.api_prices": quote},
            # a GPU id with dashes is quoted in the path
            "set": {'overrides.gpus["H100-SXM-80GB"].purchase_price_usd': 30000},
        },
    )
    assert answer.status_code == 200, answer.text
    overrides = yaml.safe_load(answer.text)["overrides"]
    assert overrides["api_prices"] == [quote]
    assert overrides["gpus"] == {"H100-SXM-80GB": {"purchase_price_usd": 30000}}
    price = 'overrides.gpus["H100-SXM-80GB"].purchase_price_usd'
    again = client.post("/api/v1/yaml/edit", json={"text": answer.text, "set": {price: 28000}})
    assert again.text == answer.text.replace("30000", "28000")  # now in place
    gone = client.post(
        "/api/v1/yaml/edit",
        json={"text": answer.text, "remove": ['overrides.gpus["H100-SXM-80GB"]']},
    )
    assert yaml.safe_load(gone.text)["overrides"]["gpus"] == {}


def test_structural_edit_errors_name_the_field(client: TestClient) -> None:
    def edit(**body: Any) -> Any:
        return client.post("/api/v1/yaml/edit", json={"text": COMMENTED, **body})

    last = edit(remove=["workloads[0]"])  # at least one workload
    assert last.status_code == 422 and last.json()["field"].startswith("text.workloads")
    missing = edit(remove=["workloads[3]"])
    assert missing.status_code == 422 and missing.json()["field"] == "remove"
    not_list = edit(append={"finance": {"a": 1}})
    assert not_list.status_code == 422 and not_list.json()["field"] == "append"
    bad_item = edit(append={"workloads": {"kind": "inference", "name": "x"}})
    assert bad_item.status_code == 422 and "workloads[1]" in bad_item.json()["field"]


def test_a_length_written_as_one_number_takes_a_p95() -> None:
    text = edit_text(COMMENTED, {"workloads[0].output_tokens.p95": 900})
    assert yaml.safe_load(text)["workloads"][0]["output_tokens"] == {"mean": 200, "p95": 900}
    assert "# pilot logs, busiest week" in text
    same_place = edit_text(COMMENTED, {"workloads[0].output_tokens.mean": 250})
    assert same_place == COMMENTED.replace("output_tokens: 200", "output_tokens: 250")


def test_a_workload_replaced_whole_by_index() -> None:
    finetune = {
        "kind": "finetune",
        "name": "chat",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "method": "lora",
        "dataset_tokens": 100_000_000,
        "runs_per_year": 12,
    }
    text = edit_text(COMMENTED, {"workloads[0]": finetune})
    assert yaml.safe_load(text)["workloads"] == [finetune]
    assert "# the IT budget period" in text


# --- the diff itself ---------------------------------------------------------------------
lines = st.lists(st.sampled_from(["a: 1", "b: 2", "# c", "d: [1, 2]", ""]), max_size=12)


@given(lines, lines)
def test_line_diff_rebuilds_both_texts(old: list[str], new: list[str]) -> None:
    """Kept and removed lines give the old text, kept and added the new, numbered 1, 2, ..."""
    diff = line_diff("\n".join(old), "\n".join(new))
    before = [d for d in diff if d.kind in ("same", "removed")]
    after = [d for d in diff if d.kind in ("same", "added")]
    assert [d.text for d in before] == "\n".join(old).splitlines()
    assert [d.text for d in after] == "\n".join(new).splitlines()
    assert [d.from_line for d in before] == list(range(1, len(before) + 1))
    assert [d.to_line for d in after] == list(range(1, len(after) + 1))
    patch = unified("\n".join(old), "\n".join(new), "a", "b")
    assert (patch == "") == ("\n".join(old).splitlines() == "\n".join(new).splitlines())
