"""Physical ranges of the engine-profile factors that calibration may move.

Read from ``data/efficiency-ranges.yaml``: per field, a lower and upper bound, a typical
value (the prior calibration pulls towards), the unit and the published figures the
range comes from.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmplan.catalog.loader import bundled_data_file, read_records


class EfficiencyRange(BaseModel):
    """The physical range of one engine-profile field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(min_length=2)
    unit: str = Field(min_length=4)
    low: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(gt=0)]
    typical: Annotated[float, Field(ge=0)]
    source: str = Field(min_length=8)
    source_date: dt.date

    @model_validator(mode="after")
    def _check_order(self) -> EfficiencyRange:
        if not self.low <= self.typical <= self.high or self.low >= self.high:
            raise ValueError(
                f"range of {self.field}: need low <= typical <= high and low < high, "
                f"got {self.low}, {self.typical}, {self.high}"
            )
        return self

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def on_bound(self, value: float, tolerance: float = 0.01) -> bool:
        """True when ``value`` lies within ``tolerance`` of the range's width of a bound."""
        width = self.high - self.low
        return min(value - self.low, self.high - value) <= tolerance * width


@cache
def efficiency_ranges() -> tuple[EfficiencyRange, ...]:
    """The bundled ranges, validated, in file order."""
    records = read_records(EfficiencyRange, [bundled_data_file("efficiency-ranges.yaml")], "ranges")
    return tuple(records)


def efficiency_range(field: str) -> EfficiencyRange:
    for item in efficiency_ranges():
        if item.field == field:
            return item
    raise KeyError(field)
