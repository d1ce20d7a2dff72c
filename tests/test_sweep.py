"""``llmplan sweep``: varied keys, grid and samples, resuming, local processes and Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmplan.cli.main import app
from llmplan.errors import InputError
from llmplan.scenario import load_example
from llmplan.scenario.io import scenario_to_data
from llmplan.sweep import SweepSettings, apply_point, parse_vary, run_sweep, sweep_points
from llmplan.sweep import run as sweep_run
from llmplan.sweep.output import Checkpoint, write_table

BASE = scenario_to_data(load_example("chat-assistant"))
SETTINGS = SweepSettings(scenario=BASE, seed=3, monte_carlo_samples=20)
POINTS = sweep_points(
    [
        parse_vary("finance.electricity_usd_per_kwh=0.05,0.4"),
        parse_vary("workloads.chat.requests_per_day=2000,2000000"),
    ],
    None,
    0,
)


def test_values_are_read_as_yaml_scalars() -> None:
    vary = parse_vary("a.b=0.12, 7, true, H100")
    assert vary.choices == (0.12, 7, True, "H100")
    ranged = parse_vary("x=10..20")
    assert (ranged.low, ranged.high, ranged.integer) == (10, 20, True)
    assert not parse_vary("x=0.1..0.3").integer


@pytest.mark.parametrize("spec", ["no-equals", "=1,2", "a..b=1", "x=3..1", "x="])
def test_malformed_vary_names_the_option(spec: str) -> None:
    with pytest.raises(InputError) as info:
        parse_vary(spec)
    assert info.value.field == "vary"


def test_grid_is_the_product_in_order() -> None:
    assert [
        {"finance.electricity_usd_per_kwh": e, "workloads.chat.requests_per_day": r}
        for e in (0.05, 0.4)
        for r in (2000, 2000000)
    ] == POINTS


def test_samples_are_seeded_and_inside_the_range() -> None:
    varies = [parse_vary("finance.discount_rate=0.0..0.2"), parse_vary("k=a,b,c")]
    first = sweep_points(varies, 50, seed=1)
    assert first == sweep_points(varies, 50, seed=1)
    assert first != sweep_points(varies, 50, seed=2)
    assert all(0.0 <= p["finance.discount_rate"] <= 0.2 for p in first)
    assert {p["k"] for p in first} == {"a", "b", "c"}


def test_a_range_needs_samples_and_keys_are_varied_once() -> None:
    with pytest.raises(InputError, match="--samples"):
        sweep_points([parse_vary("x=1..2")], None, 0)
    with pytest.raises(InputError, match="once"):
        sweep_points([parse_vary("x=1"), parse_vary("x=2")], None, 0)


def test_apply_point_sets_dotted_keys_by_name_and_index_without_mutating() -> None:
    data = apply_point(
        BASE, {"workloads.chat.requests_per_day": 5, "workloads.0.name": "c2", "a.b.c": 1}
    )
    assert data["workloads"][0]["requests_per_day"] == 5
    assert data["workloads"][0]["name"] == "c2"
    assert data["a"] == {"b": {"c": 1}}
    assert BASE["workloads"][0]["name"] == "chat"


def test_unknown_list_element_lists_what_is_allowed() -> None:
    with pytest.raises(InputError, match=r"allowed: chat"):
        apply_point(BASE, {"workloads.nope.requests_per_day": 1})


def test_rows_carry_the_decision_and_follow_the_volume(tmp_path: Path) -> None:
    rows = run_sweep(SETTINGS, POINTS, tmp_path / "c.jsonl")
    assert [r["point"] for r in rows] == [0, 1, 2, 3]
    for row in rows:
        assert row["status"] == "ok"
        assert row["recommended_npv_usd"] == row[f"npv_usd.{row['recommended']}"]
        assert 0.0 <= row["win_share"] <= 1.0
    small, large = rows[0], rows[1]
    assert large["recommended_npv_usd"] > small["recommended_npv_usd"]  # 1,000x the volume


def test_processes_give_the_same_rows_and_resume_skips_finished_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = run_sweep(SETTINGS, POINTS, tmp_path / "a.jsonl")
    parallel = run_sweep(SETTINGS, POINTS, tmp_path / "b.jsonl", workers=2)
    assert serial == parallel
    # An interrupted sweep: keep the checkpoint's header and first two rows only.
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:3]) + "\n{cut")
    called: list[int] = []
    real = sweep_run.evaluate_point

    def counting(settings: SweepSettings, index: int, point: dict[str, Any]) -> dict[str, Any]:
        called.append(index)
        return real(settings, index, point)

    monkeypatch.setattr(sweep_run, "evaluate_point", counting)
    resumed = run_sweep(SETTINGS, POINTS, tmp_path / "a.jsonl")
    assert (
        sorted(called) == [i for i in range(4) if i not in {serial[0]["point"], 1}]
        or len(called) == 2
    )
    assert resumed == serial


def test_a_checkpoint_of_another_sweep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    Checkpoint.open(path, "one")
    with pytest.raises(InputError, match="another sweep"):
        Checkpoint.open(path, "two")


def test_ray_gives_the_same_rows_as_local_processes(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    local = run_sweep(SETTINGS, POINTS, tmp_path / "local.jsonl")
    on_ray = run_sweep(SETTINGS, POINTS, tmp_path / "ray.jsonl", ray_address="local")
    assert on_ray == local


def test_parquet_and_csv_tables(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"point": 0, "x": 1, "y": "a"}, {"point": 1, "x": 2.5, "z": None}]
    write_table(rows, tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["point", "x", "y", "z"]
    assert table.column("x").to_pylist() == [1.0, 2.5]
    write_table(rows, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "point,x,y,z"


runner = CliRunner()


def test_cli_writes_one_row_per_point(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = runner.invoke(
        app,
        ["sweep", "--example", "chat-assistant", "--vary", "finance.electricity_usd_per_kwh=0.1,0.2",
         "--mc-samples", "10", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("point,finance.electricity_usd_per_kwh,status")
    progress = (tmp_path / "s.csv.progress.jsonl").read_text().splitlines()
    assert json.loads(progress[0])["signature"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--vary", "finance.electricity_usd_per_kwh=-1"], "vary"),
        (["--vary", "oops"], "vary"),
        (["--out", "x.xlsx"], "out"),
        (["--samples", "0", "--vary", "x=1..2"], "samples"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    result = runner.invoke(
        app, ["sweep", "--example", "chat-assistant", *args], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert "Traceback" not in result.output
