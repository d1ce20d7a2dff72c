"""The web UI's routes: the page and its local assets, the token rules, ``POST /api/v1/yaml``
and the plan exports (HTML report, XLSX workbook) of a finished job and of a saved plan.

The browser test is ``test_web_browser.py``. The export tests share one app with job workers
(its worker process takes a few seconds to start).
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmplan.api import Settings, create_app
from llmplan.report.xlsx import monthly_cash_flows, plan_workbook, yearly_cash_flows

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

#: The Host the API answers to by default (TestClient sends "testserver" otherwise).
LOCAL = "http://localhost"

openpyxl = pytest.importorskip("openpyxl")

QUICK = {"example": "small-team-consumer-gpus", "samples": 50, "seed": 3}
WAIT = {"wait": 60}
#: Relative tolerance of a recomputed money figure (the payload rounds to 1e-6 USD).
RTOL = 1e-6


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app without job workers (no lifespan)."""
    made = TestClient(create_app(Settings(home=tmp_path)), base_url=LOCAL)
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app with job workers, shared by the export tests."""
    with TestClient(
        create_app(Settings(home=tmp_path_factory.mktemp("web"))), base_url=LOCAL
    ) as made:
        yield made


@pytest.fixture(scope="module")
def job(jobs: TestClient) -> dict[str, Any]:
    """A finished plan job of a scenario with an 8 %/year discount rate."""
    scenario = jobs.get("/api/v1/examples/small-team-consumer-gpus").json()["scenario"]
    scenario["finance"]["discount_rate_per_year"] = 0.08
    response = jobs.post(
        "/api/v1/plans", json={"scenario": scenario, "samples": 50, "seed": 3}, params=WAIT
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == "succeeded", body
    return body


# --- the page and its assets -------------------------------------------------------------------
def test_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'type="module" src="/web/static/app.js"' in page.text
    assert "/web/vendor/plotly.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the net
    for path, kind in (
        ("/web/static/app.js", "javascript"),
        ("/web/static/app.css", "text/css"),
        ("/web/vendor/plotly.min.js", "javascript"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert kind in response.headers["content-type"], path
    assert client.get("/web/static/missing.js").status_code == 404
    assert client.get("/web/static/../../api/app.py").status_code == 404


def test_every_script_module_the_page_imports_is_served(client: TestClient) -> None:
    """The page's scripts are ES modules: app.js imports the others by relative path, and
    a browser runs a module only if it comes back as JavaScript."""
    import re

    seen: set[str] = set()
    todo = ["app.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = client.get(f"/web/static/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name
        todo.extend(re.findall(r'^import \{[^}]*\} from "\./([\w-]+\.js)";', response.text, re.M))
    assert {"core.js", "editor.js", "plan.js", "simulate.js"} <= seen


def test_the_page_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/api/v1/jobs/{job_id}/report.xlsx" in paths
    assert "/api/v1/plans/{plan_id}/report.html" in paths


def test_page_and_assets_need_no_token_but_exports_do(tmp_path: Path) -> None:
    made = TestClient(create_app(Settings(home=tmp_path, token="letmein")), base_url=LOCAL)
    try:
        for path in ("/", "/web/static/app.js", "/web/vendor/plotly.min.js"):
            assert made.get(path).status_code == 200, path
        assert made.get("/api/v1/jobs/x/report.html").status_code == 401
        assert made.post("/api/v1/yaml", json={"text": "name: x"}).status_code == 401
        assert made.get("/webx").status_code == 401  # only the named prefixes are open
        auth = {"Authorization": "Bearer letmein"}
        assert made.get("/api/v1/jobs/x/report.html", headers=auth).status_code == 404
    finally:
        made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


# --- POST /api/v1/yaml ---------------------------------------------------------------------------
def test_yaml_of_a_scenario_object_reads_back_the_same(client: TestClient) -> None:
    scenario = client.get("/api/v1/examples/chat-assistant").json()["scenario"]
    scenario["finance"]["electricity_usd_per_kwh"] = 0.31
    response = client.post("/api/v1/yaml", json={"scenario": scenario})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    text = response.text
    assert yaml.safe_load(text)["finance"]["electricity_usd_per_kwh"] == pytest.approx(0.31)
    checked = client.post("/api/v1/scenarios/check", json={"text": text}).json()["scenario"]
    assert checked == scenario


def test_yaml_of_bad_input_names_the_field(client: TestClient) -> None:
    scenario = client.get("/api/v1/examples/chat-assistant").json()["scenario"]
    scenario["finance"]["horizon_months"] = -3
    response = client.post("/api/v1/yaml", json={"scenario": scenario})
    assert response.status_code == 422
    assert "horizon_months" in response.json()["field"]
    both = client.post("/api/v1/yaml", json={"scenario": scenario, "text": "name: x"})
    assert both.status_code == 422


# --- exports -------------------------------------------------------------------------------------
def test_html_report_of_a_job(jobs: TestClient, job: dict[str, Any]) -> None:
    response = jobs.get(f"/api/v1/jobs/{job['id']}/report.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "attachment" in response.headers["content-disposition"]
    assert job["result"]["scenario"]["name"] in response.text
    assert "plotly" in response.text.lower()


def _sheet(data: bytes, name: str) -> list[list[Any]]:
    """The rows of one sheet, without their trailing empty cells."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    rows = [[c.value for c in row] for row in book[name].iter_rows()]
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    return rows


def test_xlsx_of_a_job_lets_finance_check_the_arithmetic(
    jobs: TestClient, job: dict[str, Any]
) -> None:
    """Yearly cash flows add up to the TCO; monthly flows discounted at the scenario's rate,
    (1 + 8 %) ** (-month / 12), add up to the NPV the plan reports."""
    response = jobs.get(f"/api/v1/jobs/{job['id']}/report.xlsx")
    assert response.status_code == 200
    assert response.content[:2] == b"PK"  # a zip file
    payload = job["result"]
    options = [o for o in payload["options"] if o["included"]]
    assert options
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Summary", "Options", "Break-even", "Sensitivity", "Assumptions",
        "Inputs", "Yearly", "Monthly", "Lines",
    ]  # fmt: skip
    yearly = _sheet(response.content, "Yearly")
    assert yearly[0][1:] == [o["option"] for o in options]
    assert yearly[-2][1].startswith("=SUM(")
    for index, option in enumerate(options):
        flows = [row[1 + index] for row in yearly[1:-2]]
        assert sum(flows) == pytest.approx(option["tco_usd"], rel=RTOL)
        assert yearly[-1][1 + index] == pytest.approx(option["tco_usd"], rel=RTOL)
    monthly = _sheet(response.content, "Monthly")
    assert monthly[0] == ["Discount rate per year", 0.08]
    assert monthly[2][1] == "=(1+$B$1)^(-A3/12)"
    for index, option in enumerate(options):
        flows = [row[2 + index] for row in monthly[2:-3]]
        npv = sum(f * 1.08 ** (-m / 12) for m, f in enumerate(flows))
        assert npv == pytest.approx(option["npv_usd"], rel=RTOL)
    inputs = {
        row[0]: row[1] if len(row) > 1 else None for row in _sheet(response.content, "Inputs")
    }
    assert inputs["finance.discount_rate_per_year"] == 0.08
    assert inputs["workloads[0].model"] == payload["scenario"]["workloads"][0]["model"]
    summary = _sheet(response.content, "Summary")
    assert ["Recommended option", payload["recommended"]["option"]] in summary


def test_exports_of_a_saved_plan(jobs: TestClient) -> None:
    text = jobs.post("/api/v1/yaml", json={"scenario": _example(jobs)}).text
    saved = jobs.post("/api/v1/scenarios", json={"text": text}).json()
    body = {"scenario_id": saved["id"], "samples": 0}
    job = jobs.post("/api/v1/plans", json=body, params=WAIT).json()
    assert job["status"] == "succeeded" and job["plan_id"]
    html = jobs.get(f"/api/v1/plans/{job['plan_id']}/report.html")
    assert html.status_code == 200 and saved["name"] in html.text
    xlsx = jobs.get(f"/api/v1/plans/{job['plan_id']}/report.xlsx")
    assert xlsx.status_code == 200
    assert f"plan-{job['plan_id'][:8]}.xlsx" in xlsx.headers["content-disposition"]
    assert jobs.get("/api/v1/plans/nope/report.xlsx").status_code == 404


def _example(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/api/v1/examples/small-team-consumer-gpus").json()
    return dict(data["scenario"])


def test_exports_of_unknown_or_unfinished_jobs(jobs: TestClient) -> None:
    missing = jobs.get("/api/v1/jobs/nope/report.html")
    assert missing.status_code == 404
    assert set(missing.json()) >= {"code", "message", "field"}
    long = jobs.post("/api/v1/plans", json={"example": "chat-assistant", "samples": 10_000})
    job_id = long.json()["id"]
    try:
        early = jobs.get(f"/api/v1/jobs/{job_id}/report.xlsx")
        if jobs.get(f"/api/v1/jobs/{job_id}").json()["status"] in ("queued", "running"):
            assert early.status_code == 409
            assert early.json()["code"] == "no_result"
    finally:
        jobs.delete(f"/api/v1/jobs/{job_id}")
    deadline = time.monotonic() + 30
    while jobs.get(f"/api/v1/jobs/{job_id}").json()["status"] not in ("cancelled", "succeeded"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


needs_chromium = pytest.mark.skipif(
    not Path("/usr/bin/chromium").is_file(), reason="Debian's chromium is not installed"
)


@needs_chromium
def test_pdf_report_of_a_job_and_of_a_saved_plan(jobs: TestClient, job: dict[str, Any]) -> None:
    response = jobs.get(f"/api/v1/jobs/{job['id']}/report.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"plan-{job['id'][:8]}.pdf" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF")
    saved = jobs.post("/api/v1/plans", json=QUICK | {"save": True}, params=WAIT).json()
    pdf = jobs.get(f"/api/v1/plans/{saved['plan_id']}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert jobs.get("/api/v1/plans/nope/report.pdf").status_code == 404


def test_pdf_without_chromium_is_503_saying_so(
    jobs: TestClient, job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmplan.report import pdf

    monkeypatch.setattr(pdf, "CHROMIUM_PATH", Path("/nonexistent/chromium"))
    monkeypatch.setattr(pdf.shutil, "which", lambda _: None)
    response = jobs.get(f"/api/v1/jobs/{job['id']}/report.pdf")
    assert response.status_code == 503
    assert response.json()["code"] == "not_available"
    assert "Chromium" in response.json()["message"]
    assert "\n" not in response.json()["message"]


def test_pdf_that_chromium_cannot_print_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser that hangs is stopped (with its process group) at the time limit."""
    from llmplan.report import pdf

    monkeypatch.setattr(pdf, "chromium", lambda: Path("/bin/sleep"))
    monkeypatch.setattr(pdf, "_command", lambda *_: ["/bin/sleep", "30"])
    started = time.monotonic()
    with pytest.raises(pdf.PdfFailed, match=r"within 0\.5 s"):
        pdf.html_to_pdf("<p>x</p>", timeout_s=0.5)
    assert time.monotonic() - started < 10
    monkeypatch.setattr(pdf, "_command", lambda *_: ["/bin/true"])
    with pytest.raises(pdf.PdfFailed, match="wrote no PDF"):
        pdf.html_to_pdf("<p>x</p>")


# --- the workbook from a payload -----------------------------------------------------------------
def test_yearly_cash_flows_split_months_into_years() -> None:
    """Upfront 100 at t=0, then 10 a month for 15 months: 100, 120 (year 1), 30 (year 2)."""
    cumulative = [100.0 + 10.0 * m for m in range(16)]
    option = {"cumulative_usd": cumulative}
    assert monthly_cash_flows(option) == pytest.approx([100.0] + [10.0] * 15)
    years = yearly_cash_flows(option)
    assert [label for label, _ in years] == ["t=0 (upfront)", "year 1", "year 2"]
    assert [value for _, value in years] == pytest.approx([100.0, 120.0, 30.0])


def test_workbook_of_a_plan_with_no_option_left() -> None:
    payload = {
        "scenario": {"name": "nothing fits", "finance": {"horizon_months": 12}},
        "recommended": None,
        "options": [{"option": "api", "included": False, "excluded_reason": "no price"}],
    }
    data = plan_workbook(payload)
    summary = _sheet(data, "Summary")
    assert summary[1] == ["Headline", "No option can serve this scenario"]
    assert ["Recommended option", "none"] in summary
    assert ["api", False, None, None, None, None, None, None, "no price"] in summary


def test_report_paper_is_a4_by_default_letter_on_request(
    jobs: TestClient, job: dict[str, Any]
) -> None:
    url = f"/api/v1/jobs/{job['id']}/report.html"
    assert "size: A4;" in jobs.get(url).text
    assert "size: letter;" in jobs.get(url, params={"paper": "letter"}).text
    for route in ("report.html", "report.pdf"):
        response = jobs.get(f"/api/v1/jobs/{job['id']}/{route}", params={"paper": "a5"})
        assert response.status_code == 422
        assert response.json()["field"] == "paper" and "letter" in response.json()["message"]


@needs_chromium
def test_pdf_on_letter_paper(jobs: TestClient, job: dict[str, Any]) -> None:
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF (test extra)")
    response = jobs.get(f"/api/v1/jobs/{job['id']}/report.pdf", params={"paper": "letter"})
    assert response.status_code == 200, response.text
    page = pypdf.PdfReader(io.BytesIO(response.content)).pages[0]
    # US Letter is 8.5 x 11 in = 612 x 792 pt; Chromium rounds to whole CSS pixels
    assert float(page.mediabox.width) == pytest.approx(612, abs=1)
    assert float(page.mediabox.height) == pytest.approx(792, abs=1)
