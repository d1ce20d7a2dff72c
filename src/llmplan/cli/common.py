"""Shared CLI plumbing: error handling, JSON output, the user's catalog folder."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from llmplan.application.serialize import jsonable
from llmplan.errors import LlmplanError

if TYPE_CHECKING:  # the catalog is imported by the commands that read it (fast --help)
    from llmplan.catalog.loader import Catalog

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
error_console = Console(stderr=True)
EXIT_USAGE = 2
EXIT_BUG = 1
BUG_URL = "the llmplan issue tracker"


def user_home() -> Path:
    """Folder for the user's own catalog entries: $LLMPLAN_HOME or ~/.llmplan."""
    return Path(os.environ.get("LLMPLAN_HOME") or Path.home() / ".llmplan")


CalibrationOpt = Annotated[
    Path | None,
    typer.Option(
        "--calibration",
        help="Calibration profile written by `llmplan calibrate` (default: bundled profiles).",
    ),
]


def catalog(calibration: Path | None = None) -> Catalog:
    """The bundled catalog with the user's models, and ``calibration``'s engines if given."""
    from llmplan.catalog.loader import load_catalog

    base = load_catalog(user_home())
    if calibration is None:
        return base
    from llmplan.catalog.calibration_file import load_calibration

    return load_calibration(calibration).apply(base)


def calibration_label(calibration: Path | None) -> str:
    """What reports print as the calibration used."""
    if calibration is None:
        return "bundled engine profiles"
    from llmplan.catalog.calibration_file import load_calibration

    profile = load_calibration(calibration)
    return f"{profile.name} ({calibration}, {profile.rows} rows of {profile.source})"


def fail(message: str) -> typer.Exit:
    """Print one error line and return the exit to raise (code 2)."""
    line = Text("error: ", style="bold red")
    line.append(message)  # plain text: user input must never be read as Rich markup
    error_console.print(line, highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


def _bug(exc: Exception) -> typer.Exit:
    """One line for an exception llmplan did not expect, and exit code 1."""
    line = Text("error: ", style="bold red")
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    line.append(f"internal error ({type(exc).__name__}{': ' if detail else ''}{detail}); ")
    line.append(f"this is a bug in llmplan: please report it with the command you ran ({BUG_URL})")
    error_console.print(line, highlight=False, soft_wrap=True)
    if os.environ.get("LLMPLAN_TRACEBACK"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return typer.Exit(EXIT_BUG)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """One line on stderr for any failure: exit code 2 for llmplan errors (bad input) and
    for files that cannot be read or written, 1 with a bug-report hint for anything else
    (set ``LLMPLAN_TRACEBACK=1`` to see its traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LlmplanError as exc:
            raise fail(str(exc)) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}") from None
        except RecursionError:
            raise fail("the input is nested too deeply to read") from None
        except Exception as exc:
            raise _bug(exc) from None

    return wrapper


def print_json(payload: Any) -> None:
    """Write ``payload`` as JSON on stdout (NaN and infinities become null), through the
    serializer the REST API uses."""
    sys.stdout.write(json.dumps(jsonable(payload), indent=2, default=str) + "\n")


def key_value_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("quantity", style="bold")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def gib(value: float) -> str:
    return f"{value / 2**30:,.2f} GiB"


def number(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"
