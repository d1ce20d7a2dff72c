"""Terminal and JSON views of a validation run."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from llmplan.application.validation import validation_payload as validation_payload
from llmplan.cli.common import console
from llmplan.validation.envelope import OUTLIER_CAUSES
from llmplan.validation.interval_fit import CrossValidationSummary
from llmplan.validation.summary import ErrorStats, ValidationReport

MAX_SKIP_REASONS = 12


def _stats_table(title: str, groups: dict[str, ErrorStats]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("group", "n", "median APE", "mean APE", "within 25%"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for name, stats in groups.items():
        if stats.n == 0:
            continue
        table.add_row(
            name,
            str(stats.n),
            f"{stats.median_ape:.1%}",
            f"{stats.mean_ape:.1%}",
            f"{stats.within_25pct:.0%}",
        )
    return table


def render_validation(report: ValidationReport, by: str) -> None:
    """Print the per-family summary, a breakdown and the skip reasons."""
    families = dict(report.families) | {"overall": report.overall}
    table = _stats_table(
        f"Prediction error on {report.total_rows} rows (coverage {report.coverage:.1%})",
        families,
    )
    table.caption = (
        f"80 % interval coverage: {report.interval_coverage:.1%} of predicted rows measured "
        "inside [predicted_low, predicted_high]"
    )
    console.print(table)
    try:
        groups = report.breakdown(by)
    except AttributeError:
        groups = {}
    if groups:
        console.print(_stats_table(f"By {by}", groups))
    _print_outliers(report)
    reasons = Counter(s.reason for s in report.skipped)
    if reasons:
        table = Table(title=f"{len(report.skipped)} rows skipped", title_justify="left")
        table.add_column("rows", justify="right")
        table.add_column("reason")
        for reason, count in reasons.most_common(MAX_SKIP_REASONS):
            table.add_row(str(count), reason)
        console.print(table)


def _print_outliers(report: ValidationReport) -> None:
    """Rows no physical value of the engine factors explains, grouped by source."""
    outliers = report.outliers
    if not outliers:
        return
    by_source = Counter((r.row.source, r.row.engine, r.row.engine_version) for r in outliers)
    table = Table(
        title=f"{len(outliers)} rows outside the physical envelope (left out of calibration)",
        title_justify="left",
    )
    for column in ("rows", "source", "engine", "first reason"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for (source, engine, version), count in by_source.most_common(MAX_SKIP_REASONS):
        first = next(r for r in outliers if r.row.source == source and r.row.engine == engine)
        table.add_row(str(count), source[:70], f"{engine} {version}".strip(), first.outlier or "")
    console.print(table)
    for direction, causes in OUTLIER_CAUSES.items():
        console.print(f"{direction} than physics allows: {causes}")


def render_cross_validation(summary: CrossValidationSummary) -> None:
    """Print held-out errors per family and per engine, and the interval coverage."""
    coverage = summary.interval_coverage
    families = _stats_table(
        f"Leave-one-source-out error: {summary.predicted} of {summary.rows} rows, "
        f"{summary.sources} sources held out in turn",
        summary.families,
    )
    shares = ", ".join(f"{k} {v:.1%}" for k, v in coverage.items() if k != "overall")
    families.caption = (
        f"80 % interval coverage on held-out rows: {coverage.get('overall', float('nan')):.1%}"
        f" ({shares}); intervals built without the row's source"
    )
    console.print(families)
    console.print(
        _stats_table("Held out, rows inside the physical envelope", summary.inside_envelope)
    )
    console.print(_stats_table("Held out, by engine", summary.engines))
