"""Fine-tuning jobs: GPUs, hours per run and their cost under each deployment option.

Compute per training token, with gradient checkpointing (one extra forward pass):
full fine-tuning 8 x active parameters FLOPs (2 forward, 4 backward, 2 recompute);
LoRA and QLoRA 6 x (no weight gradients for the frozen base, an assumption that
ignores the adapters' own small cost). Hours = FLOPs / (GPUs x dense 16-bit peak x
:data:`TRAINING_MFU`). The GPUs are the fewest (powers of two, one node at most) of the
cheapest candidate GPU whose memory holds the job (``sizing.finetune``) and that finish a
run within ``max_hours_per_run``.

Owned options buy a training server used only for these runs; cloud options and the API
option rent on-demand GPUs for the hours of the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.loader import Catalog
from llmplan.catalog.params import count_params
from llmplan.catalog.schema import ComputeDtype, GpuSpec, ModelSpec
from llmplan.cost import CloudRental, FinanceAssumptions, Fleet, OptionCost, cost_cloud
from llmplan.cost import cost_self_hosted as _cost_owned
from llmplan.cost.phasing import with_facility
from llmplan.deployment import Deployment
from llmplan.domain.finetune import FinetuneMethod
from llmplan.errors import LlmplanError
from llmplan.plan.options import PriceContext, cloud_price, gpu_power_w, gpu_price_usd, site_of
from llmplan.scenario import DeploymentOption, FineTuneWorkload
from llmplan.sizing.finetune import estimate_finetune_memory

TRAINING_MFU = 0.35
"""Model FLOPs utilisation of fine-tuning runs: Llama 3 405B pre-training reached 38-43 %
on H100 (tco-references.md section 3); smaller jobs on fewer GPUs rarely do better."""

FLOPS_PER_PARAM_TOKEN = {
    FinetuneMethod.FULL: 8.0,
    FinetuneMethod.LORA: 6.0,
    FinetuneMethod.QLORA: 6.0,
}
GPU_COUNTS = (1, 2, 4, 8)


@dataclass(frozen=True)
class TrainingSetup:
    """GPUs and hours for one run of a fine-tuning job."""

    job: FineTuneWorkload
    gpu: GpuSpec
    gpus: int
    hours_per_run: float
    per_gpu_bytes: float

    @property
    def gpu_hours_per_month(self) -> float:
        return self.gpus * self.hours_per_run * self.job.runs_per_month()


def _active_params(model: ModelSpec) -> float:
    counts = count_params(model)
    return counts.active if counts.active else counts.total


def hours_per_run(job: FineTuneWorkload, model: ModelSpec, gpu: GpuSpec, gpus: int) -> float:
    flops = FLOPS_PER_PARAM_TOKEN[job.method] * _active_params(model)
    flops *= job.training_tokens_per_run()
    peak = gpu.peak_tflops.get(ComputeDtype.BF16) or gpu.peak_tflops.get(ComputeDtype.FP16)
    if not peak:
        raise LlmplanError(f"{gpu.id} has no 16-bit peak for training")
    return flops / (gpus * peak * 1e12 * TRAINING_MFU) / 3600


def setup_on(
    catalog: Catalog, job: FineTuneWorkload, model: ModelSpec, gpu: GpuSpec
) -> TrainingSetup | str:
    """The fewest GPUs of ``gpu`` that hold the job and meet its time limit."""
    reason = f"{model.id} {job.method.value} does not fit on up to 8 x {gpu.id}"
    for gpus in GPU_COUNTS:
        if gpus > gpu.max_gpus_per_node:
            break
        try:
            dep = Deployment.from_names(catalog, model=model.id, gpu=gpu.id, tp=gpus)
            memory = estimate_finetune_memory(
                dep,
                job.method,
                sequence_tokens=job.sequence_tokens,
                lora_rank=job.effective_lora_rank() or 16,
            )
        except LlmplanError as exc:
            reason = str(exc)
            continue
        if not memory.fits:
            continue
        hours = hours_per_run(job, model, gpu, gpus)
        if job.max_hours_per_run is not None and hours > job.max_hours_per_run:
            reason = f"a run takes {hours:,.0f} h on {gpus} x {gpu.id}, over max_hours_per_run"
            continue
        return TrainingSetup(job, gpu, gpus, hours, memory.per_gpu_bytes)
    return reason


def training_cost(
    setup: TrainingSetup, option: DeploymentOption, finance: FinanceAssumptions, ctx: PriceContext
) -> OptionCost | str:
    """The job's cost under ``option``: a dedicated owned server, or rented GPU-hours."""
    gpu = setup.gpu
    if option.is_owned or option is DeploymentOption.HYBRID:
        price = gpu_price_usd(gpu, ctx)
        if price is None:
            return f"no purchase price for {gpu.id}"
        chassis = 0.0 if price[1] else finance.server_overhead_usd
        busy = setup.gpu_hours_per_month / (setup.gpus * finance.hours_per_month)
        fleet = Fleet(
            servers=1,
            gpus_per_server=setup.gpus,
            server_price_usd=(setup.gpus * price[0] + chassis) * finance.hardware_price_multiple,
            server_power_kw=setup.gpus
            * gpu_power_w(gpu, ctx)
            / 1000
            * (1 + finance.server_non_gpu_power_fraction_of_gpu),
            busy_fraction=min(1.0, busy),
        )
        site = site_of(option)
        cost = _cost_owned(fleet, finance, site, name=f"finetune-{setup.job.name}")
        return with_facility(cost, fleet.rated_kw, ctx.capacity, site)
    rented = cloud_price(gpu, DeploymentOption.CLOUD_ON_DEMAND, ctx)
    if isinstance(rented, str):
        return rented
    hours = min(setup.hours_per_run * setup.job.runs_per_month(), finance.hours_per_month)
    rental = CloudRental(setup.gpus, rented[0] * finance.cloud_price_multiple, hours)
    return cost_cloud(rental, finance, name=f"finetune-{setup.job.name}")


def best_setup(
    catalog: Catalog,
    job: FineTuneWorkload,
    model: ModelSpec,
    gpus: tuple[GpuSpec, ...],
    ctx: PriceContext,
) -> TrainingSetup | str:
    """The setup with the fewest GPU-hours x on-demand price (or GPU-hours) among ``gpus``."""
    best: tuple[float, TrainingSetup] | None = None
    reasons = []
    for gpu in gpus:
        setup = setup_on(catalog, job, model, gpu)
        if isinstance(setup, str):
            reasons.append(setup)
            continue
        price = cloud_price(gpu, DeploymentOption.CLOUD_ON_DEMAND, ctx)
        rate = price[0] if not isinstance(price, str) else 10.0
        score = setup.gpus * setup.hours_per_run * rate
        if best is None or score < best[0]:
            best = (score, setup)
    if best is None:
        return reasons[-1] if reasons else "no candidate GPU"
    return best[1]
