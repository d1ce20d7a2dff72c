"""llmplan: plan self-hosted LLM deployments (sizing, performance, cost, the decision).

The public Python API (typed keyword options named as the CLI options and the REST API's
JSON keys; frozen result models with ``.model_dump()`` and ``.to_frame()``)::

    import llmplan
    llmplan.memory(model="meta-llama/Llama-3.1-8B", gpu="H100", context=8192).fits
    llmplan.perf(model="meta-llama/Llama-3.1-8B", gpu="H100", batch=8).tpot_ms
    llmplan.plan({"name": "chat", "workloads": [...]}).to_frame()

``load_scenario``, ``plan``, ``memory``, ``perf``, ``simulate``, ``validate``,
``calibrate``, ``catalog``; errors derive from :class:`llmplan.errors.LlmplanError`.
Everything else (``llmplan.sizing``, ``llmplan.sim``...) is internal and may change.
Attributes are imported on first use, so ``import llmplan`` loads nothing heavy.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("llmplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
    __version__ = "0+unknown"

__all__ = [
    "InputError",
    "LlmplanError",
    "__version__",
    "calibrate",
    "catalog",
    "load_scenario",
    "memory",
    "perf",
    "plan",
    "simulate",
    "validate",
]

#: Public name -> module that defines it (imported on first access, PEP 562). ``plan``,
#: ``perf`` and ``catalog`` are packages too: callable, see :mod:`llmplan._callable`.
_LAZY = {
    "load_scenario": "llmplan.application.public",
    "memory": "llmplan.application.public",
    "simulate": "llmplan.application.public",
    "validate": "llmplan.application.public",
    "calibrate": "llmplan.application.public",
    "plan": None,
    "perf": None,
    "catalog": None,
    "LlmplanError": "llmplan.errors",
    "InputError": "llmplan.errors",
}

if TYPE_CHECKING:
    from llmplan.application.public import (
        calibrate,
        catalog,
        load_scenario,
        memory,
        perf,
        plan,
        simulate,
        validate,
    )
    from llmplan.errors import InputError, LlmplanError


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'llmplan' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:  # a package that is also the function: importing it binds the name
        return importlib.import_module(f"llmplan.{name}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
