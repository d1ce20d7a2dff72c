"""Arrival processes, length distributions and traces: moments, determinism, errors.

Statistical checks use 200,000 draws with fixed seeds; tolerances (2-3 %) are several
standard errors wide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from llmplan.errors import InputError
from llmplan.sim import (
    ArrivalProcess,
    ClosedLoop,
    EmpiricalLength,
    FixedLength,
    GammaArrivals,
    HourlyArrivals,
    LognormalLength,
    OpenLoop,
    PoissonArrivals,
    TraceReplay,
    UniformLength,
    load_lengths,
    load_trace,
)
from llmplan.sim.arrivals import CHUNK_REQUESTS

DRAWS = 200_000


def _gaps(process: ArrivalProcess, seed: int = 0) -> np.ndarray:
    times = process.times(np.random.default_rng(seed), 0.0, DRAWS)
    return np.diff(np.concatenate([[0.0], times]))


def test_poisson_gaps_have_the_rate_and_cv_one() -> None:
    gaps = _gaps(PoissonArrivals(25.0))
    assert 1 / gaps.mean() == pytest.approx(25.0, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("cv", [0.5, 2.0, 3.0])
def test_gamma_gaps_have_the_rate_and_cv(cv: float) -> None:
    gaps = _gaps(GammaArrivals(10.0, cv))
    assert 1 / gaps.mean() == pytest.approx(10.0, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.03)


def test_hourly_profile_rates_per_hour_and_quiet_hours() -> None:
    rates = tuple([0.0] * 6 + [2.0] * 6 + [8.0] * 6 + [4.0] * 6)
    process = HourlyArrivals(rates)
    times = process.times(np.random.default_rng(0), 0.0, DRAWS)
    assert np.all(np.diff(times) >= 0)
    days = int(times[-1] // 86400)  # whole days only
    hours = (times[times < days * 86400] // 3600 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts[:6].sum() == 0
    for hour in (6, 12, 18):
        expected = rates[hour] * 3600 * days
        assert counts[hour : hour + 6].mean() == pytest.approx(expected, rel=0.03)
    assert process.mean_rate_per_s == pytest.approx(14 * 6 / 24)


def test_hourly_profile_starts_at_its_hour_and_continues_across_chunks() -> None:
    rates = tuple([1.0] * 12 + [0.0] * 12)
    process = HourlyArrivals(rates, start_hour=12)  # time 0 is noon: nothing until midnight
    rng = np.random.default_rng(3)
    first = process.times(rng, 0.0, 1000)
    assert first[0] >= 12 * 3600
    later = process.times(rng, float(first[-1]), 1000)
    assert later[0] > first[-1]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: PoissonArrivals(0.0),
        lambda: PoissonArrivals(float("nan")),
        lambda: GammaArrivals(1.0, 0.0),
        lambda: HourlyArrivals((1.0,) * 23),
        lambda: HourlyArrivals((0.0,) * 24),
        lambda: HourlyArrivals((1.0,) * 23 + (-1.0,)),
        lambda: ClosedLoop(0, 1.0, FixedLength(10), FixedLength(10)),
        lambda: ClosedLoop(2, -1.0, FixedLength(10), FixedLength(10)),
    ],
)
def test_bad_processes_are_input_errors(bad: Callable[[], object]) -> None:
    with pytest.raises(InputError):
        bad()


def test_lognormal_from_mean_and_p95() -> None:
    lengths = LognormalLength.from_mean_p95(1000, 3000)
    draws = lengths.sample(np.random.default_rng(0), DRAWS)
    assert draws.min() >= 1
    assert draws.mean() == pytest.approx(1000, rel=0.02)
    assert np.percentile(draws, 95) == pytest.approx(3000, rel=0.02)
    assert lengths.mean_tokens == pytest.approx(1000)


def test_lognormal_from_median_and_p95() -> None:
    draws = LognormalLength.from_median_p95(500, 2000).sample(np.random.default_rng(1), DRAWS)
    assert np.median(draws) == pytest.approx(500, rel=0.02)
    assert np.percentile(draws, 95) == pytest.approx(2000, rel=0.02)


def test_lognormal_rejects_impossible_p95() -> None:
    with pytest.raises(InputError, match=r"3\.87"):
        LognormalLength.from_mean_p95(1000, 5000)
    with pytest.raises(InputError) as info:
        LognormalLength.from_mean_p95(1000, 900)
    assert info.value.field == "p95"
    assert LognormalLength.from_mean_p95(1000, 1000).sigma == 0.0


def test_fixed_uniform_and_empirical_lengths() -> None:
    rng = np.random.default_rng(0)
    assert set(FixedLength(7).sample(rng, 100).tolist()) == {7}
    uniform = UniformLength(10, 20).sample(rng, DRAWS)
    assert (uniform.min(), uniform.max()) == (10, 20)
    assert uniform.mean() == pytest.approx(15, rel=0.01)
    empirical = EmpiricalLength(np.array([3, 30, 300]))
    assert set(empirical.sample(rng, 1000).tolist()) == {3, 30, 300}
    assert empirical.mean_tokens == 111
    for bad in (lambda: FixedLength(0), lambda: UniformLength(5, 4)):
        with pytest.raises(InputError):
            bad()


def test_length_file(tmp_path: Path) -> None:
    good = tmp_path / "lengths.txt"
    good.write_text("tokens\n# a comment\n120\n\n45  # inline\n")
    assert load_lengths(good).values.tolist() == [120, 45]
    bad = tmp_path / "bad.txt"
    bad.write_text("10\n2x\n")
    with pytest.raises(InputError, match="line 2"):
        load_lengths(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="no lengths"):
        load_lengths(empty)


def test_open_loop_chunks_are_deterministic_and_continuous() -> None:
    work = OpenLoop(PoissonArrivals(5.0), LognormalLength.from_mean_p95(100, 300), FixedLength(9))
    count = CHUNK_REQUESTS + 100
    first = list(work.chunks(np.random.default_rng(4), count))
    again = list(work.chunks(np.random.default_rng(4), count))
    assert [len(c[0]) for c in first] == [CHUNK_REQUESTS, 100]
    for (t1, i1, o1), (t2, i2, o2) in zip(first, again, strict=True):
        assert np.array_equal(t1, t2) and np.array_equal(i1, i2) and np.array_equal(o1, o2)
    times = np.concatenate([c[0] for c in first])
    assert np.all(np.diff(times) > 0)


def test_poisson_at_another_rate_scales_times_and_keeps_lengths() -> None:
    """Common random numbers: what makes the max-rate search's trials comparable."""
    lengths = LognormalLength.from_mean_p95(100, 300)
    slow = next(
        OpenLoop(PoissonArrivals(2.0), lengths, lengths).chunks(np.random.default_rng(5), 50)
    )
    fast = next(
        OpenLoop(PoissonArrivals(8.0), lengths, lengths).chunks(np.random.default_rng(5), 50)
    )
    assert np.allclose(slow[0], 4 * fast[0])
    assert np.array_equal(slow[1], fast[1]) and np.array_equal(slow[2], fast[2])


TRACE_HEADER = "arrival_s,input_tokens,output_tokens\n"


def _trace(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_trace_loads_with_columns_in_any_order(tmp_path: Path) -> None:
    path = _trace(
        tmp_path, "output_tokens,note,arrival_s,input_tokens\n5,a,0.5,100\n7,b,1.5,200\n\n"
    )
    trace = load_trace(path)
    assert trace.arrival_s.tolist() == [0.5, 1.5]
    assert trace.input_tokens.tolist() == [100, 200]
    assert trace.output_tokens.tolist() == [5, 7]
    replay = TraceReplay(trace, speedup=2.0)
    times, _inputs, _ = next(replay.chunks(np.random.default_rng(0), 10))
    assert times.tolist() == [0.0, 0.5]  # from the first arrival, twice as fast
    assert replay.mean_lengths() == (150.0, 6.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        (TRACE_HEADER, "no requests"),
        ("arrival_s,input_tokens\n0,1\n", "missing column(s) output_tokens"),
        (TRACE_HEADER + "0,100,5\n1,abc,5\n", "line 3, column input_tokens: 'abc'"),
        (TRACE_HEADER + "0,100,0\n", "line 2, column output_tokens: 0 is not >= 1"),
        (TRACE_HEADER + "x,100,5\n", "line 2, column arrival_s"),
        (TRACE_HEADER + "-1,100,5\n", "line 2, column arrival_s"),
        (TRACE_HEADER + "inf,100,5\n", "line 2, column arrival_s"),
        (TRACE_HEADER + "2,100,5\n1,100,5\n", "line 3, column arrival_s: 1 is before"),
        (TRACE_HEADER + "0,100\n", "line 2, column output_tokens: missing"),
    ],
)
def test_malformed_traces_name_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_trace(_trace(tmp_path, text))
    assert message in str(info.value)
    assert info.value.field == "trace"


def test_missing_trace_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_trace(tmp_path / "absent.csv")


def test_scenario_lengths_go_through_the_stated_quantiles() -> None:
    from llmplan.scenario.workloads import LengthDistribution as Stated
    from llmplan.sim.scenario import lengths_from

    rng = np.random.default_rng(0)
    both = lengths_from(Stated(mean=1800, p50=1200, p95=6000)).sample(rng, DRAWS)
    assert np.median(both) == pytest.approx(1200, rel=0.02)
    assert np.percentile(both, 95) == pytest.approx(6000, rel=0.02)
    mean_p95 = lengths_from(Stated(mean=1000, p95=3000)).sample(rng, DRAWS)
    assert mean_p95.mean() == pytest.approx(1000, rel=0.02)
    widest = lengths_from(Stated(mean=1000, p95=9000))  # beyond any lognormal: the widest
    assert widest.mean_tokens == pytest.approx(1000)
    assert lengths_from(Stated(mean=300)).sample(rng, 3).tolist() == [300, 300, 300]
    mean_median = lengths_from(Stated(mean=500, p50=400))
    assert mean_median.mean_tokens == pytest.approx(500)


def test_scenario_traffic_and_slo() -> None:
    from llmplan.scenario import load_example
    from llmplan.sim.scenario import open_loop_from, slo_from

    workload = load_example("chat-assistant").workloads[0]
    peak = open_loop_from(workload)
    assert peak.arrivals.mean_rate_per_s == pytest.approx(workload.peak_requests_per_s())
    slo = slo_from(workload)
    assert (slo.ttft_ms, slo.tpot_ms, slo.percentile) == (2000.0, 50.0, 95.0)
    if workload.hourly_profile is not None:
        day = open_loop_from(workload, whole_day=True)
        expected = workload.requests_per_day_at() / 86400
        assert day.arrivals.mean_rate_per_s == pytest.approx(expected)
    else:
        with pytest.raises(InputError):
            open_loop_from(workload, whole_day=True)
