"""What a simulation measures, streamed: per-request latencies, SLO attainment, series.

Replicas append each finished request to a plain list (the cheapest thing Python can
do per request; its finish time is in ``last_token_s``); every :data:`FLUSH_REQUESTS`
requests the list is turned into latencies with numpy and counted into
:class:`~llmplan.sim.sketch.LogHistogram` sketches, so memory stays flat however many
requests run.

Definitions (as vLLM's benchmark reports them): TTFT = first token time - arrival
(queueing, prefill, and any recompute after preemption before the first token); TPOT =
(finish - first token) / (output tokens - 1), for requests of two or more output tokens;
ITL = every gap between two consecutive tokens of a request (a step's duration, or the
stall of a preempted request; with speculative decoding the gap between verification
steps, each of which may bring several tokens); e2e = finish - arrival; accepted tokens
per step = output tokens after the first / verification steps (1 without speculation).
A request meets the SLO when its TTFT and TPOT are both within target (a missing target
always holds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from llmplan.errors import InputError
from llmplan.sim.sketch import LogHistogram

FLUSH_REQUESTS = 1 << 15
_ARRIVAL = attrgetter("arrival_s")
_FIRST = attrgetter("first_token_s")
_FINISH = attrgetter("last_token_s")
_INPUT = attrgetter("input_tokens")
_OUTPUT = attrgetter("output_tokens")
_STEPS = attrgetter("output_steps")
REPORTED_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
CDF_PERCENTILES = (1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0)
"""Where a latency's distribution is sampled for a CDF chart (percent of requests)."""


@dataclass(frozen=True)
class SloTargets:
    """Latency targets met by ``percentile`` percent of requests (None: no target)."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    percentile: float = 95.0

    def __post_init__(self) -> None:
        for name, value in (("ttft_ms", self.ttft_ms), ("tpot_ms", self.tpot_ms)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise InputError(f"must be a finite number > 0, got {value}", field=name)
        if not 0 < self.percentile < 100:
            raise InputError(
                f"must be between 0 and 100, got {self.percentile}", field="percentile"
            )

    @property
    def has_targets(self) -> bool:
        return self.ttft_ms is not None or self.tpot_ms is not None


@dataclass(frozen=True)
class LatencySummary:
    """Mean, max and percentiles of one latency, milliseconds."""

    mean_ms: float
    max_ms: float
    percentiles_ms: tuple[tuple[float, float], ...]
    cdf_ms: tuple[tuple[float, float], ...] = ()
    """(percent of requests, ms) at :data:`CDF_PERCENTILES`: the distribution for a chart."""

    def at(self, percentile: float) -> float:
        """The value at ``percentile`` (one of those summarised)."""
        for p, value in self.percentiles_ms:
            if math.isclose(p, percentile):
                return value
        raise KeyError(percentile)

    @property
    def p50_ms(self) -> float:
        return self.at(50.0)

    @property
    def p90_ms(self) -> float:
        return self.at(90.0)

    @property
    def p95_ms(self) -> float:
        return self.at(95.0)

    @property
    def p99_ms(self) -> float:
        return self.at(99.0)

    def as_dict(self) -> dict[str, float]:
        out = {"mean_ms": self.mean_ms}
        out |= {f"p{p:g}_ms": v for p, v in self.percentiles_ms}
        return out | {"max_ms": self.max_ms}

    @classmethod
    def of(cls, histogram: LogHistogram, percentiles: tuple[float, ...]) -> LatencySummary:
        return cls(
            mean_ms=histogram.mean * 1e3,
            max_ms=histogram.max * 1e3 if histogram.total else math.nan,
            percentiles_ms=tuple((p, histogram.quantile(p / 100) * 1e3) for p in percentiles),
            cdf_ms=tuple((p, histogram.quantile(p / 100) * 1e3) for p in CDF_PERCENTILES)
            if histogram.total
            else (),
        )


@dataclass(frozen=True, eq=False)
class SimSeries:
    """The cluster's state over time, one value per bucket starting at ``time_s``."""

    time_s: NDArray[np.float64]
    queue: NDArray[np.float64]
    running: NDArray[np.float64]
    kv_utilisation: NDArray[np.float64]

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "time_s": self.time_s.tolist(),
            "queue": self.queue.tolist(),
            "running": self.running.tolist(),
            "kv_utilisation": self.kv_utilisation.tolist(),
        }


@dataclass
class Recorder:
    """Mutable accumulator of one run (shared by its replicas)."""

    slo: SloTargets = field(default_factory=SloTargets)
    done: list[Any] = field(default_factory=list)
    itl_s: list[float] = field(default_factory=list)
    itl_weight: list[float] = field(default_factory=list)
    ttft: LogHistogram = field(default_factory=LogHistogram)
    tpot: LogHistogram = field(default_factory=LogHistogram)
    itl: LogHistogram = field(default_factory=LogHistogram)
    e2e: LogHistogram = field(default_factory=LogHistogram)
    completed: int = 0
    good: int = 0
    total_input_tokens: float = 0.0
    total_output_tokens: float = 0.0
    first_arrival_s: float = math.inf
    last_finish_s: float = 0.0
    preemptions: int = 0
    decode_tokens: float = 0.0
    decode_steps: float = 0.0

    def merge(self, other: Recorder) -> None:
        """Add another recorder's (flushed) counts: the shares of a parallel run."""
        self.flush()
        other.flush()
        for name in ("ttft", "tpot", "itl", "e2e"):
            getattr(self, name).merge(getattr(other, name))
        self.completed += other.completed
        self.good += other.good
        self.total_input_tokens += other.total_input_tokens
        self.total_output_tokens += other.total_output_tokens
        self.first_arrival_s = min(self.first_arrival_s, other.first_arrival_s)
        self.last_finish_s = max(self.last_finish_s, other.last_finish_s)
        self.preemptions += other.preemptions
        self.decode_tokens += other.decode_tokens
        self.decode_steps += other.decode_steps

    def flush(self) -> None:
        """Turn buffered requests into histogram counts and totals; empty the buffers."""
        if self.done:
            self._flush_requests()
        if self.itl_s:
            self.itl.add(np.asarray(self.itl_s), np.asarray(self.itl_weight))
            self.itl_s.clear()
            self.itl_weight.clear()

    def _flush_requests(self) -> None:
        done = self.done
        size = len(done)
        arrival = np.fromiter(map(_ARRIVAL, done), np.float64, size)
        first = np.fromiter(map(_FIRST, done), np.float64, size)
        finish = np.fromiter(map(_FINISH, done), np.float64, size)
        out = np.fromiter(map(_OUTPUT, done), np.float64, size)
        inp = np.fromiter(map(_INPUT, done), np.float64, size)
        ttft = first - arrival
        self.ttft.add(ttft)
        self.e2e.add(finish - arrival)
        multi = out > 1
        tpot = (finish[multi] - first[multi]) / (out[multi] - 1)
        self.tpot.add(tpot)
        ok = np.ones(arrival.size, dtype=bool)
        if self.slo.ttft_ms is not None:
            ok &= ttft <= self.slo.ttft_ms / 1e3
        if self.slo.tpot_ms is not None:
            tpot_all = np.zeros(arrival.size)
            tpot_all[multi] = tpot
            ok &= tpot_all <= self.slo.tpot_ms / 1e3
        self.good += int(ok.sum())
        self.completed += arrival.size
        self.total_input_tokens += float(inp.sum())
        self.total_output_tokens += float(out.sum())
        steps = np.fromiter(map(_STEPS, done), np.float64, size)
        self.decode_tokens += float(np.maximum(out - 1, 0).sum())
        self.decode_steps += float(np.maximum(steps - 1, 0).sum())
        self.first_arrival_s = min(self.first_arrival_s, float(arrival.min()))
        self.last_finish_s = max(self.last_finish_s, float(finish.max()))
        done.clear()


@dataclass(frozen=True, eq=False)
class SimResult:
    """Figures of one simulated run (latencies over completed requests)."""

    requests: int
    duration_s: float
    requests_per_s: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    goodput_requests_per_s: float
    slo_attainment: float
    ttft: LatencySummary
    tpot: LatencySummary
    itl: LatencySummary
    e2e: LatencySummary
    preemptions: int
    clipped_requests: int
    replicas: int
    router: str
    slo: SloTargets
    series: SimSeries
    replica_requests: tuple[int, ...] = ()
    accepted_tokens_per_step: float = 1.0

    @property
    def meets_slo(self) -> bool:
        """Whether the SLO percentile of TTFT and TPOT is within target."""
        p = self.slo.percentile
        ttft_ok = self.slo.ttft_ms is None or self.ttft.at(p) <= self.slo.ttft_ms
        tpot_ok = self.slo.tpot_ms is None or not (self.tpot.at(p) > self.slo.tpot_ms)
        return ttft_ok and tpot_ok

    def as_dict(self, *, series: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "requests",
                "duration_s",
                "requests_per_s",
                "output_tokens_per_s",
                "total_tokens_per_s",
                "goodput_requests_per_s",
                "slo_attainment",
                "preemptions",
                "clipped_requests",
                "replicas",
                "router",
                "accepted_tokens_per_step",
            )
        }
        out["replica_requests"] = list(self.replica_requests)
        for name in ("ttft", "tpot", "itl", "e2e"):
            out[name] = getattr(self, name).as_dict()
        out["slo"] = {
            "ttft_ms": self.slo.ttft_ms,
            "tpot_ms": self.slo.tpot_ms,
            "percentile": self.slo.percentile,
            "met": self.meets_slo,
        }
        if series:
            out["series"] = self.series.as_dict()
        return out


def summarise(
    recorder: Recorder,
    series: SimSeries,
    *,
    replicas: int,
    router: str,
    clipped_requests: int,
    replica_requests: tuple[int, ...] = (),
) -> SimResult:
    """Close the run: flush buffers and read the sketches."""
    recorder.flush()
    percentiles = tuple(sorted({*REPORTED_PERCENTILES, recorder.slo.percentile}))
    duration = max(recorder.last_finish_s - recorder.first_arrival_s, 0.0)
    rate = 1.0 / duration if duration > 0 else math.nan
    done = recorder.completed
    return SimResult(
        requests=done,
        duration_s=duration,
        requests_per_s=done * rate,
        output_tokens_per_s=recorder.total_output_tokens * rate,
        total_tokens_per_s=(recorder.total_input_tokens + recorder.total_output_tokens) * rate,
        goodput_requests_per_s=recorder.good * rate,
        slo_attainment=recorder.good / done if done else math.nan,
        ttft=LatencySummary.of(recorder.ttft, percentiles),
        tpot=LatencySummary.of(recorder.tpot, percentiles),
        itl=LatencySummary.of(recorder.itl, percentiles),
        e2e=LatencySummary.of(recorder.e2e, percentiles),
        preemptions=recorder.preemptions,
        clipped_requests=clipped_requests,
        replicas=replicas,
        router=router,
        slo=recorder.slo,
        series=series,
        replica_requests=replica_requests,
        accepted_tokens_per_step=(
            recorder.decode_tokens / recorder.decode_steps if recorder.decode_steps else 1.0
        ),
    )
