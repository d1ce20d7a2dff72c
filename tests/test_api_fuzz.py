"""Property-based fuzzing of every API operation over the OpenAPI schema (issue 17).

For each operation of ``/openapi.json``, hypothesis draws path and query parameters and a
JSON body from the operation's own schema, mixing values that respect it with hostile
ones: integers past 2^31 and 2^63, 1e308 and 5e-324, control characters, long strings,
unknown keys, wrong types. The assertion is the contract: no answer is a 500, and every
error is the API's error shape. Jobs the API accepts are run in process (with few
Monte Carlo draws and simulated requests), so a value that passes validation and crashes
inside a job fails the test too. The run is bounded: ``EXAMPLES_PER_OPERATION`` draws per
operation, about a minute on one core.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplan.api import Settings, create_app
from llmplan.api.catalogs import CatalogCache
from llmplan.api.jobs import Job, JobRunner, _Entry
from llmplan.api.schemas import JobStatus
from llmplan.errors import LlmplanError

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

LOCAL = "http://localhost"
EXAMPLES_PER_OPERATION = 40
#: Limits on the jobs run in process, so that the fuzz run stays bounded.
JOB_SAMPLES = 10
JOB_REQUESTS = 200
MAX_DEPTH = 4
HOSTILE_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**53, 2**63, -(2**63), 10**30]
HOSTILE_FLOATS = [0.0, -0.0, -1.0, 5e-324, 1e-300, 1e308, -1e308, 2.2250738585072014e-308]
HOSTILE_TEXT = ["", "\x00", "a\x01b", "\x1b[31m", "=1+1", "../../etc/passwd", "é" * 300, "x" * 5000]


class InProcessJobs(JobRunner):
    """Runs each accepted job at once, in this process; records internal errors."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.cache = CatalogCache(home)
        self.bugs: list[str] = []
        self.ran = 0

    def submit(self, kind: str, params: dict[str, Any], on_success: Any = None, **_: Any) -> Job:
        from llmplan.api.tasks import TASKS

        self.ran += 1

        small = dict(params)
        if "samples" in small:
            small["samples"] = min(int(small["samples"]), JOB_SAMPLES)
        if "requests" in small.get("request", small):
            target = small.get("request", small)
            target["requests"] = min(int(target["requests"]), JOB_REQUESTS)
        try:
            TASKS[kind](small, self.cache, lambda fraction, stage: None)
        except LlmplanError:
            pass
        except Exception as exc:  # a bug inside a job
            self.bugs.append(f"{kind}: {type(exc).__name__}: {exc}")
        job = Job(uuid.uuid4().hex, kind, JobStatus.SUCCEEDED, 1.0, "done", _now())
        with self._lock:
            self._entries[job.id] = _Entry(job, params, None)
        return job


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    low = schema.get("exclusiveMinimum", low)
    kind = st.integers if integer else st.floats
    in_range = kind(
        min_value=None if low is None else (int(low) if integer else float(low)),
        max_value=None if high is None else (int(high) if integer else float(high)),
        **({} if integer else {"allow_nan": False, "allow_infinity": False}),
    )
    hostile = st.sampled_from(HOSTILE_INTS if integer else HOSTILE_INTS + HOSTILE_FLOATS)
    return st.one_of(in_range, hostile)


def _text(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    choices = [st.text(max_size=20), st.sampled_from(HOSTILE_TEXT)]
    if "enum" in schema:
        choices.insert(0, st.sampled_from(schema["enum"]))
    return st.one_of(*choices)


def _object(
    schema: dict[str, Any], components: dict[str, Any], depth: int
) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {
        name: from_schema(sub, components, depth + 1)
        for name, sub in properties.items()
        if name in required or depth < MAX_DEPTH
    }
    optional = [name for name in fields if name not in required]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        few = draw(st.sets(st.sampled_from(optional), max_size=2)) if optional else set()
        chosen = [*sorted(required & set(fields)), *sorted(few)]
        out = {name: draw(fields[name]) for name in chosen}
        if draw(st.integers(0, 9)) == 0:
            out[draw(st.sampled_from(["bogus", "\x00", "x" * 300]))] = 1
        return out

    return build()


#: Fields of a valid scenario that a mutation sets to an extreme or random value.
MUTABLE = [
    ("workloads", 0, "requests_per_day"),
    ("workloads", 0, "input_tokens"),
    ("workloads", 0, "output_tokens"),
    ("workloads", 0, "peak_to_average"),
    ("workloads", 0, "operating_hours_per_day"),
    ("workloads", 0, "growth_per_year"),
    ("workloads", 0, "cached_input_fraction"),
    ("finance", "rack_kw"),
    ("finance", "horizon_months"),
    ("finance", "discount_rate_per_year"),
    ("finance", "pue"),
    ("constraints", "power_budget_kw"),
    ("constraints", "max_racks"),
    ("constraints", "site_power_budget_kw"),
    ("constraints", "max_floor_m2"),
    ("capacity", "lead_time_months"),
    ("capacity", "min_tranche_servers"),
    ("capacity", "redundant_servers"),
    ("capacity", "hardware_price_decline_per_year"),
    ("capacity", "facility_usd_per_kw"),
]


@st.composite
def mutated_scenario(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario with one or two fields set to an extreme or random value, so
    that values near the edges of the schema reach the plan itself."""
    data = _seed() | {"finance": {}, "constraints": {}, "capacity": {}}
    if draw(st.booleans()):  # time-phased, whole servers (issue 13)
        data["capacity"] = {"phased": True, "whole_servers": True}
    for path in draw(st.lists(st.sampled_from(MUTABLE), min_size=1, max_size=2)):
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(
            st.one_of(
                st.sampled_from(HOSTILE_FLOATS + HOSTILE_INTS),
                st.floats(min_value=0, max_value=1e12, allow_nan=False),
                st.integers(min_value=0, max_value=10**6),
            )
        )
    if draw(st.integers(0, 3)) == 0:
        data["workloads"][0]["hourly_profile"] = draw(
            st.lists(st.sampled_from([0.0, 1.0, 5e-324, 1e9, 1e308]), min_size=24, max_size=24)
        )
    return data


def _extreme_or(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(HOSTILE_FLOATS), st.floats(min_value=low, max_value=high))


_SIM_BASE = {
    "model": st.just("meta-llama/Llama-3.1-8B"),
    "gpu": st.just("H100"),
    "requests": st.integers(1, JOB_REQUESTS),
}
_SIM_OPTIONS = {
    "input_p95": _extreme_or(1025, 1e7),
    "ttft_slo_ms": _extreme_or(1, 1e6),
    "replicas": st.integers(1, 4),
}
#: One kind of arrivals each (as the API requires), at or past the edges of its range.
SIMULATE_BODY = st.one_of(
    st.fixed_dictionaries(_SIM_BASE | {"rate": _extreme_or(1e-6, 1e6)}, optional=_SIM_OPTIONS),
    st.fixed_dictionaries(
        _SIM_BASE | {"rate": _extreme_or(1e-3, 1e3), "cv": _extreme_or(1e-3, 1e3)}
    ),
    st.fixed_dictionaries(
        _SIM_BASE | {"hourly_rates": st.lists(_extreme_or(0, 1e6), min_size=24, max_size=24)}
    ),
    st.fixed_dictionaries(
        _SIM_BASE
        | {"clients": st.sampled_from([*HOSTILE_INTS, 1, 10, 1000])}
        | {"think_time_s": _extreme_or(0, 1e6)}
    ),
)
#: Bodies that pass validation more often than a blind draw, by request schema.
NEAR_VALID: dict[str, st.SearchStrategy[Any]] = {
    "PlanRequest": st.fixed_dictionaries(
        {"scenario": mutated_scenario()}, optional={"samples": st.integers(0, JOB_SAMPLES)}
    ),
    "SimulateRequest": SIMULATE_BODY,
}


def from_schema(
    schema: dict[str, Any], components: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values for a JSON Schema: mostly of its shape, now and then of any shape; a
    scenario is as often a valid one with a field pushed to an extreme."""
    wrapped = schema.get("allOf", [{}])[0] if "allOf" in schema else schema
    if wrapped.get("$ref", "").endswith("/Scenario"):
        return st.one_of(mutated_scenario(), _any_schema(schema, components, depth))
    return _any_schema(schema, components, depth)


def _any_schema(
    schema: dict[str, Any], components: dict[str, Any], depth: int
) -> st.SearchStrategy[Any]:
    schema = _resolve(schema, components)
    if depth > MAX_DEPTH + 2:
        return st.none()
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of(*[from_schema(s, components, depth) for s in schema[key]])
    kind = schema.get("type")
    if "enum" in schema and kind is None:
        return st.sampled_from(schema["enum"])
    shaped: st.SearchStrategy[Any]
    if kind == "object" or "properties" in schema:
        shaped = _object(schema, components, depth)
    elif kind == "array":
        item = from_schema(schema.get("items", {}), components, depth + 1)
        shaped = st.lists(item, max_size=int(schema.get("maxItems", 4)) + 1)
    elif kind in ("integer", "number"):
        shaped = _number(schema, kind == "integer")
    elif kind == "string":
        shaped = _text(schema)
    elif kind == "boolean":
        shaped = st.booleans()
    elif kind == "null":
        shaped = st.none()
    else:
        shaped = st.one_of(st.none(), st.integers(), st.text(max_size=5))
    anything = st.one_of(st.none(), st.sampled_from(HOSTILE_INTS), st.sampled_from(HOSTILE_TEXT))
    return st.one_of(shaped, shaped, shaped, anything)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    home = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(home=home))
    jobs = InProcessJobs(home)
    object.__setattr__(app.state.llmplan, "jobs", jobs)  # a frozen record
    client = TestClient(app, base_url=LOCAL)
    created = client.post("/api/v1/scenarios", json={"scenario": _seed()})
    assert created.status_code == 201, created.text
    yield client, jobs
    app.state.llmplan.store.close()


def _seed() -> dict[str, Any]:
    return {
        "name": "seed",
        "workloads": [
            {"name": "chat", "model": "meta-llama/Llama-3.1-8B", "requests_per_day": 1000,
             "input_tokens": 500, "output_tokens": 100}
        ],
    }  # fmt: skip


def _operations() -> list[tuple[str, str]]:
    app = create_app(Settings(home=Path("/nonexistent-llmplan-fuzz"), database_url="sqlite://"))
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.llmplan.store.close()
    return [(path, method) for path, ops in sorted(paths.items()) for method in sorted(ops)]


OPERATIONS = _operations()


def _request(
    operation: dict[str, Any], components: dict[str, Any], path: str
) -> st.SearchStrategy[tuple[str, dict[str, Any], dict[str, Any], Any]]:
    params = operation.get("parameters", [])
    path_params = {p["name"]: from_schema(p.get("schema", {}), components) for p in params
                   if p["in"] == "path"}  # fmt: skip
    query = {p["name"]: from_schema(p.get("schema", {}), components) for p in params
             if p["in"] == "query"}  # fmt: skip
    headers = {p["name"]: _text({}) for p in params if p["in"] == "header"}
    content = operation.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    body_strategy = from_schema(body_schema, components) if body_schema else st.none()
    near_valid = (
        NEAR_VALID.get(body_schema.get("$ref", "").rsplit("/", 1)[-1]) if (body_schema) else None
    )
    if near_valid is not None:  # as often a body that reaches the job
        body_strategy = st.one_of(body_strategy, near_valid)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any], Any]:
        url = path
        for name, strategy in path_params.items():
            url = url.replace("{" + name + "}", quote(str(draw(strategy)), safe="") or "x")
        chosen_query = {k: draw(v) for k, v in query.items() if draw(st.booleans())}
        chosen_headers = {k: str(draw(v)) for k, v in headers.items() if draw(st.booleans())}
        chosen_headers = {
            k: v for k, v in chosen_headers.items() if v.isprintable() and v.isascii()
        }
        body = draw(body_strategy)
        return url, {k: v for k, v in chosen_query.items() if v is not None}, chosen_headers, body

    return build()


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_no_operation_answers_500(fuzz_app: tuple[TestClient, Any], path: str, method: str) -> None:
    client, jobs = fuzz_app
    schema = client.get("/openapi.json").json()
    components = schema.get("components", {}).get("schemas", {})
    operation = schema["paths"][path][method]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(_request(operation, components, path))
    def check(drawn: tuple[str, dict[str, Any], dict[str, Any], Any]) -> None:
        url, query, headers, body = drawn
        kwargs: dict[str, Any] = {"params": query, "headers": headers}
        if body is not None and method in ("post", "put", "patch"):
            kwargs["json"] = body
        response = client.request(method.upper(), url, **kwargs)
        assert response.status_code < 500 or response.status_code == 503, (
            f"{method.upper()} {url} {query} {body!r:.300}: {response.text[:300]}"
        )
        if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
            assert {"code", "message"} <= set(response.json())
        assert not jobs.bugs, jobs.bugs

    check()
