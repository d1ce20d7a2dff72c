"""Sensitivity of option costs to finance assumptions: tornado bars and Monte Carlo.

A *scenario* is any callable that costs every option under one
:class:`~llmplan.domain.finance.FinanceAssumptions` and returns ``{option name: USD}``
(TCO or NPV, the caller's choice). Inputs name fields of ``FinanceAssumptions``; every
varied copy is re-validated, so values outside a field's bounds raise
:class:`~llmplan.errors.InputError` (Monte Carlo samples are clipped to the bounds first).
Randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from llmplan.cost.result import FloatArray
from llmplan.domain.finance import FinanceAssumptions, with_overrides
from llmplan.errors import ConfigurationError, InputError, UnknownNameError

Scenario = Callable[[FinanceAssumptions], Mapping[str, float]]

LOGNORMAL_LOW_QUANTILE = 0.1
"""Quantile that ``Uncertainty.low`` stands for with a lognormal spread (P10)."""
LOGNORMAL_HIGH_QUANTILE = 0.9
"""Quantile that ``Uncertainty.high`` stands for with a lognormal spread (P90)."""
REPORTED_PERCENTILES = (10.0, 50.0, 90.0)
"""Percentiles reported by :class:`MonteCarloResult` (P10, P50, P90)."""


def _numeric_field(name: str) -> type:
    """The type (int or float) of a numeric ``FinanceAssumptions`` field."""
    info = FinanceAssumptions.model_fields.get(name)
    if info is None:
        raise UnknownNameError(f"no finance assumption named {name!r}", field="field")
    if info.annotation is float:
        return float
    if info.annotation is int:
        return int
    raise InputError(f"{name!r} is not a numeric assumption", field="field")


def field_bounds(name: str) -> tuple[float, float]:
    """Inclusive (or strict, for ``gt``) numeric bounds declared on a finance field."""
    low, high = -math.inf, math.inf
    for rule in FinanceAssumptions.model_fields[name].metadata:
        low = float(getattr(rule, "ge", getattr(rule, "gt", low)))
        high = float(getattr(rule, "le", getattr(rule, "lt", high)))
    return low, high


def _vary(base: FinanceAssumptions, values: Mapping[str, float]) -> FinanceAssumptions:
    typed = {
        name: round(value) if _numeric_field(name) is int else value
        for name, value in values.items()
    }
    return with_overrides(base, **typed)


def _cheapest(costs: Mapping[str, float]) -> str:
    if not costs:
        raise ConfigurationError("the scenario returned no options", field="scenario")
    return min(costs, key=lambda option: costs[option])


# --- tornado -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TornadoInput:
    """One field of ``FinanceAssumptions`` set to a low and a high value."""

    field: str
    low: float
    high: float

    def __post_init__(self) -> None:
        _numeric_field(self.field)

    @classmethod
    def from_multipliers(
        cls, base: FinanceAssumptions, field: str, low_multiplier: float, high_multiplier: float
    ) -> TornadoInput:
        """Low/high as multiples of the base value of ``field``."""
        _numeric_field(field)
        value = float(getattr(base, field))
        return cls(field, value * low_multiplier, value * high_multiplier)


@dataclass(frozen=True)
class TornadoBar:
    """Outcomes with one field at its low and high value, others at base."""

    field: str
    low_value: float
    high_value: float
    base_usd: Mapping[str, float]
    low_usd: Mapping[str, float]
    high_usd: Mapping[str, float]

    @property
    def cheapest_base(self) -> str:
        """Cheapest option with every field at base."""
        return _cheapest(self.base_usd)

    @property
    def cheapest_low(self) -> str:
        """Cheapest option with this field low."""
        return _cheapest(self.low_usd)

    @property
    def cheapest_high(self) -> str:
        """Cheapest option with this field high."""
        return _cheapest(self.high_usd)

    @property
    def changes_cheapest(self) -> bool:
        """Whether the low or the high value makes another option the cheapest."""
        return self.cheapest_base not in (self.cheapest_low, self.cheapest_high) or (
            self.cheapest_low != self.cheapest_high
        )

    def swing_usd(self, option: str) -> float:
        """|high outcome - low outcome| of ``option``, USD."""
        return abs(self.high_usd[option] - self.low_usd[option])


def tornado(
    scenario: Scenario,
    base: FinanceAssumptions,
    inputs: Sequence[TornadoInput],
    *,
    sort_by: str | None = None,
) -> tuple[TornadoBar, ...]:
    """One bar per input, ordered by swing (of ``sort_by``, or the widest swing of any
    option when ``None``), widest first."""
    base_usd = dict(scenario(base))
    _cheapest(base_usd)
    if sort_by is not None and sort_by not in base_usd:
        raise UnknownNameError(f"the scenario has no option {sort_by!r}", field="sort_by")
    bars = []
    for item in inputs:
        low_usd = dict(scenario(_vary(base, {item.field: item.low})))
        high_usd = dict(scenario(_vary(base, {item.field: item.high})))
        if set(low_usd) != set(base_usd) or set(high_usd) != set(base_usd):
            raise ConfigurationError("the scenario changed its options", field="scenario")
        bars.append(TornadoBar(item.field, item.low, item.high, base_usd, low_usd, high_usd))

    def width(bar: TornadoBar) -> float:
        if sort_by is not None:
            return bar.swing_usd(sort_by)
        return max(bar.swing_usd(option) for option in base_usd)

    return tuple(sorted(bars, key=width, reverse=True))


# --- Monte Carlo ---------------------------------------------------------------------------


class Distribution(StrEnum):
    """Spread of an uncertain field."""

    TRIANGULAR = "triangular"
    """``low`` / ``mode`` / ``high`` are the minimum, most likely and maximum values."""
    LOGNORMAL = "lognormal"
    """``low`` / ``high`` are the P10 / P90; the median is their geometric mean."""


@dataclass(frozen=True)
class Uncertainty:
    """An uncertain ``FinanceAssumptions`` field and its spread."""

    field: str
    low: float
    high: float
    mode: float | None = None
    distribution: Distribution = Distribution.TRIANGULAR

    def __post_init__(self) -> None:
        _numeric_field(self.field)
        if not self.low <= self.high:
            raise InputError(f"low {self.low} exceeds high {self.high}", field=self.field)
        if self.distribution is Distribution.TRIANGULAR:
            if self.mode is None or not self.low <= self.mode <= self.high:
                raise InputError("triangular needs low <= mode <= high", field=self.field)
        elif self.mode is not None or not self.low > 0.0:
            raise InputError("lognormal needs low > 0 and no mode", field=self.field)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws, clipped to the field's declared bounds."""
        if self.distribution is Distribution.TRIANGULAR:
            mode = self.low if self.mode is None else self.mode  # never None once built
            if self.low == self.high:
                draws = np.full(size, self.low)
            else:
                draws = rng.triangular(self.low, mode, self.high, size)
        else:
            from scipy.stats import norm  # imported on first use: scipy is slow to import

            z_span = norm.ppf(LOGNORMAL_HIGH_QUANTILE) - norm.ppf(LOGNORMAL_LOW_QUANTILE)
            sigma = math.log(self.high / self.low) / z_span
            draws = rng.lognormal(math.log(math.sqrt(self.low * self.high)), sigma, size)
        low, high = field_bounds(self.field)
        return np.clip(np.asarray(draws, dtype=np.float64), low, high)


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Sampled outcomes: ``samples_usd[i, j]`` is option ``options[j]`` in draw ``i``."""

    options: tuple[str, ...]
    samples_usd: FloatArray
    inputs: Mapping[str, FloatArray]

    def percentile_usd(self, option: str, percentile: float) -> float:
        """The ``percentile`` (0-100) of ``option``'s outcome, USD."""
        column = self.samples_usd[:, self.options.index(option)]
        return float(np.percentile(column, percentile))

    def percentiles_usd(self) -> Mapping[str, tuple[float, ...]]:
        """P10, P50, P90 of every option, USD."""
        return {
            option: tuple(self.percentile_usd(option, p) for p in REPORTED_PERCENTILES)
            for option in self.options
        }

    @property
    def probability_cheapest(self) -> Mapping[str, float]:
        """Share of draws in which each option is the cheapest (ties: first option)."""
        winners = np.argmin(self.samples_usd, axis=1)
        counts = np.bincount(winners, minlength=len(self.options))
        return {option: float(counts[j]) / len(winners) for j, option in enumerate(self.options)}


def monte_carlo(
    scenario: Scenario,
    base: FinanceAssumptions,
    uncertainties: Sequence[Uncertainty],
    *,
    rng: np.random.Generator,
    samples: int,
) -> MonteCarloResult:
    """Draw every uncertain field ``samples`` times (vectorized) and cost each draw."""
    if samples < 1:
        raise InputError(f"must be >= 1, got {samples}", field="samples")
    fields = [item.field for item in uncertainties]
    if len(set(fields)) != len(fields):
        raise ConfigurationError("a field is listed twice", field="uncertainties")
    draws = {item.field: item.sample(rng, samples) for item in uncertainties}
    options = tuple(scenario(base))
    outcomes = np.empty((samples, len(options)))
    for i in range(samples):
        costs = scenario(_vary(base, {name: float(v[i]) for name, v in draws.items()}))
        if set(costs) != set(options):
            raise ConfigurationError("the scenario changed its options", field="scenario")
        outcomes[i] = [costs[option] for option in options]
    return MonteCarloResult(options, outcomes, draws)
