"""Start-up cost of the command line: import time of `llmplan --help` and `llmplan memory`.

Usage: python benchmarks/bench_startup.py [repeats] [--write benchmarks/startup-results.md]

Runs each command ``repeats`` times (default 5) in a fresh interpreter under
``python -X importtime`` and sums the cumulative time of the top-level imports (what the
interpreter spends importing modules before and while the command runs; the interpreter's
own start-up is not included). Prints the median and the minimum per command, and the
heavy libraries (SciPy, plotly, SQLAlchemy, FastAPI, pandas, Jinja2) the command loaded.
The target of issue 14 is under 0.3 s; the machine is shared, so the minimum is the
figure least disturbed by other work. Run on demand; nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "llmplan --help": ["--help"],
    "llmplan memory": [
        "memory", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "H100", "--tp", "2",
        "--precision", "fp8", "--context", "8192", "--batch", "16",
    ],
    "llmplan perf": [
        "perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--batch", "1",
    ],
}
HEAVY = ("scipy", "plotly", "sqlalchemy", "fastapi", "pandas", "jinja2")
LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)")
RUN = "from llmplan.cli.main import app\ntry:\n    app()\nfinally:\n    import sys\n" \
    "    sys.stderr.write('HEAVY ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"


def import_seconds(args: list[str]) -> tuple[float, set[str]]:
    """Summed top-level cumulative import time (s) of one run, and the heavy modules seen."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN, *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"}, check=False,
    )
    total_us = 0
    for match in LINE.finditer(proc.stderr):
        if not match.group(2):  # no indent: a top-level import
            total_us += int(match.group(1))
    loaded = set(proc.stderr.rsplit("HEAVY ", 1)[-1].split()) if "HEAVY " in proc.stderr else set()
    return total_us / 1e6, loaded & set(HEAVY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repeats", nargs="?", type=int, default=5)
    parser.add_argument("--write", type=Path, help="Append the results table to this file.")
    args = parser.parse_args()
    rows = []
    for name, argv in COMMANDS.items():
        runs = [import_seconds(argv) for _ in range(args.repeats)]
        times = [t for t, _ in runs]
        heavy = sorted(set().union(*(h for _, h in runs)))
        rows.append(
            f"| `{name}` | {statistics.median(times):.3f} | {min(times):.3f} | "
            f"{', '.join(heavy) or 'none'} |"
        )
    header = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}, "
        f"{args.repeats} runs each, load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores",
        "",
        "| command | import s (median) | import s (min) | heavy libraries loaded |",
        "| --- | --- | --- | --- |",
    ]
    text = "\n".join([*header, *rows]) + "\n"
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
