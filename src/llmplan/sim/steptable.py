"""Step times of one replica, tabulated once so the simulator never calls the roofline.

The simulator needs the time of every engine step it simulates (hundreds of thousands per
second of wall time) and :func:`llmplan.perf.step.step_time` costs ~15 us a call, so
:func:`build_step_table` evaluates it on grids (~2,000 calls, ~30 ms) and the simulator
interpolates. A step of one pipeline stage is split the way the roofline splits it:

``stage(n, c, P, s, x) = decode(n, c) + prompt(n, P) + P * attention(n * c' / P, x')
+ (s - 1) * per_prefill_seq``

- ``decode(n, c)``: ``n`` sequences each generating one token at mean context ``c``;
  bilinear on every ``n`` up to :data:`EXACT_SEQS` then ``n`` growing by
  :data:`SEQS_GRID_RATIO`, times contexts doubling from 16 tokens to the longest context
  (plus a knot at a sliding window). The roofline is linear in the context between knots,
  so a run of decode steps whose context grows a token a step has a closed-form total
  time (``engine``);
- ``prompt(n, P)``: what ``P`` prompt tokens add beside ``n`` decodes when they attend
  to nothing (linear layers, KV writes), bilinear in ``n`` and ``P`` (both growing by
  sqrt 2); it depends on ``n + P`` through the linear layers' roofline;
- ``attention(r, x)``: what the prompt's attention adds per prompt token when its tokens
  attend on average to ``x`` earlier tokens and the decodes' context is ``r`` tokens per
  prompt token; bilinear on doubling grids. Attention's compute and memory terms combine
  as a p-norm (which couples prefill and decode attention), and it is homogeneous in
  (decode context, prompt tokens), so one reference prompt measures every size
  (``c'`` and ``x'`` are contexts capped by a sliding window);
- ``per_prefill_seq``: the per-sequence cost (LM head, sampling) of each further prompt.

A round (every sequence one step through all stages) is ``pp`` stage steps of the
micro-batch shape, as in :func:`llmplan.perf.serving.round_time`.

With speculative decoding (:mod:`llmplan.perf.speculative`) every decoding sequence
runs ``K + 1`` positions a step (the verification pass) in every tabulated shape, and
``decode(n, c)`` also holds the drafting of ``K`` tokens for ``n`` sequences (its share
of a round: one ``pp``-th per stage; with pipeline micro-batches the drafts are counted
per micro-batch, a slight undercount).

Measured against ``round_time`` on random step shapes up to the engine's limits
(``tests/test_sim_steptable.py``, for dense, tensor-parallel, MoE, sliding-window,
pipeline and no-chunked-prefill deployments): decode steps within 0.1 %, steps with
prompt tokens within 0.7 % (median 0.15 %); the test holds them to 0.2 % and 1 %.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from llmplan.deployment import Deployment
from llmplan.perf.serving import micro_batches
from llmplan.perf.speculative import SpecDecoding, draft_seconds, verify_shape
from llmplan.perf.step import StepShape, step_time
from llmplan.sizing.memory import global_layer_count

EXACT_SEQS = 32
"""Decode batch sizes tabulated one by one; above, the grid grows geometrically."""
SEQS_GRID_RATIO = 1.1
PREFILL_GRID_RATIO = math.sqrt(2.0)
MIN_CONTEXT_KNOT = 16
MIN_CONTEXT_RATIO = 1 / 64
"""Smallest non-zero decode context per prompt token in the attention table."""
REFERENCE_CHUNK_TOKENS = 2048
"""Prompt chunk with which the attention table is measured."""

Plane = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class StepTimeTable:
    """Tabulated stage-step times (seconds) of one deployment; see the module docstring.

    Build with :func:`build_step_table`. ``window_tokens`` and ``local_fraction`` cap
    the context attended by the share of layers with a sliding window."""

    pp: int
    micro_batching: bool
    seqs_grid: tuple[float, ...]
    context_grid: tuple[float, ...]
    decode_s: Plane
    mix_seqs_grid: tuple[float, ...]
    prefill_grid: tuple[float, ...]
    prompt_s: Plane
    context_ratio_grid: tuple[float, ...]
    attended_grid: tuple[float, ...]
    attention_s: Plane
    per_prefill_seq_s: float
    window_tokens: float
    local_fraction: float

    def micro_batches(self, sequences: float) -> float:
        """Micro-batches in flight across pipeline stages (as ``perf.serving``)."""
        if not self.micro_batching:
            return 1.0
        return max(1.0, min(float(self.pp), sequences))

    def decode_line(self, seqs: float, context: float) -> tuple[float, float]:
        """``(a_s, b_s_per_token)``: a round of ``seqs`` decodes at mean context ``c``
        near ``context`` takes ``a + b * c`` seconds."""
        m = self.micro_batches(seqs)
        i, u = locate(self.seqs_grid, seqs / m)
        j = locate(self.context_grid, context)[0]
        row0, row1 = self.decode_s[i], self.decode_s[i + 1]
        c0, c1 = self.context_grid[j], self.context_grid[j + 1]
        t0 = row0[j] + u * (row1[j] - row0[j])
        t1 = row0[j + 1] + u * (row1[j + 1] - row0[j + 1])
        slope = (t1 - t0) / (c1 - c0)
        return self.pp * (t0 - slope * c0), self.pp * slope

    def attended(self, context: float) -> float:
        """Mean context attended over all layers (sliding windows capped)."""
        over = context - self.window_tokens
        return context - self.local_fraction * over if over > 0 else context

    def step(
        self,
        decode_seqs: float,
        decode_context: float,
        prefill_tokens: float,
        prefill_seqs: float,
        attended: float,
    ) -> float:
        """Seconds of one round; ``attended`` is the mean context a prompt token attends
        to (for a whole prompt, half its length)."""
        if prefill_tokens <= 0:
            a, b = self.decode_line(decode_seqs, decode_context)
            return a + b * decode_context
        m = self.micro_batches(decode_seqs + prefill_seqs)
        n, p = decode_seqs / m, prefill_tokens / m
        i, u = locate(self.seqs_grid, n)
        j, v = locate(self.context_grid, decode_context)
        stage = _bilerp(self.decode_s, i, j, u, v)
        i, u = locate(self.mix_seqs_grid, n)
        j, v = locate(self.prefill_grid, p)
        stage += _bilerp(self.prompt_s, i, j, u, v)
        i, u = locate(self.context_ratio_grid, n * self.attended(decode_context) / p)
        j, v = locate(self.attended_grid, self.attended(attended))
        stage += p * _bilerp(self.attention_s, i, j, u, v)
        extra_seqs = prefill_seqs / m - 1.0
        if extra_seqs > 0:
            stage += extra_seqs * self.per_prefill_seq_s
        return self.pp * stage


def locate(grid: tuple[float, ...], value: float) -> tuple[int, float]:
    """Cell ``i`` with grid[i] <= value < grid[i+1] and the fraction within it; values
    beyond either end extrapolate from the end cells."""
    i = bisect_right(grid, value) - 1
    last = len(grid) - 2
    i = 0 if i < 0 else (last if i > last else i)
    lo = grid[i]
    return i, (value - lo) / (grid[i + 1] - lo)


def _bilerp(plane: Plane, i: int, j: int, u: float, v: float) -> float:
    r0, r1 = plane[i], plane[i + 1]
    a = r0[j] + v * (r0[j + 1] - r0[j])
    b = r1[j] + v * (r1[j + 1] - r1[j])
    return a + u * (b - a)


def _geometric(start: float, stop: float, ratio: float) -> list[float]:
    """Rounded points start, start * ratio, ... up to and including ``stop``."""
    points = [float(start)]
    x = float(start)
    while points[-1] < stop:
        x *= ratio
        points.append(float(min(stop, max(points[-1] + 1, round(x)))))
    return points


def seqs_grid(max_seqs: int) -> tuple[float, ...]:
    """0, 1, ..., EXACT_SEQS, then geometric, past ``max_seqs``."""
    top = max_seqs + 1
    exact = [float(n) for n in range(min(top, EXACT_SEQS) + 1)]
    if top <= EXACT_SEQS:
        return tuple(exact)
    return tuple(exact[:-1] + _geometric(EXACT_SEQS, top, SEQS_GRID_RATIO))


def _doubling_from(start: float, stop: float) -> list[float]:
    """start, 2 start, 4 start, ... up to the first point >= ``stop`` (unrounded)."""
    points = [start]
    while points[-1] < stop:
        points.append(points[-1] * 2)
    return points


def _doubling(start: float, stop: float, extra: float | None = None) -> tuple[float, ...]:
    knots = {0.0, *_geometric(start, max(stop, start * 2), 2.0)}
    if extra is not None and extra < stop:
        knots.add(float(extra))
    return tuple(sorted(knots))


@dataclass(frozen=True)
class _Stage:
    """Stage-step times of ``dep``, each decoding sequence verifying ``spec``'s drafts."""

    dep: Deployment
    spec: SpecDecoding | None = None

    def __call__(self, shape: StepShape) -> float:
        if self.spec is not None:
            shape = verify_shape(shape, self.spec)
        return step_time(self.dep, shape).total_s

    def decode(self, shape: StepShape) -> float:
        """A decode stage step, with its share of the round's drafting."""
        if self.spec is None:
            return self(shape)
        return self(shape) + draft_seconds(self.dep, shape, self.spec) / self.dep.pp


def _decode_rows(stage: _Stage, seqs: tuple[float, ...], contexts: tuple[float, ...]) -> Plane:
    return tuple(
        tuple(stage.decode(StepShape(decode_seqs=n, decode_context=c)) for c in contexts)
        for n in seqs
    )


def _prompt_rows(stage: _Stage, seqs: tuple[float, ...], prefill: tuple[float, ...]) -> Plane:
    """Extra time of a prompt chunk with nothing to attend to (linear layers, KV writes)."""
    rows = []
    for n in seqs:
        base = stage(StepShape(decode_seqs=n))
        rows.append(
            tuple(
                stage(StepShape(decode_seqs=n, prefill_tokens=p, prefill_seqs=1.0)) - base
                for p in prefill
            )
        )
    return tuple(rows)


def _attention_rows(
    stage: _Stage,
    ratios: tuple[float, ...],
    attended: tuple[float, ...],
    chunk: float,
    window: tuple[float, float],
) -> Plane:
    """Extra time per prompt token of prompt attention (each token attending to
    ``attended`` tokens) beside decodes attending to ``ratio`` context tokens per prompt
    token, less the prompt's and decodes' own costs. Attention's roofline is homogeneous
    in (decode context, prompt tokens), so one ``chunk``-token prompt measures every size.

    Decodes are as many sequences as keep each context inside a sliding window, and the
    prompt's context is the one whose capped mean is ``attended``."""
    width, local = window
    rows = []
    for ratio in ratios:
        total = ratio * chunk
        seqs = max(1.0, total / width)
        context = total / seqs
        base = stage(StepShape(decode_seqs=seqs, decode_context=context))
        bare = stage(StepShape(decode_seqs=seqs, prefill_tokens=chunk, prefill_seqs=1.0)) - stage(
            StepShape(decode_seqs=seqs)
        )
        row = []
        for x in attended:
            shape = StepShape(
                decode_seqs=seqs,
                decode_context=context,
                prefill_tokens=chunk,
                prefill_seqs=1.0,
                prefill_context=2.0 * _unattended(x, width, local),
            )
            row.append((stage(shape) - base - bare) / chunk)
        rows.append(tuple(row))
    return tuple(rows)


def _unattended(attended: float, width: float, local: float) -> float:
    """The context whose mean attended context over all layers is ``attended``."""
    if attended <= width:
        return attended
    if local >= 1.0:
        return width
    return width + (attended - width) / (1.0 - local)


def _window(dep: Deployment) -> tuple[float, float]:
    """(window tokens, share of layers with the window); (inf, 0) without one."""
    window = dep.model.sliding_window
    if window is None:
        return math.inf, 0.0
    layers = dep.model.num_layers
    return float(window.window_tokens), (layers - global_layer_count(dep.model)) / layers


def build_step_table(
    dep: Deployment,
    *,
    max_context: float | None = None,
    max_prefill_tokens: float | None = None,
    spec: SpecDecoding | None = None,
) -> StepTimeTable:
    """Tabulate ``dep``'s stage-step times.

    ``max_context`` is the longest context (default: the model's window) and
    ``max_prefill_tokens`` the most prompt tokens one step may hold (default: the
    engine's ``max_batched_tokens``, or the longest context without chunked prefill);
    beyond them the table extrapolates linearly. ``spec``: speculative decoding (decode
    steps verify ``K + 1`` positions per sequence and include the drafting).
    """
    engine = dep.engine
    stage = _Stage(dep, spec)
    top_context = float(max_context or dep.model.max_context_tokens)
    top_prefill = float(
        max_prefill_tokens or (engine.max_batched_tokens if engine.chunked_prefill else 0)
    )
    top_prefill = max(top_prefill, float(engine.max_batched_tokens))
    window, local = _window(dep)
    seqs = seqs_grid(engine.max_num_seqs)
    contexts = _doubling(MIN_CONTEXT_KNOT, top_context, window)
    mix_seqs = (0.0, *_geometric(1, engine.max_num_seqs + 1, PREFILL_GRID_RATIO))
    prefill = (0.0, *_geometric(1, top_prefill, PREFILL_GRID_RATIO))
    ratios = (0.0, *_doubling_from(MIN_CONTEXT_RATIO, (engine.max_num_seqs + 1) * top_context))
    attended = _doubling(MIN_CONTEXT_KNOT, top_context)
    chunk = float(min(REFERENCE_CHUNK_TOKENS, engine.max_batched_tokens))
    one = StepShape(decode_seqs=1.0, prefill_tokens=chunk, prefill_seqs=1.0)
    two = StepShape(decode_seqs=1.0, prefill_tokens=chunk, prefill_seqs=2.0)
    return StepTimeTable(
        pp=dep.pp,
        micro_batching=micro_batches(dep, float(dep.pp)) > 1.0,
        seqs_grid=seqs,
        context_grid=contexts,
        decode_s=_decode_rows(stage, seqs, contexts),
        mix_seqs_grid=mix_seqs,
        prefill_grid=prefill,
        prompt_s=_prompt_rows(stage, mix_seqs, prefill),
        context_ratio_grid=ratios,
        attended_grid=attended,
        attention_s=_attention_rows(stage, ratios, attended, chunk, (window, local)),
        per_prefill_seq_s=max(0.0, stage(two) - stage(one)),
        window_tokens=window,
        local_fraction=local,
    )
