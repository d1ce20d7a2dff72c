"""Paper sizes of the printed report (HTML printed from a browser, and the PDF).

The size goes into the report's CSS (``@page { size: A4 }``), which Chromium honours when
printing, so the HTML printed by hand and the PDF llmplan prints come out the same.
"""

from __future__ import annotations

from enum import StrEnum


class Paper(StrEnum):
    """ISO A4 (210 x 297 mm) or US Letter (8.5 x 11 in)."""

    A4 = "a4"
    LETTER = "letter"

    @property
    def css_size(self) -> str:
        """The CSS ``@page`` size keyword (CSS Paged Media Level 3, section 7.1)."""
        return "A4" if self is Paper.A4 else "letter"


DEFAULT_PAPER = Paper.A4
