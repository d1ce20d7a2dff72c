"""Packages that are also public functions: ``llmplan.plan(...)``, ``llmplan.perf(...)``,
``llmplan.catalog()``.

``llmplan.plan`` is both the planning package and the public function, because importing a
subpackage binds its name on ``llmplan`` and would hide a function of the same name. The
package's module object gets a class whose ``__call__`` runs the public function of the
same name in :mod:`llmplan.application.public`, imported on the first call by name (the
model packages never import the application layer, see the import-linter contracts).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class _CallableModule(ModuleType):
    """A package that is also the public function of the same name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        public = importlib.import_module("llmplan.application.public")
        name = self.__name__.rsplit(".", 1)[-1]
        return getattr(public, name)(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Make the package ``module_name`` (``llmplan.plan``...) callable as its public function."""
    module = sys.modules[module_name]
    module.__class__ = _CallableModule
    public_doc = f"Also callable: ``{module_name}(...)`` is the public function (see llmplan)."
    module.__doc__ = f"{module.__doc__ or ''}\n\n{public_doc}".strip()
