"""Latency percentiles and the metric names validation understands.

Percentiles come from the schedule behind the mean prediction, so the checks are
structural: order across percentiles, agreement with the mean where there is no spread,
and hand-derived positions in a static batch's waves.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import deploy
from llmplan.catalog.loader import bundled_catalog
from llmplan.errors import InputError
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.percentiles import latency_percentiles, lognormal_quantile
from llmplan.perf.prefill import prefill_seconds
from llmplan.perf.serving import capacity, predict
from llmplan.validation.dataset import read_measurements
from llmplan.validation.predict import Skip, metric_spec
from llmplan.validation.summary import validate

LLAMA = "meta-llama/Llama-3.1-8B"
LOADS = [
    Load(LoadKind.RATE, 230, 180, request_rate=8, fixed_lengths=False),
    Load(LoadKind.RATE, 1024, 128, request_rate=4),
    Load(LoadKind.CONCURRENCY, 1024, 256, batch=64),
    Load(LoadKind.CONCURRENCY, 230, 180, batch=32, fixed_lengths=False),
    Load(LoadKind.OFFLINE, 2048, 256),
    Load(LoadKind.BATCH, 512, 128, batch=8),
]


@pytest.mark.parametrize("load", LOADS, ids=lambda lo: f"{lo.kind.value}-{lo.input_tokens}")
def test_percentiles_never_decrease(load: Load) -> None:
    dep = deploy(LLAMA, "H100")
    result = predict(dep, load)
    previous = None
    for p in (10, 50, 90, 99, 99.9):
        q = latency_percentiles(dep, load, p, result=result)
        assert q.ttft_ms > 0 and q.tpot_ms > 0 and q.e2e_latency_ms >= q.ttft_ms
        if previous is not None:
            assert q.ttft_ms >= previous.ttft_ms * (1 - 1e-9)
            assert q.tpot_ms >= previous.tpot_ms * (1 - 1e-9)
            assert q.e2e_latency_ms >= previous.e2e_latency_ms * (1 - 1e-9)
        previous = q


def test_p99_ttft_of_a_loaded_server_exceeds_its_mean() -> None:
    """Poisson bursts and long prompts put the 99th percentile above the mean."""
    dep = deploy(LLAMA, "H100")
    load = Load(LoadKind.RATE, 230, 180, request_rate=20, fixed_lengths=False)
    mean = predict(dep, load)
    p99 = latency_percentiles(dep, load, 99, result=mean)
    assert p99.ttft_ms > mean.ttft_ms
    assert p99.tpot_ms >= mean.tpot_ms
    assert p99.e2e_latency_ms > mean.e2e_latency_ms


@pytest.mark.parametrize("rate", [0.5, 4.0, 16.0])
@pytest.mark.parametrize("fixed", [True, False])
def test_mean_ttft_lies_between_low_and_high_percentiles(rate: float, fixed: bool) -> None:
    """Below saturation the mean TTFT and its percentiles come from the same step: the
    mean between p10 and p99, never above p99 nor below p10."""
    dep = deploy(LLAMA, "H100")
    load = Load(LoadKind.RATE, 512, 256, request_rate=rate, fixed_lengths=fixed)
    mean = predict(dep, load)
    assert mean.schedule is not None and mean.schedule.overflow_wait_max_s == 0
    p10 = latency_percentiles(dep, load, 10, result=mean)
    p99 = latency_percentiles(dep, load, 99, result=mean)
    assert p10.ttft_ms <= mean.ttft_ms <= p99.ttft_ms


def test_prompts_joining_a_prefill_are_capped_by_the_token_budget() -> None:
    """However many prompts arrive during a step, one prefill step holds at most the
    engine's token budget: the p99.9 TTFT at an absurd rate stays within a few full steps
    plus the queue, not a step per arriving prompt."""
    dep = deploy(LLAMA, "H100")
    slow = Load(LoadKind.RATE, 512, 256, request_rate=1.0)
    flood = Load(LoadKind.RATE, 512, 256, request_rate=1e5, num_requests=1000)
    calm, stormy = predict(dep, slow), predict(dep, flood)
    assert stormy.schedule is not None
    full_step_s = stormy.schedule.mixed_step_s
    worst = latency_percentiles(dep, flood, 99.9, result=stormy).ttft_ms / 1e3
    queue = stormy.schedule.overflow_wait_max_s
    assert worst <= queue + 4 * max(full_step_s, calm.ttft_ms / 1e3) + stormy.tpot_ms / 1e3


def test_fixed_batch_has_no_tpot_spread() -> None:
    """Every request of a synchronised wave decodes in the same steps."""
    dep = deploy(LLAMA, "H100")
    load = Load(LoadKind.BATCH, 512, 128, batch=16)
    mean = predict(dep, load)
    for p in (1, 50, 99):
        assert latency_percentiles(dep, load, p).tpot_ms == pytest.approx(mean.tpot_ms, rel=1e-12)


def test_static_batch_p99_waits_for_every_earlier_wave() -> None:
    """A static batch of 3 waves: the last third of requests waits 2 whole waves, and its
    first token comes when the last prefill step of its wave ends, so
    p99 TTFT = 2 x wave + full wave prefill, and p99 e2e = 3 x wave (the makespan)."""
    dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8")
    c = capacity(dep, 1024, 256)
    load = Load(LoadKind.BATCH, 1024, 256, batch=3 * c)
    result = predict(dep, load)
    schedule = result.schedule
    assert schedule is not None and schedule.waves == 3
    p99 = latency_percentiles(dep, load, 99, result=result)
    assert p99.ttft_ms == pytest.approx((2 * schedule.wave_s + schedule.prefill_s) * 1e3)
    assert p99.e2e_latency_ms == pytest.approx(result.makespan_ms, rel=1e-9)


@pytest.mark.parametrize("percentile", [0, 100, -5, 150])
def test_percentile_out_of_range_is_an_input_error(percentile: float) -> None:
    dep = deploy(LLAMA, "H100")
    with pytest.raises(InputError, match="percentile"):
        latency_percentiles(dep, LOADS[0], percentile)


@given(
    mean=st.floats(1, 1e5),
    cv=st.floats(0.05, 3),
    q=st.floats(0.01, 0.99),
)
def test_lognormal_quantile_is_ordered(mean: float, cv: float, q: float) -> None:
    """Quantiles rise with q; the median of a lognormal lies below its mean."""
    assert lognormal_quantile(mean, cv, q) <= lognormal_quantile(mean, cv, min(0.999, q + 0.005))
    assert lognormal_quantile(mean, cv, 0.5) == pytest.approx(mean / math.sqrt(1 + cv * cv))


@pytest.mark.parametrize(
    ("metric", "family", "percentile"),
    [
        ("ttft_ms_p99", "ttft", 99.0),
        ("ttft_ms_p90", "ttft", 90.0),
        ("ttft_ms_median", "ttft", 50.0),
        ("tpot_ms_p99", "tpot", 99.0),
        ("itl_ms_p95", "tpot", 95.0),
        ("token_latency_ms_p50", "tpot", 50.0),
        ("e2e_latency_ms_p99", "e2e", 99.0),
        ("ttft_ms_mean", "ttft", None),
        ("output_tokens_per_s_per_gpu", "throughput", None),
        ("total_tokens_per_s_per_node", "throughput", None),
        ("requests_per_s", "throughput", None),
        ("gen_tokens_per_s_tg128", "throughput", None),
        ("prompt_tokens_per_s_pp512", "throughput", None),
    ],
)
def test_metric_names(metric: str, family: str, percentile: float | None) -> None:
    spec = metric_spec(metric)
    assert spec.family == family
    assert spec.percentile == percentile


@pytest.mark.parametrize("metric", ["ttft_ms_p0", "gpu_util", "ttft_ms_p100", "tokens"])
def test_unknown_or_impossible_metrics_are_skipped_with_reason(metric: str) -> None:
    with pytest.raises(Skip):
        metric_spec(metric)


CSV_HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes\n"
)


def test_validate_predicts_percentile_rows(tmp_path: Path) -> None:
    """p99 rows are predicted, not skipped, and the p99 prediction exceeds the mean one."""
    rows = [
        "t,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,,ShareGPT,ShareGPT,rate,,10,"
        f"{metric},100,medium,\n"
        for metric in ("ttft_ms_mean", "ttft_ms_p99", "tpot_ms_p99", "e2e_latency_ms_p99")
    ]
    path = tmp_path / "m.csv"
    path.write_text(CSV_HEADER + "".join(rows), encoding="utf-8")
    result = validate(read_measurements(path), bundled_catalog())
    assert not result.skipped, result.skipped
    predicted = {r.row.metric: r.predicted for r in result.results}
    assert set(predicted) == {"ttft_ms_mean", "ttft_ms_p99", "tpot_ms_p99", "e2e_latency_ms_p99"}
    assert predicted["ttft_ms_p99"] > predicted["ttft_ms_mean"]


def test_validate_reads_an_infinite_rate_and_refuses_negative_lengths(tmp_path: Path) -> None:
    """'inf' is vLLM's benchmark_serving sending every prompt at once (1000 unless the
    notes print how many): predicted, with a mean TTFT that grows with the prompt count.
    A negative length is skipped with its reason."""
    row = (
        "t,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,,512,128,rate,,inf,"
        "ttft_ms_mean,100,medium,{notes}\n"
    )
    bad = (
        "t,vllm,,meta-llama/Llama-3.1-8B,bf16,,H100-SXM-80GB,1,1,,-5,128,batch,1,,"
        "output_tokens_per_s,100,medium,\n"
    )
    path = tmp_path / "m.csv"
    body = row.format(notes="") + row.format(notes="4000 prompts") + bad
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    result = validate(read_measurements(path), bundled_catalog())
    assert [s.reason for s in result.skipped] == ["input_len '-5' is negative"]
    default, more = (r.predicted for r in result.results)
    assert more > 2 * default > 0


def test_percentiles_of_an_infinite_rate_are_finite_and_ordered() -> None:
    """Every request sent at once: the first ones share a full prefill step, later ones
    wait for the queue; every percentile is a finite number and they rise with q."""
    dep = deploy(LLAMA, "H100")
    load = Load(LoadKind.RATE, 512, 128, request_rate=math.inf, num_requests=1000)
    mean = predict(dep, load)
    values = [latency_percentiles(dep, load, p, result=mean).ttft_ms for p in (1, 10, 50, 90, 99)]
    assert all(math.isfinite(v) and v > 0 for v in values)
    assert values == sorted(values)
    assert values[0] <= mean.ttft_ms <= values[-1]
    # even the first requests share their prefill step with a full token budget of others
    full_step = prefill_seconds(dep, dep.engine.max_batched_tokens / 512, 512) * 1e3
    assert values[0] >= full_step
