"""GPU memory needed to serve a model: weights, KV cache, activations, runtime overhead.

Assumptions (each a parameter or catalog field):
- weights: quantised layers at the format's bits per weight (scales included); embedding
  and LM-head tables at ``embedding_bits`` when the format keeps them in 16-bit;
- KV cache: K and V per KV head per layer (GQA), or one compressed latent per layer for
  MLA; layers with a sliding window hold at most ``window_tokens`` tokens;
- tensor parallelism splits weights evenly and KV heads across ranks (a KV head, or an
  MLA latent, is replicated when there are fewer heads than ranks); pipeline parallelism
  splits layers evenly; expert parallelism spreads the routed experts over the same GPUs
  (the even share is unchanged); with data-parallel attention (``dp_attention``) every
  GPU holds the whole attention, dense feed-forward and shared-expert weights of its
  stage and the KV cache of its own 1/tp of the sequences;
- activations: one forward pass over the engine's ``max_batched_tokens`` (hidden states,
  feed-forward intermediate and fp32 logits), the peak an engine reserves;
- overhead: the engine's ``runtime_overhead_gib`` per GPU (CUDA context, workspaces, graphs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmplan.catalog.params import attention_params, count_params, mlp_params, moe_layer_params
from llmplan.catalog.schema import KvFormat, ModelSpec, WeightFormat
from llmplan.deployment import Deployment

GIB = 2**30
ACTIVATION_BYTES_PER_ELEMENT = 2
LOGIT_BYTES_PER_ELEMENT = 4


def weights_bytes(model: ModelSpec, weights: WeightFormat) -> float:
    """Bytes of all weights stored in ``weights`` format."""
    counts = count_params(model)
    body = counts.total - counts.embedding
    embedding_bits = weights.embedding_bits or weights.bits_per_weight
    return body * weights.bits_per_weight / 8 + counts.embedding * embedding_bits / 8


def kv_elements_per_token_per_layer(model: ModelSpec) -> int:
    """Cached elements per token per layer: 2 x KV heads x head_dim, or the MLA latent."""
    if model.mla is not None:
        return model.mla.kv_lora_rank + model.mla.qk_rope_head_dim
    return 2 * model.num_kv_heads * model.head_dim


def global_layer_count(model: ModelSpec) -> int:
    """Layers that attend over the whole context (the rest use a sliding window)."""
    window = model.sliding_window
    if window is None:
        return model.num_layers
    if window.global_layer_every == 0:
        return 0
    return model.num_layers // window.global_layer_every


def kv_bytes_per_token(model: ModelSpec, kv: KvFormat) -> float:
    """KV bytes one token adds across all layers while inside every window."""
    return kv_elements_per_token_per_layer(model) * model.num_layers * kv.bits_per_element / 8


def kv_bytes_per_sequence(model: ModelSpec, kv: KvFormat, context_tokens: float) -> float:
    """KV bytes one sequence of ``context_tokens`` holds, sliding windows capped."""
    per_layer_token = kv_elements_per_token_per_layer(model) * kv.bits_per_element / 8
    global_layers = global_layer_count(model)
    local_layers = model.num_layers - global_layers
    window = model.sliding_window.window_tokens if model.sliding_window else 0
    local_tokens = min(context_tokens, window)
    return per_layer_token * (global_layers * context_tokens + local_layers * local_tokens)


def kv_shard_fraction(deployment: Deployment) -> float:
    """Share of a sequence's KV cache held by one GPU (on average over the sequences:
    with data-parallel attention each GPU holds whole sequences, 1/tp of them)."""
    if attention_data_parallel(deployment):
        return 1.0 / (deployment.tp * deployment.pp)
    kv_heads = 1 if deployment.model.mla is not None else deployment.model.num_kv_heads
    heads_per_rank = math.ceil(kv_heads / deployment.tp)
    return heads_per_rank / kv_heads / deployment.pp


def activation_bytes_per_gpu(deployment: Deployment, max_sequences: int) -> float:
    """Transient activation peak of one forward pass on one GPU."""
    model = deployment.model
    tokens = deployment.engine.max_batched_tokens
    ffn_width = model.intermediate_size
    if model.moe is not None:
        ffn_width = max(
            ffn_width if model.moe.dense_layers else 0,
            model.moe.expert_intermediate_size * model.moe.experts_per_token,
        )
    hidden_states = 4 * model.hidden_size
    ffn_states = 2 * ffn_width / deployment.tp
    per_token = (hidden_states + ffn_states) * ACTIVATION_BYTES_PER_ELEMENT
    logits = max_sequences * model.vocab_size / deployment.tp * LOGIT_BYTES_PER_ELEMENT
    return tokens * per_token + logits


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory of one replica; ``*_bytes`` totals are over all its GPUs."""

    weights_bytes: float
    kv_bytes_per_token: float
    kv_cache_bytes: float
    activation_bytes: float
    overhead_bytes: float
    total_bytes: float
    per_gpu_bytes: float
    gpu_memory_bytes: float
    num_gpus: int
    fits: bool
    max_concurrent_sequences: int
    context_tokens: int
    batch: int

    def as_dict(self) -> dict[str, float | int | bool]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def attention_data_parallel(deployment: Deployment) -> bool:
    """Whether the attention runs data-parallel over the tensor-parallel GPUs (MoE only):
    the deployment's ``dp_attention``, or an engine profile that always does it."""
    return deployment.dp_attention or (
        deployment.engine.attention_data_parallel
        and deployment.model.moe is not None
        and deployment.tp > 1
    )


def replicated_ffn_params(deployment: Deployment) -> float:
    """Weights of the dense feed-forward layers and shared experts (router included) of
    the whole model that every GPU of a stage holds with ``dp_attention`` (0 otherwise)."""
    model = deployment.model
    moe = model.moe
    if not deployment.dp_attention or moe is None:
        return 0.0
    counts = count_params(model)
    _, active = moe_layer_params(model)
    routed = moe.experts_per_token * mlp_params(model, moe.expert_intermediate_size)
    dense = counts.dense_layers * mlp_params(model, model.intermediate_size)
    return dense + counts.moe_layers * (active - routed)


def weights_bytes_per_gpu(deployment: Deployment) -> float:
    """Weights held by one GPU: an even share, plus the replicated attention (and, with
    ``dp_attention``, dense feed-forward and shared-expert) weights when the attention
    runs data-parallel."""
    model = deployment.model
    share = weights_bytes(model, deployment.weights) / deployment.num_gpus
    if attention_data_parallel(deployment):
        replicated = model.num_layers * attention_params(model) + replicated_ffn_params(deployment)
        share += (
            replicated
            / deployment.pp
            * deployment.weights.bits_per_weight
            / 8
            * (1 - 1 / deployment.tp)
        )
    return share


def usable_gpu_bytes(deployment: Deployment) -> float:
    """Bytes of one GPU a program may allocate."""
    return deployment.gpu.memory_gib * GIB * deployment.gpu.usable_memory_fraction


def kv_budget_per_gpu(deployment: Deployment, batch: int = 1) -> float:
    """Bytes left for KV cache on one GPU after weights, activations and overhead,
    within the engine's ``gpu_memory_utilization`` share."""
    engine = deployment.engine
    fixed = (
        weights_bytes_per_gpu(deployment)
        + activation_bytes_per_gpu(deployment, batch)
        + engine.runtime_overhead_gib * GIB
    )
    usable = usable_gpu_bytes(deployment)
    if engine.memory_fraction_of == "free":
        return (usable - fixed) * engine.gpu_memory_utilization
    return usable * engine.gpu_memory_utilization - fixed


def max_sequences(deployment: Deployment, context_tokens: float) -> int:
    """Sequences of ``context_tokens`` whose KV cache fits beside the weights."""
    per_sequence = kv_bytes_per_sequence(deployment.model, deployment.kv, max(context_tokens, 1))
    per_sequence_per_gpu = per_sequence * kv_shard_fraction(deployment)
    budget = kv_budget_per_gpu(deployment)
    if budget <= 0:
        return 0
    return int(budget // per_sequence_per_gpu)


def estimate_memory(deployment: Deployment, context_tokens: int, batch: int = 1) -> MemoryEstimate:
    """Memory for ``batch`` sequences of ``context_tokens`` each on one replica.

    ``fits`` means the weights, activations and runtime overhead fit and the cache of
    ``batch`` sequences fits in what the engine's ``gpu_memory_utilization`` leaves.
    """
    model = deployment.model
    n = deployment.num_gpus
    weights = weights_bytes(model, deployment.weights)
    kv_total = kv_bytes_per_sequence(model, deployment.kv, context_tokens) * batch
    kv_per_gpu = kv_total * kv_shard_fraction(deployment)
    activation_per_gpu = activation_bytes_per_gpu(deployment, batch)
    overhead_per_gpu = deployment.engine.runtime_overhead_gib * GIB
    per_gpu = weights_bytes_per_gpu(deployment) + kv_per_gpu + activation_per_gpu + overhead_per_gpu
    gpu_bytes = usable_gpu_bytes(deployment)
    return MemoryEstimate(
        weights_bytes=weights,
        kv_bytes_per_token=kv_bytes_per_token(model, deployment.kv),
        kv_cache_bytes=kv_per_gpu * n,
        activation_bytes=activation_per_gpu * n,
        overhead_bytes=overhead_per_gpu * n,
        total_bytes=per_gpu * n,
        per_gpu_bytes=per_gpu,
        gpu_memory_bytes=gpu_bytes,
        num_gpus=n,
        # the engine's memory share decides, as it does for max_concurrent_sequences
        fits=per_gpu <= gpu_bytes and kv_per_gpu <= kv_budget_per_gpu(deployment, batch),
        max_concurrent_sequences=max_sequences(deployment, context_tokens),
        context_tokens=context_tokens,
        batch=batch,
    )
