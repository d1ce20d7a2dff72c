"""80 % intervals around the performance model's predictions, from held-out residuals.

Every prediction falls in a *cell*: engine family x GPU class x regime. For each cell and
metric family (throughput, ttft, tpot, e2e), ``data/intervals.yaml`` stores the 10th and
90th percentiles ``q10``, ``q90`` of the leave-one-source-out log residuals
``r = log(predicted / measured)``, each source weighing the same (written by
``scripts/fit_intervals.py`` from :mod:`llmplan.validation.crossval`). Since
``measured = predicted / exp(r)``, a new measurement is expected in
``[predicted * exp(-q90), predicted * exp(-q10)]`` eight times in ten, for latencies and
throughputs alike (low <= high always). A cell with fewer than the table's ``min_rows``
rows or ``min_sources`` sources is not stored; its predictions use the first coarser cell
present: engine family x regime, then regime, then the metric family alone, then all
residuals together.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmplan.catalog.schema import GpuSpec
from llmplan.deployment import Deployment
from llmplan.errors import CatalogError
from llmplan.perf.load import Load, LoadKind, PerfResult

ANY = "*"
"""Wildcard of a coarser cell: any engine family, GPU class, regime or metric family."""
METRIC_FAMILIES = ("throughput", "ttft", "tpot", "e2e")
LOW_QUANTILE = 0.1
HIGH_QUANTILE = 0.9
ENGINE_FAMILIES = (
    "vllm",
    "sglang",
    "trtllm",
    "lmdeploy",
    "tgi",
    "llama.cpp",
    "mlc-llm",
    "exllamav2",
    "generic",
)
"""Engines whose builds and releases share their kernels and scheduler: ``vllm-rocm`` (or a
future ``vllm-v1`` era profile) is in family ``vllm``."""


class Regime(StrEnum):
    """How loaded the replica is: one sequence, a full batch, or a request stream."""

    BATCH1 = "batch1"
    SATURATED = "saturated"
    LOAD = "load"


class GpuClass(StrEnum):
    """GPU vendor and market, from the catalog's ``vendor`` and ``category``."""

    NVIDIA_DATACENTER = "nvidia-datacenter"
    NVIDIA_CONSUMER = "nvidia-consumer"
    AMD = "amd"
    APPLE = "apple"
    OTHER = "other"


def engine_family(engine_id: str) -> str:
    """The family of an engine profile id (its longest known prefix; else the id)."""
    matches = [f for f in ENGINE_FAMILIES if engine_id == f or engine_id.startswith(f + "-")]
    return max(matches, key=len) if matches else engine_id


def gpu_class(gpu: GpuSpec) -> GpuClass:
    """NVIDIA data-centre cards; NVIDIA consumer, workstation and laptop cards; AMD;
    Apple; anything else (Intel Gaudi)."""
    if gpu.vendor == "NVIDIA":
        datacenter = gpu.category == "datacenter"
        return GpuClass.NVIDIA_DATACENTER if datacenter else GpuClass.NVIDIA_CONSUMER
    if gpu.vendor == "AMD":
        return GpuClass.AMD
    if gpu.vendor == "Apple":
        return GpuClass.APPLE
    return GpuClass.OTHER


def regime_of(load: Load) -> Regime:
    """``batch1``: one sequence (a batch or closed loop of one); ``saturated``: a static
    batch above one, an offline run or every request sent at once (an ``inf`` rate);
    ``load``: Poisson arrivals at a finite rate or closed-loop clients above one."""
    if load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) and load.batch == 1:
        return Regime.BATCH1
    if load.kind in (LoadKind.BATCH, LoadKind.OFFLINE):
        return Regime.SATURATED
    if load.kind is LoadKind.RATE and math.isinf(load.request_rate or 0.0):
        return Regime.SATURATED
    return Regime.LOAD


@dataclass(frozen=True)
class Cell:
    """Where a prediction falls: engine family x GPU class x regime."""

    engine_family: str
    gpu_class: str
    regime: str

    @classmethod
    def of(cls, deployment: Deployment, regime: Regime) -> Cell:
        return cls(engine_family(deployment.engine.id), gpu_class(deployment.gpu), regime)

    def keys(self, family: str) -> tuple[tuple[str, str, str, str], ...]:
        """This cell's key for ``family``, then the coarser ones in fallback order."""
        return (
            (self.engine_family, self.gpu_class, self.regime, family),
            (self.engine_family, ANY, self.regime, family),
            (ANY, ANY, self.regime, family),
            (ANY, ANY, ANY, family),
            (ANY, ANY, ANY, ANY),
        )


def bounds(value: float, q10_log: float, q90_log: float) -> tuple[float, float]:
    """``[value * exp(-q90), value * exp(-q10)]``: where the measured value is expected
    when log(predicted / measured) lies between ``q10_log`` and ``q90_log``."""
    return value * math.exp(-q90_log), value * math.exp(-q10_log)


class IntervalCell(BaseModel):
    """Residual quantiles of one cell and metric family (``*``: any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine_family: str = Field(min_length=1)
    gpu_class: Literal["*"] | GpuClass
    regime: Literal["*"] | Regime
    family: Literal["*", "throughput", "ttft", "tpot", "e2e"]
    rows: int = Field(ge=1, description="Held-out residuals the quantiles come from.")
    sources: int = Field(ge=1, description="Sources those rows come from.")
    q10_log: float = Field(description="10th percentile of log(predicted / measured).")
    q90_log: float = Field(description="90th percentile of log(predicted / measured).")

    @model_validator(mode="after")
    def _ordered(self) -> IntervalCell:
        if not (math.isfinite(self.q10_log) and math.isfinite(self.q90_log)):
            raise ValueError("q10_log and q90_log must be finite")
        if self.q10_log > self.q90_log:
            raise ValueError(f"q10_log {self.q10_log} > q90_log {self.q90_log}")
        return self

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.engine_family, str(self.gpu_class), str(self.regime), self.family)


CellKey = tuple[str, str, str, str]


def find_cell(index: Mapping[CellKey, IntervalCell], cell: Cell, family: str) -> IntervalCell:
    """The entry of ``index`` for ``family`` in ``cell``, or the first coarser one; a
    KeyError when not even the overall cell is there."""
    for key in cell.keys(family):
        if key in index:
            return index[key]
    raise KeyError(f"no interval for {family} in {cell} nor in any coarser cell")


class IntervalTable(BaseModel):
    """The interval table with its provenance (dataset hash, code version, date)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    code_version: str = Field(min_length=1)
    created: dt.date
    method: str = Field(min_length=8)
    min_rows: int = Field(ge=1)
    min_sources: int = Field(ge=1)
    held_out_coverage: Annotated[float, Field(ge=0, le=1)] | None = None
    cells: tuple[IntervalCell, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> IntervalTable:
        keys = [c.key for c in self.cells]
        if len(set(keys)) != len(keys):
            raise ValueError("a cell appears twice")
        if (ANY, ANY, ANY, ANY) not in keys:
            raise ValueError(
                "the overall cell (engine_family, gpu_class, regime, family: *) is missing"
            )
        sparse = [
            c.key
            for c in self.cells
            if (c.rows < self.min_rows or c.sources < self.min_sources) and c.key != (ANY,) * 4
        ]
        if sparse:
            raise ValueError(
                f"cell {sparse[0]} has fewer than min_rows={self.min_rows} rows "
                f"or min_sources={self.min_sources} sources"
            )
        return self

    @functools.cached_property
    def _index(self) -> dict[CellKey, IntervalCell]:
        return {c.key: c for c in self.cells}

    def lookup(self, cell: Cell, family: str) -> IntervalCell:
        """The quantiles for ``family`` in ``cell``, or in the first coarser cell stored."""
        return find_cell(self._index, cell, family)

    def interval(self, value: float, cell: Cell, family: str) -> tuple[float, float]:
        """The 80 % interval of a predicted ``value`` of metric ``family`` in ``cell``."""
        found = self.lookup(cell, family)
        return bounds(value, found.q10_log, found.q90_log)


def parse_intervals(text: str, origin: str) -> IntervalTable:
    """The table in YAML ``text``; CatalogError naming ``origin`` and the field."""
    try:
        return IntervalTable.model_validate(yaml.safe_load(text))
    except yaml.YAMLError:
        raise CatalogError(f"{origin}: malformed YAML") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CatalogError(f"{origin}: {where}: {first['msg']}") from None


@functools.cache
def bundled_intervals() -> IntervalTable:
    """The interval table shipped with llmplan (read once, then cached)."""
    path = resources.files("llmplan").joinpath("data", "intervals.yaml")
    return parse_intervals(path.read_text(encoding="utf-8"), "intervals.yaml")


PERF_INTERVAL_FIELDS = (
    ("ttft_ms", "ttft"),
    ("tpot_ms", "tpot"),
    ("e2e_latency_ms", "e2e"),
    ("output_tokens_per_s", "throughput"),
)


def perf_intervals(
    deployment: Deployment,
    load: Load,
    result: PerfResult,
    table: IntervalTable | None = None,
) -> dict[str, tuple[float, float]]:
    """80 % intervals of ``result``'s TTFT, TPOT, end-to-end latency and output tokens/s."""
    table = table or bundled_intervals()
    cell = Cell.of(deployment, regime_of(load))
    return {
        name: table.interval(float(getattr(result, name)), cell, family)
        for name, family in PERF_INTERVAL_FIELDS
    }
