"""The table of each serving engine's documented command-line options.

Read from ``data/engine-options.yaml``: per engine family, the version (or source
commit) the names were read from, the source and date, and the option llmplan uses
for each *role* (tensor parallelism, KV-cache dtype, ...). Launch commands are built
only from this table, so an option the engine renames is changed in one place and
checked by the tests (:func:`check_argv`).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmplan.catalog.loader import bundled_data_file
from llmplan.errors import CatalogError, ConfigurationError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineOption(_Frozen):
    """One documented option: its name on the command line and what it does."""

    name: str = Field(pattern=r"^--[a-z0-9][a-z0-9_-]*$")
    meaning: str = Field(min_length=4)


class WeightArgs(_Frozen):
    """Values of the dtype / quantization options for one llmplan precision."""

    dtype: str | None = None
    quantization: str | None = None


class EngineMetrics(_Frozen):
    """Prometheus series of running and waiting requests, and where they are named."""

    running: str
    waiting: str
    source: str = Field(min_length=8)


class EngineOptions(_Frozen):
    """One engine family's option table."""

    version: str = Field(min_length=2)
    source: str = Field(pattern=r"^https://")
    docs: str = Field(pattern=r"^https://")
    source_date: dt.date
    command: tuple[str, ...] = Field(min_length=1)
    model_positional: bool
    image: str
    rocm_image: str | None = None
    container_port: int = Field(gt=0, lt=65536)
    health_path: str = Field(pattern=r"^/")
    options: dict[str, EngineOption]
    precisions: dict[str, WeightArgs]
    base_checkpoint_precisions: tuple[str, ...]
    kv_formats: dict[str, str]
    speculative_methods: dict[str, str]
    metrics: EngineMetrics | None = None
    """None: the engine exports no request metrics (no autoscaler is written)."""
    config_keys: tuple[str, ...] = ()
    config_source: str | None = None

    def option(self, role: str) -> str:
        """The option's name for ``role``; ConfigurationError if this engine has none."""
        entry = self.options.get(role)
        if entry is None:
            raise ConfigurationError(
                f"the engine's option table has no option for '{role}'", field="target"
            )
        return entry.name

    def has(self, role: str) -> bool:
        return role in self.options

    def names(self) -> frozenset[str]:
        return frozenset(o.name for o in self.options.values())


@cache
def engine_options() -> dict[str, EngineOptions]:
    """The bundled option tables by engine family (vllm, sglang, trtllm)."""
    path = bundled_data_file("engine-options.yaml")
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("engines"), dict):
        raise CatalogError(f"{path}: expected a top-level 'engines:' mapping")
    try:
        return {k: EngineOptions.model_validate(v) for k, v in document["engines"].items()}
    except ValidationError as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def check_argv(family: str, argv: list[str]) -> list[str]:
    """The options in ``argv`` (tokens starting with ``--``) missing from ``family``'s
    table; empty when every option is documented."""
    known = engine_options()[family].names()
    return [tok for tok in argv if tok.startswith("--") and tok.split("=")[0] not in known]
