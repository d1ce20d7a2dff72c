"""Issue 14, item 4: the command line starts without the heavy libraries.

Behaviour, not timing: a fresh interpreter imports the CLI (and runs ``--help`` and
``memory``) and must not have imported SciPy, plotly, SQLAlchemy, FastAPI, Ray or PyArrow
(nor NumPy for ``memory``); the figure
itself is measured by ``benchmarks/bench_startup.py``. Also checks that the lazily loaded
commands are the ones their listing describes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

from llmplan.cli.main import COMMANDS, app

HEAVY = ("scipy", "plotly", "sqlalchemy", "fastapi", "pandas", "jinja2", "ray", "pyarrow")
SRC = Path(__file__).resolve().parents[1] / "src"
PROBE = """
import json, sys
{body}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})), file=sys.stderr)
"""


def _loaded(body: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``body``."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )
    last = proc.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


def _run_cli(*argv: str) -> str:
    args = ", ".join(repr(a) for a in argv)
    return (
        "from llmplan.cli.main import app\n"
        f"try:\n    app([{args}])\nexcept SystemExit as exit_:\n    assert exit_.code == 0, exit_"
    )


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _loaded("import llmplan.cli.main")
    assert "llmplan" in loaded and "typer" in loaded  # the probe really ran
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--context", "4096"),
        ("memory", "--help"),
        ("deploy", "--help"),
        ("sweep", "--help"),
    ],
)
def test_help_and_memory_load_no_heavy_library(argv: tuple[str, ...]) -> None:
    loaded = _loaded(_run_cli(*argv))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_memory_loads_no_numpy() -> None:
    """NumPy alone is about half of ``llmplan memory``'s import time: sizing needs none
    (it came back once through the serving features' module, issue 14 item 4)."""
    loaded = _loaded(
        _run_cli("memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--json")
    )
    assert "llmplan" in loaded and "typer" in loaded  # the probe really ran
    assert "numpy" not in loaded


def test_import_llmplan_is_light() -> None:
    """The public API resolves its attributes on first use (PEP 562)."""
    loaded = _loaded("import llmplan; assert llmplan.__version__")
    assert not loaded & {*HEAVY, "numpy", "typer", "rich"}


def test_each_listed_command_is_the_command_it_describes() -> None:
    """The top-level listing shows a stored line; it must be the command's own help."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    ctx = typer.Context(group)
    assert group.list_commands(ctx)[: len(COMMANDS)] == list(COMMANDS)
    for name, spec in COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name == name
        own = (command.help or "").strip().split("\n\n")[0]
        assert spec.help == own, name


def test_scenario_schema_loads_no_model_package() -> None:
    """Issue 14 item 3 at run time: reading a scenario (schema, reference docs) imports no
    model package and no NumPy; import-linter checks the same statically."""
    probe = (
        "import sys, llmplan.scenario, llmplan.scenario.docs\n"
        "print(json.dumps(sorted({m for m in sys.modules if m.startswith('llmplan.')})),"
        " file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "llmplan.scenario.schema" in modules and "llmplan.domain.finance" in modules
    models = ("sizing", "perf", "sim", "cost", "plan", "validation", "calibration")
    assert not {m for m in modules if m.split(".")[1] in models}
    assert "numpy" not in _loaded("import llmplan.scenario")
