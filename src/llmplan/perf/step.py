"""Time of one forward step of a serving engine, from first principles (roofline).

A step processes ``decode_seqs`` sequences that each generate one token plus
``prefill_tokens`` prompt tokens of ``prefill_seqs`` prompts. For each group of
operations the time combines compute time (FLOPs over the GPU's peak times the engine's
compute efficiency) and memory time (bytes moved over peak bandwidth times the engine's
bandwidth efficiency) as a smooth maximum (see ``ROOFLINE_OVERLAP_EXPONENT``); the groups
are added:

- linear layers (projections, feed-forward, experts, LM head): 2 FLOPs per weight per
  token; every weight read once per step, MoE experts only when a token routes to them;
- attention: 2 x tokens x attended context x heads x (d_qk + d_v) FLOPs; decode reads the
  whole KV cache of the batch;
- tensor-parallel all-reduce (2 per layer) over the interconnect, pipeline hand-offs;
- a fixed per-step engine overhead, a per-layer kernel floor, and a per-sequence cost
  (scheduling, sampling).

Times are for one pipeline stage (``1/pp`` of the layers) on ``tp`` GPUs. Expert
parallelism and data-parallel attention change the collectives, the replicated weights
and the busiest GPU's expert work (:mod:`llmplan.perf.expert_parallel`).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.params import attention_params, count_params, mlp_params, moe_layer_params
from llmplan.catalog.schema import InterconnectProfile
from llmplan.deployment import Deployment
from llmplan.perf.collectives import allreduce_time_s, send_time_s
from llmplan.perf.expert_parallel import (
    busiest_experts_touched,
    expert_group_gpus,
    expert_layout_communication_s,
    load_imbalance,
)
from llmplan.sizing.memory import (
    ACTIVATION_BYTES_PER_ELEMENT,
    attention_data_parallel,
    global_layer_count,
    kv_bytes_per_sequence,
    kv_shard_fraction,
    replicated_ffn_params,
)

# Compute and memory traffic of a kernel overlap imperfectly: near the ridge point a GEMM
# takes longer than max(compute, memory). The p-norm (c^p + m^p)^(1/p) is max() for
# p -> infinity and the plain sum for p = 1; p = 2 gives the sqrt(2) slow-down at the ridge
# point that roofline studies of GEMMs report (Williams et al., "Roofline", CACM 2009).
ROOFLINE_OVERLAP_EXPONENT = 2.0

# A routed expert's GEMM sees only its own share of the step's tokens, and grouped-GEMM
# (fused MoE) kernels pad each expert's rows to whole tensor-core tiles: its reachable
# FLOP rate grows as M / (M + M_half) with the rows M an expert gets, half the engine's
# large-GEMM rate at M_half rows (a 64-row tile). Dense GEMMs are not scaled: at few rows
# engines switch to GEMV-style kernels that stay memory-bound.
GEMM_HALF_EFFICIENCY_ROWS = 64.0


# Routed tokens are copied to their experts and back (permute, the gate/up output, the
# activation, the down output, combine): per token, routed expert and MoE layer about
# 4 hidden-sized and 6 intermediate-sized reads or writes of 16-bit activations, the
# unfused pipeline of vLLM's and TensorRT-LLM's MoE layers (routing, grouped GEMM 1,
# SiLU-and-multiply, grouped GEMM 2, finalize). Leave-one-source-out cross-validation:
# held-out median error 18.8 -> 18.6 % overall, end-to-end 35.5 -> 33.1 %; reference card 28
# -> 30 of 58 within 25 %. (A grouped-GEMM rate falling with the expert's matrix size, from
# DeepGEMM's published shape table, cut the held-out error to 17.9 % but lost the card 3
# rows: rejected, see README "Accuracy".)
MOE_HIDDEN_PASSES = 4
MOE_INTERMEDIATE_PASSES = 6


def moe_activation_bytes(dep: Deployment, tokens: float, moe_layers: int) -> float:
    """Bytes of routed-token activations moved through the MoE layers in one step, summed
    over the tp x pp GPUs (as the other totals of :func:`_linear_costs`): a GPU handles
    the hidden vectors of the tokens routed to its expert group (1/ep of them) and its
    1/shards of their intermediate activations."""
    moe = dep.model.moe
    if moe is None or tokens <= 0:
        return 0.0
    per_routed = (
        MOE_HIDDEN_PASSES * dep.model.hidden_size
        + MOE_INTERMEDIATE_PASSES * moe.expert_intermediate_size / expert_group_gpus(dep)
    ) * ACTIVATION_BYTES_PER_ELEMENT
    routed_per_gpu = tokens * moe.experts_per_token / dep.ep
    return routed_per_gpu * per_routed * moe_layers * dep.tp


def gemm_row_efficiency(rows: float) -> float:
    """Fraction of the large-GEMM FLOP rate reached with ``rows`` tokens."""
    if rows <= 0:
        return 1.0
    return rows / (rows + GEMM_HALF_EFFICIENCY_ROWS)


@dataclass(frozen=True, slots=True)
class StepShape:
    """What one forward step processes. Counts may be fractional (averages).

    ``decode_query_tokens``: positions each decoding sequence runs (1, or ``K + 1`` when
    speculative decoding verifies ``K`` drafts); ``prefill_cached_context``: tokens of
    each prefilled prompt already in the KV cache (prefix caching) before its
    ``prefill_context`` computed ones."""

    decode_seqs: float = 0.0
    decode_context: float = 0.0
    prefill_tokens: float = 0.0
    prefill_seqs: float = 0.0
    prefill_context: float = 0.0
    decode_query_tokens: float = 1.0
    prefill_cached_context: float = 0.0

    @property
    def tokens(self) -> float:
        return self.decode_seqs * self.decode_query_tokens + self.prefill_tokens

    @property
    def logit_rows(self) -> float:
        """Positions whose logits the LM head computes."""
        return self.decode_seqs * self.decode_query_tokens + self.prefill_seqs

    @property
    def sequences(self) -> float:
        return self.decode_seqs + self.prefill_seqs


@dataclass(frozen=True, slots=True)
class StepTime:
    """Seconds spent per part of one step of one pipeline stage, and the binding limit."""

    linear_s: float
    attention_s: float
    communication_s: float
    overhead_s: float
    linear_compute_bound: bool
    attention_compute_bound: bool

    @property
    def total_s(self) -> float:
        return self.linear_s + self.attention_s + self.communication_s + self.overhead_s

    @property
    def bound(self) -> str:
        """Which limit takes the largest share: compute, memory, communication or overhead."""
        parts = {
            "compute": (self.linear_s if self.linear_compute_bound else 0.0)
            + (self.attention_s if self.attention_compute_bound else 0.0),
            "memory": (0.0 if self.linear_compute_bound else self.linear_s)
            + (0.0 if self.attention_compute_bound else self.attention_s),
            "communication": self.communication_s,
            "overhead": self.overhead_s,
        }
        return max(parts, key=lambda k: parts[k])


def expected_experts_touched(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Mean number of distinct experts ``tokens`` tokens route to (uniform routing)."""
    if tokens <= 0:
        return 0.0
    miss: float = (1.0 - experts_per_token / num_experts) ** tokens
    return num_experts * (1.0 - miss)


def _expert_rows(dep: Deployment, tokens: float) -> float:
    """Mean tokens per touched routed expert in a step of ``tokens`` tokens."""
    moe = dep.model.moe
    if moe is None or tokens <= 0:
        return tokens
    touched = expected_experts_touched(moe.num_experts, moe.experts_per_token, tokens)
    return tokens * moe.experts_per_token / max(touched, 1e-9)


def _linear_costs(dep: Deployment, shape: StepShape) -> tuple[float, float, float, float]:
    """(dense FLOPs, dense bytes, expert FLOPs, expert bytes) of the linear layers of the
    whole model for one step; "expert" is the routed-expert part of MoE layers."""
    model = dep.model
    counts = count_params(model)
    bits = dep.weights.bits_per_weight
    embedding_bits = dep.weights.embedding_bits or bits
    lm_head = model.vocab_size * model.hidden_size
    dense_ffn = mlp_params(model, model.intermediate_size)
    static = model.num_layers * attention_params(model) + counts.dense_layers * dense_ffn
    flops = 2.0 * shape.tokens * static + 2.0 * shape.logit_rows * lm_head
    weight_bytes = static * bits / 8 + lm_head * embedding_bits / 8
    expert_flops = expert_bytes = 0.0
    if model.moe is not None and counts.moe_layers:
        moe = model.moe
        _, active = moe_layer_params(model)
        expert = mlp_params(model, moe.expert_intermediate_size)
        routed_active = moe.experts_per_token * expert
        always = active - routed_active
        touched = expected_experts_touched(moe.num_experts, moe.experts_per_token, shape.tokens)
        touched = busiest_experts_touched(dep, touched)
        flops += 2.0 * shape.tokens * always * counts.moe_layers
        weight_bytes += counts.moe_layers * always * bits / 8
        expert_flops = 2.0 * shape.tokens * routed_active * counts.moe_layers * load_imbalance(dep)
        expert_bytes = counts.moe_layers * touched * expert * bits / 8
        expert_bytes += moe_activation_bytes(dep, shape.tokens, counts.moe_layers)
    if attention_data_parallel(dep):  # every GPU reads the whole attention (+ dense) weights
        replicated = model.num_layers * attention_params(model) + replicated_ffn_params(dep)
        weight_bytes += (dep.tp - 1) * replicated * bits / 8
    activation_bytes = shape.tokens * model.hidden_size * ACTIVATION_BYTES_PER_ELEMENT * 4
    return flops, weight_bytes + activation_bytes * model.num_layers, expert_flops, expert_bytes


def _attention_dims(dep: Deployment, decode: bool) -> float:
    """d_qk + d_v per head: MLA decode runs in the compressed latent (absorbed weights)."""
    model = dep.model
    if model.mla is None:
        return 2.0 * model.head_dim
    mla = model.mla
    if decode:
        return float(2 * mla.kv_lora_rank + mla.qk_rope_head_dim)
    return float(mla.qk_nope_head_dim + mla.qk_rope_head_dim + mla.v_head_dim)


def _attended(dep: Deployment, context: float) -> float:
    """Mean context a token attends to over all layers (sliding windows capped)."""
    model = dep.model
    global_layers = global_layer_count(model)
    window = model.sliding_window.window_tokens if model.sliding_window else 0
    local = min(context, window)
    return (global_layers * context + (model.num_layers - global_layers) * local) / model.num_layers


def _attention_costs(dep: Deployment, shape: StepShape) -> tuple[float, float]:
    """(FLOPs, bytes) of attention for the whole model for one step."""
    model = dep.model
    heads_layers = model.num_attention_heads * model.num_layers
    decode_flops = (
        2.0
        * shape.decode_seqs
        * shape.decode_query_tokens
        * _attended(dep, shape.decode_context)
        * heads_layers
        * _attention_dims(dep, decode=True)
    )
    prefill_flops = (
        2.0
        * shape.prefill_tokens
        * _attended(dep, shape.prefill_cached_context + shape.prefill_context / 2)
        * heads_layers
        * _attention_dims(dep, decode=False)
    )
    kv_read = shape.decode_seqs * kv_bytes_per_sequence(model, dep.kv, shape.decode_context)
    if shape.prefill_cached_context > 0:  # computed prompt tokens read the cached prefix
        cached = kv_bytes_per_sequence(model, dep.kv, shape.prefill_cached_context)
        kv_read += shape.prefill_seqs * cached
    kv_write = shape.tokens * kv_bytes_per_sequence(model, dep.kv, 1.0)
    return decode_flops + prefill_flops, kv_read + kv_write


def _roofline(
    flops: float, bytes_: float, peak_flops: float, bandwidth: float
) -> tuple[float, bool]:
    compute_s = flops / peak_flops
    memory_s = bytes_ / bandwidth
    overlapped = (compute_s**ROOFLINE_OVERLAP_EXPONENT + memory_s**ROOFLINE_OVERLAP_EXPONENT) ** (
        1 / ROOFLINE_OVERLAP_EXPONENT
    )
    return overlapped, compute_s >= memory_s


def communication_time_s(dep: Deployment, tokens: float) -> float:
    """Tensor-parallel all-reduces (two per layer) and pipeline hand-offs of one stage
    for one step (:mod:`llmplan.perf.collectives`). A tensor-parallel group wider than a
    node runs its all-reduces at the scale-out network's pace, and pipeline hand-offs
    cross it when the replica spans nodes."""
    model = dep.model
    message = tokens * model.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    layers = model.num_layers / dep.pp
    efficiency = dep.engine.communication_efficiency
    seconds = 0.0
    if dep.expert_layout:
        seconds += expert_layout_communication_s(dep, tokens)
    elif dep.tp > 1:
        profile, link = _link_for(dep, spans_nodes=dep.tp > dep.gpu.max_gpus_per_node)
        seconds += 2 * layers * allreduce_time_s(profile, link, dep.tp, message, efficiency)
    if dep.pp > 1:
        profile, link = _link_for(dep, spans_nodes=dep.num_gpus > dep.gpu.max_gpus_per_node)
        seconds += send_time_s(profile, link, message, efficiency)
    return seconds


def _link_for(dep: Deployment, *, spans_nodes: bool) -> tuple[InterconnectProfile, float]:
    """The interconnect profile and its aggregate GB/s per GPU for a collective."""
    network = dep.scale_out
    if spans_nodes and network is not None and network.link_bandwidth_gbps is not None:
        return network, network.link_bandwidth_gbps
    return dep.interconnect, dep.gpu.interconnect_bandwidth_gbps


def step_time(dep: Deployment, shape: StepShape) -> StepTime:
    """Time of one step of one pipeline stage (1/pp of the layers on tp GPUs)."""
    engine = dep.engine
    gpus = dep.num_gpus
    bandwidth = dep.gpu.memory_bandwidth_gbps * 1e9 * engine.bandwidth_efficiency
    matmul_peak = dep.matmul_peak_flops * engine.compute_efficiency
    if dep.weight_only_quantized:
        matmul_peak /= 1.0 + dep.weights.dequant_overhead
    attention_peak = (
        dep.attention_peak_flops * engine.compute_efficiency * engine.attention_efficiency
    )
    attention_bandwidth = bandwidth * engine.kv_read_efficiency

    lin_flops, lin_bytes, exp_flops, exp_bytes = _linear_costs(dep, shape)
    dense_s, linear_cb = _roofline(lin_flops / gpus, lin_bytes / gpus, matmul_peak, bandwidth)
    moe_eff = engine.moe_efficiency
    expert_peak = matmul_peak * moe_eff * gemm_row_efficiency(_expert_rows(dep, shape.tokens))
    expert_s, expert_cb = _roofline(
        exp_flops / gpus, exp_bytes / gpus, expert_peak, bandwidth * moe_eff
    )
    linear_s = dense_s + expert_s
    linear_cb = linear_cb if dense_s >= expert_s else expert_cb
    att_flops, att_bytes = _attention_costs(dep, shape)
    att_bytes_per_gpu = att_bytes * kv_shard_fraction(dep)
    attention_s, attention_cb = _roofline(
        att_flops / gpus, att_bytes_per_gpu, attention_peak, attention_bandwidth
    )
    # with dp_attention each GPU schedules and samples its own 1/tp of the sequences
    sequences_per_gpu = shape.sequences / (dep.tp if dep.dp_attention else 1)
    overhead = engine.step_overhead_s + engine.per_sequence_overhead_s * sequences_per_gpu
    layer_floor = engine.per_layer_overhead_s * dep.model.num_layers
    return StepTime(
        linear_s=linear_s,
        attention_s=attention_s,
        communication_s=communication_time_s(dep, shape.tokens),
        overhead_s=(overhead + layer_floor) / dep.pp,
        linear_compute_bound=linear_cb,
        attention_compute_bound=attention_cb,
    )
