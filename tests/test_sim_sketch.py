"""Streaming statistics: log-histogram percentiles against numpy, series downsampling."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from llmplan.sim.sketch import RELATIVE_RESOLUTION, LogHistogram, SeriesRecorder

QS = (0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999)
# A quantile read from the histogram is within half a bin (RELATIVE_RESOLUTION, ~0.23 %)
# of a value of the sample near the requested rank; against numpy's interpolated
# percentile on 200,000 continuous values, 0.5 % holds.
NUMPY_TOLERANCE = 0.005


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.lognormal(-3.0, 1.2, n),  # latencies in seconds, heavy tail
        lambda rng, n: rng.uniform(0.01, 0.02, n),  # narrow spread
        lambda rng, n: rng.exponential(5.0, n),
    ],
)
def test_quantiles_match_numpy(
    draw: Callable[[np.random.Generator, int], NDArray[np.float64]],
) -> None:
    rng = np.random.default_rng(0)
    values = draw(rng, 200_000)
    sketch = LogHistogram()
    for part in np.array_split(values, 7):  # streamed in pieces
        sketch.add(part)
    for q in QS:
        assert sketch.quantile(q) == pytest.approx(np.quantile(values, q), rel=NUMPY_TOLERANCE)
    assert sketch.mean == pytest.approx(values.mean(), rel=1e-12)
    assert sketch.min == values.min()
    assert sketch.max == values.max()
    assert sketch.quantile(0) == values.min()
    assert sketch.quantile(1) == values.max()


@given(
    st.lists(st.floats(min_value=1e-5, max_value=1e5, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from(QS),
)
def test_quantile_is_within_half_a_bin_of_the_sample(values: list[float], q: float) -> None:
    """Against the sample value at the requested rank (inverted CDF), any data."""
    sketch = LogHistogram()
    data = np.asarray(values)
    sketch.add(data)
    expected = float(np.quantile(data, q, method="inverted_cdf"))
    got = sketch.quantile(q)
    assert data.min() <= got <= data.max()
    assert got == pytest.approx(expected, rel=RELATIVE_RESOLUTION * (1 + 1e-6))


def test_weights_count_as_repeats() -> None:
    values = np.array([0.01, 0.02, 0.05])
    weights = np.array([10.0, 1.0, 1.0])
    weighted, repeated = LogHistogram(), LogHistogram()
    weighted.add(values, weights)
    repeated.add(np.repeat(values, weights.astype(int)))
    assert weighted.quantiles(QS) == repeated.quantiles(QS)
    assert weighted.mean == pytest.approx(repeated.mean, rel=1e-12)


def test_merge_equals_one_histogram() -> None:
    rng = np.random.default_rng(1)
    a_values, b_values = rng.lognormal(0, 1, 1000), rng.lognormal(1, 1, 500)
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    a.add(a_values)
    b.add(b_values)
    both.add(np.concatenate([a_values, b_values]))
    a.merge(b)
    assert a.quantiles(QS) == both.quantiles(QS)
    assert a.total == both.total == 1500


def test_empty_histogram_and_out_of_range_values() -> None:
    empty = LogHistogram()
    assert math.isnan(empty.quantile(0.5))
    assert math.isnan(empty.mean)
    extremes = LogHistogram(min_value=1e-3, max_value=1e3)
    extremes.add(np.array([1e-6, 5.0, 1e6]))
    assert extremes.quantile(0.01) == 1e-6
    assert extremes.quantile(0.99) == 1e6
    assert extremes.quantile(0.5) == pytest.approx(5.0, rel=RELATIVE_RESOLUTION)


def test_series_keeps_at_most_its_points_and_halves_resolution() -> None:
    series = SeriesRecorder(points=8, first_width_s=1.0)
    t = 0.0
    while t < 100.0:  # an event every 0.25 s; the state before it is t - 0.25
        if t >= series.next_s:
            series.hold(t, queue=t - 0.25, running=1.0, kv_used=0.5)
        t += 0.25
    assert len(series.rows) <= 8
    assert series.width_s == 16.0  # 1 -> 2 -> ... until 8 buckets cover 100 s
    # bucket i starts at i * width and holds the state of that moment
    for i, (queue, running, kv) in enumerate(series.rows):
        assert queue == pytest.approx(i * series.width_s - 0.25)
        assert (running, kv) == (1.0, 0.5)


def test_series_holds_each_state_until_the_next_event() -> None:
    series = SeriesRecorder(points=16, first_width_s=1.0)
    series.hold(0.5, 0.0, 0.0, 0.0)  # idle until the first arrival at 0.5 s
    series.hold(5.5, 3.0, 1.0, 0.1)  # then 3 queued until an event at 5.5 s
    series.close(7.0, 2.0, 0.2)
    assert [row[0] for row in series.rows] == [0.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    assert series.padded(8)[-1].tolist() == [7.0, 2.0, 0.2]
    with pytest.raises(ValueError):
        SeriesRecorder(points=1)
