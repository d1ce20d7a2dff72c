"""Leave-one-source-out cross-validation on a small synthetic set (fast: the fit is
replaced by a recorder, or too few rows remain to fit)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from llmplan.calibration import MIN_ROWS, PreparedRow, fitted_fields
from llmplan.catalog.loader import Catalog
from llmplan.perf.intervals import Cell
from llmplan.validation import crossval
from llmplan.validation.dataset import Measurement, parse_measurements
from llmplan.validation.interval_fit import summarise
from llmplan.validation.predict import metric_spec, metric_value, setup_for

HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes"
)
ROW = (
    "{source},{engine},,meta-llama/Llama-3.1-8B,bf16,,{gpu},1,1,1,512,128,batch,{batch},,"
    "output_tokens_per_s,{value},high,"
)
PRIORS = {name: prior for name, _, _, prior in fitted_fields()}


def synthetic(sources: Sequence[str], per_source: int, engine: str = "vllm") -> list[Measurement]:
    lines = [HEADER]
    for s in sources:
        for i in range(per_source):
            lines.append(
                ROW.format(source=s, engine=engine, gpu="H100", batch=2**i, value=100 * (i + 1))
            )
    return parse_measurements("\n".join(lines))


def prior_prediction(row: Measurement, catalog: Catalog) -> float:
    deployment, load = setup_for(row, catalog)
    engine = deployment.engine.model_copy(update=PRIORS)
    return metric_value(replace(deployment, engine=engine), load, metric_spec(row.metric), row)


def test_each_source_is_predicted_by_a_fit_without_it(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three sources of four rows: each fold trains on the other eight rows (MIN_ROWS),
    never on its own source; the residual is log(predicted / measured)."""
    assert MIN_ROWS <= 8
    seen: list[set[str]] = []

    def recorder(
        train: Sequence[PreparedRow], start: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        seen.append({p.row.source for p in train})
        assert len(train) == 8
        return dict(PRIORS)

    monkeypatch.setattr(crossval, "fit_update", recorder)
    rows = synthetic(["a", "b", "c"], 4)
    result = crossval.cross_validate(rows, catalog)
    assert seen == [{"b", "c"}, {"a", "c"}, {"a", "b"}]
    assert result.sources == ("a", "b", "c")
    assert len(result.residuals) == 12
    for item, row in zip(result.residuals, rows, strict=True):
        assert item.line == row.line and item.source == row.source
        assert item.predicted == pytest.approx(prior_prediction(row, catalog), rel=1e-12)
        assert item.log_residual == pytest.approx(math.log(item.predicted / row.value))
        assert item.cell == Cell(
            "vllm", "nvidia-datacenter", "batch1" if row.batch == "1" else "saturated"
        )
        assert item.family == "throughput"


def test_too_few_rows_keep_the_priors(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> dict[str, float]:
        raise AssertionError("no fit with fewer than MIN_ROWS rows")

    monkeypatch.setattr(crossval, "fit_update", never)
    rows = synthetic(["a", "b"], 3)
    result = crossval.cross_validate(rows, catalog)
    assert [r.predicted for r in result.residuals] == pytest.approx(
        [prior_prediction(row, catalog) for row in rows], rel=1e-12
    )


def test_workers_give_the_same_residuals(catalog: Catalog) -> None:
    rows = synthetic(["a", "b", "c"], 2) + synthetic(["a", "d"], 2, engine="sglang")
    progress: list[tuple[int, int]] = []
    serial = crossval.cross_validate(rows, catalog, progress=lambda d, t: progress.append((d, t)))
    parallel = crossval.cross_validate(rows, catalog, workers=2)
    assert serial == parallel
    assert progress[-1] == (5, 5)  # (a, b, c) x vllm and (a, d) x sglang


def test_summary_counts_and_medians(catalog: Catalog) -> None:
    rows = synthetic(["a", "b"], 3)
    result = crossval.cross_validate(rows, catalog)
    summary = summarise(result, min_rows=1, min_sources=1)
    apes = sorted(abs(r.predicted - r.measured) / r.measured for r in result.residuals)
    assert summary.families["throughput"].median_ape == pytest.approx((apes[2] + apes[3]) / 2)
    assert summary.families["overall"].n == 6
    assert summary.engines["vllm"].n == 6
    assert summary.sources == 2
    assert 0 <= summary.interval_coverage["overall"] <= 1


def test_inside_envelope_figures_leave_outliers_out(catalog: Catalog) -> None:
    rows = synthetic(["a", "b"], 3)
    result = crossval.cross_validate(rows, catalog)
    flagged = list(result.residuals)
    flagged[0] = replace(flagged[0], outlier=True)
    summary = summarise(replace(result, residuals=tuple(flagged)), min_rows=1, min_sources=1)
    assert summary.families["overall"].n == 6
    assert summary.inside_envelope["overall"].n == 5
    kept = sorted(r.ape for r in flagged[1:])
    assert summary.inside_envelope["overall"].median_ape == pytest.approx(kept[2])
    assert "inside_envelope" in summary.as_dict()
