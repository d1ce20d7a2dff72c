"""Room in the KV cache for a new prompt under Poisson load: how often a prompt finds
none, and how long it then waits.

vLLM's scheduler admits waiting prompts first come, first served, and only when the
cache has the blocks of the whole prompt; a prompt that does not fit stays at the head
of the queue and holds back every prompt behind it until running sequences finish and
free their cache. :mod:`llmplan.perf.openloop` counts that wait as part of the time a
prompt holds the head of its queue (Pollaczek-Khinchine over both). The discrete-event
simulator (:mod:`llmplan.sim.engine`) runs the same rule request by request.
"""

from __future__ import annotations

import numpy as np

from llmplan.deployment import Deployment
from llmplan.sizing.memory import kv_budget_per_gpu, kv_bytes_per_sequence, kv_shard_fraction

TAIL_PROBABILITY = 1e-9
"""Crowds of running sequences rarer than this are left out of the sums over their
number."""


def kv_capacity_tokens(dep: Deployment, context: float) -> float:
    """Tokens the KV cache of one replica holds (bytes per token of a ``context``-token
    sequence, which matters for sliding-window layers)."""
    reference = max(1.0, context)
    per_token = kv_bytes_per_sequence(dep.model, dep.kv, reference) / reference
    return kv_budget_per_gpu(dep) / (per_token * kv_shard_fraction(dep))


def blocked_chance(
    room_tokens: np.ndarray, others: float, context: float, context_sq: float, dispersion: float
) -> np.ndarray:
    """Probability that the running sequences hold more than ``room_tokens`` (the cache
    less each prompt): the tokens held are a sum over ``others`` sequences on average
    (mean ``b x context``, variance ``dispersion x b x E[context^2]``), taken as gamma
    distributed."""
    from scipy.stats import gamma  # imported on first use: scipy is slow to import

    held_mean = max(others, 1e-9) * context
    held_var = dispersion * max(others, 1e-9) * context_sq
    shape, scale = held_mean**2 / held_var, held_var / held_mean
    blocked: np.ndarray = gamma.sf(np.maximum(room_tokens, 0.0), shape, scale=scale)
    return blocked


def room_wait_moments(
    room_tokens: np.ndarray, others: float, context: float, residual_life_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, second moment) in seconds (squared) of the wait of a prompt, found without
    room, until enough running sequences finish.

    Beside a prompt with ``room_tokens`` of cache ``j = floor(room / context)`` sequences
    fit; it found ``N > j`` running (``N`` Poisson with mean ``others``) and waits until
    ``N - j`` of them finish. With exponential residual lives of mean ``r`` the next of
    ``k`` running finishes after an exponential of mean ``r / k`` (order statistics), so
    the wait has mean ``r (H_N - H_j)`` and variance ``r^2 (H2_N - H2_j)``, ``H`` and
    ``H2`` the harmonic sums of ``1/i`` and ``1/i^2``."""
    from scipy.stats import poisson  # imported on first use: scipy is slow to import

    mean_count = max(others, 1e-9)
    fit = np.floor(np.maximum(room_tokens, 0.0) / max(context, 1.0)).astype(int)
    top = int(max(fit.max() + 1, poisson.isf(TAIL_PROBABILITY, mean_count))) + 1
    counts = np.arange(top + 1)
    chance = poisson.pmf(counts, mean_count)
    inverse = np.concatenate(([0.0], 1.0 / counts[1:]))
    wait = residual_life_s * np.cumsum(inverse)
    var = residual_life_s**2 * np.cumsum(inverse**2)
    means, seconds = np.empty(len(fit)), np.empty(len(fit))
    for index, j in enumerate(fit):
        weights = np.where(counts > j, chance, 0.0)
        if weights.sum() <= 0:  # a crowd beyond any likely one: one more than fits
            weights = (counts == j + 1).astype(float)
        weights /= weights.sum()
        after = wait - wait[j]
        means[index] = weights @ after
        seconds[index] = weights @ (var - var[j] + after**2)
    return means, seconds
