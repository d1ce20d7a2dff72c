"""Routes of the web UI: the page, its static files, and plan exports (HTML, XLSX, PDF).

``GET /`` is the page, ``/web/static/*`` its scripts and styles, ``/web/vendor/plotly.min.js``
the installed plotly.js (gzipped once, :mod:`.compress`); these hold no data and are open
without a token. Every large response is gzipped for a client that accepts it. The exports of a
saved plan result (``/api/v1/plans/{id}/report.html|.xlsx|.pdf``) or of a finished plan
job's result (``/api/v1/jobs/{id}/report.html|.xlsx|.pdf``) are API routes like any other;
the PDF is the HTML report printed by headless Chromium (:mod:`llmplan.report.pdf`), 503
without it. The HTML and PDF reports take ``?paper=a4|letter`` (default A4).
``POST /api/v1/yaml`` turns a scenario object into its YAML file (the editor's form
writes its changes back into the YAML text this way); ``POST /api/v1/yaml/edit`` changes
named fields of the text the user wrote and keeps the rest of it (comments, integers).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from llmplan.api.errors import ApiError
from llmplan.api.inputs import scenario_of
from llmplan.api.schemas import ErrorBody, ScenarioInput, YamlEdit
from llmplan.api.state import API_PREFIX, AppState, State
from llmplan.api.yamltext import edit_text
from llmplan.report.labels import labels
from llmplan.report.paper import DEFAULT_PAPER, Paper
from llmplan.report.pdf import PdfFailed, PdfUnavailable, html_to_pdf
from llmplan.report.summary import executive_summary
from llmplan.report.xlsx import XLSX_MEDIA_TYPE, plan_workbook
from llmplan.scenario import dump_scenario
from llmplan.web.compress import accepts_gzip, gzipped_file, install_compression

STATIC_DIR = Path(str(resources.files("llmplan.web") / "static"))
STATIC_PREFIX = "/web/static"
PLOTLY_PATH = "/web/vendor/plotly.min.js"
LABELS_PATH = "/web/labels.json"
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}}
PDF_ERRORS: dict[int | str, dict[str, Any]] = ERRORS | {
    200: {"content": {"application/pdf": {}}},
    500: {"model": ErrorBody, "description": "Chromium failed"},
    503: {"model": ErrorBody, "description": "No Chromium installed on the server"},
}
#: The ``paper`` query parameter of the HTML and PDF reports.
PaperQuery = Annotated[
    Paper, Query(description="Paper size of the printed report: a4 (default) or letter")
]

page = APIRouter(include_in_schema=False)
exports = APIRouter(prefix=API_PREFIX, tags=["exports"])


def plotly_js() -> Path | None:
    """plotly.min.js of the installed plotly package (None without plotly)."""
    try:
        import plotly
    except ImportError:  # pragma: no cover - plotly is a core dependency
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@page.get("/")
def index() -> HTMLResponse:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@page.get(PLOTLY_PATH)
async def plotly_script(request: Request) -> Response:
    """plotly.js, gzipped (once per process) for a client that accepts it."""
    path = plotly_js()
    if path is None:  # pragma: no cover - plotly is a core dependency
        raise ApiError(404, "not_found", "plotly is not installed")
    headers = {"Cache-Control": "max-age=86400", "Vary": "Accept-Encoding"}
    if not accepts_gzip(request.headers.get("accept-encoding", "")):
        return FileResponse(path, media_type="text/javascript", headers=headers)
    data = await run_in_threadpool(gzipped_file, path)
    headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="text/javascript", headers=headers)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _job_payload(state: AppState, job_id: str) -> dict[str, Any]:
    job = state.jobs.get(job_id)
    if job.kind != "plan":
        raise ApiError(409, "no_result", f"job {job_id} is a {job.kind}, not a plan: no report")
    if job.result is None:
        raise ApiError(409, "no_result", f"job {job_id} has no result (it is {job.status})")
    result: dict[str, Any] = job.result
    return result


def _plan_payload(state: AppState, plan_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = state.store.get_plan(plan_id).payload or {}
    if not payload.get("options"):
        raise ApiError(409, "no_result", f"plan {plan_id} holds no plan payload")
    return payload


async def _html(payload: dict[str, Any], stem: str, paper: Paper) -> HTMLResponse:
    from llmplan.report.plan import render_plan_report

    text = await run_in_threadpool(render_plan_report, payload, paper)
    return HTMLResponse(text, headers=_attachment(f"{stem}.html"))


async def _xlsx(payload: dict[str, Any], stem: str) -> Response:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        message = "the XLSX export needs openpyxl: python3 -m pip install 'llmplan[web]'"
        raise ApiError(501, "not_available", message) from None
    data = await run_in_threadpool(plan_workbook, payload)
    return Response(data, media_type=XLSX_MEDIA_TYPE, headers=_attachment(f"{stem}.xlsx"))


async def _pdf(payload: dict[str, Any], stem: str, paper: Paper) -> Response:
    from llmplan.report.plan import render_plan_report

    text = await run_in_threadpool(render_plan_report, payload, paper)
    try:
        data = await run_in_threadpool(html_to_pdf, text)
    except PdfUnavailable as exc:
        raise ApiError(503, "not_available", exc.message) from None
    except PdfFailed as exc:
        raise ApiError(500, "pdf_failed", str(exc)) from None
    return Response(data, media_type="application/pdf", headers=_attachment(f"{stem}.pdf"))


@exports.get(
    "/plans/{plan_id}/report.html", summary="A saved plan as an HTML report", responses=ERRORS
)
async def plan_html(plan_id: str, state: State, paper: PaperQuery = DEFAULT_PAPER) -> HTMLResponse:
    payload = await run_in_threadpool(_plan_payload, state, plan_id)
    return await _html(payload, f"plan-{plan_id[:8]}", paper)


@exports.get(
    "/plans/{plan_id}/report.xlsx", summary="A saved plan as a spreadsheet", responses=ERRORS
)
async def plan_xlsx(plan_id: str, state: State) -> Response:
    payload = await run_in_threadpool(_plan_payload, state, plan_id)
    return await _xlsx(payload, f"plan-{plan_id[:8]}")


@exports.get(
    "/jobs/{job_id}/report.html", summary="A finished plan job as an HTML report", responses=ERRORS
)
async def job_html(job_id: str, state: State, paper: PaperQuery = DEFAULT_PAPER) -> HTMLResponse:
    return await _html(_job_payload(state, job_id), f"plan-{job_id[:8]}", paper)


@exports.get(
    "/jobs/{job_id}/report.xlsx", summary="A finished plan job as a spreadsheet", responses=ERRORS
)
async def job_xlsx(job_id: str, state: State) -> Response:
    return await _xlsx(_job_payload(state, job_id), f"plan-{job_id[:8]}")


@exports.get(
    "/plans/{plan_id}/report.pdf",
    summary="A saved plan as a PDF report (printed by headless Chromium)",
    responses=PDF_ERRORS,
)
async def plan_pdf(plan_id: str, state: State, paper: PaperQuery = DEFAULT_PAPER) -> Response:
    payload = await run_in_threadpool(_plan_payload, state, plan_id)
    return await _pdf(payload, f"plan-{plan_id[:8]}", paper)


@exports.get(
    "/jobs/{job_id}/report.pdf",
    summary="A finished plan job as a PDF report (printed by headless Chromium)",
    responses=PDF_ERRORS,
)
async def job_pdf(job_id: str, state: State, paper: PaperQuery = DEFAULT_PAPER) -> Response:
    return await _pdf(_job_payload(state, job_id), f"plan-{job_id[:8]}", paper)


@exports.get(
    "/plans/{plan_id}/summary",
    summary="A saved plan's executive summary in plain language (the report's first page)",
    responses=ERRORS,
)
def plan_summary(plan_id: str, state: State) -> dict[str, Any]:
    return executive_summary(_plan_payload(state, plan_id))


@exports.get(
    "/jobs/{job_id}/summary",
    summary="A finished plan job's executive summary in plain language",
    responses=ERRORS,
)
def job_summary(job_id: str, state: State) -> dict[str, Any]:
    return executive_summary(_job_payload(state, job_id))


@page.get(LABELS_PATH)
def labels_json() -> JSONResponse:
    return JSONResponse(labels(), headers={"Cache-Control": "max-age=3600"})


@exports.post(
    "/yaml",
    summary="A scenario (object or text) as a scenario file (YAML, defaults left out)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}, 422: {"model": ErrorBody}},
)
def scenario_yaml(body: ScenarioInput, state: State) -> PlainTextResponse:
    scenario = scenario_of(body.scenario, body.text, state.catalogs.catalog())
    return PlainTextResponse(dump_scenario(scenario, full=False), media_type="application/yaml")


@exports.post(
    "/yaml/edit",
    summary="Set, append or remove fields of a scenario file's text; comments, integers and "
    "order kept",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}, 422: {"model": ErrorBody}},
)
def edit_yaml(body: YamlEdit, state: State) -> PlainTextResponse:
    text = edit_text(body.text, body.set, body.append, body.remove)
    scenario_of(None, text, state.catalogs.catalog())  # the edited file must still be valid
    return PlainTextResponse(text, media_type="application/yaml")


def install_web(app: FastAPI) -> None:
    """Serve the UI and the exports on ``app``, large responses gzipped."""
    install_compression(app)
    app.include_router(page)
    app.include_router(exports)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="web-static")
