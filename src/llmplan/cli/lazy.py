"""Sub-commands imported on first use, so that ``llmplan --help`` and ``llmplan memory``
do not pay for the modules of every other command (SciPy, NumPy, the simulator...).

A :class:`LazyCommand` names the module and attribute of a command function or of a
``typer.Typer`` sub-app, with the one-line help the top-level ``--help`` lists. The
:class:`LazyGroup` imports a command only when it is run, asked for its own help, or
looked up by a caller (tests, the parity check); the top-level listing alone uses the
stored line (a test checks that it matches the command's own help).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer import _click as click  # typer >= 0.2x vendors its own click
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: ``module:attribute`` and the help line of the listing."""

    module: str
    attribute: str
    help: str

    def load(self, name: str) -> click.Command:
        """Import the module and build the click command called ``name``."""
        target: Any = getattr(importlib.import_module(self.module), self.attribute)
        host = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        if isinstance(target, typer.Typer):
            host.add_typer(target, name=name)
        else:
            host.command(name)(target)
        host.callback()(_no_op)  # a group even with one command, as in the main app
        group = typer.main.get_command(host)
        assert isinstance(group, TyperGroup)
        command = group.commands[name]
        command.name = name
        return command


def _no_op() -> None:
    """(the host group's callback)"""


class LazyGroup(TyperGroup):
    """A typer group whose :attr:`lazy` commands are imported on first use."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}
    _listing: bool = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*(n for n in self.lazy if n not in eager), *eager]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        spec = self.lazy[cmd_name]
        if self._listing:  # the top-level --help: the stored line, nothing imported
            return TyperCommand(cmd_name, help=spec.help)
        command = spec.load(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[LazyGroup]:
    """A :class:`LazyGroup` subclass bound to ``commands`` (for ``typer.Typer(cls=...)``)."""
    return type("LlmplanGroup", (LazyGroup,), {"lazy": dict(commands)})
