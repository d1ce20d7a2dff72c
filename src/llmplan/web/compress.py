"""Compressed responses, so the page loads quickly over a slow link.

Every response of at least :data:`GZIP_MIN_BYTES` goes out gzipped to a client that accepts
it (Starlette's ``GZipMiddleware``), except those already compressed (PDF, XLSX, which is a
zip) and event streams. plotly.js (4.8 MB, the bulk of a cold load) is compressed once per
process at the highest level and then served as is, instead of on every request.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from llmplan.report.xlsx import XLSX_MEDIA_TYPE

#: Smaller responses are sent as they are (a gzip header and a round of CPU for a few
#: bytes saved); 1 KB is about one TCP segment's payload.
GZIP_MIN_BYTES = 1000
#: zlib level for responses compressed per request (6: zlib's default balance of speed
#: and size); plotly.js, compressed once, takes the smallest output (9).
GZIP_LEVEL = 6
NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf", XLSX_MEDIA_TYPE)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (RFC 9110 section 12.5.3: a
    coding with ``q=0`` is refused; ``*`` stands for any coding not named)."""
    named: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding:
            named[coding.strip()] = quality
    quality = named.get("gzip", named.get("x-gzip", named.get("*", 0.0)))
    return quality > 0


@functools.cache
def _gzipped(path: Path, mtime_ns: int, size: int) -> bytes:
    del mtime_ns, size  # the cache key: a changed file is compressed again
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


def gzipped_file(path: Path) -> bytes:
    """``path``'s content gzipped (computed once per version of the file)."""
    stat = path.stat()
    return _gzipped(path, stat.st_mtime_ns, stat.st_size)


def install_compression(app: FastAPI) -> None:
    """Gzip ``app``'s large responses for clients that accept it."""
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MIN_BYTES,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=NOT_COMPRESSED,
    )
