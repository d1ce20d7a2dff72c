"""A plan as a spreadsheet, so a finance team can check the arithmetic.

Sheets: ``Summary`` (the decision and every option), ``Inputs`` (every scenario field, one
row each), ``Monthly`` (each included option's net cash flow per month, the discount factor
and the NPV as spreadsheet formulas next to the plan's own figure), ``Yearly`` (the same
cash flows summed per year, with totals as formulas) and ``Lines`` (undiscounted totals
per cost line). Works from the plan payload (what ``llmplan plan --json`` prints).

openpyxl is imported when a workbook is built (the ``web`` extra), never at import time.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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


def _summary(sheet: Worksheet, payload: dict[str, Any]) -> None:
    best = payload.get("recommended") or {}
    finance = payload["scenario"].get("finance", {})
    sheet.title = "Summary"
    _bold_row(sheet, ["Scenario", payload["scenario"].get("name", "")])
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
    sheet.column_dimensions["B"].width = 40


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
    sheet.column_dimensions["A"].width = 28
    _money(sheet, 2, 2)


def plan_workbook(payload: dict[str, Any]) -> bytes:
    """The .xlsx file of a plan payload."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None  # a new workbook has one sheet
    _summary(summary, payload)
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
