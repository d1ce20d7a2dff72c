"""``llmplan simulate``: JSON payloads, determinism, the plot, arrival options, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from llmplan.cli.simulate import simulate_command

BASE = ["simulate", "-m", "Llama-3.1-8B", "-g", "H100", "--requests", "400"]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    cli = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli.command("simulate")(simulate_command)
    cli.command("version")(lambda: None)  # two commands: the name stays on the command line
    return cli


def _ok(runner: CliRunner, app: typer.Typer, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


def _json(runner: CliRunner, app: typer.Typer, args: list[str]) -> Any:
    return json.loads(_ok(runner, app, [*args, "--json"]))


def _error(runner: CliRunner, app: typer.Typer, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_json_has_percentiles_goodput_and_series(runner: CliRunner, app: typer.Typer) -> None:
    args = [*BASE, "--rate", "8", "--input-p95", "3000", "--output-p95", "700"]
    payload = _json(runner, app, [*args, "--ttft-slo-ms", "300", "--tpot-slo-ms", "40"])
    result = payload["result"]
    assert payload["deployment"]["model"] == "meta-llama/Llama-3.1-8B"
    assert result["requests"] == 400
    for metric in ("ttft", "tpot", "itl", "e2e"):
        assert result[metric]["p50_ms"] <= result[metric]["p90_ms"] <= result[metric]["p99_ms"]
    assert 0 <= result["goodput_requests_per_s"] <= result["requests_per_s"]
    assert result["slo"] == {"ttft_ms": 300.0, "tpot_ms": 40.0, "percentile": 95.0, "met": True}
    assert len(result["series"]["time_s"]) == len(result["series"]["queue"]) > 1


def test_same_seed_same_output(runner: CliRunner, app: typer.Typer) -> None:
    args = [*BASE, "--rate", "10", "--output-p95", "700", "--replicas", "2"]
    first = _ok(runner, app, [*args, "--seed", "3", "--json"])
    assert _ok(runner, app, [*args, "--seed", "3", "--json"]) == first
    assert _ok(runner, app, [*args, "--seed", "4", "--json"]) != first


def test_table_output_and_plot(runner: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    plot = tmp_path / "out" / "sim.html"
    args = [*BASE, "--rate", "12", "--cv", "2", "--replicas", "2", "--router", "least-outstanding"]
    text = _ok(runner, app, [*args, "--ttft-slo-ms", "500", "--plot", str(plot)])
    assert "TTFT" in text and "goodput" in text and "least-outstanding" in text
    html = plot.read_text()
    assert "Latency percentiles" in html and "KV-cache use" in html
    assert '<script src="https://cdn.plot.ly' not in html  # plotly.js inlined: self-contained
    assert len(html) > 1_000_000


@pytest.mark.parametrize(
    "arrivals",
    [
        ["--clients", "16", "--think-time-s", "1"],
        ["--hourly-rates", ",".join(["2"] * 12 + ["6"] * 12)],
        ["--rate", "5", "--input-lengths", "LENGTHS"],
    ],
)
def test_other_arrival_options(
    runner: CliRunner, app: typer.Typer, tmp_path: Path, arrivals: list[str]
) -> None:
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("\n".join(["200", "800", "3000"]))
    arrivals = [str(lengths) if a == "LENGTHS" else a for a in arrivals]
    assert _json(runner, app, [*BASE, *arrivals])["result"]["requests"] == 400


def test_trace_replay(runner: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    rows = [f"{i * 0.2:.1f},{300 + i},{50 + i}" for i in range(30)]
    trace.write_text("arrival_s,input_tokens,output_tokens\n" + "\n".join(rows) + "\n")
    result = _json(runner, app, [*BASE, "--trace", str(trace)])["result"]
    assert result["requests"] == 30  # the whole trace, fewer than --requests


def test_find_max_rate(runner: CliRunner, app: typer.Typer) -> None:
    args = [*BASE, "--find-max-rate", "--ttft-slo-ms", "400", "--tpot-slo-ms", "30"]
    payload = _json(runner, app, args)
    assert 0 < payload["max_rate_per_s"] <= payload["first_failing_rate_per_s"]
    assert payload["result"]["slo"]["met"] is True
    text = _ok(runner, app, args)
    assert "largest rate meeting the SLO" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "rate: must be > 0"),
        (["--rate", "-3"], "rate: must be > 0"),
        ([], "give one of --rate"),
        (["--rate", "2", "--clients", "4"], "got --rate, --clients"),
        (["--cv", "2", "--clients", "4"], "cv: only applies with --rate"),
        (["--rate", "2", "--input-p95", "90000"], "input_p95"),
        (["--find-max-rate"], "TTFT or TPOT target"),
        (["--rate", "2", "--replicas", "0"], "replicas"),
        (["--rate", "2", "--percentile", "100"], "percentile"),
        (["--hourly-rates", "1,2,3"], "24 hourly rates"),
        (["--rate", "2", "--input-tokens", "200000"], "tokens per request"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runner: CliRunner, app: typer.Typer, args: list[str], message: str
) -> None:
    assert message in _error(runner, app, [*BASE, *args])


def test_bad_traces(runner: CliRunner, app: typer.Typer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _error(runner, app, [*BASE, "--trace", str(empty)])
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_s,input_tokens,output_tokens\n0,100,5\n1,100,many\n")
    line = _error(runner, app, [*BASE, "--trace", str(bad)])
    assert "line 3, column output_tokens" in line
    assert "cannot read" in _error(runner, app, [*BASE, "--trace", str(tmp_path / "none.csv")])


def test_a_model_that_does_not_fit(runner: CliRunner, app: typer.Typer) -> None:
    args = ["simulate", "-m", "Llama-3.1-405B", "-g", "L4", "--rate", "1"]
    assert "no memory for the KV cache" in _error(runner, app, args)


def test_scenario_workload(runner: CliRunner, app: typer.Typer) -> None:
    from llmplan.scenario import bundled_examples

    path = str(bundled_examples()["chat-assistant"])
    args = ["simulate", "-m", "Llama-3.3-70B-Instruct", "-g", "H100", "--tp", "4"]
    args += ["--precision", "fp8", "--requests", "300", "--scenario", path]
    result = _json(runner, app, args)["result"]
    assert result["slo"]["ttft_ms"] == 2000.0 and result["slo"]["tpot_ms"] == 50.0
    overridden = _json(runner, app, [*args, "--ttft-slo-ms", "100"])["result"]
    assert overridden["slo"]["ttft_ms"] == 100.0
    assert "no inference workload named" in _error(runner, app, [*args, "--workload", "nope"])
    plain = ["simulate", "-m", "Llama-3.1-8B", "-g", "H100", "--rate", "1", "--workload", "x"]
    assert "only applies with --scenario" in _error(runner, app, plain)
