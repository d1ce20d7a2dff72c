"""``llmplan prices list|import``, invoked on ``prices_app`` directly.

Every test runs with $LLMPLAN_HOME in a fresh temporary folder; no test downloads anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from llmplan.cli.prices import prices_app

FIXTURES = Path(__file__).parent / "fixtures" / "prices"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "llmplan-home"
    monkeypatch.setenv("LLMPLAN_HOME", str(folder))
    monkeypatch.setenv("COLUMNS", "200")
    return folder


def run(args: list[str]) -> Result:
    return CliRunner().invoke(prices_app, args)


def ok(args: list[str]) -> Result:
    result = run(args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def ok_json(args: list[str]) -> Any:
    return json.loads(ok([*args, "--json"]).stdout)


def fails(args: list[str], message: str) -> None:
    result = run(args)
    assert result.exit_code == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert message in lines[0], lines[0]


def test_list_shows_every_kind(home: Path) -> None:
    out = ok(["list"]).stdout
    for title in ("Hardware purchase prices", "Cloud GPU prices", "API prices"):
        assert title in out
    assert "lenovo-sr680a-v3-8x-h100" in out and "claude-sonnet-4-5" in out


def test_list_cloud_for_one_gpu_as_json(home: Path) -> None:
    payload = ok_json(["list", "--kind", "cloud", "--gpu", "H100"])
    assert list(payload) == ["cloud"]
    rows = payload["cloud"]
    assert {r["gpu"] for r in rows} == {"H100-SXM-80GB"}
    per_gpu_hour = [r["usd_per_gpu_hour"] for r in rows]
    assert per_gpu_hour == sorted(per_gpu_hour)
    assert all(r["source"] and r["price_date"] for r in rows)


def test_list_gpu_without_kind_leaves_out_api(home: Path) -> None:
    payload = ok_json(["list", "--gpu", "L40S"])
    assert list(payload) == ["hardware", "cloud"]
    assert payload["hardware"][0]["usd_per_gpu"] == pytest.approx(52_390.5 / 4, abs=1e-6)


def test_list_pricing_and_search_filters(home: Path) -> None:
    payload = ok_json(["list", "--pricing", "reserved_3y"])
    assert {r["instance"] for r in payload["cloud"]} == {
        "Standard_ND96isr_H100_v5",
        "a3-ultragpu-8g",
        "a4-highgpu-8g",
    }
    api = ok_json(["list", "--kind", "api", "-s", "gemini"])["api"]
    assert [r["id"] for r in api] == ["gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro"]


def test_list_limit(home: Path) -> None:
    assert len(ok_json(["list", "--kind", "hardware", "--limit", "3"])["hardware"]) == 3
    out = ok(["list", "--kind", "cloud", "--limit", "2"]).stdout
    assert "showing 2 of 42" in out  # cloud.yaml 28 + market-2026.yaml 14


def test_list_errors_are_one_line(home: Path) -> None:
    fails(["list", "--gpu", "H1000"], "unknown gpu 'H1000'")
    fails(["list", "--kind", "api", "--gpu", "H100"], "API prices are not per GPU")
    fails(["list", "--kind", "hardware", "--pricing", "spot"], "--pricing applies to cloud")


def test_import_gpuhunt_file(home: Path) -> None:
    out = ok(["import", "--gpuhunt", str(FIXTURES / "aws.csv")]).stdout
    assert "imported 5 cloud prices" in out
    assert "GPU not in catalog: T4 16 GB: 1" in out
    assert "warning:" in out and "below $0.05" in out
    saved = home / "prices" / "gpuhunt-aws.yaml"
    assert len(yaml.safe_load(saved.read_text(encoding="utf-8"))["cloud"]) == 5  # JSON is YAML
    spot = ok_json(["list", "--kind", "cloud", "--gpu", "H100", "--pricing", "spot"])["cloud"]
    bundled = {("spheron", 0.8), ("nebius", 10.0)}
    assert {(r["provider"], r["usd_per_hour"]) for r in spot} == {("aws", 21.6), *bundled}


def test_import_litellm_file_as_json(home: Path) -> None:
    payload = ok_json(["import", "--litellm", str(FIXTURES / "litellm-sample.json")])
    report = payload["api"]
    assert (report["imported"], report["rows_read"]) == (4, 10)
    assert report["skipped"]["mode embedding"] == 1
    assert len(report["warnings"]) == 3
    assert Path(report["file"]) == home / "prices" / "litellm.yaml"


def test_import_needs_online_for_downloads(home: Path) -> None:
    fails(["import", "--gpuhunt", "aws"], "--online")
    fails(["import", "--litellm", "latest"], "--online")
    assert not (home / "prices").exists()


def test_import_malformed_file_keeps_previous_import(home: Path, tmp_path: Path) -> None:
    ok(["import", "--gpuhunt", str(FIXTURES / "aws.csv")])
    saved = home / "prices" / "gpuhunt-aws.yaml"
    before = saved.read_bytes()
    bad = tmp_path / "aws.csv"
    bad.write_bytes((FIXTURES / "gpuhunt-malformed.csv").read_bytes())
    fails(["import", "--gpuhunt", str(bad)], "line 3: field 'price': not a number")
    assert saved.read_bytes() == before
    out = ok(["import", "--gpuhunt", str(bad), "--skip-malformed"]).stdout
    assert "imported 2 cloud prices" in out and "malformed row: 1" in out


def test_import_without_a_source_fails(home: Path) -> None:
    fails(["import"], "give --gpuhunt")
