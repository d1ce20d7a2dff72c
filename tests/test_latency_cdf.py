"""Issue 15 (charts): the simulator's latency distribution of the recommended design, as
a CDF in the plan payload (``simulation[].ttft_cdf_ms``/``tpot_cdf_ms``) and the report."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from llmplan.catalog.loader import Catalog
from llmplan.plan.payload import plan_payload
from llmplan.plan.planner import make_plan, plan_context
from llmplan.prices.loader import bundled_prices
from llmplan.report.plan import render_plan_report
from llmplan.scenario import load_example
from llmplan.sim.sketch import LogHistogram
from llmplan.sim.stats import CDF_PERCENTILES, LatencySummary


@pytest.fixture(scope="module")
def payload(catalog: Catalog) -> dict[str, Any]:
    scenario = load_example("airgapped-eu-gdpr")  # recommends owned GPUs: designs simulated
    prices = bundled_prices()
    plan = make_plan(scenario, catalog, prices, monte_carlo_samples=0)
    data = plan_payload(plan, plan_context(scenario, catalog, prices))
    return dict(json.loads(json.dumps(data, default=list)))


def test_summary_cdf_is_the_histograms_quantiles() -> None:
    histogram = LogHistogram()
    histogram.add(np.linspace(0.01, 1.0, 1000))
    summary = LatencySummary.of(histogram, (50.0, 95.0))
    assert [p for p, _ in summary.cdf_ms] == list(CDF_PERCENTILES)
    values = [ms for _, ms in summary.cdf_ms]
    assert values == sorted(values)
    assert dict(summary.cdf_ms)[95.0] == summary.at(95.0)
    assert 0.9 * 500 < dict(summary.cdf_ms)[50.0] < 1.1 * 500  # uniform 10..1000 ms


def test_an_empty_histogram_has_no_cdf() -> None:
    assert LatencySummary.of(LogHistogram(), (50.0,)).cdf_ms == ()


def test_plan_payload_carries_the_simulated_distribution(payload: dict[str, Any]) -> None:
    checks = payload["simulation"]
    assert checks
    for check in checks:
        ttft = dict((p, ms) for p, ms in check["ttft_cdf_ms"])
        tpot = [ms for _, ms in check["tpot_cdf_ms"]]
        assert list(ttft.values()) == sorted(ttft.values())
        assert tpot == sorted(tpot)
        if check["percentile"] in ttft:  # the SLO percentile reads off the same curve
            assert ttft[check["percentile"]] == pytest.approx(check["ttft_ms"])


def test_report_draws_the_cdf_only_when_designs_were_simulated(
    payload: dict[str, Any],
) -> None:
    assert "Simulated latency of the recommended design" in render_plan_report(payload)
    without = {**payload, "simulation": []}
    assert "Simulated latency of the recommended design" not in render_plan_report(without)
