"""Prefix-cache hits and speculative decoding of simulated requests, drawn per request.

- prefix caching: ``floor(prefix_hit x prompt)`` tokens of each prompt are found in the
  cache (at most all but one: a prompt's last token is always computed, as engines do to
  sample the first output token);
- speculative decoding: each verification step of a sequence keeps the drafts up to the
  first rejection plus one token of its own. With each of the ``K`` drafts accepted
  independently with probability ``a`` the accepted drafts are a geometric count
  truncated at ``K`` (``P(j) = a^j (1 - a)`` for ``j < K``, ``P(K) = a^K``), so a step
  yields ``1 + j`` tokens, ``(1 - a^(K+1)) / (1 - a)`` on average
  (:func:`llmplan.perf.speculative.expected_accepted_tokens`). A request of ``out``
  tokens gets its first from the prefill and the other ``out - 1`` from as many
  verification steps as it takes (the last step's surplus is dropped: the request stops
  at its length). Draws come from the run's generator, after each chunk's arrivals and
  lengths, so runs without speculation draw exactly what they drew before.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from llmplan.perf.speculative import SpecDecoding

DRAW_COLUMNS = 64
"""Verification steps drawn at once per request (a block; more blocks as needed)."""


def cached_tokens(inputs: NDArray[np.int64], prefix_hit: float) -> NDArray[np.int64]:
    """Prompt tokens of each request found in the prefix cache."""
    cached = np.floor(inputs * prefix_hit).astype(np.int64)
    most: NDArray[np.int64] = np.maximum(inputs - 1, 0)
    found: NDArray[np.int64] = np.minimum(np.maximum(cached, 0), most)
    return found


def tokens_per_step(
    rng: np.random.Generator, spec: SpecDecoding, shape: tuple[int, int]
) -> NDArray[np.int64]:
    """Tokens each of ``shape`` verification steps yields: 1 + accepted drafts."""
    k, a = spec.draft_tokens, spec.acceptance
    if a >= 1.0:
        return np.full(shape, k + 1, dtype=np.int64)
    accepted = rng.geometric(1.0 - a, size=shape) - 1
    return np.minimum(accepted, k).astype(np.int64) + 1


def verification_steps(
    rng: np.random.Generator, spec: SpecDecoding, needed: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Verification steps yielding at least ``needed`` tokens, per request."""
    steps = np.zeros(needed.shape, dtype=np.int64)
    left = needed.astype(np.int64)
    active = np.flatnonzero(left > 0)
    while active.size:
        block = tokens_per_step(rng, spec, (active.size, DRAW_COLUMNS))
        totals = np.cumsum(block, axis=1)
        short = (totals < left[active, None]).sum(axis=1)
        done = short < DRAW_COLUMNS
        steps[active] += np.where(done, short + 1, DRAW_COLUMNS)
        left[active] -= totals[:, -1]
        active = active[~done]
    return steps


def sampling_steps(
    rng: np.random.Generator, spec: SpecDecoding, outputs: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Sampling steps of each request: its prefill's, then its verification steps."""
    return 1 + verification_steps(rng, spec, np.maximum(outputs - 1, 0))
