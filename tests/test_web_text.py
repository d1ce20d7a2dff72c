"""Issue 15, broken items 1, 3 and 5 at the API: a scenario's text is kept as written
(comments, integers) through save, history, export and form edits; every validation error
is listed in ``errors[]`` and in the message; a forgotten job's 404 says why.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplan.api import Settings, create_app
from llmplan.api.yamltext import set_fields, split_path
from llmplan.errors import InputError
from llmplan.scenario import bundled_examples

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"

#: A scenario whose comments justify its assumptions and whose numbers are integers.
COMMENTED = """\
# Why these numbers: 9,000 requests from the pilot's logs (March).
schema_version: 1
name: Audit trail
workloads:
  - kind: inference
    name: chat
    model: meta-llama/Llama-3.1-8B-Instruct
    requests_per_day: 9000   # pilot logs, busiest week
    input_tokens: {mean: 1000, p95: 3000}
    output_tokens: 200
    slo: {ttft_ms: 2000, tpot_ms: 60}
finance:
  horizon_months: 36  # the IT budget period
  electricity_usd_per_kwh: 0.15
"""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url=LOCAL)
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def test_saved_text_exports_byte_identical(client: TestClient) -> None:
    created = client.post("/api/v1/scenarios", json={"text": COMMENTED})
    assert created.status_code == 201, created.text
    scenario_id = created.json()["id"]
    assert created.json()["text"] == COMMENTED
    exported = client.get(f"/api/v1/scenarios/{scenario_id}/yaml")
    assert exported.content == COMMENTED.encode()
    edited = COMMENTED.replace("9000 ", "9500 ")
    put = client.put(
        f"/api/v1/scenarios/{scenario_id}", json={"text": edited}, headers={"If-Match": '"1"'}
    )
    assert put.status_code == 200
    # history: both versions as written
    first = client.get(f"/api/v1/scenarios/{scenario_id}/yaml", params={"version": 1})
    assert first.text == COMMENTED
    assert client.get(f"/api/v1/scenarios/{scenario_id}/versions/2").json()["text"] == edited
    # a copy keeps the comments and changes only the name
    copy = client.post(f"/api/v1/scenarios/{scenario_id}/duplicate", json={"name": "Copy"})
    copied = client.get(f"/api/v1/scenarios/{copy.json()['id']}/yaml").text
    assert copied == edited.replace("name: Audit trail", "name: Copy")


def test_a_scenario_saved_as_an_object_still_exports_as_yaml(client: TestClient) -> None:
    data = yaml.safe_load(COMMENTED)
    created = client.post("/api/v1/scenarios", json={"scenario": data})
    assert created.json()["text"] is None
    exported = client.get(f"/api/v1/scenarios/{created.json()['id']}/yaml").text
    assert yaml.safe_load(exported)["workloads"][0]["requests_per_day"] == 9000


def test_example_answer_carries_its_file_as_written(client: TestClient) -> None:
    for name, path in bundled_examples().items():
        body = client.get(f"/api/v1/examples/{name}").json()
        assert body["text"] == path.read_text(encoding="utf-8")


def test_form_edit_changes_only_the_named_values(client: TestClient) -> None:
    changes = {
        "workloads[0].requests_per_day": 12000.0,  # a float from a form: written 12000
        "workloads[0].input_tokens": 1500,  # a distribution: its mean
        "workloads[0].slo.ttft_ms": 800,
        "finance.electricity_usd_per_kwh": 0.31,
    }
    answer = client.post("/api/v1/yaml/edit", json={"text": COMMENTED, "set": changes})
    assert answer.status_code == 200, answer.text
    expected = (
        COMMENTED.replace("9000   #", "12000   #")
        .replace("{mean: 1000,", "{mean: 1500,")
        .replace("ttft_ms: 2000", "ttft_ms: 800")
        .replace("0.15", "0.31")
    )
    assert answer.text == expected


def test_form_edit_that_breaks_the_scenario_is_422_naming_the_field(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/yaml/edit", json={"text": COMMENTED, "set": {"finance.horizon_months": -1}}
    )
    assert answer.status_code == 422
    assert answer.json()["field"] == "text.finance.horizon_months"
    bad_path = client.post("/api/v1/yaml/edit", json={"text": COMMENTED, "set": {"a..b": 1}})
    assert bad_path.status_code == 422 and bad_path.json()["field"] == "set"


def test_every_scenario_error_is_listed(client: TestClient) -> None:
    text = COMMENTED.replace("horizon_months: 36", "horizon_months: -1").replace(
        "electricity_usd_per_kwh: 0.15", "electricity_usd_per_kwh: -2"
    )
    body = client.post("/api/v1/scenarios/check", json={"text": text}).json()
    fields = {e["field"] for e in body["errors"]}
    assert {"text.finance.horizon_months", "text.finance.electricity_usd_per_kwh"} <= fields
    assert "more)" not in body["message"]
    for error in body["errors"]:
        assert error["message"] in body["message"]
        assert error["message"].startswith(error["field"])  # the field once, not twice


def test_every_request_error_is_listed(client: TestClient) -> None:
    body = client.post("/api/v1/memory", json={"model": 3, "batch": -1, "context": 0}).json()
    assert len(body["errors"]) >= 3
    for error in body["errors"]:
        assert error["message"] in body["message"]


def test_a_forgotten_job_does_not_blame_a_restart(client: TestClient) -> None:
    body = client.get("/api/v1/jobs/0123456789abcdef/report.html").json()
    assert "restarts)" not in body["message"]
    assert "newest finished jobs" in body["message"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    )
)
def test_an_edited_value_reads_back_and_the_comments_stay(value: object) -> None:
    edited = set_fields(COMMENTED, {"finance.electricity_usd_per_kwh": value})
    read = yaml.safe_load(edited)["finance"]["electricity_usd_per_kwh"]
    if isinstance(value, float) and value.is_integer():
        assert read == int(value)
    else:
        assert read == value
    kept = [line for line in COMMENTED.splitlines() if "electricity" not in line]
    assert [line for line in edited.splitlines() if "electricity" not in line] == kept


def test_split_path() -> None:
    assert split_path("workloads[1].slo.ttft_ms") == ["workloads", 1, "slo", "ttft_ms"]
    assert split_path('overrides.gpus["RTX-4090-24GB"].power_w') == [
        "overrides",
        "gpus",
        "RTX-4090-24GB",
        "power_w",
    ]
    for bad in ("workloads[x]", "", ".a", "a..b", "a.", "a.[0]", 'a[""]', "a b"):
        with pytest.raises(InputError):
            split_path(bad)


def test_a_saved_result_stays_downloadable_after_its_job_is_forgotten(tmp_path: Path) -> None:
    """Issue 15, broken 3: the page saves each result and downloads it by plan id."""
    settings = Settings(home=tmp_path, finished_jobs_kept=1)
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        request = {"text": COMMENTED, "samples": 0, "save": True}
        first = client.post("/api/v1/plans", json=request, params={"wait": 60}).json()
        assert first["status"] == "succeeded" and first["plan_id"]
        second = client.post("/api/v1/plans", json=request, params={"wait": 60}).json()
        assert second["status"] == "succeeded"
        assert client.get(f"/api/v1/jobs/{first['id']}").status_code == 404  # forgotten
        for ext in ("html", "xlsx"):
            answer = client.get(f"/api/v1/plans/{first['plan_id']}/report.{ext}")
            assert answer.status_code == 200, ext
        summary = client.get(f"/api/v1/plans/{first['plan_id']}/summary").json()
        assert summary["headline"].startswith(("Recommendation: ", "No option"))
