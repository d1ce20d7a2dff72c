"""Names in words with units, and numbers formatted for people, shared by the HTML report
and the web page (both read ``llmplan/report/templates/labels.json``; the page gets it at
``/web/labels.json``).

``on_premise`` -> "On-premise"; ``staff_usd_per_fte_year`` -> "Staff cost per FTE,
USD/year"; 612196.4 -> "612,196 USD". A name the file does not know is spelt out from its
parts (``foo_usd_per_month`` -> "Foo, USD/month"), never shown raw.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

#: Unit suffixes of field names, longest first, and how they read.
_UNITS = (
    ("_usd_per_kw_month", ", USD per kW per month"),
    ("_usd_per_fte_year", ", USD/year per FTE"),
    ("_usd_per_month", ", USD/month"),
    ("_usd_per_year", ", USD/year"),
    ("_usd_per_kwh", ", USD/kWh"),
    ("_per_usd", ", per USD"),
    ("_per_year", ", per year"),
    ("_months", ", months"),
    ("_years", ", years"),
    ("_usd", ", USD"),
    ("_kw", ", kW"),
    ("_ms", ", ms"),
    ("_s", ", s"),
)


@functools.cache
def labels() -> dict[str, Any]:
    """The labels file (options, cost lines, fields, colours)."""
    path = resources.files("llmplan").joinpath("report", "templates", "labels.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _spelt(name: str) -> str:
    for suffix, words in _UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return _spelt(name[: -len(suffix)]) + words
    text = re.sub(r"_+", " ", name).strip()
    return text[:1].upper() + text[1:]


def option_name(option: str) -> str:
    """``cloud_reserved_1y`` -> "Cloud, reserved 1 year"."""
    return str(labels()["options"].get(option) or _spelt(option))


def line_name(line: str) -> str:
    """A cost line in words (``api_tokens`` -> "API tokens")."""
    return str(labels()["lines"].get(line) or _spelt(line))


def field_name(field: str) -> str:
    """An assumption in words with its unit."""
    known = labels()["fields"].get(field.rsplit(".", 1)[-1])
    return str(known[0]) if known else _spelt(field.rsplit(".", 1)[-1])


def field_value(field: str, value: Any) -> str:
    """An assumption's value as people write it: 0.08 a year -> "8 %", 150000 -> "150,000"."""
    known = labels()["fields"].get(field.rsplit(".", 1)[-1])
    kind = known[1] if known else "number"
    if value is None:
        return "not set"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "yes" if value is True else "no" if value is False else str(value)
    if kind == "percent":
        return f"{value * 100:,.3g} %"
    if kind == "multiple":
        return f"{value:,.3g} x"
    if kind == "usd_rate":
        digits = 0 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if kind == "ratio":
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4g}"


def field_unit(field: str) -> str:
    """An assumption's unit: from its name's suffix (``_usd_per_kwh`` -> "USD/kWh"), "%"
    for a share (shown x100), "x" for a multiple, "-" for a number without one."""
    name = field.rsplit(".", 1)[-1]
    suffix = next(
        (words.removeprefix(", ") for end, words in _UNITS if name.endswith(end) and name != end),
        "",
    )
    known = labels()["fields"].get(name)
    kind = known[1] if known else ""
    if kind == "percent":
        return f"% {suffix}" if suffix else "%"
    if kind == "multiple":
        return "x"
    return suffix or "-"


MW_FROM_KW = 1000.0
"""Power of 1,000 kW and more reads in MW."""


def power_text(kw: float) -> str:
    """4.24 -> "4.2 kW"; 12345 -> "12.35 MW" (power at the wall of a site)."""
    if abs(kw) >= MW_FROM_KW:
        return f"{kw / 1000:,.2f} MW"
    return f"{kw:,.1f} kW"


def money(value: float | None, currency: str = "USD") -> str:
    """612196.4 -> "612,196 USD" (whole units; "-" for None)."""
    if value is None:
        return "-"
    return f"{value:,.0f} {currency}"


def option_order(options: list[str]) -> list[str]:
    """``options`` in the one order every table and chart uses."""
    order = labels()["option_order"]
    return sorted(options, key=lambda o: (order.index(o) if o in order else len(order), o))


def option_colour(option: str) -> str:
    return str(labels()["option_colours"].get(option, "#555555"))


def line_colour(line: str) -> str:
    return str(labels()["line_colours"].get(line, "#555555"))
