"""Replica designs for an inference workload: GPU x precision x engine x tensor parallel.

For every design the performance model finds the highest request rate one replica serves
within the workload's SLOs (:mod:`llmplan.plan.capacity`); the replicas needed are those
that carry the busiest hour of the last month of the horizon (growth included).
Designs that do not fit, that the GPU cannot run or that miss the SLOs even when idle
are kept as :class:`Rejected` with the reason, so the plan can say why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import EngineProfile, GpuSpec, ModelSpec, WeightFormat
from llmplan.deployment import Deployment
from llmplan.errors import LlmplanError
from llmplan.perf.percentiles import DATASET_LENGTH_CV
from llmplan.plan.capacity import (
    MAX_LOAD_FACTOR,
    Infeasible,
    LatencyTargets,
    ReplicaCapacity,
    try_replica_capacity,
)
from llmplan.scenario import InferenceWorkload, LengthDistribution, MeasuredThroughput
from llmplan.sizing.memory import estimate_memory

TENSOR_PARALLEL_DEGREES = (1, 2, 4, 8, 16)
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
    measured_source: str | None = None

    @property
    def deployment(self) -> Deployment:
        return self.capacity.deployment

    @property
    def gpus(self) -> int:
        return self.replicas * self.deployment.num_gpus

    @property
    def busy_fraction(self) -> float:
        """Average load over the replicas' capacity (all hours of the month)."""
        served = self.replicas * self.capacity.max_requests_per_s
        return min(1.0, self.average_requests_per_s / served) if served > 0 else 0.0

    @property
    def label(self) -> str:
        dep = self.deployment
        return f"{dep.gpu.id} {dep.weights.id} {dep.engine.id} tp{dep.tp}"

    def memory_per_gpu_bytes(self) -> float:
        """Weights, overhead and the KV cache of the planned batch, per GPU."""
        context = int(self.workload.input_tokens.mean + self.workload.output_tokens.mean)
        batch = max(1, math.ceil(self.capacity.result.batch))
        return estimate_memory(self.deployment, context, batch).per_gpu_bytes


@dataclass(frozen=True)
class Rejected:
    """A design that cannot serve the workload, with the reason."""

    workload: str
    label: str
    reason: str


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


def _deployments(
    catalog: Catalog,
    model: ModelSpec,
    gpu: GpuSpec,
    precision: WeightFormat,
    engine: EngineProfile,
    max_gpus: int,
) -> Iterator[Deployment | str]:
    """Deployments in rising tensor-parallel degree, or the reason one cannot be built."""
    limit = min(max_gpus, gpu.max_gpus_per_node)
    for tp in TENSOR_PARALLEL_DEGREES:
        if tp > limit:
            return
        try:
            yield Deployment.from_names(
                catalog,
                model=model.id,
                gpu=gpu.id,
                precision=precision.id,
                engine=engine.id,
                tp=tp,
            )
        except LlmplanError as exc:
            yield str(exc)


def _size(
    workload: InferenceWorkload,
    capacity: ReplicaCapacity,
    horizon_months: int,
    measured: MeasuredThroughput | None,
) -> Design:
    if measured is not None:
        rate = measured.replica_output_tokens_per_s() / workload.output_tokens.mean
        capacity = _with_rate(capacity, rate * MAX_LOAD_FACTOR)
    last = max(0, horizon_months - 1)
    peak = workload.peak_requests_per_s(last)
    replicas = max(1, math.ceil(peak / capacity.max_requests_per_s - 1e-9))
    average = sum(workload.average_requests_per_s(m) for m in range(horizon_months))
    return Design(
        workload,
        capacity,
        replicas,
        average / max(1, horizon_months),
        measured.source if measured is not None else None,
    )


def _with_rate(capacity: ReplicaCapacity, rate: float) -> ReplicaCapacity:
    return ReplicaCapacity(
        capacity.deployment,
        rate,
        capacity.saturation_requests_per_s,
        capacity.result,
        capacity.latency,
        "measured throughput",
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


def designs_for(
    catalog: Catalog, workload: InferenceWorkload, model: ModelSpec, space: SearchSpace
) -> tuple[list[Design], list[Rejected]]:
    """Every design of the search space for ``workload``, sized, and those rejected."""
    designs: list[Design] = []
    rejected: list[Rejected] = []
    targets = targets_of(workload)
    inp, out = workload.input_tokens.mean, workload.output_tokens.mean
    cv = max(length_cv(workload.input_tokens), length_cv(workload.output_tokens))
    for gpu in space.gpus:
        for precision in space.precisions:
            for engine in space.engines:
                label = f"{gpu.id} {precision.id} {engine.id}"
                fitting, reasons = 0, []
                for dep in _deployments(
                    catalog, model, gpu, precision, engine, space.max_gpus_per_replica
                ):
                    if isinstance(dep, str):
                        reasons.append(dep)
                        continue
                    capacity = try_replica_capacity(dep, inp, out, targets, length_cv=cv)
                    if isinstance(capacity, Infeasible):
                        reasons.append(f"tp{dep.tp}: {capacity.reason}")
                        continue
                    measured = _measured_for(dep, space.measured)
                    designs.append(_size(workload, capacity, space.horizon_months, measured))
                    fitting += 1
                    if fitting >= FITTING_DEGREES_TRIED:
                        break
                if not fitting:
                    reason = reasons[-1] if reasons else "no tensor-parallel degree allowed"
                    rejected.append(Rejected(workload.name, label, reason))
    return designs, rejected
