"""Prediction intervals: construction from residuals, fallback of sparse cells, the
bundled table's integrity, and coverage on hand-made measurements."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmplan.catalog.loader import Catalog
from llmplan.errors import CatalogError
from llmplan.perf.intervals import (
    ANY,
    ENGINE_FAMILIES,
    Cell,
    GpuClass,
    IntervalTable,
    Regime,
    bounds,
    bundled_intervals,
    engine_family,
    gpu_class,
    parse_intervals,
    regime_of,
)
from llmplan.perf.load import Load, LoadKind
from llmplan.validation.crossval import CrossValidation, HeldOutResidual
from llmplan.validation.dataset import bundled_measurements_path, parse_measurements
from llmplan.validation.interval_fit import (
    build_cells,
    build_table,
    held_out_coverage,
    residual_quantiles,
)
from llmplan.validation.predict import predict_row
from llmplan.validation.summary import validate

VLLM_H100_LOAD = Cell("vllm", "nvidia-datacenter", "load")


def residual(
    log_r: float, source: str = "s1", cell: Cell = VLLM_H100_LOAD, family: str = "ttft"
) -> HeldOutResidual:
    """A held-out residual with log(predicted / measured) = ``log_r`` (measured 100)."""
    return HeldOutResidual(
        line=1,
        source=source,
        engine="vllm",
        cell=cell,
        family=family,
        measured=100.0,
        predicted=100.0 * math.exp(log_r),
    )


def table_of(cells: list[dict[str, Any]], min_rows: int = 1, min_sources: int = 1) -> IntervalTable:
    return IntervalTable.model_validate(
        {
            "dataset_sha256": "0" * 64,
            "code_version": "test",
            "created": "2026-12-04",
            "method": "hand-made for a test",
            "min_rows": min_rows,
            "min_sources": min_sources,
            "cells": cells,
        }
    )


def cell_dict(
    key: tuple[str, str, str, str], q10: float, q90: float, rows: int = 20
) -> dict[str, Any]:
    engine, gpu, regime, family = key
    return {
        "engine_family": engine,
        "gpu_class": gpu,
        "regime": regime,
        "family": family,
        "rows": rows,
        "sources": 5,
        "q10_log": q10,
        "q90_log": q90,
    }


OVERALL = cell_dict((ANY, ANY, ANY, ANY), -0.5, 0.5)


# ----------------------------------------------------------------------------- bounds


def test_bounds_from_residual_quantiles_by_hand() -> None:
    """q10 = -0.2 (the model predicts 18 % low on the 10th percentile row), q90 = +0.3
    (26 % high): a prediction of 100 means measured in [100 e^-0.3, 100 e^0.2] =
    [74.08, 122.14]; the same formula holds for a latency and a throughput."""
    low, high = bounds(100.0, -0.2, 0.3)
    assert low == pytest.approx(74.0818, abs=1e-3)
    assert high == pytest.approx(122.1403, abs=1e-3)


@given(
    value=st.floats(1e-3, 1e6),
    q10=st.floats(-3, 0),
    q90=st.floats(0, 3),
)
def test_prediction_inside_when_quantiles_straddle_zero(
    value: float, q10: float, q90: float
) -> None:
    low, high = bounds(value, q10, q90)
    assert low <= value * (1 + 1e-12)
    assert value <= high * (1 + 1e-12)


@given(value=st.floats(1e-3, 1e6), a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_low_never_above_high(value: float, a: float, b: float) -> None:
    low, high = bounds(value, min(a, b), max(a, b))
    assert 0 < low <= high


# ----------------------------------------------------------------------------- quantiles


def test_equal_weight_quantiles_by_hand() -> None:
    """Ten values 0.0..0.9 of ten sources sit at positions 0.05, 0.15, ..., 0.95: the
    10th percentile lies halfway between 0.0 and 0.1, the 90th between 0.8 and 0.9."""
    values = [i / 10 for i in range(10)]
    q10, q90 = residual_quantiles(values, [f"s{i}" for i in range(10)])
    assert q10 == pytest.approx(0.05, abs=1e-12)
    assert q90 == pytest.approx(0.85, abs=1e-12)


def test_each_source_weighs_the_same() -> None:
    """Source a has one value (-1), source b nine values (1): each source carries half the
    weight, so a sits at position 0.25 and b's values at 0.5 + 1/36 ... : the 10th
    percentile is clamped to -1, the 90th is 1 (unweighted, the 10th would be 0)."""
    values = [-1.0] + [1.0] * 9
    q10, q90 = residual_quantiles(values, ["a"] + ["b"] * 9)
    assert q10 == pytest.approx(-1.0)
    assert q90 == pytest.approx(1.0)


def test_cells_hold_quantiles_of_their_rows_and_sparse_cells_fall_back() -> None:
    """20 rows on H100 from four sources make a cell; 5 rows on AMD do not: an AMD
    prediction falls back to the vllm x load cell (25 rows)."""
    fine = [residual(i / 20, source=f"s{i % 4}") for i in range(20)]
    amd = Cell("vllm", "amd", "load")
    sparse = [residual(1.0 + i / 10, source=f"s{i}", cell=amd) for i in range(5)]
    cells = {c.key: c for c in build_cells(fine + sparse, min_rows=15, min_sources=3)}
    assert ("vllm", "amd", "load", "ttft") not in cells
    own = cells[("vllm", "nvidia-datacenter", "load", "ttft")]
    assert own.rows == 20 and own.sources == 4
    expected = residual_quantiles([r.log_residual for r in fine], [r.source for r in fine])
    assert (own.q10_log, own.q90_log) == pytest.approx(expected)
    coarse = cells[("vllm", ANY, "load", "ttft")]
    assert coarse.rows == 25
    table = table_of([c.model_dump(mode="json") for c in cells.values()], 15, 3)
    assert table.lookup(amd, "ttft") == coarse


def test_batch1_throughput_rows_count_mirrored_for_batch1_tpot() -> None:
    """At batch 1, tokens/s = 1 / TPOT: a throughput row predicted e^r too high is a TPOT
    predicted e^r too low, so the TPOT cell holds -r and its quantiles are the throughput
    cell's, negated and swapped. Rows under load do not count for TPOT."""
    batch1 = Cell("vllm", "nvidia-datacenter", "batch1")
    rows = [
        residual((i - 7) / 10, source=f"s{i % 3}", cell=batch1, family="throughput")
        for i in range(18)
    ]
    under_load = [residual(2.0, source=f"s{i}", family="throughput") for i in range(15)]
    cells = {c.key: c for c in build_cells(rows + under_load, min_rows=15, min_sources=3)}
    throughput = cells[("vllm", "nvidia-datacenter", "batch1", "throughput")]
    tpot = cells[("vllm", "nvidia-datacenter", "batch1", "tpot")]
    assert tpot.rows == throughput.rows == 18
    assert tpot.q10_log == pytest.approx(-throughput.q90_log)
    assert tpot.q90_log == pytest.approx(-throughput.q10_log)
    assert (ANY, ANY, ANY, "tpot") not in cells
    assert cells[(ANY, ANY, "batch1", "tpot")].rows == 18


def test_one_source_cells_are_not_stored() -> None:
    rows = [residual(i / 30, source="only") for i in range(30)]
    cells = {c.key for c in build_cells(rows, min_rows=15, min_sources=3)}
    assert cells == {(ANY, ANY, ANY, ANY)}


def test_fallback_order() -> None:
    """engine x GPU x regime, then engine x regime, then regime, then family, then all."""
    cell = Cell("sglang", "amd", "batch1")
    keys = [
        ("sglang", "amd", "batch1", "tpot"),
        ("sglang", ANY, "batch1", "tpot"),
        (ANY, ANY, "batch1", "tpot"),
        (ANY, ANY, ANY, "tpot"),
        (ANY, ANY, ANY, ANY),
    ]
    assert list(cell.keys("tpot")) == keys
    stored: list[dict[str, Any]] = [OVERALL]
    for depth, key in enumerate(reversed(keys[:-1]), start=1):
        stored.append(cell_dict(key, -0.1 * depth, 0.1 * depth))
        found = table_of(stored).lookup(cell, "tpot")
        assert found.key == key


# ----------------------------------------------------------------------------- coverage


def test_held_out_coverage_by_hand() -> None:
    """Two sources in one cell, min 1 row: source a is judged by b's quantiles and b by
    a's. b = (-0.1, 0, 0.1, 0.2, 0.3): positions 0.1..0.9, so q10 = -0.1, q90 = 0.3;
    a = (0.0 inside, 0.5 outside) -> 1 of 2. a's own quantiles: positions 0.25 and 0.75,
    clamped to [0.0, 0.5]: b's -0.1 is outside, 0, 0.1, 0.2, 0.3 inside -> 4 of 5.
    Overall 5 of 7."""
    b = [residual(v, source="b") for v in (-0.1, 0.0, 0.1, 0.2, 0.3)]
    a = [residual(v, source="a") for v in (0.0, 0.5)]
    coverage = held_out_coverage(a + b, min_rows=1, min_sources=1)
    assert coverage["overall"] == pytest.approx(5 / 7)
    assert coverage["ttft"] == pytest.approx(5 / 7)


def test_build_table_records_provenance() -> None:
    rows = [residual(i / 20, source=f"s{i % 4}") for i in range(20)]
    cv = CrossValidation(tuple(rows), ("s0", "s1", "s2", "s3"), 20)
    table = build_table(
        cv,
        dataset_sha256="a" * 64,
        code_version="v1",
        created=dt.date(2026, 12, 4),
        min_rows=15,
        min_sources=3,
    )
    assert table.min_rows == 15 and table.min_sources == 3
    assert table.held_out_coverage is not None and 0 <= table.held_out_coverage <= 1
    assert {c.rows for c in table.cells} == {20}


HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes"
)
ROWS = (
    "a,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,1,128,128,batch,1,,"
    "output_tokens_per_s,{},high,",
    "b,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,1,512,128,batch,8,,tpot_ms,{},high,",
)


def test_validate_interval_coverage_on_a_hand_made_csv(catalog: Catalog) -> None:
    """With one overall cell of q = +-0.1, a row measured at its prediction is inside and a
    row measured at twice its prediction is outside: coverage 1/2."""
    first = parse_measurements("\n".join([HEADER, *(r.format(1) for r in ROWS)]))
    predicted = [predict_row(row, catalog)[0] for row in first]
    text = "\n".join([HEADER, ROWS[0].format(predicted[0]), ROWS[1].format(2 * predicted[1])])
    table = table_of([cell_dict((ANY, ANY, ANY, ANY), -0.1, 0.1)])
    report = validate(parse_measurements(text), catalog, table)
    inside, outside = report.results
    assert inside.low == pytest.approx(predicted[0] * math.exp(-0.1))
    assert inside.high == pytest.approx(predicted[0] * math.exp(0.1))
    assert inside.covered and not outside.covered
    assert report.interval_coverage == pytest.approx(0.5)
    assert report.summary_dict()["interval_coverage"] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- cells


def test_engine_families(catalog: Catalog) -> None:
    assert engine_family("vllm-rocm") == "vllm"
    assert engine_family("sglang-rocm") == "sglang"
    assert engine_family("mlc-llm") == "mlc-llm"
    assert engine_family("vllm-v1") == "vllm"
    assert engine_family("something-new") == "something-new"
    assert {engine_family(e.id) for e in catalog.engines} <= set(ENGINE_FAMILIES)


def test_gpu_classes(catalog: Catalog) -> None:
    assert gpu_class(catalog.gpu("H100")) is GpuClass.NVIDIA_DATACENTER
    assert gpu_class(catalog.gpu("RTX-4090")) is GpuClass.NVIDIA_CONSUMER
    assert gpu_class(catalog.gpu("RTX-6000-Ada-48GB")) is GpuClass.NVIDIA_CONSUMER
    assert gpu_class(catalog.gpu("MI300X")) is GpuClass.AMD
    assert gpu_class(catalog.gpu("Apple-M2-Ultra-76core-192GB")) is GpuClass.APPLE
    assert gpu_class(catalog.gpu("Gaudi3-128GB")) is GpuClass.OTHER


@pytest.mark.parametrize(
    ("load", "regime"),
    [
        (Load(LoadKind.BATCH, 128, 128, batch=1), Regime.BATCH1),
        (Load(LoadKind.CONCURRENCY, 128, 128, batch=1), Regime.BATCH1),
        (Load(LoadKind.BATCH, 128, 128, batch=64), Regime.SATURATED),
        (Load(LoadKind.OFFLINE, 128, 128), Regime.SATURATED),
        (Load(LoadKind.RATE, 128, 128, request_rate=math.inf, num_requests=100), Regime.SATURATED),
        (Load(LoadKind.RATE, 128, 128, request_rate=2.0), Regime.LOAD),
        (Load(LoadKind.CONCURRENCY, 128, 128, batch=16), Regime.LOAD),
    ],
)
def test_regimes(load: Load, regime: Regime) -> None:
    assert regime_of(load) is regime


# ----------------------------------------------------------------------------- the table


def test_table_rejects_inconsistent_cells() -> None:
    with pytest.raises(ValueError, match="q10_log"):
        table_of([cell_dict((ANY, ANY, ANY, ANY), 0.3, -0.3)])
    with pytest.raises(ValueError, match="overall cell"):
        table_of([cell_dict(("vllm", ANY, "load", "ttft"), -0.1, 0.1)])
    with pytest.raises(ValueError, match="twice"):
        table_of([OVERALL, OVERALL])
    with pytest.raises(ValueError, match="min_rows"):
        table_of([OVERALL, cell_dict(("vllm", ANY, "load", "ttft"), -0.1, 0.1, rows=3)], 15)
    with pytest.raises(CatalogError, match=r"intervals\.yaml: dataset_sha256: Field required"):
        parse_intervals("cells: []\n", "intervals.yaml")


def test_bundled_table_integrity(catalog: Catalog) -> None:
    """The shipped table loads, was built from the shipped development set (else rerun
    ``python scripts/fit_intervals.py``), covers every metric family and every cell it
    keeps has enough rows and sources."""
    table = bundled_intervals()
    digest = hashlib.sha256(bundled_measurements_path().read_bytes()).hexdigest()
    assert table.dataset_sha256 == digest, "dev set changed: run scripts/fit_intervals.py"
    keys = {c.key for c in table.cells}
    for family in ("throughput", "ttft", "tpot", "e2e"):
        assert (ANY, ANY, ANY, family) in keys
    for cell in table.cells:
        assert cell.key == (ANY,) * 4 or (
            cell.rows >= table.min_rows and cell.sources >= table.min_sources
        )
        assert cell.engine_family == ANY or cell.engine_family in ENGINE_FAMILIES
    overall = table.lookup(Cell("vllm", "amd", "load"), "ttft")
    assert overall.q10_log <= overall.q90_log
    assert table.held_out_coverage is not None


def test_every_bundled_combination_gets_an_interval(catalog: Catalog) -> None:
    table = bundled_intervals()
    for engine in catalog.engines:
        for gpu in catalog.gpus:
            for regime in Regime:
                cell = Cell(engine_family(engine.id), gpu_class(gpu), regime)
                for family in ("throughput", "ttft", "tpot", "e2e"):
                    low, high = table.interval(10.0, cell, family)
                    assert 0 < low <= high
