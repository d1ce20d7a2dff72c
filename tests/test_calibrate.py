"""``llmplan calibrate`` and ``--calibration``: fitting engine profiles to your own
measurements and using them.

The checks are behavioural: a fit never makes the fitted rows worse, measurements that
are uniformly faster than predicted pull the predictions up, and every command that takes
``--calibration`` says which calibration it used.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmplan.catalog.calibration_file import load_calibration
from llmplan.cli.main import app
from llmplan.validation.dataset import bundled_measurements_path

# a setup inside the calibrated rows' regime (Qwen2.5 on A100, vLLM, small batches)
PERF = [
    "perf",
    "--model",
    "Qwen/Qwen2.5-7B-Instruct",
    "--gpu",
    "A100-SXM-80GB",
    "--batch",
    "8",
    "--json",
]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return CliRunner()


def dev_rows(engine: str, scale: float = 1.0, limit: int = 60) -> list[dict[str, str]]:
    """Throughput rows of ``engine`` from the dev set, values multiplied by ``scale``."""
    with bundled_measurements_path().open(encoding="utf-8") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["engine"] == engine and r["metric"] == "output_tokens_per_s"
        ]
    for r in rows:
        r["value"] = str(float(r["value"]) * scale)
    return rows[:limit]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def calibrate(runner: CliRunner, csv_path: Path, out: Path) -> dict[str, object]:
    result = runner.invoke(app, ["calibrate", str(csv_path), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_fit_never_worsens_the_fitted_rows(runner: CliRunner, tmp_path: Path) -> None:
    payload = calibrate(
        runner, write_csv(tmp_path / "m.csv", dev_rows("vllm")), tmp_path / "c.yaml"
    )
    (engine,) = payload["engines"]  # type: ignore[misc]
    assert engine["engine"] == "vllm" and engine["rows"] >= 8
    assert engine["median_ape_after"] <= engine["median_ape_before"] + 1e-9
    assert engine["holdout_rows"] >= 1
    profile = load_calibration(tmp_path / "c.yaml")
    assert (
        profile.engines[0].id == "vllm" and "llmplan calibrate" in profile.engines[0].how_obtained
    )


def test_faster_measurements_pull_predictions_up(runner: CliRunner, tmp_path: Path) -> None:
    """Measurements 1.8 x the dev set's: the calibrated vLLM profile predicts more
    throughput than the bundled one, and perf says which calibration it used."""
    rows = dev_rows("vllm", scale=1.8)
    calibrate(runner, write_csv(tmp_path / "fast.csv", rows), tmp_path / "fast.yaml")
    bundled = json.loads(runner.invoke(app, PERF).stdout)
    result = runner.invoke(app, [*PERF, "--calibration", str(tmp_path / "fast.yaml")])
    assert result.exit_code == 0, result.stderr
    calibrated = json.loads(result.stdout)
    assert calibrated["output_tokens_per_s"] > 1.2 * bundled["output_tokens_per_s"]
    assert "fast" in calibrated["calibration"]
    assert bundled["calibration"] == "bundled engine profiles"


def test_validate_and_plan_take_a_calibration(runner: CliRunner, tmp_path: Path) -> None:
    calibration = tmp_path / "c.yaml"
    calibrate(runner, write_csv(tmp_path / "m.csv", dev_rows("vllm")), calibration)
    csv_path = tmp_path / "m.csv"
    result = runner.invoke(app, ["validate", str(csv_path), "--calibration", str(calibration)])
    assert result.exit_code == 0, result.stderr
    plan = runner.invoke(
        app, ["plan", "--samples", "0", "--json", "--calibration", str(calibration)]
    )
    assert plan.exit_code == 0, plan.stderr
    assert "m" in json.loads(plan.stdout)["calibration"]


def test_too_few_rows_is_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "few.csv", dev_rows("vllm", limit=3))
    result = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "rows" in result.stderr
    assert not (tmp_path / "c.yaml").exists()


def test_malformed_calibration_file_is_one_error_line(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nengines: [1, 2]\n", encoding="utf-8")
    result = runner.invoke(app, [*PERF, "--calibration", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0]


def test_simulate_takes_a_calibration(runner: CliRunner, tmp_path: Path) -> None:
    """A faster calibration serves the same Poisson load with a shorter TPOT."""
    calibration = tmp_path / "fast.yaml"
    calibrate(runner, write_csv(tmp_path / "fast.csv", dev_rows("vllm", 1.8)), calibration)
    args = [
        "simulate",
        "--model",
        "Qwen/Qwen2.5-7B-Instruct",
        "--gpu",
        "A100-SXM-80GB",
        "--rate",
        "2",
        "--requests",
        "300",
        "--input-tokens",
        "256",
        "--output-tokens",
        "64",
        "--json",
    ]
    bundled = json.loads(runner.invoke(app, args).stdout)
    result = runner.invoke(app, [*args, "--calibration", str(calibration)])
    assert result.exit_code == 0, result.stderr
    calibrated = json.loads(result.stdout)
    assert calibrated["result"]["tpot"]["mean_ms"] < bundled["result"]["tpot"]["mean_ms"]
