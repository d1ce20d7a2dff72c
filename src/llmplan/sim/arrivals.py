"""Arrival processes and the workloads a simulation runs.

Open-loop processes produce arrival times in chunks (vectorised with numpy, from a
``numpy.random.Generator`` the caller owns):

- :class:`PoissonArrivals`: exponential gaps at ``rate_per_s``;
- :class:`GammaArrivals`: gamma gaps with mean ``1 / rate_per_s`` and coefficient of
  variation ``cv`` (cv > 1 bursty, cv = 1 Poisson, cv < 1 smoother than Poisson);
- :class:`HourlyArrivals`: Poisson with a rate per hour of the day (24 values, repeated
  day after day), by inverting the cumulative intensity of unit-rate arrivals.

A workload pairs arrivals with lengths: :class:`OpenLoop` (a process and two length
distributions), :class:`TraceReplay` (a :class:`~llmplan.sim.trace.Trace`), or
:class:`ClosedLoop` (``clients`` users who each send a request, wait for its last token,
think for an exponential time of mean ``think_time_s`` and send the next).

Lengths from distributions are drawn in the order arrival gaps, prompt lengths, output
lengths per chunk of :data:`CHUNK_REQUESTS`, so a Poisson run at another rate with the same
seed sees the same lengths and proportionally scaled arrival times.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from llmplan.errors import InputError
from llmplan.sim.lengths import LengthDistribution
from llmplan.sim.trace import Trace

CHUNK_REQUESTS = 8192
HOURS_PER_DAY = 24
SECONDS_PER_HOUR = 3600.0

RequestChunk = tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]
"""Arrival times (s), prompt tokens and output tokens of consecutive requests."""


def _check_rate(value: float, name: str = "rate_per_s") -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"must be a finite number > 0 requests/s, got {value}", field=name)


class ArrivalProcess(Protocol):
    """Arrival times of an open-loop process."""

    @property
    def mean_rate_per_s(self) -> float: ...

    def times(self, rng: np.random.Generator, start_s: float, count: int) -> NDArray[np.float64]:
        """The next ``count`` arrival times after the arrival at ``start_s``."""
        ...


@dataclass(frozen=True)
class PoissonArrivals:
    rate_per_s: float

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s

    def times(self, rng: np.random.Generator, start_s: float, count: int) -> NDArray[np.float64]:
        gaps = rng.standard_exponential(count) / self.rate_per_s
        return start_s + np.cumsum(gaps)


@dataclass(frozen=True)
class GammaArrivals:
    """Gamma-distributed gaps: shape ``1 / cv^2``, mean ``1 / rate_per_s``."""

    rate_per_s: float
    cv: float

    def __post_init__(self) -> None:
        _check_rate(self.rate_per_s)
        if not (self.cv > 0 and math.isfinite(self.cv)):
            raise InputError(f"must be a finite number > 0, got {self.cv}", field="cv")

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s

    def times(self, rng: np.random.Generator, start_s: float, count: int) -> NDArray[np.float64]:
        shape = 1.0 / (self.cv * self.cv)
        gaps = rng.gamma(shape, 1.0 / (shape * self.rate_per_s), size=count)
        return start_s + np.cumsum(gaps)


@dataclass(frozen=True)
class HourlyArrivals:
    """Poisson arrivals whose rate is ``rates_per_s[h]`` during hour ``h`` of each day;
    time 0 is the start of hour ``start_hour``."""

    rates_per_s: tuple[float, ...]
    start_hour: int = 0

    def __post_init__(self) -> None:
        if len(self.rates_per_s) != HOURS_PER_DAY:
            raise InputError(
                f"needs {HOURS_PER_DAY} hourly rates, got {len(self.rates_per_s)}",
                field="rates_per_s",
            )
        if any(not (r >= 0 and math.isfinite(r)) for r in self.rates_per_s):
            raise InputError("every hourly rate must be finite and >= 0", field="rates_per_s")
        if sum(self.rates_per_s) <= 0:
            raise InputError("at least one hourly rate must be > 0", field="rates_per_s")
        if not 0 <= self.start_hour < HOURS_PER_DAY:
            raise InputError(f"must be 0..23, got {self.start_hour}", field="start_hour")

    @property
    def mean_rate_per_s(self) -> float:
        return sum(self.rates_per_s) / HOURS_PER_DAY

    def _rotated(self) -> NDArray[np.float64]:
        return np.roll(np.asarray(self.rates_per_s, dtype=np.float64), -self.start_hour)

    def times(self, rng: np.random.Generator, start_s: float, count: int) -> NDArray[np.float64]:
        rates = self._rotated()
        knots_s = np.arange(HOURS_PER_DAY + 1) * SECONDS_PER_HOUR
        cumulative = np.concatenate(([0.0], np.cumsum(rates * SECONDS_PER_HOUR)))
        per_day = float(cumulative[-1])
        day_s = HOURS_PER_DAY * SECONDS_PER_HOUR
        start_day, start_in_day = divmod(start_s, day_s)
        start_mass = start_day * per_day + float(np.interp(start_in_day, knots_s, cumulative))
        mass = start_mass + np.cumsum(rng.standard_exponential(count))
        days, within = np.divmod(mass, per_day)
        times: NDArray[np.float64] = days * day_s + np.interp(within, cumulative, knots_s)
        return times


@dataclass(frozen=True)
class OpenLoop:
    """Requests arriving by ``arrivals`` with lengths from two distributions."""

    arrivals: ArrivalProcess
    input_tokens: LengthDistribution
    output_tokens: LengthDistribution

    def mean_lengths(self) -> tuple[float, float]:
        return self.input_tokens.mean_tokens, self.output_tokens.mean_tokens

    def chunks(self, rng: np.random.Generator, count: int) -> Iterator[RequestChunk]:
        last = 0.0
        for start in range(0, count, CHUNK_REQUESTS):
            size = min(CHUNK_REQUESTS, count - start)
            times = self.arrivals.times(rng, last, size)
            last = float(times[-1])
            yield (
                times,
                self.input_tokens.sample(rng, size),
                self.output_tokens.sample(rng, size),
            )


@dataclass(frozen=True)
class TraceReplay:
    """The requests of a trace, replayed at their times (``speedup`` > 1 compresses)."""

    trace: Trace
    speedup: float = 1.0

    def __post_init__(self) -> None:
        _check_rate(self.speedup, "speedup")

    def mean_lengths(self) -> tuple[float, float]:
        return float(self.trace.input_tokens.mean()), float(self.trace.output_tokens.mean())

    def chunks(self, rng: np.random.Generator, count: int) -> Iterator[RequestChunk]:
        del rng  # a trace is deterministic
        trace = self.trace
        end = min(count, len(trace))
        origin = float(trace.arrival_s[0])
        for start in range(0, end, CHUNK_REQUESTS):
            stop = min(end, start + CHUNK_REQUESTS)
            yield (
                (trace.arrival_s[start:stop] - origin) / self.speedup,
                trace.input_tokens[start:stop],
                trace.output_tokens[start:stop],
            )


@dataclass(frozen=True)
class ClosedLoop:
    """``clients`` users, each sending its next request an exponential think time (mean
    ``think_time_s``; 0 for none) after the previous one's last token."""

    clients: int
    think_time_s: float
    input_tokens: LengthDistribution
    output_tokens: LengthDistribution

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise InputError(f"must be >= 1, got {self.clients}", field="clients")
        if not (self.think_time_s >= 0 and math.isfinite(self.think_time_s)):
            raise InputError(
                f"must be a finite number >= 0, got {self.think_time_s}", field="think_time_s"
            )

    def mean_lengths(self) -> tuple[float, float]:
        return self.input_tokens.mean_tokens, self.output_tokens.mean_tokens

    def draws(self, rng: np.random.Generator, count: int) -> Iterator[tuple[float, int, int]]:
        """(think time, prompt tokens, output tokens) of successive requests."""
        for start in range(0, count, CHUNK_REQUESTS):
            size = min(CHUNK_REQUESTS, count - start)
            think = rng.standard_exponential(size) * self.think_time_s
            inputs = self.input_tokens.sample(rng, size)
            outputs = self.output_tokens.sample(rng, size)
            yield from zip(think.tolist(), inputs.tolist(), outputs.tolist(), strict=True)


Workload = OpenLoop | TraceReplay | ClosedLoop
