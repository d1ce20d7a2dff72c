"""Regenerate the prediction-interval table from leave-one-source-out cross-validation.

Usage: python scripts/fit_intervals.py [--workers N] [--min-rows N] [--min-sources N] [--out PATH]

Runs ``llmplan.validation.crossval`` on the bundled development set with the current
performance model and engine profiles (a few minutes; ``--workers 2`` halves it on two
cores), builds the table of residual quantiles per cell (``llmplan.validation.interval_fit``)
and writes ``src/llmplan/data/intervals.yaml`` with the dataset's sha256, the code version,
the date, the minimum rows per cell and each cell's row count. Rerun it whenever the
performance model, the engine profiles or the development set change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

from llmplan.catalog.loader import bundled_catalog
from llmplan.files import write_text_atomic
from llmplan.validation.crossval import cross_validate
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.interval_fit import MIN_ROWS, MIN_SOURCES, build_table, summarise

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "llmplan" / "data" / "intervals.yaml"
HEADER = (
    "# Prediction intervals of llmplan's performance model: written by\n"
    "# `python scripts/fit_intervals.py` (do not edit by hand; rerun it after changing the\n"
    "# performance model, the engine profiles or the development set). Each cell holds the\n"
    "# 10th/90th percentiles of held-out log(predicted / measured) and its row count;\n"
    "# '*' = any (coarser cells used when a finer one has fewer than min_rows rows or\n"
    "# min_sources sources).\n"
)


def code_version() -> str:
    """``git describe`` of the checkout, or the package version outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return f"git {done.stdout.strip()}"
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version

        return f"llmplan {version('llmplan')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--min-rows", type=int, default=MIN_ROWS, help="rows per cell")
    parser.add_argument("--min-sources", type=int, default=MIN_SOURCES, help="sources per cell")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the table")
    args = parser.parse_args()
    path = bundled_measurements_path()
    rows = read_measurements(path)

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} fits", end="", file=sys.stderr, flush=True)

    cv = cross_validate(rows, bundled_catalog(), workers=args.workers, progress=progress)
    print(file=sys.stderr)
    table = build_table(
        cv,
        dataset_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        code_version=code_version(),
        created=dt.date.today(),
        min_rows=args.min_rows,
        min_sources=args.min_sources,
    )
    body = yaml.safe_dump(table.model_dump(mode="json"), sort_keys=False)
    write_text_atomic(args.out, HEADER + body)
    summary = summarise(cv, args.min_rows, args.min_sources)
    for family, stats in summary.families.items():
        print(f"{family:>10}: n={stats.n:5d} held-out median APE {stats.median_ape:.3f}")
    print(f"held-out interval coverage: {summary.interval_coverage}")
    print(f"{len(table.cells)} cells written to {args.out}")


if __name__ == "__main__":
    main()
