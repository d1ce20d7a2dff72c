"""How long `llmplan plan` takes on every bundled example (run on demand, not in CI).

Usage: python benchmarks/bench_plan.py [repeats]
Prints, per example, the time of the design search (sizing every GPU x precision x engine
x tensor-parallel design against the SLOs), of the whole plan (search, costing of every
option, tornado and 300 Monte Carlo draws), and designs evaluated per second.
"""

from __future__ import annotations

import statistics
import sys
import time

from llmplan.catalog.loader import bundled_catalog
from llmplan.plan.planner import make_plan
from llmplan.prices.loader import bundled_prices
from llmplan.scenario import bundled_examples, load_example


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    catalog, prices = bundled_catalog(), bundled_prices()
    total_designs, total_search = 0, 0.0
    for name in sorted(bundled_examples()):
        scenario = load_example(name)
        walls, searches = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            plan = make_plan(scenario, catalog, prices)
            walls.append(time.perf_counter() - start)
            searches.append(plan.search_seconds)
        search = statistics.median(searches)
        total_designs += plan.candidates_evaluated
        total_search += search
        print(
            f"{name:28s} designs {plan.candidates_evaluated:3d}  search {search:.3f} s  "
            f"whole plan {statistics.median(walls):.3f} s  "
            f"{plan.candidates_evaluated / search:,.0f} designs/s"
        )
    print(
        f"all examples: {total_designs} designs in {total_search:.3f} s of search, "
        f"{total_designs / total_search:,.0f} designs/s"
    )


if __name__ == "__main__":
    main()
