"""Collective communication of tensor, pipeline and expert parallelism: alpha-beta models.

Each interconnect kind (``data/interconnects.yaml``) has two all-reduce paths read off
published microbenchmarks: a low-latency one (one-shot custom kernels, NCCL's LL
protocol: small alpha, a fraction of the link bandwidth) and a ring one (NCCL Simple: a
larger alpha, close to the link bandwidth). An all-reduce of ``S`` bytes on ``n`` GPUs
moves ``2 (n - 1) / n x S`` bytes per GPU on either path; the engine takes the faster
(engines switch algorithms by message size for this reason). The engine's
``communication_efficiency`` scales bandwidth only: latencies are the hardware's.
"""

from __future__ import annotations

from llmplan.catalog.schema import CollectivePath, InterconnectProfile


def path_latency_s(path: CollectivePath, gpus: int) -> float:
    """Alpha of ``path`` on ``gpus`` GPUs, in seconds."""
    extra = max(gpus - 2, 0)
    return (path.latency_us_2_gpus + path.latency_us_per_extra_gpu * extra) * 1e-6


def usable_link_bytes_per_s(profile: InterconnectProfile, link_gbps: float, gpus: int) -> float:
    """One-way bandwidth (bytes/s) a GPU can use towards the others in a collective of
    ``gpus`` GPUs: half the aggregate figure, and on a mesh only the links to the others."""
    one_way = link_gbps * 1e9 * profile.unidirectional_fraction
    if profile.mesh_links:
        one_way *= min(gpus - 1, profile.mesh_links) / profile.mesh_links
    return one_way


def allreduce_time_s(
    profile: InterconnectProfile,
    link_gbps: float,
    gpus: int,
    message_bytes: float,
    efficiency: float,
) -> float:
    """Seconds of one all-reduce of ``message_bytes`` over ``gpus`` GPUs (0 for one GPU).

    ``link_gbps``: the link's aggregate (bidirectional) GB/s per GPU; ``efficiency``: the
    engine's share of the microbenchmarked bandwidth (latency is not scaled)."""
    if gpus <= 1:
        return 0.0
    link = usable_link_bytes_per_s(profile, link_gbps, gpus) * efficiency
    traffic = 2.0 * (gpus - 1) / gpus * message_bytes
    return min(
        path_latency_s(path, gpus) + traffic / (link * path.bandwidth_fraction)
        for path in (profile.low_latency, profile.ring)
    )


def send_time_s(
    profile: InterconnectProfile, link_gbps: float, message_bytes: float, efficiency: float
) -> float:
    """Seconds to hand ``message_bytes`` from one GPU to the next (a pipeline stage
    boundary): the 2-GPU latency of the faster path plus the bytes at its bandwidth."""
    link = usable_link_bytes_per_s(profile, link_gbps, 2) * efficiency
    return min(
        path_latency_s(path, 2) + message_bytes / (link * path.bandwidth_fraction)
        for path in (profile.low_latency, profile.ring)
    )


def all_to_all_time_s(
    profile: InterconnectProfile,
    link_gbps: float,
    gpus: int,
    leaving_bytes: float,
    efficiency: float,
) -> float:
    """Seconds of one all-to-all (expert-parallel dispatch or combine) among ``gpus`` GPUs
    in which one GPU sends ``leaving_bytes`` to the others (0 when nothing leaves).

    Alpha-beta on the profile's ``all_to_all`` path (its ring path if it has none): every
    pair exchanges at once, so the time is the path's latency on ``gpus`` GPUs plus the
    bytes over the GPU's usable one-way bandwidth."""
    if gpus <= 1 or leaving_bytes <= 0:
        return 0.0
    path = profile.all_to_all or profile.ring
    link = usable_link_bytes_per_s(profile, link_gbps, gpus) * efficiency
    return path_latency_s(path, gpus) + leaving_bytes / (link * path.bandwidth_fraction)
