"""Prefix caching: prompt tokens whose KV entries are already in the cache.

An engine with automatic prefix caching (vLLM's hashed KV blocks, SGLang's radix tree)
keeps the KV entries of prompts it has served; a new prompt that starts with a cached
prefix skips the linear layers and the attention of those tokens. The prompt's other
(uncached) tokens are still computed and attend to the whole context, cached part
included, and the sequence's KV cache still holds its whole context. The share of
prompt tokens served from the cache is ``prefix_hit`` (0 <= prefix_hit < 1), a property
of the workload (shared system prompts, multi-turn chats, few-shot templates).
"""

from __future__ import annotations

import math

from llmplan.errors import InputError


def check_prefix_hit(prefix_hit: float) -> None:
    """Raise :class:`InputError` unless 0 <= ``prefix_hit`` < 1."""
    if not (math.isfinite(prefix_hit) and 0.0 <= prefix_hit < 1.0):
        raise InputError(
            f"must be a share of prompt tokens, 0 <= prefix_hit < 1, got {prefix_hit}",
            field="prefix_hit",
        )


def prefix_hit_of(cached_fraction: float, mean_input_tokens: float) -> float:
    """The prefix hit of a workload whose ``cached_fraction`` of input tokens is served
    from the cache (a scenario's ``cached_input_fraction``, up to 1): at most all but one
    token of the mean prompt, since an engine always computes a prompt's last token to
    sample the first output token (vLLM recomputes it on a full hit)."""
    most = max(0.0, 1.0 - 1.0 / mean_input_tokens) if mean_input_tokens > 1 else 0.0
    return min(max(cached_fraction, 0.0), most)


def cached_prompt_tokens(input_tokens: float, prefix_hit: float) -> float:
    """Prompt tokens served from the prefix cache (not recomputed)."""
    return max(0.0, input_tokens) * prefix_hit


def computed_prompt_tokens(input_tokens: float, prefix_hit: float) -> float:
    """Prompt tokens the prefill computes: the uncached rest of the prompt."""
    return max(0.0, input_tokens) - cached_prompt_tokens(input_tokens, prefix_hit)
