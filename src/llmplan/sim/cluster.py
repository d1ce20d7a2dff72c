"""Several replicas behind a router, and :func:`simulate`, the simulator's entry point.

Routers: ``round-robin`` sends request ``i`` to replica ``i mod R``; ``least-outstanding``
sends it to the replica with the fewest requests queued or running (lowest index on
ties). Open-loop arrivals are known in advance, so each replica is advanced only to the
next arrival it must see (replicas do not interact between arrivals); closed-loop clients
send requests when earlier ones finish, so replicas advance in global time order.

>>> import numpy as np
>>> from llmplan.catalog.loader import bundled_catalog
>>> from llmplan.deployment import Deployment
>>> from llmplan.sim import FixedLength, OpenLoop, PoissonArrivals, SimConfig
>>> dep = Deployment.from_names(bundled_catalog(), model="Llama-3.1-8B", gpu="H100")
>>> work = OpenLoop(PoissonArrivals(5.0), FixedLength(512), FixedLength(128))
>>> result = simulate(ReplicaModel.of(dep, work), work, SimConfig(num_requests=2000),
...                   np.random.default_rng(1))
>>> result.requests, round(result.requests_per_s)
(2000, 5)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from heapq import heappop, heappush

import numpy as np

from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError, InputError
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.sim.arrivals import ClosedLoop, OpenLoop, RequestChunk, TraceReplay, Workload
from llmplan.sim.engine import Replica
from llmplan.sim.lookup import StepLookup
from llmplan.sim.sketch import SeriesRecorder
from llmplan.sim.speculation import cached_tokens, sampling_steps
from llmplan.sim.state import BLOCK_TOKENS, INF, EngineLimits, Request, engine_limits
from llmplan.sim.stats import Recorder, SimResult, SimSeries, SloTargets, summarise
from llmplan.sim.steptable import StepTimeTable, build_step_table

MAX_REPLICAS = 10_000
MAX_REQUESTS = 100_000_000
MAX_WORKERS = 64


class Router(StrEnum):
    ROUND_ROBIN = "round-robin"
    LEAST_OUTSTANDING = "least-outstanding"


@dataclass(frozen=True)
class SimConfig:
    """How many requests to run, on how many replicas, routed how, against which SLO."""

    num_requests: int = 10_000
    replicas: int = 1
    router: Router = Router.ROUND_ROBIN
    slo: SloTargets = field(default_factory=SloTargets)
    series_points: int = 256
    workers: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.num_requests <= MAX_REQUESTS:
            raise InputError(
                f"must be between 1 and {MAX_REQUESTS:,}, got {self.num_requests}",
                field="requests",
            )
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise InputError(
                f"must be between 1 and {MAX_REPLICAS:,}, got {self.replicas}", field="replicas"
            )
        if not 1 <= self.workers <= MAX_WORKERS:
            raise InputError(
                f"must be between 1 and {MAX_WORKERS}, got {self.workers}", field="workers"
            )
        if self.series_points < 2:
            raise InputError(f"must be >= 2, got {self.series_points}", field="series_points")


def request_token_limit(
    dep: Deployment,
    input_tokens: float,
    output_tokens: float,
    limits: EngineLimits | None = None,
) -> int:
    """Longest request (prompt + output tokens) one replica of ``dep`` holds: the model's
    context, and the KV cache less the admission watermark and a block. Longer requests
    are cut to it. Raises DoesNotFitError when the mean request (``input_tokens`` +
    ``output_tokens``) is longer: the simulator, and the planner, refuse such designs."""
    if limits is None:
        limits = engine_limits(dep, reference_context=input_tokens + output_tokens / 2)
    spare = (limits.watermark_blocks + 1) * BLOCK_TOKENS
    longest = min(dep.model.max_context_tokens, limits.capacity_tokens - spare)
    if longest < input_tokens + output_tokens:
        raise DoesNotFitError(
            f"{dep.model.id} in {dep.weights.id} on {dep.num_gpus} x {dep.gpu.id} "
            f"(tp={dep.tp}, pp={dep.pp}) holds at most {max(longest, 0):,} tokens per "
            f"request, fewer than the mean {input_tokens + output_tokens:,.0f}; use more "
            "GPUs, a smaller precision or shorter requests"
        )
    return longest


Extras = tuple[list[int], list[int]]
"""Cached prompt tokens and sampling steps of consecutive requests."""


@dataclass(frozen=True)
class ReplicaModel:
    """What the simulator needs of one replica: scheduler limits, step-time table,
    the longest request (prompt + output tokens) it can hold, and the load's prefix
    caching and speculative decoding (``features``)."""

    limits: EngineLimits
    table: StepTimeTable
    max_request_tokens: int
    model_id: str
    features: Features = NO_FEATURES
    lookup: StepLookup = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lookup", StepLookup(self.table))

    @classmethod
    def of(
        cls, dep: Deployment, workload: Workload | None = None, features: Features = NO_FEATURES
    ) -> ReplicaModel:
        """Build for ``dep`` (~40 ms); ``workload``'s mean lengths set the reference
        context of sliding-window caches and are checked to fit; ``features``: prefix
        caching and speculative decoding."""
        inp, out = workload.mean_lengths() if workload is not None else (1024.0, 256.0)
        spec = features.spec
        per_decode = 1 if spec is None else spec.draft_tokens + 1
        limits = engine_limits(dep, reference_context=inp + out / 2, decode_tokens=per_decode)
        longest = request_token_limit(dep, inp, out, limits)
        table = build_step_table(dep, max_context=float(longest), spec=spec)
        return cls(
            limits=limits,
            table=table,
            max_request_tokens=longest,
            model_id=dep.model.id,
            features=features,
        )

    def extras(self, chunk: RequestChunk, rng: np.random.Generator) -> Extras | None:
        """Cached prompt tokens and sampling steps of ``chunk``'s requests, drawn from
        ``rng`` (:mod:`llmplan.sim.speculation`); None without either feature."""
        hit, spec = self.features.prefix_hit, self.features.spec
        if not hit and spec is None:
            return None
        _, inputs, outputs = chunk
        cached = cached_tokens(inputs, hit) if hit else np.zeros_like(inputs)
        steps = sampling_steps(rng, spec, outputs) if spec is not None else outputs
        return cached.tolist(), steps.tolist()

    def clip(
        self, chunk: RequestChunk, *, strict: bool, first: int = 0
    ) -> tuple[RequestChunk, int]:
        """Lengths cut to fit one request's limit (prompt first, then output), and how
        many requests were cut; with ``strict`` an over-long request (numbered from
        ``first`` + 1 for the chunk's first) is an error instead."""
        times, inputs, outputs = chunk
        longest = self.max_request_tokens
        over = inputs + outputs > longest
        cut = int(over.sum())
        if cut and strict:
            index = int(np.argmax(over))
            raise InputError(
                f"request {first + index + 1} needs {int(inputs[index] + outputs[index]):,} "
                f"tokens; one replica holds at most {longest:,}",
                field="trace",
            )
        if cut:
            inputs = np.minimum(inputs, longest - 1)
            outputs = np.minimum(outputs, longest - inputs)
        return (times, inputs, outputs), cut


@dataclass
class Share:
    """What some replicas of a run measured: the recorder they shared, each one's series
    and completed requests (in order of ``indices``, their places among all replicas)."""

    indices: tuple[int, ...]
    recorder: Recorder
    series: list[SeriesRecorder]
    completed: list[int]
    clipped: int = 0


@dataclass
class _Run:
    replicas: list[Replica]
    indices: tuple[int, ...]
    recorder: Recorder
    series: list[SeriesRecorder]
    clipped: int = 0

    def share(self) -> Share:
        completed = [r.completed for r in self.replicas]
        return Share(self.indices, self.recorder, self.series, completed, self.clipped)


def _start(model: ReplicaModel, config: SimConfig, indices: tuple[int, ...]) -> _Run:
    recorder = Recorder(slo=config.slo)
    series = [SeriesRecorder(config.series_points) for _ in indices]
    replicas = [Replica(model.limits, model.lookup, recorder, s) for s in series]
    return _Run(replicas, indices, recorder, series)


def _chunks(
    model: ReplicaModel, workload: Workload, rng: np.random.Generator, count: int, run: _Run
) -> Iterator[tuple[RequestChunk, Extras | None]]:
    assert not isinstance(workload, ClosedLoop)
    strict = isinstance(workload, TraceReplay)
    first = 0
    for chunk in workload.chunks(rng, count):
        clipped, cut = model.clip(chunk, strict=strict, first=first)
        run.clipped += cut
        first += len(chunk[0])
        yield clipped, model.extras(clipped, rng)


def _run_round_robin(
    run: _Run, chunks: Iterator[tuple[RequestChunk, Extras | None]], replicas: int
) -> None:
    """Request ``i`` goes to replica ``i mod replicas``: replicas are independent, so
    each of this run's takes its share of a chunk in one call."""
    first = 0  # replica of the chunk's first request
    for (times, inputs, outputs), extras in chunks:
        for index, replica in zip(run.indices, run.replicas, strict=True):
            start = (index - first) % replicas
            mine = None
            if extras is not None:
                mine = (extras[0][start::replicas], extras[1][start::replicas])
            replica.feed(
                times[start::replicas].tolist(),
                inputs[start::replicas].tolist(),
                outputs[start::replicas].tolist(),
                mine,
            )
        first = (first + len(times)) % replicas
    for replica in run.replicas:
        replica.drain()


def simulate_share(
    model: ReplicaModel,
    workload: OpenLoop | TraceReplay,
    config: SimConfig,
    rng: np.random.Generator,
    indices: tuple[int, ...],
) -> Share:
    """Run the replicas ``indices`` of a round-robin cluster (each share of a run draws
    the whole arrival stream from the same ``rng`` state and keeps its own requests)."""
    run = _start(model, config, indices)
    chunks = _chunks(model, workload, rng, config.num_requests, run)
    _run_round_robin(run, chunks, config.replicas)
    return run.share()


def _run_least_outstanding(run: _Run, chunks: Iterator[tuple[RequestChunk, Extras | None]]) -> None:
    """Each request goes to the replica with the fewest outstanding requests once every
    replica has been advanced to its arrival."""
    replicas = run.replicas
    for (times, inputs, outputs), extras in chunks:
        outs = outputs.tolist()
        cached, steps = extras if extras is not None else ([0] * len(outs), outs)
        rows = zip(times.tolist(), inputs.tolist(), outs, cached, steps, strict=True)
        for t, inp, out, hit, step in rows:
            target = replicas[0]
            best = math.inf
            for r in replicas:
                if r.segment_end_s <= t:
                    r.advance_to(t)
                if r.outstanding < best:
                    best = r.outstanding
                    target = r
            target.add(Request(t, inp, out, -1, hit, step))
    for r in replicas:
        r.drain()


def _closed_draws(
    model: ReplicaModel, workload: ClosedLoop, rng: np.random.Generator, count: int, run: _Run
) -> Iterator[tuple[float, Request]]:
    """Think times and requests (arrival times set when issued) of a closed loop."""
    longest = model.max_request_tokens
    for think, inp, out in workload.draws(rng, count):
        if inp + out > longest:
            run.clipped += 1
            inp = min(inp, longest - 1)
            out = min(out, longest - inp)
        if model.features == NO_FEATURES:
            yield think, Request(0.0, inp, out)
            continue
        one = (np.zeros(1), np.array([inp], dtype=np.int64), np.array([out], dtype=np.int64))
        extras = model.extras(one, rng)
        assert extras is not None
        yield think, Request(0.0, inp, out, -1, extras[0][0], extras[1][0])


def _run_closed(
    run: _Run, draws: Iterator[tuple[float, Request]], clients: int, router: Router
) -> None:
    """Each client's next request is issued when its previous one finishes (plus think
    time); events run in global time order, replicas' step ends before arrivals."""
    pending: list[tuple[float, int, Request]] = []  # time, order, request
    order = 0

    def issue(client: int, after_s: float) -> None:
        nonlocal order
        draw = next(draws, None)
        if draw is not None:
            think, req = draw
            req.arrival_s = after_s + think
            req.client = client
            heappush(pending, (req.arrival_s, order, req))
            order += 1

    def finished(req: Request, now: float) -> None:
        issue(req.client, now)

    replicas = run.replicas
    for r in replicas:
        r.on_complete = finished
    for client in range(clients):
        issue(client, 0.0)
    turn = 0
    while True:
        arrival_s = pending[0][0] if pending else INF
        nxt = min(replicas, key=lambda r: r.segment_end_s)
        if nxt.segment_end_s <= arrival_s:
            if nxt.segment_end_s == INF:
                for r in replicas:
                    r.close_series()
                return
            nxt.advance_to(nxt.segment_end_s)
            continue
        _, _, req = heappop(pending)
        if router is Router.LEAST_OUTSTANDING:
            target = min(replicas, key=lambda r: r.outstanding)
        else:
            target = replicas[turn]
            turn = (turn + 1) % len(replicas)
        target.add(req)


def _series(series: list[SeriesRecorder]) -> SimSeries:
    width = max(s.width_s for s in series)
    for s in series:
        s.widen_to(width)
    length = max(max(len(s.rows) for s in series), 1)
    stacked = np.stack([s.padded(length) for s in series])
    return SimSeries(
        time_s=np.arange(length, dtype=np.float64) * width,
        queue=stacked[:, :, 0].sum(axis=0),
        running=stacked[:, :, 1].sum(axis=0),
        kv_utilisation=stacked[:, :, 2].mean(axis=0),
    )


def _run_serial(
    model: ReplicaModel, workload: Workload, config: SimConfig, rng: np.random.Generator
) -> Share:
    indices = tuple(range(config.replicas))
    if isinstance(workload, ClosedLoop):
        run = _start(model, config, indices)
        draws = _closed_draws(model, workload, rng, config.num_requests, run)
        _run_closed(run, draws, workload.clients, config.router)
        return run.share()
    if config.router is Router.ROUND_ROBIN:
        return simulate_share(model, workload, config, rng, indices)
    run = _start(model, config, indices)
    _run_least_outstanding(run, _chunks(model, workload, rng, config.num_requests, run))
    return run.share()


def merge_shares(shares: list[Share], config: SimConfig) -> SimResult:
    """One result from the shares of a run (in any order)."""
    ordered = sorted(shares, key=lambda s: s.indices)
    recorder = ordered[0].recorder
    for other in ordered[1:]:
        recorder.merge(other.recorder)
    places = sorted(
        (index, series, done)
        for share in ordered
        for index, series, done in zip(share.indices, share.series, share.completed, strict=True)
    )  # fmt: skip
    return summarise(
        recorder,
        _series([series for _, series, _ in places]),
        replicas=config.replicas,
        router=config.router.value,
        clipped_requests=ordered[0].clipped,
        replica_requests=tuple(done for _, _, done in places),
    )


def simulate(
    model: ReplicaModel,
    workload: Workload,
    config: SimConfig,
    rng: np.random.Generator,
) -> SimResult:
    """Run ``config.num_requests`` requests of ``workload`` (all of a shorter trace)
    through ``config.replicas`` replicas of ``model``; same ``rng`` state, same result.

    With ``config.workers`` > 1, an open-loop round-robin run splits its replicas over
    that many processes (:mod:`llmplan.sim.parallel`); results then equal the serial
    run's up to floating-point summation order."""
    parallel = config.workers > 1 and config.replicas > 1
    if parallel and config.router is Router.ROUND_ROBIN and not isinstance(workload, ClosedLoop):
        from llmplan.sim.parallel import simulate_parallel  # imports the process machinery

        return merge_shares(simulate_parallel(model, workload, config, rng), config)
    return merge_shares([_run_serial(model, workload, config, rng)], config)
