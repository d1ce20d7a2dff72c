"""HTML report of a plan: the executive summary first, then the options, the charts
(cumulative cost, cost by line, cost against volume, cost vs latency, sensitivity) and the
assumptions, self-contained so it can be forwarded as is (and printed on A4 or Letter).

Works from the plan payload (``llmplan.plan.payload``), the same data ``--json`` prints.
plotly.js is inlined once; the other charts reuse it. Names and numbers are in words with
units (:mod:`.labels`); every option keeps one colour and one order in every chart.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from llmplan.errors import InputError, MissingDependencyError
from llmplan.files import write_bytes_atomic
from llmplan.report.content import (
    assumptions_table,
    breakeven_table,
    included,
    options_table,
    tornado_table,
    uncertainty_table,
)
from llmplan.report.labels import (
    field_name,
    field_value,
    line_colour,
    line_name,
    money,
    option_colour,
    option_name,
    power_text,
)
from llmplan.report.paper import DEFAULT_PAPER, Paper
from llmplan.report.summary import currency_of, design_of, executive_summary, rate_of

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("llmplan", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)
_ENV.filters.update(
    option_name=option_name,
    line_name=line_name,
    field_name=field_name,
    field_value=lambda value, field: field_value(field, value),
    money=money,
    design=design_of,
    power=power_text,
)
#: Chart size and margins (px): wide enough for A4 and Letter at 96 dpi.
HEIGHT = 420
MARGIN = {"t": 60, "l": 80, "r": 20, "b": 60}
#: Volume multiples of the tornado's volume bar, and the base case between them.
VOLUME_FIELD = "inference_volume_multiple"


_included = included


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}, "separatethousands": True},
        "height": HEIGHT,
        "margin": MARGIN,
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def _cumulative_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    currency = "USD"  # charts stay in USD (the tables and summary convert)
    figure = go.Figure()
    options = _included(payload)
    for option in options:
        figure.add_trace(
            go.Scatter(
                x=list(range(len(option["cumulative_usd"]))),
                y=option["cumulative_usd"],
                mode="lines",
                name=option_name(option["option"]),
                line={"color": option_colour(option["option"])},
            )
        )
    curves = {o["option"]: o["cumulative_usd"] for o in options}
    points = [
        b
        for b in payload["breakeven"]
        if b["month"] is not None
        and b["option"] in curves
        and b["month"] < len(curves[b["option"]])
    ]
    if points:
        figure.add_trace(
            go.Scatter(
                x=[b["month"] for b in points],
                y=[curves[b["option"]][b["month"]] for b in points],
                mode="markers",
                marker={"symbol": "x", "size": 10, "color": "black"},
                name="Break-even",
                text=[
                    f"{option_name(b['option'])} no dearer than {option_name(b['versus'])}"
                    for b in points
                ],
                hovertemplate="%{text}<br>month %{x}<extra></extra>",
            )
        )
    figure.update_layout(
        _layout(
            "Cumulative cost per option (x: break-even)", "Month", f"Cumulative cost, {currency}"
        )
    )
    return figure


def _breakdown_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    currency = "USD"  # charts stay in USD (the tables and summary convert)
    options = _included(payload)
    lines = sorted({line for o in options for line in o["lines_usd"]})
    figure = go.Figure()
    for line in lines:
        values = [o["lines_usd"].get(line, 0.0) for o in options]
        if not any(values):
            continue
        figure.add_trace(
            go.Bar(
                x=[option_name(o["option"]) for o in options],
                y=values,
                name=line_name(line),
                marker={"color": line_colour(line)},
            )
        )
    figure.update_layout(
        _layout(
            "Total cost by line over the horizon (undiscounted)",
            "Option",
            f"Cost, {currency}",
            barmode="relative",
        )
    )
    return figure


def volume_points(payload: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """(volume multiple, NPV) per option at 1/2, 1 and 2 x the forecast volume, from the
    tornado's volume bar and the base case; empty without that bar."""
    sensitivity = payload.get("sensitivity") or {}
    bar = next((b for b in sensitivity.get("tornado") or [] if b["field"] == VOLUME_FIELD), None)
    base = sensitivity.get("base_npv_usd") or {}
    if bar is None:
        return {}
    out = {}
    for o in _included(payload):
        name = o["option"]
        if name in bar["low_usd"] and name in bar["high_usd"] and name in base:
            out[name] = [
                (bar["low_value"], bar["low_usd"][name]),
                (1.0, base[name]),
                (bar["high_value"], bar["high_usd"][name]),
            ]
    return out


def _volume_figure(payload: dict[str, Any]) -> Any | None:
    import plotly.graph_objects as go

    points = volume_points(payload)
    if len(points) < 2:
        return None
    currency = "USD"  # charts stay in USD (the tables and summary convert)
    figure = go.Figure()
    for name, values in points.items():
        figure.add_trace(
            go.Scatter(
                x=[v[0] for v in values],
                y=[v[1] for v in values],
                mode="lines+markers",
                name=option_name(name),
                line={"color": option_colour(name)},
            )
        )
    crossings = [b for b in payload["breakeven"] if b.get("volume_multiple") is not None]
    for b in crossings:
        figure.add_vline(
            x=b["volume_multiple"],
            line={"dash": "dot", "color": "gray"},
            annotation_text=f"{option_name(b['option'])} = {option_name(b['versus'])}",
        )
    figure.update_layout(
        _layout(
            "Cost against volume: where each option is cheapest",
            "Volume, multiple of the forecast (log scale)",
            f"Net present value, {currency}",
            xaxis={"type": "log", "title": {"text": "Volume, multiple of the forecast (log)"}},
        )
    )
    return figure


def _pareto_figure(payload: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    currency = "USD"  # charts stay in USD (the tables and summary convert)
    figure = go.Figure()
    for workload in sorted({p["workload"] for p in payload["pareto"]}):
        points = [p for p in payload["pareto"] if p["workload"] == workload]
        figure.add_trace(
            go.Scatter(
                x=[p["ttft_ms"] for p in points],
                y=[p["npv_usd"] for p in points],
                mode="markers",
                name=workload,
                marker={
                    "symbol": ["star" if p["on_front"] else "circle" for p in points],
                    "color": [option_colour(p["option"]) for p in points],
                    "size": 10,
                },
                text=[f"{p['label']} ({option_name(p['option'])})" for p in points],
                hovertemplate="%{text}<br>TTFT %{x:,.0f} ms<br>NPV %{y:,.0f}<extra></extra>",
            )
        )
    figure.update_layout(
        _layout(
            "Cost against time to first token (stars: best trade-offs)",
            "Time to first token at the SLO percentile, ms",
            f"Net present value, {currency}",
        )
    )
    return figure


def _tornado_figure(payload: dict[str, Any]) -> Any | None:
    import plotly.graph_objects as go

    best = (payload["recommended"] or {}).get("option")
    bars = payload["sensitivity"]["tornado"]
    base = payload["sensitivity"]["base_npv_usd"].get(best)
    if not bars or best is None or base is None:
        return None
    bars = [b for b in bars if best in b["low_usd"]][::-1]
    names = [
        f"{field_name(b['field'])}<br><sub>{field_value(b['field'], b['low_value'])} to "
        f"{field_value(b['field'], b['high_value'])}</sub>"
        for b in bars
    ]
    figure = go.Figure()
    for key, label, colour in (
        ("low_usd", "Low value of the input", "#6b8fd6"),
        ("high_usd", "High value of the input", "#f28e2b"),
    ):
        figure.add_trace(
            go.Bar(
                y=names,
                x=[b[key][best] - base for b in bars],
                orientation="h",
                name=label,
                marker={"color": colour},
            )
        )
    currency = "USD"  # charts stay in USD (the tables and summary convert)
    figure.update_layout(
        _layout(
            f"What moves the cost of {option_name(best)} (each input from its low to high value)",
            f"Change in net present value, {currency}",
            "",
            barmode="overlay",
            height=140 + 42 * len(names),
            margin={"t": 60, "l": 330, "r": 30, "b": 60},
        )
    )
    return figure


def _latency_cdf_figure(payload: dict[str, Any]) -> Any | None:
    """TTFT and TPOT distributions the simulator measured for the recommended option's
    designs at their peak hour (one line per workload), with the SLO targets marked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    checks = [c for c in payload.get("simulation") or [] if c.get("ttft_cdf_ms")]
    if not checks:
        return None
    targets = {w["name"]: w.get("slo") or {} for w in payload["scenario"]["workloads"]}
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("Time to first token", "Time per output token")
    )
    for check in checks:
        name = f"{check['workload']}: {check['design']}"
        for col, key in ((1, "ttft_cdf_ms"), (2, "tpot_cdf_ms")):
            points = check.get(key) or []
            figure.add_trace(
                go.Scatter(
                    x=[ms for _, ms in points],
                    y=[share for share, _ in points],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        slo = targets.get(check["workload"], {})
        for col, target in ((1, slo.get("ttft_ms")), (2, slo.get("tpot_ms"))):
            if target:
                figure.add_vline(x=target, line_dash="dash", line_color="#d62728", row=1, col=col)
    figure.update_xaxes(title_text="ms (dashed: the SLO target)", type="log")
    figure.update_yaxes(title_text="% of requests at or below", range=[0, 100], col=1)
    figure.update_layout(
        title={"text": "Simulated latency of the recommended design at its peak hour"},
        height=HEIGHT,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def _figures(payload: dict[str, Any]) -> list[str]:
    figures = [
        _cumulative_figure(payload),
        _breakdown_figure(payload),
        _volume_figure(payload),
        _pareto_figure(payload),
        _tornado_figure(payload),
        _latency_cdf_figure(payload),
    ]
    html, first = [], True
    config = {"displayModeBar": False, "responsive": True}
    for figure in figures:
        if figure is None:
            continue
        chart = figure.to_html(full_html=False, include_plotlyjs=first, config=config)
        html.append(f'<div class="chart">{chart}</div>')
        first = False
    return html


def render_plan_report(payload: dict[str, Any], paper: Paper = DEFAULT_PAPER) -> str:
    """The report as one self-contained HTML page, laid out for ``paper`` when printed."""
    template = _ENV.get_template("plan.html.j2")
    included = _included(payload)
    options_header, options_rows = options_table(payload)
    best = (payload.get("recommended") or {}).get("option")
    return template.render(
        p=payload,
        summary=executive_summary(payload),
        currency=currency_of(payload),
        rate=rate_of(payload),
        paper=paper.css_size,
        included=included,
        options_header=options_header,
        options=[(o["option"] == best, row) for o, row in zip(included, options_rows, strict=True)],
        excluded=[o for o in payload["options"] if not o["included"]],
        figures=_figures(payload) if included else [],
        breakeven=breakeven_table(payload),
        uncertainty=uncertainty_table(payload),
        sensitivity=tornado_table(payload),
        assumptions=assumptions_table(payload),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


#: What ``write_plan_report`` writes, by the file name's suffix.
REPORT_SUFFIXES = (".html", ".htm", ".pdf", ".xlsx")


def check_report_path(path: Path) -> None:
    """:class:`InputError` unless ``path`` names a report type llmplan writes, and for a
    PDF unless Chromium is installed to print it."""
    if path.suffix.lower() not in REPORT_SUFFIXES:
        allowed = ", ".join(REPORT_SUFFIXES)
        raise InputError(
            f"unknown report type {path.suffix or '(none)'!r}; use {allowed}", field="report"
        )
    if path.suffix.lower() == ".pdf":
        from llmplan.report.pdf import require_chromium

        require_chromium()
    if path.suffix.lower() == ".xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise MissingDependencyError(
                "the XLSX report needs openpyxl: python3 -m pip install 'llmplan[web]'",
                field="report",
            ) from None


def plan_report_bytes(payload: dict[str, Any], suffix: str, paper: Paper = DEFAULT_PAPER) -> bytes:
    """The report as HTML, PDF (printed by Chromium) or XLSX, chosen by ``suffix``."""
    kind = suffix.lower()
    if kind == ".pdf":
        from llmplan.report.pdf import html_to_pdf

        return html_to_pdf(render_plan_report(payload, paper))
    if kind == ".xlsx":
        from llmplan.report.xlsx import plan_workbook

        return plan_workbook(payload)
    check_report_path(Path(f"report{kind}"))
    return render_plan_report(payload, paper).encode("utf-8")


def write_plan_report(payload: dict[str, Any], path: Path, paper: Paper = DEFAULT_PAPER) -> None:
    """Write the report to ``path``: HTML, PDF or XLSX by its suffix (atomically: a failed
    write leaves no half file)."""
    data = plan_report_bytes(payload, path.suffix, paper)
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror})", field="report") from None
