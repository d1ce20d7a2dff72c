"""``llmplan bench`` without a server: workload settings, statistics, the CSV rows and the
importers of vLLM, GuideLLM and AIPerf result files.

Numbers in the statistics tests are worked by hand in each test's docstring.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from llmplan.bench import (
    BenchConfig,
    ImportFormat,
    Labels,
    LengthDist,
    LengthSpec,
    LoadStep,
    StepKind,
    import_results,
    make_prompt,
    parse_steps,
    rows,
    write_csv,
)
from llmplan.bench.client import RequestResult, StepRun
from llmplan.bench.csvout import from_summary
from llmplan.bench.summary import summarise_step
from llmplan.cli.bench import bench_command
from llmplan.errors import InputError
from llmplan.validation.dataset import read_measurements

FIXTURES = Path(__file__).parent / "fixtures" / "bench"
LABELS = Labels(
    model="Qwen/Qwen2.5-7B-Instruct", gpu="A100-SXM-80GB", engine="vllm", precision="bf16"
)
REL = 1e-9  # exact arithmetic on a handful of floats


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("bench")(bench_command)
    app.command("noop")(lambda: None)  # keeps "bench" a named sub-command
    return app


def config(**changes: object) -> BenchConfig:
    base: dict[str, object] = {
        "url": "http://127.0.0.1:1",
        "model": "m",
        "steps": parse_steps("1", None),
        "input_len": LengthSpec(8),
        "output_len": LengthSpec(4),
    }
    base.update(changes)
    return BenchConfig(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------ workload
def test_parse_steps_keeps_order_and_kinds() -> None:
    steps = parse_steps("1, 2,4", "0.5")
    assert [(s.kind, s.value) for s in steps] == [
        (StepKind.CONCURRENCY, 1),
        (StepKind.CONCURRENCY, 2),
        (StepKind.CONCURRENCY, 4),
        (StepKind.RATE, 0.5),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ftp://host"}, "url"),
        ({"url": "localhost:8000"}, "url"),
        ({"steps": (LoadStep(StepKind.RATE, 0.0),)}, "rate"),
        ({"requests": None, "duration_s": None}, "requests"),
        ({"requests": 0}, "requests"),
        ({"timeout_s": 0.0}, "timeout_s"),
        ({"warmup": -1}, "warmup"),
    ],
)
def test_config_rejects_bad_input(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as info:
        config(**changes)
    assert info.value.field == field


def test_parse_steps_rejects_fractional_concurrency_and_text() -> None:
    with pytest.raises(InputError, match="whole"):
        parse_steps("1.5", None)
    with pytest.raises(InputError, match="not a number"):
        parse_steps(None, "fast")


def test_endpoint_accepts_base_url_with_or_without_v1() -> None:
    assert config(url="http://h:8000/v1/").endpoint == "http://h:8000/v1/completions"
    assert config(url="http://h:8000").endpoint == "http://h:8000/v1/completions"


def test_lognormal_lengths_have_the_requested_mean() -> None:
    """20,000 draws: the sample mean is within 2 % of 200 (standard error ~0.35 %)."""
    spec = LengthSpec(200, LengthDist.LOGNORMAL, cv=0.5)
    draws = spec.sample(np.random.default_rng(1), 20_000)
    assert min(draws) >= 1
    assert np.mean(draws) == pytest.approx(200, rel=0.02)
    assert np.std(draws) / np.mean(draws) == pytest.approx(0.5, rel=0.1)


def test_prompt_has_one_word_per_target_token_and_is_seeded() -> None:
    a = make_prompt(100, np.random.default_rng(3))
    b = make_prompt(100, np.random.default_rng(3))
    assert a == b
    assert len(a.split()) == 100


# ------------------------------------------------------------------ summary
def _result(ttft: float, e2e: float, times: list[float], start: float) -> RequestResult:
    r = RequestResult(10, len(times), start_s=start, ttft_s=ttft, e2e_s=e2e)
    r.token_times_s = times
    r.input_tokens, r.output_tokens = 10, len(times)
    return r


def test_step_summary_by_hand() -> None:
    """Two requests started at 0 and 0.5 s, five tokens each.
    A: TTFT 0.1 s, tokens at 0.1, 0.2, 0.3, 0.4, 0.5, e2e 0.5 s -> TPOT (0.5-0.1)/4 = 0.1 s.
    B: TTFT 0.3 s, tokens every 0.05 s to 0.5, e2e 0.5 s -> TPOT 0.05 s; ends at 1.0 s.
    Step wall time 1.0 s: 10 tokens/s, 2 requests/s; TTFT mean 200 ms; TPOT mean 75 ms.
    One failed request counts as an error only.
    """
    a = _result(0.1, 0.5, [0.1, 0.2, 0.3, 0.4, 0.5], start=0.0)
    b = _result(0.3, 0.5, [0.3, 0.35, 0.4, 0.45, 0.5], start=0.5)
    failed = RequestResult(10, 5, start_s=0.2, error="http_500", error_detail="boom")
    summary = summarise_step(StepRun(LoadStep(StepKind.CONCURRENCY, 2), [a, failed, b], 0.0))
    assert summary.requests == 3 and summary.succeeded == 2
    assert summary.errors == {"http_500": 1}
    assert summary.error_examples == {"http_500": "boom"}
    assert summary.duration_s == pytest.approx(1.0, rel=REL)
    assert summary.output_tokens_per_s == pytest.approx(10.0, rel=REL)
    assert summary.requests_per_s == pytest.approx(2.0, rel=REL)
    assert summary.ttft_ms.mean == pytest.approx(200.0, rel=REL)
    assert summary.tpot_ms.mean == pytest.approx(75.0, rel=REL)
    assert summary.itl_ms.n == 8
    assert summary.usage_reported


def test_csv_rows_skip_missing_metrics_and_label_the_load() -> None:
    """A step whose only request failed has no latencies: no rows, and no crash."""
    failed = RequestResult(10, 5, error="timeout")
    empty = summarise_step(StepRun(LoadStep(StepKind.RATE, 2.0), [failed], 0.0))
    assert rows([from_summary(empty)], LABELS) == []
    ok = _result(0.1, 0.5, [0.1, 0.2, 0.3, 0.4, 0.5], start=0.0)
    table = rows(
        [from_summary(summarise_step(StepRun(LoadStep(StepKind.RATE, 2.0), [ok])))], LABELS
    )
    assert {r["mode"] for r in table} == {"rate"}
    assert {r["request_rate"] for r in table} == {"2"}
    assert {r["batch"] for r in table} == {""}
    assert {r["input_len"] for r in table} == {"10"}


# ------------------------------------------------------------------ importers
def test_vllm_import() -> None:
    [step] = import_results(FIXTURES / "vllm_result.json", ImportFormat.VLLM)
    assert (step.mode, step.batch, step.request_rate) == ("concurrency", 16, None)
    assert (step.input_len, step.output_len) == ("1024", "128")
    assert step.metrics["output_tokens_per_s"] == 640.0
    assert step.metrics["ttft_ms_p99"] == 250.9
    assert step.metrics["e2e_latency_ms_median"] == 2900.0


def test_vllm_import_of_a_rate_run_in_json_lines(tmp_path: Path) -> None:
    base = json.loads((FIXTURES / "vllm_result.json").read_text())
    lines = [dict(base, max_concurrency=None, request_rate=r) for r in (1.0, 2.0)]
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    steps = import_results(path, ImportFormat.VLLM)
    assert [(s.mode, s.request_rate) for s in steps] == [("rate", 1.0), ("rate", 2.0)]


def test_guidellm_import() -> None:
    conc, poisson, sync = import_results(
        FIXTURES / "guidellm_benchmarks.json", ImportFormat.GUIDELLM
    )
    assert (conc.mode, conc.batch) == ("concurrency", 8)
    assert conc.metrics["ttft_ms_p99"] == 180.0
    assert conc.metrics["e2e_latency_ms_mean"] == pytest.approx(3200.0, rel=REL)  # seconds
    assert (conc.input_len, conc.output_len) == ("1000", "128")
    assert (poisson.mode, poisson.request_rate) == ("rate", 1.5)
    assert (sync.mode, sync.batch) == ("concurrency", 1)


def test_aiperf_import() -> None:
    [step] = import_results(FIXTURES / "aiperf_profile_export.json", ImportFormat.AIPERF)
    assert (step.mode, step.batch) == ("concurrency", 100)
    assert step.metrics["requests_per_s"] == 13.16
    assert step.metrics["tpot_ms_median"] == 51.98
    assert (step.input_len, step.output_len) == ("550", "97")


@pytest.mark.parametrize("fmt", list(ImportFormat))
def test_imports_write_rows_the_validator_reads(fmt: ImportFormat, tmp_path: Path) -> None:
    name = {
        "vllm": "vllm_result.json",
        "guidellm": "guidellm_benchmarks.json",
        "aiperf": "aiperf_profile_export.json",
    }[fmt.value]
    out = tmp_path / "m.csv"
    written = write_csv(out, import_results(FIXTURES / name, fmt), LABELS)
    assert written == len(read_measurements(out)) > 0


def test_import_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        import_results(bad, ImportFormat.VLLM)
    bad.write_text("{}")
    with pytest.raises(InputError, match="GuideLLM"):
        import_results(bad, ImportFormat.GUIDELLM)
    with pytest.raises(InputError, match="no such file"):
        import_results(tmp_path / "missing.json", ImportFormat.AIPERF)


# ------------------------------------------------------------------ CLI
def test_cli_import(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(
        cli(),
        [
            "bench",
            "--import",
            str(FIXTURES / "guidellm_benchmarks.json"),
            "--format",
            "guidellm",
            "--model",
            "Qwen/Qwen2.5-7B-Instruct",
            "--gpu",
            "A100-SXM-80GB",
            "--engine",
            "vllm",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["steps"] == 3
    assert payload["rows"] == len(read_measurements(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://x", "--model", "m", "--gpu", "g", "--engine", "e"], "http(s) URL"),
        (["http://x", "--gpu", "g", "--engine", "e"], "--model is required"),
        (
            ["http://x", "--model", "m", "--gpu", "g", "--engine", "e", "--concurrency", "0"],
            "must be positive",
        ),
        (["--model", "m", "--gpu", "g", "--engine", "e"], "give the server URL"),
        (["--import", "x.json", "--model", "m", "--gpu", "g", "--engine", "e"], "--format"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli(), ["bench", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
