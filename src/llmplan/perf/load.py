"""What a replica is asked to serve (:class:`Load`) and what the performance model
answers (:class:`PerfResult`, with the :class:`Schedule` behind it).

Four kinds of load, as benchmarks run them:

- ``batch``: ``batch`` requests start together and run in waves of what fits (the KV
  cache and the engine's sequence limit): each wave is prefilled, then decoded together.
- ``offline``: unlimited queued requests; the engine runs as many sequences as fit, in a
  continuous-batching steady state.
- ``concurrency``: closed-loop clients, each sending its next request when one ends; with
  fixed lengths they stay in step (waves), with varied lengths they reach steady state.
- ``rate``: open-loop Poisson arrivals at ``request_rate`` requests/s (``inf``: a finite
  number of requests sent at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from llmplan.errors import InputError
from llmplan.perf.prefix import check_prefix_hit

if TYPE_CHECKING:
    from llmplan.perf.speculative import SpecDecoding

DATASET_LENGTH_CV = 1.0
"""Coefficient of variation of prompt and output lengths drawn from a chat dataset.

ShareGPT's prompt and reply lengths are heavy-tailed with standard deviations about
their means (vLLM's benchmark sample: input mean ~230, output mean ~180 tokens)."""

DEFAULT_FINITE_REQUESTS = 1000
"""Requests of a run when a load above capacity does not say how many (vLLM's
benchmark_serving default)."""


class LoadKind(StrEnum):
    BATCH = "batch"
    OFFLINE = "offline"
    CONCURRENCY = "concurrency"
    RATE = "rate"


@dataclass(frozen=True)
class Load:
    """A benchmark-style load on one replica. Token counts are per request (means).

    ``fixed_lengths`` = False means lengths vary from request to request (a dataset such
    as ShareGPT): requests then drift apart and a closed loop runs in a continuous-batching
    steady state instead of synchronised waves. ``prefix_hit``: share of prompt tokens
    served from the prefix cache (:mod:`llmplan.perf.prefix`); ``speculative``: how
    decode steps draft and verify tokens (:mod:`llmplan.perf.speculative`), None: not.
    """

    kind: LoadKind
    input_tokens: float
    output_tokens: float
    batch: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None
    fixed_lengths: bool = True
    prefix_hit: float = 0.0
    speculative: SpecDecoding | None = None

    def __post_init__(self) -> None:
        check_prefix_hit(self.prefix_hit)
        if self.input_tokens < 0 or not math.isfinite(self.input_tokens):
            raise InputError("must be a finite number >= 0", field="input_tokens")
        if self.output_tokens < 1 or not math.isfinite(self.output_tokens):
            raise InputError("must be a finite number >= 1", field="output_tokens")
        if self.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY) and (self.batch or 0) < 1:
            raise InputError(f"must be >= 1 for a {self.kind.value} load", field="batch")
        rate = self.request_rate or 0.0
        burst = math.isinf(rate) and bool(self.num_requests)  # all requests at once
        if self.kind is LoadKind.RATE and not (rate > 0 and (math.isfinite(rate) or burst)):
            raise InputError(
                "must be a finite number > 0 requests/s (inf only with a number of requests)",
                field="request_rate",
            )

    def serving_features(self) -> dict[str, float | str]:
        """Prefix caching and speculative decoding as reported (``--json`` keys)."""
        return serving_features(self.prefix_hit, self.speculative)


def serving_features(prefix_hit: float, spec: SpecDecoding | None) -> dict[str, float | str]:
    """``prefix_hit``, ``spec_method`` and ``accepted_tokens_per_step`` (expected), with
    the drafted tokens, acceptance and draft model when speculating (``--json`` keys)."""
    features: dict[str, float | str] = {
        "prefix_hit": prefix_hit,
        "spec_method": "none" if spec is None else spec.method.value,
        "accepted_tokens_per_step": 1.0 if spec is None else spec.tokens_per_step,
    }
    if spec is not None:
        features |= {"spec_tokens": spec.draft_tokens, "spec_acceptance": spec.acceptance}
        if spec.draft_model is not None:
            features["spec_draft_model"] = spec.draft_model.id
    return features


@dataclass(frozen=True)
class Schedule:
    """How the mean figures arose, for percentiles (``perf.percentiles``). Seconds.

    ``waves``: ``prefill_s`` prefills a whole wave in ``prefill_groups`` steps and each
    request of a static batch waits ``0..waves - 1`` waves of ``wave_s``; ``continuous``:
    ``prefill_s`` is one request's own prefill, ``mixed_share`` the fraction of decode
    steps that also carry prompt chunks (``mixed_step_s`` long, the others
    ``decode_step_s``); ``overflow_wait_max_s`` is the wait of the last queued request
    when requests arrive faster than the replica serves them, ``overflow_free_share`` the
    share of those requests that find a free slot and do not wait; ``first_token_step_s``
    the decode step that samples the first token after the prefill, for engines whose
    prefill stops one token short (``first_token_from: decode_step``); ``burst_share`` the
    share of a finite run's requests that start it together (a closed loop, or an
    infinite rate) and wait ``burst_ttft_s`` on average for their first token: their
    prompts take ``burst_prefill_s`` in ``burst_groups`` steps of the token budget;
    ``prefill_step_s`` and ``burst_step_s`` are one full budget step of a wave's prefill
    and of that burst (0: the steps share the prefill by their tokens)."""

    kind: str
    prefill_s: float
    prefill_groups: float
    decode_step_s: float
    mixed_step_s: float
    mixed_share: float
    wave_s: float = 0.0
    waves: int = 1
    closed_loop: bool = True
    overflow_wait_max_s: float = 0.0
    overflow_free_share: float = 0.0
    first_token_step_s: float = 0.0
    burst_share: float = 0.0
    burst_ttft_s: float = 0.0
    burst_prefill_s: float = 0.0
    burst_groups: float = 1.0
    prefill_step_s: float = 0.0
    burst_step_s: float = 0.0


@dataclass(frozen=True)
class PerfResult:
    """Predicted figures of one replica; latencies are means per request."""

    ttft_ms: float
    tpot_ms: float
    e2e_latency_ms: float
    makespan_ms: float
    output_tokens_per_s: float
    total_tokens_per_s: float
    requests_per_s: float
    prefill_tokens_per_s: float
    batch: float
    max_batch: int
    queue_wait_ms: float
    bound: str
    mode: str
    num_gpus: int
    schedule: Schedule | None = None

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "schedule"}
