"""HTML report of a plan: the decision, options, and charts (cumulative cost, TCO
breakdown, cost vs latency, sensitivity), self-contained so it can be forwarded as is.

Works from the plan payload (``llmplan.plan.payload``), the same data ``--json`` prints.
plotly.js is inlined once; the other charts reuse it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from llmplan.errors import InputError
from llmplan.files import write_text_atomic

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("llmplan", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


def _included(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((o for o in payload["options"] if o["included"]), key=lambda o: o["npv_usd"])


def _cumulative_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for option in _included(payload):
        months = list(range(len(option["cumulative_usd"])))
        figure.add_trace(
            go.Scatter(x=months, y=option["cumulative_usd"], mode="lines", name=option["option"])
        )
    curves = {o["option"]: o["cumulative_usd"] for o in _included(payload)}
    points = [b for b in payload["breakeven"] if b["month"] is not None]
    if points:
        figure.add_trace(
            go.Scatter(
                x=[b["month"] for b in points],
                y=[curves[b["option"]][b["month"]] for b in points],
                mode="markers",
                marker={"symbol": "x", "size": 10, "color": "black"},
                name="break-even",
                text=[f"{b['option']} no dearer than {b['versus']} from here" for b in points],
                hovertemplate="%{text}<br>month %{x}<extra></extra>",
            )
        )
    figure.update_layout(
        title="Cumulative cost per option (x: break-even points)",
        xaxis_title="month",
        yaxis_title="USD",
        height=420,
    )
    return figure


def _breakdown_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    options = _included(payload)
    lines = sorted({line for o in options for line in o["lines_usd"]})
    figure = go.Figure()
    for line in lines:
        figure.add_trace(
            go.Bar(
                x=[o["option"] for o in options],
                y=[o["lines_usd"].get(line, 0.0) for o in options],
                name=line,
            )
        )
    figure.update_layout(
        barmode="relative", title="TCO by line (undiscounted)", yaxis_title="USD", height=420
    )
    return figure


def _pareto_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for workload in sorted({p["workload"] for p in payload["pareto"]}):
        points = [p for p in payload["pareto"] if p["workload"] == workload]
        figure.add_trace(
            go.Scatter(
                x=[p["ttft_ms"] for p in points],
                y=[p["npv_usd"] for p in points],
                mode="markers",
                name=workload,
                marker={"symbol": ["star" if p["on_front"] else "circle" for p in points]},
                text=[f"{p['label']} ({p['option']})" for p in points],
                hovertemplate="%{text}<br>TTFT %{x:.0f} ms<br>NPV %{y:,.0f} USD<extra></extra>",
            )
        )
    figure.update_layout(
        title="Cost vs time to first token (stars: Pareto front)",
        xaxis_title="TTFT at the SLO percentile, ms",
        yaxis_title="NPV, USD",
        height=420,
    )
    return figure


def _tornado_figure(payload: dict[str, Any]) -> Any | None:
    import plotly.graph_objects as go

    best = (payload["recommended"] or {}).get("option")
    bars = payload["sensitivity"]["tornado"]
    base = payload["sensitivity"]["base_npv_usd"].get(best)
    if not bars or best is None or base is None:
        return None
    names = [b["field"] for b in bars][::-1]
    figure = go.Figure()
    for key, label in (("low_usd", "low value"), ("high_usd", "high value")):
        figure.add_trace(
            go.Bar(
                y=names,
                x=[b[key][best] - base for b in bars][::-1],
                orientation="h",
                name=label,
            )
        )
    figure.update_layout(
        barmode="overlay",
        title=f"Sensitivity of the recommended option ({best}): NPV change, USD",
        height=60 + 40 * len(names),
    )
    return figure


def _figures(payload: dict[str, Any]) -> list[str]:
    figures = [
        _cumulative_figure(payload),
        _breakdown_figure(payload),
        _pareto_figure(payload),
        _tornado_figure(payload),
    ]
    html, first = [], True
    for figure in figures:
        if figure is None:
            continue
        html.append(str(figure.to_html(full_html=False, include_plotlyjs=first)))
        first = False
    return html


def render_plan_report(payload: dict[str, Any]) -> str:
    template = _ENV.get_template("plan.html.j2")
    return template.render(
        p=payload,
        included=_included(payload),
        excluded=[o for o in payload["options"] if not o["included"]],
        figures=_figures(payload) if _included(payload) else [],
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_plan_report(payload: dict[str, Any], path: Path) -> None:
    """Write the HTML report to ``path`` (atomically: a failed write leaves no half file)."""
    text = render_plan_report(payload)
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror})", field="report") from None
