"""Prefix caching in the analytic model (issue 12, item 4): cached prompt tokens skip
the prefill's work but are still attended to and still held in the KV cache."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import deploy
from llmplan.errors import InputError
from llmplan.perf.load import Load, LoadKind
from llmplan.perf.prefill import prefill_seconds
from llmplan.perf.serving import predict
from llmplan.perf.step import StepShape, _attention_costs, step_time

SMALL = deploy("meta-llama/Llama-3.1-8B", "H100")
DEPLOYMENTS = {
    "dense-vllm": SMALL,
    "moe-sglang": deploy("Qwen/Qwen3-30B-A3B", "L40S", precision="fp8", tp=2, engine="sglang"),
    "dense-turbomind-v0": deploy("meta-llama/Llama-3.1-8B", "H100", engine="lmdeploy-v0"),
}


def load_of(kind: LoadKind, inp: int, out: int, prefix_hit: float) -> Load:
    extra = {
        LoadKind.BATCH: {"batch": 4},
        LoadKind.CONCURRENCY: {"batch": 16},
        LoadKind.OFFLINE: {},
        LoadKind.RATE: {"request_rate": 1.0},
    }[kind]
    return Load(kind, inp, out, prefix_hit=prefix_hit, **extra)  # type: ignore[arg-type]


@settings(max_examples=20)
@given(
    name=st.sampled_from(sorted(DEPLOYMENTS)),
    kind=st.sampled_from(list(LoadKind)),
    inp=st.integers(1, 8000),
    out=st.integers(1, 512),
    low=st.floats(0.0, 0.98),
    step=st.floats(0.005, 0.5),
)
def test_prefix_hits_never_raise_ttft(
    name: str, kind: LoadKind, inp: int, out: int, low: float, step: float
) -> None:
    """At the same running batch, more hits never raise TTFT. Two exceptions, each
    checked for what it must give instead:

    - an offline load runs as many sequences as the token budget keeps fed, and cached
      tokens take none of it: the engine may then run a larger batch, whose longer steps
      can delay first tokens a little, but it then delivers more output;
    - a burst of prompts (waves) takes its mean TTFT as ``(G + 1) / (2G)`` of its prefill
      for ``G`` budget steps, taken as equal (:class:`~llmplan.perf.prefill.PromptBurst`):
      when hits save a whole step that mean can rise while the prefill falls."""
    dep = DEPLOYMENTS[name]
    high = min(0.99, low + step)
    fewer = predict(dep, load_of(kind, inp, out, low))
    more = predict(dep, load_of(kind, inp, out, high))
    assert fewer.schedule is not None and more.schedule is not None
    if more.batch > fewer.batch:
        assert kind is LoadKind.OFFLINE
        assert more.output_tokens_per_s > fewer.output_tokens_per_s
    elif more.schedule.prefill_groups < fewer.schedule.prefill_groups:
        assert more.schedule.prefill_s <= fewer.schedule.prefill_s * (1 + 1e-9)
    else:
        assert more.ttft_ms <= fewer.ttft_ms * (1 + 1e-9)


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_kv_cache_still_holds_the_whole_context(name: str) -> None:
    """A static batch's limit is what the KV cache holds: the same with any hit share."""
    dep = DEPLOYMENTS[name]
    limits = {predict(dep, load_of(LoadKind.BATCH, 8000, 512, hit)).max_batch
              for hit in (0.0, 0.5, 0.95)}  # fmt: skip
    assert len(limits) == 1


def test_no_hits_equal_the_default() -> None:
    for kind in LoadKind:
        plain = load_of(kind, 2048, 128, 0.0)
        assert predict(SMALL, plain) == predict(SMALL, replace(plain, prefix_hit=0.0))


def test_cached_tokens_are_attended_by_hand() -> None:
    """Llama-3.1-8B (32 layers, 32 heads, head_dim 128, no sliding window): 1,000
    computed tokens after 3,000 cached ones attend to 3,000 + 1,000 / 2 = 3,500 tokens
    on average, 2 x 1000 x 3500 x 32 x 32 x (128 + 128) FLOPs; without the cache the
    same 1,000 tokens would attend to 500."""
    cached = StepShape(prefill_tokens=1000, prefill_seqs=1, prefill_context=1000,
                       prefill_cached_context=3000)  # fmt: skip
    flops, _ = _attention_costs(SMALL, cached)
    assert flops == pytest.approx(2 * 1000 * 3500 * 32 * 32 * 256, rel=1e-12)
    fresh, _ = _attention_costs(SMALL, replace(cached, prefill_cached_context=0.0))
    assert fresh == pytest.approx(flops * 500 / 3500, rel=1e-12)


def test_cached_prefix_skips_linear_work_but_not_attention() -> None:
    """A 4,000-token prompt with 3,000 cached: linear layers see 1,000 tokens (as a
    fresh 1,000-token prompt), attention more than the fresh prompt's, and the whole
    prefill less than the uncached 4,000 tokens."""
    hit = StepShape(prefill_tokens=1000, prefill_seqs=1, prefill_context=1000,
                    prefill_cached_context=3000)  # fmt: skip
    fresh = replace(hit, prefill_cached_context=0.0)
    assert step_time(SMALL, hit).linear_s == step_time(SMALL, fresh).linear_s
    assert step_time(SMALL, hit).attention_s > step_time(SMALL, fresh).attention_s
    whole = prefill_seconds(SMALL, 1.0, 4000)
    assert prefill_seconds(SMALL, 1.0, 4000, cached_tokens=3000) < 0.5 * whole


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_prefix_hit_names_the_field(value: float) -> None:
    with pytest.raises(InputError) as caught:
        Load(LoadKind.BATCH, 1024, 128, batch=1, prefix_hit=value)
    assert caught.value.field == "prefix_hit"


@pytest.mark.parametrize("kind", [LoadKind.RATE, LoadKind.CONCURRENCY, LoadKind.OFFLINE])
def test_prefix_hits_never_raise_ttft_percentiles(kind: LoadKind) -> None:
    from llmplan.perf.percentiles import latency_percentiles

    previous = float("inf")
    for hit in (0.0, 0.3, 0.6, 0.9):
        load = replace(load_of(kind, 2048, 256, hit), fixed_lengths=False)
        p90 = latency_percentiles(SMALL, load, 90).ttft_ms
        assert p90 <= previous * (1 + 1e-9), hit
        previous = p90
