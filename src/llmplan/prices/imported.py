"""What an import produced, shared by the catalog parsers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from llmplan.errors import LlmplanError
from llmplan.prices.loader import PriceEntries


@dataclass(frozen=True)
class ImportedPrices:
    """What one import produced: records, rows read, skip reasons and warnings."""

    source: str
    entries: PriceEntries
    rows_read: int
    skipped: Mapping[str, int]
    warnings: tuple[str, ...]

    @property
    def imported(self) -> int:
        return len(self.entries)


class RowError(LlmplanError):
    """A malformed value in one row or entry (turned into InputError or a skip)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:  # the message alone, as before it joined the tree
        return self.message
