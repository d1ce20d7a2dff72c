"""Parsers for published price catalogs: gpuhunt's cloud CSVs and LiteLLM's token prices.

Both are pure functions of the text they are given (no file or network access): they return
:class:`ImportedPrices`, the validated records plus counted skip reasons and warnings (as
strings, never printed). A malformed file raises one :class:`~llmplan.errors.InputError`
naming the file, line and field; with ``strict=False`` a malformed row or entry is skipped
and counted instead (a bad header or an unreadable file still raises). The formats are
described in :mod:`llmplan.prices.gpuhunt` and :mod:`llmplan.prices.litellm`; reading files,
downloading and saving are in :mod:`llmplan.prices.user`.
"""

from llmplan.prices.gpuhunt import (
    GPUHUNT_COLUMNS,
    MEMORY_TOLERANCE,
    match_gpu_name,
    parse_gpuhunt_csv,
)
from llmplan.prices.imported import ImportedPrices
from llmplan.prices.litellm import CHAT_MODES, parse_litellm_json

__all__ = [
    "CHAT_MODES",
    "GPUHUNT_COLUMNS",
    "MEMORY_TOLERANCE",
    "ImportedPrices",
    "match_gpu_name",
    "parse_gpuhunt_csv",
    "parse_litellm_json",
]
