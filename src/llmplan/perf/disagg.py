"""Disaggregated prefill and decode: a design, its KV transfer and its two pools.

A disaggregated design runs prompts on ``P`` prefill GPUs and generation on ``D`` decode
GPUs (DistServe, Mooncake, SGLang/Dynamo "PD disaggregation"). **Layout rule**: each pool
is made of whole replicas of its layout (``tp x pp`` GPUs): the deployment's, or the
pool's own (:class:`~llmplan.perf.disagg_layout.PoolLayout`: ``--decode-tp``,
``--decode-ep``, ``--decode-dp-attention``, ``--prefill-...``), so ``P`` and ``D`` are
multiples of their pool's ``tp x pp``; requests spread evenly over a pool's replicas.

- **Prefill pool** (:class:`PrefillPool`): steps of prompts only, up to the engine's token
  budget per step, no decodes beside them;
- **KV transfer** (:func:`kv_transfer_seconds`): one copy of the prompt's KV cache (model
  KV bytes per token x prompt tokens) crosses over the links of the GPUs that hold it
  in both pools (:func:`~llmplan.perf.disagg_layout.transfer_lanes`; ``tp x pp`` when
  the pools share a layout): a latency plus the busiest GPU's bytes over the
  link's one-way bandwidth x the transfer library's share of it
  (``interconnects.yaml: kv_transfer``). The link is the node's (NVLink) when both pools
  fit in one node, else the scale-out network (InfiniBand/RoCE). Engines that stream
  each layer's KV while the next layer computes (``kv_transfer_layerwise``) expose only
  what the prefill does not hide: ``max(transfer / layers, transfer - prefill)``;
- **Decode pool** (:class:`DecodePool`): decode-only steps (no prompt chunks in them)
  at the batch the pool's arrival rate keeps running.

System figures and loads: :mod:`llmplan.perf.disagg_serving`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from llmplan.catalog.schema import InterconnectProfile
from llmplan.deployment import Deployment
from llmplan.errors import DoesNotFitError, InputError
from llmplan.perf.disagg_layout import (
    DEPLOYMENT_LAYOUT,
    POOLS,
    PoolLayout,
    check_pool,
    pool_deployment,
    transfer_lanes,
)
from llmplan.perf.prefill import prefill_seconds, prefilled_tokens
from llmplan.perf.prefix import cached_prompt_tokens
from llmplan.perf.serving import capacity, token_round_time
from llmplan.perf.speculative import SpecDecoding
from llmplan.perf.step import StepShape
from llmplan.sizing.memory import kv_bytes_per_sequence, max_sequences

DEFAULT_KV_TRANSFER_LAYERWISE = False
"""Whether the KV cache is sent layer by layer during the prefill (Mooncake's layer-wise
transfer) rather than once the prefill ends (SGLang's and vLLM's NIXL/Mooncake
connectors hand over finished requests' KV blocks). Off unless stated."""

MAX_GPUS_PER_POOL = 100_000
_SPLIT = re.compile(r"\s*(\d{1,6})\s*:\s*(\d{1,6})\s*", re.ASCII)


@dataclass(frozen=True)
class Disaggregation:
    """``prefill_gpus`` and ``decode_gpus`` (multiples of their pool's replica GPUs;
    checked by :func:`check_split`), each pool's own layout (default: the deployment's)
    and how the KV cache travels between them."""

    prefill_gpus: int
    decode_gpus: int
    kv_transfer_layerwise: bool = DEFAULT_KV_TRANSFER_LAYERWISE
    prefill_layout: PoolLayout = DEPLOYMENT_LAYOUT
    decode_layout: PoolLayout = DEPLOYMENT_LAYOUT

    def __post_init__(self) -> None:
        for value in (self.prefill_gpus, self.decode_gpus):
            if not 1 <= value <= MAX_GPUS_PER_POOL:
                raise InputError(
                    f"each pool needs 1 to {MAX_GPUS_PER_POOL:,} GPUs, got "
                    f"{self.prefill_gpus}:{self.decode_gpus}",
                    field="disaggregate",
                )

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        kv_transfer_layerwise: bool = False,
        prefill_layout: PoolLayout = DEPLOYMENT_LAYOUT,
        decode_layout: PoolLayout = DEPLOYMENT_LAYOUT,
    ) -> Disaggregation:
        """From ``"P:D"`` (prefill GPUs : decode GPUs), e.g. ``"8:8"``, and the pools'
        own layouts."""
        match = _SPLIT.fullmatch(text)
        if match is None:
            raise InputError(
                f"expected P:D, prefill GPUs : decode GPUs (e.g. 8:16), got {text[:40]!r}",
                field="disaggregate",
            )
        prefill, decode = (int(group) for group in match.groups())
        return cls(prefill, decode, kv_transfer_layerwise, prefill_layout, decode_layout)

    def deployments(self, dep: Deployment) -> tuple[Deployment, Deployment]:
        """(prefill replica, decode replica): ``dep`` with each pool's own layout."""
        layouts = (self.prefill_layout, self.decode_layout)
        prefill, decode = (
            pool_deployment(dep, lay, pool) for lay, pool in zip(layouts, POOLS, strict=True)
        )
        return prefill, decode

    def replicas(self, dep: Deployment) -> tuple[int, int]:
        """(prefill replicas, decode replicas) of each pool's layout."""
        prefill, decode = self.deployments(dep)
        return (
            check_pool(prefill, self.prefill_gpus, "prefill"),
            check_pool(decode, self.decode_gpus, "decode"),
        )

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "prefill_gpus": self.prefill_gpus,
            "decode_gpus": self.decode_gpus,
            "kv_transfer_layerwise": self.kv_transfer_layerwise,
        }


def split_of(
    text: str | None,
    *,
    kv_transfer_layerwise: bool = False,
    prefill_layout: PoolLayout = DEPLOYMENT_LAYOUT,
    decode_layout: PoolLayout = DEPLOYMENT_LAYOUT,
    flag: str = "disaggregate",
) -> Disaggregation | None:
    """The split ``text`` ("P:D") gives with the pools' own layouts, or None (an
    aggregated replica); the transfer and layout options need a split (``flag`` names
    the split's option in the message)."""
    if text is not None:
        return Disaggregation.parse(
            text, kv_transfer_layerwise=kv_transfer_layerwise,
            prefill_layout=prefill_layout, decode_layout=decode_layout,
        )  # fmt: skip
    if kv_transfer_layerwise:
        raise InputError(f"only applies with {flag}", field="kv_transfer_layerwise")
    for pool, layout in zip(POOLS, (prefill_layout, decode_layout), strict=True):
        for name in ("tp", "ep", "dp_attention"):
            if getattr(layout, name) is not None:
                raise InputError(f"only applies with {flag}", field=f"{pool}_{name}")
    return None


def check_split(dep: Deployment, split: Disaggregation) -> None:
    """Raise InputError unless each pool is whole replicas of its layout."""
    split.replicas(dep)


@dataclass(frozen=True)
class TransferLink:
    """The link KV caches cross: its profile, aggregate GB/s per GPU and a name."""

    profile: InterconnectProfile
    link_gbps: float
    name: str

    @property
    def latency_s(self) -> float:
        path = self.profile.kv_transfer
        latency_us = path.latency_us if path else self.profile.ring.latency_us_2_gpus
        return latency_us * 1e-6

    @property
    def bytes_per_s(self) -> float:
        """One GPU's one-way transfer rate, bytes/s."""
        path = self.profile.kv_transfer
        fraction = path.bandwidth_fraction if path else self.profile.ring.bandwidth_fraction
        return self.link_gbps * 1e9 * self.profile.unidirectional_fraction * fraction


def transfer_link(dep: Deployment, split: Disaggregation) -> TransferLink:
    """The node's link when both pools fit in one node, else the scale-out network."""
    same_node = split.prefill_gpus + split.decode_gpus <= dep.gpu.max_gpus_per_node
    network = dep.scale_out
    if same_node or network is None or network.link_bandwidth_gbps is None:
        return TransferLink(dep.interconnect, dep.gpu.interconnect_bandwidth_gbps,
                            dep.interconnect.kind.value)  # fmt: skip
    return TransferLink(network, network.link_bandwidth_gbps, network.kind.value)


def kv_transfer_bytes(dep: Deployment, input_tokens: float) -> float:
    """Bytes of one copy of a prompt's KV cache (all layers)."""
    return kv_bytes_per_sequence(dep.model, dep.kv, input_tokens)


def kv_transfer_bytes_per_gpu(
    dep: Deployment, input_tokens: float, decode: Deployment | None = None
) -> float:
    """Bytes the busiest GPU sends or receives for one prompt from a ``dep`` prefill
    replica to a ``decode`` replica (default: the same layout): one copy over the
    :func:`~llmplan.perf.disagg_layout.transfer_lanes`."""
    lanes = transfer_lanes(dep, dep if decode is None else decode)
    return kv_transfer_bytes(dep, input_tokens) / lanes


def kv_transfer_seconds(
    dep: Deployment,
    input_tokens: float,
    link: TransferLink,
    *,
    prefill_s: float = 0.0,
    layerwise: bool = False,
    decode: Deployment | None = None,
) -> float:
    """Seconds a prompt's KV cache adds between its prefill on ``dep`` and its first
    decode step on ``decode`` (default: the same layout): ``latency + busiest GPU's
    bytes / per-GPU rate``; sent layer by layer during a ``prefill_s``-long prefill,
    only ``max(bytes part / layers, bytes part - prefill_s)``."""
    moving = kv_transfer_bytes_per_gpu(dep, input_tokens, decode) / link.bytes_per_s
    if layerwise:
        moving = max(moving / dep.model.num_layers, moving - prefill_s)
    return link.latency_s + moving


@dataclass(frozen=True)
class PrefillPool:
    """One prefill replica: full steps of ``step_prompts`` prompts (fractional: a prompt
    longer than the token budget spans several chunked steps) taking ``step_s``; a prompt
    alone takes ``alone_s``. Seconds; ``bound`` is the full step's."""

    step_prompts: float
    step_s: float
    alone_s: float
    bound: str

    @property
    def capacity_per_s(self) -> float:
        """Prompts per second a replica prefills when never idle."""
        return self.step_prompts / self.step_s

    @property
    def full_prompt_s(self) -> float:
        """A prompt's own prefill in full steps (its step, or its chunks' steps)."""
        return self.step_s * max(1.0, 1.0 / self.step_prompts)

    def own_prefill_s(self, rate_per_s: float, arrival_cv2: float = 1.0) -> float:
        """A prompt's own prefill at ``rate_per_s`` prompts/s per replica. Below
        saturation: its time alone, plus the prompts that arrive after it while the step
        in progress ends, which share its step and delay the step's end (each ``1 /
        capacity`` s; prompts ahead of it are the queue, :meth:`queue_wait_s`). The step
        in progress (busy a share ``rho`` of the time) lasts between a lone prompt's
        ``alone`` (a busy period's first step) and ``alone / (1 - rho)`` (steps carrying
        the previous step's arrivals); we take ``alone / (1 - rho / 2)``, and half of it
        remains on average; regular arrivals (``arrival_cv2`` < 1, see
        :meth:`queue_wait_s`) bring proportionally fewer prompts into it. An approximation
        checked against the simulator (``tests/test_disagg.py``). Saturated: full steps."""
        if rate_per_s >= self.capacity_per_s:
            return self.full_prompt_s
        load = rate_per_s / self.capacity_per_s
        step_in_progress = self.alone_s / (1.0 - load / 2.0)
        residual = load * step_in_progress / 2.0
        return self.alone_s + arrival_cv2 * load * residual

    def queue_wait_s(self, rate_per_s: float, arrival_cv2: float = 1.0) -> float:
        """Mean wait for the prompt work ahead: each prompt holds the replica ``1 /
        capacity`` seconds (deterministic); arrivals with squared coefficient of variation
        ``arrival_cv2`` of their gaps (1: Poisson; ``1 / k`` for every k-th arrival of a
        Poisson stream, as a round-robin router over k replicas deals them). Kingman's
        approximation ``(ca^2 + cs^2) / 2 x rho s / (1 - rho)``, exact for M/D/1
        (Pollaczek-Khinchine; Kingman 1961, "The single server queue in heavy traffic")."""
        service = 1.0 / self.capacity_per_s
        load = rate_per_s * service
        if load >= 1.0:
            return math.inf
        return arrival_cv2 * load * service / (2.0 * (1.0 - load))


def prefill_pool(dep: Deployment, input_tokens: float, prefix_hit: float = 0.0) -> PrefillPool:
    """A prefill replica of ``dep`` for prompts of ``input_tokens`` (``prefix_hit`` of them
    cached): full steps hold the token budget's worth of prompts, at most the engine's
    sequence limit and what the KV cache holds."""
    cached = cached_prompt_tokens(input_tokens, prefix_hit)
    computed = prefilled_tokens(dep, input_tokens, cached)
    fit = max_sequences(dep, input_tokens + 1)
    if fit < 1:
        raise DoesNotFitError(
            f"a {input_tokens:.0f}-token prompt of {dep.model.id} in {dep.weights.id} does not "
            f"fit on a {dep.num_gpus} x {dep.gpu.id} prefill replica; use more GPUs per replica"
        )
    budget = float(dep.engine.max_batched_tokens)
    prompts = budget / computed
    if not dep.engine.chunked_prefill:
        prompts = max(1.0, math.floor(prompts))
    prompts = min(prompts, float(dep.engine.max_num_seqs), float(fit))
    step_s = prefill_seconds(dep, prompts, input_tokens, cached_tokens=cached)
    full = step_s * max(1.0, 1.0 / prompts)
    alone = full if prompts < 1.0 else prefill_seconds(dep, 1.0, input_tokens, cached_tokens=cached)
    shape = StepShape(prefill_tokens=prompts * computed, prefill_seqs=prompts,
                      prefill_context=computed)  # fmt: skip
    bound = token_round_time(dep, shape, None)[1].bound
    return PrefillPool(prompts, step_s, alone, bound)


@dataclass(frozen=True)
class DecodePool:
    """One decode replica: at most ``max_batch`` sequences, decode-only steps, requests
    of ``output_tokens`` (the first comes from the prefill) at mean context ``context``."""

    dep: Deployment
    max_batch: int
    context: float
    output_tokens: float
    spec: SpecDecoding | None

    def token_s(self, running: float) -> float:
        """Seconds per generated token of each of ``running`` sequences."""
        shape = StepShape(decode_seqs=max(1.0, running), decode_context=self.context)
        return token_round_time(self.dep, shape, self.spec)[0]

    def bound(self, running: float) -> str:
        shape = StepShape(decode_seqs=max(1.0, running), decode_context=self.context)
        return token_round_time(self.dep, shape, self.spec)[1].bound

    @property
    def decode_tokens(self) -> float:
        """Tokens a request generates in the decode pool."""
        return max(0.0, self.output_tokens - 1.0)

    @property
    def capacity_per_s(self) -> float:
        """Requests per second a full replica finishes (infinite for 1-token outputs)."""
        if self.decode_tokens <= 0:
            return math.inf
        return self.max_batch / (self.decode_tokens * self.token_s(self.max_batch))

    def tpot_s(self, rate_per_s: float) -> float:
        """Mean seconds per output token at ``rate_per_s`` requests/s per replica: a request
        sees itself and ``L = rate x decode tokens x TPOT`` others (Little's law; PASTA),
        ``TPOT = t(1 + L)``, solved by fixed-point iteration; the full batch beyond."""
        if self.decode_tokens <= 0:
            return 0.0
        tpot = self.token_s(1.0)
        for _ in range(60):
            running = min(float(self.max_batch), 1.0 + rate_per_s * self.decode_tokens * tpot)
            new = self.token_s(running)
            if abs(new - tpot) <= 1e-9 * tpot:
                return new
            tpot = new
        return tpot

    def running(self, rate_per_s: float) -> float:
        """Mean sequences decoding per replica at ``rate_per_s`` (Little's law)."""
        busy = rate_per_s * self.decode_tokens * self.tpot_s(rate_per_s)
        return min(float(self.max_batch), busy)


def decode_pool(
    dep: Deployment, input_tokens: float, output_tokens: float, spec: SpecDecoding | None = None
) -> DecodePool:
    """A decode replica of ``dep``: its batch limit as an aggregated replica's
    (:func:`~llmplan.perf.serving.capacity`: engine limit, KV cache, token budget)."""
    limit = capacity(dep, input_tokens, output_tokens, spec)
    if limit < 1:
        raise DoesNotFitError(
            f"{dep.model.id} in {dep.weights.id} with a {input_tokens + output_tokens:.0f}-token "
            f"context does not fit on a {dep.num_gpus} x {dep.gpu.id} decode replica; use more "
            "GPUs per replica, a smaller precision or a shorter context"
        )
    return DecodePool(dep, limit, input_tokens + output_tokens / 2, output_tokens, spec)
