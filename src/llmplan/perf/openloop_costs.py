"""Step costs the open-loop model (:mod:`llmplan.perf.openloop`) is built from: a decode
step as a request sees it and each prompt length's work and queue service, with the
load's prefix caching and speculative decoding
(:class:`~llmplan.perf.features.Features`)."""

from __future__ import annotations

import math

import numpy as np

from llmplan.deployment import Deployment
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.prefill import first_token_after_decode_step, prefill_seconds
from llmplan.perf.prefix import cached_prompt_tokens
from llmplan.perf.serving import token_round_time
from llmplan.perf.step import StepShape


def decode_step_s(
    dep: Deployment, sequences: float, context: float, features: Features = NO_FEATURES
) -> float:
    """Seconds of a decode step of ``sequences`` (per generated token with speculation)."""
    shape = StepShape(decode_seqs=sequences, decode_context=context)
    return token_round_time(dep, shape, features.spec)[0]


def prompt_costs(
    dep: Deployment,
    prompts: np.ndarray,
    running: float,
    context: float,
    decode_s: float,
    features: Features = NO_FEATURES,
) -> tuple[np.ndarray, np.ndarray]:
    """(prompt work ``p``, queue service ``S``) in seconds of each prompt length; cached
    prompt tokens are not computed and take no room in the token budget."""
    engine = dep.engine
    spec = features.spec
    per_seq = 1.0 if spec is None else spec.draft_tokens + 1.0
    whole_step_s = decode_s * (1.0 if spec is None else spec.tokens_per_step)
    plain_s = decode_s if spec is None else decode_step_s(dep, max(running, 1.0), context)
    budget = max(1.0, engine.max_batched_tokens - running * per_seq)
    work, service = [], []
    for tokens in prompts:
        cached = cached_prompt_tokens(tokens, features.prefix_hit)
        if engine.chunked_prefill and not first_token_after_decode_step(dep):
            step = prefill_seconds(
                dep, 1.0, tokens, decode_seqs=running, decode_context=context, cached_tokens=cached
            )
            extra = max(0.0, step - plain_s)
            work.append(extra)
            service.append(extra + math.ceil((tokens - cached) / budget) * whole_step_s)
        else:  # a prefill pass of its own; decodes wait (and TurboMind's first token a step)
            alone = prefill_seconds(dep, 1.0, tokens, cached_tokens=cached)
            work.append(alone)
            first = whole_step_s if first_token_after_decode_step(dep) else 0.0
            service.append(alone + first)
    return np.array(work), np.array(service)
