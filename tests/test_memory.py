"""Serving and fine-tuning memory: hand-derived figures and properties.

Expected numbers are derived by hand from each model's published architecture (its
config.json), shown in each test's docstring, never copied from llmplan's output.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conftest import deploy
from llmplan.catalog.loader import Catalog, bundled_catalog
from llmplan.catalog.params import count_params
from llmplan.deployment import Deployment
from llmplan.domain.finetune import FinetuneMethod
from llmplan.errors import ConfigurationError, InputError
from llmplan.sizing.finetune import estimate_finetune_memory, lora_params
from llmplan.sizing.memory import (
    GIB,
    estimate_memory,
    kv_bytes_per_sequence,
    kv_bytes_per_token,
    usable_gpu_bytes,
    weights_bytes,
)

EXACT = 1e-9  # relative tolerance for integer-valued byte counts computed in floats

# Llama-2-7B (config.json: 32 layers, hidden 4096, 32 heads x 128, MHA, FFN 11008 gated,
# vocab 32000, untied embeddings):
#   attention per layer  Q,K,V,O = 4 x 4096 x 4096                = 67,108,864
#   feed-forward         3 x 4096 x 11008                          = 135,266,304
#   per layer                                                      = 202,375,168
#   32 layers (body)                                               = 6,476,005,376
#   embedding + LM head  2 x 32000 x 4096                          = 262,144,000
#   total                                                          = 6,738,149,376
LLAMA2_7B = "meta-llama/Llama-2-7b-hf"
LLAMA2_7B_BODY = 6_476_005_376
LLAMA2_7B_EMBED = 262_144_000
LLAMA2_7B_PARAMS = 6_738_149_376


# ----------------------------------------------------------------------------- weights


def test_llama2_7b_parameter_count(catalog: Catalog) -> None:
    """6,738,149,376 parameters (see the module constants for the arithmetic)."""
    counts = count_params(catalog.model(LLAMA2_7B))
    assert counts.total == pytest.approx(LLAMA2_7B_PARAMS, rel=EXACT)
    assert counts.embedding == pytest.approx(LLAMA2_7B_EMBED, rel=EXACT)
    assert counts.active == pytest.approx(LLAMA2_7B_PARAMS, rel=EXACT)  # dense: all active


def test_llama2_7b_fp16_weights(catalog: Catalog) -> None:
    """6,738,149,376 params x 2 bytes = 13,476,298,752 bytes (12.55 GiB)."""
    model = catalog.model(LLAMA2_7B)
    assert weights_bytes(model, catalog.weight_format("fp16")) == pytest.approx(
        13_476_298_752, rel=EXACT
    )
    assert weights_bytes(model, catalog.weight_format("bf16")) == pytest.approx(
        13_476_298_752, rel=EXACT
    )


def test_int4_awq_weights_of_a_7b_model(catalog: Catalog) -> None:
    """AWQ, group size 128: 4 bits + (16-bit scale + 4-bit zero) / 128 = 4.15625 bits per
    body weight; embedding and LM head stay 16-bit.
    body       6,476,005,376 x 4.15625 / 8 = 3,364,487,168 bytes
    embeddings   262,144,000 x 2           =   524,288,000 bytes
    total                                  = 3,888,775,168 bytes"""
    awq = catalog.weight_format("int4-awq")
    assert awq.bits_per_weight == pytest.approx(4 + 20 / 128, rel=EXACT)
    assert awq.embedding_bits == pytest.approx(16, rel=EXACT)
    got = weights_bytes(catalog.model(LLAMA2_7B), awq)
    assert got == pytest.approx(3_888_775_168, rel=EXACT)


def test_fp8_weights_keep_16bit_embeddings(catalog: Catalog) -> None:
    """Llama-2-7B fp8: 6,476,005,376 x 1 + 262,144,000 x 2 = 7,000,293,376 bytes."""
    got = weights_bytes(catalog.model(LLAMA2_7B), catalog.weight_format("fp8"))
    assert got == pytest.approx(7_000_293_376, rel=EXACT)


# ----------------------------------------------------------------------------- KV cache


def test_llama31_70b_kv_bytes_per_token(catalog: Catalog) -> None:
    """2 (K, V) x 8 KV heads x 128 head_dim x 80 layers x 2 bytes = 327,680 bytes;
    fp8 cache: x 1 byte = 163,840 bytes."""
    model = catalog.model("meta-llama/Llama-3.1-70B")
    assert kv_bytes_per_token(model, catalog.kv_format("fp16")) == pytest.approx(327_680, rel=EXACT)
    assert kv_bytes_per_token(model, catalog.kv_format("fp8")) == pytest.approx(163_840, rel=EXACT)


def test_llama31_70b_kv_cache_for_a_batch(catalog: Catalog) -> None:
    """16 sequences x 8192 tokens x 327,680 bytes = 42,949,672,960 bytes (40 GiB)."""
    dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8", tp=2)
    estimate = estimate_memory(dep, context_tokens=8192, batch=16)
    assert estimate.kv_cache_bytes == pytest.approx(40 * GIB, rel=EXACT)
    assert estimate.kv_bytes_per_token == pytest.approx(327_680, rel=EXACT)


def test_deepseek_v3_mla_kv_bytes_per_token(catalog: Catalog) -> None:
    """MLA caches one latent (kv_lora_rank 512) plus the rope key (64) per token and layer,
    shared by all heads: (512 + 64) x 61 layers x 2 bytes = 70,272 bytes."""
    model = catalog.model("deepseek-ai/DeepSeek-V3")
    assert kv_bytes_per_token(model, catalog.kv_format("fp16")) == pytest.approx(70_272, rel=EXACT)


def test_deepseek_v3_mla_cache_is_replicated_not_split_across_tp(catalog: Catalog) -> None:
    """One latent per layer cannot be split across tensor-parallel ranks: every GPU holds
    the whole cache. 1 x 1000 tokens x 70,272 bytes = 70,272,000 bytes on each of 8 GPUs."""
    dep = deploy("deepseek-ai/DeepSeek-V3", "H200", precision="fp8", tp=8)
    estimate = estimate_memory(dep, context_tokens=1000, batch=1)
    assert estimate.kv_cache_bytes / estimate.num_gpus == pytest.approx(70_272_000, rel=EXACT)


def test_mistral_sliding_window_caps_kv_per_sequence(catalog: Catalog) -> None:
    """Mistral-7B-v0.1: 4096-token window on all 32 layers, 8 KV heads x 128.
    per token: 2 x 8 x 128 x 32 x 2 bytes = 131,072 bytes
    1,000 tokens:                    131,072,000 bytes
    4,096 tokens and anything longer: 536,870,912 bytes (512 MiB)"""
    model = catalog.model("mistralai/Mistral-7B-v0.1")
    fp16 = catalog.kv_format("fp16")
    assert kv_bytes_per_sequence(model, fp16, 1000) == pytest.approx(131_072_000, rel=EXACT)
    for context in (4096, 8192, 32768):
        assert kv_bytes_per_sequence(model, fp16, context) == pytest.approx(536_870_912, rel=EXACT)


def test_gemma3_keeps_full_context_only_on_global_layers(catalog: Catalog) -> None:
    """Gemma-3-27B: 62 layers, five 1024-token local layers per global one -> 10 global
    layers (62 // 6), 52 local; 16 KV heads x 128. Per layer and token: 2 x 16 x 128 x 2
    = 8,192 bytes. At 32,768 tokens: 8,192 x (10 x 32,768 + 52 x 1,024)
    = 8,192 x 380,928 = 3,120,562,176 bytes."""
    model = catalog.model("google/gemma-3-27b-pt")
    assert model.num_layers == 62 and model.num_kv_heads == 16 and model.head_dim == 128
    assert model.sliding_window is not None
    assert model.sliding_window.window_tokens == 1024
    assert model.sliding_window.global_layer_every == 6
    got = kv_bytes_per_sequence(model, catalog.kv_format("fp16"), 32768)
    assert got == pytest.approx(3_120_562_176, rel=EXACT)


# ----------------------------------------------------------------------------- parallelism


def _weights_share_per_gpu(dep: Deployment) -> float:
    e = estimate_memory(dep, context_tokens=1024, batch=1)
    n = e.num_gpus
    return e.per_gpu_bytes - (e.kv_cache_bytes + e.activation_bytes + e.overhead_bytes) / n


def test_tensor_parallel_halves_weights_per_gpu() -> None:
    """Llama-2-7B bf16: 13,476,298,752 bytes on one GPU, 6,738,149,376 on each of two."""
    one = deploy(LLAMA2_7B, "H100", tp=1)
    two = deploy(LLAMA2_7B, "H100", tp=2)
    assert _weights_share_per_gpu(one) == pytest.approx(13_476_298_752, rel=1e-6)
    assert _weights_share_per_gpu(two) == pytest.approx(6_738_149_376, rel=1e-6)
    assert estimate_memory(two, 1024).per_gpu_bytes < estimate_memory(one, 1024).per_gpu_bytes


def test_pipeline_parallel_halves_weights_per_gpu() -> None:
    """pp=2: half the layers (and so half the weights) on each GPU: 6,738,149,376 bytes."""
    two = deploy(LLAMA2_7B, "H100", pp=2)
    assert _weights_share_per_gpu(two) == pytest.approx(6_738_149_376, rel=1e-6)


def test_kv_heads_split_across_tp() -> None:
    """Llama-3.1-70B has 8 KV heads: tp=2 holds 4 per GPU (half the cache), tp=8 one head
    (1/8). 1 x 1000 tokens x 327,680 bytes = 327,680,000 bytes of cache."""
    kv = 327_680_000
    for tp, share in ((1, 1.0), (2, 0.5), (4, 0.25), (8, 1 / 8)):
        e = estimate_memory(
            deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8", tp=tp), 1000, 1
        )
        assert e.kv_cache_bytes / e.num_gpus == pytest.approx(kv * share, rel=EXACT), tp


def test_kv_heads_replicate_when_tp_exceeds_them() -> None:
    """Qwen3-30B-A3B: 48 layers, 4 KV heads x 128 -> 2 x 4 x 128 x 48 x 2 = 98,304 bytes
    per token; 1000 tokens = 98,304,000 bytes. At tp=8 two ranks share each KV head, so
    every GPU holds one head: 1/4 of the cache (not 1/8), 2 x 98,304,000 over the replica."""
    for tp, share in ((1, 1.0), (2, 0.5), (4, 0.25), (8, 0.25)):
        e = estimate_memory(deploy("Qwen/Qwen3-30B-A3B", "H100", tp=tp), 1000, 1)
        assert e.kv_cache_bytes / e.num_gpus == pytest.approx(98_304_000 * share, rel=EXACT)


# ----------------------------------------------------------------------------- fit


def test_70b_bf16_does_not_fit_one_24gb_card() -> None:
    """Llama-3.1-70B: ~70.6e9 params x 2 bytes = 141 GB > 24 GiB = 25.8 GB."""
    e = estimate_memory(deploy("meta-llama/Llama-3.1-70B", "RTX-4090"), 4096, 1)
    assert e.weights_bytes > 140e9
    assert not e.fits
    assert e.max_concurrent_sequences == 0
    assert e.per_gpu_bytes > e.gpu_memory_bytes


def test_8b_bf16_fits_an_h100() -> None:
    """Llama-3.1-8B: 8.03e9 x 2 = 16.1 GB of weights on 80 GiB; a 4096-token cache is
    4096 x (2 x 8 x 128 x 32 x 2) = 512 MiB."""
    e = estimate_memory(deploy("meta-llama/Llama-3.1-8B", "H100"), 4096, 1)
    assert e.fits
    assert e.gpu_memory_bytes == pytest.approx(80 * GIB, rel=EXACT)
    assert e.kv_cache_bytes == pytest.approx(512 * 2**20, rel=EXACT)
    assert e.max_concurrent_sequences > 50


@pytest.mark.parametrize("context", [1024, 8192, 24576])
def test_fits_agrees_with_max_concurrent_sequences(context: int) -> None:
    """Llama-3.1-70B fp8 on one H100 (~67.7 GiB of weights on 80 GiB) is the edge case: the
    report must not say both "fits" and "0 sequences fit at this context" (which the
    performance model then refuses as not fitting)."""
    dep = deploy("meta-llama/Llama-3.1-70B", "H100", precision="fp8")
    e = estimate_memory(dep, context, 1)
    assert e.fits == (e.max_concurrent_sequences >= 1), (e.fits, e.max_concurrent_sequences)


def test_max_concurrent_sequences_falls_as_context_grows() -> None:
    dep = deploy("meta-llama/Llama-3.1-8B", "H100")
    contexts = [512, 1024, 4096, 16384, 65536, 131072]
    counts = [estimate_memory(dep, c, 1).max_concurrent_sequences for c in contexts]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1] >= 1
    # the sequences that fit hold no more cache than the GPU has beside the weights,
    # and at least half of that (overhead and activations are a few GiB)
    free = usable_gpu_bytes(dep) - weights_bytes(dep.model, dep.weights)
    for context, count in zip(contexts, counts, strict=True):
        used = count * kv_bytes_per_sequence(dep.model, dep.kv, context)
        assert 0.5 * free <= used <= free, context


def test_quantised_kv_doubles_the_sequences_that_fit() -> None:
    dep16 = deploy("meta-llama/Llama-3.1-8B", "H100")
    dep8 = deploy("meta-llama/Llama-3.1-8B", "H100", kv_precision="fp8")
    n16 = estimate_memory(dep16, 8192).max_concurrent_sequences
    n8 = estimate_memory(dep8, 8192).max_concurrent_sequences
    assert n8 == pytest.approx(2 * n16, abs=1)


# ----------------------------------------------------------------------------- fine-tuning


def test_finetune_full_is_16_bytes_per_parameter() -> None:
    """Mixed-precision Adam: 2 (bf16 weights) + 2 (grads) + 4 (fp32 master) + 4 + 4 (moments)
    = 16 bytes per parameter; Llama-2-7B: 6,738,149,376 x 16 = 107,810,390,016 bytes."""
    dep = deploy(LLAMA2_7B, "H100")
    ft = estimate_finetune_memory(dep, FinetuneMethod.FULL, sequence_tokens=2048)
    assert ft.weights_bytes == pytest.approx(2 * LLAMA2_7B_PARAMS, rel=EXACT)
    assert ft.weights_bytes + ft.gradients_and_optimizer_bytes == pytest.approx(
        107_810_390_016, rel=EXACT
    )
    assert ft.trainable_params == pytest.approx(LLAMA2_7B_PARAMS, rel=EXACT)


def test_lora_trainable_parameters_llama2_7b() -> None:
    """Rank 16 on q, k, v, o and gate, up, down (PEFT prints 39,976,960 for this setup):
    attention 16 x 4 x (4096 + 4096)     =   524,288
    FFN       16 x 3 x (4096 + 11008)    =   724,992
    per layer                            = 1,249,280; x 32 layers = 39,976,960"""
    assert lora_params(deploy(LLAMA2_7B, "H100"), 16) == pytest.approx(39_976_960, rel=EXACT)


def test_lora_and_qlora_weights() -> None:
    """LoRA: frozen base 6,738,149,376 x 2 bytes; adapters 39,976,960 x 16 bytes.
    QLoRA: transformer blocks in NF4 with double quantisation, 4.127 bits per weight (QLoRA
    paper); the embedding and LM head (2 x 32,000 x 4,096 = 262,144,000) stay 16-bit:
    6,476,005,376 x 4.127 / 8 + 262,144,000 x 2 bytes."""
    dep = deploy(LLAMA2_7B, "H100")
    lora = estimate_finetune_memory(dep, FinetuneMethod.LORA, sequence_tokens=2048)
    qlora = estimate_finetune_memory(dep, FinetuneMethod.QLORA, sequence_tokens=2048)
    assert lora.weights_bytes == pytest.approx(13_476_298_752, rel=EXACT)
    assert lora.gradients_and_optimizer_bytes == pytest.approx(39_976_960 * 16, rel=EXACT)
    embedding = 2 * 32_000 * 4_096
    expected = (LLAMA2_7B_PARAMS - embedding) * 4.127 / 8 + embedding * 2
    assert qlora.weights_bytes == pytest.approx(expected, rel=EXACT)
    assert qlora.gradients_and_optimizer_bytes == pytest.approx(39_976_960 * 16, rel=EXACT)


def test_finetune_activations_without_checkpointing() -> None:
    """Korthikanti et al. eq. 1: s b h (34 + 5 a s / h) bytes per layer. Llama-2-7B, s = 4096,
    b = 1, h = 4096, a = 32: 4096 x 4096 x (34 + 5 x 32) = 16,777,216 x 194
    = 3,254,779,904 per layer; x 32 layers = 104,152,956,928 bytes."""
    dep = deploy(LLAMA2_7B, "H100")
    ft = estimate_finetune_memory(
        dep, FinetuneMethod.LORA, sequence_tokens=4096, gradient_checkpointing=False
    )
    assert ft.activation_bytes == pytest.approx(104_152_956_928, rel=EXACT)


@pytest.mark.parametrize(
    "model", [LLAMA2_7B, "meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "google/gemma-2-9b"]
)
def test_full_needs_more_than_lora_more_than_qlora(model: str) -> None:
    dep = deploy(model, "H100")
    totals = {
        m: estimate_finetune_memory(dep, m, sequence_tokens=2048, micro_batch=2).total_bytes
        for m in FinetuneMethod
    }
    assert totals[FinetuneMethod.FULL] > totals[FinetuneMethod.LORA]
    assert totals[FinetuneMethod.LORA] > totals[FinetuneMethod.QLORA]


@pytest.mark.parametrize("method", list(FinetuneMethod))
def test_finetune_totals_are_sum_of_parts(method: FinetuneMethod) -> None:
    dep = deploy("meta-llama/Llama-3.1-8B", "H100", tp=2, pp=2)
    ft = estimate_finetune_memory(dep, method, sequence_tokens=1024, micro_batch=2)
    parts = (
        ft.weights_bytes + ft.gradients_and_optimizer_bytes + ft.activation_bytes
    ) + ft.overhead_bytes
    assert ft.total_bytes == pytest.approx(parts, rel=1e-9)
    assert ft.per_gpu_bytes * ft.num_gpus == pytest.approx(ft.total_bytes, rel=1e-9)
    assert ft.num_gpus == 4
    assert ft.fits == (ft.per_gpu_bytes <= ft.gpu_memory_bytes)


def test_full_finetune_of_8b_does_not_fit_one_24gb_card() -> None:
    """8.03e9 x 16 bytes = 128 GB of weights and optimiser state > 24 GiB."""
    ft = estimate_finetune_memory(
        deploy("meta-llama/Llama-3.1-8B", "RTX-4090"), FinetuneMethod.FULL, sequence_tokens=512
    )
    assert not ft.fits


def test_finetune_rejects_rank_zero() -> None:
    with pytest.raises(InputError) as info:
        estimate_finetune_memory(
            deploy(LLAMA2_7B, "H100"), FinetuneMethod.LORA, sequence_tokens=512, lora_rank=0
        )
    assert info.value.field == "lora_rank"


# ----------------------------------------------------------------------------- properties

MODELS = [m.id for m in bundled_catalog().models]
GPUS = ["H100", "A100-80GB", "RTX-4090", "L40S", "H200", "MI300X", "B200", "L4"]
KV_FORMATS = [k.id for k in bundled_catalog().kv_formats]
WEIGHT_FORMATS = ["bf16", "fp8", "int8", "int4-awq", "q4_k_m", "nvfp4", "mxfp4"]


@st.composite
def deployments(draw: st.DrawFn) -> Deployment:
    model = bundled_catalog().model(draw(st.sampled_from(MODELS)))
    heads = model.num_attention_heads
    tp = draw(st.sampled_from([d for d in (1, 2, 4, 8) if heads % d == 0]))
    pp = draw(st.sampled_from([1, 2]))
    try:
        return deploy(
            model.id,
            draw(st.sampled_from(GPUS)),
            precision=draw(st.sampled_from(WEIGHT_FORMATS)),
            kv_precision=draw(st.sampled_from(KV_FORMATS)),
            engine=draw(st.sampled_from(["vllm", "trtllm", "llama.cpp", "sglang"])),
            tp=tp,
            pp=pp,
        )
    except ConfigurationError:  # e.g. nvfp4 on a GPU without fp4
        assume(False)
        raise


contexts = st.integers(min_value=1, max_value=262_144)
batches = st.integers(min_value=1, max_value=1024)


@given(deployments(), contexts, batches)
def test_totals_are_the_sum_of_their_parts(dep: Deployment, context: int, batch: int) -> None:
    e = estimate_memory(dep, context, batch)
    parts = e.weights_bytes + e.kv_cache_bytes + e.activation_bytes + e.overhead_bytes
    assert e.total_bytes == pytest.approx(parts, rel=1e-9)
    assert e.per_gpu_bytes * e.num_gpus == pytest.approx(e.total_bytes, rel=1e-9)
    assert e.num_gpus == dep.tp * dep.pp
    # fitting also needs the cache within the engine's memory share, so fits => fits in memory
    assert not e.fits or e.per_gpu_bytes <= e.gpu_memory_bytes
    for name, value in e.as_dict().items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert value >= 0, name
    # a replica holds at least one copy of every sequence's cache
    assert e.kv_cache_bytes >= kv_bytes_per_sequence(dep.model, dep.kv, context) * batch * (
        1 - 1e-9
    )


@given(deployments(), st.sampled_from(KV_FORMATS), st.sampled_from(KV_FORMATS), contexts, batches)
def test_more_kv_bits_never_less_memory(
    dep: Deployment, kv_a: str, kv_b: str, context: int, batch: int
) -> None:
    catalog = bundled_catalog()
    a, b = sorted(
        (catalog.kv_format(kv_a), catalog.kv_format(kv_b)), key=lambda k: k.bits_per_element
    )
    small, large = replace(dep, kv=a), replace(dep, kv=b)
    es, el = estimate_memory(small, context, batch), estimate_memory(large, context, batch)
    assert es.kv_bytes_per_token <= el.kv_bytes_per_token
    assert es.kv_cache_bytes <= el.kv_cache_bytes
    assert es.total_bytes <= el.total_bytes
    assert es.max_concurrent_sequences >= el.max_concurrent_sequences


@given(deployments(), contexts, contexts, batches)
def test_longer_context_never_less_kv(dep: Deployment, c1: int, c2: int, batch: int) -> None:
    short, long = sorted((c1, c2))
    es, el = estimate_memory(dep, short, batch), estimate_memory(dep, long, batch)
    assert es.kv_cache_bytes <= el.kv_cache_bytes
    assert es.total_bytes <= el.total_bytes
    assert es.max_concurrent_sequences >= el.max_concurrent_sequences


@given(deployments(), contexts, batches, batches)
def test_more_batch_never_less_total(dep: Deployment, context: int, b1: int, b2: int) -> None:
    small, large = sorted((b1, b2))
    es, el = estimate_memory(dep, context, small), estimate_memory(dep, context, large)
    assert es.kv_cache_bytes <= el.kv_cache_bytes
    assert es.activation_bytes <= el.activation_bytes
    assert es.total_bytes <= el.total_bytes


@given(deployments(), st.sampled_from(WEIGHT_FORMATS), st.sampled_from(WEIGHT_FORMATS))
def test_more_weight_bits_never_less_weight_memory(dep: Deployment, w1: str, w2: str) -> None:
    catalog = bundled_catalog()
    a, b = catalog.weight_format(w1), catalog.weight_format(w2)
    a_emb, b_emb = a.embedding_bits or a.bits_per_weight, b.embedding_bits or b.bits_per_weight
    if a.bits_per_weight <= b.bits_per_weight and a_emb <= b_emb:
        assert weights_bytes(dep.model, a) <= weights_bytes(dep.model, b)
    # weights never cost less than the body at the format's rate
    counts = count_params(dep.model)
    assert weights_bytes(dep.model, a) >= (counts.total - counts.embedding) * a.bits_per_weight / 8
