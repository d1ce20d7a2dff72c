"""Start-up cost of the command line: import time of `llmplan --help` and `llmplan memory`.

Usage: python benchmarks/bench_startup.py [repeats] [--write benchmarks/startup-results.md]

Runs each command ``repeats`` times (default 5) in a fresh interpreter under
``python -X importtime`` and sums the cumulative time of the top-level imports (what the
interpreter spends importing modules before and while the command runs; the interpreter's
own start-up is not included). Prints the median and the minimum per command, the median
CPU time of the whole process (user + system: interpreter, imports and the command; far
less disturbed by other jobs on a busy machine than the wall-clock import time), and the
heavy libraries (SciPy, plotly, SQLAlchemy, FastAPI, pandas, Jinja2, Ray, PyArrow, NumPy)
the command loaded. The first row imports the CLI and runs nothing; the last, ``python -c
pass``, is what the interpreter imports by itself (``site``, ``encodings``, ...), included in
every other row. The target of issue 14 is under 0.3 s; the machine is shared, so the
minimum is the figure least disturbed by other work. Run on demand; nothing here passes or
fails on time.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

COMMANDS: dict[str, list[str] | None] = {
    "import llmplan.cli.main": None,
    "llmplan --help": ["--help"],
    "llmplan memory": [
        "memory", "--model", "meta-llama/Llama-3.1-70B", "--gpu", "H100", "--tp", "2",
        "--precision", "fp8", "--context", "8192", "--batch", "16",
    ],
    "llmplan memory (8B, H100)": ["memory", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100"],
    "llmplan perf": [
        "perf", "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--batch", "1",
    ],
    "llmplan deploy --help": ["deploy", "--help"],
    "llmplan sweep --help": ["sweep", "--help"],
}
HEAVY = ("scipy", "plotly", "sqlalchemy", "fastapi", "pandas", "jinja2", "ray", "pyarrow", "numpy")
LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)")
REPORT = (
    "import sys\n"
    "sys.stderr.write('HEAVY ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
)
RUN = "from llmplan.cli.main import app\ntry:\n    app()\nfinally:\n" + "".join(
    "    " + line + "\n" for line in REPORT.splitlines()
)
IMPORT_ONLY = "from llmplan.cli.main import app\n" + REPORT
BASELINE = "python -c pass"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_seconds(
    args: list[str] | None, code: str | None = None
) -> tuple[float, float, set[str]]:
    """Summed top-level cumulative import time (s) of one run, the whole process's CPU
    time (s; user + system, interpreter start-up and the command included, far less
    disturbed by other jobs than the wall-clock import time), and the heavy modules seen.

    ``args`` None: only import the CLI; ``code`` replaces the program run."""
    program = code if code is not None else (IMPORT_ONLY if args is None else RUN)
    cpu_before = _children_cpu_s()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", program, *(args or [])],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"}, check=False,
    )
    total_us = 0
    for match in LINE.finditer(proc.stderr):
        if not match.group(2):  # no indent: a top-level import
            total_us += int(match.group(1))
    loaded = set(proc.stderr.rsplit("HEAVY ", 1)[-1].split()) if "HEAVY " in proc.stderr else set()
    return total_us / 1e6, _children_cpu_s() - cpu_before, loaded & set(HEAVY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repeats", nargs="?", type=int, default=5)
    parser.add_argument("--write", type=Path, help="Append the results table to this file.")
    args = parser.parse_args()
    rows = []
    cases: list[tuple[str, list[str] | None, str | None]] = [
        (name, argv, None) for name, argv in COMMANDS.items()
    ]
    cases.append((BASELINE, None, "pass\n" + REPORT))
    for name, argv, code in cases:
        runs = [import_seconds(argv, code) for _ in range(args.repeats)]
        times = [t for t, _, _ in runs]
        cpu = [c for _, c, _ in runs]
        heavy = sorted(set().union(*(h for _, _, h in runs)))
        rows.append(
            f"| `{name}` | {statistics.median(times):.3f} | {min(times):.3f} | "
            f"{statistics.median(cpu):.2f} | {', '.join(heavy) or 'none'} |"
        )
    header = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {sys.version.split()[0]}, "
        f"{args.repeats} runs each, load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores",
        "",
        "| command | import s (median) | import s (min) | process CPU s (median) "
        "| heavy libraries loaded |",
        "| --- | --- | --- | --- | --- |",
    ]
    text = "\n".join([*header, *rows]) + "\n"
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
