"""Replicas behind routers, closed-loop clients, monotone properties and the max-rate search."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import deploy
from llmplan.errors import InputError
from llmplan.sim import (
    ClosedLoop,
    FixedLength,
    LognormalLength,
    OpenLoop,
    PoissonArrivals,
    ReplicaModel,
    Router,
    SimConfig,
    SloTargets,
    Trace,
    TraceReplay,
    find_max_rate,
    simulate,
)

INPUTS = LognormalLength.from_mean_p95(1024, 3000)
OUTPUTS = LognormalLength.from_mean_p95(256, 700)


def _capacity_per_replica() -> float:
    """Requests/s one replica of Llama-3.1-8B on an H100 serves at the mean lengths
    (analytic offline throughput; about 17 with the bundled profiles), so the loads below
    stay at the same share of capacity when the engine profiles are refitted."""
    from llmplan.perf.load import Load, LoadKind
    from llmplan.perf.serving import predict

    dep = deploy("meta-llama/Llama-3.1-8B", "H100")
    return predict(dep, Load(LoadKind.OFFLINE, 1024, 256)).requests_per_s


CAPACITY_PER_REPLICA = _capacity_per_replica()


@pytest.fixture(scope="module")
def model() -> ReplicaModel:
    dep = deploy("meta-llama/Llama-3.1-8B", "H100")
    return ReplicaModel.of(dep, OpenLoop(PoissonArrivals(1.0), INPUTS, OUTPUTS))


def _poisson(rate: float) -> OpenLoop:
    return OpenLoop(PoissonArrivals(rate), INPUTS, OUTPUTS)


def _config(requests: int, replicas: int = 1, router: Router = Router.ROUND_ROBIN) -> SimConfig:
    return SimConfig(num_requests=requests, replicas=replicas, router=router)


def test_round_robin_splits_requests_evenly(model: ReplicaModel) -> None:
    result = simulate(model, _poisson(30.0), _config(1000, 4), np.random.default_rng(0))
    assert result.replica_requests == (250, 250, 250, 250)


def test_one_replica_routes_the_same_either_way(model: ReplicaModel) -> None:
    work = _poisson(10.0)
    rr = simulate(model, work, _config(500), np.random.default_rng(1))
    lor = simulate(
        model, work, _config(500, router=Router.LEAST_OUTSTANDING), np.random.default_rng(1)
    )
    assert rr.as_dict(series=True) | {"router": ""} == lor.as_dict(series=True) | {"router": ""}


def test_least_outstanding_sends_work_to_the_idle_replica(model: ReplicaModel) -> None:
    """A long request at t=0 and short ones at t=1 and t=5: round robin puts the third
    behind the long one, least-outstanding on the replica that has finished."""
    trace = TraceReplay(
        Trace(np.array([0.0, 1.0, 5.0]), np.array([500, 500, 500]), np.array([2000, 10, 10]))
    )
    rr = simulate(model, trace, _config(3, 2), np.random.default_rng(0))
    lor = simulate(model, trace, _config(3, 2, Router.LEAST_OUTSTANDING), np.random.default_rng(0))
    assert rr.replica_requests == (2, 1)
    assert lor.replica_requests == (1, 2)
    assert lor.ttft.max_ms < rr.ttft.max_ms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_outstanding_shortens_the_ttft_tail(model: ReplicaModel, seed: int) -> None:
    """At ~85 % load with heavy-tailed lengths, balancing by queue beats blind turns."""
    work = _poisson(4 * 0.85 * CAPACITY_PER_REPLICA)
    rr = simulate(model, work, _config(3000, 4), np.random.default_rng(seed))
    lor = simulate(
        model, work, _config(3000, 4, Router.LEAST_OUTSTANDING), np.random.default_rng(seed)
    )
    assert lor.ttft.p99_ms < rr.ttft.p99_ms
    assert sum(lor.replica_requests) == 3000


@pytest.mark.parametrize("router", list(Router))
def test_closed_loop_obeys_littles_law(model: ReplicaModel, router: Router) -> None:
    """Each of ``clients`` users cycles through a request and a think time, so the
    throughput is clients / (mean e2e + think) (within 3 %: the run's start and end),
    and never more than ``clients`` requests are in the system."""
    clients, think_s = 40, 2.0
    work = ClosedLoop(clients, think_s, INPUTS, OUTPUTS)
    result = simulate(model, work, _config(4000, 2, router), np.random.default_rng(0))
    assert result.requests == 4000
    expected = clients / (result.e2e.mean_ms / 1e3 + think_s)
    assert result.requests_per_s == pytest.approx(expected, rel=0.03)
    assert np.all(result.series.queue + result.series.running <= clients)


def test_closed_loop_is_deterministic(model: ReplicaModel) -> None:
    work = ClosedLoop(8, 0.5, INPUTS, FixedLength(64))
    runs = [simulate(model, work, _config(300, 2), np.random.default_rng(3)) for _ in range(2)]
    assert runs[0].as_dict(series=True) == runs[1].as_dict(series=True)


@given(
    rate=st.floats(min_value=5.0, max_value=60.0),
    replicas=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_more_replicas_never_lower_throughput(
    model: ReplicaModel, rate: float, replicas: int, seed: int
) -> None:
    """At a fixed offered load (same requests, same arrival times). Throughput is requests
    over the whole run, which ends with the last request's own service: which replica it
    lands on (and with what company) moves a 300-request run by a few percent at light
    load, hence 3 %."""
    work = _poisson(rate)
    fewer = simulate(model, work, _config(300, replicas), np.random.default_rng(seed))
    more = simulate(model, work, _config(300, replicas + 1), np.random.default_rng(seed))
    assert more.requests_per_s >= 0.97 * fewer.requests_per_s


@given(
    rate=st.floats(min_value=1.0, max_value=30.0),
    factor=st.floats(min_value=1.5, max_value=3.0),
    replicas=st.integers(min_value=1, max_value=2),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_higher_rate_never_lowers_p99_ttft(
    model: ReplicaModel, rate: float, factor: float, replicas: int, seed: int
) -> None:
    """Same seed, so the faster run's arrivals are the slower run's compressed; rates at
    least 1.5x apart and a 10 % allowance for the noise of a 500-request p99."""
    slow = simulate(
        model, _poisson(rate * replicas), _config(500, replicas), np.random.default_rng(seed)
    )
    fast = simulate(
        model,
        _poisson(rate * factor * replicas),
        _config(500, replicas),
        np.random.default_rng(seed),
    )
    assert fast.ttft.p99_ms >= 0.9 * slow.ttft.p99_ms


def test_find_max_rate_brackets_the_slo(model: ReplicaModel) -> None:
    slo = SloTargets(ttft_ms=500, tpot_ms=30, percentile=95)
    found = find_max_rate(model, INPUTS, OUTPUTS, slo, num_requests=1000)
    assert found.result is not None and found.result.meets_slo
    assert found.failing_rate_per_s <= found.rate_per_s * 1.011
    assert 0.4 * CAPACITY_PER_REPLICA < found.rate_per_s < 1.2 * CAPACITY_PER_REPLICA
    above = simulate(
        model, _poisson(found.failing_rate_per_s), SimConfig(num_requests=1000, slo=slo),
        np.random.default_rng(0),
    )  # fmt: skip
    assert not above.meets_slo
    looser = find_max_rate(
        model, INPUTS, OUTPUTS, SloTargets(ttft_ms=500, tpot_ms=60), num_requests=1000
    )
    assert looser.rate_per_s > found.rate_per_s
    doubled = find_max_rate(model, INPUTS, OUTPUTS, slo, num_requests=1000, replicas=2)
    assert doubled.rate_per_s == pytest.approx(2 * found.rate_per_s, rel=0.15)


def test_find_max_rate_when_nothing_meets_the_slo(model: ReplicaModel) -> None:
    found = find_max_rate(model, INPUTS, OUTPUTS, SloTargets(ttft_ms=1.0), num_requests=200)
    assert found.rate_per_s == 0.0 and found.result is None
    with pytest.raises(InputError):
        find_max_rate(model, INPUTS, OUTPUTS, SloTargets(), num_requests=200)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: SimConfig(num_requests=0),
        lambda: SimConfig(replicas=0),
        lambda: SloTargets(ttft_ms=0),
        lambda: SloTargets(percentile=100),
    ],
)
def test_bad_configurations_are_input_errors(bad: Callable[[], object]) -> None:
    with pytest.raises(InputError):
        bad()


def test_workers_split_round_robin_replicas_with_the_same_result(model: ReplicaModel) -> None:
    """Two processes, each simulating half the replicas: the same numbers up to the order
    of floating-point sums (means); percentiles, counts and series are identical."""
    work = _poisson(40.0)
    serial = simulate(model, work, _config(2000, 3), np.random.default_rng(5))
    config = SimConfig(num_requests=2000, replicas=3, workers=2)
    parallel = simulate(model, work, config, np.random.default_rng(5))
    assert parallel.replica_requests == serial.replica_requests
    assert parallel.ttft.percentiles_ms == serial.ttft.percentiles_ms
    assert parallel.ttft.mean_ms == pytest.approx(serial.ttft.mean_ms, rel=1e-12)
    assert parallel.requests_per_s == pytest.approx(serial.requests_per_s, rel=1e-12)
    assert np.array_equal(parallel.series.queue, serial.series.queue)
    with pytest.raises(InputError):
        SimConfig(workers=0)


def test_series_obey_littles_law(model: ReplicaModel) -> None:
    """The time-average of queued + running requests over the run equals throughput x
    mean e2e (Little's law), to 3 %: the series are the state at each bucket's start."""
    result = simulate(model, _poisson(24.0), _config(8000, 2), np.random.default_rng(0))
    series = result.series
    inside = series.time_s <= result.duration_s
    in_system = (series.queue + series.running)[inside].mean()
    expected = result.requests_per_s * result.e2e.mean_ms / 1e3
    assert in_system == pytest.approx(expected, rel=0.03)
    assert len(series.time_s) <= SimConfig().series_points
    assert 0 <= series.kv_utilisation.min() <= series.kv_utilisation.max() <= 1
