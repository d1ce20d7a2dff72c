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

import math

import numpy as np

from llmplan.deployment import Deployment
from llmplan.sizing.memory import kv_budget_per_gpu, kv_bytes_per_sequence, kv_shard_fraction

TAIL_SPREAD = 12.0
"""Crowds of running sequences beyond ``mean + TAIL_SPREAD x sqrt(mean)`` (Poisson
probability below ~1e-9 for any mean) are left out of the sums over their number."""


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
    from scipy.special import gammaln  # imported on first use: scipy is slow to import

    mean_count = max(others, 1e-9)
    fit = np.floor(np.maximum(room_tokens, 0.0) / max(context, 1.0)).astype(int)
    top = int(max(fit.max() + 1, mean_count + TAIL_SPREAD * math.sqrt(mean_count))) + 1
    counts = np.arange(top + 1)
    chance = np.exp(counts * math.log(mean_count) - mean_count - gammaln(counts + 1))
    inverse = np.concatenate(([0.0], 1.0 / counts[1:]))
    wait = residual_life_s * np.cumsum(inverse)  # until none is left of k running
    var = residual_life_s**2 * np.cumsum(inverse**2)
    beyond = counts[None, :] > fit[:, None]  # crowds that leave no room, per prompt
    weights = np.where(beyond, chance[None, :], 0.0)
    total = weights.sum(axis=1, keepdims=True)
    next_over = (counts[None, :] == fit[:, None] + 1).astype(float)
    weights = np.where(total > 0, weights / np.maximum(total, 1e-300), next_over)
    after = wait[None, :] - wait[fit][:, None]  # until only j are left
    means = (weights * after).sum(axis=1)
    seconds = (weights * (var[None, :] - var[fit][:, None] + after**2)).sum(axis=1)
    return means, seconds
