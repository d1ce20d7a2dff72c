"""``llmplan memory``, ``llmplan perf`` and ``llmplan example``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmplan.application.compute import (
    LoadOptions,
    load_of,
    perf_result_payload,
    resolve_tp,
    serving_memory_payload,
)
from llmplan.cli.common import (
    CalibrationOpt,
    calibration_label,
    catalog,
    console,
    gib,
    handle_errors,
    key_value_table,
    number,
    print_json,
)
from llmplan.cli.serving_options import (
    DisaggregateOpt,
    KvTransferLayerwiseOpt,
    PoolDpAttentionOpt,
    PoolEpOpt,
    PoolTpOpt,
    PrefixHitOpt,
    SpecAcceptanceOpt,
    SpecDraftModelOpt,
    SpecMethodOpt,
    SpecTokensOpt,
    disaggregation_of,
    disaggregation_rows,
    feature_rows,
    load_with_features,
    pool_label,
)
from llmplan.deployment import Deployment, check_context_window
from llmplan.domain.finetune import FinetuneMethod
from llmplan.errors import InputError
from llmplan.sizing.finetune import estimate_finetune_memory
from llmplan.sizing.memory import MemoryEstimate, estimate_memory

if TYPE_CHECKING:  # perf and example import the performance model (`memory` needs none)
    from llmplan.perf.disagg import Disaggregation
    from llmplan.perf.load import Load, PerfResult

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Model id or alias (`llmplan models list`).")
]
GpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="GPU id or alias (`llmplan gpus list`).")]
NumGpusOpt = Annotated[int | None, typer.Option(help="GPUs per replica (default tp x pp).")]
TpOpt = Annotated[int | None, typer.Option(help="Tensor-parallel degree (default: all GPUs).")]
PpOpt = Annotated[int, typer.Option(help="Pipeline-parallel degree.")]
EpOpt = Annotated[
    int,
    typer.Option(
        "--ep",
        help="Expert-parallel degree (MoE): routed experts spread over ep groups of the tp "
        "GPUs; must divide tp and the expert count.",
    ),
]
DpAttentionOpt = Annotated[
    bool,
    typer.Option(
        "--dp-attention",
        help="Attention data-parallel over the tp GPUs (MoE): whole attention weights and "
        "own sequences' KV per GPU.",
    ),
]
EpImbalanceOpt = Annotated[
    float | None,
    typer.Option(
        "--ep-load-imbalance",
        help="Busiest expert-parallel GPU's tokens over the mean (1-8; default from "
        "data/expert-parallel.yaml).",
    ),
]
PrecisionOpt = Annotated[
    str, typer.Option(help="Weight format: bf16, fp8, int4-awq, q4_k_m, nvfp4, ...")
]
KvOpt = Annotated[str | None, typer.Option(help="KV-cache format: fp16, fp8, int8, q8_0, ...")]
EngineOpt = Annotated[
    str, typer.Option(help="Engine profile: vllm, sglang, trtllm, llama.cpp, ...")
]
InputOpt = Annotated[int, typer.Option(help="Prompt tokens per request.")]
OutputOpt = Annotated[int, typer.Option(help="Generated tokens per request.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@dataclass(frozen=True)
class Example:
    """The bundled example deployment and load."""

    model: str = "meta-llama/Llama-3.1-70B-Instruct"
    gpu: str = "H100-SXM-80GB"
    tp: int = 2
    precision: str = "fp8"
    engine: str = "vllm"
    input_tokens: int = 1024
    output_tokens: int = 256
    batch: int = 32


def build_deployment(
    model: str,
    gpu: str,
    num_gpus: int | None,
    tp: int | None,
    pp: int,
    precision: str,
    kv_precision: str | None,
    engine: str,
    calibration: Path | None = None,
    *,
    ep: int = 1,
    dp_attention: bool = False,
    ep_load_imbalance: float | None = None,
) -> Deployment:
    """Resolve names and parallelism into a Deployment; num_gpus must equal tp x pp.
    ``calibration``: a calibration profile whose engines replace the bundled ones;
    ``ep``, ``dp_attention``, ``ep_load_imbalance``: the expert-parallel layout."""
    tp = resolve_tp(num_gpus, tp, pp)
    return Deployment.from_names(
        catalog(calibration),
        model=model,
        gpu=gpu,
        precision=precision,
        kv_precision=kv_precision,
        engine=engine,
        tp=tp,
        pp=pp,
        ep=ep,
        dp_attention=dp_attention,
        ep_load_imbalance=ep_load_imbalance,
    )


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InputError(f"must be > 0, got {value}", field=name)


def memory_rows(estimate: MemoryEstimate) -> list[tuple[str, str]]:
    return [
        ("weights", gib(estimate.weights_bytes)),
        ("KV cache per token", f"{estimate.kv_bytes_per_token / 2**10:,.1f} KiB"),
        (
            f"KV cache ({estimate.batch} x {estimate.context_tokens} tokens)",
            gib(estimate.kv_cache_bytes),
        ),
        ("activations", gib(estimate.activation_bytes)),
        ("runtime overhead", gib(estimate.overhead_bytes)),
        ("total", gib(estimate.total_bytes)),
        (f"per GPU ({estimate.num_gpus} GPUs)", gib(estimate.per_gpu_bytes)),
        ("GPU memory", gib(estimate.gpu_memory_bytes)),
        ("fits", "yes" if estimate.fits else "NO"),
        ("max concurrent sequences at this context", f"{estimate.max_concurrent_sequences:,}"),
    ]


@handle_errors
def memory_command(
    model: ModelOpt,
    gpu: Annotated[
        str | None, typer.Option("--gpu", "-g", help="GPU id; omit for totals only.")
    ] = None,
    num_gpus: NumGpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = 1,
    ep: EpOpt = 1,
    dp_attention: DpAttentionOpt = False,
    ep_load_imbalance: EpImbalanceOpt = None,
    precision: PrecisionOpt = "bf16",
    kv_precision: KvOpt = None,
    engine: EngineOpt = "vllm",
    context: Annotated[int, typer.Option(help="Tokens per sequence (prompt + output).")] = 4096,
    batch: Annotated[int, typer.Option(help="Concurrent sequences.")] = 1,
    finetune: Annotated[
        FinetuneMethod | None, typer.Option(help="Size fine-tuning instead of serving.")
    ] = None,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank (finetune lora/qlora).")] = 16,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Recompute activations (finetune).")
    ] = True,
    calibration: CalibrationOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """VRAM for weights, KV cache, activations and overhead; whether it fits the GPUs."""
    _positive("context", context)
    _positive("batch", batch)
    deployment = build_deployment(
        model,
        gpu or "H100-SXM-80GB",
        num_gpus,
        tp,
        pp,
        precision,
        kv_precision,
        engine,
        calibration,
        ep=ep,
        dp_attention=dp_attention,
        ep_load_imbalance=ep_load_imbalance,
    )
    if finetune is not None:
        ft = estimate_finetune_memory(
            deployment,
            finetune,
            sequence_tokens=context,
            micro_batch=batch,
            lora_rank=lora_rank,
            gradient_checkpointing=gradient_checkpointing,
        )
        ft_payload: dict[str, Any] = ft.as_dict()
        if gpu is None:
            ft_payload |= {"per_gpu_bytes": None, "fits": None}
        if json_out:
            print_json(ft_payload)
        else:
            console.print(
                key_value_table(
                    f"Fine-tuning memory: {deployment.model.id} ({finetune.value})",
                    [
                        (k, gib(v) if k.endswith("_bytes") and isinstance(v, float) else str(v))
                        for k, v in ft_payload.items()
                    ],
                )
            )
        return
    check_context_window(deployment, context, "context")
    estimate = estimate_memory(deployment, context_tokens=context, batch=batch)
    if json_out:
        print_json(serving_memory_payload(estimate, deployment, gpu_given=gpu is not None))
        return
    rows = memory_rows(estimate) if gpu else memory_rows(estimate)[:6]
    console.print(
        key_value_table(f"Memory: {deployment.model.id} in {deployment.weights.id}", rows)
    )


def _with_interval(
    text: str, intervals: dict[str, tuple[float, float]] | None, name: str, digits: int
) -> str:
    """``text`` followed by its 80 % interval, e.g. '120.0 ms (80 %: 95.0-160.0)'."""
    if not intervals or name not in intervals:
        return text
    low, high = intervals[name]
    return f"{text} (80 %: {number(low, digits)}-{number(high, digits)})"


def perf_rows(
    result: PerfResult, intervals: dict[str, tuple[float, float]] | None = None
) -> list[tuple[str, str]]:
    """Rows of the perf table; ``intervals`` (field -> (low, high)) adds 80 % intervals."""
    return [
        (
            "time to first token",
            _with_interval(f"{number(result.ttft_ms)} ms", intervals, "ttft_ms", 1),
        ),
        (
            "time per output token",
            _with_interval(f"{number(result.tpot_ms, 2)} ms", intervals, "tpot_ms", 2),
        ),
        (
            "end-to-end latency",
            _with_interval(f"{number(result.e2e_latency_ms)} ms", intervals, "e2e_latency_ms", 1),
        ),
        (
            "output tokens/s",
            _with_interval(number(result.output_tokens_per_s), intervals, "output_tokens_per_s", 1),
        ),
        ("total tokens/s", number(result.total_tokens_per_s)),
        ("requests/s", number(result.requests_per_s, 3)),
        ("running batch", number(result.batch)),
        ("max batch (KV cache / engine limit)", f"{result.max_batch:,}"),
        ("queue wait", f"{number(result.queue_wait_ms)} ms"),
        ("bound", result.bound),
    ]


def _load_from_options(
    input_tokens: int,
    output_tokens: int,
    batch: int | None,
    offline: bool,
    request_rate: float | None,
    concurrency: int | None,
    requests: int | None = None,
) -> Load:
    _positive("input_tokens", input_tokens)
    _positive("output_tokens", output_tokens)
    if requests is not None and not offline:
        _positive("requests", requests)
    options = LoadOptions(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        batch=batch,
        offline=offline,
        request_rate=request_rate,
        concurrency=concurrency,
        requests=requests,
    )
    return load_of(options, flag=lambda name: "--" + name.replace("_", "-"))


@handle_errors
def perf_command(
    model: ModelOpt,
    gpu: GpuOpt,
    num_gpus: NumGpusOpt = None,
    tp: TpOpt = None,
    pp: PpOpt = 1,
    ep: EpOpt = 1,
    dp_attention: DpAttentionOpt = False,
    ep_load_imbalance: EpImbalanceOpt = None,
    precision: PrecisionOpt = "bf16",
    kv_precision: KvOpt = None,
    engine: EngineOpt = "vllm",
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    batch: Annotated[
        int | None, typer.Option(help="Steady concurrent sequences (static batch).")
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Maximum throughput: the largest batch that fits.")
    ] = False,
    request_rate: Annotated[
        float | None, typer.Option(help="Poisson arrivals, requests/s ('inf': all at once).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Closed-loop clients.")] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            help="Requests in the run with --request-rate (needed with 'inf'; default "
            "1000 when arrivals outpace the replica)."
        ),
    ] = None,
    prefix_hit: PrefixHitOpt = 0.0,
    spec_method: SpecMethodOpt = None,
    spec_tokens: SpecTokensOpt = None,
    spec_acceptance: SpecAcceptanceOpt = None,
    spec_draft_model: SpecDraftModelOpt = None,
    disaggregate: DisaggregateOpt = None,
    kv_transfer_layerwise: KvTransferLayerwiseOpt = False,
    prefill_tp: PoolTpOpt = None,
    prefill_ep: PoolEpOpt = None,
    prefill_dp_attention: PoolDpAttentionOpt = None,
    decode_tp: PoolTpOpt = None,
    decode_ep: PoolEpOpt = None,
    decode_dp_attention: PoolDpAttentionOpt = None,
    calibration: CalibrationOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Predict TTFT, TPOT, latency and throughput from first principles (roofline)."""
    from llmplan.perf.intervals import perf_intervals
    from llmplan.perf.serving import predict

    split = disaggregation_of(
        disaggregate, kv_transfer_layerwise, (prefill_tp, prefill_ep, prefill_dp_attention),
        (decode_tp, decode_ep, decode_dp_attention),
    )  # fmt: skip
    deployment = build_deployment(
        model,
        gpu,
        num_gpus,
        tp,
        pp,
        precision,
        kv_precision,
        engine,
        calibration,
        ep=ep,
        dp_attention=dp_attention,
        ep_load_imbalance=ep_load_imbalance,
    )
    load = _load_from_options(
        input_tokens, output_tokens, batch, offline, request_rate, concurrency, requests
    )
    spec_options = (spec_method, spec_tokens, spec_acceptance, spec_draft_model)
    load = load_with_features(load, deployment, catalog(calibration), prefix_hit, spec_options)
    check_context_window(deployment, input_tokens + output_tokens, "input_tokens")
    if split is not None:
        _perf_disaggregated(deployment, load, split, json_out, calibration)
        return
    result = predict(deployment, load)
    if json_out:
        print_json(perf_result_payload(deployment, load, result, calibration_label(calibration)))
        return
    intervals = perf_intervals(deployment, load, result)
    title = (
        f"Performance: {deployment.model.id} ({deployment.weights.id}) on {deployment.num_gpus} x "
        f"{deployment.gpu.id}, tp={deployment.tp} pp={deployment.pp}{_layout_label(deployment)}, "
        f"{deployment.engine.name}, "
        f"{load.kind.value} load, {input_tokens} in / {output_tokens} out"
    )
    table = key_value_table(title, perf_rows(result, intervals) + feature_rows(load))
    table.caption = "80 %: where 8 in 10 measurements of comparable setups fell (held out)"
    console.print(table)


def _layout_label(deployment: Deployment) -> str:
    """`` ep=N dp-attention`` when the expert-parallel layout is set, else empty."""
    label = f" ep={deployment.ep}" if deployment.ep > 1 else ""
    return label + (" dp-attention" if deployment.dp_attention else "")


def _perf_disaggregated(
    deployment: Deployment,
    load: Load,
    split: Disaggregation,
    json_out: bool,
    calibration: Path | None,
) -> None:
    """``llmplan perf --disaggregate P:D``: the whole design's figures (no intervals:
    the held-out intervals were measured on aggregated replicas)."""
    from llmplan.perf.disagg_serving import predict_disaggregated

    result = predict_disaggregated(deployment, split, load)
    if json_out:
        print_json(
            result.as_dict()
            | deployment.identity()
            | load.serving_features()
            | {"intervals": None, "calibration": calibration_label(calibration)}
        )
        return
    title = (
        f"Performance: {deployment.model.id} ({deployment.weights.id}), {split.prefill_gpus} "
        f"prefill ({pool_label(result, 'prefill')}) + {split.decode_gpus} decode "
        f"({pool_label(result, 'decode')}) x {deployment.gpu.id}, {deployment.engine.name}, "
        f"{load.kind.value} load, "
        f"{load.input_tokens:.0f} in / {load.output_tokens:.0f} out"
    )
    rows = perf_rows(result.perf) + disaggregation_rows(result) + feature_rows(load)
    console.print(key_value_table(title, rows))


@handle_errors
def example_command(json_out: JsonOpt = False) -> None:
    """Run memory and performance for the bundled example (Llama-3.1-70B, FP8, 2 x H100)."""
    from llmplan.perf.load import Load, LoadKind
    from llmplan.perf.serving import predict

    e = Example()
    deployment = build_deployment(e.model, e.gpu, None, e.tp, 1, e.precision, None, e.engine)
    load = Load(LoadKind.BATCH, e.input_tokens, e.output_tokens, batch=e.batch)
    context = e.input_tokens + e.output_tokens
    estimate = estimate_memory(deployment, context_tokens=context, batch=e.batch)
    result = predict(deployment, load)
    if json_out:
        print_json({"example": asdict(e), "memory": estimate.as_dict(), "perf": result.as_dict()})
        return
    console.print(
        f"[bold]Example:[/] {e.model} in {e.precision} on {e.tp} x {e.gpu} with "
        f"{e.engine}, {e.batch} concurrent requests of {e.input_tokens} + "
        f"{e.output_tokens} tokens"
    )
    console.print(key_value_table("Memory", memory_rows(estimate)))
    console.print(key_value_table("Performance", perf_rows(result)))
