"""Speculative decoding: draft K tokens cheaply, verify them in one target step.

Each decode step of a sequence first drafts ``K`` tokens (a small draft model, a
one-layer head on the target's hidden states, or a lookup of n-grams in the context),
then runs one step of the target model over the ``K + 1`` positions (the last accepted
token and the drafts) and keeps the drafts up to the first rejection plus one token of
its own. With each draft accepted independently with probability ``a``, a step yields

    E = (1 - a^(K+1)) / (1 - a)    tokens  (K + 1 when a = 1)

(Leviathan, Kalman and Matias, "Fast Inference from Transformers via Speculative
Decoding", ICML 2023, eq. 1). A step costs the drafts plus a target step whose token
count is ``K + 1`` per decoding sequence (the roofline of :mod:`llmplan.perf.step`): at
small batches the verification reads the same weights as a plain step, so it costs
little more; at large batches it becomes compute-bound and costs about ``K + 1`` plain
steps, so the gain fades. TPOT is the step's cost over ``E``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from llmplan.catalog.params import count_params
from llmplan.catalog.schema import ModelSpec
from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.perf.step import StepShape, step_time

MAX_SPEC_TOKENS = 16
"""Most drafted tokens per step accepted as input (engines use 1-8 in a chain)."""

DRAFT_MODEL_MAX_SIZE_RATIO = 0.1
"""A default draft model has at most this share of the target's parameters: drafts of
roughly 1-10 % of the target's size gave the best speed-ups in Leviathan et al. 2023
(T5-small/base/large drafting for T5-XXL); vLLM's example pairs OPT-125m with OPT-6.7B."""


class SpecMethod(StrEnum):
    DRAFT = "draft"
    EAGLE = "eagle"
    MTP = "mtp"
    NGRAM = "ngram"


@dataclass(frozen=True)
class SpecDefault:
    """Default drafted tokens and per-token acceptance of a method, with the source."""

    draft_tokens: int
    acceptance: float
    source: str


SPEC_DEFAULTS = MappingProxyType(
    {
        SpecMethod.DRAFT: SpecDefault(
            5,
            0.7,
            "vLLM docs (speculative decoding, draft model example: 5 tokens); Leviathan et "
            "al. 2023, Table 3: acceptance 0.5-0.8 for draft models 10-100x smaller",
        ),
        SpecMethod.EAGLE: SpecDefault(
            3,
            0.75,
            "vLLM docs (EAGLE example: 3 tokens); Li et al., EAGLE (ICML 2024, "
            "arXiv 2401.15077): chain acceptance ~0.7-0.8 on MT-bench",
        ),
        SpecMethod.MTP: SpecDefault(
            1,
            0.85,
            "DeepSeek-V3 Technical Report (arXiv 2412.19437, Dec 2024, sec. 5.4.3): one MTP "
            "module, second-token acceptance 85-90 %",
        ),
        SpecMethod.NGRAM: SpecDefault(
            5,
            0.3,
            "vLLM docs (n-gram example: 5 tokens, prompt_lookup_max 4; 'modest speedups'): "
            "acceptance depends on how much output repeats the prompt; 0.3 assumed for chat",
        ),
    }
)


def expected_accepted_tokens(draft_tokens: int, acceptance: float) -> float:
    """Tokens one verification step yields: ``(1 - a^(K+1)) / (1 - a)``."""
    if acceptance >= 1.0:
        return float(draft_tokens + 1)
    return (1.0 - acceptance ** (draft_tokens + 1)) / (1.0 - acceptance)


def parse_method(name: str) -> SpecMethod:
    """The method named ``name``, or :class:`InputError` listing the allowed ones."""
    try:
        return SpecMethod(name.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in SpecMethod)
        message = f"unknown method '{name}'; allowed: {allowed}"
        raise InputError(message, field="spec_method") from None


@dataclass(frozen=True)
class SpecDecoding:
    """Speculative decoding: ``draft_tokens`` (K) drafted per step by ``method``, each
    accepted with probability ``acceptance``; ``draft_model`` for ``draft`` only."""

    method: SpecMethod
    draft_tokens: int
    acceptance: float
    draft_model: ModelSpec | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.draft_tokens <= MAX_SPEC_TOKENS:
            raise InputError(
                f"must be between 0 and {MAX_SPEC_TOKENS}, got {self.draft_tokens}",
                field="spec_tokens",
            )
        if not (math.isfinite(self.acceptance) and 0.0 <= self.acceptance <= 1.0):
            raise InputError(
                f"must be a probability between 0 and 1, got {self.acceptance}",
                field="spec_acceptance",
            )
        if (self.method is SpecMethod.DRAFT) != (self.draft_model is not None):
            raise InputError(
                "a draft model is needed with method 'draft' and only with it",
                field="spec_draft_model",
            )

    @classmethod
    def with_defaults(
        cls,
        method: SpecMethod,
        draft_tokens: int | None = None,
        acceptance: float | None = None,
        draft_model: ModelSpec | None = None,
    ) -> SpecDecoding:
        """``method`` with the documented defaults (:data:`SPEC_DEFAULTS`) for what is None."""
        default = SPEC_DEFAULTS[method]
        return cls(
            method,
            default.draft_tokens if draft_tokens is None else draft_tokens,
            default.acceptance if acceptance is None else acceptance,
            draft_model,
        )

    @property
    def tokens_per_step(self) -> float:
        """Expected tokens each verification step yields per sequence."""
        return expected_accepted_tokens(self.draft_tokens, self.acceptance)


def default_draft_model(candidates: Iterable[ModelSpec], target: ModelSpec) -> ModelSpec | None:
    """The default draft for ``target``: among ``candidates`` with the same vocabulary
    size (a draft must share the tokenizer) and at most :data:`DRAFT_MODEL_MAX_SIZE_RATIO`
    of its parameters, one of the same publisher if any, the largest; None if none."""
    limit = DRAFT_MODEL_MAX_SIZE_RATIO * count_params(target).total
    publisher = target.id.split("/")[0]

    def rank(model: ModelSpec) -> tuple[bool, float]:
        return model.id.split("/")[0] == publisher, count_params(model).total

    fitting = [m for m in candidates if m.vocab_size == target.vocab_size and rank(m)[1] <= limit]
    return max(fitting, key=rank, default=None)


def verify_shape(shape: StepShape, spec: SpecDecoding) -> StepShape:
    """The target step that verifies ``K`` drafts of every decoding sequence."""
    return replace(shape, decode_query_tokens=float(spec.draft_tokens + 1))


def draft_deployment(dep: Deployment, draft_model: ModelSpec) -> Deployment:
    """The draft model on the target's GPUs: same tensor parallelism when its heads
    allow it (vLLM's default), else on one GPU; one pipeline stage."""
    tp = dep.tp if draft_model.num_attention_heads % dep.tp == 0 else 1
    return replace(dep, model=draft_model, tp=tp, pp=1)


def draft_seconds(dep: Deployment, shape: StepShape, spec: SpecDecoding) -> float:
    """Seconds to draft ``K`` tokens for the decoding sequences of ``shape``.

    ``draft``: K decode steps of the draft model; ``eagle``/``mtp``: K passes of a
    one-layer head on the target's hidden states, each ~1/num_layers of a target decode
    step (EAGLE's head is one decoder layer; DeepSeek-V3's MTP module one transformer
    block); ``ngram``: a lookup in the context on the CPU, taken as 0."""
    if spec.draft_tokens == 0 or shape.decode_seqs <= 0 or spec.method is SpecMethod.NGRAM:
        return 0.0
    decode = StepShape(decode_seqs=shape.decode_seqs, decode_context=shape.decode_context)
    if spec.draft_model is not None:
        draft_dep = draft_deployment(dep, spec.draft_model)
        return spec.draft_tokens * step_time(draft_dep, decode).total_s
    target_step = dep.pp * step_time(dep, decode).total_s
    return spec.draft_tokens * target_step / dep.model.num_layers


def speculation_of(
    method: str | None,
    draft_tokens: int | None,
    acceptance: float | None,
    draft_model: ModelSpec | None,
    *,
    target: ModelSpec,
    candidates: Iterable[ModelSpec],
) -> SpecDecoding | None:
    """Speculative decoding as options give it (None without a method); a ``draft``
    method without a draft model takes :func:`default_draft_model` of ``candidates``."""
    if method is None:
        if (draft_tokens, acceptance, draft_model) != (None, None, None):
            raise InputError("give a method (draft, eagle, mtp, ngram)", field="spec_method")
        return None
    chosen = parse_method(method)
    if chosen is SpecMethod.DRAFT and draft_model is None:
        draft_model = default_draft_model(candidates, target)
        if draft_model is None:
            raise InputError(
                f"no catalog model shares {target.id}'s vocabulary at <= "
                f"{DRAFT_MODEL_MAX_SIZE_RATIO:.0%} of its size; name a draft model",
                field="spec_draft_model",
            )
    return SpecDecoding.with_defaults(chosen, draft_tokens, acceptance, draft_model)
