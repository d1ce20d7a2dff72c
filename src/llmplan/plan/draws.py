"""What the plan's Monte Carlo draws besides the finance assumptions: the throughput the
performance model predicted, and the prices paid.

- **throughput**: a design's capacity is the model's prediction; the truth is
  ``predicted * t``. ``t`` is lognormal with the 80 % interval of the model's held-out
  throughput residuals in the design's cell (``data/intervals.yaml``, regime ``load``):
  P10 ``exp(-q90)``, P90 ``exp(-q10)``. One standard-normal draw per sample is shared by
  every option (the same model is wrong the same way for all of them); a design sized by a
  measured throughput is not drawn. A self-hosted or rented option at volume ``k`` with
  throughput ``t`` needs the replicas of volume ``k / t`` (the API does not depend on it;
  a hybrid's burst share is re-costed at ``k / t`` too, an approximation).
- **prices**: ``finance.hardware_price_multiple``, ``cloud_price_multiple`` and
  ``api_price_multiple``, lognormal with the P10/P90 of ``data/price-uncertainty.yaml``,
  times the scenario's value.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from importlib import resources
from statistics import NormalDist

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from llmplan.cost.result import FloatArray
from llmplan.perf.intervals import Cell, IntervalTable, Regime, bundled_intervals
from llmplan.plan.search import Design

Z90 = NormalDist().inv_cdf(0.9)
THROUGHPUT_FIELD = "throughput_z"
"""The shared standard-normal draw of the model's throughput error (higher: faster than
predicted, which favours the options that run their own replicas)."""


class PriceSpread(BaseModel):
    """P10 and P90 of a price multiple, with the source of the range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p10: float = Field(gt=0)
    p90: float = Field(gt=0)
    source: str = Field(min_length=8)
    date: dt.date


@functools.cache
def price_spreads() -> dict[str, PriceSpread]:
    """The bundled spreads, keyed by finance field (read once)."""
    path = resources.files("llmplan").joinpath("data").joinpath("price-uncertainty.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: PriceSpread.model_validate(value) for name, value in data.items()}


def lognormal_from(z: FloatArray, p10: float, p90: float) -> FloatArray:
    """Lognormal values with P10 ``p10`` and P90 ``p90`` for standard-normal draws ``z``."""
    sigma = math.log(p90 / p10) / (2 * Z90)
    mu = math.log(math.sqrt(p10 * p90))
    return np.asarray(np.exp(mu + sigma * z), dtype=np.float64)


def throughput_log_spread(
    designs: tuple[Design, ...], table: IntervalTable | None = None
) -> tuple[float, float]:
    """(mu, sigma) of log throughput-multiple for an option made of ``designs``: the mean of
    their cells' (no spread when every design is measured or there is none)."""
    table = table or bundled_intervals()
    modelled = [d for d in designs if not d.measured_source]
    if not modelled:
        return 0.0, 0.0
    mus, sigmas = [], []
    for design in modelled:
        quantiles = table.lookup(Cell.of(design.deployment, Regime.LOAD), "throughput")
        low, high = -quantiles.q90_log, -quantiles.q10_log
        mus.append((low + high) / 2)
        sigmas.append((high - low) / (2 * Z90))
    return float(np.mean(mus)), float(np.mean(sigmas))


def price_draws(
    base: dict[str, float], rng: np.random.Generator, samples: int
) -> dict[str, FloatArray]:
    """Draws of each price multiple: the scenario's value times the bundled spread."""
    return {
        name: base[name] * lognormal_from(rng.standard_normal(samples), spread.p10, spread.p90)
        for name, spread in price_spreads().items()
    }
