"""A replica's state: the paged KV cache and its requests, kept as aggregates.

A request is waiting, prefilling (admitted, its prompt partly computed) or decoding. The
cache is paged in blocks of :data:`BLOCK_TOKENS` tokens: a request takes its prompt's at
admission, then one more every 16 generated tokens (with ``kv_reservation = full``, its
whole prompt + output at admission).

With prefix caching a request arrives with ``cached`` prompt tokens already computed
(its prompt's KV entries found in the cache): it prefills only the rest, attending to the
whole prompt, and holds the blocks of its whole prompt. With speculative decoding a
decode step is a verification step that yields several tokens of a sequence: a request
then needs ``output_steps`` sampling steps (its prefill's and its verification steps,
drawn in advance by :mod:`llmplan.sim.speculation`) for its ``output_tokens``, and holds,
from admission, ``extra`` blocks for the tokens beyond one a step (the bookkeeping grows
a decoder's cache by one token a step).

Decoding sequences are never visited one by one while they decode: at decode-step counter
``k`` a decoder's context is ``offset + k``, so the replica keeps the count ``n``, the sum
of offsets, ``phase`` (how many decoders need a new block at each counter modulo 16: any
16 consecutive counters need exactly ``n``, so the blocks a run of steps takes are a few
additions), and a heap of finishing counters. :class:`~llmplan.sim.engine.Replica` adds the
scheduling policy on top.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush

from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError
from llmplan.sim.lookup import StepLookup
from llmplan.sim.sketch import SeriesRecorder
from llmplan.sim.stats import FLUSH_REQUESTS, Recorder
from llmplan.sizing.memory import kv_budget_per_gpu, kv_bytes_per_sequence, kv_shard_fraction

BLOCK_SHIFT = 4
BLOCK_TOKENS = 1 << BLOCK_SHIFT
"""Tokens per KV-cache block (vLLM's default block size); hot paths divide by shifting."""
BLOCK_MASK = BLOCK_TOKENS - 1
ADMISSION_WATERMARK = 0.01
"""Share of the cache's blocks kept free when admitting a request (vLLM V0's watermark),
so that running sequences are not preempted right after an admission."""
INF = math.inf
LAST_TIME_S = 1e300
IDLE, RUN, STEP = 0, 1, 2


@dataclass(frozen=True)
class EngineLimits:
    """The scheduler's limits for one replica."""

    max_num_seqs: int
    max_batched_tokens: int
    chunked_prefill: bool
    total_blocks: int
    watermark_blocks: int
    reserve_full: bool
    block_tokens: int = BLOCK_TOKENS
    first_token_from_decode_step: bool = False
    decode_tokens: int = 1
    """Token-budget positions a decoding sequence takes a step (``K + 1`` with
    speculative decoding)."""

    @property
    def capacity_tokens(self) -> int:
        return self.total_blocks * self.block_tokens


def engine_limits(
    dep: Deployment, *, reference_context: float, decode_tokens: int = 1
) -> EngineLimits:
    """Limits of ``dep``'s engine and the KV-cache blocks its memory leaves
    (``decode_tokens``: budget positions per decoding sequence a step).

    Blocks hold the cache of :data:`BLOCK_TOKENS` tokens of every layer; for models with
    sliding windows the bytes per token are those of a ``reference_context``-token
    sequence (windowed layers hold at most their window)."""
    reference = max(1.0, reference_context)
    per_token = kv_bytes_per_sequence(dep.model, dep.kv, reference) / reference
    per_token_per_gpu = per_token * kv_shard_fraction(dep)
    budget = kv_budget_per_gpu(dep)
    blocks = int(budget // (per_token_per_gpu * BLOCK_TOKENS)) if budget > 0 else 0
    if blocks < 1:
        raise DoesNotFitError(
            f"{dep.model.id} in {dep.weights.id} leaves no memory for the KV cache on "
            f"{dep.num_gpus} x {dep.gpu.id} (tp={dep.tp}, pp={dep.pp}); "
            "use more GPUs or a smaller precision"
        )
    engine = dep.engine
    return EngineLimits(
        max_num_seqs=engine.max_num_seqs,
        max_batched_tokens=engine.max_batched_tokens,
        chunked_prefill=engine.chunked_prefill,
        total_blocks=blocks,
        watermark_blocks=int(blocks * ADMISSION_WATERMARK),
        reserve_full=engine.kv_reservation == "full",
        first_token_from_decode_step=engine.first_token_from == "decode_step",
        decode_tokens=decode_tokens,
    )


class Request:
    """One request's progress. ``prefill_left`` tokens of its prompt (plus, after a
    preemption, the tokens it had generated) are still to compute; ``computed`` are in
    the cache, in ``blocks`` blocks while it prefills. ``generated`` counts tokens
    sampled (sampling steps with speculative decoding: ``output_steps`` in all); while
    the request decodes it is implicit in ``finish_step`` (the decode counter at its
    last step) and its context in ``offset`` (see :class:`ReplicaState`). ``extra``:
    blocks held beyond the bookkeeping's one token a step (speculative decoding).
    ``last_token_s`` is the time of its last token before a preemption, then of its
    finish; ``seq`` numbers its stay among the decoders (-1 outside)."""

    __slots__ = (
        "arrival_s",
        "blocks",
        "client",
        "computed",
        "extra",
        "finish_step",
        "first_token_s",
        "generated",
        "input_tokens",
        "last_token_s",
        "offset",
        "output_steps",
        "output_tokens",
        "prefill_left",
        "seq",
    )
    arrival_s: float
    blocks: int
    client: int
    computed: int
    extra: int
    finish_step: int
    first_token_s: float
    generated: int
    input_tokens: int
    last_token_s: float
    offset: int
    output_steps: int
    output_tokens: int
    prefill_left: int
    seq: int

    def __init__(
        self,
        arrival_s: float,
        input_tokens: int,
        output_tokens: int,
        client: int = -1,
        cached: int = 0,
        output_steps: int = 0,
    ) -> None:
        # last_token_s, offset and finish_step are set before they are read
        self.arrival_s = arrival_s
        self.input_tokens = input_tokens
        self.prefill_left = input_tokens - cached
        self.computed = cached
        self.output_tokens = output_tokens
        if output_steps and output_steps < output_tokens:
            self.output_steps = output_steps
            self.extra = blocks_for(output_tokens - output_steps)
        else:
            self.output_steps = output_tokens
            self.extra = 0
        self.client = client
        self.generated = self.blocks = 0
        self.first_token_s = -1.0
        self.seq = -1

    def tokens_done(self) -> int:
        """Output tokens sampled so far (``generated`` counts sampling steps)."""
        if self.output_steps == self.output_tokens:
            return self.generated
        return round(self.generated * self.output_tokens / self.output_steps)

    def blocks_needed(self, reserve_full: bool) -> int:
        """Blocks taken at admission: the whole prompt's (cached part included), or with
        full reservation the whole remaining sequence's; plus ``extra``."""
        tokens = self.computed + self.prefill_left
        if reserve_full:
            tokens += self.output_steps - self.generated
        return blocks_for(tokens) + self.extra


def blocks_for(tokens: int) -> int:
    """KV blocks holding ``tokens`` tokens (>= 0)."""
    return (tokens + BLOCK_MASK) >> BLOCK_SHIFT


class ReplicaState:
    """Requests, KV-cache blocks and decoders of one replica, and what happens to them
    when a prompt's prefill ends, decoders finish or a request is preempted. Hot paths
    are written for speed: attributes cached in locals, small helpers inlined."""

    def __init__(
        self,
        limits: EngineLimits,
        steps: StepLookup,
        recorder: Recorder,
        series: SeriesRecorder,
        on_complete: Callable[[Request, float], None] | None = None,
    ) -> None:
        self.limits = limits
        self.max_seqs = limits.max_num_seqs
        self.max_tokens = limits.max_batched_tokens
        self.per_decode = limits.decode_tokens
        self.chunked = limits.chunked_prefill
        self.full = limits.reserve_full
        self.late_first = limits.first_token_from_decode_step
        self.total_blocks = limits.total_blocks
        self.watermark = limits.watermark_blocks
        self.steps = steps
        self.recorder = recorder
        self.itl_value = recorder.itl_s.append
        self.itl_weight = recorder.itl_weight.append
        self.series = series
        self.sample_at_s = series.next_s
        self.on_complete = on_complete
        self.time_s = 0.0  # the last step boundary processed
        self.k = 0  # decode steps so far (a decoder's context is its offset + k)
        self.waiting: deque[Request] = deque()
        self.prefilling: list[Request] = []
        self.decoding: dict[Request, None] = {}
        self.finishing: list[tuple[int, int, Request]] = []
        self.n = 0
        self.offset_sum = 0
        self.phase = [0] * (2 * BLOCK_TOKENS)
        self.used_blocks = 0
        self.next_seq = 0
        self.outstanding = 0
        self.completed = 0
        # the segment in progress: a step (with prompt tokens) or a run of decode steps
        self.kind = IDLE
        self.segment_end_s = INF
        self.next_arrival_s = INF  # known to :meth:`Replica.feed`, else never
        self.run_start_s = 0.0
        self.run_steps = 0
        self.run_first_s = 0.0
        self.run_growth_s = 0.0
        self.chunks: list[tuple[Request, int]] = []
        self.single: Request | None = None
        self.step_s = 0.0
        self.step_decodes = 0

    # ------------------------------------------------------------------ bookkeeping

    def _steps_until_full(self, free: int) -> int:
        """Most decode steps whose new blocks fit in ``free`` blocks (>= 1 here)."""
        n = self.n
        cycles = free // n
        left = free - cycles * n
        steps = BLOCK_TOKENS * cycles
        p = self.k & BLOCK_MASK
        phase = self.phase
        for i in range(p, p + BLOCK_TOKENS):
            left -= phase[i]
            if left < 0:
                break
            steps += 1
        return steps

    def _first_token(self, req: Request, now: float) -> None:
        """A prompt's prefill ended: it samples a token and decodes or finishes. With
        ``first_token_from: decode_step`` (TurboMind) a new request samples nothing yet:
        it joins the decoders and its first token ends the next decode step (its time
        estimated from the step table at the batch it joins)."""
        if self.late_first and req.first_token_s < 0:
            generated = req.generated
            n = self.n + 1
            context = (self.offset_sum + self.n * self.k + req.computed) / n
            a, b = self.steps.decode_line(min(n, self.max_seqs), context)
            req.first_token_s = now + a + b * context
        else:
            req.generated = generated = req.generated + 1
            if req.first_token_s < 0:
                req.first_token_s = now
            else:
                self.itl_value(now - req.last_token_s)
                self.itl_weight(1)
        if generated >= req.output_steps:
            self.used_blocks -= req.blocks
            req.blocks = 0
            self._complete(req, now)
            return
        k = self.k
        req.offset = offset = req.computed - k
        req.finish_step = finish = k + req.output_steps - generated
        req.seq = seq = self.next_seq
        self.next_seq = seq + 1
        heappush(self.finishing, (finish, seq, req))
        self.decoding[req] = None
        self.n += 1
        self.offset_sum += offset
        if not self.full:
            slot = -offset & BLOCK_MASK
            phase = self.phase
            phase[slot] += 1
            phase[slot + BLOCK_TOKENS] += 1

    def _finish_decoders(self) -> None:
        """Complete the decoders whose last token came at counter ``k`` (inlines
        :meth:`_drop_decoder` and :meth:`_complete`: the hottest path)."""
        heap = self.finishing
        k = self.k
        now = self.time_s
        phase = self.phase
        full = self.full
        done = self.recorder.done
        count = freed = offsets = 0
        while heap and heap[0][0] <= k:
            _, seq, req = heappop(heap)
            if req.seq != seq:
                continue
            del self.decoding[req]
            req.seq = -1
            offset = req.offset
            offsets += offset
            count += 1
            if full:
                freed += req.blocks
            else:
                slot = -offset & BLOCK_MASK
                phase[slot] -= 1
                phase[slot + BLOCK_TOKENS] -= 1
                freed += ((offset + k + BLOCK_MASK) >> BLOCK_SHIFT) + req.extra
            req.last_token_s = now
            done.append(req)
            if self.on_complete is not None:
                self.on_complete(req, now)
        self.n -= count
        self.outstanding -= count
        self.completed += count
        self.offset_sum -= offsets
        self.used_blocks -= freed
        if len(done) >= FLUSH_REQUESTS:
            self.recorder.flush()

    def _drop_decoder(self, req: Request) -> None:
        del self.decoding[req]
        req.seq = -1
        self.n -= 1
        offset = req.offset
        self.offset_sum -= offset
        if self.full:
            self.used_blocks -= req.blocks
        else:
            slot = -offset & BLOCK_MASK
            phase = self.phase
            phase[slot] -= 1
            phase[slot + BLOCK_TOKENS] -= 1
            self.used_blocks -= blocks_for(offset + self.k) + req.extra

    def _complete(self, req: Request, now: float) -> None:
        """Record a finished request (its finish time goes in ``last_token_s``)."""
        self.outstanding -= 1
        self.completed += 1
        req.last_token_s = now
        done = self.recorder.done
        done.append(req)
        if len(done) >= FLUSH_REQUESTS:
            self.recorder.flush()
        if self.on_complete is not None:
            self.on_complete(req, now)

    # ------------------------------------------------------------------ preemption

    def _victim(self) -> Request:
        """The most recently admitted running request."""
        if self.prefilling:
            return self.prefilling[-1]
        return next(reversed(self.decoding))

    def _preempt(self, req: Request) -> None:
        """Free ``req``'s blocks and queue it first, to recompute all its tokens (its
        cached prefix too: the prefix cache is not modelled across a preemption)."""
        if req.seq >= 0:
            req.generated = req.output_steps - (req.finish_step - self.k)
            req.last_token_s = self.time_s
            self._drop_decoder(req)
        else:
            self.prefilling.remove(req)
            self.used_blocks -= req.blocks
        req.computed = 0
        req.blocks = 0
        req.prefill_left = req.input_tokens + req.tokens_done()
        self.waiting.appendleft(req)
        self.recorder.preemptions += 1

    # ------------------------------------------------------------------ series

    def _sample(self, until_s: float) -> None:
        """Record the state that held until ``until_s`` (before an event there)."""
        series = self.series
        series.hold(
            until_s,
            float(len(self.waiting)),
            float(self.n + len(self.prefilling)),
            self.used_blocks / self.total_blocks,
        )
        self.sample_at_s = series.next_s

    def close_series(self) -> None:
        """Record the final state (after the last event)."""
        self.series.close(
            float(len(self.waiting)),
            float(self.n + len(self.prefilling)),
            self.used_blocks / self.total_blocks,
        )

    # ------------------------------------------------------------------ checks

    def audit(self) -> tuple[int, int]:
        """(blocks the running requests hold, recomputed from scratch; blocks tracked).
        Equal unless the aggregate bookkeeping is wrong (for tests)."""
        held = sum(req.blocks for req in self.prefilling)
        if self.single is not None:
            held += self.single.blocks
        for req in self.decoding:
            held += req.blocks if self.full else blocks_for(req.offset + self.k) + req.extra
        return held, self.used_blocks
