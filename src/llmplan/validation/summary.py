"""Error statistics of predictions against measurements.

APE (absolute percentage error) is ``|predicted - measured| / measured`` as a fraction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmplan.catalog.loader import Catalog
from llmplan.errors import LlmplanError
from llmplan.perf.intervals import Cell, IntervalTable, bundled_intervals, regime_of
from llmplan.validation.dataset import Measurement
from llmplan.validation.envelope import outlier_reason
from llmplan.validation.predict import Skip, metric_spec, metric_value, setup_for

FAMILIES = ("throughput", "ttft", "tpot", "e2e")
WITHIN = 0.25


@dataclass(frozen=True)
class RowResult:
    """A predicted row, with the 80 % interval of its cell (NaN: none)."""

    row: Measurement
    family: str
    predicted: float
    low: float = math.nan
    high: float = math.nan
    outlier: str | None = None
    """Why no physical value of the engine factors explains the row (see
    :mod:`llmplan.validation.envelope`); None for rows inside the envelope."""

    @property
    def ape(self) -> float:
        return abs(self.predicted - self.row.value) / self.row.value

    @property
    def covered(self) -> bool:
        """Whether the measured value lies in [low, high]."""
        return self.low <= self.row.value <= self.high


@dataclass(frozen=True)
class SkippedRow:
    row: Measurement
    reason: str


@dataclass(frozen=True)
class ErrorStats:
    n: int
    median_ape: float
    mean_ape: float
    within_25pct: float

    @classmethod
    def of(cls, apes: Sequence[float]) -> ErrorStats:
        values = np.asarray(apes, dtype=float)
        if values.size == 0:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(
            n=int(values.size),
            median_ape=float(np.median(values)),
            mean_ape=float(values.mean()),
            within_25pct=float((values <= WITHIN).mean()),
        )

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "median_ape": self.median_ape,
            "mean_ape": self.mean_ape,
            "within_25pct": self.within_25pct,
        }


@dataclass(frozen=True)
class ValidationReport:
    results: list[RowResult]
    skipped: list[SkippedRow]
    families: dict[str, ErrorStats] = field(default_factory=dict)
    overall: ErrorStats = field(default_factory=lambda: ErrorStats.of([]))

    @property
    def total_rows(self) -> int:
        return len(self.results) + len(self.skipped)

    @property
    def coverage(self) -> float:
        return len(self.results) / self.total_rows if self.total_rows else 0.0

    @property
    def interval_coverage(self) -> float:
        """Share of predicted rows whose measured value is inside [low, high] (NaN: none)."""
        with_interval = [r for r in self.results if not math.isnan(r.low)]
        if not with_interval:
            return math.nan
        return sum(r.covered for r in with_interval) / len(with_interval)

    def breakdown(self, key: str) -> dict[str, ErrorStats]:
        """Error statistics grouped by a row column (engine, gpu, model, mode, ...)."""
        groups: dict[str, list[float]] = {}
        for r in self.results:
            groups.setdefault(str(getattr(r.row, key)), []).append(r.ape)
        return {k: ErrorStats.of(v) for k, v in sorted(groups.items())}

    def summary_dict(self) -> dict[str, object]:
        summary: dict[str, object] = {f: s.as_dict() for f, s in self.families.items()}
        summary["overall"] = self.overall.as_dict()
        summary["coverage"] = self.coverage
        summary["interval_coverage"] = self.interval_coverage
        summary["rows"] = self.total_rows
        summary["predicted"] = len(self.results)
        summary["outliers"] = len(self.outliers)
        return summary

    @property
    def outliers(self) -> list[RowResult]:
        """Rows outside the physical envelope, with the reason."""
        return [r for r in self.results if r.outlier is not None]


def validate(
    rows: Iterable[Measurement], catalog: Catalog, intervals: IntervalTable | None = None
) -> ValidationReport:
    """Predict every row that can be predicted, with its 80 % interval (``intervals``,
    default: the bundled table), and summarise the errors per family."""
    table = intervals or bundled_intervals()
    results: list[RowResult] = []
    skipped: list[SkippedRow] = []
    for row in rows:
        try:
            spec = metric_spec(row.metric)
            deployment, load = setup_for(row, catalog)
            predicted = metric_value(deployment, load, spec, row)
        except Skip as reason:
            skipped.append(SkippedRow(row, str(reason)))
            continue
        except LlmplanError as exc:
            skipped.append(SkippedRow(row, str(exc)))
            continue
        low, high = table.interval(predicted, Cell.of(deployment, regime_of(load)), spec.family)
        outlier = outlier_reason(deployment, load, spec, row)
        results.append(RowResult(row, spec.family, predicted, low, high, outlier))
    families = {f: ErrorStats.of([r.ape for r in results if r.family == f]) for f in FAMILIES}
    overall = ErrorStats.of([r.ape for r in results])
    return ValidationReport(results, skipped, families, overall)
