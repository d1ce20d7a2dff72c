"""GPU memory to fine-tune a model: full, LoRA and QLoRA.

Assumptions (standard mixed-precision training; each a named constant):
- full fine-tuning with Adam keeps 16-bit weights and gradients plus fp32 master
  weights and two fp32 moments: 2 + 2 + 4 + 4 + 4 = 16 bytes per parameter
  (Rajbhandari et al., ZeRO, arXiv:1910.02054, section 3.1);
- LoRA freezes the base in 16-bit and trains rank-r adapters on every attention and
  feed-forward projection at 16 bytes per trainable parameter;
- QLoRA stores the frozen base in NF4 with double quantisation, 4.127 bits per weight
  (Dettmers et al., QLoRA, arXiv:2305.14314, section 3), adapters as in LoRA;
- activations per layer per token without recomputation: (34 h + 5 a s) bytes with
  16-bit activations (Korthikanti et al., arXiv:2205.05198, eq. 1); with gradient
  checkpointing only each layer's 2 h-byte input is kept, plus one layer's full set;
- state is sharded over the GPUs (ZeRO-3 / FSDP) when more than one is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.params import count_params
from llmplan.deployment import Deployment
from llmplan.domain.finetune import FinetuneMethod
from llmplan.errors import InputError
from llmplan.sizing.memory import GIB, usable_gpu_bytes

ADAM_MIXED_PRECISION_BYTES_PER_PARAM = 16.0
FROZEN_16BIT_BYTES_PER_PARAM = 2.0
NF4_DOUBLE_QUANT_BITS_PER_WEIGHT = 4.127
ACTIVATION_BYTES_PER_HIDDEN_TOKEN = 34.0
ATTENTION_SCORE_BYTES = 5.0
CHECKPOINT_BYTES_PER_HIDDEN_TOKEN = 2.0


@dataclass(frozen=True)
class FinetuneEstimate:
    """Fine-tuning memory; ``*_bytes`` are totals over all GPUs."""

    method: str
    trainable_params: float
    weights_bytes: float
    gradients_and_optimizer_bytes: float
    activation_bytes: float
    overhead_bytes: float
    total_bytes: float
    per_gpu_bytes: float
    gpu_memory_bytes: float
    num_gpus: int
    fits: bool

    def as_dict(self) -> dict[str, float | int | str | bool]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def lora_params(dep: Deployment, rank: int) -> float:
    """Trainable parameters of rank-``rank`` adapters on attention and dense FFN matrices."""
    model = dep.model
    h = model.hidden_size
    q = model.num_attention_heads * model.head_dim
    kv = model.num_kv_heads * model.head_dim
    attention = rank * ((h + q) * 2 + (h + kv) * 2)
    ffn_width = model.intermediate_size if model.moe is None else model.moe.expert_intermediate_size
    matrices = 3 if model.mlp.value == "gated" else 2
    ffn = rank * matrices * (h + ffn_width)
    return float(model.num_layers * (attention + ffn))


def activation_bytes(
    dep: Deployment, sequence_tokens: int, micro_batch: int, gradient_checkpointing: bool
) -> float:
    """Activation memory of one micro-batch across all layers."""
    model = dep.model
    h, s, b = model.hidden_size, sequence_tokens, micro_batch
    full_layer = (
        s
        * b
        * h
        * (
            ACTIVATION_BYTES_PER_HIDDEN_TOKEN
            + ATTENTION_SCORE_BYTES * model.num_attention_heads * s / h
        )
    )
    if gradient_checkpointing:
        return model.num_layers * CHECKPOINT_BYTES_PER_HIDDEN_TOKEN * s * b * h + full_layer
    return model.num_layers * full_layer


def estimate_finetune_memory(
    dep: Deployment,
    method: FinetuneMethod,
    *,
    sequence_tokens: int,
    micro_batch: int = 1,
    lora_rank: int = 16,
    gradient_checkpointing: bool = True,
) -> FinetuneEstimate:
    """Memory to fine-tune ``dep.model`` on ``dep.num_gpus`` GPUs."""
    if lora_rank < 1:
        raise InputError(f"must be >= 1, got {lora_rank}", field="lora_rank")
    counts = count_params(dep.model)
    total, embedding = counts.total, counts.embedding
    if method is FinetuneMethod.FULL:
        trainable = total
        weights = total * FROZEN_16BIT_BYTES_PER_PARAM
        state = total * (ADAM_MIXED_PRECISION_BYTES_PER_PARAM - FROZEN_16BIT_BYTES_PER_PARAM)
    else:
        trainable = lora_params(dep, lora_rank)
        bits = (
            8 * FROZEN_16BIT_BYTES_PER_PARAM
            if method is FinetuneMethod.LORA
            else NF4_DOUBLE_QUANT_BITS_PER_WEIGHT
        )
        # QLoRA quantises the transformer blocks; embeddings and LM head stay 16-bit
        quantised = total if method is FinetuneMethod.LORA else total - embedding
        weights = quantised * bits / 8 + (total - quantised) * FROZEN_16BIT_BYTES_PER_PARAM
        state = trainable * ADAM_MIXED_PRECISION_BYTES_PER_PARAM
    n = dep.num_gpus
    activations = activation_bytes(dep, sequence_tokens, micro_batch, gradient_checkpointing)
    overhead = dep.engine.runtime_overhead_gib * GIB * n
    per_gpu = (weights + state) / n + activations + overhead / n
    gpu_bytes = usable_gpu_bytes(dep)
    return FinetuneEstimate(
        method=method.value,
        trainable_params=trainable,
        weights_bytes=weights,
        gradients_and_optimizer_bytes=state,
        activation_bytes=activations * n,
        overhead_bytes=overhead,
        total_bytes=per_gpu * n,
        per_gpu_bytes=per_gpu,
        gpu_memory_bytes=gpu_bytes,
        num_gpus=n,
        fits=per_gpu <= gpu_bytes,
    )
