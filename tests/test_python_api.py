"""Issue 14: the public Python API, and the README's and docs' Python examples as written."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import llmplan
from llmplan.errors import InputError, LlmplanError, MissingDependencyError

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path, heading: str | None = None) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if heading is not None:  # only the section under this heading
        text = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def _run(blocks: list[str], where: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    cwd = Path.cwd()
    os.chdir(where)
    try:
        for block in blocks:
            exec(compile(block, "example", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_readme_python_example_runs_as_written(tmp_path: Path) -> None:
    blocks = _python_blocks(ROOT / "README.md", "## Python API")
    assert len(blocks) == 1
    pytest.importorskip("pandas")
    namespace = _run(blocks, tmp_path)
    # 70B in fp8 on 2 GPUs: 70.6e9 params x 1 byte / 2 = ~33 GiB of weights per GPU alone
    assert namespace["memory"].fits is True
    assert 33 * 2**30 < namespace["memory"].per_gpu_bytes < 80 * 2**30
    options = namespace["plan"].to_frame()
    assert namespace["plan"].recommended["option"] in set(options["option"])


def test_docs_worked_example_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    namespace = _run(_python_blocks(ROOT / "docs" / "python-api.md"), tmp_path)
    sweep = namespace["sweep"]
    assert list(sweep["batch"]) == [1, 2, 4, 8, 16, 32, 64]
    # more sequences per step never fewer tokens/s, never a shorter step
    assert sweep["output_tokens_per_s"].is_monotonic_increasing
    assert sweep["tpot_ms"].is_monotonic_increasing
    assert (tmp_path / "batch-sweep.html").stat().st_size > 10_000


def test_version_is_the_package_metadata() -> None:
    from importlib.metadata import version

    assert llmplan.__version__ == version("llmplan")


def test_memory_by_hand() -> None:
    """Llama-3.1-8B in bf16: 8.03e9 parameters x 2 bytes = 16.06e9 bytes of weights; the
    KV cache per token is 32 layers x 8 KV heads x 128 dims x 2 (K and V) x 2 bytes
    = 131,072 bytes."""
    report = llmplan.memory(model="meta-llama/Llama-3.1-8B", gpu="H100", context=1000, batch=2)
    dumped = report.model_dump()
    assert dumped["weights_bytes"] == pytest.approx(16.06e9, rel=0.01)
    assert dumped["kv_bytes_per_token"] == 131_072
    assert dumped["kv_cache_bytes"] == 131_072 * 1000 * 2
    assert report.fits is True and report.num_gpus == 1


def test_results_are_frozen() -> None:
    report = llmplan.memory(model="meta-llama/Llama-3.1-8B")
    with pytest.raises(ValueError):
        report.total_bytes = 0  # type: ignore[misc]


def test_options_or_keywords_and_errors_name_the_field() -> None:
    with pytest.raises(InputError) as bad:
        llmplan.perf(model="meta-llama/Llama-3.1-8B", gpu="H100", batch=0)
    assert bad.value.field == "batch"
    with pytest.raises(InputError) as unknown:
        llmplan.memory(model="meta-llama/Llama-3.1-8B", contxt=10)
    assert unknown.value.field == "contxt"
    with pytest.raises(InputError) as gpu:
        llmplan.perf(model="meta-llama/Llama-3.1-8B", gpu="H1000")
    assert gpu.value.field == "gpu"


def test_perf_all_at_once_matches_the_cli_option() -> None:
    """``request_rate="inf"`` with ``requests`` (was CLI-only): every request arrives at
    t=0, so the mean wait is longer than with the same requests spread at 1/s."""
    burst = llmplan.perf(
        model="meta-llama/Llama-3.1-8B", gpu="H100", request_rate="inf", requests=200
    )
    spread = llmplan.perf(model="meta-llama/Llama-3.1-8B", gpu="H100", request_rate=1.0)
    assert burst.ttft_ms is not None and spread.ttft_ms is not None
    assert burst.ttft_ms > spread.ttft_ms
    with pytest.raises(InputError) as alone:
        llmplan.perf(model="meta-llama/Llama-3.1-8B", gpu="H100", requests=10)
    assert alone.value.field == "requests"


def test_load_scenario_from_a_dict_and_a_file() -> None:
    path = ROOT / "examples" / "chat-assistant.yaml"
    from_file = llmplan.load_scenario(path)
    from llmplan.scenario import scenario_to_data

    assert llmplan.load_scenario(scenario_to_data(from_file)) == from_file
    with pytest.raises(InputError):
        llmplan.load_scenario({"name": "x", "workloads": [], "unknown_key": 1})


def test_catalog_is_callable_and_still_a_package() -> None:
    import llmplan.catalog.loader

    assert callable(llmplan.catalog) and callable(llmplan.plan) and callable(llmplan.perf)
    assert isinstance(llmplan.catalog(), llmplan.catalog.loader.Catalog)
    assert llmplan.catalog().gpu("H100").id == "H100-SXM-80GB"


def test_to_frame_without_pandas_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    report = llmplan.memory(model="meta-llama/Llama-3.1-8B")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(MissingDependencyError, match="needs pandas"):
        report.to_frame()


def test_every_exception_class_is_in_the_tree() -> None:
    """Every exception class llmplan defines derives from LlmplanError."""
    import importlib
    import pkgutil

    outside = []
    for info in pkgutil.walk_packages(llmplan.__path__, "llmplan."):
        if info.name.startswith("llmplan.store.migrations"):
            continue  # Alembic scripts, run only by Alembic
        if info.name.startswith(("llmplan.web", "llmplan.api", "llmplan.store")):
            pytest.importorskip("fastapi")
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue  # an optional extra that is not installed
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not issubclass(value, LlmplanError)
            ):
                outside.append(f"{info.name}.{value.__name__}")
    assert outside == []
