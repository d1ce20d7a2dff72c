"""Prefill: how long prompts take, alone or beside decodes, in bursts and in chunks.

A prompt's first token comes from the step that finishes its prefill, or, for engines
whose prefill stops one token short (TurboMind, ``first_token_from: decode_step``), from
the decode step after every waiting prompt is prefilled. Prompts that reach an idle
engine together are prefilled in groups of the engine's token budget; with continuous
batching, prompt chunks share steps with decodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmplan.deployment import Deployment
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.prefix import cached_prompt_tokens
from llmplan.perf.step import StepShape, step_time


def first_token_after_decode_step(dep: Deployment) -> bool:
    """Whether the engine's prefill stops one token short and a decode step samples the
    first output token (TurboMind), rather than the prefill step itself."""
    return dep.engine.first_token_from == "decode_step"


def prefilled_tokens(dep: Deployment, input_tokens: float, cached_tokens: float = 0.0) -> float:
    """Prompt tokens a prefill runs: the whole prompt (at least one token), or all but
    its last when a decode step runs that one (:func:`first_token_after_decode_step`),
    less its ``cached_tokens`` (prefix cache) but for at least one token."""
    if first_token_after_decode_step(dep):
        whole = max(0.0, input_tokens - 1.0)
    else:
        whole = max(input_tokens, 1.0)
    return max(whole - cached_tokens, min(whole, 1.0))


def prefill_seconds(
    dep: Deployment,
    prompts: float,
    input_tokens: float,
    decode_seqs: float = 0.0,
    decode_context: float = 0.0,
    cached_tokens: float = 0.0,
) -> float:
    """Time to prefill ``prompts`` prompts in one step (alongside ``decode_seqs``), each
    with ``cached_tokens`` of its ``input_tokens`` in the prefix cache."""
    tokens = prefilled_tokens(dep, input_tokens, cached_tokens)
    if tokens <= 0 and decode_seqs <= 0:
        return 0.0
    shape = StepShape(
        decode_seqs=decode_seqs,
        decode_context=decode_context,
        prefill_tokens=prompts * tokens,
        prefill_seqs=prompts if tokens > 0 else 0.0,
        prefill_context=max(tokens, 1.0),
        prefill_cached_context=prefilled_tokens(dep, input_tokens) - tokens,
    )
    return dep.pp * step_time(dep, shape).total_s


@dataclass(frozen=True)
class PromptBurst:
    """``prompts`` prompts that reach an idle engine together, prefilled through the
    token budget: ``groups`` steps' worth of tokens (prompt tokens / ``max_batched_tokens``,
    fractional: the last step is a partial one), each full step ``step_s`` long,
    ``prefill_s`` in all. A prompt's first token comes when the step holding its last
    token ends, or, with ``first_token_from: decode_step``, after the whole prefill and
    one decode step (``first_token_step_s``) for all. ``step_s`` = 0: the steps share
    ``prefill_s`` by their tokens. Seconds."""

    prefill_s: float
    groups: float
    first_token_step_s: float
    step_s: float = 0.0

    def _done_after(self, step: float) -> float:
        """Seconds until ``step`` (1, 2, ...) ends; the last, partial step ends the burst."""
        groups = max(self.groups, 1.0)
        if step >= groups:
            return self.prefill_s
        if self.step_s > 0:
            return min(step * self.step_s, self.prefill_s)
        return self.prefill_s * step / groups

    @property
    def mean_ttft_s(self) -> float:
        """Mean time from the burst to a prompt's first token: a share 1 / groups of the
        prompts finishes with each full step, the rest with the last one."""
        groups = max(self.groups, 1.0)
        full = math.ceil(groups - 1e-9) - 1
        per_step = self.step_s if self.step_s > 0 else self.prefill_s / groups
        early = per_step * full * (full + 1) / (2 * groups)  # steps k = 1..full end at k x step
        return early + (1 - full / groups) * self.prefill_s + self.first_token_step_s

    def ttft_quantile_s(self, q: float) -> float:
        """Time to the first token of the prompt at quantile ``q`` of the burst's queue
        order: it comes with the step holding its last token, ``ceil(q x groups)``."""
        step = max(1.0, math.ceil(q * max(self.groups, 1.0) - 1e-9))
        return self._done_after(step) + self.first_token_step_s


def prompt_burst(
    dep: Deployment,
    prompts: float,
    input_tokens: float,
    decode_step_s: float,
    cached_tokens: float = 0.0,
) -> PromptBurst:
    """How ``prompts`` prompts arriving together are prefilled (see :class:`PromptBurst`);
    ``decode_step_s`` is the decode step that follows them. Cached prompt tokens take
    no room in the token budget; each budget step pays its own fixed costs."""
    if first_token_after_decode_step(dep):
        prefill = prefill_seconds(dep, prompts, input_tokens, cached_tokens=cached_tokens)
        return PromptBurst(prefill, 1.0, decode_step_s)
    per_prompt = prefilled_tokens(dep, input_tokens, cached_tokens)
    budget = float(dep.engine.max_batched_tokens)
    groups = max(1.0, prompts * per_prompt / budget)
    if groups <= 1.0 or per_prompt <= 0:
        prefill = prefill_seconds(dep, prompts, input_tokens, cached_tokens=cached_tokens)
        return PromptBurst(prefill, groups, 0.0)
    step = prefill_seconds(dep, budget / per_prompt, input_tokens, cached_tokens=cached_tokens)
    full = math.ceil(groups - 1e-9) - 1
    rest = prompts - full * budget / per_prompt
    last = prefill_seconds(dep, rest, input_tokens, cached_tokens=cached_tokens)
    return PromptBurst(full * step + last, groups, 0.0, step)


def prefill_chunk_steps(
    dep: Deployment,
    running: float,
    input_tokens: float,
    out: float,
    *,
    queue_full: bool,
    decode_tokens_per_seq: float = 1.0,
) -> float:
    """Steps per generation of ``running`` sequences that carry prompt tokens.

    Over the ``out`` steps a sequence lives, the engine prefills the ``running`` prompts
    that replace finished ones. With a full queue (offline, or more clients than fit)
    each such step carries as many prompt tokens as the token budget leaves beside the
    decodes; otherwise prompts arrive ``running / out`` per step on average and are
    prefilled as they come. Without chunked prefill a step holds whole prompts only.
    Prompt steps come in bursts rather than spread evenly, so a MoE model's pure decode
    steps touch only the experts their own tokens pick. Fractional: an average over many
    generations. A decoding sequence spends ``decode_tokens_per_seq`` budget tokens a
    step (``K + 1`` with speculative decoding)."""
    engine = dep.engine
    prompt = max(input_tokens, 1.0)
    budget = float(engine.max_batched_tokens)
    if engine.chunked_prefill:
        budget = max(1.0, budget - running * decode_tokens_per_seq)
    arrivals = running / max(out, 1.0)
    waiting = budget / prompt if queue_full else max(1.0, arrivals)
    if engine.chunked_prefill:
        per_step = min(budget, prompt * waiting)
    else:
        per_step = prompt * max(1.0, min(waiting, math.floor(budget / prompt)))
    steps = running * prompt / per_step
    return min(out, max(steps, arrivals))


def joining_prompt_tokens(
    dep: Deployment, own_tokens: float, mean_prompt_tokens: float, arrivals: float
) -> float:
    """Prompt tokens of other requests prefilled in the same step as one of ``own_tokens``:
    the ``arrivals`` prompts that came while the step before it ran, within what is left
    of the engine's token budget."""
    room = max(0.0, dep.engine.max_batched_tokens - own_tokens)
    return min(arrivals * mean_prompt_tokens, room)


def startup_burst(
    dep: Deployment, load: Load, running: float, decode_step_s: float
) -> tuple[float, PromptBurst]:
    """(share of the requests, their burst) that start a finite run together.

    A benchmark with ``num_requests`` requests and ``running`` clients starts them all
    at once on an idle engine, as does an open loop at an infinite rate (every request
    sent at once): those first prompts queue through the token budget as one burst,
    then the run settles into its steady state. Other open loops and unknown request
    counts: a share of 0 and an empty burst."""
    closed = load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY)
    all_at_once = load.kind is LoadKind.RATE and math.isinf(load.request_rate or 0.0)
    if not (closed or all_at_once) or not load.num_requests:
        return 0.0, PromptBurst(0.0, 1.0, 0.0)
    cached = cached_prompt_tokens(load.input_tokens, load.prefix_hit)
    burst = prompt_burst(dep, running, load.input_tokens, decode_step_s, cached)
    return min(1.0, running / load.num_requests), burst
