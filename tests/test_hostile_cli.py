"""Hostile input on the command line (issue 17): every case is refused with one line on
stderr and exit code 2, quickly and in bounded memory; nothing tracebacks or hangs.

Cases that could hang or grow without end if a limit broke (FIFOs, devices, huge files)
run in a subprocess with a time-out and an address-space limit, so a regression fails
the test instead of stalling the suite."""

from __future__ import annotations

import copy
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llmplan.cli.common import handle_errors
from llmplan.cli.main import app
from llmplan.limits import MAX_NESTING_DEPTH, MAX_TEXT_BYTES, MAX_WORKLOADS_PER_SCENARIO
from llmplan.scenario import bundled_examples

SRC = Path(__file__).resolve().parents[1] / "src"
#: Seconds a refusal may take in process (parsing 1 MiB of YAML is the slowest: ~5 s).
REFUSAL_S = 20.0
#: Address space of a subprocess case: a read of /dev/zero or a 2 GB file would pass it.
SUBPROCESS_MEMORY_BYTES = 1_500_000_000
SIM = ["simulate", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--requests", "100"]


def example() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load(bundled_examples()["chat-assistant"].read_text())
    return data


def refused(*args: str) -> str:
    """The one error line of a command that must exit 2, within :data:`REFUSAL_S`."""
    started = time.monotonic()
    result = CliRunner().invoke(app, list(args))
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert elapsed < REFUSAL_S, f"took {elapsed:.1f} s"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def refused_in_subprocess(*args: str, timeout_s: float = 60.0) -> str:
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY_BYTES,) * 2)

    code = "from llmplan.cli.main import app; app()"
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        preexec_fn=limit_memory,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --- scenario files: depth, size, NUL, binary, devices, FIFOs -----------------------------
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.yaml", "name: x\nworkloads: " + "[" * 1500 + "]" * 1500 + "\n"),
        ("deep.json", '{"name": "x", "workloads": ' + "[" * 1500 + "]" * 1500 + "}"),
        ("block.yaml", "".join(f"{' ' * i}k{i}:\n" for i in range(600)) + "  x: 1\n"),
        ("dash.yaml", "workloads:\n" + "- " * 3000 + "x\n"),
    ],
    ids=["flow-yaml", "json", "block-yaml", "dashes"],
)
def test_deep_nesting_is_refused_before_parsing(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert f"more than the {MAX_NESTING_DEPTH} allowed" in refused("plan", str(path))


def test_a_nul_byte_in_a_scenario_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_text('name: "a"\ndescription: "x\x00y"\nworkloads: []\n')
    assert "line 2: control character U+0000" in refused("plan", str(path))


def test_a_binary_file_is_not_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 64)
    line = refused("plan", str(path))
    assert "not UTF-8" in line or "control character" in line


def test_an_oversized_scenario_is_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "#" * (MAX_TEXT_BYTES + 10) + "\n")
    assert f"more than the {MAX_TEXT_BYTES:,} allowed" in refused("plan", str(path))


def test_too_many_workloads(tmp_path: Path) -> None:
    data = example()
    first = data["workloads"][0]  # type: ignore[index]
    data["workloads"] = [
        {**copy.deepcopy(first), "name": f"w{i}"} for i in range(MAX_WORKLOADS_PER_SCENARIO + 1)
    ]
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(data))
    assert "workloads" in refused("plan", str(path))


def test_a_file_of_unknown_keys_is_refused_quickly(tmp_path: Path) -> None:
    data = example()
    data.update({f"unknown_key_{i}": i for i in range(20_000)})
    path = tmp_path / "unknown.yaml"
    path.write_text(yaml.safe_dump(data))
    assert "unknown field" in refused("plan", str(path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["validate"],
        ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--calibration"],
        [*SIM, "--rate", "1", "--trace"],
        ["calibrate"],
        ["bench", "--model", "m", "--gpu", "H100", "--engine", "vllm", "--import"],
        ["prices", "import", "--litellm"],
    ],
)
def test_a_fifo_with_no_writer_is_refused_not_waited_on(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in refused_in_subprocess(*command, str(fifo))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["validate"],
        ["memory", "--model", "meta-llama/Llama-3.1-8B", "--calibration"],
        [*SIM, "--rate", "1", "--trace"],
    ],
)
def test_a_device_is_refused_not_read_forever(command: list[str]) -> None:
    assert "not a regular file" in refused_in_subprocess(*command, "/dev/zero")


def test_a_huge_file_is_refused_from_its_size(tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: no disk used
        handle.truncate(2_000_000_000)
    assert "bytes, more than the" in refused_in_subprocess("validate", str(huge))


def test_a_scenarios_calibration_file_is_read_bounded(tmp_path: Path) -> None:
    data = example()
    data["calibration"] = "calibration.yaml"
    os.mkfifo(tmp_path / "calibration.yaml")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    assert "not a regular file" in refused_in_subprocess("plan", str(path))


# --- calibration files ---------------------------------------------------------------------
def test_a_binary_calibration_file(tmp_path: Path) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_bytes(bytes(range(256)) * 16)
    line = refused("perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100",
                   "--calibration", str(path))  # fmt: skip
    assert "calibration" in line


def shared_alias_profile() -> dict[str, object]:
    """A calibration whose two engines share an alias (a CatalogError once applied)."""
    from llmplan.cli.common import catalog

    engine = catalog().engine("vllm").model_dump(mode="json")
    other = {**engine, "id": "vllm-copy", "aliases": [*engine.get("aliases", []), "vllm"]}
    return {
        "name": "shared",
        "source": "test",
        "created": "2026-01-01",
        "rows": 1,
        "engines": [engine, other],
    }


def test_a_calibration_whose_engines_share_an_alias(tmp_path: Path) -> None:
    path = tmp_path / "calibration.yaml"
    path.write_text(yaml.safe_dump(shared_alias_profile()))
    line = refused("perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100",
                   "--calibration", str(path))  # fmt: skip
    assert "calibration" in line and "used by" in line


# --- extreme values ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"requests_per_day": 1e308}, "requests_per_day"),
        ({"requests_per_day": 5e-324}, "requests_per_day"),
        ({"hourly_profile": [1e308] * 24}, "hourly_profile"),
        ({"operating_hours_per_day": 5e-324}, "operating_hours_per_day"),
    ],
)
def test_extreme_workload_values(tmp_path: Path, change: dict[str, object], field: str) -> None:
    data = example()
    workload = data["workloads"][0]  # type: ignore[index]
    if "hourly_profile" in change:
        workload.pop("operating_hours_per_day", None)
        workload.pop("peak_to_average", None)
    workload.update(change)
    path = tmp_path / "extreme.yaml"
    path.write_text(yaml.safe_dump(data))
    assert field in refused("plan", str(path), "--samples", "10")


def test_a_rack_of_no_power(tmp_path: Path) -> None:
    data = example()
    data["finance"]["rack_kw"] = 5e-324  # type: ignore[index]
    path = tmp_path / "rack.yaml"
    path.write_text(yaml.safe_dump(data))
    assert "rack_kw" in refused("plan", str(path), "--samples", "10")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--rate", "5e-324"], "rate"),
        (["--rate", "1e308"], "rate"),
        (["--rate", "1", "--cv", "5e-324"], "cv"),
        (["--rate", "1", "--cv", "1e308"], "cv"),
        (["--hourly-rates", ",".join(["1e308"] * 24)], "hourly_rates"),
        (["--hourly-rates", ",".join(["5e-324"] * 24)], "hourly_rates"),
        (["--clients", "1000000000000"], "clients"),
        (["--rate", "1", "--requests", "1000000000"], "requests"),
    ],
)
def test_extreme_simulation_values(args: list[str], field: str) -> None:
    base = [a for a in SIM if a not in ("--requests", "100")] if "--requests" in args else SIM
    assert f"error: {field}" in refused(*base, *args)


# --- the last resort -----------------------------------------------------------------------
def test_a_bug_is_one_line_with_exit_1_and_a_report_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @handle_errors
    def broken() -> None:
        raise ZeroDivisionError("float division by zero")

    with pytest.raises(Exception) as raised:
        broken()
    assert getattr(raised.value, "exit_code", None) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "internal error (ZeroDivisionError" in err[0] and "report" in err[0]


# --- measurements CSVs ---------------------------------------------------------------------
def dev_set_head(rows: int) -> str:
    from llmplan.validation.dataset import bundled_measurements_path

    lines = bundled_measurements_path().read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    return "\n".join(lines[: header + 1 + rows]) + "\n"


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text("\ufeff" + dev_set_head(3), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.output


def test_a_header_only_csv_and_an_unknown_column_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text(dev_set_head(0), encoding="utf-8")
    assert "no measurement rows" in refused("validate", str(path))
    assert "unknown column 'bogus'" in refused("validate", "--by", "bogus")


def test_a_search_too_large_is_refused_with_its_size(tmp_path: Path) -> None:
    data = example()
    workload = data["workloads"][0]  # type: ignore[index]
    data["workloads"] = [{**copy.deepcopy(workload), "name": f"w{i}"} for i in range(20)]
    data["constraints"] = {}
    data["candidates"] = {
        "gpus": ["H100", "H200", "A100-SXM-80GB", "L40S", "B200", "MI300X", "L4", "RTX-4090"],
        "precisions": ["bf16", "fp8", "int8", "int4-awq", "int4-gptq", "nvfp4"],
        "engines": ["vllm", "sglang", "trtllm", "lmdeploy"],
    }
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(data))
    line = refused("plan", str(path))
    assert "3,840 combinations" in line and "candidates" in line


def test_a_monte_carlo_run_too_large_is_refused_with_what_fits(tmp_path: Path) -> None:
    data = example()
    workload = data["workloads"][0]  # type: ignore[index]
    data["workloads"] = [{**copy.deepcopy(workload), "name": f"w{i}"} for i in range(20)]
    path = tmp_path / "twenty.yaml"
    path.write_text(yaml.safe_dump(data))
    line = refused("plan", str(path), "--samples", "10000")
    assert "200,000 workload-draws" in line and "at most 5,000 draws" in line
