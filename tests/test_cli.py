"""The command line: README examples, --json payloads, errors and the user catalog.

Every test runs with $LLMPLAN_HOME in a fresh temporary folder, so the user's own
catalog is never read or written.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from llmplan.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
LLAMA_CONFIG = FIXTURES / "meta-llama__Llama-3.1-8B.json"
MEASUREMENT_HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes"
)
GOOD_ROW = (
    "test,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,1,128,128,batch,1,,"
    "output_tokens_per_s,{value},high,"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "llmplan-home"
    monkeypatch.setenv("LLMPLAN_HOME", str(folder))
    return folder


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, args: list[str]) -> Result:
    return runner.invoke(app, args)


def ok(runner: CliRunner, args: list[str]) -> Result:
    result = run(runner, args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def ok_json(runner: CliRunner, args: list[str]) -> Any:
    return json.loads(ok(runner, [*args, "--json"]).stdout)


def usage_error(runner: CliRunner, args: list[str]) -> str:
    """Run ``args`` expecting exit code 2 and one line on stderr; return that line."""
    result = run(runner, args)
    assert result.exit_code == 2, (args, result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ----------------------------------------------------------------------------- README


def readme_commands() -> list[list[str]]:
    """Every ``llmplan ...`` command in the README's ```bash blocks (also after ``&&``)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    commands: list[list[str]] = []
    for block in blocks:
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("llmplan "):
                    commands.append(shlex.split(part, comments=True)[1:])
    return commands


def test_readme_has_examples() -> None:
    commands = readme_commands()
    assert len(commands) >= 7
    assert {c[0] for c in commands} >= {"memory", "perf", "validate", "example"}


@pytest.mark.parametrize("args", readme_commands(), ids=lambda a: " ".join(a)[:80])
def test_readme_command_runs(
    args: list[str], runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    args = list(args)
    report: Path | None = None
    if "--report" in args:
        at = args.index("--report") + 1
        report = tmp_path / Path(args[at]).name
        args[at] = str(report)
    for option in ("--out", "--calibration"):  # files the README writes go to tmp_path
        if option in args:
            at = args.index(option) + 1
            args[at] = str(tmp_path / Path(args[at]).name)
    if "--calibration" in args:  # made by the README's calibrate command
        made = next(c for c in readme_commands() if c[0] == "calibrate")
        out = made.index("--out") + 1
        ok(runner, [*made[:out], args[args.index("--calibration") + 1], *made[out + 1 :]])
    result = ok(runner, args)
    assert result.stdout.strip()
    if report is not None:
        assert report.is_file()
        assert "<html" in report.read_text(encoding="utf-8").lower()


# ----------------------------------------------------------------------------- --json

MEMORY_KEYS = {
    "weights_bytes",
    "kv_bytes_per_token",
    "kv_cache_bytes",
    "activation_bytes",
    "overhead_bytes",
    "total_bytes",
}
MEMORY_GPU_KEYS = {"per_gpu_bytes", "fits", "max_concurrent_sequences"}
PERF_KEYS = {
    "ttft_ms",
    "tpot_ms",
    "e2e_latency_ms",
    "output_tokens_per_s",
    "total_tokens_per_s",
    "requests_per_s",
    "batch",
    "bound",
}


def test_memory_json_without_gpu(runner: CliRunner, home: Path) -> None:
    payload = ok_json(runner, ["memory", "--model", "meta-llama/Llama-3.1-8B"])
    assert set(payload) >= MEMORY_KEYS
    for key in MEMORY_KEYS:
        assert isinstance(payload[key], int | float) and payload[key] >= 0, key
    parts = sum(payload[k] for k in MEMORY_KEYS - {"total_bytes", "kv_bytes_per_token"})
    assert payload["total_bytes"] == pytest.approx(parts, rel=1e-6)


def test_memory_json_with_gpu(runner: CliRunner, home: Path) -> None:
    """Llama-3.1-70B, 8192 tokens x 16 sequences, 327,680 bytes per token = 40 GiB."""
    payload = ok_json(
        runner,
        [
            "memory", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "H100", "--tp", "2",
            "--precision", "fp8", "--context", "8192", "--batch", "16",
        ],
    )  # fmt: skip
    assert set(payload) >= MEMORY_KEYS | MEMORY_GPU_KEYS
    assert isinstance(payload["fits"], bool)
    assert isinstance(payload["max_concurrent_sequences"], int)
    assert payload["kv_bytes_per_token"] == pytest.approx(327_680, rel=1e-9)
    assert payload["kv_cache_bytes"] == pytest.approx(40 * 2**30, rel=1e-9)
    assert payload["per_gpu_bytes"] * 2 == pytest.approx(payload["total_bytes"], rel=1e-6)


def test_memory_json_does_not_fit(runner: CliRunner, home: Path) -> None:
    args = ["memory", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "RTX-4090"]
    payload = ok_json(runner, args)
    assert payload["fits"] is False
    assert payload["max_concurrent_sequences"] == 0


def test_finetune_json(runner: CliRunner, home: Path) -> None:
    totals = {}
    for method in ("full", "lora", "qlora"):
        payload = ok_json(
            runner,
            ["memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "A100-80GB",
             "--finetune", method, "--context", "2048"],
        )  # fmt: skip
        assert {"weights_bytes", "total_bytes", "per_gpu_bytes", "fits"} <= set(payload)
        totals[method] = payload["total_bytes"]
    assert totals["full"] > totals["lora"] > totals["qlora"]


@pytest.mark.parametrize(
    "load",
    [
        ["--batch", "1"],
        ["--batch", "32"],
        ["--offline"],
        ["--concurrency", "8"],
        ["--request-rate", "2"],
    ],
)
def test_perf_json(load: list[str], runner: CliRunner, home: Path) -> None:
    payload = ok_json(
        runner,
        ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100",
         "--input-tokens", "512", "--output-tokens", "128", *load],
    )  # fmt: skip
    assert set(payload) >= PERF_KEYS
    for key in PERF_KEYS - {"bound"}:
        assert isinstance(payload[key], int | float) and payload[key] > 0, key
    assert payload["bound"] in {"compute", "memory", "communication", "overhead"}
    assert payload["e2e_latency_ms"] >= payload["ttft_ms"]


def test_example_json(runner: CliRunner, home: Path) -> None:
    payload = ok_json(runner, ["example"])
    assert set(payload["memory"]) >= MEMORY_KEYS | MEMORY_GPU_KEYS
    assert set(payload["perf"]) >= PERF_KEYS


@pytest.mark.parametrize(
    "args", [["gpus", "list"], ["models", "list"], ["engines", "list"]], ids=" ".join
)
def test_catalog_lists_json(args: list[str], runner: CliRunner, home: Path) -> None:
    payload = ok_json(runner, args)
    assert isinstance(payload, list) and len(payload) >= 9
    assert all("id" in entry for entry in payload)


def test_catalog_show(runner: CliRunner, home: Path) -> None:
    gpu = ok_json(runner, ["gpus", "show", "H100"])
    assert gpu["id"] == "H100-SXM-80GB"
    assert gpu["source"]
    model = ok_json(runner, ["models", "show", "meta-llama/Llama-3.1-70B-Instruct"])
    assert model["id"] == "meta-llama/Llama-3.1-70B"
    assert ok(runner, ["gpus", "list", "--search", "h100"]).stdout.count("H100") >= 2


def test_validate_json_on_a_small_csv(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"{MEASUREMENT_HEADER}\n{GOOD_ROW.format(value=100)}\n", encoding="utf-8")
    payload = ok_json(runner, ["validate", str(path)])
    assert not payload["skipped"]
    [row] = payload["rows"]
    assert row["line"] == 2
    assert row["measured"] == pytest.approx(100, rel=1e-12)
    assert row["predicted"] > 0
    # APE as a fraction: |predicted - measured| / measured
    assert row["ape"] == pytest.approx(abs(row["predicted"] - 100) / 100, rel=1e-4, abs=1e-6)


# ----------------------------------------------------------------------------- bad input

PERF = ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["perf", "--model", "no-such-model", "--gpu", "H100"], "model"),
        (["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "no-such-gpu"], "gpu"),
        (["memory", "--model", "no-such-model"], "model"),
        ([*PERF, "--tp", "3"], "tp"),
        ([*PERF, "--precision", "nvfp4"], "precision"),
        ([*PERF, "--precision", "int3-magic"], "precision"),
        ([*PERF, "--engine", "no-such-engine"], "engine"),
        ([*PERF, "--input-tokens", "-5"], "input_tokens"),
        ([*PERF, "--output-tokens", "0"], "output_tokens"),
        ([*PERF, "--batch", "0"], "batch"),
        ([*PERF, "--request-rate", "0"], "request_rate"),
        ([*PERF, "--concurrency", "0"], "batch|concurrency"),
        ([*PERF, "--num-gpus", "3", "--tp", "2"], "num_gpus"),
        ([*PERF, "--batch", "2", "--offline"], "load|batch|offline"),
        (["memory", "--model", "meta-llama/Llama-3.1-8B", "--context", "0"], "context"),
        (["memory", "--model", "meta-llama/Llama-3.1-8B", "--batch", "-1"], "batch"),
        (
            ["memory", "--model", "meta-llama/Llama-3.1-8B", "--num-gpus", "3", "--tp", "2"],
            "num_gpus",
        ),
        (["perf", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "RTX-4090"], "fit"),
        (["gpus", "show", "A100"], "gpu"),
        (["models", "show", "no-such-model"], "model"),
        (
            [
                "memory",
                "--model",
                "meta-llama/Llama-3.1-8B",
                "--finetune",
                "lora",
                "--lora-rank",
                "0",
            ],
            "lora_rank",
        ),
    ],
    ids=lambda v: " ".join(v[1:]) if isinstance(v, list) else v,
)
def test_bad_input_is_one_line_exit_2(
    args: list[str], field: str, runner: CliRunner, home: Path
) -> None:
    line = usage_error(runner, args)
    spelled = field.replace("_", "[_-]")
    assert re.search(spelled, line), line


def test_ambiguous_gpu_lists_choices(runner: CliRunner, home: Path) -> None:
    line = usage_error(runner, ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "A100"])
    assert "gpu" in line and "ambiguous" in line
    for choice in ("A100-SXM-40GB", "A100-SXM-80GB", "A100-PCIe-80GB"):
        assert choice in line


def test_unknown_gpu_suggests(runner: CliRunner, home: Path) -> None:
    line = usage_error(runner, ["memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H10O"])
    assert "did you mean" in line and "h100" in line.lower()


def test_tp_error_lists_allowed_values(runner: CliRunner, home: Path) -> None:
    line = usage_error(runner, [*PERF, "--tp", "3"])
    assert "32" in line  # the head count
    assert re.search(r"\b8\b", line)  # an allowed degree


@pytest.mark.parametrize(
    "option", ["--model", "--gpu", "--precision", "--kv-precision", "--engine"]
)
def test_unknown_name_points_to_a_real_list_command(
    option: str, runner: CliRunner, home: Path
) -> None:
    """An unknown name's message may point to a catalog listing; that command must exist."""
    names = {"--model": "meta-llama/Llama-3.1-8B", "--gpu": "H100", option: "no-such-name-xyz"}
    args = ["memory"]
    for flag, value in names.items():
        args += [flag, value]
    line = usage_error(runner, args)
    assert "no-such-name-xyz" in line
    for command in re.findall(r"`llmplan ([^`]+)`", line):
        ok(runner, shlex.split(command))


@pytest.mark.parametrize("name", ["my[/b]model", "x[bold]y"])
def test_error_message_prints_input_verbatim(name: str, runner: CliRunner, home: Path) -> None:
    """User input in an error line is text, not Rich console markup: a model called
    'my[/b]model' must neither crash the error printer nor lose its brackets."""
    line = usage_error(runner, ["perf", "--model", name, "--gpu", "H100"])
    assert name in line


def _write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "measurements.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_csv_missing_columns(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path = _write_csv(tmp_path, "source,engine,model\nx,vllm,meta-llama/Llama-3.1-8B\n")
    line = usage_error(runner, ["validate", str(path)])
    assert "missing column" in line
    assert "metric" in line and "value" in line


def test_validate_csv_non_numeric_value(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path = _write_csv(tmp_path, f"{MEASUREMENT_HEADER}\n{GOOD_ROW.format(value='fast')}\n")
    line = usage_error(runner, ["validate", str(path)])
    assert "value" in line and "fast" in line
    assert "line 2" in line


def test_validate_csv_too_many_cells(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    path = _write_csv(tmp_path, f"{MEASUREMENT_HEADER}\n{GOOD_ROW.format(value=1)},extra\n")
    line = usage_error(runner, ["validate", str(path)])
    assert "line 2" in line


def test_validate_missing_file(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    line = usage_error(runner, ["validate", str(missing)])
    assert "nope.csv" in line


# ----------------------------------------------------------------------------- import


def imported_file(home: Path) -> Path:
    return home / "models" / "imported.yaml"


def test_import_writes_user_catalog_and_show_finds_it(runner: CliRunner, home: Path) -> None:
    ok(runner, ["models", "import", str(LLAMA_CONFIG), "--id", "acme/llama-copy"])
    assert imported_file(home).is_file()
    assert "acme/llama-copy" in imported_file(home).read_text(encoding="utf-8")
    shown = ok(runner, ["models", "show", "acme/llama-copy"])
    assert "acme/llama-copy" in shown.stdout
    payload = ok_json(runner, ["models", "show", "acme/llama-copy"])
    assert payload["num_layers"] == 32 and payload["hidden_size"] == 4096
    # the imported model is usable by the other commands
    memory = ok_json(runner, ["memory", "--model", "acme/llama-copy", "--gpu", "H100"])
    assert memory["kv_bytes_per_token"] == pytest.approx(131_072, rel=1e-9)  # 2x8x128x32x2


@pytest.mark.parametrize("config", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_import_every_fixture_without_id(config: Path, runner: CliRunner, home: Path) -> None:
    payload = ok_json(runner, ["models", "import", str(config)])
    model_id = payload["imported"]["id"]
    assert Path(payload["file"]) == imported_file(home)
    assert ok_json(runner, ["models", "show", model_id])["id"] == model_id


def test_import_accumulates_models(runner: CliRunner, home: Path) -> None:
    ok(runner, ["models", "import", str(LLAMA_CONFIG), "--id", "acme/one"])
    ok(runner, ["models", "import", str(FIXTURES / "mistralai__Mixtral-8x7B-v0.1.json"),
                "--id", "acme/two"])  # fmt: skip
    ids = {m["id"] for m in ok_json(runner, ["models", "list"])}
    assert {"acme/one", "acme/two", "meta-llama/Llama-3.1-8B"} <= ids


def test_import_malformed_json(runner: CliRunner, home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text('{"hidden_size": 4096,', encoding="utf-8")
    line = usage_error(runner, ["models", "import", str(bad)])
    assert "config.json" in line and "JSON" in line
    assert not imported_file(home).exists()


def test_import_hub_id_needs_online(runner: CliRunner, home: Path) -> None:
    line = usage_error(runner, ["models", "import", "no-such-org/no-such-model"])
    assert "--online" in line
    assert not imported_file(home).exists()


def _failing_imports(tmp_path: Path) -> list[list[str]]:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json", encoding="utf-8")
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}), "utf-8")
    return [
        ["models", "import", str(bad_json)],
        ["models", "import", str(incomplete), "--id", "acme/incomplete"],
        ["models", "import", "no-such-org/no-such-model"],
        ["models", "import", str(tmp_path / "missing.json")],
        ["models", "import", str(LLAMA_CONFIG), "--id", "meta-llama/Llama-3.1-8B"],
    ]


def test_failing_import_leaves_user_catalog_unchanged(
    runner: CliRunner, home: Path, tmp_path: Path
) -> None:
    ok(runner, ["models", "import", str(LLAMA_CONFIG), "--id", "acme/keep"])
    before = imported_file(home).read_bytes()
    for args in _failing_imports(tmp_path):
        usage_error(runner, args)
        assert imported_file(home).read_bytes() == before, args
    assert not [p.name for p in imported_file(home).parent.iterdir() if p.name.startswith(".tmp")]
    assert ok_json(runner, ["models", "show", "acme/keep"])["id"] == "acme/keep"


def test_import_under_a_bundled_alias_is_rejected(runner: CliRunner, home: Path) -> None:
    """'llama-3.1-8b' is an alias of the bundled meta-llama/Llama-3.1-8B: storing a user
    model under it would make every later command fail on a name clash, so the import
    must be refused (exit 2, nothing written) and the catalog must keep working."""
    usage_error(runner, ["models", "import", str(LLAMA_CONFIG), "--id", "llama-3.1-8b"])
    assert not imported_file(home).exists()
    ok(runner, ["models", "list"])


def test_infinite_request_rate_is_refused(runner: CliRunner, home: Path) -> None:
    line = usage_error(
        runner,
        ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--request-rate", "inf"],
    )
    assert "request_rate" in line


def test_infinite_request_rate_with_a_number_of_requests(runner: CliRunner, home: Path) -> None:
    """'inf' sends every request at once: a finite run drains, so it is predicted; the
    later requests of a bigger run wait longer on average."""
    base = ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--request-rate", "inf"]
    small = ok_json(runner, [*base, "--requests", "500"])
    large = ok_json(runner, [*base, "--requests", "5000"])
    assert 0 < small["queue_wait_ms"] < large["queue_wait_ms"]
    line = usage_error(
        runner, ["perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--requests", "9"]
    )
    assert "requests" in line and "--request-rate" in line


@pytest.mark.parametrize(
    "args",
    [
        ["memory", "--context", "200000"],
        ["perf", "--input-tokens", "150000", "--output-tokens", "100"],
    ],
)
def test_sequences_beyond_the_context_window_are_refused(
    args: list[str], runner: CliRunner, home: Path
) -> None:
    """Llama-3.1-8B's window is 131,072 tokens."""
    line = usage_error(runner, [*args, "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100"])
    assert "131,072" in line
