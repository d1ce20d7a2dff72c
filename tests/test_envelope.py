"""The physical envelope of a measurement and the outliers outside it (issue 11, item 1)."""

from __future__ import annotations

import dataclasses

import pytest

from llmplan.calibration import fit_update, prepare_all
from llmplan.catalog.loader import bundled_catalog
from llmplan.catalog.ranges import efficiency_ranges
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.envelope import Envelope, bound_update, envelope
from llmplan.validation.predict import metric_spec, setup_for
from llmplan.validation.summary import validate


def _row(metric: str = "output_tokens_per_s", value: float = 100.0):  # type: ignore[no-untyped-def]
    rows = read_measurements(bundled_measurements_path())
    row = next(r for r in rows if r.engine == "trtllm" and r.metric == metric and r.batch)
    return dataclasses.replace(row, value=value)


def test_bounds_put_efficiencies_high_and_overheads_low_when_favourable() -> None:
    fast, slow = bound_update(favourable=True), bound_update(favourable=False)
    for item in efficiency_ranges():
        if item.field.endswith("_s"):
            assert fast[item.field] == item.low and slow[item.field] == item.high
        else:
            assert fast[item.field] == item.high and slow[item.field] == item.low


def test_envelope_brackets_the_fitted_prediction() -> None:
    row = _row()
    dep, load = setup_for(row, bundled_catalog())
    spec = metric_spec(row.metric)
    bounds = envelope(dep, load, spec, row)
    from llmplan.validation.predict import metric_value

    assert bounds.low <= metric_value(dep, load, spec, row) <= bounds.high
    assert bounds.favourable > bounds.unfavourable  # a throughput: favourable is higher


@pytest.mark.parametrize(
    ("family", "measured", "word"),
    [("throughput", 300.0, "faster"), ("throughput", 30.0, "slower"), ("ttft", 30.0, "faster")],
)
def test_outlier_reason_names_the_direction(family: str, measured: float, word: str) -> None:
    bounds = Envelope(favourable=200.0, unfavourable=50.0)
    if family == "ttft":
        bounds = Envelope(favourable=50.0, unfavourable=200.0)
    reason = bounds.outlier_reason(measured, family)
    assert reason is not None and word in reason


def test_inside_the_envelope_is_no_outlier() -> None:
    assert Envelope(200.0, 50.0).outlier_reason(120.0, "throughput") is None
    assert Envelope(200.0, 50.0).outlier_reason(215.0, "throughput") is None  # margin


def test_an_impossible_row_is_reported_and_left_out_of_the_fit() -> None:
    """A throughput 50x the measured one is beyond any physical efficiency: validate
    lists it, and calibration's fit ignores it (the fit is the same with or without it)."""
    rows = read_measurements(bundled_measurements_path())
    trt = [r for r in rows if r.engine == "trtllm" and r.metric == "output_tokens_per_s"][:20]
    bad = dataclasses.replace(trt[0], value=trt[0].value * 50, line=99999)
    catalog = bundled_catalog()
    report = validate([*trt, bad], catalog)
    flagged = [r for r in report.outliers if r.row.line == 99999]
    assert flagged and "faster" in (flagged[0].outlier or "")
    assert report.summary_dict()["outliers"] >= 1
    clean = prepare_all(trt, catalog)
    with_bad = prepare_all([*trt, bad], catalog)
    assert fit_update(clean) == pytest.approx(fit_update(with_bad), rel=1e-9)
