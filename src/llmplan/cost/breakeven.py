"""When one option becomes cheaper than another: by month, by hours of use, by volume.

- :func:`breakeven_month`: first month at which A's cumulative spending is at most B's;
- :func:`breakeven_months`: the same crossing as a fractional month (interpolated);
- :func:`breakeven_hours`: Lenovo LP2368's hours of use x solving
  ``capex + opex_h x = cloud_h x``, i.e. ``x = capex / (cloud_h - opex_h)``;
- :func:`crossing_point`: the argument at which two cost functions of one variable meet
  (utilisation, hours, volume), found by bracketing root search;
- :func:`breakeven_busy_fraction`: share of hours an owned fleet must be busy (and a cloud
  rental billed) for both to cost the same over the horizon;
- :func:`breakeven_api_tokens_per_month`: API volume whose bill equals a given TCO.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from llmplan.cost.inputs import ApiUsage, CloudRental, Fleet, SiteKind, check_range
from llmplan.cost.model import cost_api, cost_cloud, cost_self_hosted
from llmplan.cost.result import OptionCost
from llmplan.domain.finance import FinanceAssumptions
from llmplan.errors import ConfigurationError

SAME_COST_RTOL = 1e-9
"""Relative difference under which two cumulative costs count as equal (float rounding)."""


def breakeven_month(
    a: OptionCost, b: OptionCost, *, sustained: bool = False, rtol: float = SAME_COST_RTOL
) -> int | None:
    """First month index m (0 = t=0) with cumulative cost of ``a`` <= that of ``b``
    (within ``rtol`` of it).

    With ``sustained``, the first month from which ``a`` stays at most ``b`` to the horizon.
    ``None`` when it never happens. Both options must share the horizon.
    """
    if a.horizon_months != b.horizon_months:
        raise ConfigurationError("options have different horizons", field="horizon_months")
    check_range("rtol", rtol, 0.0)
    cumulative_b = b.cumulative_usd
    cheaper = a.cumulative_usd <= cumulative_b + rtol * np.abs(cumulative_b)
    if sustained:
        if not cheaper[-1]:
            return None
        later_dearer = (~cheaper).nonzero()[0]
        return 0 if later_dearer.size == 0 else int(later_dearer[-1]) + 1
    hits = cheaper.nonzero()[0]
    return int(hits[0]) if hits.size else None


def breakeven_months(a: OptionCost, b: OptionCost, *, rtol: float = SAME_COST_RTOL) -> float | None:
    """Month (fractional, not rounded) from which ``a`` stays no dearer than ``b``.

    The cumulative spending curves are read as straight between month ends (running costs
    accrue evenly within a month), and the last crossing is found by linear interpolation:
    with ``a`` dearer by g0 at month k-1 and cheaper by -g1 at month k, the answer is
    ``k - 1 + g0 / (g0 - g1)``. ``None`` when ``a`` is still dearer at the horizon.
    """
    month = breakeven_month(a, b, sustained=True, rtol=rtol)
    if month is None or month == 0:
        return None if month is None else 0.0
    gap = a.cumulative_usd - b.cumulative_usd
    before, after = float(gap[month - 1]), float(min(gap[month], 0.0))
    return month - 1 + before / (before - after)


def breakeven_hours(
    capex_usd: float, opex_usd_per_hour: float, cloud_usd_per_hour: float
) -> float | None:
    """Hours of use at which buying equals renting (Lenovo LP2368), or ``None`` if the
    cloud rate does not exceed the owned running cost per hour (or by so little that the
    hours are beyond any finite number)."""
    check_range("capex_usd", capex_usd, 0.0)
    margin = cloud_usd_per_hour - opex_usd_per_hour
    if margin <= 0.0:
        return None
    hours = capex_usd / margin
    return hours if math.isfinite(hours) else None


def crossing_point(
    cost_a: Callable[[float], float],
    cost_b: Callable[[float], float],
    low: float,
    high: float,
    *,
    xtol: float = 1e-9,
) -> float | None:
    """The x in [low, high] where ``cost_a(x) == cost_b(x)``; ``None`` if they do not cross.

    Assumes a single crossing (both costs monotonic in x, as utilisation and volume are).
    ``xtol`` is the absolute tolerance on x.
    """
    if not low < high:
        raise ConfigurationError(f"need low < high, got {low} and {high}", field="low")

    def gap(x: float) -> float:
        return cost_a(x) - cost_b(x)

    gap_low, gap_high = gap(low), gap(high)
    if gap_low == 0.0:
        return low
    if gap_high == 0.0:
        return high
    if (gap_low > 0.0) == (gap_high > 0.0):
        return None
    from scipy.optimize import brentq  # imported on first use: scipy is slow to import

    return float(brentq(gap, low, high, xtol=xtol))


def breakeven_busy_fraction(
    fleet: Fleet, site: SiteKind, rental: CloudRental, finance: FinanceAssumptions
) -> float | None:
    """Busy share of hours at which ``fleet`` (busy that share) and ``rental`` (billed only
    those hours) have the same TCO over the horizon; ``None`` if one is always cheaper.

    Multiply by 24 for Lenovo's hours per day. Pay-as-you-go rentals only.
    """
    if rental.commitment.term_months:
        raise ConfigurationError(
            "a reserved rental is billed every hour; use on_demand or spot", field="commitment"
        )

    def owned(fraction: float) -> float:
        busy = replace(fleet, busy_fraction=fraction)
        return cost_self_hosted(busy, finance, site).tco_usd

    def rented(fraction: float) -> float:
        hours = fraction * finance.hours_per_month
        return cost_cloud(replace(rental, billed_hours_per_month=hours), finance).tco_usd

    return crossing_point(owned, rented, 0.0, 1.0)


def breakeven_api_tokens_per_month(
    total_usd: float, usage: ApiUsage, finance: FinanceAssumptions
) -> float:
    """Tokens per month (with ``usage``'s input/output mix and prices) whose API bill over
    the horizon equals ``total_usd`` (e.g. a fleet's TCO). The bill is linear in volume."""
    check_range("total_usd", total_usd, 0.0)
    bill = cost_api(usage, finance).tco_usd
    if bill == 0.0:
        raise ConfigurationError("the API usage costs nothing", field="usage")
    return usage.tokens_per_month * total_usd / bill
