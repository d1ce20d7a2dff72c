"""Disaggregated prefill and decode in the simulator: two pools and the KV transfer.

Requests go round-robin to the prefill pool's replicas, which run the same scheduler as
an aggregated replica (:class:`~llmplan.sim.engine.Replica`) on requests of one output
token: a prompt's prefill ends with its first token. Its KV cache then crosses to the
decode pool (:func:`~llmplan.perf.disagg.kv_transfer_seconds`, at the request's own
prompt length), and the request joins the decode replicas round-robin in the order the
transfers end. A decode replica (:class:`DecodeReplica`) admits a transferred request
at a step boundary when its sequence limit and its KV cache (the prompt's blocks beyond
the watermark) allow, first come first served, and runs decode-only steps; a preempted
request recomputes its prompt there as an aggregated replica would.

TTFT = the time the decode pool takes the request - arrival: prefill queue, prefill,
transfer, and any wait for a decode slot (engines hold a request's KV on the prefill
side until the decode side has room for it, so the user sees that wait before the first
token); TPOT = (finish - that time) / (output - 1). Open-loop workloads (a Poisson or
gamma stream, hourly rates, a trace) run the prefill pool to the end before the decode
pool starts; closed loops, whose clients wait for their replies, run both pools in one
event loop (:mod:`llmplan.sim.disagg_closed`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from heapq import heappush

import numpy as np

from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.perf.disagg import Disaggregation, kv_transfer_seconds, transfer_link
from llmplan.perf.disagg_layout import layout_dict, transfer_lanes
from llmplan.sim.arrivals import ClosedLoop, OpenLoop, RequestChunk, TraceReplay, Workload
from llmplan.sim.cluster import MAX_REPLICAS, ReplicaModel, SimConfig, _series
from llmplan.sim.engine import Replica
from llmplan.sim.sketch import SeriesRecorder
from llmplan.sim.state import BLOCK_MASK, BLOCK_TOKENS, IDLE, RUN, Request, blocks_for
from llmplan.sim.stats import Recorder, SimResult, summarise

__all__ = ["DecodeReplica", "DisaggregatedModel", "simulate_disaggregated"]


class DecodeReplica(Replica):
    """A decode-pool replica: requests arrive with their prompt's KV cache and first
    token (``prefill_left`` 0, ``computed`` = prompt, ``generated`` = 1) and join the
    decoders at a step boundary without a prefill step."""

    def receive(self, time_s: float, req: Request) -> None:
        """A transferred request arrives at ``time_s`` (in order of arrival)."""
        if self.segment_end_s <= time_s:
            self.advance_to(time_s)
        if time_s >= self.sample_at_s:
            self._sample(time_s)
        self.outstanding += 1
        self.waiting.append(req)
        if self.kind == IDLE:
            self.time_s = max(self.time_s, time_s)
            self._plan()
        elif self.kind == RUN and len(self.waiting) == 1 and self._can_admit():
            self._cut_run(time_s)

    def _plan(self) -> None:
        self._admit_transferred()
        super()._plan()

    def _transferred_head(self) -> bool:
        waiting = self.waiting
        return bool(waiting) and waiting[0].prefill_left == 0

    def _first_chunk(self, req: Request, budget: int) -> tuple[int, int]:
        if req.prefill_left == 0:  # transferred: its prompt's blocks, no prefill
            return 0, self._blocks_of(req)
        return super()._first_chunk(req, budget)

    def _blocks_of(self, req: Request) -> int:
        if self.full:
            return blocks_for(req.computed + req.output_tokens - req.generated)
        return blocks_for(req.computed)

    def _plan_single(self) -> bool | None:
        return False if self._transferred_head() else super()._plan_single()

    def _admit(self, chunks: list[tuple[Request, int]], budget: int, need: int) -> int:
        return need if self._transferred_head() else super()._admit(chunks, budget, need)

    def _admit_transferred(self) -> None:
        """Move transferred requests at the head of the queue to the decoders while the
        sequence limit, the token budget and the cache (beyond the watermark and the
        decoders' next blocks) allow."""
        waiting = self.waiting
        while self._transferred_head() and self.n + len(self.prefilling) < self.max_seqs:
            if self.chunked and self.n >= self.max_tokens:
                return
            req = waiting[0]
            blocks = self._blocks_of(req)
            upcoming = self.phase[self.k & BLOCK_MASK] if self.n and not self.full else 0
            if self.used_blocks + blocks + upcoming + self.watermark > self.total_blocks:
                return
            waiting.popleft()
            self.used_blocks += blocks
            req.blocks = blocks
            self._join(req)

    def _join(self, req: Request) -> None:
        """``req`` becomes a decoder (as :meth:`_first_token` does after a prefill); its
        first token reaches the user now if it waited for room."""
        if req.first_token_s < self.time_s:
            req.first_token_s = self.time_s
        k = self.k
        req.offset = offset = req.computed - k
        req.finish_step = k + req.output_tokens - req.generated
        req.seq = seq = self.next_seq
        self.next_seq = seq + 1
        heappush(self.finishing, (req.finish_step, seq, req))
        self.decoding[req] = None
        self.n += 1
        self.offset_sum += offset
        if not self.full:
            slot = -offset & BLOCK_MASK
            self.phase[slot] += 1
            self.phase[slot + BLOCK_TOKENS] += 1


@dataclass(frozen=True)
class DisaggregatedModel:
    """What the simulator needs of a disaggregated design: a replica model per pool,
    each built from its own layout's deployment (``split.deployments``), the split and
    the deployment (for the KV transfer)."""

    dep: Deployment
    split: Disaggregation
    prefill: ReplicaModel
    decode: ReplicaModel
    prefill_dep: Deployment
    decode_dep: Deployment

    @classmethod
    def of(cls, dep: Deployment, split: Disaggregation, workload: Workload) -> DisaggregatedModel:
        prefill_n, decode_n = split.replicas(dep)  # checks the layout rule
        if prefill_n + decode_n > MAX_REPLICAS:
            raise InputError(
                f"{prefill_n + decode_n:,} replicas; the simulator runs at most {MAX_REPLICAS:,}",
                field="disaggregate",
            )
        prefill_dep, decode_dep = split.deployments(dep)
        prefill = ReplicaModel.of(prefill_dep, workload)
        decode = prefill if decode_dep == prefill_dep else ReplicaModel.of(decode_dep, workload)
        return cls(dep, split, prefill, decode, prefill_dep, decode_dep)

    @property
    def max_request_tokens(self) -> int:
        """The longest request (prompt + output) both pools hold."""
        return min(self.prefill.max_request_tokens, self.decode.max_request_tokens)

    def layout(self, mean_input_tokens: float) -> dict[str, int | float | str | bool]:
        """``--json`` keys of the design: pools and their layouts, and the KV transfer of
        a mean prompt (layer-wise: as if the prefill hid nothing)."""
        prefill_n, decode_n = self.split.replicas(self.dep)
        prefill_dep, decode_dep = self.prefill_dep, self.decode_dep
        layout: dict[str, int | float | str | bool] = dict(self.split.as_dict())
        layout |= layout_dict("prefill", prefill_dep) | layout_dict("decode", decode_dep)
        layout["prefill_replicas"] = prefill_n
        layout["decode_replicas"] = decode_n
        layout["kv_transfer_ms"] = self.transfer_s(round(mean_input_tokens), 0.0) * 1e3
        layout["kv_transfer_lanes"] = transfer_lanes(prefill_dep, decode_dep)
        layout["kv_transfer_link"] = transfer_link(self.dep, self.split).name
        return layout

    def transfer_s(self, input_tokens: int, prefill_s: float) -> float:
        """Seconds a request's KV transfer adds after its prefill; layer-wise, hidden
        behind ``prefill_s`` (the simulator passes the time since the request arrived,
        an upper bound of its prefill when it queued)."""
        link = transfer_link(self.dep, self.split)
        return kv_transfer_seconds(
            self.prefill_dep, float(input_tokens), link, prefill_s=prefill_s,
            layerwise=self.split.kv_transfer_layerwise, decode=self.decode_dep,
        )  # fmt: skip


@dataclass
class _Prefilled:
    """The prefill pool's output: per request, its arrival, lengths and first token."""

    arrival_s: list[float]
    inputs: list[int]
    outputs: list[int]
    first_token_s: list[float]
    clipped: int
    preemptions: int
    series: list[SeriesRecorder]


def _clipped_chunks(
    model: DisaggregatedModel,
    workload: OpenLoop | TraceReplay,
    rng: np.random.Generator,
    count: int,
) -> Iterator[tuple[RequestChunk, int]]:
    """The workload's requests, cut to what the smaller pool's replica holds."""
    strict = isinstance(workload, TraceReplay)
    clipper = min(model.prefill, model.decode, key=lambda m: m.max_request_tokens)
    first = 0
    for chunk in workload.chunks(rng, count):
        clipped, cut = clipper.clip(chunk, strict=strict, first=first)
        first += len(chunk[0])
        yield clipped, cut


def _run_prefill(
    model: DisaggregatedModel,
    workload: OpenLoop | TraceReplay,
    config: SimConfig,
    rng: np.random.Generator,
) -> _Prefilled:
    count, _ = model.split.replicas(model.dep)
    recorder = Recorder()
    series = [SeriesRecorder(config.series_points) for _ in range(count)]
    replicas = [Replica(model.prefill.limits, model.prefill.lookup, recorder, s) for s in series]
    done = _Prefilled([], [], [], [], 0, 0, series)

    def finished(req: Request, now: float) -> None:
        done.first_token_s[req.client] = now

    for replica in replicas:
        replica.on_complete = finished
    index = 0
    for (times, inputs, outputs), cut in _clipped_chunks(model, workload, rng, config.num_requests):
        done.clipped += cut
        for t, inp, out in zip(times.tolist(), inputs.tolist(), outputs.tolist(), strict=True):
            done.arrival_s.append(t)
            done.inputs.append(inp)
            done.outputs.append(out)
            done.first_token_s.append(-1.0)
            replica = replicas[index % count]
            if replica.segment_end_s <= t:
                replica.advance_to(t)
            replica.add(Request(t, inp, 1, index))
            index += 1
    for replica in replicas:
        replica.drain()
    done.preemptions = recorder.preemptions
    return done


def _run_decode(
    model: DisaggregatedModel, prefilled: _Prefilled, config: SimConfig
) -> tuple[Recorder, list[SeriesRecorder], list[int]]:
    _, count = model.split.replicas(model.dep)
    recorder = Recorder(slo=config.slo)
    series = [SeriesRecorder(config.series_points) for _ in range(count)]
    replicas = [
        DecodeReplica(model.decode.limits, model.decode.lookup, recorder, s) for s in series
    ]
    handoffs = []
    for i, arrival in enumerate(prefilled.arrival_s):
        first = prefilled.first_token_s[i]
        handoffs.append((first + model.transfer_s(prefilled.inputs[i], first - arrival), i))
    handoffs.sort()
    turn = 0
    for ready_s, i in handoffs:
        req = Request(prefilled.arrival_s[i], prefilled.inputs[i], prefilled.outputs[i], i)
        req.first_token_s = ready_s
        req.generated = 1
        if req.output_tokens <= 1:  # done with its first token
            req.last_token_s = ready_s
            recorder.done.append(req)
            continue
        req.computed = req.input_tokens
        req.prefill_left = 0
        replicas[turn].receive(ready_s, req)
        turn = (turn + 1) % count
    for replica in replicas:
        replica.drain()
    return recorder, series, [r.completed for r in replicas]


def simulate_disaggregated(
    model: DisaggregatedModel,
    workload: Workload,
    config: SimConfig,
    rng: np.random.Generator,
) -> SimResult:
    """Run ``config.num_requests`` requests of ``workload`` through the prefill pool, the
    KV transfer and the decode pool (``config.replicas`` is ignored: the split sets each
    pool's replicas); closed loops: :mod:`llmplan.sim.disagg_closed`."""
    if isinstance(workload, ClosedLoop):
        from llmplan.sim.disagg_closed import simulate_closed_disaggregated

        return simulate_closed_disaggregated(model, workload, config, rng)
    prefilled = _run_prefill(model, workload, config, rng)
    recorder, series, completed = _run_decode(model, prefilled, config)
    recorder.preemptions += prefilled.preemptions
    prefill_n, decode_n = model.split.replicas(model.dep)
    return summarise(
        recorder,
        _series(prefilled.series + series),
        replicas=prefill_n + decode_n,
        router=config.router.value,
        clipped_requests=prefilled.clipped,
        replica_requests=tuple(completed),
    )
