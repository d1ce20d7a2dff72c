"""A scenario's inference workload as a simulation: arrivals, lengths and SLO targets.

- traffic: Poisson at the workload's peak-hour rate (``peak_requests_per_s``), what a
  capacity plan must absorb; or, with ``whole_day`` and an ``hourly_profile``, the day's
  hours at their own rates (:class:`~llmplan.sim.arrivals.HourlyArrivals`);
- lengths: lognormal through the stated quantiles (median and p95 when both are given;
  mean and p95; mean and median), fixed at the mean when only the mean is given. A p95
  above ~3.87 x the mean is beyond any lognormal with that mean: the widest one
  (sigma = z95) is used, which keeps the mean and understates that p95;
- SLO: the workload's TTFT/TPOT targets and percentile;
- features: ``cached_input_fraction`` as the prefix-cache hit share and ``speculative``
  as speculative decoding (:func:`features_from`), as the planner sizes them.
"""

from __future__ import annotations

import math

from llmplan.catalog.loader import Registry
from llmplan.catalog.schema import ModelSpec
from llmplan.errors import InputError
from llmplan.perf.features import Features
from llmplan.perf.prefix import prefix_hit_of
from llmplan.perf.speculative import speculation_of
from llmplan.scenario.workloads import HOURS_PER_DAY, SECONDS_PER_HOUR, InferenceWorkload
from llmplan.scenario.workloads import LengthDistribution as StatedLengths
from llmplan.sim.arrivals import HourlyArrivals, OpenLoop, PoissonArrivals
from llmplan.sim.lengths import (
    MAX_P95_OVER_MEAN,
    Z95,
    FixedLength,
    LengthDistribution,
    LognormalLength,
)
from llmplan.sim.stats import SloTargets


def lengths_from(stated: StatedLengths) -> LengthDistribution:
    """A length distribution through the stated mean and quantiles."""
    mean, p50, p95 = stated.mean, stated.p50, stated.p95
    if p50 is not None and p95 is not None and p95 > p50:
        return LognormalLength.from_median_p95(p50, p95)
    if p95 is not None and p95 > mean:
        if p95 <= mean * MAX_P95_OVER_MEAN:
            return LognormalLength.from_mean_p95(mean, p95)
        return LognormalLength(median_tokens=mean * math.exp(-Z95 * Z95 / 2), sigma=Z95)
    if p50 is not None and mean > p50:
        return LognormalLength(median_tokens=p50, sigma=math.sqrt(2 * math.log(mean / p50)))
    return FixedLength(max(1, round(mean)))


def features_from(
    workload: InferenceWorkload, target: ModelSpec, models: Registry[ModelSpec]
) -> Features:
    """Prefix caching and speculative decoding of ``workload`` served as ``target``;
    ``models``: the catalog's, for the draft model (named or the default one)."""
    hit = prefix_hit_of(workload.cached_input_fraction, workload.input_tokens.mean)
    stated = workload.speculative
    if stated is None:
        return Features(prefix_hit=hit)
    draft = None
    if stated.draft_model is not None:
        draft = models.get(stated.draft_model, field_name="speculative.draft_model")
    spec = speculation_of(
        stated.method, stated.tokens, stated.acceptance, draft, target=target, candidates=models
    )
    return Features(prefix_hit=hit, spec=spec)


def slo_from(workload: InferenceWorkload) -> SloTargets:
    slo = workload.slo
    return SloTargets(ttft_ms=slo.ttft_ms, tpot_ms=slo.tpot_ms, percentile=slo.percentile)


def open_loop_from(
    workload: InferenceWorkload, *, month: float = 0, whole_day: bool = False
) -> OpenLoop:
    """The workload's requests in ``month``: at the peak-hour rate, or over the day."""
    inputs = lengths_from(workload.input_tokens)
    outputs = lengths_from(workload.output_tokens)
    if not whole_day:
        return OpenLoop(PoissonArrivals(workload.peak_requests_per_s(month)), inputs, outputs)
    profile = workload.hourly_profile
    if profile is None:
        raise InputError("a whole day needs the workload's hourly_profile", field="hourly_profile")
    per_weight = workload.requests_per_day_at(month) / sum(profile) / SECONDS_PER_HOUR
    rates = tuple(w * per_weight for w in profile)
    assert len(rates) == HOURS_PER_DAY  # checked by the scenario schema
    return OpenLoop(HourlyArrivals(rates), inputs, outputs)
