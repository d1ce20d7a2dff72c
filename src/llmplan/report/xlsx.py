"""A plan as a spreadsheet with the report's content, so a finance team can check the
arithmetic.

Sheets: ``Summary`` (the executive summary in the report's sentences, then the decision
and every option in raw USD), ``Options``, ``Break-even``, ``Sensitivity`` (the tornado of
the recommended option and the Monte Carlo spread) and ``Assumptions`` (units and sources):
the report's own tables (:mod:`.content`), cell for cell; ``Inputs`` (every scenario field,
one row each), ``Monthly`` (each included option's net cash flow per month, the discount
factor and the NPV as spreadsheet formulas next to the plan's own figure), ``Yearly`` (the
same cash flows summed per year, with totals as formulas) and ``Lines`` (undiscounted
totals per cost line and their average per month). Works from the plan payload (what
``llmplan plan --json`` prints).

openpyxl is imported when a workbook is built (the ``web`` extra), never at import time.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmplan.report.content import (
    Cell,
    assumptions_table,
    breakeven_table,
    options_table,
    tornado_table,
    uncertainty_table,
)
from llmplan.report.summary import executive_summary

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

MONTHS_PER_YEAR = 12
MONEY = "#,##0.00"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _included(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in payload["options"] if o["included"]]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, scalar) pairs of nested data; lists of scalars joined by commas."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif isinstance(value, list):
        yield prefix, ", ".join(str(v) for v in value)
    else:
        yield prefix, value


def monthly_cash_flows(option: dict[str, Any]) -> list[float]:
    """Net spending at t=0 and in each month, from the cumulative series, USD."""
    cumulative: list[float] = option["cumulative_usd"]
    return [cumulative[0]] + [b - a for a, b in itertools.pairwise(cumulative)]


def yearly_cash_flows(option: dict[str, Any]) -> list[tuple[str, float]]:
    """("t=0", upfront) then ("year N", spending in months 12(N-1)+1 .. 12N), USD."""
    flows = monthly_cash_flows(option)
    out = [("t=0 (upfront)", flows[0])]
    for start in range(1, len(flows), MONTHS_PER_YEAR):
        year = (start - 1) // MONTHS_PER_YEAR + 1
        out.append((f"year {year}", sum(flows[start : start + MONTHS_PER_YEAR])))
    return out


class Formula(str):
    """A spreadsheet formula the workbook writes on purpose; any other text starting
    with ``=`` is data (a scenario or workload name) and is stored as text."""


def _append(sheet: Worksheet, values: list[Any]) -> None:
    """Append a row; text from the plan never becomes a live formula (formula injection:
    a name like ``=HYPERLINK(...)`` stays the text it is)."""
    sheet.append(values)
    for value, cell in zip(values, sheet[sheet.max_row], strict=False):
        if isinstance(value, str) and not isinstance(value, Formula) and cell.data_type == "f":
            cell.data_type = "s"
            cell.quotePrefix = True


def _bold_row(sheet: Worksheet, values: list[Any]) -> None:
    from openpyxl.styles import Font

    _append(sheet, values)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _money(sheet: Worksheet, first_row: int, first_col: int) -> None:
    for row in sheet.iter_rows(min_row=first_row, min_col=first_col):
        for cell in row:
            if isinstance(cell.value, (int, float)) or cell.data_type == "f":
                cell.number_format = MONEY


def summary_lines(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The executive summary as (label, sentence) rows, in the report's order and words."""
    summary = executive_summary(payload)
    rows = [("Headline", summary["headline"]), ("Design", summary["design"])]
    rows += [(label, text) for label, text in summary["facts"]]
    rows += [("Deciding assumption", text) for text in summary["deciding"]]
    rows += [("Risk" if payload.get("recommended") else "Why", text) for text in summary["risks"]]
    return rows


def _summary(sheet: Worksheet, payload: dict[str, Any]) -> None:
    best = payload.get("recommended") or {}
    finance = payload["scenario"].get("finance", {})
    sheet.title = "Summary"
    _bold_row(sheet, ["Scenario", payload["scenario"].get("name", "")])
    for label, text in summary_lines(payload):
        _append(sheet, [label, text])
    _append(sheet, [])
    _append(sheet, ["Recommended option", best.get("option", "none")])
    _append(sheet, ["Horizon, months", finance.get("horizon_months")])
    _append(sheet, ["Discount rate per year", finance.get("discount_rate_per_year")])
    _append(sheet, ["Currency", finance.get("currency", "USD")])
    for reason in best.get("reasons", []):
        _append(sheet, ["Reason", reason])
    _append(sheet, [])
    columns = ["option", "included", "npv_usd", "tco_usd", "capex_usd", "opex_usd"]
    columns += ["residual_value_usd", "usd_per_mtok", "excluded_reason"]
    header_row = sheet.max_row + 1
    _bold_row(sheet, columns)
    for option in payload["options"]:
        _append(sheet, [option.get(c) for c in columns])
    _money(sheet, header_row + 1, 3)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 90


def _inputs(sheet: Worksheet, payload: dict[str, Any]) -> None:
    _bold_row(sheet, ["field", "value"])
    for path, value in _flatten(payload["scenario"]):
        _append(sheet, [path, "" if value is None else value])
    sheet.column_dimensions["A"].width = 55
    sheet.column_dimensions["B"].width = 40


def _monthly(sheet: Worksheet, payload: dict[str, Any]) -> None:
    from openpyxl.utils import get_column_letter

    options = _included(payload)
    rate = payload["scenario"].get("finance", {}).get("discount_rate_per_year", 0.0) or 0.0
    _append(sheet, ["Discount rate per year", rate])
    _bold_row(sheet, ["month", "discount factor", *[o["option"] for o in options]])
    flows = [monthly_cash_flows(o) for o in options]
    first = 3
    for month in range(len(flows[0]) if flows else 0):
        row = first + month
        factor = Formula(f"=(1+$B$1)^(-A{row}/{MONTHS_PER_YEAR})")
        _append(sheet, [month, factor, *[f[month] for f in flows]])
    last = sheet.max_row
    totals: list[Any] = ["total (TCO)", ""]
    npvs: list[Any] = ["NPV", ""]
    for index in range(len(options)):
        col = get_column_letter(3 + index)
        totals.append(Formula(f"=SUM({col}{first}:{col}{last})"))
        npvs.append(Formula(f"=SUMPRODUCT($B${first}:$B${last},{col}{first}:{col}{last})"))
    _bold_row(sheet, totals)
    _bold_row(sheet, npvs)
    _bold_row(sheet, ["NPV in the plan", "", *[o["npv_usd"] for o in options]])
    _money(sheet, first, 3)


def _yearly(sheet: Worksheet, payload: dict[str, Any]) -> None:
    from openpyxl.utils import get_column_letter

    options = _included(payload)
    _bold_row(sheet, ["period", *[o["option"] for o in options]])
    years = [yearly_cash_flows(o) for o in options]
    for index, (label, _) in enumerate(years[0] if years else []):
        _append(sheet, [label, *[y[index][1] for y in years]])
    last = sheet.max_row
    columns = [get_column_letter(2 + i) for i in range(len(options))]
    _bold_row(sheet, ["total (TCO)", *[Formula(f"=SUM({c}2:{c}{last})") for c in columns]])
    _bold_row(sheet, ["TCO in the plan", *[o["tco_usd"] for o in options]])
    sheet.column_dimensions["A"].width = 18
    _money(sheet, 2, 2)


def _lines(sheet: Worksheet, payload: dict[str, Any]) -> None:
    from openpyxl.utils import get_column_letter

    options = _included(payload)
    names = sorted({line for o in options for line in o["lines_usd"]})
    _bold_row(sheet, ["cost line (undiscounted)", *[o["option"] for o in options]])
    for name in names:
        _append(sheet, [name, *[o["lines_usd"].get(name, 0.0) for o in options]])
    last = sheet.max_row
    columns = [get_column_letter(2 + i) for i in range(len(options))]
    _bold_row(sheet, ["total", *[Formula(f"=SUM({c}2:{c}{last})") for c in columns]])
    _lines_per_month(sheet, payload, names, options)
    sheet.column_dimensions["A"].width = 28
    _money(sheet, 2, 2)


def _lines_per_month(
    sheet: Worksheet, payload: dict[str, Any], names: list[str], options: list[dict[str, Any]]
) -> None:
    """Each cost line's average per month over the horizon (total / horizon months)."""
    horizon = payload["scenario"].get("finance", {}).get("horizon_months") or 0
    if not horizon:
        return
    _append(sheet, [])
    _bold_row(sheet, [f"average per month over {horizon} months", *[""] * len(options)])
    for name in names:
        _append(sheet, [name, *[o["lines_usd"].get(name, 0.0) / horizon for o in options]])


#: A report cell that is a plain number ("71,209", "27.21"): stored as a number whose
#: display format shows the same text, so finance can compute with it.
_NUMBER = re.compile(r"-?\d{1,3}(,\d{3})*(\.\d+)?")


def _cell(value: Cell) -> str | float:
    if not isinstance(value, str):
        return "\n".join(value)
    if _NUMBER.fullmatch(value):
        return float(value.replace(",", ""))
    return value


def _number_format(text: Cell) -> str:
    """The format that shows a number as the report's text does ("1,053", "27.21")."""
    decimals = len(text.rsplit(".", 1)[1]) if isinstance(text, str) and "." in text else 0
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _table(sheet: Worksheet, table: tuple[list[str], list[list[Cell]]], title: str = "") -> None:
    """One of the report's tables (:mod:`.content`), its text as in the report."""
    from openpyxl.styles import Alignment

    header, rows = table
    if title:
        _bold_row(sheet, [title])
    _bold_row(sheet, list(header))
    for row in rows:
        _append(sheet, [_cell(c) for c in row])
        for text, cell in zip(row, sheet[sheet.max_row], strict=False):
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, float):
                cell.number_format = _number_format(text)
    _append(sheet, [])


def _widths(sheet: Worksheet, widths: dict[str, int]) -> None:
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width


def _report_tables(book: Any, payload: dict[str, Any]) -> None:
    options = book.create_sheet("Options")
    _table(options, options_table(payload))
    _widths(options, {"A": 26, "F": 80, "K": 60})
    breakeven = book.create_sheet("Break-even")
    _table(breakeven, breakeven_table(payload))
    _widths(breakeven, {"A": 26, "B": 26, "C": 24, "D": 50})
    sensitivity = book.create_sheet("Sensitivity")
    _table(sensitivity, tornado_table(payload), "Tornado of the recommended option")
    _table(sensitivity, uncertainty_table(payload), "Monte Carlo")
    _widths(sensitivity, {"A": 48, "B": 16, "C": 16, "D": 16, "E": 16})
    assumptions = book.create_sheet("Assumptions")
    _table(assumptions, assumptions_table(payload))
    _widths(assumptions, {"A": 48, "B": 14, "C": 16, "D": 100})


def plan_workbook(payload: dict[str, Any]) -> bytes:
    """The .xlsx file of a plan payload."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None  # a new workbook has one sheet
    _summary(summary, payload)
    if payload["options"]:
        _report_tables(book, payload)
    for title, fill in (
        ("Inputs", _inputs),
        ("Yearly", _yearly),
        ("Monthly", _monthly),
        ("Lines", _lines),
    ):
        fill(book.create_sheet(title), payload)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
