"""How long `llmplan validate` takes on the development set (run on demand, not in CI).

Usage: python benchmarks/bench_validate.py [repeats]
Prints the wall time of reading + predicting + summarising all rows, and rows per second.
"""

from __future__ import annotations

import statistics
import sys
import time

from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.summary import validate


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    start = time.perf_counter()
    catalog = bundled_catalog()
    load_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = read_measurements(bundled_measurements_path())
        report = validate(rows, catalog)
        times.append(time.perf_counter() - t0)
    best, median = min(times), statistics.median(times)
    print(f"catalog load: {load_s:.3f} s")
    print(
        f"validate on {report.total_rows} rows ({len(report.results)} predicted): "
        f"best {best:.3f} s, median {median:.3f} s over {repeats} runs, "
        f"{report.total_rows / median:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
