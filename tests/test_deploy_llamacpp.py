"""The generated llama.cpp launch script, started as written against a tiny random-weight
GGUF model (built by ``tests/fixtures/bench/tiny_gguf.py``), answers ``llmplan bench``
run with the generated bench arguments: issue 16's "starts the generated command and
benches it". Skipped, with the reason, without llama-cpp-python[server] or gguf."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmplan.catalog.loader import load_catalog
from llmplan.cli.main import app
from llmplan.deploy import DeployTarget, deploy_files
from llmplan.plan.planner import make_plan
from llmplan.prices.loader import load_prices
from llmplan.scenario import load_example
from llmplan.validation.dataset import read_measurements

for _module in ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context", "gguf"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} missing: pip install 'llama-cpp-python[server]' gguf",
                    allow_module_level=True)  # fmt: skip

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
START_TIMEOUT_S = 60.0
EXAMPLE = "finetuning-programme"
#: The tiny model's window is 2,048 byte-level tokens: the bench keeps the generated
#: arguments but sends short prompts, and few of them.
SHORT = {"--input-tokens": "24", "--output-tokens": "8", "--lengths": "fixed", "--requests": "3"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tiny_gguf(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("deploy_tiny_gguf", FIXTURES / "tiny_gguf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: Path = module.build(path)
    return built


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """(URL, bench arguments) of the generated launch script running the tiny model."""
    home = tmp_path_factory.mktemp("home")
    catalog = load_catalog(home)
    plan = make_plan(load_example(EXAMPLE), catalog, load_prices(home), monte_carlo_samples=0)
    folder = tmp_path_factory.mktemp("deploy")
    files = deploy_files(plan, DeployTarget.LLAMACPP, catalog)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    script = next(folder.glob("launch-*.sh"))
    port = _free_port()
    env = os.environ | {
        "MODEL_FILE": str(_tiny_gguf(folder / "tiny.gguf")),
        "PORT": str(port),
        "CUDA_VISIBLE_DEVICES": "",
    }
    log = folder / "server.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            ["bash", str(script)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the generated command exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the generated command did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        bench = files["bench.sh"].split("llmplan bench ", 1)[1].replace("\\\n", " ")
        yield url, [url if t == "$ENDPOINT" else t for t in shlex.split(bench)]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_generated_llama_cpp_command_serves_and_is_benched(
    deployed: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, argv = deployed
    models = httpx.get(f"{url}/v1/models").json()
    served = argv[argv.index("--served-model") + 1]
    assert [m["id"] for m in models["data"]] == [served]  # --model_alias is the model id
    args = ["bench", *argv]
    for option, value in SHORT.items():
        args[args.index(option) + 1] = value
    if "--length-cv" in args:
        at = args.index("--length-cv")
        del args[at : at + 2]
    out = tmp_path / "measured.csv"
    args[args.index("--out") + 1] = str(out)
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert len(steps) == 3  # the three planned rates
    assert all(s["succeeded"] == s["requests"] == 3 for s in steps), steps
    assert len(read_measurements(out)) > 0
