"""Per-step statistics of a benchmark run: latency percentiles, throughput, errors.

Definitions follow vLLM's ``benchmark_serving``: TTFT is the time to the first content
chunk; TPOT is ``(e2e - ttft) / (output tokens - 1)`` per request; ITL is every gap between
content chunks; throughput counts successful requests' output tokens over the step's wall
time (first request sent to last one finished).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from llmplan.bench.workload import LoadStep

if TYPE_CHECKING:
    from llmplan.bench.client import BenchRun, RequestResult, StepRun

PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class Stats:
    """Mean and percentiles of one latency, in milliseconds (NaN when there is no sample)."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def of_seconds(cls, values_s: Sequence[float]) -> Stats:
        if not values_s:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        ms = np.asarray(values_s, dtype=float) * 1e3
        p50, p90, p99 = (float(v) for v in np.percentile(ms, PERCENTILES))
        return cls(int(ms.size), float(ms.mean()), p50, p90, p99)

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "mean": self.mean, "p50": self.p50, "p90": self.p90, "p99": self.p99}


@dataclass(frozen=True)
class StepSummary:
    step: LoadStep
    requests: int
    succeeded: int
    errors: dict[str, int]
    duration_s: float
    input_tokens_mean: float
    output_tokens_mean: float
    usage_reported: bool
    ttft_ms: Stats
    tpot_ms: Stats
    itl_ms: Stats
    e2e_ms: Stats
    output_tokens_per_s: float
    requests_per_s: float
    error_examples: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.step.kind.value,
            "value": self.step.value,
            "requests": self.requests,
            "succeeded": self.succeeded,
            "errors": self.errors,
            "error_examples": self.error_examples,
            "duration_s": self.duration_s,
            "input_tokens_mean": self.input_tokens_mean,
            "output_tokens_mean": self.output_tokens_mean,
            "usage_reported": self.usage_reported,
            "ttft_ms": self.ttft_ms.as_dict(),
            "tpot_ms": self.tpot_ms.as_dict(),
            "itl_ms": self.itl_ms.as_dict(),
            "e2e_ms": self.e2e_ms.as_dict(),
            "output_tokens_per_s": self.output_tokens_per_s,
            "requests_per_s": self.requests_per_s,
        }


def _tpot_s(result: RequestResult) -> float | None:
    if result.ttft_s is None or result.e2e_s is None or result.tokens_out < 2:
        return None
    return (result.e2e_s - result.ttft_s) / (result.tokens_out - 1)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def summarise_step(step_run: StepRun) -> StepSummary:
    ok = [r for r in step_run.results if r.ok]
    failed = [r for r in step_run.results if not r.ok]
    errors = Counter(str(r.error) for r in failed)
    examples: dict[str, str] = {}
    for r in failed:
        examples.setdefault(str(r.error), r.error_detail)
    ends = [r.start_s + r.e2e_s for r in ok if r.e2e_s is not None]
    wall = (max(ends) - step_run.started_s) if ends else 0.0
    out_tokens = sum(r.tokens_out for r in ok)
    inputs = [
        float(r.input_tokens if r.input_tokens is not None else r.input_tokens_requested)
        for r in ok
    ]
    tpots = [t for r in ok if (t := _tpot_s(r)) is not None]
    return StepSummary(
        step=step_run.step,
        requests=len(step_run.results),
        succeeded=len(ok),
        errors=dict(sorted(errors.items())),
        error_examples=examples,
        duration_s=wall,
        input_tokens_mean=_mean(inputs),
        output_tokens_mean=_mean([float(r.tokens_out) for r in ok]),
        usage_reported=bool(ok) and all(r.output_tokens is not None for r in ok),
        ttft_ms=Stats.of_seconds([r.ttft_s for r in ok if r.ttft_s is not None]),
        tpot_ms=Stats.of_seconds(tpots),
        itl_ms=Stats.of_seconds([g for r in ok for g in r.itl_s]),
        e2e_ms=Stats.of_seconds([r.e2e_s for r in ok if r.e2e_s is not None]),
        output_tokens_per_s=out_tokens / wall if wall > 0 else float("nan"),
        requests_per_s=len(ok) / wall if wall > 0 else float("nan"),
    )


def summarise(run: BenchRun) -> list[StepSummary]:
    """One summary per step that sent at least one request."""
    return [summarise_step(s) for s in run.steps if s.results]
