"""Speculative decoding in the analytic model (issue 12, item 3): the expectation
formula by hand, the cost of drafts plus verification, and properties (more accepted
tokens never slower; K = 0 is no speculation; the gain fades at large batches)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import deploy
from llmplan.catalog.loader import Catalog
from llmplan.catalog.params import count_params
from llmplan.errors import InputError
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.serving import predict
from llmplan.perf.speculative import (
    DRAFT_MODEL_MAX_SIZE_RATIO,
    SPEC_DEFAULTS,
    SpecDecoding,
    SpecMethod,
    default_draft_model,
    expected_accepted_tokens,
    parse_method,
)
from llmplan.perf.step import StepShape, step_time

DENSE = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8", tp=2)
MOE = deploy("Qwen/Qwen3-30B-A3B", "L40S", precision="fp8", tp=2)
SMALL = deploy("meta-llama/Llama-3.1-8B", "H100")
ENGINES = {"vllm": SMALL, "sglang": replace(SMALL, engine=deploy(
    "meta-llama/Llama-3.1-8B", "H100", engine="sglang").engine)}  # fmt: skip


def loads(spec: SpecDecoding | None, batch: int = 8) -> list[Load]:
    """One load of each kind, 1024 in / 256 out."""
    return [
        Load(LoadKind.BATCH, 1024, 256, batch=batch, speculative=spec),
        Load(LoadKind.CONCURRENCY, 1024, 256, batch=batch, speculative=spec),
        Load(LoadKind.OFFLINE, 1024, 256, speculative=spec),
        Load(LoadKind.RATE, 1024, 256, request_rate=2.0, speculative=spec),
    ]


# --- the expectation formula ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("draft_tokens", "acceptance", "expected"),
    [
        (0, 0.8, 1.0),  # nothing drafted: the target's own token
        (1, 0.85, 1.85),  # DeepSeek-V3 MTP: 1 + a
        (3, 0.5, 1.875),  # 1 + 1/2 + 1/4 + 1/8
        (4, 0.0, 1.0),  # every draft rejected: the target's correction only
        (4, 1.0, 5.0),  # every draft accepted, plus the bonus token
        (2, 0.6, 1.96),  # 1 + 0.6 + 0.36
    ],
)
def test_expected_accepted_tokens_by_hand(
    draft_tokens: int, acceptance: float, expected: float
) -> None:
    """E = sum_{i=0..K} a^i = (1 - a^(K+1)) / (1 - a) (Leviathan et al. 2023, eq. 1):
    draft i is kept only if drafts 1..i all are, with probability a^i."""
    assert expected_accepted_tokens(draft_tokens, acceptance) == pytest.approx(expected, 1e-12)


@given(st.integers(0, 16), st.floats(0.0, 1.0))
def test_expectation_equals_the_series(draft_tokens: int, acceptance: float) -> None:
    series = math.fsum(acceptance**i for i in range(draft_tokens + 1))
    assert expected_accepted_tokens(draft_tokens, acceptance) == pytest.approx(series, 1e-9)


# --- costs and properties ---------------------------------------------------------------------
@settings(max_examples=12)
@given(
    method=st.sampled_from([SpecMethod.EAGLE, SpecMethod.MTP, SpecMethod.NGRAM]),
    draft_tokens=st.integers(1, 6),
    low=st.floats(0.0, 0.95),
    step=st.floats(0.01, 0.5),
    batch=st.sampled_from([1, 4, 32, 128]),
    dense=st.booleans(),
)
def test_more_accepted_tokens_never_slower(
    method: SpecMethod, draft_tokens: int, low: float, step: float, batch: int, dense: bool
) -> None:
    dep = DENSE if dense else MOE
    high = min(1.0, low + step)
    worse = SpecDecoding(method, draft_tokens, low)
    better = SpecDecoding(method, draft_tokens, high)
    assert better.tokens_per_step >= worse.tokens_per_step
    for slow, fast in zip(loads(worse, batch), loads(better, batch), strict=True):
        a, b = predict(dep, slow), predict(dep, fast)
        assert b.tpot_ms <= a.tpot_ms * (1 + 1e-9), slow.kind
        assert b.output_tokens_per_s >= a.output_tokens_per_s * (1 - 1e-9), slow.kind


@pytest.mark.parametrize("method", list(SpecMethod))
@pytest.mark.parametrize("engine", list(ENGINES))
def test_no_drafted_tokens_is_no_speculation(method: SpecMethod, engine: str) -> None:
    dep = ENGINES[engine]
    draft = default_draft_model([SMALL.model, deploy("meta-llama/Llama-3.2-1B", "H100").model],
                                DENSE.model) if method is SpecMethod.DRAFT else None  # fmt: skip
    spec = SpecDecoding(method, 0, 0.8, draft)
    for plain, speculative in zip(loads(None), loads(spec), strict=True):
        a, b = predict(dep, plain), predict(dep, speculative)
        for field in ("ttft_ms", "tpot_ms", "e2e_latency_ms", "output_tokens_per_s", "batch"):
            assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-9), field


@pytest.mark.parametrize("method", [SpecMethod.EAGLE, SpecMethod.MTP, SpecMethod.NGRAM])
def test_acceptance_zero_yields_one_token_and_is_never_faster(method: SpecMethod) -> None:
    """With every draft rejected a step yields the target's own token only, and pays
    for the drafts and the wider verification: at batch 1 (memory-bound) that extra is
    small (within 5 % for a one-layer head or an n-gram lookup), never a gain; at the
    full batches of an offline load it costs more."""
    spec = SpecDecoding(method, 3, 0.0)
    assert spec.tokens_per_step == 1.0
    for plain, speculative in zip(loads(None, 1), loads(spec, 1), strict=True):
        a, b = predict(DENSE, plain), predict(DENSE, speculative)
        assert a.tpot_ms <= b.tpot_ms, plain.kind
        if plain.kind is LoadKind.BATCH:
            assert b.tpot_ms <= a.tpot_ms * 1.05


def test_gain_fades_at_large_batches() -> None:
    """At batch 1 the verification of K + 1 positions reads the weights once, like a
    plain step: TPOT falls by nearly E. At batch 256 the step is compute-bound and
    verifying costs about K + 1 plain steps: the gain mostly goes, from the roofline."""
    spec = SpecDecoding.with_defaults(SpecMethod.EAGLE)
    speedups = []
    for batch in (1, 256):
        plain = predict(DENSE, Load(LoadKind.BATCH, 1024, 256, batch=batch))
        fast = predict(DENSE, Load(LoadKind.BATCH, 1024, 256, batch=batch, speculative=spec))
        speedups.append(plain.tpot_ms / fast.tpot_ms)
    small, large = speedups
    assert 0.85 * spec.tokens_per_step <= small <= spec.tokens_per_step
    assert large < 0.7 * small


def test_verification_costs_a_plain_step_when_memory_bound_and_more_when_not() -> None:
    """Verifying K + 1 = 4 positions: at batch 1 the weights are read once as in a plain
    step (within 10 %); at 512 sequences the linear layers are compute-bound, so the
    step costs well over a plain one (at most 4 x)."""

    def ratio(sequences: int) -> float:
        plain = StepShape(decode_seqs=sequences, decode_context=512)
        verify = replace(plain, decode_query_tokens=4)
        return step_time(DENSE, verify).total_s / step_time(DENSE, plain).total_s

    assert 1.0 < ratio(1) < 1.1
    assert 2.0 < ratio(512) <= 4.0


def test_draft_model_costs_its_own_steps() -> None:
    """A draft model's K steps cost more than nothing and less than K target steps."""
    draft = deploy("meta-llama/Llama-3.2-1B", "H100").model
    load = Load(LoadKind.BATCH, 1024, 256, batch=1)
    plain = predict(DENSE, load).tpot_ms
    free = SpecDecoding(SpecMethod.NGRAM, 4, 0.7)
    drafted = SpecDecoding(SpecMethod.DRAFT, 4, 0.7, draft)
    ngram_tpot = predict(DENSE, replace(load, speculative=free)).tpot_ms
    draft_tpot = predict(DENSE, replace(load, speculative=drafted)).tpot_ms
    assert ngram_tpot < draft_tpot < plain


# --- defaults, draft models and errors --------------------------------------------------------
def test_defaults_have_sources_and_valid_values() -> None:
    for method, default in SPEC_DEFAULTS.items():
        assert 1 <= default.draft_tokens <= 8 and 0 < default.acceptance < 1, method
        assert len(default.source) > 20, method
    mtp = SpecDecoding.with_defaults(SpecMethod.MTP)
    assert mtp.tokens_per_step == pytest.approx(1.85)  # DeepSeek-V3: 85-90 % second token


def test_default_draft_model_shares_the_vocabulary(catalog: Catalog) -> None:
    target = catalog.model("meta-llama/Llama-3.1-70B")
    draft = default_draft_model(catalog.models, target)
    assert draft is not None and draft.vocab_size == target.vocab_size
    assert count_params(draft).total <= DRAFT_MODEL_MAX_SIZE_RATIO * count_params(target).total
    assert default_draft_model(catalog.models, catalog.model("meta-llama/Llama-3.1-8B")) is None


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: SpecDecoding(SpecMethod.EAGLE, -1, 0.5), "spec_tokens"),
        (lambda: SpecDecoding(SpecMethod.EAGLE, 17, 0.5), "spec_tokens"),
        (lambda: SpecDecoding(SpecMethod.EAGLE, 3, 1.2), "spec_acceptance"),
        (lambda: SpecDecoding(SpecMethod.EAGLE, 3, math.nan), "spec_acceptance"),
        (lambda: SpecDecoding(SpecMethod.DRAFT, 3, 0.5), "spec_draft_model"),
        (lambda: parse_method("medusa"), "spec_method"),
    ],
)
def test_bad_values_name_the_field(build: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
