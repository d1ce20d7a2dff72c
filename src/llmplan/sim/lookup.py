"""Fast evaluation of a :class:`~llmplan.sim.steptable.StepTimeTable` for whole counts.

This is the simulator's hot path (one call per simulated step or run), so it trades
memory for Python bytecodes: the table is re-interpolated once onto every whole number
of sequences (rows over the context and prompt grids, with each context cell's
intercept and slope), prompt-token counts up to :data:`MAX_PREFILL_CELLS` have their grid
cell precomputed, and planes are pre-multiplied by ``pp``. The numbers are exactly the
table's (same grids, same interpolation). With pipeline micro-batching the number of
micro-batches depends on the step, and the lookup defers to the table's general methods.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right

from llmplan.sim.steptable import StepTimeTable, locate

MAX_PREFILL_CELLS = 16384
"""Prompt-token counts per step whose grid cells are precomputed (beyond: the table)."""


def _row(
    plane: tuple[tuple[float, ...], ...], cell: tuple[int, float], scale: float
) -> list[float]:
    i, u = cell
    r0, r1 = plane[i], plane[i + 1]
    return [scale * (a + u * (b - a)) for a, b in zip(r0, r1, strict=True)]


def _inverse_gaps(grid: tuple[float, ...]) -> list[float]:
    return [1.0 / (b - a) for a, b in itertools.pairwise(grid)]


class StepLookup:
    """Round times of whole-number step shapes; see the module docstring."""

    __slots__ = (
        "attended",
        "attention",
        "context_slopes",
        "context_starts",
        "contexts",
        "general",
        "inv_attended_gap",
        "inv_ratio_gap",
        "last_attended",
        "last_context",
        "last_prefill",
        "last_ratio",
        "local_fraction",
        "per_prefill_seq",
        "prefill_cells",
        "prompt_rows",
        "ratios",
        "table",
        "window",
        "windowed",
    )

    def __init__(self, table: StepTimeTable) -> None:
        self.table = table
        self.general = table.micro_batching
        pp = float(table.pp)
        seqs = range(int(table.seqs_grid[-1]) + 1)
        contexts = table.context_grid
        self.contexts = contexts
        self.last_context = len(contexts) - 2
        rows = [_row(table.decode_s, locate(table.seqs_grid, n), pp) for n in seqs]
        gaps = [b - a for a, b in itertools.pairwise(contexts)]
        self.context_slopes = [
            [(r[j + 1] - r[j]) / gap for j, gap in enumerate(gaps)] for r in rows
        ]
        self.context_starts = [
            [r[j] - slope[j] * contexts[j] for j in range(len(gaps))]
            for r, slope in zip(rows, self.context_slopes, strict=True)
        ]
        self.prompt_rows = [_row(table.prompt_s, locate(table.mix_seqs_grid, n), pp) for n in seqs]
        top = int(min(table.prefill_grid[-1], MAX_PREFILL_CELLS))
        self.prefill_cells = [locate(table.prefill_grid, p) for p in range(top + 1)]
        self.attention = [[pp * x for x in row] for row in table.attention_s]
        self.ratios = table.context_ratio_grid
        self.attended = table.attended_grid
        self.last_ratio = len(self.ratios) - 2
        self.last_attended = len(self.attended) - 2
        self.inv_ratio_gap = _inverse_gaps(self.ratios)
        self.inv_attended_gap = _inverse_gaps(self.attended)
        self.last_prefill = len(self.prefill_cells) - 1
        self.windowed = table.local_fraction > 0
        self.per_prefill_seq = table.per_prefill_seq_s * pp
        self.window = table.window_tokens
        self.local_fraction = table.local_fraction

    def decode_line(self, seqs: int, context: float) -> tuple[float, float]:
        """As :meth:`StepTimeTable.decode_line`, for ``seqs`` up to the engine limit."""
        if self.general:
            return self.table.decode_line(seqs, context)
        j = bisect_right(self.contexts, context) - 1
        if j > self.last_context:
            j = self.last_context
        return self.context_starts[seqs][j], self.context_slopes[seqs][j]

    def mixed(
        self, seqs: int, context: float, prefill_tokens: int, prefill_seqs: int, attended: float
    ) -> float:
        """As :meth:`StepTimeTable.step` with ``prefill_tokens`` >= 1."""
        if self.general or prefill_tokens > self.last_prefill:
            return self.table.step(seqs, context, prefill_tokens, prefill_seqs, attended)
        j = bisect_right(self.contexts, context) - 1
        if j > self.last_context:
            j = self.last_context
        total = self.context_starts[seqs][j] + self.context_slopes[seqs][j] * context
        j, v = self.prefill_cells[prefill_tokens]
        row = self.prompt_rows[seqs]
        x = row[j]
        total += x + v * (row[j + 1] - x)
        if self.windowed:
            window = self.window
            if context > window:
                context -= self.local_fraction * (context - window)
            if attended > window:
                attended -= self.local_fraction * (attended - window)
        ratio = seqs * context / prefill_tokens
        grid = self.ratios
        i = bisect_right(grid, ratio) - 1
        if i > self.last_ratio:
            i = self.last_ratio
        u = (ratio - grid[i]) * self.inv_ratio_gap[i]
        grid = self.attended
        j = bisect_right(grid, attended) - 1
        if j > self.last_attended:
            j = self.last_attended
        v = (attended - grid[j]) * self.inv_attended_gap[j]
        row = self.attention[i]
        x = row[j]
        x += v * (row[j + 1] - x)
        row = self.attention[i + 1]
        y = row[j]
        total += prefill_tokens * (x + u * (y + v * (row[j + 1] - y) - x))
        if prefill_seqs > 1:
            total += (prefill_seqs - 1) * self.per_prefill_seq
        return total
