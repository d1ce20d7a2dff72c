"""``llmplan bench`` end to end against llama.cpp's OpenAI-compatible server
(``python -m llama_cpp.server`` from llama-cpp-python) serving a tiny random-weight
llama model that the test builds with the ``gguf`` package. No mock: real tokenizer,
real forward passes, real SSE stream.

Skipped, with the reason, when llama-cpp-python (with its server extra) or gguf is not
installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from llmplan.bench import Api, BenchConfig, LengthSpec, parse_steps
from llmplan.bench.client import run_bench
from llmplan.bench.summary import summarise
from llmplan.cli.bench import bench_command
from llmplan.validation.dataset import read_measurements

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
START_TIMEOUT_S = 60.0

for _module, _why in (
    ("llama_cpp", "llama-cpp-python is not installed"),
    ("uvicorn", "llama-cpp-python[server] is not installed"),
    ("sse_starlette", "llama-cpp-python[server] is not installed"),
    ("starlette_context", "llama-cpp-python[server] is not installed"),
    ("gguf", "gguf is not installed (it builds the test model)"),
):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_why}: pip install 'llama-cpp-python[server]' gguf", allow_module_level=True)


def _tiny_gguf(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("bench_tiny_gguf", FIXTURES / "tiny_gguf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: Path = module.build(path)
    return built


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = _tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    port = _free_port()
    log = tmp_path_factory.mktemp("log") / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                "tiny",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "1024",
                "--n_threads",
                "2",
                "--verbose",
                "False",
                "--interrupt_requests",  # serve concurrent requests in turn
                "False",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("api", list(Api))
def test_llama_cpp_server_is_measured(llama_server: str, api: Api) -> None:
    cfg = BenchConfig(
        url=llama_server,
        model="tiny",
        steps=parse_steps("1,2", None),
        input_len=LengthSpec(32),
        output_len=LengthSpec(16),
        api=api,
        requests=4,
        warmup=1,
    )
    run = asyncio.run(run_bench(cfg))
    for s in summarise(run):
        assert s.succeeded == s.requests == 4, s.error_examples
        assert s.input_tokens_mean > 0 and s.output_tokens_mean >= 1
        assert 0 < s.ttft_ms.p50 <= s.e2e_ms.p50
        assert s.output_tokens_per_s > 0 and s.requests_per_s > 0


def test_cli_against_llama_cpp_writes_measurements(llama_server: str, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("bench")(bench_command)
    app.command("noop")(lambda: None)
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            llama_server,
            "--model",
            "Qwen/Qwen2.5-0.5B-Instruct",
            "--served-model",
            "tiny",
            "--gpu",
            "A100-SXM-80GB",
            "--engine",
            "llama.cpp",
            "--precision",
            "fp16",
            "--concurrency",
            "1",
            "--rate",
            "20",
            "--requests",
            "4",
            "--input-tokens",
            "24",
            "--output-tokens",
            "12",
            "--warmup",
            "1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [s["succeeded"] for s in payload["steps"]] == [4, 4]
    assert len(read_measurements(out)) == payload["rows"] > 0
