"""Latency and throughput of a disaggregated design under a load.

Requests/s are limited by the slower pool: ``min(prefill replicas x prefill capacity,
decode replicas x decode capacity)``; the result names the pool that binds. At a
request rate ``X`` (spread evenly over each pool's replicas):

- TTFT = the prefill pool's queue (Poisson arrivals dealt round-robin to its replicas:
  every k-th arrival, Erlang gaps; Kingman's formula) + the prompt's own prefill + the exposed KV
  transfer (:mod:`llmplan.perf.disagg`) + half a decode step (a transferred request
  joins the decoders at the next step boundary);
- TPOT = the decode pool's step time at the batch ``X`` keeps running (decode-only steps);
- e2e = TTFT + (output - 1) x TPOT.

Loads: ``rate`` below capacity runs at its rate; at or above it the design runs full
and a finite run's requests wait for free slots (as an aggregated replica,
:func:`~llmplan.perf.serving.overflow_wait`). ``offline`` runs full with no queue.
``concurrency`` and ``batch`` are closed loops of that many clients: ``X = clients /
e2e(X)``, solved by Brent's method; clients beyond what the design serves wait.
Disaggregated designs run in a continuous steady state (no synchronised waves), and the
closed loop's pools are taken with the open-loop (Poisson) formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.deployment import Deployment
from llmplan.perf.disagg import (
    DecodePool,
    Disaggregation,
    PrefillPool,
    decode_pool,
    kv_transfer_bytes,
    kv_transfer_bytes_per_gpu,
    kv_transfer_seconds,
    prefill_pool,
    transfer_link,
)
from llmplan.perf.disagg_layout import layout_dict, transfer_lanes
from llmplan.perf.load import DEFAULT_FINITE_REQUESTS, Load, LoadKind, PerfResult
from llmplan.perf.serving import overflow_wait
from llmplan.sizing.memory import kv_budget_per_gpu

SATURATION_MARGIN = 1e-6
"""Share below full capacity at which a saturated pool's latencies are taken."""


@dataclass(frozen=True)
class Design:
    """A disaggregated design for one load's lengths: its pools (each replica of its
    own layout: ``prefill_dep``, ``decode_dep``) and its transfer link."""

    dep: Deployment
    prefill_dep: Deployment
    decode_dep: Deployment
    split: Disaggregation
    prefill: PrefillPool
    decode: DecodePool
    prefill_replicas: int
    decode_replicas: int
    input_tokens: float

    @classmethod
    def of(cls, dep: Deployment, split: Disaggregation, load: Load) -> Design:
        prefill_n, decode_n = split.replicas(dep)
        prefill_dep, decode_dep = split.deployments(dep)
        return cls(
            dep=dep,
            prefill_dep=prefill_dep,
            decode_dep=decode_dep,
            split=split,
            prefill=prefill_pool(prefill_dep, load.input_tokens, load.prefix_hit),
            decode=decode_pool(decode_dep, load.input_tokens, load.output_tokens, load.speculative),
            prefill_replicas=prefill_n,
            decode_replicas=decode_n,
            input_tokens=load.input_tokens,
        )

    @property
    def prefill_capacity_per_s(self) -> float:
        return self.prefill_replicas * self.prefill.capacity_per_s

    @property
    def decode_capacity_per_s(self) -> float:
        return self.decode_replicas * self.decode.capacity_per_s

    @property
    def capacity_per_s(self) -> float:
        """Requests per second the design serves: the slower pool's."""
        return min(self.prefill_capacity_per_s, self.decode_capacity_per_s)

    @property
    def binding_pool(self) -> str:
        return "prefill" if self.prefill_capacity_per_s <= self.decode_capacity_per_s else "decode"

    def transfer_s(self, own_prefill_s: float) -> float:
        link = transfer_link(self.dep, self.split)
        return kv_transfer_seconds(
            self.prefill_dep, self.input_tokens, link, prefill_s=own_prefill_s,
            layerwise=self.split.kv_transfer_layerwise, decode=self.decode_dep,
        )  # fmt: skip

    def latencies(self, rate_per_s: float) -> tuple[float, float, float]:
        """(TTFT, TPOT, KV transfer) in seconds at ``rate_per_s`` requests/s overall; a
        saturated prefill pool gives each prompt a full step and no queue."""
        per_prefill = rate_per_s / self.prefill_replicas
        if per_prefill >= self.prefill.capacity_per_s * (1 - SATURATION_MARGIN):
            own, wait = self.prefill.full_prompt_s, 0.0
        else:
            regularity = 1.0 / self.prefill_replicas  # squared CV of Erlang gaps
            own = self.prefill.own_prefill_s(per_prefill, regularity)
            wait = self.prefill.queue_wait_s(per_prefill, regularity)
        transfer = self.transfer_s(own)
        per_decode = min(rate_per_s / self.decode_replicas, self.decode.capacity_per_s)
        tpot = self.decode.tpot_s(per_decode)
        join = 0.5 * tpot  # a request joins the decoders at the next step boundary
        return wait + own + transfer + join, tpot, transfer

    def e2e_s(self, rate_per_s: float) -> float:
        ttft, tpot, _ = self.latencies(rate_per_s)
        return ttft + self.decode.decode_tokens * tpot


@dataclass(frozen=True)
class DisaggResult:
    """A disaggregated design's figures: ``perf`` for the whole design (all its GPUs),
    the pools (layout and KV-cache memory per GPU), the KV transfer and the pool that
    binds."""

    perf: PerfResult
    split: Disaggregation
    prefill_dep: Deployment
    decode_dep: Deployment
    prefill_replicas: int
    decode_replicas: int
    kv_transfer_ms: float
    kv_transfer_bytes: float
    kv_transfer_bytes_per_gpu: float
    kv_transfer_lanes: int
    kv_transfer_link: str
    binding_pool: str
    prefill_capacity_requests_per_s: float
    decode_capacity_requests_per_s: float
    decode_batch_per_replica: float
    decode_max_batch_per_replica: int

    @property
    def output_tokens_per_s_per_gpu(self) -> float:
        return self.perf.output_tokens_per_s / self.perf.num_gpus

    @property
    def prefill_kv_cache_bytes_per_gpu(self) -> float:
        """KV-cache room of one prefill GPU (after weights, activations, overhead)."""
        return kv_budget_per_gpu(self.prefill_dep)

    @property
    def decode_kv_cache_bytes_per_gpu(self) -> float:
        """KV-cache room of one decode GPU (after weights, activations, overhead)."""
        return kv_budget_per_gpu(self.decode_dep)

    def layout_dict(self) -> dict[str, int | bool]:
        """Each pool's resolved layout (``prefill_tp``, ``decode_ep``, ...)."""
        return layout_dict("prefill", self.prefill_dep) | layout_dict("decode", self.decode_dep)

    def as_dict(self) -> dict[str, float | int | str | bool]:
        """``--json`` keys: the PerfResult's and the design's."""
        return (
            self.perf.as_dict()
            | self.split.as_dict()
            | self.layout_dict()
            | {
                "prefill_replicas": self.prefill_replicas,
                "decode_replicas": self.decode_replicas,
                "kv_transfer_ms": self.kv_transfer_ms,
                "kv_transfer_bytes": self.kv_transfer_bytes,
                "kv_transfer_bytes_per_gpu": self.kv_transfer_bytes_per_gpu,
                "kv_transfer_lanes": self.kv_transfer_lanes,
                "kv_transfer_link": self.kv_transfer_link,
                "binding_pool": self.binding_pool,
                "prefill_capacity_requests_per_s": self.prefill_capacity_requests_per_s,
                "decode_capacity_requests_per_s": self.decode_capacity_requests_per_s,
                "decode_batch_per_replica": self.decode_batch_per_replica,
                "decode_max_batch_per_replica": self.decode_max_batch_per_replica,
                "prefill_kv_cache_bytes_per_gpu": self.prefill_kv_cache_bytes_per_gpu,
                "decode_kv_cache_bytes_per_gpu": self.decode_kv_cache_bytes_per_gpu,
                "output_tokens_per_s_per_gpu": self.output_tokens_per_s_per_gpu,
            }
        )


def _closed_loop_rate(design: Design, clients: float) -> tuple[float, float]:
    """(requests/s, queue wait s) of ``clients`` closed-loop clients: ``X e2e(X) =
    clients`` below capacity; at capacity, clients beyond what runs wait."""
    top = design.capacity_per_s * (1 - SATURATION_MARGIN)
    if top * design.e2e_s(top) <= clients:
        return design.capacity_per_s, max(0.0, clients / top - design.e2e_s(top))

    from scipy.optimize import brentq  # imported on first use: scipy is slow to import

    def excess(rate: float) -> float:
        return rate * design.e2e_s(rate) - clients

    low = top * 1e-9
    return float(brentq(excess, low, top, rtol=1e-6)), 0.0


def _rate_and_wait(design: Design, load: Load) -> tuple[float, float]:
    """(requests/s the design runs at, mean queue wait s) under ``load``."""
    full = design.capacity_per_s
    if load.kind is LoadKind.OFFLINE:
        return full, 0.0
    if load.kind in (LoadKind.BATCH, LoadKind.CONCURRENCY):
        return _closed_loop_rate(design, float(load.batch or 1))
    rate = float(load.request_rate or 0.0)
    if rate < full:
        return rate, 0.0
    finite = load.num_requests or DEFAULT_FINITE_REQUESTS
    if design.binding_pool == "prefill":  # prompts queue for the prefill steps
        slots = design.prefill_replicas * max(1.0, design.prefill.step_prompts)
    else:
        slots = design.decode_replicas * float(design.decode.max_batch)
    wait, _, _ = overflow_wait(finite, slots, full, rate)
    return full, wait


def predict_disaggregated(dep: Deployment, split: Disaggregation, load: Load) -> DisaggResult:
    """Predicted figures of ``dep``'s layout run as ``split`` under ``load``."""
    design = Design.of(dep, split, load)
    rate, wait = _rate_and_wait(design, load)
    ttft, tpot, transfer = design.latencies(rate)
    ttft += wait
    out = load.output_tokens
    e2e = ttft + design.decode.decode_tokens * tpot
    running = design.decode.running(rate / design.decode_replicas)
    binding = design.binding_pool
    bound = design.prefill.bound if binding == "prefill" else design.decode.bound(running)
    requests = load.num_requests
    makespan = e2e if not requests else max(e2e, requests / rate + ttft)
    own = design.prefill.own_prefill_s(rate / design.prefill_replicas, 1 / design.prefill_replicas)
    perf = PerfResult(
        ttft_ms=ttft * 1e3,
        tpot_ms=tpot * 1e3,
        e2e_latency_ms=e2e * 1e3,
        makespan_ms=makespan * 1e3,
        output_tokens_per_s=rate * out,
        total_tokens_per_s=rate * (load.input_tokens + out),
        requests_per_s=rate,
        prefill_tokens_per_s=load.input_tokens / own if own > 0 else 0.0,
        batch=running * design.decode_replicas,
        max_batch=design.decode.max_batch * design.decode_replicas,
        queue_wait_ms=wait * 1e3,
        bound=bound,
        mode=load.kind.value,
        num_gpus=split.prefill_gpus + split.decode_gpus,
    )
    prefill_dep, decode_dep = design.prefill_dep, design.decode_dep
    return DisaggResult(
        perf=perf,
        split=split,
        prefill_dep=prefill_dep,
        decode_dep=decode_dep,
        prefill_replicas=design.prefill_replicas,
        decode_replicas=design.decode_replicas,
        kv_transfer_ms=transfer * 1e3,
        kv_transfer_bytes=kv_transfer_bytes(dep, load.input_tokens),
        kv_transfer_bytes_per_gpu=kv_transfer_bytes_per_gpu(
            prefill_dep, load.input_tokens, decode_dep
        ),
        kv_transfer_lanes=transfer_lanes(prefill_dep, decode_dep),
        kv_transfer_link=transfer_link(dep, split).name,
        binding_pool=binding,
        prefill_capacity_requests_per_s=design.prefill_capacity_per_s,
        decode_capacity_requests_per_s=design.decode_capacity_per_s,
        decode_batch_per_replica=running,
        decode_max_batch_per_replica=design.decode.max_batch,
    )
