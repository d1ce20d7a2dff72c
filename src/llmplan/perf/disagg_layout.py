"""Each pool's own replica layout in a disaggregated design, and the KV re-shard between them.

Engines lay the two pools out differently: SGLang's and Dynamo's large DeepSeek runs
prefill with plain tensor parallelism and decode with expert parallelism and
data-parallel attention (``--tp 16 --ep 16 --enable-dp-attention`` on the decode nodes
only). A :class:`PoolLayout` states a pool's ``tp``, ``ep`` and ``dp_attention``; a
field left None takes the deployment's (``--tp``, ``--ep``, ``--dp-attention``); the
pipeline depth, GPU, precision and engine are the deployment's in both pools.

**KV re-shard** (:func:`transfer_lanes`): the GPUs of a replica that hold a request's KV
cache send (prefill) or receive (decode) it in parallel, each over its own link:

- with data-parallel attention one GPU per pipeline stage holds the whole sequence, so
  a pool has ``pp`` lanes;
- otherwise every GPU holds a shard (KV heads split over ``tp``, layers over ``pp``), so
  ``tp x pp`` lanes; a shard held on several GPUs (an MLA latent, or a KV head, when
  there are fewer heads than ranks) is sent once, split between its holders, and a
  decode pool copies it to its other holders inside the node (NVLink; not counted).

One copy of the prompt's KV crosses, over ``min(prefill lanes, decode lanes)`` GPUs'
links: the busiest GPU moves ``bytes / lanes``. With the same layout in both pools the
ranks pair one to one, ``tp x pp`` lanes, as before per-pool layouts existed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmplan.deployment import Deployment
from llmplan.errors import ConfigurationError, InputError, LlmplanError
from llmplan.sizing.memory import attention_data_parallel

POOLS = ("prefill", "decode")


@dataclass(frozen=True)
class PoolLayout:
    """One pool's replica layout; None takes the deployment's value."""

    tp: int | None = None
    ep: int | None = None
    dp_attention: bool | None = None

    @property
    def given(self) -> bool:
        """Whether any field differs from "take the deployment's"."""
        return any(v is not None for v in (self.tp, self.ep, self.dp_attention))


DEPLOYMENT_LAYOUT = PoolLayout()
"""A pool laid out as the deployment is (no field of its own)."""


def layout_dict(pool: str, dep: Deployment) -> dict[str, int | bool]:
    """``--json`` keys of a pool's resolved layout, e.g. ``decode_tp``."""
    return {
        f"{pool}_tp": dep.tp,
        f"{pool}_pp": dep.pp,
        f"{pool}_ep": dep.ep,
        f"{pool}_dp_attention": dep.dp_attention,
        f"{pool}_gpus_per_replica": dep.num_gpus,
    }


def pool_deployment(dep: Deployment, layout: PoolLayout, pool: str) -> Deployment:
    """``dep`` with ``layout``'s fields; errors name the pool's field (``decode_ep``).
    A pool tp beyond the GPU's NVLink domain is refused (give it as ``--tp``, which
    builds the PCIe-only variant)."""
    if not layout.given:
        return dep
    tp = dep.tp if layout.tp is None else layout.tp
    domain = dep.gpu.link_domain_gpus
    if domain is not None and tp > domain >= dep.tp:
        raise ConfigurationError(
            f"{tp} GPUs exceed the {domain} that {dep.gpu.id}'s {dep.gpu.interconnect.value} "
            f"joins; a pool keeps the replica's link: give at most {domain}, or tp={tp} "
            "for the deployment (both pools over PCIe)",
            field=f"{pool}_tp",
        )
    try:
        return replace(
            dep,
            tp=tp,
            ep=dep.ep if layout.ep is None else layout.ep,
            dp_attention=dep.dp_attention if layout.dp_attention is None else layout.dp_attention,
        )
    except LlmplanError as exc:
        field = f"{pool}_{exc.field}" if exc.field else pool
        raise type(exc)(exc.message, field=field) from None


def check_pool(dep: Deployment, gpus: int, pool: str) -> int:
    """Replicas of ``dep`` in a pool of ``gpus`` GPUs; InputError unless whole."""
    size = dep.num_gpus
    if gpus % size:
        raise InputError(
            f"{gpus} {pool} GPUs are not whole replicas of the {pool} layout tp x pp = "
            f"{dep.tp} x {dep.pp} = {size}; the {pool} pool needs a multiple of {size}",
            field="disaggregate",
        )
    return gpus // size


def replica_lanes(dep: Deployment) -> int:
    """GPUs of one replica that hold a request's KV cache (module docstring)."""
    return dep.pp if attention_data_parallel(dep) else dep.num_gpus


def transfer_lanes(prefill: Deployment, decode: Deployment) -> int:
    """GPUs' links a prompt's KV crosses in parallel: ``tp x pp`` for the same layout
    in both pools, else the fewer of the two pools' lanes."""
    if prefill == decode:
        return prefill.num_gpus
    return min(replica_lanes(prefill), replica_lanes(decode))
