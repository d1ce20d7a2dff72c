"""Reference test: the performance model against the bundled development set.

The issue's targets are coverage >= 90 %, median APE <= 15 % for throughput and <= 20 %
for TTFT and TPOT. The bounds below are the figures measured when the engine profiles
were last fitted (README, "Accuracy") plus a stated slack, so a change that makes the
model worse on published measurements fails here; where a figure still misses the
issue's target the bound says so rather than pretending.
"""

from __future__ import annotations

import pytest

from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.summary import ErrorStats, ValidationReport, validate

SLACK = 0.02  # absolute APE points of headroom over the last measured figure


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    return validate(read_measurements(bundled_measurements_path()), bundled_catalog())


def test_coverage(report: ValidationReport) -> None:
    """Measured 99.6 %: only rows that cannot fit their hardware are skipped."""
    assert report.coverage >= 0.99
    for skipped in report.skipped:
        assert skipped.reason, skipped.row


@pytest.mark.parametrize(
    ("family", "measured", "target"),
    [
        ("throughput", 0.130, 0.15),  # meets it since fp16 rows keep an fp16 KV cache
        ("ttft", 0.272, 0.20),  # misses: TTFT under load is issue 11's open item
        ("tpot", 0.149, 0.20),  # meets it
        ("e2e", 0.309, None),
    ],
)
def test_median_ape(
    report: ValidationReport, family: str, measured: float, target: float | None
) -> None:
    stats = report.families[family]
    assert stats.n >= 90
    assert stats.median_ape <= measured + SLACK, stats
    if target is not None and measured <= target:  # a met target stays met
        assert stats.median_ape <= target, stats


def test_most_throughput_rows_within_25_percent(report: ValidationReport) -> None:
    assert report.families["throughput"].within_25pct >= 0.67


def test_rows_inside_the_physical_envelope(report: ValidationReport) -> None:
    """Rows that some physical value of the factors explains are predicted far better
    than the outliers; the outliers stay a minority (measured: 217 of 1,967)."""
    inside = [r.ape for r in report.results if r.outlier is None]
    assert len(report.outliers) <= 0.15 * len(report.results)
    assert ErrorStats.of(inside).median_ape <= 0.15 + SLACK
