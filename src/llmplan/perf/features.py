"""Serving features of a load that change its step costs: prefix caching and speculative
decoding.

Kept apart from :mod:`llmplan.perf.openloop_costs` (which needs NumPy) so that the memory
and performance paths of the command line can name them without importing NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.perf.speculative import SpecDecoding


@dataclass(frozen=True)
class Features:
    """Prefix caching and speculative decoding of the load (``Load.prefix_hit``,
    ``Load.speculative``). With
    speculative decoding a "decode step" here is the time per generated token."""

    prefix_hit: float = 0.0
    spec: SpecDecoding | None = None


NO_FEATURES = Features()
