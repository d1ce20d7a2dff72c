"""Leave-one-source-out cross-validation of the calibrated performance model.

Usage: python benchmarks/cross_validation.py [--workers N]

A thin caller of :mod:`llmplan.validation.crossval` (also ``llmplan validate --cv``): for
every source of the development set, the engine profiles are refitted on the rows of all
*other* sources (from the priors in ``llmplan.calibration``) and the held-out source's rows
are predicted with them. Prints the held-out median APE per metric family and per engine,
and the coverage of the 80 % intervals built without each row's source. Takes minutes.
"""

from __future__ import annotations

import argparse
import time

from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.crossval import cross_validate
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.interval_fit import summarise


def main() -> None:
    parser = argparse.ArgumentParser(description="Leave-one-source-out cross-validation")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = read_measurements(bundled_measurements_path())
    cv = cross_validate(rows, bundled_catalog(), workers=args.workers)
    summary = summarise(cv)
    elapsed = time.perf_counter() - start
    print(f"{summary.sources} sources held out in turn, {summary.predicted} of {summary.rows} rows")
    for name, groups in (("family", summary.families), ("engine", summary.engines)):
        for key, stats in groups.items():
            print(
                f"{name} {key:>12}: n={stats.n:5d} median APE {stats.median_ape:.3f} "
                f"within 25% {stats.within_25pct:.2f}"
            )
    print(f"80 % interval coverage on held-out rows: {summary.interval_coverage}")
    print(f"{elapsed:.0f} s with {args.workers} worker(s)")


if __name__ == "__main__":
    main()
