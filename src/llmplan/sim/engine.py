"""One replica's engine scheduler, as vLLM's: continuous batching over a paged KV cache.

Each step the scheduler gives every running sequence its next token (one decode token,
or the next chunk of its prompt) within ``max_batched_tokens``, then admits waiting
requests first come, first served while fewer than ``max_num_seqs`` run and the budget
lasts, if the cache has the blocks of their whole prompt beyond a watermark
(:data:`~llmplan.sim.state.ADMISSION_WATERMARK`), as vLLM's V0 block manager allocated
them. Without chunked prefill a prompt is prefilled whole, in a step of prompts only
(decodes wait), as V0 did. Decoding sequences take a block every 16 tokens; when one
needs a block and none is free, the most recently admitted sequence is preempted: its
blocks are freed and it waits at the head of the queue to recompute its prompt and the
tokens it had generated (no new request is admitted in that step). With
``kv_reservation = full`` (TensorRT-LLM) a request's whole prompt + output is reserved at
admission and nothing is preempted. With ``first_token_from = decode_step`` (TurboMind)
a prompt's first token comes from the decode step after its prefill. Prefix caching is
not carried across a preemption: a recompute costs a full prefill. Prefix-cache hits
and speculative decoding come with the requests (:mod:`llmplan.sim.state`); with
speculation every decode step is a verification step and each decoding sequence takes
``decode_tokens`` positions of the token budget.

Speed: the simulator moves step by step only while prompts are being prefilled. Between
such steps every running sequence decodes one token a step, so a *run* of decode steps up
to the next completion, the next arrival or the step the cache runs out is one event
(decoders are aggregates, see :mod:`llmplan.sim.state`), and the run's total time has a
closed form because a decode step's time is linear in the mean context
(:class:`~llmplan.sim.steptable.StepTimeTable`): ``steps * t0 + b * steps * (steps - 1) / 2``.
A replica fed its arrivals in advance (:meth:`Replica.feed`) ends a run at the step
boundary after the next arrival; otherwise an arrival cuts the run there (:meth:`Replica.add`).
Step times come from the table, never from the roofline.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from heapq import heappop

from llmplan.sim.state import (
    BLOCK_MASK,
    BLOCK_SHIFT,
    BLOCK_TOKENS,
    IDLE,
    INF,
    LAST_TIME_S,
    RUN,
    STEP,
    ReplicaState,
    Request,
)

__all__ = ["Replica"]


class Replica(ReplicaState):
    """A replica's scheduler and the segment (one step, or a run of decode steps) it is
    executing. Drive it with :meth:`feed` or :meth:`add` (in arrival order) and
    :meth:`advance_to`; :meth:`drain` runs it empty."""

    def add(self, req: Request) -> None:
        """A request arrives (at ``req.arrival_s``, not before the last event processed)."""
        if req.arrival_s >= self.sample_at_s:
            self._sample(req.arrival_s)
        self.outstanding += 1
        waiting = self.waiting
        waiting.append(req)
        kind = self.kind
        if kind == IDLE:
            if req.arrival_s > self.time_s:
                self.time_s = req.arrival_s
            self._plan()
        elif kind == RUN and len(waiting) == 1 and self._can_admit():
            self._cut_run(req.arrival_s)

    def feed(
        self,
        times: list[float],
        inputs: list[int],
        outputs: list[int],
        extras: tuple[list[int], list[int]] | None = None,
    ) -> None:
        """Requests arriving at ``times`` (in order, after any added before), with the
        replica advanced to each. Knowing the next arrival, runs of decode steps are
        planned to stop at it rather than cut when it comes (as :meth:`add` does).
        ``extras``: each request's cached prompt tokens and sampling steps."""
        waiting = self.waiting
        cached, steps = extras if extras is not None else ([0] * len(times), outputs)
        for t, inp, out, hit, step in zip(times, inputs, outputs, cached, steps, strict=True):
            self.next_arrival_s = t
            if self.segment_end_s <= t:
                self.advance_to(t)
            if t >= self.sample_at_s:
                self._sample(t)
            waiting.append(Request(t, inp, out, -1, hit, step))
            self.outstanding += 1
            kind = self.kind
            if kind == IDLE:
                if t > self.time_s:
                    self.time_s = t
                self._plan()
            elif kind == RUN and self.run_start_s == t and len(waiting) == 1 and self._can_admit():
                self._cut_run(t)

    def drain(self) -> None:
        """Run until every request has finished."""
        self.advance_to(LAST_TIME_S)
        self.close_series()

    def advance_to(self, time_s: float) -> None:
        """Process every segment that ends at or before ``time_s`` (finite)."""
        while self.segment_end_s <= time_s:
            if self.segment_end_s >= self.sample_at_s:
                self._sample(self.segment_end_s)
            if self.kind == RUN:
                self._end_run()
            else:
                self._end_step()
            self._plan()

    # ------------------------------------------------------------------ planning

    def _plan(self) -> None:
        """Choose the next segment at the step boundary ``time_s``."""
        n = self.n
        preempted = False
        free = self.total_blocks - self.used_blocks
        if n and not self.full and self.phase[self.k & BLOCK_MASK] > free:
            self._make_room()  # and, as vLLM, admit nothing new in this step
            preempted = True
            n = self.n
        if self.prefilling:
            if self._plan_step():
                return
        elif self.waiting and n < self.max_seqs and not preempted:
            single = self._plan_single() if len(self.waiting) == 1 else None
            if single or (single is None and self._plan_step()):
                return
        if n:
            self._plan_run()
        else:
            self.kind = IDLE
            self.segment_end_s = INF

    def _make_room(self) -> None:
        """Preempt until the decoders' next step has the blocks it needs."""
        while self.n and self.phase[self.k & BLOCK_MASK] > self.total_blocks - self.used_blocks:
            self._preempt(self._victim())

    def _first_chunk(self, req: Request, budget: int) -> tuple[int, int]:
        """(tokens of ``req``'s first chunk within ``budget``, blocks it takes at admission:
        its whole prompt's, or with full reservation its whole remaining sequence's)."""
        left = req.prefill_left
        chunk = left if left < budget or not self.chunked else budget
        return chunk, req.blocks_needed(self.full)

    def _can_admit(self) -> bool:
        """Whether the head of the queue could start at the next step boundary."""
        n = self.n
        if n + len(self.prefilling) >= self.max_seqs:
            return False
        if self.chunked:
            budget = self.max_tokens - n * self.per_decode
            if budget <= 0:
                return False
            need = self.phase[self.k & BLOCK_MASK]
        else:
            budget = self.max_tokens
            need = 0
        blocks = self._first_chunk(self.waiting[0], budget)[1]
        return self.total_blocks - self.used_blocks - need - blocks >= self.watermark

    def _plan_single(self) -> bool | None:
        """Fast path of :meth:`_plan_step` for the common case: one waiting prompt, none
        being prefilled, the whole prompt in this step. True if planned, False if it
        cannot be admitted, None if the general path must decide."""
        req = self.waiting[0]
        left = req.prefill_left
        chunked = self.chunked
        decodes = self.n if chunked else 0
        if chunked and left > self.max_tokens - decodes * self.per_decode:
            return None
        blocks = req.blocks_needed(self.full)
        if self.full:
            need = blocks
        else:
            need = blocks + self.phase[self.k & BLOCK_MASK] if decodes else blocks
        if need > self.total_blocks - self.used_blocks - self.watermark:
            return False
        self.waiting.popleft()
        self.used_blocks += need
        req.blocks = blocks
        self.single = req
        context = (self.offset_sum + decodes * self.k) / decodes if decodes else 0.0
        attended = req.computed + 0.5 * left
        self.step_s = step_s = self.steps.mixed(decodes, context, left, 1, attended)
        self.step_decodes = decodes
        self.kind = STEP
        self.segment_end_s = self.time_s + step_s
        return True

    def _plan_step(self) -> bool:
        """Plan one step that prefills prompt tokens; False if none can be scheduled."""
        decodes = self.n if self.chunked else 0
        budget = self.max_tokens - decodes * self.per_decode
        need = self.phase[self.k & BLOCK_MASK] if decodes and not self.full else 0
        chunks: list[tuple[Request, int]] = []
        for req in self.prefilling:  # their prompts' blocks were taken at admission
            if budget <= 0:
                break
            left = req.prefill_left
            chunk = left if left < budget else budget
            budget -= chunk
            chunks.append((req, chunk))
        if self.waiting and budget > 0:
            need = self._admit(chunks, budget, need)
        if not chunks:
            return False
        self.used_blocks += need
        self._start_step(chunks, decodes)
        return True

    def _admit(self, chunks: list[tuple[Request, int]], budget: int, need: int) -> int:
        """Move waiting requests into ``chunks`` while limits allow; return blocks needed."""
        running = self.n + len(self.prefilling)
        waiting = self.waiting
        free = self.total_blocks - self.used_blocks - self.watermark
        chunked = self.chunked
        full = self.full
        prefilling = self.prefilling
        max_seqs = self.max_seqs
        while waiting and running < max_seqs and budget > 0:
            req = waiting[0]
            left = req.prefill_left
            chunk = left if left < budget or not chunked else budget
            blocks = req.blocks_needed(full)
            if (chunk > budget and chunks) or need + blocks > free:
                break
            waiting.popleft()
            prefilling.append(req)
            req.blocks = blocks
            running += 1
            need += blocks
            budget -= chunk
            chunks.append((req, chunk))
        return need

    def _start_step(self, chunks: list[tuple[Request, int]], decodes: int) -> None:
        if len(chunks) == 1:
            req, prefill = chunks[0]
            attended = req.computed + 0.5 * prefill
        else:
            prefill = 0
            work = 0.0
            for req, chunk in chunks:
                prefill += chunk
                work += chunk * (req.computed + 0.5 * chunk)
            attended = work / prefill
        context = (self.offset_sum + decodes * self.k) / decodes if decodes else 0.0
        self.step_s = step_s = self.steps.mixed(decodes, context, prefill, len(chunks), attended)
        self.step_decodes = decodes
        self.chunks = chunks
        self.kind = STEP
        self.segment_end_s = self.time_s + step_s

    def _plan_run(self) -> None:
        """Plan decode steps up to the next completion, the step the cache runs out, or
        (if known and admissible) the next arrival."""
        heap = self.finishing
        top = heap[0]
        while top[2].seq != top[1]:
            heappop(heap)
            top = heap[0]
        n = self.n
        k = self.k
        steps = top[0] - k
        if not self.full:
            free = self.total_blocks - self.used_blocks
            if n * ((steps + BLOCK_MASK) >> BLOCK_SHIFT) > free:
                steps = min(steps, self._steps_until_full(free))
        context = (self.offset_sum + n * k) / n
        lookup = self.steps
        if lookup.general:
            a, b = lookup.decode_line(n, context)
        else:  # StepLookup.decode_line, inlined
            j = bisect_right(lookup.contexts, context) - 1
            if j > lookup.last_context:
                j = lookup.last_context
            a = lookup.context_starts[n][j]
            b = lookup.context_slopes[n][j]
        self.run_first_s = first = a + b * context
        self.run_growth_s = b
        self.run_start_s = start = self.time_s
        self.run_steps = steps
        self.kind = RUN
        self.segment_end_s = end = start + steps * (first + 0.5 * b * (steps - 1))
        arrival = self.next_arrival_s
        if start < arrival < end and not self.waiting and n + len(self.prefilling) < self.max_seqs:
            self._cut_run(arrival)

    def _cut_run(self, time_s: float) -> None:
        """End the current run at the first step boundary at or after ``time_s``."""
        elapsed = time_s - self.run_start_s
        first = self.run_first_s
        half = 0.5 * self.run_growth_s
        if half > 1e-15:
            h = first - half
            steps = math.ceil((math.sqrt(h * h + 4.0 * half * elapsed) - h) / (2.0 * half))
        else:
            steps = math.ceil(elapsed / first)
        if steps > self.run_steps:
            return
        # guard the closed form against rounding: the least steps reaching time_s
        if steps < 0:
            steps = 0
        while steps > 0 and (steps - 1) * (first + half * (steps - 2)) >= elapsed:
            steps -= 1
        while steps * (first + half * (steps - 1)) < elapsed:
            steps += 1
        if steps < self.run_steps:
            self.run_steps = steps
            self.segment_end_s = self.run_start_s + steps * (first + half * (steps - 1))

    # ------------------------------------------------------------------ ending segments

    def _end_run(self) -> None:
        steps = self.run_steps
        n = self.n
        k = self.k
        if not self.full:
            p = k & BLOCK_MASK
            if steps < BLOCK_TOKENS:
                self.used_blocks += sum(self.phase[p : p + steps])
            else:
                cycles, rest = divmod(steps, BLOCK_TOKENS)
                self.used_blocks += cycles * n + sum(self.phase[p : p + rest])
        self.k = k = k + steps
        self.time_s = self.segment_end_s
        if steps:
            self.itl_value(self.run_first_s + self.run_growth_s * (steps - 1) * 0.5)
            self.itl_weight(n * steps)
            if self.finishing[0][0] <= k:
                self._finish_decoders()

    def _end_step(self) -> None:
        self.time_s = now = self.segment_end_s
        decodes = self.step_decodes
        if decodes:
            self.k += 1
            self.itl_value(self.step_s)
            self.itl_weight(decodes)
        single = self.single
        if single is not None:
            self.single = None
            single.computed += single.prefill_left
            single.prefill_left = 0
            self._first_token(single, now)
        else:
            for req, chunk in self.chunks:
                req.computed += chunk
                left = req.prefill_left = req.prefill_left - chunk
                if not left:
                    self.prefilling.remove(req)
                    self._first_token(req, now)
        if decodes and self.finishing[0][0] <= self.k:
            self._finish_decoders()
