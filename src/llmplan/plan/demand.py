"""Demand over the day, and how a hybrid fleet splits it between owned and burst capacity.

With an hourly profile the day's requests follow its 24 weights; without one they are
spread evenly over the operating hours and the busiest hour carries ``peak_to_average``
times the average. A hybrid fleet owns enough replicas for the demand percentile
``hybrid_base_demand_percentile`` of its operating hours and bursts for the rest: hour by
hour with a profile, else during :data:`BURST_DUTY_FRACTION` of the operating hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from llmplan.cost.result import FloatArray
from llmplan.plan.search import Design
from llmplan.scenario import InferenceWorkload

SECONDS_PER_HOUR = 3600.0
BURST_DUTY_FRACTION = 0.25
"""Without an hourly profile: share of operating hours in which demand exceeds the owned
base (an llmplan assumption; with a profile the hours are counted)."""


def hourly_rates(workload: InferenceWorkload, month: float) -> FloatArray | None:
    """Arrival rate of each hour of an operating day (requests/s), or None without a
    profile."""
    if workload.hourly_profile is None:
        return None
    weights = np.asarray(workload.hourly_profile, dtype=float)
    per_day = workload.requests_per_day_at(month)
    rates: FloatArray = per_day * weights / weights.sum() / SECONDS_PER_HOUR
    return rates


@dataclass(frozen=True)
class HybridSplit:
    """Owned replicas, and what bursts: replica-hours per operating day and the share of
    requests served by burst capacity."""

    base_replicas: int
    burst_replica_hours_per_day: float
    burst_request_share: float


def hybrid_split(design: Design, percentile: float, volume: float = 1.0) -> HybridSplit:
    """How ``design``'s workload at ``volume`` x its volume splits for a hybrid fleet."""
    workload = design.workload
    capacity = design.capacity.max_requests_per_s
    month = design.sizing_month
    rates = hourly_rates(workload, month)
    if rates is not None:
        rates = rates * volume
        active = rates[rates > 0]
        base_rate = float(np.percentile(active, percentile))
        base = max(1, math.ceil(base_rate / capacity - 1e-9))
        needed = np.ceil(rates / capacity - 1e-9)
        burst_hours = float(np.clip(needed - base, 0, None).sum())
        over = float(np.clip(rates - base * capacity, 0, None).sum())
        return HybridSplit(base, burst_hours, over / float(rates.sum()))
    average = workload.average_requests_per_s(month) * volume
    peak = design.peak_requests_per_s * volume
    base_rate = average if percentile < 100 else peak
    base = max(1, math.ceil(base_rate / capacity - 1e-9))
    extra = max(0, design.replicas_at(volume) - base)
    hours = workload.active_hours_per_day() * BURST_DUTY_FRACTION
    share = max(0.0, peak - base * capacity) / max(peak, 1e-12) * BURST_DUTY_FRACTION
    return HybridSplit(base, extra * hours, share)
