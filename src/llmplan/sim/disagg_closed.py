"""Closed-loop clients on a disaggregated design: both pools in one event loop.

Each client sends its next request an exponential think time after the previous one's
last token (:class:`~llmplan.sim.arrivals.ClosedLoop`). Requests go round-robin to the
prefill replicas; a finished prompt's KV transfer ends at ``first token + transfer``,
when the request goes round-robin to the decode replicas
(:class:`~llmplan.sim.disagg.DecodeReplica`); its last token frees the client. Events
run in global time order: replicas' step ends first, then client requests and
hand-overs in time order (as :mod:`llmplan.sim.cluster` runs closed loops).
"""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heappop, heappush

import numpy as np

from llmplan.sim.arrivals import ClosedLoop
from llmplan.sim.cluster import SimConfig, _series
from llmplan.sim.disagg import DecodeReplica, DisaggregatedModel
from llmplan.sim.engine import Replica
from llmplan.sim.sketch import SeriesRecorder
from llmplan.sim.state import INF, Request
from llmplan.sim.stats import Recorder, SimResult, summarise

_ARRIVE, _HAND_OVER = 0, 1


class _ClosedRun:
    """The state of one closed-loop run: replicas, pending events and the requests."""

    def __init__(self, model: DisaggregatedModel, config: SimConfig) -> None:
        prefill_n, decode_n = model.split.replicas(model.dep)
        self.model = model
        self.recorder = Recorder(slo=config.slo)
        self.series = [SeriesRecorder(config.series_points) for _ in range(prefill_n + decode_n)]
        self.scratch = Recorder()  # the prefill pool's one-token requests are not reported
        first, then = model.prefill, model.decode
        self.prefill = [
            Replica(first.limits, first.lookup, self.scratch, s) for s in self.series[:prefill_n]
        ]
        self.decode = [
            DecodeReplica(then.limits, then.lookup, self.recorder, s)
            for s in self.series[prefill_n:]
        ]
        for replica in self.prefill:
            replica.on_complete = self._prefilled
        for replica in self.decode:
            replica.on_complete = self._finished
        self.pending: list[tuple[float, int, int, int]] = []  # time, order, kind, index
        self.order = 0
        self.arrival_s: list[float] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.client: list[int] = []
        self.waiting: dict[int, Request] = {}
        self.turns = [0, 0]
        self.clipped = 0
        self.draws: Iterator[tuple[float, int, int]] = iter(())

    def _push(self, time_s: float, kind: int, index: int) -> None:
        heappush(self.pending, (time_s, self.order, kind, index))
        self.order += 1

    def issue(self, client: int, after_s: float) -> None:
        """The client's next request, a think time after ``after_s``."""
        draw = next(self.draws, None)
        if draw is None:
            return
        think, inp, out = draw
        longest = self.model.max_request_tokens
        if inp + out > longest:
            self.clipped += 1
            inp = min(inp, longest - 1)
            out = min(out, longest - inp)
        index = len(self.arrival_s)
        self.arrival_s.append(after_s + think)
        self.inputs.append(inp)
        self.outputs.append(out)
        self.client.append(client)
        self._push(after_s + think, _ARRIVE, index)

    def _prefilled(self, req: Request, now: float) -> None:
        index = req.client
        handed = now + self.model.transfer_s(self.inputs[index], now - self.arrival_s[index])
        done = Request(self.arrival_s[index], self.inputs[index], self.outputs[index], index)
        done.first_token_s, done.generated = handed, 1
        done.computed, done.prefill_left = done.input_tokens, 0
        self.waiting[index] = done
        self._push(handed, _HAND_OVER, index)

    def _finished(self, req: Request, now: float) -> None:
        self.issue(self.client[req.client], now)

    def _next_replica(self, pool: int) -> int:
        count = len(self.prefill) if pool == 0 else len(self.decode)
        turn = self.turns[pool]
        self.turns[pool] = (turn + 1) % count
        return turn

    def dispatch(self) -> None:
        """Handle the earliest pending event (a request, or a hand-over)."""
        time_s, _, kind, index = heappop(self.pending)
        if kind == _ARRIVE:
            replica = self.prefill[self._next_replica(0)]
            replica.add(Request(time_s, self.inputs[index], 1, index))
            return
        req = self.waiting.pop(index)
        if req.output_tokens <= 1:  # done with its first token
            req.last_token_s = time_s
            self.recorder.done.append(req)
            self.issue(self.client[index], time_s)
            return
        self.decode[self._next_replica(1)].receive(time_s, req)

    def run(self) -> None:
        replicas: list[Replica] = [*self.prefill, *self.decode]
        while True:
            event_s = self.pending[0][0] if self.pending else INF
            nxt = min(replicas, key=lambda r: r.segment_end_s)
            if nxt.segment_end_s <= event_s:
                if nxt.segment_end_s == INF:
                    break
                nxt.advance_to(nxt.segment_end_s)
                continue
            self.dispatch()
        for replica in replicas:
            replica.close_series()
        self.recorder.preemptions += self.scratch.preemptions


def simulate_closed_disaggregated(
    model: DisaggregatedModel,
    workload: ClosedLoop,
    config: SimConfig,
    rng: np.random.Generator,
) -> SimResult:
    """Run ``config.num_requests`` requests of ``workload.clients`` closed-loop clients
    through both pools of ``model``."""
    run = _ClosedRun(model, config)
    run.draws = workload.draws(rng, config.num_requests)
    for client in range(workload.clients):
        run.issue(client, 0.0)
    run.run()
    return summarise(
        run.recorder,
        _series(run.series),
        replicas=len(run.prefill) + len(run.decode),
        router=config.router.value,
        clipped_requests=run.clipped,
        replica_requests=tuple(r.completed for r in run.decode),
    )
