"""Parameter counts from architecture fields.

Counts matrix weights (attention projections, feed-forward, experts, router, embeddings,
LM head); norms and biases are ignored (well under 0.1 % of any model here).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from llmplan.catalog.schema import MlpKind, ModelSpec


@dataclass(frozen=True, slots=True)
class ParamCounts:
    """Parameter counts of a model (plain numbers, not billions)."""

    total: float
    active: float
    embedding: float
    per_layer_attention: float
    dense_layers: int
    moe_layers: int

    @property
    def non_embedding_active(self) -> float:
        return self.active - self.embedding


def attention_params(model: ModelSpec) -> float:
    """Weights of one attention block (Q, K, V, O projections; MLA low-rank factors)."""
    h = model.hidden_size
    if model.mla is not None:
        mla = model.mla
        qk_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        heads = model.num_attention_heads
        if mla.q_lora_rank:
            q = h * mla.q_lora_rank + mla.q_lora_rank * heads * qk_dim
        else:
            q = h * heads * qk_dim
        kv_down = h * (mla.kv_lora_rank + mla.qk_rope_head_dim)
        kv_up = mla.kv_lora_rank * heads * (mla.qk_nope_head_dim + mla.v_head_dim)
        out = heads * mla.v_head_dim * h
        return float(q + kv_down + kv_up + out)
    q_out = 2 * h * model.num_attention_heads * model.head_dim
    kv = 2 * h * model.num_kv_heads * model.head_dim
    return float(q_out + kv)


def mlp_params(model: ModelSpec, intermediate_size: int) -> float:
    """Weights of one feed-forward block of the given width."""
    matrices = 3 if model.mlp is MlpKind.GATED else 2
    return float(matrices * model.hidden_size * intermediate_size)


def layer_split(model: ModelSpec) -> tuple[int, int]:
    """(dense layers, MoE layers)."""
    if model.moe is None:
        return model.num_layers, 0
    candidates = model.num_layers - model.moe.dense_layers
    moe_layers = candidates // model.moe.moe_layer_interval
    return model.num_layers - moe_layers, moe_layers


def moe_layer_params(model: ModelSpec) -> tuple[float, float]:
    """(total, active) weights of one MoE feed-forward block, router included."""
    moe = model.moe
    if moe is None:
        return 0.0, 0.0
    expert = mlp_params(model, moe.expert_intermediate_size)
    shared_width = moe.shared_expert_intermediate_size or moe.expert_intermediate_size
    shared = moe.shared_experts * mlp_params(model, shared_width)
    router = float(model.hidden_size * moe.num_experts)
    total = moe.num_experts * expert + shared + router
    active = moe.experts_per_token * expert + shared + router
    return total, active


@functools.lru_cache(maxsize=512)
def count_params(model: ModelSpec) -> ParamCounts:
    """Total and active (per token) parameter counts (cached: models are immutable)."""
    attention = attention_params(model)
    dense_ffn = mlp_params(model, model.intermediate_size)
    moe_total, moe_active = moe_layer_params(model)
    dense_layers, moe_layers = layer_split(model)
    embed_tables = 1 if model.tie_word_embeddings else 2
    embedding = float(embed_tables * model.vocab_size * model.hidden_size)
    body_total = model.num_layers * attention + dense_layers * dense_ffn + moe_layers * moe_total
    body_active = model.num_layers * attention + dense_layers * dense_ffn + moe_layers * moe_active
    return ParamCounts(
        total=body_total + embedding,
        active=body_active + embedding,
        embedding=embedding,
        per_layer_attention=attention,
        dense_layers=dense_layers,
        moe_layers=moe_layers,
    )
