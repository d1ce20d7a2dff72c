"""The range of values physics allows for a measurement, and outliers outside it.

A row's *envelope* is its metric predicted twice: with every calibrated engine factor at
its favourable physical bound (efficiencies high, overheads low) and at its unfavourable
one (``data/efficiency-ranges.yaml``). A measurement beyond the envelope by more than
:data:`OUTLIER_MARGIN` cannot be explained by any physical efficiency: the row's setup
differs from what it states (speculative decoding, a different engine build, host-side
bottlenecks, a power cap) or the row is wrong. Such rows are reported, and calibration
leaves them out instead of bending the factors to absorb them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from llmplan.catalog.ranges import efficiency_ranges
from llmplan.deployment import Deployment
from llmplan.errors import LlmplanError
from llmplan.perf.load import Load
from llmplan.validation.dataset import Measurement
from llmplan.validation.predict import MetricSpec, metric_value

OUTLIER_MARGIN = 0.10
"""Tolerance beyond the envelope before a row is called an outlier (measurement noise and
the model's structural error), as a fraction."""

HIGHER_IS_FASTER = frozenset({"throughput"})


def bound_update(*, favourable: bool) -> dict[str, float]:
    """Every calibrated factor at its favourable (or unfavourable) physical bound."""
    update: dict[str, float] = {}
    for item in efficiency_ranges():
        is_overhead = item.field.endswith("_s")
        update[item.field] = item.low if favourable == is_overhead else item.high
    return update


@dataclass(frozen=True)
class Envelope:
    """The metric's value with every factor at its favourable and unfavourable bound."""

    favourable: float
    unfavourable: float

    @property
    def low(self) -> float:
        return min(self.favourable, self.unfavourable)

    @property
    def high(self) -> float:
        return max(self.favourable, self.unfavourable)

    def outlier_reason(self, measured: float, family: str) -> str | None:
        """Why ``measured`` is outside the envelope, or None when physics can explain it."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low <= 0:
            return None
        faster_up = family in HIGHER_IS_FASTER
        if measured > self.high * (1 + OUTLIER_MARGIN):
            ratio, bound = measured / self.high, self.high
            faster = faster_up
        elif measured < self.low * (1 - OUTLIER_MARGIN):
            ratio, bound = self.low / measured, self.low
            faster = not faster_up
        else:
            return None
        direction = "faster" if faster else "slower"
        return (
            f"{ratio:.2f}x {direction} than every factor at its physical bound allows "
            f"({bound:,.4g})"
        )


OUTLIER_CAUSES = {
    "faster": "the setup is not what the row states (speculative decoding, an fp8 KV "
    "cache, a newer build), the model lacks a mechanism it needs, or the row is wrong",
    "slower": "a bottleneck the row does not state (host overhead, eager mode, an older "
    "build, a power cap), the model lacks a mechanism it needs, or the row is wrong",
}
"""What an outlier in each direction may mean: the things to check before trusting it."""


def envelope(dep: Deployment, load: Load, spec: MetricSpec, row: Measurement) -> Envelope:
    """The metric of ``row`` predicted at both ends of the physical ranges."""
    values = []
    for favourable in (True, False):
        engine = dep.engine.model_copy(update=bound_update(favourable=favourable))
        values.append(metric_value(replace(dep, engine=engine), load, spec, row))
    return Envelope(values[0], values[1])


def outlier_reason(dep: Deployment, load: Load, spec: MetricSpec, row: Measurement) -> str | None:
    """Why ``row`` lies outside its physical envelope, or None (also when the envelope
    cannot be predicted)."""
    try:
        return envelope(dep, load, spec, row).outlier_reason(row.value, spec.family)
    except LlmplanError:
        return None
