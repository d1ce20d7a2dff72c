"""A validation run as data: every predicted row, the summary and the skipped rows."""

from __future__ import annotations

from llmplan.validation.summary import ValidationReport


def validation_payload(report: ValidationReport) -> dict[str, object]:
    """``{"rows": [...], "summary": {...}, "skipped": [...]}`` with APE as fractions."""
    rows = [
        {
            "line": r.row.line,
            "source": r.row.source,
            "engine": r.row.engine,
            "model": r.row.model,
            "gpu": r.row.gpu,
            "mode": r.row.mode,
            "metric": r.row.metric,
            "family": r.family,
            "measured": r.row.value,
            "predicted": r.predicted,
            "predicted_low": r.low,
            "predicted_high": r.high,
            "ape": r.ape,
            "outlier": r.outlier,
        }
        for r in report.results
    ]
    skipped = [
        {
            "line": s.row.line,
            "metric": s.row.metric,
            "model": s.row.model,
            "gpu": s.row.gpu,
            "reason": s.reason,
        }
        for s in report.skipped
    ]
    return {"rows": rows, "summary": report.summary_dict(), "skipped": skipped}
