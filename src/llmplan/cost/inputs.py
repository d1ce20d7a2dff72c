"""What is being costed: an owned fleet, a cloud rental, or per-token API usage.

Each input is a frozen dataclass that checks its own values and raises
:class:`~llmplan.errors.InputError` naming the field. Prices and volumes only; shared
assumptions (electricity, staff, horizon...) live in
:class:`~llmplan.domain.finance.FinanceAssumptions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from llmplan.domain.finance import MONTHS_PER_YEAR, FinanceAssumptions
from llmplan.errors import InputError

WATTS_PER_KW = 1000.0
TOKENS_PER_MTOK = 1e6


def check_range(field: str, value: float, low: float, high: float = math.inf) -> None:
    """Raise :class:`InputError` unless ``low <= value <= high`` (NaN is rejected)."""
    if not low <= value <= high:
        bound = f"between {low} and {high}" if math.isfinite(high) else f">= {low}"
        raise InputError(f"must be {bound}, got {value}", field=field)


def check_positive(field: str, value: float) -> None:
    """Raise :class:`InputError` unless ``value > 0`` (NaN is rejected)."""
    if not value > 0.0:
        raise InputError(f"must be > 0, got {value}", field=field)


class SiteKind(StrEnum):
    """Where an owned fleet stands: a site the owner runs, or rented colocation space."""

    ON_PREMISE = "on_premise"
    COLOCATION = "colocation"


class Commitment(StrEnum):
    """Cloud pricing plan; reserved plans bind every hour of their term."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    RESERVED_1Y = "reserved_1y"
    RESERVED_3Y = "reserved_3y"
    RESERVED_5Y = "reserved_5y"

    @property
    def term_months(self) -> int:
        """Length of the commitment in months (0 = pay as you go)."""
        years = {Commitment.RESERVED_1Y: 1, Commitment.RESERVED_3Y: 3, Commitment.RESERVED_5Y: 5}
        return years.get(self, 0) * MONTHS_PER_YEAR


@dataclass(frozen=True)
class Fleet:
    """Identical purchased GPU servers.

    ``server_price_usd`` is the full system price per server (GPUs, chassis, CPUs, memory);
    ``server_power_kw`` its rated (nameplate) draw at the wall, before PUE. ``busy_fraction``
    is the share of hours the servers serve load; busy hours draw
    ``average_power_fraction_of_tdp`` and idle hours ``idle_power_fraction_of_tdp`` of rated.
    """

    servers: int
    gpus_per_server: int
    server_price_usd: float
    server_power_kw: float
    busy_fraction: float = 1.0

    def __post_init__(self) -> None:
        check_range("servers", self.servers, 1)
        check_range("gpus_per_server", self.gpus_per_server, 1)
        check_range("server_price_usd", self.server_price_usd, 0.0)
        check_positive("server_power_kw", self.server_power_kw)
        check_range("busy_fraction", self.busy_fraction, 0.0, 1.0)

    @property
    def gpus(self) -> int:
        """GPUs in the fleet."""
        return self.servers * self.gpus_per_server

    @property
    def rated_kw(self) -> float:
        """Rated IT power of the whole fleet, kW."""
        return self.servers * self.server_power_kw


def fleet_from_gpus(
    servers: int,
    gpus_per_server: int,
    gpu_price_usd: float,
    gpu_tdp_w: float,
    finance: FinanceAssumptions,
    *,
    busy_fraction: float = 1.0,
) -> Fleet:
    """A fleet priced from GPU prices when only GPUs are known.

    Server price = GPUs x ``gpu_price_usd`` + ``finance.server_overhead_usd``; server power =
    GPUs x TDP x (1 + ``finance.server_non_gpu_power_fraction_of_gpu``).
    """
    check_range("gpu_price_usd", gpu_price_usd, 0.0)
    check_range("gpu_tdp_w", gpu_tdp_w, 0.0)
    gpu_kw = gpus_per_server * gpu_tdp_w / WATTS_PER_KW
    return Fleet(
        servers=servers,
        gpus_per_server=gpus_per_server,
        server_price_usd=gpus_per_server * gpu_price_usd + finance.server_overhead_usd,
        server_power_kw=gpu_kw * (1.0 + finance.server_non_gpu_power_fraction_of_gpu),
        busy_fraction=busy_fraction,
    )


@dataclass(frozen=True)
class CloudRental:
    """Rented cloud GPU instances.

    ``billed_hours_per_month``: hours each instance is billed per month; ``None`` means every
    hour (``finance.hours_per_month``, always on). Reserved commitments bill every hour, so a
    smaller value is rejected for them when costed.
    """

    instances: int
    usd_per_instance_hour: float
    billed_hours_per_month: float | None = None
    commitment: Commitment = Commitment.ON_DEMAND

    def __post_init__(self) -> None:
        check_range("instances", self.instances, 1)
        check_range("usd_per_instance_hour", self.usd_per_instance_hour, 0.0)
        if self.billed_hours_per_month is not None:
            check_range("billed_hours_per_month", self.billed_hours_per_month, 0.0)

    @property
    def usd_per_hour(self) -> float:
        """Price of all instances for one hour, USD/h."""
        return self.instances * self.usd_per_instance_hour


@dataclass(frozen=True)
class ApiUsage:
    """Monthly token volumes sent to a per-token API, with its prices in USD per M tokens.

    ``cached_input_fraction`` of input tokens are billed at ``cached_input_usd_per_mtok``
    (``None``: same as uncached input).
    """

    input_tokens_per_month: float
    output_tokens_per_month: float
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_fraction: float = 0.0
    cached_input_usd_per_mtok: float | None = None

    def __post_init__(self) -> None:
        check_range("input_tokens_per_month", self.input_tokens_per_month, 0.0)
        check_range("output_tokens_per_month", self.output_tokens_per_month, 0.0)
        check_range("input_usd_per_mtok", self.input_usd_per_mtok, 0.0)
        check_range("output_usd_per_mtok", self.output_usd_per_mtok, 0.0)
        check_range("cached_input_fraction", self.cached_input_fraction, 0.0, 1.0)
        if self.cached_input_usd_per_mtok is not None:
            check_range("cached_input_usd_per_mtok", self.cached_input_usd_per_mtok, 0.0)

    @property
    def tokens_per_month(self) -> float:
        """Input plus output tokens per month."""
        return self.input_tokens_per_month + self.output_tokens_per_month

    @property
    def usd_per_month(self) -> float:
        """API bill for one month, USD."""
        cached_price = self.cached_input_usd_per_mtok
        if cached_price is None:
            cached_price = self.input_usd_per_mtok
        cached = self.input_tokens_per_month * self.cached_input_fraction
        uncached = self.input_tokens_per_month - cached
        usd_times_mtok = (
            uncached * self.input_usd_per_mtok
            + cached * cached_price
            + self.output_tokens_per_month * self.output_usd_per_mtok
        )
        return usd_times_mtok / TOKENS_PER_MTOK

    def scaled(self, factor: float) -> ApiUsage:
        """The same mix and prices with every volume multiplied by ``factor``."""
        check_range("factor", factor, 0.0)
        return ApiUsage(
            input_tokens_per_month=self.input_tokens_per_month * factor,
            output_tokens_per_month=self.output_tokens_per_month * factor,
            input_usd_per_mtok=self.input_usd_per_mtok,
            output_usd_per_mtok=self.output_usd_per_mtok,
            cached_input_fraction=self.cached_input_fraction,
            cached_input_usd_per_mtok=self.cached_input_usd_per_mtok,
        )
