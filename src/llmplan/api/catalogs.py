"""The catalogs and prices a server uses, reread when the user's own files change.

``llmplan models import`` and ``llmplan prices import`` write under ``$LLMPLAN_HOME``
while a server may be running: :class:`CatalogCache` compares the names, sizes and
modification times of those files on each request (a few ``stat`` calls) and reloads
only when they differ.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from llmplan.catalog.loader import Catalog, load_catalog
from llmplan.prices.book import PriceBook
from llmplan.prices.loader import load_prices

USER_FOLDERS = ("models", "prices")
Fingerprint = tuple[tuple[str, int, int], ...]
T = TypeVar("T")


def fingerprint(home: Path) -> Fingerprint:
    """(path, size, mtime) of every YAML file the user's catalogs are read from."""
    found: list[tuple[str, int, int]] = []
    for folder in USER_FOLDERS:
        directory = home / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix in (".yaml", ".yml"):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class CatalogCache:
    """Catalog and price book for ``home``, loaded on first use and on change."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._catalog: tuple[Fingerprint, Catalog] | None = None
        self._prices: tuple[Fingerprint, PriceBook] | None = None

    def _fresh(self, entry: tuple[Fingerprint, T] | None) -> T | None:
        if entry is not None and entry[0] == fingerprint(self.home):
            return entry[1]
        return None

    async def current_catalog(self) -> Catalog:
        """:meth:`catalog` for async code: a reload runs in a worker thread."""
        fresh = self._fresh(self._catalog)
        return fresh if fresh is not None else await run_in_threadpool(self.catalog)

    async def current_prices(self) -> PriceBook:
        """:meth:`prices` for async code: a reload runs in a worker thread."""
        fresh = self._fresh(self._prices)
        return fresh if fresh is not None else await run_in_threadpool(self.prices)

    def catalog(self) -> Catalog:
        key = fingerprint(self.home)
        with self._lock:
            if self._catalog is None or self._catalog[0] != key:
                self._catalog = (key, load_catalog(self.home))
            return self._catalog[1]

    def prices(self) -> PriceBook:
        key = fingerprint(self.home)
        with self._lock:
            if self._prices is None or self._prices[0] != key:
                self._prices = (key, load_prices(self.home))
            return self._prices[1]
