"""Scenario schema: derived quantities worked by hand, validation rules, properties."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llmplan.domain.finetune import FinetuneMethod
from llmplan.scenario import (
    Constraints,
    DeploymentOption,
    FineTuneWorkload,
    InferenceWorkload,
    MeasuredThroughput,
    Region,
    Scenario,
)
from llmplan.scenario.schema import GpuOverride
from llmplan.scenario.workloads import DEFAULT_DAYS_PER_MONTH, DEFAULT_LORA_RANK

REL = 1e-12  # pure arithmetic: only float rounding separates the two sides


def chat(**fields: Any) -> InferenceWorkload:
    base: dict[str, Any] = {
        "name": "chat",
        "model": "meta-llama/Llama-3.1-8B",
        "input_tokens": 1000,
        "output_tokens": 250,
    }
    if not any(k in fields for k in ("requests_per_day", "tokens_per_day", "tokens_per_month")):
        base["requests_per_day"] = 10_000
    return InferenceWorkload.model_validate({**base, **fields})


# --- derived quantities, by hand ---------------------------------------------------------


def test_peak_rate_from_operating_hours_and_peak_factor() -> None:
    """10,000 requests in 8 hours = 10,000 / 28,800 s = 0.3472 req/s; x 2 = 0.6944 req/s."""
    w = chat(operating_hours_per_day=8, peak_to_average=2)
    assert w.average_requests_per_s() == pytest.approx(10_000 / 28_800, rel=REL)
    assert w.peak_requests_per_s() == pytest.approx(0.69444, abs=1e-5)


def test_defaults_spread_traffic_evenly_over_24_hours() -> None:
    """No shape given: 10,000 / 86,400 s = 0.1157 req/s, peak = average."""
    w = chat()
    assert w.active_hours_per_day() == 24
    assert w.peak_to_average_ratio() == 1
    assert w.peak_requests_per_s() == pytest.approx(0.115741, abs=1e-6)


def test_hourly_profile_sets_hours_and_peak() -> None:
    """Weights 1,2,3,2 in four hours: peak 3 x 4 hours / 8 total = 1.5; active hours 4.

    Peak rate = 10,000 x 3/8 of the day's traffic in one hour / 3600 s = 1.0417 req/s.
    """
    profile = [0.0] * 24
    profile[9:13] = [1, 2, 3, 2]
    w = chat(hourly_profile=profile)
    assert w.active_hours_per_day() == 4
    assert w.peak_to_average_ratio() == pytest.approx(1.5, rel=REL)
    assert w.peak_requests_per_s() == pytest.approx(10_000 * 3 / 8 / 3600, rel=REL)


def test_monthly_tokens_from_requests() -> None:
    """10,000 req/day x 365/12 days = 304,166.7 requests; x 1000 in, x 250 out."""
    w = chat(cached_input_fraction=0.4)
    requests = 10_000 * 365 / 12
    assert w.requests_per_month() == pytest.approx(requests, rel=REL)
    assert w.input_tokens_per_month() == pytest.approx(requests * 1000, rel=REL)
    assert w.output_tokens_per_month() == pytest.approx(requests * 250, rel=REL)
    assert w.cached_input_tokens_per_month() == pytest.approx(requests * 400, rel=REL)
    assert w.total_tokens_per_month() == pytest.approx(requests * 1250, rel=REL)


def test_tokens_per_day_converts_with_mean_lengths() -> None:
    """12.5M tokens/day / (1000 + 250) tokens per request = 10,000 requests/day."""
    w = chat(tokens_per_day=12_500_000)
    assert w.requests_per_day_at() == pytest.approx(10_000, rel=REL)


def test_tokens_per_month_uses_days_per_month() -> None:
    """27.125M tokens/month / 21.7 days / 1250 tokens = 1,000 requests/day."""
    w = chat(tokens_per_month=27_125_000, days_per_month=21.7)
    assert w.requests_per_day_at() == pytest.approx(1000, rel=REL)
    assert w.total_tokens_per_month() == pytest.approx(27_125_000, rel=REL)


def test_growth_compounds_per_year() -> None:
    """+50 %/year: month 12 is 1.5 x month 0, month 24 is 2.25 x, month 6 is sqrt(1.5) x."""
    w = chat(growth_per_year=0.5)
    assert w.requests_per_month(12) == pytest.approx(1.5 * w.requests_per_month(0), rel=REL)
    assert w.requests_per_month(24) == pytest.approx(2.25 * w.requests_per_month(0), rel=REL)
    assert w.growth_factor(6) == pytest.approx(math.sqrt(1.5), rel=REL)


def test_finetune_quantities() -> None:
    """200M tokens x 2 epochs = 400M per run; x 12 runs = 4.8B per year; 1 run per month."""
    job = FineTuneWorkload(
        kind="finetune",
        name="lora",
        model="meta-llama/Llama-3.1-8B",
        method=FinetuneMethod.LORA,
        dataset_tokens=200e6,
        epochs=2,
        runs_per_year=12,
    )
    assert job.training_tokens_per_run() == pytest.approx(400e6, rel=REL)
    assert job.training_tokens_per_year() == pytest.approx(4.8e9, rel=REL)
    assert job.runs_per_month() == pytest.approx(1.0, rel=REL)
    assert job.effective_lora_rank() == DEFAULT_LORA_RANK


def test_measured_throughput_per_replica_and_per_gpu() -> None:
    """3,000 tokens/s on a tp=2 replica = 1,500 tokens/s per GPU."""
    m = MeasuredThroughput(model="m", gpu="g", tp=2, output_tokens_per_s_per_replica=3000)
    assert m.gpu_output_tokens_per_s() == pytest.approx(1500, rel=REL)
    assert m.replica_output_tokens_per_s() == pytest.approx(3000, rel=REL)


def test_defaults_are_documented_values() -> None:
    w = chat()
    assert w.days_per_month == pytest.approx(365 / 12, rel=REL) == DEFAULT_DAYS_PER_MONTH
    assert w.slo.percentile == 95
    assert w.slo.ttft_ms is None and not w.slo.has_targets()
    assert w.kind == "inference"


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"requests_per_day": -5}, "greater than or equal to 0.01"),
        ({"requests_per_day": 1, "tokens_per_day": 5}, "only one volume"),
        ({"input_tokens": 0}, "greater than or equal to 1"),
        ({"input_tokens": {"mean": 100, "p50": 300, "p95": 200}}, "p95"),
        ({"hourly_profile": [1.0] * 23}, "24 weights"),
        ({"hourly_profile": [0.0] * 24}, "at least one above 0"),
        ({"hourly_profile": [1.0] * 24, "peak_to_average": 2}, "not both"),
        ({"peak_to_average": 0.5}, "greater than or equal to 1"),
        ({"operating_hours_per_day": 25}, "less than or equal to 24"),
        ({"cached_input_fraction": 1.5}, "less than or equal to 1"),
        ({"growth_per_year": -1}, "greater than -1"),
        ({"slo": {"percentile": 100}}, "less than 100"),
        ({"slo": {"ttft_ms": 0}}, "greater than 0"),
        ({"requests_per_day": float("inf")}, "finite"),
        ({"bogus": 1}, "Extra inputs"),
    ],
)
def test_inference_workload_rejects(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        chat(**fields)


def test_inference_workload_needs_a_volume() -> None:
    with pytest.raises(ValidationError, match="no volume given"):
        InferenceWorkload.model_validate(
            {"name": "a", "model": "m", "input_tokens": 1, "output_tokens": 1}
        )


def test_lora_rank_with_full_fine_tuning_is_rejected() -> None:
    with pytest.raises(ValidationError, match="only applies to method lora or qlora"):
        FineTuneWorkload.model_validate(
            {
                "kind": "finetune",
                "name": "f",
                "model": "m",
                "method": "full",
                "dataset_tokens": 1e6,
                "runs_per_year": 1,
                "lora_rank": 8,
            }
        )


def test_models_are_frozen() -> None:
    w = chat()
    with pytest.raises(ValidationError, match="frozen"):
        setattr(w, "name", "other")  # noqa: B010  # the assignment itself is under test


def test_workload_names_must_differ() -> None:
    with pytest.raises(ValidationError, match="two workloads are named 'chat'"):
        Scenario(name="s", workloads=(chat(), chat()))


def test_gpu_override_needs_a_value_and_measured_needs_one_rate() -> None:
    with pytest.raises(ValidationError, match="set at least one"):
        GpuOverride(source="quote")
    with pytest.raises(ValidationError, match="not both"):
        MeasuredThroughput(
            model="m", gpu="g", output_tokens_per_s_per_gpu=1, output_tokens_per_s_per_replica=2
        )


def test_gpu_override_cloud_price_by_option() -> None:
    override = GpuOverride(cloud_spot_usd_per_gpu_hour=1.2)
    assert override.cloud_usd_per_gpu_hour(DeploymentOption.CLOUD_SPOT) == 1.2
    assert override.cloud_usd_per_gpu_hour(DeploymentOption.CLOUD_ON_DEMAND) is None
    assert override.cloud_usd_per_gpu_hour(DeploymentOption.ON_PREMISE) is None


# --- constraints -------------------------------------------------------------------------


def test_air_gapped_leaves_only_owned_options() -> None:
    constraints = Constraints(air_gapped=True)
    assert constraints.permitted_options() == (
        DeploymentOption.ON_PREMISE,
        DeploymentOption.COLOCATION,
    )
    reason = constraints.option_exclusions()[DeploymentOption.API]
    assert "air-gapped" in reason and "\n" not in reason


def test_allowed_options_exclusion_reason() -> None:
    constraints = Constraints(allowed_options=(DeploymentOption.API,))
    exclusions = constraints.option_exclusions()
    assert set(exclusions) == set(DeploymentOption) - {DeploymentOption.API}
    assert "allowed_options" in exclusions[DeploymentOption.ON_PREMISE]


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"allowed_options": []}, "at least 1"),
        ({"allowed_options": ["api", "api"]}, "listed twice"),
        ({"compliance": ["gdpr", "gdpr"]}, "listed twice"),
        ({"compliance": ["gdrp"]}, "gdpr"),
        ({"data_residency": "europe"}, "'eu'"),
        ({"gpu_allow": []}, "at least 1"),
        ({"gpu_deny": ["H100", "H100"]}, "listed twice"),
        ({"power_budget_kw": 0}, "greater than or equal to 0.01"),
        ({"max_racks": 0}, "greater than or equal to 1"),
    ],
)
def test_constraints_reject(fields: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Constraints.model_validate(fields)


def test_region_containment() -> None:
    assert Region.EU.contains(Region.DE)
    assert Region.EU.contains(Region.EU)
    assert not Region.DE.contains(Region.EU)
    assert not Region.EU.contains(Region.UK)
    assert sum(1 for r in Region if r.is_eu_member) == 27


# --- properties --------------------------------------------------------------------------

volumes = st.floats(min_value=1, max_value=1e9)
lengths = st.floats(min_value=1, max_value=100_000)
hours = st.floats(min_value=0.5, max_value=24)
factors = st.floats(min_value=1, max_value=20)


@given(volumes, volumes, lengths, lengths)
def test_more_requests_never_fewer_tokens(a: float, b: float, inp: float, out: float) -> None:
    low, high = sorted((a, b))
    w_low = chat(requests_per_day=low, input_tokens=inp, output_tokens=out)
    w_high = chat(requests_per_day=high, input_tokens=inp, output_tokens=out)
    assert w_high.input_tokens_per_month() >= w_low.input_tokens_per_month()
    assert w_high.output_tokens_per_month() >= w_low.output_tokens_per_month()
    assert w_high.peak_requests_per_s() >= w_low.peak_requests_per_s()


@given(volumes, hours, factors)
def test_peak_at_least_average(volume: float, active: float, factor: float) -> None:
    w = chat(requests_per_day=volume, operating_hours_per_day=active, peak_to_average=factor)
    assert w.peak_requests_per_s() >= w.average_requests_per_s() > 0


@given(st.lists(st.floats(min_value=0, max_value=100), min_size=24, max_size=24), volumes)
def test_profile_peak_at_least_average_and_conserves_volume(
    profile: list[float], volume: float
) -> None:
    if sum(profile) <= 0:
        profile = [*profile[:-1], 1.0]
    w = chat(requests_per_day=volume, hourly_profile=profile)
    assert w.peak_to_average_ratio() >= 1 - 1e-12
    assert w.peak_requests_per_s() >= w.average_requests_per_s() * (1 - 1e-12)
    # the average rate over the active hours gives back the daily volume (conservation)
    daily = w.average_requests_per_s() * w.active_hours_per_day() * 3600
    assert daily == pytest.approx(volume, rel=1e-9)


@given(volumes, lengths, lengths)
def test_volume_forms_agree(requests: float, inp: float, out: float) -> None:
    """The same traffic stated three ways gives the same monthly tokens."""
    by_requests = chat(requests_per_day=requests, input_tokens=inp, output_tokens=out)
    tokens_day = requests * (inp + out)
    by_day = chat(tokens_per_day=tokens_day, input_tokens=inp, output_tokens=out)
    by_month = chat(
        tokens_per_month=tokens_day * DEFAULT_DAYS_PER_MONTH, input_tokens=inp, output_tokens=out
    )
    expected = by_requests.total_tokens_per_month()
    assert by_day.total_tokens_per_month() == pytest.approx(expected, rel=1e-9)
    assert by_month.total_tokens_per_month() == pytest.approx(expected, rel=1e-9)


@given(st.floats(min_value=-0.9, max_value=5), st.integers(min_value=0, max_value=119))
def test_growth_is_monotone_in_time(growth: float, month: int) -> None:
    w = chat(growth_per_year=growth)
    now, later = w.requests_per_month(month), w.requests_per_month(month + 1)
    assert (later >= now) if growth >= 0 else (later <= now)
