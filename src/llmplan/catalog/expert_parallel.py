"""Constants of the expert-parallel cost model, read from ``data/expert-parallel.yaml``.

Each constant carries its unit, a physical range and the published figures it comes from
(DeepEP's all-to-all benchmarks, expert load-balancing reports). The same file says which
engines run expert-parallel layouts, and how (:class:`EngineExpertSupport`). Read lazily,
once.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmplan.catalog.loader import bundled_data_file, read_records
from llmplan.catalog.schema import EngineProfile

ConstantName = Literal[
    "load_imbalance_factor", "dispatch_bytes_per_element", "combine_bytes_per_element"
]


class ExpertParallelConstant(BaseModel):
    """One constant of the expert-parallel model, with its range and source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ConstantName
    unit: str = Field(min_length=4)
    value: Annotated[float, Field(gt=0)]
    low: Annotated[float, Field(gt=0)]
    high: Annotated[float, Field(gt=0)]
    source: str = Field(min_length=8)
    source_date: dt.date

    @model_validator(mode="after")
    def _check_range(self) -> ExpertParallelConstant:
        if not self.low <= self.value <= self.high:
            raise ValueError(
                f"{self.name}: value {self.value} outside its range [{self.low}, {self.high}]"
            )
        return self


@cache
def expert_parallel_constants() -> dict[str, ExpertParallelConstant]:
    """The bundled constants by name, validated."""
    records = read_records(
        ExpertParallelConstant, [bundled_data_file("expert-parallel.yaml")], "constants"
    )
    return {record.name: record for record in records}


def ep_constant(name: ConstantName) -> float:
    """The value of one bundled constant."""
    return expert_parallel_constants()[name].value


class EpSizes(StrEnum):
    """Expert-parallel degrees an engine allows for a tensor-parallel group of ``tp``."""

    EQUAL_TO_TP = "equal_to_tp"
    DIVISORS_OF_TP = "divisors_of_tp"


class EngineExpertSupport(BaseModel):
    """How one engine family runs expert parallelism and DP attention, with its source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str = Field(min_length=2)
    ep_sizes: EpSizes
    dp_attention: bool
    options: str = Field(min_length=4)
    source: str = Field(min_length=8)
    source_date: dt.date

    def ep_degrees(self, tp: int) -> tuple[int, ...]:
        """Expert-parallel degrees above 1 for ``tp`` GPUs, largest first."""
        if self.ep_sizes is EpSizes.EQUAL_TO_TP:
            return (tp,) if tp > 1 else ()
        return tuple(d for d in range(tp, 1, -1) if tp % d == 0)


@cache
def engine_expert_support() -> dict[str, EngineExpertSupport]:
    """The bundled engine families that run expert-parallel layouts, by family."""
    records = read_records(
        EngineExpertSupport, [bundled_data_file("expert-parallel.yaml")], "engines"
    )
    return {record.family: record for record in records}


def expert_support_of(engine: EngineProfile) -> EngineExpertSupport | None:
    """``engine``'s expert-parallel support (a ROCm build as its engine), or None."""
    family = engine.engine_family.removesuffix("-rocm")
    return engine_expert_support().get(family)
