"""``llmplan bench`` against a real HTTP server on loopback: the small OpenAI-compatible
streaming server of ``fixtures/bench/toy_server.py`` (uvicorn, real SSE, real delays).

Checks: a clean run measures every request and writes rows that ``llmplan validate``
predicts; connections dropped mid-stream, malformed chunks and HTTP 500s are counted per
kind and the run completes; cancelling a run (what Ctrl-C does) keeps the finished
requests; an unreachable server is a run error, not a crash.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import typer
from typer.testing import CliRunner

from llmplan.bench import Api, BenchConfig, LengthSpec, parse_steps
from llmplan.bench.client import BenchRun, run_bench
from llmplan.bench.summary import summarise
from llmplan.catalog.loader import Catalog
from llmplan.cli.bench import bench_command
from llmplan.validation.dataset import read_measurements
from llmplan.validation.summary import validate

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
LABEL_ARGS = [
    "--model",
    "Qwen/Qwen2.5-7B-Instruct",
    "--gpu",
    "A100-SXM-80GB",
    "--engine",
    "vllm",
    "--precision",
    "bf16",
]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


toy = _load("toy_server")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with toy.serve() as url:
        yield url


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[str]:
    with toy.serve(toy.Faults(drop_every=4, malformed_every=5, http500_every=7)) as url:
        yield url


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("bench")(bench_command)
    app.command("noop")(lambda: None)
    return app


def config(url: str, **changes: object) -> BenchConfig:
    base: dict[str, object] = {
        "url": url,
        "model": "toy",
        "steps": parse_steps("1,4", "100"),
        "input_len": LengthSpec(32),
        "output_len": LengthSpec(8),
        "requests": 12,
        "warmup": 1,
    }
    base.update(changes)
    return BenchConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("api", list(Api))
def test_clean_run_measures_every_request(server: str, api: Api) -> None:
    run = asyncio.run(run_bench(config(server, api=api)))
    summaries = summarise(run)
    assert [s.step.label for s in summaries] == ["concurrency 1", "concurrency 4", "rate 100/s"]
    for s in summaries:
        assert (s.requests, s.succeeded, s.errors) == (12, 12, {})
        assert s.usage_reported and s.output_tokens_mean == 8 and s.input_tokens_mean == 32
        # the toy server sleeps 2 ms per token: TPOT at least that, TTFT below e2e
        assert s.tpot_ms.p50 >= 2.0
        assert 0 < s.ttft_ms.p50 < s.e2e_ms.p50
        assert s.output_tokens_per_s > 0
    # four clients finish the same work faster than one
    assert summaries[1].requests_per_s > summaries[0].requests_per_s


def test_duration_bound_stops_issuing(server: str) -> None:
    cfg = config(server, requests=None, duration_s=0.3, steps=parse_steps("2", "50"))
    summaries = summarise(asyncio.run(run_bench(cfg)))
    for s in summaries:
        assert 1 <= s.requests < 200
        assert s.succeeded == s.requests


def test_failures_are_counted_and_the_run_completes(faulty_server: str) -> None:
    cfg = config(faulty_server, requests=30, warmup=0, steps=parse_steps("1,3", None))
    summaries = summarise(asyncio.run(run_bench(cfg)))
    errors: dict[str, int] = {}
    for s in summaries:
        assert s.requests == 30
        assert s.succeeded == 30 - sum(s.errors.values()) > 0
        for kind, count in s.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    assert set(errors) == {"connection", "malformed_chunk", "http_500"}
    assert "incomplete chunked read" in summaries[0].error_examples["connection"]


def test_server_rejecting_ignore_eos_is_retried_without_it() -> None:
    with toy.serve(toy.Faults(reject_ignore_eos=True)) as url:
        run = asyncio.run(run_bench(config(url, steps=parse_steps("2", None))))
    assert run.ignore_eos is False
    assert [r.ok for r in run.warmup] == [True]
    [summary] = summarise(run)
    assert summary.succeeded == 12


def test_stalled_stream_is_a_timeout() -> None:
    with toy.serve(toy.Faults(stall_every=3, stall_s=1.0)) as url:
        cfg = config(url, steps=parse_steps("2", None), warmup=0, timeout_s=0.3)
        [summary] = summarise(asyncio.run(run_bench(cfg)))
    assert summary.errors == {"timeout": 4}
    assert summary.succeeded == 8


def test_cancellation_keeps_finished_requests(server: str) -> None:
    cfg = config(server, requests=10_000, steps=parse_steps("2", None), warmup=0)
    run = BenchRun(cfg)

    async def main() -> None:
        task = asyncio.create_task(run_bench(cfg, run))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    [summary] = summarise(run)
    assert 0 < summary.succeeded < 10_000
    assert summary.errors == {}


def test_cli_writes_rows_that_validate_predicts(
    server: str, tmp_path: Path, catalog: Catalog
) -> None:
    out = tmp_path / "measurements.csv"
    result = CliRunner().invoke(
        cli(),
        [
            "bench",
            server,
            *LABEL_ARGS,
            "--served-model",
            "toy",
            "--api",
            "chat",
            "--concurrency",
            "1,2",
            "--rate",
            "50",
            "--requests",
            "8",
            "--input-tokens",
            "64",
            "--output-tokens",
            "8",
            "--warmup",
            "1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [s["succeeded"] for s in payload["steps"]] == [8, 8, 8]
    measured = read_measurements(out)
    assert len(measured) == payload["rows"] == 3 * 14
    assert {m.mode for m in measured} == {"concurrency", "rate"}
    assert {m.input_len for m in measured} == {"64"}
    report = validate(measured, catalog)
    assert not report.skipped, report.skipped[:3]
    assert len(report.results) == len(measured)


def test_cli_reports_failures_in_the_table(faulty_server: str, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(
        cli(),
        [
            "bench",
            faulty_server,
            *LABEL_ARGS,
            "--requests",
            "14",
            "--output-tokens",
            "6",
            "--warmup",
            "0",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "http_500" in result.stdout and "malformed_chunk" in result.stdout
    assert read_measurements(out)


def test_unreachable_server_is_a_run_error_not_a_crash(tmp_path: Path) -> None:
    port = toy.free_port()  # nothing listens there
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(
        cli(),
        [
            "bench",
            f"http://127.0.0.1:{port}",
            *LABEL_ARGS,
            "--requests",
            "3",
            "--warmup",
            "0",
            "--timeout-s",
            "2",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["steps"][0]["errors"] == {"connection": 3}
    assert payload["rows"] == 0
    assert "no request succeeded" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX")
def test_ctrl_c_writes_what_was_measured(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    out = tmp_path / "m.csv"
    proc = subprocess.Popen(
        [sys.executable, str(FIXTURES / "interrupt_run.py"), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    payload = json.loads(stdout)
    assert payload["interrupted"] is True
    assert 0 < payload["steps"][0]["succeeded"] < 100_000
    assert len(read_measurements(out)) == payload["rows"] > 0
