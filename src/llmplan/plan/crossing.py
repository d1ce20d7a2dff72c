"""Where options cross as the inference volume changes.

Every option's recipe is re-costed at multiples of the scenario's inference volume (the
same designs; replicas, GPU-hours and tokens follow the volume), on a geometric grid from
1/16 to 16 times. Two options cross where the sign of their NPV difference changes; the
crossing nearest the scenario's own volume is reported, found by bisection between the
grid points around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from llmplan.cost import FinanceAssumptions, TornadoBar
from llmplan.cost.result import FloatArray
from llmplan.plan.options import Recipe

VOLUME_MULTIPLES: FloatArray = np.geomspace(1 / 16, 16, 49)
"""Volume multiples costed (index 24 is 1.0; 0.5 and 2.0 are on the grid)."""
TORNADO_VOLUME_RANGE = (0.5, 2.0)
"""Low and high volume multiples of the sensitivity bar for the inference volume."""


def volume_curves(
    recipes: Mapping[str, Recipe], finance: FinanceAssumptions
) -> dict[str, FloatArray]:
    """NPV of every option at every multiple of :data:`VOLUME_MULTIPLES`, USD."""
    return {
        name: np.array([recipe(finance, float(k)).npv_usd for k in VOLUME_MULTIPLES])
        for name, recipe in recipes.items()
    }


CROSSING_RELATIVE_TOLERANCE = 1e-4
"""Bisection stops when the bracket around a crossing is this narrow (relative)."""


def crossing_multiple(
    a: FloatArray, b: FloatArray, gap_at: Callable[[float], float] | None = None
) -> float | None:
    """The volume multiple nearest 1 at which curves ``a`` and ``b`` swap order.

    Between grid points the crossing is interpolated on the log scale, or, given
    ``gap_at`` (NPV of a minus NPV of b at a multiple), found by bisection: costs step
    where a fleet gains a replica, so two options may swap order at such a step rather
    than where straight lines between grid points meet."""
    gap = np.asarray(a) - np.asarray(b)
    logs = np.log(VOLUME_MULTIPLES)
    found: list[float] = []
    for i in range(len(gap) - 1):
        if gap[i] == 0:
            found.append(float(VOLUME_MULTIPLES[i]))
        elif gap[i] * gap[i + 1] < 0:
            lo, hi = float(VOLUME_MULTIPLES[i]), float(VOLUME_MULTIPLES[i + 1])
            if gap_at is not None:
                found.append(_bisect(gap_at, lo, hi, float(gap[i])))
                continue
            t = gap[i] / (gap[i] - gap[i + 1])
            found.append(math.exp(logs[i] + t * (logs[i + 1] - logs[i])))
    if not found:
        return None
    return min(found, key=lambda k: abs(math.log(k)))


def _bisect(gap_at: Callable[[float], float], lo: float, hi: float, gap_lo: float) -> float:
    """A multiple in [lo, hi] where ``gap_at`` changes sign (``gap_at(lo) = gap_lo``)."""
    while hi / lo - 1 > CROSSING_RELATIVE_TOLERANCE:
        mid = math.sqrt(lo * hi)
        gap_mid = gap_at(mid)
        if gap_mid == 0:
            return mid
        if (gap_mid > 0) == (gap_lo > 0):
            lo, gap_lo = mid, gap_mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def volume_bar(curves: Mapping[str, FloatArray]) -> TornadoBar:
    """A tornado bar for the inference volume (half and double), like the finance ones."""
    grid = list(np.round(VOLUME_MULTIPLES, 12))

    def at(multiple: float) -> dict[str, float]:
        index = grid.index(round(multiple, 12))
        return {name: float(curve[index]) for name, curve in curves.items()}

    low, high = TORNADO_VOLUME_RANGE
    return TornadoBar("inference_volume_multiple", low, high, at(1.0), at(low), at(high))
