"""How sure a design's latency is: the 80 % interval of its SLO-percentile TTFT and TPOT.

A design is sized so that its predicted TTFT and TPOT at the SLO percentile meet their
targets at the planned rate per replica (Poisson arrivals: the ``load`` regime of
:mod:`llmplan.perf.intervals`). Its SLO holds *only at the optimistic end* when the
pessimistic end of an interval (its high end, for a latency) misses the target: the
design then meets the SLO only if the model is not too optimistic for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.perf.intervals import Cell, IntervalTable, Regime, bundled_intervals
from llmplan.plan.search import Design


@dataclass(frozen=True)
class LatencyIntervals:
    """80 % intervals (ms) of a design's TTFT and TPOT at the SLO percentile, and the
    targets their pessimistic end misses (as text; empty: none)."""

    ttft_ms: tuple[float, float]
    tpot_ms: tuple[float, float]
    pessimistic_misses: tuple[str, ...]

    @property
    def optimistic_only(self) -> bool:
        """The SLO holds at the prediction but not at the interval's pessimistic end."""
        return bool(self.pessimistic_misses)


def design_intervals(design: Design, table: IntervalTable | None = None) -> LatencyIntervals:
    """The intervals of ``design``'s SLO-percentile latency at its planned capacity."""
    table = table or bundled_intervals()
    cell = Cell.of(design.deployment, Regime.LOAD)
    latency = design.capacity.latency
    ttft = table.interval(latency.ttft_ms, cell, "ttft")
    tpot = table.interval(latency.tpot_ms, cell, "tpot")
    slo = design.workload.slo
    p = f"p{slo.percentile:g}"
    misses = []
    if slo.ttft_ms is not None and latency.ttft_ms <= slo.ttft_ms < ttft[1]:
        misses.append(f"{p} TTFT up to {ttft[1]:,.0f} ms > target {slo.ttft_ms:,.0f} ms")
    if slo.tpot_ms is not None and latency.tpot_ms <= slo.tpot_ms < tpot[1]:
        misses.append(f"{p} TPOT up to {tpot[1]:,.1f} ms > target {slo.tpot_ms:,.1f} ms")
    return LatencyIntervals(ttft, tpot, tuple(misses))
