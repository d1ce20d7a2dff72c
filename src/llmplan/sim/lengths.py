"""Distributions of prompt and output lengths, in tokens, sampled in bulk with numpy.

Every distribution draws integers >= 1 from a ``numpy.random.Generator`` the caller
owns; the same generator state gives the same lengths.

>>> import numpy as np
>>> LognormalLength.from_mean_p95(1000, 3000).sample(np.random.default_rng(0), 4).tolist()
[728, 573, 1177, 714]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from llmplan.errors import InputError

Z95 = NormalDist().inv_cdf(0.95)
MAX_P95_OVER_MEAN = math.exp(Z95 * Z95 / 2)
"""Largest p95 / mean a lognormal can have (~3.87, at sigma = z95)."""


class LengthDistribution(Protocol):
    """Lengths of prompts or outputs."""

    @property
    def mean_tokens(self) -> float: ...

    def sample(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]: ...


def _check_tokens(name: str, value: float) -> None:
    if not (value >= 1 and math.isfinite(value)):
        raise InputError(f"must be a finite number of tokens >= 1, got {value}", field=name)


@dataclass(frozen=True)
class FixedLength:
    """Every request has ``tokens`` tokens."""

    tokens: int

    def __post_init__(self) -> None:
        _check_tokens("tokens", self.tokens)

    @property
    def mean_tokens(self) -> float:
        return float(self.tokens)

    def sample(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]:
        return np.full(count, int(self.tokens), dtype=np.int64)


@dataclass(frozen=True)
class UniformLength:
    """Integers from ``low`` to ``high`` inclusive, equally likely."""

    low: int
    high: int

    def __post_init__(self) -> None:
        _check_tokens("low", self.low)
        if self.high < self.low:
            raise InputError(f"must be >= low ({self.low}), got {self.high}", field="high")

    @property
    def mean_tokens(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]:
        return rng.integers(self.low, self.high + 1, size=count, dtype=np.int64)


@dataclass(frozen=True)
class LognormalLength:
    """``exp(N(log(median_tokens), sigma^2))``, rounded, at least 1 token."""

    median_tokens: float
    sigma: float

    def __post_init__(self) -> None:
        _check_tokens("median_tokens", self.median_tokens)
        if not (self.sigma >= 0 and math.isfinite(self.sigma)):
            raise InputError(f"must be a finite number >= 0, got {self.sigma}", field="sigma")

    @classmethod
    def from_mean_p95(cls, mean: float, p95: float) -> LognormalLength:
        """The lognormal with this mean and 95th percentile (p95 >= mean, and at most
        ~3.87 x mean: no lognormal has a longer p95 for its mean)."""
        _check_tokens("mean", mean)
        if not (p95 >= mean and math.isfinite(p95)):
            raise InputError(f"must be >= the mean ({mean:g}), got {p95:g}", field="p95")
        ratio = math.log(p95 / mean)
        limit = Z95 * Z95 / 2
        if ratio > limit * (1 + 1e-12):
            raise InputError(
                f"{p95:g} is more than {MAX_P95_OVER_MEAN:.2f} x the mean {mean:g}, "
                "which no lognormal has; give a smaller p95 or an empirical length file",
                field="p95",
            )
        sigma = Z95 - math.sqrt(max(0.0, Z95 * Z95 - 2 * ratio))
        return cls(median_tokens=mean * math.exp(-sigma * sigma / 2), sigma=sigma)

    @classmethod
    def from_median_p95(cls, median: float, p95: float) -> LognormalLength:
        _check_tokens("median", median)
        if not (p95 >= median and math.isfinite(p95)):
            raise InputError(f"must be >= the median ({median:g}), got {p95:g}", field="p95")
        return cls(median_tokens=median, sigma=math.log(p95 / median) / Z95)

    @property
    def mean_tokens(self) -> float:
        return self.median_tokens * math.exp(self.sigma * self.sigma / 2)

    def sample(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]:
        draws = rng.lognormal(math.log(self.median_tokens), self.sigma, size=count)
        return np.maximum(np.rint(draws), 1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class EmpiricalLength:
    """Lengths drawn with replacement from observed ``values``."""

    values: NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.values.size == 0:
            raise InputError("needs at least one length", field="lengths")
        if int(self.values.min()) < 1:
            raise InputError("every length must be >= 1 token", field="lengths")

    @property
    def mean_tokens(self) -> float:
        return float(self.values.mean())

    def sample(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]:
        return self.values[rng.integers(0, self.values.size, size=count)]


def mean_p95_lengths(name: str, mean: int, p95: float | None) -> LengthDistribution:
    """Token lengths given as a mean (fixed) or a mean and a 95th percentile (lognormal);
    errors name ``name`` (e.g. ``input_tokens``) or its ``_p95`` companion."""
    if mean < 1:
        raise InputError(f"must be >= 1, got {mean}", field=name)
    if p95 is None:
        return FixedLength(mean)
    try:
        return LognormalLength.from_mean_p95(mean, p95)
    except InputError as exc:
        raise InputError(exc.message, field=f"{name.removesuffix('_tokens')}_p95") from None


def load_lengths(path: Path) -> EmpiricalLength:
    """Lengths from a text file: one positive integer per line (``#`` comments, blank
    lines and a non-numeric first line as header are skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}", field="lengths") from None
    values: list[int] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            if number == 1:
                continue
            raise InputError(
                f"{path}, line {number}: {text!r} is not a whole number of tokens",
                field="lengths",
            ) from None
        if value < 1:
            raise InputError(f"{path}, line {number}: {value} is not >= 1", field="lengths")
        values.append(value)
    if not values:
        raise InputError(f"{path} holds no lengths", field="lengths")
    return EmpiricalLength(np.asarray(values, dtype=np.int64))
