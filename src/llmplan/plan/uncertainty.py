"""How sure a design's latency is: the 80 % interval of its SLO-percentile TTFT and TPOT.

A design is sized so that its predicted TTFT and TPOT at the SLO percentile meet their
targets at each replica's capacity; it runs at its operating point, the sizing month's
peak rate shared by its whole replicas (at or below capacity: replica counts round up).
The intervals are those of the latencies at the operating point (Poisson arrivals: the
``load`` regime of :mod:`llmplan.perf.intervals`). Its SLO holds *only at the optimistic
end* when the pessimistic end of an interval (its high end, for a latency) misses the
target there: the design then meets the SLO only if the model is not too optimistic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmplan.perf.intervals import Cell, IntervalTable, Regime, bundled_intervals
from llmplan.perf.openloop import Lengths
from llmplan.perf.percentiles import LatencyPercentiles
from llmplan.plan.capacity import latency_at_rate
from llmplan.plan.disagg import SplitWorkload, unit_latency, unit_of
from llmplan.plan.search import Design, length_law, targets_of


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


def operating_latency(design: Design) -> LatencyPercentiles:
    """SLO-percentile latencies at the design's operating point (peak rate per replica);
    the capacity's own figures when the design is sized by a measured throughput or has
    no targets."""
    workload = design.workload
    rate = design.peak_requests_per_s / max(design.replicas, 1)
    if design.measured_source or not workload.slo.has_targets() or rate <= 0:
        return design.capacity.latency
    inp, cv_in = length_law(workload.input_tokens)
    out, cv_out = length_law(workload.output_tokens)
    rate = min(rate, design.capacity.max_requests_per_s)
    if design.split is not None:
        work = SplitWorkload(
            Lengths(max(inp, 1.0), cv_in),
            Lengths(out, cv_out),
            targets_of(workload),
            design.capacity.features,
        )
        return unit_latency(unit_of(design.deployment, design.split, work), work, rate)
    return latency_at_rate(
        design.deployment,
        inp,
        out,
        targets_of(workload),
        rate,
        length_cv=(cv_in, cv_out),
        features=design.capacity.features,
    )


def design_intervals(design: Design, table: IntervalTable | None = None) -> LatencyIntervals:
    """The intervals of ``design``'s SLO-percentile latency at its operating point."""
    table = table or bundled_intervals()
    cell = Cell.of(design.deployment, Regime.LOAD)
    latency = operating_latency(design)
    if not (math.isfinite(latency.ttft_ms) and math.isfinite(latency.tpot_ms)):
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
