"""Building the interval table from held-out residuals, and judging it.

A cell's interval is the 10th and 90th percentile of the held-out log residuals of its
rows, each *source* weighing the same (:func:`residual_quantiles`): the interval answers
"how far off is the model on a source it has not seen", and one source's many rows share
its engine version, hardware and method, so they are one observation of that, not many.
Cells with fewer than :data:`MIN_ROWS` rows or :data:`MIN_SOURCES` sources are left out
and their predictions fall back to coarser cells
(:meth:`llmplan.perf.intervals.Cell.keys`). The coverage that counts is *held out twice*:
each source's rows are judged against a table built from the residuals of the other
sources only (:func:`held_out_coverage`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from llmplan.perf.intervals import (
    ANY,
    HIGH_QUANTILE,
    LOW_QUANTILE,
    CellKey,
    IntervalCell,
    IntervalTable,
    Regime,
    bounds,
    find_cell,
)
from llmplan.validation.crossval import CrossValidation, HeldOutResidual
from llmplan.validation.summary import FAMILIES, ErrorStats

MIN_ROWS = 15
"""Fewest residuals a cell needs for its own interval: with 15 rows of equal weight the
10th and 90th percentiles sit near the 2nd value from each end (coarse, but pooling with
the coarser cell is the alternative)."""

MIN_SOURCES = 3
"""Fewest sources a cell needs: rows of one or two sources measure the spread within
those sources, not how far a new source lands (on the development set, cells of one
source gave 65 % held-out coverage for a nominal 80 %)."""

BATCH1_TPOT_LEVELS = 3
"""Cells of a batch-1 TPOT prediction that also hold mirrored batch-1 throughput rows: its
own, engine family x batch1 and batch1 (not the TPOT rows of every regime)."""

DIGITS = 4
"""Decimals of the stored log quantiles (1e-4 in log = 0.01 % of the value)."""

METHOD = (
    "10th and 90th percentiles of leave-one-source-out log residuals log(predicted/measured), "
    "each source weighing the same, per engine family x GPU class x regime x metric family "
    "(llmplan.validation.crossval); interval = [predicted * exp(-q90), predicted * exp(-q10)]"
)


def residual_quantiles(values: Sequence[float], sources: Sequence[str]) -> tuple[float, float]:
    """(10th, 90th) percentile of ``values``, each source's values sharing one unit of
    weight. The sorted values sit at the midpoints of their cumulative weights (Hazen's
    plotting positions, ``(i - 0.5) / n`` when all weights are equal) and the percentiles
    are interpolated linearly between them, clamped to the smallest and largest value."""
    counts = Counter(sources)
    order = np.argsort(np.asarray(values, dtype=float), kind="stable")
    sorted_values = np.asarray(values, dtype=float)[order]
    weights = np.array([1.0 / counts[sources[i]] for i in order])
    positions = (np.cumsum(weights) - 0.5 * weights) / weights.sum()
    low, high = np.interp([LOW_QUANTILE, HIGH_QUANTILE], positions, sorted_values)
    return float(low), float(high)


def _memberships(residual: HeldOutResidual) -> Iterator[tuple[CellKey, float]]:
    """(cell key, log residual) of every cell a residual counts in, finest first. A
    batch-1 throughput row also counts, mirrored, in the batch-1 TPOT cells: one sequence
    generates 1 / TPOT tokens per second (prefill aside), so a model that predicts its
    tokens/s x too high predicts its TPOT x too low."""
    for key in residual.cell.keys(residual.family):
        yield key, residual.log_residual
    if residual.family == "throughput" and residual.cell.regime == Regime.BATCH1:
        for key in residual.cell.keys("tpot")[:BATCH1_TPOT_LEVELS]:
            yield key, -residual.log_residual


def build_cells(
    residuals: Iterable[HeldOutResidual],
    min_rows: int = MIN_ROWS,
    min_sources: int = MIN_SOURCES,
) -> tuple[IntervalCell, ...]:
    """One cell per group of at least ``min_rows`` residuals from ``min_sources`` sources
    (the overall cell always)."""
    groups: dict[CellKey, list[tuple[str, float]]] = defaultdict(list)
    for residual in residuals:
        for key, value in _memberships(residual):
            groups[key].append((residual.source, value))
    cells = []
    for key, members in sorted(groups.items()):
        sources = [source for source, _ in members]
        sparse = len(members) < min_rows or len(set(sources)) < min_sources
        if sparse and key != (ANY, ANY, ANY, ANY):
            continue
        q10, q90 = residual_quantiles([value for _, value in members], sources)
        engine, gpu, regime, family = key
        cells.append(
            IntervalCell.model_validate(
                {
                    "engine_family": engine,
                    "gpu_class": gpu,
                    "regime": regime,
                    "family": family,
                    "rows": len(members),
                    "sources": len(set(sources)),
                    "q10_log": round(q10, DIGITS),
                    "q90_log": round(q90, DIGITS),
                }
            )
        )
    return tuple(cells)


def covered(residual: HeldOutResidual, index: dict[CellKey, IntervalCell]) -> bool:
    """Whether the measured value lies inside the interval around the prediction."""
    found = find_cell(index, residual.cell, residual.family)
    low, high = bounds(residual.predicted, found.q10_log, found.q90_log)
    return low <= residual.measured <= high


def held_out_coverage(
    residuals: Sequence[HeldOutResidual],
    min_rows: int = MIN_ROWS,
    min_sources: int = MIN_SOURCES,
) -> dict[str, float]:
    """Share of rows inside intervals built without their source, per metric family and
    ``overall``."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for source in sorted({r.source for r in residuals}):
        others = build_cells((r for r in residuals if r.source != source), min_rows, min_sources)
        index = {c.key: c for c in others}
        for residual in (r for r in residuals if r.source == source):
            inside = covered(residual, index)
            hits[residual.family].append(inside)
            hits["overall"].append(inside)
    return {family: float(np.mean(values)) for family, values in sorted(hits.items())}


def build_table(
    cv: CrossValidation,
    *,
    dataset_sha256: str,
    code_version: str,
    created: dt.date,
    min_rows: int = MIN_ROWS,
    min_sources: int = MIN_SOURCES,
) -> IntervalTable:
    """The interval table of ``cv``'s residuals, with its provenance."""
    coverage = held_out_coverage(cv.residuals, min_rows, min_sources).get("overall")
    coverage = None if coverage is None else round(coverage, DIGITS)
    return IntervalTable(
        dataset_sha256=dataset_sha256,
        code_version=code_version,
        created=created,
        method=METHOD,
        min_rows=min_rows,
        min_sources=min_sources,
        held_out_coverage=coverage,
        cells=build_cells(cv.residuals, min_rows, min_sources),
    )


@dataclass(frozen=True)
class CrossValidationSummary:
    """Held-out errors per metric family and per engine, and the interval coverage."""

    sources: int
    rows: int
    predicted: int
    families: dict[str, ErrorStats]
    engines: dict[str, ErrorStats]
    interval_coverage: dict[str, float]
    inside_envelope: dict[str, ErrorStats]
    """The same families over rows inside the physical envelope (outliers left out)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "rows": self.rows,
            "predicted": self.predicted,
            "families": {k: v.as_dict() for k, v in self.families.items()},
            "engines": {k: v.as_dict() for k, v in self.engines.items()},
            "interval_coverage": self.interval_coverage,
            "inside_envelope": {k: v.as_dict() for k, v in self.inside_envelope.items()},
            "min_rows_per_cell": MIN_ROWS,
            "min_sources_per_cell": MIN_SOURCES,
        }


def summarise(
    cv: CrossValidation, min_rows: int = MIN_ROWS, min_sources: int = MIN_SOURCES
) -> CrossValidationSummary:
    """Median APE per family (and overall) and per engine, and held-out coverage."""
    residuals = cv.residuals
    inside = [r for r in residuals if not r.outlier]
    engines: dict[str, list[float]] = defaultdict(list)
    for r in residuals:
        engines[r.engine].append(r.ape)
    return CrossValidationSummary(
        sources=len(cv.sources),
        rows=cv.rows,
        predicted=len(residuals),
        families=_family_stats(residuals),
        engines={k: ErrorStats.of(v) for k, v in sorted(engines.items())},
        interval_coverage=held_out_coverage(residuals, min_rows, min_sources),
        inside_envelope=_family_stats(inside),
    )


def _family_stats(residuals: Sequence[HeldOutResidual]) -> dict[str, ErrorStats]:
    """Median APE per metric family and overall."""
    families = {f: ErrorStats.of([r.ape for r in residuals if r.family == f]) for f in FAMILIES}
    families["overall"] = ErrorStats.of([r.ape for r in residuals])
    return families
