"""Plausibility checks on imported prices, and a collector for the warnings they raise.

The limits are declared once here. They flag values worth a look, they do not reject them
(except the unit-confusion check, whose values cannot be per-token prices): a $0.03 spot
GPU-hour or a $1,200/M-token model may be real, and the user decides.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MIN_USD_PER_GPU_HOUR = 0.05
"""Below this a GPU-hour price is probably a unit or parsing slip (cents, per-minute)."""

MAX_USD_PER_GPU_HOUR = 30.0
"""Above this per GPU-hour (B300 on-demand is ~$18) a price is probably per instance."""

MAX_API_USD_PER_MTOK = 1000.0
"""Above this per million tokens an API price is implausible (the dearest list ~$600)."""

UNIT_CONFUSION_USD_PER_TOKEN = 0.01
"""A "per-token" price at or above $0.01 ($10,000 per million) is a per-million price."""

WARNINGS_SHOWN_PER_KIND = 10
"""Warnings of one kind listed one by one; the rest are counted in a summary line."""


def gpu_hour_warning(usd_per_gpu_hour: float) -> str | None:
    """Why ``usd_per_gpu_hour`` looks wrong, or None when it is plausible."""
    if usd_per_gpu_hour < MIN_USD_PER_GPU_HOUR:
        return (
            f"${usd_per_gpu_hour:.4g} per GPU-hour is below ${MIN_USD_PER_GPU_HOUR}; "
            "check the units"
        )
    if usd_per_gpu_hour > MAX_USD_PER_GPU_HOUR:
        return (
            f"${usd_per_gpu_hour:,.2f} per GPU-hour is above ${MAX_USD_PER_GPU_HOUR:g}; "
            "is it per instance?"
        )
    return None


def token_price_warning(usd_per_mtok: float) -> str | None:
    """Why a price per million tokens looks wrong, or None when it is plausible."""
    if usd_per_mtok > MAX_API_USD_PER_MTOK:
        return f"${usd_per_mtok:,.2f} per million tokens is above ${MAX_API_USD_PER_MTOK:,.0f}"
    return None


def looks_per_million(usd_per_token: float) -> bool:
    """True when a value given as dollars per token must be dollars per million tokens."""
    return usd_per_token >= UNIT_CONFUSION_USD_PER_TOKEN


@dataclass
class WarningLog:
    """Warnings and skip reasons gathered while importing one file (a per-run object)."""

    shown_per_kind: int = WARNINGS_SHOWN_PER_KIND
    messages: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    _per_kind: Counter[str] = field(default_factory=Counter)

    def warn(self, kind: str, message: str) -> None:
        """Record ``message``; past ``shown_per_kind`` of one kind only count it."""
        self._per_kind[kind] += 1
        if self._per_kind[kind] <= self.shown_per_kind:
            self.messages.append(message)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def summary(self) -> tuple[str, ...]:
        """The warnings, with one line per kind for those not listed."""
        hidden = [
            f"... and {count - self.shown_per_kind} more '{kind}' warnings"
            for kind, count in sorted(self._per_kind.items())
            if count > self.shown_per_kind
        ]
        return (*self.messages, *hidden)
