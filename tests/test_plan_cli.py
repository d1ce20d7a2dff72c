"""``llmplan plan`` on the command line: output, --json, --report and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmplan.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "llmplan" / "scenario" / "examples"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return CliRunner()


def one_error_line(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_default_plan_runs_the_bundled_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", "--samples", "20"])
    assert result.exit_code == 0, result.stderr
    assert "Recommended:" in result.stdout


def test_plan_json_and_report(runner: CliRunner, tmp_path: Path) -> None:
    report = tmp_path / "plan.html"
    args = ["plan", str(EXAMPLES / "airgapped-eu-gdpr.yaml"), "--json", "--samples", "20"]
    result = runner.invoke(app, [*args, "--report", str(report)])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["recommended"]["option"] in ("on_premise", "colocation")
    html = report.read_text(encoding="utf-8")
    assert "Recommendation" in html and "plotly" in html.lower()
    assert "Cumulative cost per option" in html


def test_plan_by_example_name(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", "--example", "batch-summarisation", "--samples", "0"])
    assert result.exit_code == 0, result.stderr


def test_unknown_example_suggests_names(runner: CliRunner) -> None:
    line = one_error_line(runner, ["plan", "--example", "chat-asistant"])
    assert "chat-assistant" in line


def test_malformed_yaml_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nworkloads: [\n  - {kind: inference\n", encoding="utf-8")
    line = one_error_line(runner, ["plan", str(path)])
    assert "line" in line


def test_unknown_field_suggests_the_right_name(runner: CliRunner, tmp_path: Path) -> None:
    text = (EXAMPLES / "airgapped-eu-gdpr.yaml").read_text(encoding="utf-8")
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("electricity_usd_per_kwh", "electricty_usd_per_kwh"), "utf-8")
    line = one_error_line(runner, ["plan", str(path)])
    assert "electricity_usd_per_kwh" in line


def test_negative_price_override_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    text = (EXAMPLES / "small-team-consumer-gpus.yaml").read_text(encoding="utf-8")
    path = tmp_path / "negative.yaml"
    path.write_text(text.replace("purchase_price_usd: 3000", "purchase_price_usd: -3000"), "utf-8")
    line = one_error_line(runner, ["plan", str(path)])
    assert "purchase_price_usd" in line


def test_impossible_slo_reports_exclusions_then_fails(runner: CliRunner, tmp_path: Path) -> None:
    text = (EXAMPLES / "airgapped-eu-gdpr.yaml").read_text(encoding="utf-8")
    data_path = tmp_path / "impossible.yaml"
    import yaml

    data = yaml.safe_load(text)
    data["workloads"][0]["slo"] = {"ttft_ms": 1, "tpot_ms": 0.01, "percentile": 99}
    data_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(data_path), "--samples", "0"])
    assert result.exit_code == 2
    assert "Excluded options" in result.stdout
    assert "no option can serve the scenario" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    line = one_error_line(runner, ["plan", str(tmp_path / "nope.yaml")])
    assert "nope.yaml" in line


def test_model_that_fits_no_allowed_hardware(runner: CliRunner, tmp_path: Path) -> None:
    """Llama-3.1-405B on at most two consumer cards: every option is excluded, the
    designs say why (does not fit), and the command exits 2 with one error line."""
    import yaml

    data = yaml.safe_load((EXAMPLES / "small-team-consumer-gpus.yaml").read_text("utf-8"))
    data["workloads"][0]["model"] = "meta-llama/Llama-3.1-405B"
    data["constraints"]["allowed_options"] = ["on_premise"]
    path = tmp_path / "nofit.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["plan", str(path), "--samples", "0"])
    assert result.exit_code == 2
    assert "does not fit" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit" in lines[0]
