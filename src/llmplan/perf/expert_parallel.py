"""Expert parallelism (``ep``) and data-parallel attention (``dp_attention``) in a step.

Applies only when a deployment sets ``ep > 1`` or ``dp_attention``
(:attr:`Deployment.expert_layout`); every other deployment keeps the tensor-parallel
model of :mod:`llmplan.perf.step` unchanged. Layout (see :mod:`llmplan.deployment`):

- with ``dp_attention`` each of a stage's ``tp`` GPUs runs attention, the dense
  feed-forward layers and the shared experts for its own ``1/tp`` of the sequences, with
  the weights of those parts replicated (SGLang's large-scale EP recipe with
  ``--moe-dense-tp-size 1``, DeepSeek's "MLA and shared expert DP" disclosure); no
  collective is needed for them. The routed experts are expert-parallel when ``ep > 1``:
  each MoE layer dispatches every token to its ``top_k`` experts and combines the
  results, two all-to-alls (:func:`all_to_all_layer_s`); with ``ep = 1`` they stay
  tensor-split and each MoE layer gathers the tokens and scatters the result (one
  all-reduce's traffic).
- without ``dp_attention`` the tokens are on every GPU after the attention's all-reduce,
  so each GPU runs its own experts on the tokens routed to them and the MoE output is
  summed by the layer's all-reduce as for a tensor-parallel feed-forward (vLLM's
  ``--enable-expert-parallel`` with DP 1): the two all-reduces per layer stay.
- expert parallelism moves the routed-expert work of the busiest GPU to
  ``load_imbalance`` times the mean (tokens, and experts hit, capped at the GPU's own).
"""

from __future__ import annotations

from llmplan.catalog.expert_parallel import ep_constant
from llmplan.catalog.params import count_params
from llmplan.deployment import Deployment
from llmplan.perf.collectives import all_to_all_time_s, allreduce_time_s
from llmplan.sizing.memory import ACTIVATION_BYTES_PER_ELEMENT


def load_imbalance(dep: Deployment) -> float:
    """Busiest GPU's routed tokens over the mean: 1 without expert parallelism, else the
    deployment's ``ep_load_imbalance`` or the catalog default."""
    if dep.ep <= 1:
        return 1.0
    if dep.ep_load_imbalance is not None:
        return dep.ep_load_imbalance
    return ep_constant("load_imbalance_factor")


def busiest_experts_touched(dep: Deployment, touched: float) -> float:
    """Experts hit per MoE layer, counted as the busiest GPU sees them, over the whole
    replica (``ep`` times that GPU's share): the mean ``touched`` scaled by the load
    imbalance, at most all routed experts."""
    moe = dep.model.moe
    if moe is None or dep.ep <= 1:
        return touched
    return min(float(moe.num_experts), load_imbalance(dep) * touched)


def expert_group_gpus(dep: Deployment) -> int:
    """GPUs one routed expert's matrices are tensor-split over: ``tp / ep`` (all ``tp``
    GPUs without expert parallelism, one when ``ep = tp``)."""
    return dep.tp // dep.ep


def dispatch_combine_bytes(dep: Deployment, tokens_per_gpu: float) -> tuple[float, float]:
    """(dispatch, combine) bytes one GPU sends to other GPUs in one MoE layer: every
    token goes to ``top_k`` experts, each held by a group of ``g = tp / ep`` GPUs (one
    GPU when ``ep = tp``; with ``ep < tp`` the expert is tensor-split over the group and
    every GPU of it needs the token and returns a partial sum), of which
    ``g (tp - 1) / tp`` are other GPUs on average (``(ep - 1) / ep`` for ``ep = tp``);
    scaled by the load imbalance (the busiest GPU receives and returns that much more)."""
    moe = dep.model.moe
    if moe is None or dep.ep <= 1:
        return 0.0, 0.0
    group = expert_group_gpus(dep)
    copies = tokens_per_gpu * moe.experts_per_token * group * (dep.tp - 1) / dep.tp
    elements = copies * dep.model.hidden_size * load_imbalance(dep)
    return (
        elements * ep_constant("dispatch_bytes_per_element"),
        elements * ep_constant("combine_bytes_per_element"),
    )


def _node_split(dep: Deployment) -> tuple[int, float]:
    """(ranks of the all-to-all on one node, share of the leaving bytes that crosses
    nodes); every GPU of the stage takes part (``tp`` ranks: with ``ep < tp`` each
    expert's group spans several of them)."""
    per_node = max(1, min(dep.gpu.max_gpus_per_node, dep.tp))
    if per_node >= dep.tp or dep.scale_out is None or dep.scale_out.link_bandwidth_gbps is None:
        return min(per_node, dep.tp), 0.0
    return per_node, (dep.tp - per_node) / (dep.tp - 1)


def _one_all_to_all_s(dep: Deployment, leaving_bytes: float) -> float:
    """One dispatch or combine: the node's link and the network carry their shares at
    once; the slower sets the time."""
    efficiency = dep.engine.communication_efficiency
    per_node, remote_share = _node_split(dep)
    local = all_to_all_time_s(
        dep.interconnect,
        dep.gpu.interconnect_bandwidth_gbps,
        per_node,
        leaving_bytes * (1.0 - remote_share),
        efficiency,
    )
    network = dep.scale_out
    if remote_share <= 0 or network is None or network.link_bandwidth_gbps is None:
        return local
    remote = all_to_all_time_s(
        network, network.link_bandwidth_gbps, dep.tp, leaving_bytes * remote_share, efficiency
    )
    return max(local, remote)


def all_to_all_layer_s(dep: Deployment, tokens: float) -> float:
    """Dispatch plus combine of one MoE layer for a step of ``tokens`` tokens (the
    replica's; each GPU sends its own ``tokens / tp``)."""
    dispatch, combine = dispatch_combine_bytes(dep, tokens / dep.tp)
    return _one_all_to_all_s(dep, dispatch) + _one_all_to_all_s(dep, combine)


def expert_layout_communication_s(dep: Deployment, tokens: float) -> float:
    """Collectives of one step of one pipeline stage (without the pipeline hand-off)
    under the expert-parallel / DP-attention layout (module docstring)."""
    model = dep.model
    counts = count_params(model)
    moe_layers = counts.moe_layers / dep.pp
    message = tokens * model.hidden_size * ACTIVATION_BYTES_PER_ELEMENT
    efficiency = dep.engine.communication_efficiency
    link = (dep.interconnect, dep.gpu.interconnect_bandwidth_gbps)
    if dep.tp > dep.gpu.max_gpus_per_node and dep.scale_out is not None:
        network = dep.scale_out.link_bandwidth_gbps
        if network is not None:
            link = (dep.scale_out, network)
    if not dep.dp_attention:
        layers = model.num_layers / dep.pp
        return 2 * layers * allreduce_time_s(link[0], link[1], dep.tp, message, efficiency)
    if dep.ep > 1:
        return moe_layers * all_to_all_layer_s(dep, tokens)
    return moe_layers * allreduce_time_s(link[0], link[1], dep.tp, message, efficiency)
