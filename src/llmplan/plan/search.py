"""Replica designs for an inference workload: GPU x precision x engine x tensor parallel.

For every design the performance model finds the highest request rate one replica serves
within the workload's SLOs (:mod:`llmplan.plan.capacity`); the replicas needed are those
that carry the busiest hour of the last month of the horizon (growth included).
Designs that do not fit, that the GPU cannot run or that miss the SLOs even when idle
are kept as :class:`Rejected` with the reason, so the plan can say why.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import EngineProfile, GpuSpec, ModelSpec, WeightFormat
from llmplan.deployment import Deployment
from llmplan.errors import LlmplanError
from llmplan.perf.disagg import Disaggregation
from llmplan.perf.features import NO_FEATURES
from llmplan.perf.load import DATASET_LENGTH_CV
from llmplan.perf.openloop import Lengths
from llmplan.plan.capacity import (
    MAX_LOAD_FACTOR,
    Infeasible,
    LatencyTargets,
    ReplicaCapacity,
    try_replica_capacity,
)
from llmplan.plan.disagg import (
    SPLIT_RATIOS,
    SplitWorkload,
    split_candidates,
    try_split_capacity,
)
from llmplan.plan.layouts import Layout, layout_name, layouts_for
from llmplan.scenario import InferenceWorkload, LengthDistribution, MeasuredThroughput
from llmplan.sim.lengths import LognormalLength
from llmplan.sim.scenario import features_from, lengths_from
from llmplan.sizing.memory import estimate_memory

HOURS_PER_MONTH = 365 * 24 / 12
SECONDS_PER_HOUR = 3600.0
FITTING_DEGREES_TRIED = 2
"""Tensor-parallel degrees evaluated per GPU and precision: the smallest that fits and
the next one (more GPUs per replica lower latency; beyond that cost only rises)."""


@dataclass(frozen=True)
class Design:
    """One replica design sized for a workload."""

    workload: InferenceWorkload
    capacity: ReplicaCapacity
    replicas: int
    average_requests_per_s: float
    peak_requests_per_s: float
    measured_source: str | None = None
    sizing_month: int = 0
    split: Disaggregation | None = None
    """Prefill and decode GPUs of one unit of a disaggregated design (None: aggregated);
    a replica is then one such unit (``split.prefill_gpus + split.decode_gpus`` GPUs)."""

    def replicas_at(self, volume: float) -> int:
        """Replicas carrying ``volume`` times the workload's peak (at least one)."""
        if volume == 1.0:
            return self.replicas
        need = volume * self.peak_requests_per_s / self.capacity.max_requests_per_s
        return max(1, math.ceil(need - 1e-9))

    @property
    def deployment(self) -> Deployment:
        return self.capacity.deployment

    @property
    def gpus_per_replica(self) -> int:
        """GPUs of one replica (of one prefill + decode unit when disaggregated)."""
        if self.split is not None:
            return self.split.prefill_gpus + self.split.decode_gpus
        return self.deployment.num_gpus

    @property
    def gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    @property
    def layout_name(self) -> str:
        """The layout in words: "EP8 + DP attention", "8 prefill : 16 decode" (per unit),
        empty for plain tensor x pipeline parallelism."""
        words = [layout_name(self.deployment)] if layout_name(self.deployment) else []
        if self.split is not None:
            words.append(f"{self.split.prefill_gpus} prefill : {self.split.decode_gpus} decode")
        return ", ".join(words)

    @property
    def busy_fraction(self) -> float:
        """Average load over the replicas' capacity, over all hours of the month."""
        served = self.replicas * self.capacity.max_requests_per_s
        return min(1.0, self.average_requests_per_s / served) if served > 0 else 0.0

    @property
    def label(self) -> str:
        dep = self.deployment
        label = f"{dep.gpu.id} {dep.weights.id} {dep.engine.id} {layout_label(dep)}"
        if self.split is not None:
            label += f" {self.split.prefill_gpus}P:{self.split.decode_gpus}D"
        return label

    def memory_per_gpu_bytes(self) -> float:
        """Weights, overhead and the KV cache of the planned batch, per GPU (of a decode
        replica when disaggregated)."""
        context = int(self.workload.input_tokens.mean + self.workload.output_tokens.mean)
        batch = self.capacity.result.batch
        if self.split is not None:  # the decode replicas hold the running sequences
            batch /= self.split.decode_gpus // self.deployment.num_gpus
        batch = max(1, math.ceil(batch))
        return estimate_memory(self.deployment, context, batch).per_gpu_bytes


@dataclass(frozen=True)
class Rejected:
    """A design that cannot serve the workload, with the reason."""

    workload: str
    label: str
    reason: str


def layout_label(dep: Deployment) -> str:
    """``tp8``, ``tp8 pp2``, ``tp8 ep8 dp-attention``: the replica's parallel layout."""
    words = [f"tp{dep.tp}"] + ([f"pp{dep.pp}"] if dep.pp > 1 else [])
    words += [f"ep{dep.ep}"] if dep.ep > 1 else []
    words += ["dp-attention"] if dep.dp_attention else []
    return " ".join(words)


def length_law(lengths: LengthDistribution) -> tuple[float, float]:
    """(mean tokens, coefficient of variation) of the law the simulator draws the
    stated lengths from (:func:`llmplan.sim.scenario.lengths_from`: lognormal through
    the stated quantiles, fixed when only a mean is given), so that the planner and the
    simulator size the same workload."""
    law = lengths_from(lengths)
    sigma = law.sigma if isinstance(law, LognormalLength) else 0.0
    return law.mean_tokens, math.sqrt(math.expm1(sigma * sigma))


def length_cv(lengths: LengthDistribution) -> float:
    """Coefficient of variation of a lognormal with the stated mean and median.

    A median equal to the mean means fixed lengths (0); without a median, the dataset
    assumption of :data:`~llmplan.perf.percentiles.DATASET_LENGTH_CV`."""
    if lengths.p50 is None:
        return DATASET_LENGTH_CV
    ratio = lengths.mean / lengths.p50
    return math.sqrt(ratio * ratio - 1) if ratio > 1 else 0.0


def targets_of(workload: InferenceWorkload) -> LatencyTargets:
    slo = workload.slo
    return LatencyTargets(slo.ttft_ms, slo.tpot_ms, slo.percentile)


MAX_TENSOR_PARALLEL = 16
"""Widest tensor-parallel group searched (engines ship kernels and tests up to 16)."""


def replica_gpu_counts(max_gpus: int) -> list[int]:
    """GPU counts a replica may have, rising: powers of two and three times powers of
    two (1, 2, 3, 4, 6, 8, 12, 16, 24, ...), so that 6- and 12-GPU layouts are priced."""
    counts = {base << shift for base in (1, 3) for shift in range(max_gpus.bit_length())}
    return sorted(n for n in counts if n <= max_gpus)


def layout_for(n: int, gpu: GpuSpec, model: ModelSpec) -> tuple[int, int] | None:
    """(tp, pp) for ``n`` GPUs: the widest tensor-parallel group that fits a node and
    divides the attention heads, the rest as pipeline stages; None if no such split
    leaves at least one layer per stage."""
    node = min(gpu.max_gpus_per_node, MAX_TENSOR_PARALLEL)
    heads = model.num_attention_heads
    for tp in range(min(n, node), 0, -1):
        if n % tp == 0 and heads % tp == 0 and n // tp <= model.num_layers:
            return tp, n // tp
    return None


def parallel_layouts(
    gpu: GpuSpec,
    model: ModelSpec,
    max_gpus: int,
    required: tuple[tuple[int, int], ...] = (),
) -> list[tuple[int, int]]:
    """(tp, pp) in rising GPU count: for each count of :func:`replica_gpu_counts`, the
    layout of :func:`layout_for` (tensor parallelism within a node, whole or partial
    nodes as pipeline stages), plus every ``required`` layout (measured ones) within
    ``max_gpus``; among equal counts, wider tensor parallelism first."""
    layouts = {layout_for(n, gpu, model) for n in replica_gpu_counts(max_gpus)}
    layouts |= {(tp, pp) for tp, pp in required if tp * pp <= max_gpus}
    return sorted((x for x in layouts if x is not None), key=lambda x: (x[0] * x[1], -x[0]))


def _deployments(
    catalog: Catalog,
    model: ModelSpec,
    gpu: GpuSpec,
    precision: WeightFormat,
    engine: EngineProfile,
    max_gpus: int,
    required: tuple[tuple[int, int], ...] = (),
    *,
    expert: bool = True,
) -> Iterator[tuple[Layout, Deployment | str]]:
    """Layouts (:func:`~llmplan.plan.layouts.layouts_for`) in rising GPU count, each with
    its deployment or the reason one cannot be built."""
    plain = parallel_layouts(gpu, model, max_gpus, required)
    for layout in layouts_for(model, engine, plain, expert=expert):
        try:
            yield (
                layout,
                Deployment.from_names(
                    catalog,
                    model=model.id,
                    gpu=gpu.id,
                    precision=precision.id,
                    engine=engine.id,
                    tp=layout.tp,
                    pp=layout.pp,
                    ep=layout.ep,
                    dp_attention=layout.dp_attention,
                ),
            )
        except LlmplanError as exc:
            yield layout, str(exc)


def _size(
    workload: InferenceWorkload,
    capacity: ReplicaCapacity,
    horizon_months: int,
    measured: MeasuredThroughput | None,
    max_utilisation: float,
) -> Design:
    if measured is not None:
        rate = measured.replica_output_tokens_per_s() / workload.output_tokens.mean
        capacity = _with_rate(capacity, rate * max_utilisation)
    last = max(0, horizon_months - 1)
    peak = workload.peak_requests_per_s(last)
    replicas = max(1, math.ceil(peak / capacity.max_requests_per_s - 1e-9))
    served_s = HOURS_PER_MONTH * SECONDS_PER_HOUR
    average = sum(workload.requests_per_month(m) / served_s for m in range(horizon_months))
    return Design(
        workload,
        capacity,
        replicas,
        average / max(1, horizon_months),
        peak,
        measured.source if measured is not None else None,
        last,
    )


def _with_rate(capacity: ReplicaCapacity, rate: float) -> ReplicaCapacity:
    return ReplicaCapacity(
        capacity.deployment,
        rate,
        capacity.saturation_requests_per_s,
        capacity.result,
        capacity.latency,
        "measured throughput",
        capacity.features,
    )


def _measured_for(
    dep: Deployment, measured: tuple[MeasuredThroughput, ...]
) -> MeasuredThroughput | None:
    for item in measured:
        if (
            item.model == dep.model.id
            and item.gpu == dep.gpu.id
            and item.tp == dep.tp
            and item.pp == dep.pp
            and dep.ep == 1
            and not dep.dp_attention
            and item.precision in (None, dep.weights.id)
            and item.engine in (None, dep.engine.id)
        ):
            return item
    return None


@dataclass(frozen=True)
class SearchSpace:
    """What :func:`designs_for` searches, after the scenario's names are resolved."""

    gpus: tuple[GpuSpec, ...]
    precisions: tuple[WeightFormat, ...]
    engines: tuple[EngineProfile, ...]
    max_gpus_per_replica: int
    horizon_months: int
    measured: tuple[MeasuredThroughput, ...] = ()
    max_utilisation: float = MAX_LOAD_FACTOR
    expert_parallel: bool = True
    """Search expert-parallel + DP-attention layouts (:mod:`llmplan.plan.layouts`)."""
    split_ratios: tuple[tuple[int, int], ...] = SPLIT_RATIOS
    """Prefill : decode replicas of the disaggregated units tried (:mod:`llmplan.plan.disagg`)."""


def designs_for(
    catalog: Catalog, workload: InferenceWorkload, model: ModelSpec, space: SearchSpace
) -> tuple[list[Design], list[Rejected]]:
    """Every design of the search space for ``workload``, sized, and those rejected."""
    designs: list[Design] = []
    rejected: list[Rejected] = []
    for gpu in space.gpus:
        for precision in space.precisions:
            for engine in space.engines:
                found, reason = _designs_on(catalog, workload, model, space, gpu, precision, engine)
                designs += found
                if not found:
                    label = f"{gpu.id} {precision.id} {engine.id}"
                    rejected.append(Rejected(workload.name, label, reason))
    return designs, rejected


def _designs_on(
    catalog: Catalog,
    workload: InferenceWorkload,
    model: ModelSpec,
    space: SearchSpace,
    gpu: GpuSpec,
    precision: WeightFormat,
    engine: EngineProfile,
) -> tuple[list[Design], str]:
    """The first :data:`FITTING_DEGREES_TRIED` layouts of one GPU, precision and engine
    that serve the workload, or none and the last reason."""
    targets = targets_of(workload)
    try:
        features = features_from(workload, model, catalog.models)
    except LlmplanError as exc:
        return [], str(exc)
    inp, cv_in = length_law(workload.input_tokens)
    out, cv_out = length_law(workload.output_tokens)
    cv = (cv_in, cv_out)
    found: list[Design] = []
    reason = "no parallel layout within candidates.max_gpus_per_replica"
    measured_layouts = _measured_layouts(model, gpu, space.measured)
    deployments = _deployments(
        catalog,
        model,
        gpu,
        precision,
        engine,
        space.max_gpus_per_replica,
        measured_layouts,
        expert=space.expert_parallel,
    )
    fitted: dict[tuple[int, bool], int] = {}
    for layout, dep in deployments:
        measured_layout = layout.is_plain and (layout.tp, layout.pp) in measured_layouts
        if fitted.get(layout.family, 0) >= FITTING_DEGREES_TRIED and not measured_layout:
            continue
        if isinstance(dep, str):
            reason = dep
            continue
        capacity = try_replica_capacity(
            dep,
            inp,
            out,
            targets,
            length_cv=cv,
            max_utilisation=space.max_utilisation,
            features=features,
        )
        if isinstance(capacity, Infeasible):
            expert = f" {layout_name(dep)}" if not layout.is_plain else ""
            reason = f"tp{dep.tp} pp{dep.pp}{expert}: {capacity.reason}"
            continue
        fitted[layout.family] = fitted.get(layout.family, 0) + 1
        measured = _measured_for(dep, space.measured)
        found.append(
            _size(workload, capacity, space.horizon_months, measured, space.max_utilisation)
        )
    work = SplitWorkload(Lengths(max(inp, 1.0), cv_in), Lengths(out, cv_out), targets, features)
    found += [d for d in (_best_split(design, work, space) for design in found) if d]
    return found, reason


def _best_split(design: Design, work: SplitWorkload, space: SearchSpace) -> Design | None:
    """The disaggregated variant of ``design`` (:mod:`llmplan.plan.disagg`) that serves
    the busiest hour with the fewest GPUs, or None (none tried, none serves, or the
    workload uses prefix caching or speculative decoding)."""
    if design.measured_source or work.features != NO_FEATURES:
        return None
    best: Design | None = None
    for split in split_candidates(design.deployment, design.replicas, space.split_ratios):
        capacity = try_split_capacity(design.deployment, split, work, space.max_utilisation)
        if isinstance(capacity, Infeasible):
            continue
        sized = _size(design.workload, capacity, space.horizon_months, None, space.max_utilisation)
        sized = dataclasses.replace(sized, split=split)
        if best is None or (sized.gpus, -capacity.max_requests_per_s) < (
            best.gpus,
            -best.capacity.max_requests_per_s,
        ):
            best = sized
    return best


def _measured_layouts(
    model: ModelSpec, gpu: GpuSpec, measured: tuple[MeasuredThroughput, ...]
) -> tuple[tuple[int, int], ...]:
    """(tp, pp) of the user's measurements of ``model`` on ``gpu``: always evaluated, so
    that a measured 6-GPU tp2 x pp3 layout is priced even where the search would not
    reach it."""
    return tuple((m.tp, m.pp) for m in measured if m.model == model.id and m.gpu == gpu.id)
