"""Regenerate the field reference in docs/scenario.md from the scenario schema.

    python3 scripts/gen_scenario_docs.py          # rewrite the generated part
    python3 scripts/gen_scenario_docs.py --check  # exit 1 if it is out of date

Only the text between the BEGIN/END markers is replaced; the prose around it is kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llmplan.scenario.docs import render_reference, replace_generated

DOC = Path(__file__).resolve().parent.parent / "docs" / "scenario.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = replace_generated(current, render_reference())
    if current == wanted:
        print(f"{DOC}: up to date")
        return 0
    if args.check:
        print(f"{DOC}: out of date; run python3 scripts/gen_scenario_docs.py", file=sys.stderr)
        return 1
    DOC.write_text(wanted, encoding="utf-8")
    print(f"{DOC}: rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
