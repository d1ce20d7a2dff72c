"""What a sweep varies: ``KEY=V1,V2,...`` choices and ``KEY=LO..HI`` ranges over dotted
scenario keys, expanded into a grid or drawn as seeded random samples."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from llmplan.errors import InputError

MAX_POINTS = 100_000
"""Most points one sweep may have (grid size or ``--samples``)."""

_RANGE = re.compile(r"^\s*(-?[0-9.eE+-]+)\s*\.\.\s*(-?[0-9.eE+-]+)\s*$")

Point = dict[str, Any]
"""One point of a sweep: dotted key -> value."""


@dataclass(frozen=True)
class Vary:
    """One varied key: a list of ``choices``, or a numeric range ``low``..``high``
    (integers when both ends are written as integers)."""

    key: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def draw(self, rng: np.random.Generator) -> Any:
        """A value drawn uniformly from the choices or the range."""
        if self.low is not None and self.high is not None:
            if self.integer:
                return int(rng.integers(int(self.low), int(self.high) + 1))
            return float(rng.uniform(self.low, self.high))
        return self.choices[int(rng.integers(len(self.choices)))]


def _scalar(text: str) -> Any:
    """A value as YAML reads it (``0.12`` a float, ``true`` a bool, ``H100`` a string)."""
    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


def parse_vary(spec: str) -> Vary:
    """``KEY=V1,V2,...`` or ``KEY=LO..HI``; raises InputError naming ``vary``."""
    key, sep, values = spec.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise InputError(
            f"'{spec}' is not KEY=V1,V2,... or KEY=LO..HI "
            "(e.g. finance.electricity_usd_per_kwh=0.08,0.12,0.2)",
            field="vary",
        )
    if not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", key):
        raise InputError(f"'{key}' is not a dotted scenario key", field="vary")
    found = _RANGE.match(values)
    if found:
        low_text, high_text = found.groups()
        low, high = float(low_text), float(high_text)
        if not low < high:
            raise InputError(f"{key}: the range {values} must rise (LO < HI)", field="vary")
        integer = all(re.fullmatch(r"-?[0-9]+", t) for t in (low_text, high_text))
        return Vary(key, low=low, high=high, integer=integer)
    choices = tuple(_scalar(v.strip()) for v in values.split(","))
    return Vary(key, choices=choices)


def sweep_points(varies: Sequence[Vary], samples: int | None, seed: int) -> list[Point]:
    """The full grid of ``varies`` (choices only), or ``samples`` seeded random points."""
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise InputError("each key may be varied once", field="vary")
    if samples is None:
        ranged = [v.key for v in varies if v.is_range]
        if ranged:
            raise InputError(
                f"{ranged[0]}: a LO..HI range needs --samples N (a grid takes listed values)",
                field="vary",
            )
        size = int(np.prod([len(v.choices) for v in varies])) if varies else 1
        if size > MAX_POINTS:
            raise InputError(f"the grid has {size:,} points; at most {MAX_POINTS:,}", field="vary")
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(v.choices for v in varies))
        ]
    if not 1 <= samples <= MAX_POINTS:
        raise InputError(f"must be between 1 and {MAX_POINTS:,}, got {samples}", field="samples")
    rng = np.random.default_rng(seed)
    return [{v.key: v.draw(rng) for v in varies} for _ in range(samples)]


def apply_point(data: Mapping[str, Any], point: Point) -> dict[str, Any]:
    """A deep copy of scenario ``data`` with each dotted key of ``point`` set.

    A segment is a mapping key, a list index, or the ``name`` of an element of a list of
    named entries (``workloads.chat.requests_per_day``)."""
    result = copy.deepcopy(dict(data))
    for key, value in point.items():
        _set(result, key, value)
    return result


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            index = _list_index(node, part, where)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif part in node and node[part] is not None:
                node = node[part]
            else:
                node[part] = {}
                node = node[part]
        else:
            raise InputError(f"{where}: cannot go inside a {type(node).__name__}", field="vary")


def _list_index(items: list[Any], part: str, where: str) -> int:
    if part.isdigit() and int(part) < len(items):
        return int(part)
    names = [item.get("name") for item in items if isinstance(item, dict)]
    if part in names:
        return names.index(part)
    allowed = ", ".join(str(n) for n in names if n) or f"0..{len(items) - 1}"
    raise InputError(f"{where}: no element '{part}' (allowed: {allowed})", field="vary")


def point_label(point: Point) -> str:
    """A stable text key of ``point`` (for resuming)."""
    return ";".join(f"{k}={point[k]!r}" for k in sorted(point))
