"""The one JSON serializer of results: what ``--json`` prints and the REST API answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Decimal places kept in floats.
DIGITS = 6


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None and floats rounded to :data:`DIGITS`."""
    if isinstance(value, float):
        return round(value, DIGITS) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def clean(payload: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`jsonable` of a mapping."""
    return {str(k): jsonable(v) for k, v in payload.items()}
