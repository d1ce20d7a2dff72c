"""Benchmark results as rows of the measurements CSV schema (``llmplan validate`` and
``llmplan calibrate`` read them).

One :class:`StepMetrics` per load step, from a run of ``llmplan bench`` or from an
imported result file, becomes one row per metric; metrics that are missing, not finite or
not positive are left out (the schema requires positive values).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from llmplan.bench.summary import StepSummary
from llmplan.bench.workload import StepKind
from llmplan.errors import InputError

COLUMNS = (
    "source",
    "engine",
    "engine_version",
    "model",
    "precision",
    "kv_precision",
    "gpu",
    "num_gpus",
    "tp",
    "pp",
    "input_len",
    "output_len",
    "mode",
    "batch",
    "request_rate",
    "metric",
    "value",
    "trust",
    "notes",
)
METRICS = (
    "ttft_ms_mean",
    "ttft_ms_median",
    "ttft_ms_p99",
    "tpot_ms_mean",
    "tpot_ms_median",
    "tpot_ms_p99",
    "itl_ms_mean",
    "itl_ms_median",
    "itl_ms_p99",
    "e2e_latency_ms_mean",
    "e2e_latency_ms_median",
    "e2e_latency_ms_p99",
    "output_tokens_per_s",
    "requests_per_s",
)


@dataclass(frozen=True)
class Labels:
    """What the measurements were taken on; the user states it, the benchmark cannot see it."""

    model: str
    gpu: str
    engine: str
    precision: str
    num_gpus: int = 1
    tp: int | None = None
    pp: int | None = None
    engine_version: str = ""
    kv_precision: str = ""
    source: str = "llmplan bench"
    trust: str = "high"

    def __post_init__(self) -> None:
        for name in ("model", "gpu", "engine", "precision"):
            if not getattr(self, name).strip():
                raise InputError("must not be empty", field=name)
        if self.num_gpus < 1:
            raise InputError(f"must be at least 1, got {self.num_gpus}", field="num_gpus")


@dataclass(frozen=True)
class StepMetrics:
    """The metrics of one load step, whatever tool measured them."""

    mode: StepKind | str  # concurrency, rate, or offline for an unbounded burst
    batch: int | None
    request_rate: float | None
    input_len: str
    output_len: str
    metrics: dict[str, float] = field(default_factory=dict)
    notes: str = ""


def from_summary(summary: StepSummary, requested: str = "") -> StepMetrics:
    """Metrics of one step of ``llmplan bench``."""
    s = summary
    values = {
        "ttft_ms_mean": s.ttft_ms.mean,
        "ttft_ms_median": s.ttft_ms.p50,
        "ttft_ms_p99": s.ttft_ms.p99,
        "tpot_ms_mean": s.tpot_ms.mean,
        "tpot_ms_median": s.tpot_ms.p50,
        "tpot_ms_p99": s.tpot_ms.p99,
        "itl_ms_mean": s.itl_ms.mean,
        "itl_ms_median": s.itl_ms.p50,
        "itl_ms_p99": s.itl_ms.p99,
        "e2e_latency_ms_mean": s.e2e_ms.mean,
        "e2e_latency_ms_median": s.e2e_ms.p50,
        "e2e_latency_ms_p99": s.e2e_ms.p99,
        "output_tokens_per_s": s.output_tokens_per_s,
        "requests_per_s": s.requests_per_s,
    }
    errors = ", ".join(f"{k} {v}" for k, v in s.errors.items()) or "none"
    counted = "server usage" if s.usage_reported else "counted stream chunks"
    notes = (
        f"{s.succeeded}/{s.requests} requests ok (errors: {errors}); lengths are measured means "
        f"({counted}){'; requested ' + requested if requested else ''}"
    )
    is_conc = s.step.kind is StepKind.CONCURRENCY
    return StepMetrics(
        mode=s.step.kind,
        batch=int(s.step.value) if is_conc else None,
        request_rate=None if is_conc else s.step.value,
        input_len=_length(s.input_tokens_mean),
        output_len=_length(s.output_tokens_mean),
        metrics=values,
        notes=notes,
    )


def _length(value: float) -> str:
    return str(round(value)) if math.isfinite(value) and value > 0 else ""


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def rows(steps: Iterable[StepMetrics], labels: Labels) -> list[dict[str, str]]:
    """CSV rows (one per metric with a usable value) in the measurements schema."""
    out: list[dict[str, str]] = []
    for step in steps:
        for metric, value in step.metrics.items():
            if not (math.isfinite(value) and value > 0):
                continue
            out.append(
                {
                    "source": labels.source,
                    "engine": labels.engine,
                    "engine_version": labels.engine_version,
                    "model": labels.model,
                    "precision": labels.precision,
                    "kv_precision": labels.kv_precision,
                    "gpu": labels.gpu,
                    "num_gpus": str(labels.num_gpus),
                    "tp": _cell(labels.tp),
                    "pp": _cell(labels.pp),
                    "input_len": step.input_len,
                    "output_len": step.output_len,
                    "mode": str(step.mode),
                    "batch": _cell(step.batch),
                    "request_rate": _cell(step.request_rate),
                    "metric": metric,
                    "value": f"{value:.6g}",
                    "trust": labels.trust,
                    "notes": step.notes,
                }
            )
    return out


def write_csv(path: Path, steps: Iterable[StepMetrics], labels: Labels) -> int:
    """Write the rows to ``path``; returns how many rows were written."""
    table = rows(steps, labels)
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(table)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})", field="out") from None
    return len(table)
