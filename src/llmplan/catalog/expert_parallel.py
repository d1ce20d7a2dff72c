"""Constants of the expert-parallel cost model, read from ``data/expert-parallel.yaml``.

Each constant carries its unit, a physical range and the published figures it comes from
(DeepEP's all-to-all benchmarks, expert load-balancing reports). Read lazily, once.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmplan.catalog.loader import bundled_data_file, read_records

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
