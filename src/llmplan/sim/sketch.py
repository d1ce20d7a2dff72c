"""Streaming statistics in fixed memory: log-binned histograms and downsampled series.

A million-request run must not keep a million latencies, so percentiles come from a
:class:`LogHistogram`: counts in bins whose edges grow by a constant factor
(``10 ** (1 / bins_per_decade)``), so every quantile is known to within half a bin,
:data:`RELATIVE_RESOLUTION` of its value, whatever the spread of the data. Over-time
quantities (queue length, running sequences, KV-cache use) go to a :class:`SeriesRecorder`
that keeps at most ``points`` buckets and halves its resolution when time runs past them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

MIN_VALUE = 1e-6
MAX_VALUE = 1e6
BINS_PER_DECADE = 500
RELATIVE_RESOLUTION = 10 ** (0.5 / BINS_PER_DECADE) - 1
"""Largest relative error of a quantile read from a histogram (half a bin, ~0.23 %)."""


class LogHistogram:
    """Weighted counts of positive values in log-spaced bins, with exact sum, min, max.

    Values below ``min_value`` or above ``max_value`` count in under/overflow bins (their
    quantiles then read as the exact min or max)."""

    def __init__(
        self,
        min_value: float = MIN_VALUE,
        max_value: float = MAX_VALUE,
        bins_per_decade: int = BINS_PER_DECADE,
    ) -> None:
        self.log_min = math.log10(min_value)
        self.bins_per_decade = bins_per_decade
        self.bins = math.ceil((math.log10(max_value) - self.log_min) * bins_per_decade)
        self.counts: NDArray[np.float64] = np.zeros(self.bins + 2)
        self.total = 0.0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, values: NDArray[np.float64], weights: NDArray[np.float64] | None = None) -> None:
        """Count ``values`` (each with its weight, default 1)."""
        if values.size == 0:
            return
        with np.errstate(divide="ignore"):
            position = (np.log10(np.maximum(values, 0.0)) - self.log_min) * self.bins_per_decade
        index = np.clip(np.floor(position), -1, self.bins).astype(np.int64) + 1
        self.counts += np.bincount(index, weights=weights, minlength=self.bins + 2)
        w_sum = float(values.size if weights is None else weights.sum())
        self.total += w_sum
        self.sum += float(values.sum() if weights is None else (values * weights).sum())
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))

    def merge(self, other: LogHistogram) -> None:
        """Add another histogram's counts (same bins)."""
        self.counts += other.counts
        self.total += other.total
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float:
        return self.sum / self.total if self.total else math.nan

    def quantile(self, q: float) -> float:
        """Value below which a share ``q`` (0..1) of the weight lies (NaN when empty): the
        geometric middle of its bin, clamped to the exact min and max."""
        if self.total <= 0:
            return math.nan
        if q <= 0:
            return self.min
        if q >= 1:
            return self.max
        cumulative = np.cumsum(self.counts)
        target = q * self.total * (1 - 1e-12)  # a rank that is a whole count stays in its bin
        i = int(np.searchsorted(cumulative, target, side="left"))
        if i == 0:
            return self.min
        if i >= self.bins + 1:
            return self.max
        log_value = self.log_min + (i - 0.5) / self.bins_per_decade
        return float(min(self.max, max(self.min, 10**log_value)))

    def quantiles(self, qs: Sequence[float]) -> list[float]:
        return [self.quantile(q) for q in qs]


class SeriesRecorder:
    """The state at the start of each fixed-width time bucket, at most ``points`` of them.

    Call :meth:`hold` with the state that held until time ``until_s`` whenever time
    reaches :attr:`next_s` (the start of the first bucket not yet filled), and
    :meth:`close` with the final state. When time runs past the last bucket, every other
    bucket is dropped and the width doubles, so memory stays fixed."""

    channels = 3

    def __init__(self, points: int = 256, first_width_s: float = 0.01) -> None:
        if points < 2:
            raise ValueError("points must be >= 2")
        self.points = points
        self.width_s = first_width_s
        self.next_s = 0.0
        self.rows: list[tuple[float, float, float]] = []
        self.tail = (0.0, 0.0, 0.0)

    def hold(self, until_s: float, queue: float, running: float, kv_used: float) -> None:
        """Fill every bucket starting at or before ``until_s`` with this state."""
        state = (queue, running, kv_used)
        rows = self.rows
        while self.next_s <= until_s:
            if len(rows) >= self.points:
                self.decimate()
                rows = self.rows
                continue
            rows.append(state)
            self.next_s = len(rows) * self.width_s

    def close(self, queue: float, running: float, kv_used: float) -> None:
        """The state after the last event (it holds for any later bucket)."""
        self.tail = (queue, running, kv_used)

    def decimate(self) -> None:
        """Halve the resolution: keep even buckets, double the width."""
        self.rows = self.rows[::2]
        self.width_s *= 2
        self.next_s = len(self.rows) * self.width_s

    def widen_to(self, width_s: float) -> None:
        while self.width_s < width_s * (1 - 1e-9):
            self.decimate()

    def padded(self, length: int) -> NDArray[np.float64]:
        """Rows as an array of ``length`` buckets, later buckets in the final state."""
        out = np.empty((length, self.channels))
        out[:] = self.tail
        if self.rows:
            rows = np.asarray(self.rows[:length], dtype=float)
            out[: len(rows)] = rows
        return out
