"""Line diff of two texts (difflib): every line marked same, added or removed, with its
line number in each text, and the unified diff (``diff -u``) of the same two texts."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT_LINES = 3


@dataclass(frozen=True)
class DiffLine:
    """``kind`` is same, added or removed; line numbers count from 1 (None: absent)."""

    kind: str
    text: str
    from_line: int | None
    to_line: int | None


def line_diff(old: str, new: str) -> list[DiffLine]:
    """Every line of ``old`` and ``new`` in order: kept lines once, changes as removed+added."""
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out += [
                DiffLine("same", a[i], i + 1, j + 1)
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        out += [DiffLine("removed", a[i], i + 1, None) for i in range(i1, i2)]
        out += [DiffLine("added", b[j], None, j + 1) for j in range(j1, j2)]
    return out


def unified(old: str, new: str, old_name: str, new_name: str) -> str:
    """The unified diff of ``old`` and ``new`` ('' when their lines are equal)."""
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), old_name, new_name, n=CONTEXT_LINES, lineterm=""
        )
    )
    return "".join(f"{line}\n" for line in lines)
