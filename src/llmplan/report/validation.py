"""HTML report of a validation run: summary tables and a predicted-vs-measured plot.

The page is self-contained (plotly.js is inlined) so it opens on an air-gapped machine.
Plotting is imported here only, never by the core models.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import jinja2

from llmplan.errors import InputError
from llmplan.validation.summary import FAMILIES, ValidationReport

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("llmplan", "report/templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def predicted_vs_measured_figure(report: ValidationReport) -> str:
    """Plotly figure (HTML div with inlined plotly.js), log-log, one trace per family."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for family in FAMILIES:
        rows = [r for r in report.results if r.family == family]
        if not rows:
            continue
        figure.add_trace(
            go.Scatter(
                x=[r.row.value for r in rows],
                y=[r.predicted for r in rows],
                mode="markers",
                name=family,
                opacity=0.6,
                text=[
                    f"{r.row.model} | {r.row.gpu} | {r.row.engine} | {r.row.metric} "
                    f"| APE {r.ape:.0%}"
                    for r in rows
                ],
                hovertemplate="measured %{x:.4g}<br>predicted %{y:.4g}<br>%{text}<extra></extra>",
            )
        )
    values = [v for r in report.results for v in (r.row.value, r.predicted) if v > 0]
    if values:
        low, high = min(values), max(values)
        figure.add_trace(
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                name="exact",
                line={"dash": "dash", "color": "grey"},
            )
        )
    figure.update_xaxes(type="log", title="measured")
    figure.update_yaxes(type="log", title="predicted")
    figure.update_layout(height=640, margin={"l": 60, "r": 20, "t": 30, "b": 60})
    return str(figure.to_html(full_html=False, include_plotlyjs=True))


def render_validation_report(report: ValidationReport, title: str) -> str:
    families = dict(report.families) | {"overall": report.overall}
    template = _ENV.get_template("validation.html.j2")
    return template.render(
        title=title,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        coverage=report.coverage,
        interval_coverage=report.interval_coverage,
        total=report.total_rows,
        predicted=len(report.results),
        families={k: v for k, v in families.items() if v.n},
        by_engine=report.breakdown("engine"),
        by_gpu=report.breakdown("gpu"),
        by_mode=report.breakdown("mode"),
        skipped=Counter(s.reason for s in report.skipped).most_common(),
        figure=predicted_vs_measured_figure(report),
        worst=sorted(report.results, key=lambda r: r.ape, reverse=True)[:25],
    )


def write_validation_report(report: ValidationReport, path: Path, title: str) -> None:
    """Write the HTML report to ``path``."""
    try:
        path.write_text(render_validation_report(report, title), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror})", field="report") from None
