"""Memory, performance and validation: the arithmetic and payloads the command line, the
REST API and the Python API share.

Each ``*_payload`` function takes typed options (:mod:`llmplan.application.options`) and a
catalog and returns what ``llmplan memory|perf|validate --json`` prints for the same
options; errors are the core's :class:`~llmplan.errors.InputError` with the field named
as the option is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmplan.application.serialize import clean, jsonable
from llmplan.catalog.calibration_file import CalibrationProfile
from llmplan.catalog.loader import Catalog
from llmplan.deployment import Deployment, check_context_window
from llmplan.errors import InputError
from llmplan.sizing.finetune import estimate_finetune_memory
from llmplan.sizing.memory import MemoryEstimate, estimate_memory

if TYPE_CHECKING:  # the options' module imports the simulator; validation imports numpy;
    # the functions that run the performance model import it (`llmplan memory` needs none
    # of it: issue 14, start-up)
    from llmplan.application.options import (
        DeploymentInput,
        MemoryRequest,
        PerfRequest,
        ServingFeaturesInput,
        SimulateRequest,
        ValidateRequest,
    )
    from llmplan.perf.disagg import Disaggregation
    from llmplan.perf.features import Features
    from llmplan.perf.load import Load, PerfResult
    from llmplan.validation.dataset import Measurement

__all__ = ["clean", "jsonable"]  # the one serializer, re-exported for the edges

#: The GPU ``llmplan memory`` sizes against when none is given (totals only).
DEFAULT_MEMORY_GPU = "H100-SXM-80GB"
#: Keys of a memory estimate that need a GPU (dropped when none is given).
GPU_KEYS = ("per_gpu_bytes", "gpu_memory_bytes", "fits", "max_concurrent_sequences")


def calibrated(catalog: Catalog, profile: CalibrationProfile | None) -> Catalog:
    """``catalog`` with the profile's engines, if a profile is given."""
    return catalog if profile is None else profile.apply(catalog)


def calibration_label(profile: CalibrationProfile | None, path: Path | None = None) -> str:
    """Which engine profiles were used, as the payloads say it (with the file, if read
    from one)."""
    if profile is None:
        return "bundled engine profiles"
    where = f"{path}, " if path is not None else ""
    return f"{profile.name} ({where}{profile.rows} rows of {profile.source})"


def resolve_tp(num_gpus: int | None, tp: int | None, pp: int) -> int:
    """The tensor-parallel degree: ``tp``, else all of ``num_gpus`` over ``pp`` stages;
    ``num_gpus`` (if given) must equal tp x pp."""
    for name, value in (("num_gpus", num_gpus), ("tp", tp), ("pp", pp)):
        if value is not None and value < 1:
            raise InputError(f"must be >= 1, got {value}", field=name)
    if tp is None:
        tp = max(1, (num_gpus or pp) // pp)
    if num_gpus is not None and num_gpus != tp * pp:
        raise InputError(f"num_gpus={num_gpus} must equal tp x pp = {tp * pp}", field="num_gpus")
    return tp


def deployment_of(request: DeploymentInput, gpu: str, catalog: Catalog) -> Deployment:
    """The replica the request describes; ``num_gpus`` must equal tp x pp."""
    tp = resolve_tp(request.num_gpus, request.tp, request.pp)
    return Deployment.from_names(
        calibrated(catalog, request.calibration),
        model=request.model,
        gpu=gpu,
        precision=request.precision,
        kv_precision=request.kv_precision,
        engine=request.engine,
        tp=tp,
        pp=request.pp,
        ep=request.ep,
        dp_attention=request.dp_attention,
        ep_load_imbalance=request.ep_load_imbalance,
    )


def memory_payload(request: MemoryRequest, catalog: Catalog) -> dict[str, Any]:
    """What ``llmplan memory --json`` prints for these options."""
    deployment = deployment_of(request, request.gpu or DEFAULT_MEMORY_GPU, catalog)
    if request.finetune is not None:
        estimate = estimate_finetune_memory(
            deployment,
            request.finetune,
            sequence_tokens=request.context,
            micro_batch=request.batch,
            lora_rank=request.lora_rank,
            gradient_checkpointing=request.gradient_checkpointing,
        )
        finetune: dict[str, Any] = {**estimate.as_dict()}
        if request.gpu is None:
            finetune |= {"per_gpu_bytes": None, "fits": None}
        return clean(finetune)
    check_context_window(deployment, request.context, "context")
    serving = estimate_memory(deployment, context_tokens=request.context, batch=request.batch)
    return clean(serving_memory_payload(serving, deployment, gpu_given=request.gpu is not None))


def serving_memory_payload(
    estimate: MemoryEstimate, deployment: Deployment, *, gpu_given: bool
) -> dict[str, Any]:
    """The estimate with the deployment's names; without a GPU, totals only."""
    payload: dict[str, Any] = {**estimate.as_dict()}
    if not gpu_given:
        for key in GPU_KEYS:
            payload.pop(key)
    return payload | {
        "model": deployment.model.id,
        "gpu": deployment.gpu.id if gpu_given else None,
        "precision": deployment.weights.id,
        "kv_precision": deployment.kv.id,
        "ep": deployment.ep,
        "dp_attention": deployment.dp_attention,
    }


@dataclass(frozen=True)
class LoadOptions:
    """The load options of ``perf`` alone (what :func:`load_of` reads)."""

    input_tokens: int
    output_tokens: int
    batch: int | None = None
    offline: bool = False
    request_rate: float | None = None
    concurrency: int | None = None
    requests: int | None = None


def load_of(request: PerfRequest | LoadOptions, flag: Callable[[str], str] = str) -> Load:
    """The load the request describes (at most one of its four kinds; none: a batch of 1).
    ``flag`` names an option in messages (``--request-rate`` on the command line)."""
    from llmplan.perf.load import Load, LoadKind

    given = [
        flag(name)
        for name, value in (
            ("batch", request.batch),
            ("offline", request.offline or None),
            ("request_rate", request.request_rate),
            ("concurrency", request.concurrency),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InputError(f"give only one of {', '.join(given)}", field="load")
    tokens = (request.input_tokens, request.output_tokens)
    if request.offline:
        return Load(LoadKind.OFFLINE, *tokens)
    if request.requests is not None and request.request_rate is None:
        raise InputError(
            f"only with {flag('request_rate')} (a finite run of arrivals)", field="requests"
        )
    if request.request_rate is not None:
        rate = request.request_rate
        return Load(LoadKind.RATE, *tokens, request_rate=rate, num_requests=request.requests)
    if request.concurrency is not None:
        return Load(LoadKind.CONCURRENCY, *tokens, batch=request.concurrency)
    return Load(LoadKind.BATCH, *tokens, batch=1 if request.batch is None else request.batch)


def features_of_request(
    request: ServingFeaturesInput, deployment: Deployment, catalog: Catalog
) -> Features:
    """The request's prefix-cache share and speculative decoding."""
    from llmplan.perf.features import Features
    from llmplan.perf.speculative import speculation_of

    draft = None
    if request.spec_draft_model is not None:
        draft = catalog.models.get(request.spec_draft_model, field_name="spec_draft_model")
    spec = speculation_of(
        request.spec_method,
        request.spec_tokens,
        request.spec_acceptance,
        draft,
        target=deployment.model,
        candidates=catalog.models,
    )
    return Features(prefix_hit=request.prefix_hit, spec=spec)


def _with_features(
    load: Load, request: PerfRequest, deployment: Deployment, catalog: Catalog
) -> Load:
    """``load`` with the request's prefix-cache share and speculative decoding."""
    features = features_of_request(request, deployment, catalog)
    return replace(load, prefix_hit=features.prefix_hit, speculative=features.spec)


def disaggregation_of(request: PerfRequest | SimulateRequest) -> Disaggregation | None:
    """The request's ``disaggregate`` split ("P:D") with each pool's own layout, or None."""
    from llmplan.perf.disagg import split_of
    from llmplan.perf.disagg_layout import PoolLayout

    return split_of(
        request.disaggregate,
        kv_transfer_layerwise=request.kv_transfer_layerwise,
        prefill_layout=PoolLayout(
            request.prefill_tp, request.prefill_ep, request.prefill_dp_attention
        ),
        decode_layout=PoolLayout(request.decode_tp, request.decode_ep, request.decode_dp_attention),
    )


def perf_payload(request: PerfRequest, catalog: Catalog) -> dict[str, Any]:
    """What ``llmplan perf --json`` prints for these options."""
    from llmplan.perf.disagg_serving import predict_disaggregated
    from llmplan.perf.serving import predict

    deployment = deployment_of(request, request.gpu, catalog)
    load = _with_features(load_of(request), request, deployment, catalog)
    tokens = request.input_tokens + request.output_tokens
    check_context_window(deployment, tokens, "input_tokens")
    split = disaggregation_of(request)
    if split is not None:
        design = predict_disaggregated(deployment, split, load)
        return clean(
            design.as_dict()
            | deployment.identity()
            | load.serving_features()
            | {"intervals": None, "calibration": calibration_label(request.calibration)}
        )
    result = predict(deployment, load)
    label = calibration_label(request.calibration)
    return clean(perf_result_payload(deployment, load, result, label))


def perf_result_payload(
    deployment: Deployment, load: Load, result: PerfResult, calibration: str
) -> dict[str, Any]:
    """A prediction with the deployment, the load's serving features, the 80 % intervals
    and the calibration used."""
    from llmplan.perf.intervals import perf_intervals

    return (
        result.as_dict()
        | deployment.identity()
        | load.serving_features()
        | {"intervals": perf_intervals(deployment, load, result), "calibration": calibration}
    )


def measurements_of(request: ValidateRequest, max_rows: int) -> list[Measurement]:
    """The rows to validate: the request's CSV or the bundled development set."""
    from llmplan.validation.dataset import (
        bundled_measurements_path,
        parse_measurements,
        read_measurements,
    )

    if request.csv is None:
        return read_measurements(bundled_measurements_path())
    rows = parse_measurements(request.csv.removeprefix("\ufeff"), "csv")  # a byte-order mark
    if len(rows) > max_rows:
        raise InputError(
            f"{len(rows):,} rows; at most {max_rows:,} per request (split the file)", field="csv"
        )
    if not rows:
        raise InputError("no measurement rows after the header", field="csv")
    return rows


def validation_result(request: ValidateRequest, catalog: Catalog, max_rows: int) -> dict[str, Any]:
    """What ``llmplan validate --json`` prints, plus the breakdown by ``request.by``."""
    from llmplan.application.validation import validation_payload
    from llmplan.validation.dataset import Measurement
    from llmplan.validation.summary import validate

    columns = list(Measurement.__dataclass_fields__)
    if request.by not in columns:
        raise InputError(
            f"unknown column '{request.by}'; allowed: {', '.join(columns)}", field="by"
        )
    rows = measurements_of(request, max_rows)
    report = validate(rows, calibrated(catalog, request.calibration))
    payload = validation_payload(report)
    payload["calibration"] = calibration_label(request.calibration)
    if not request.include_rows:
        payload.pop("rows")
    payload["breakdown"] = {
        "by": request.by,
        "groups": {k: v.as_dict() for k, v in report.breakdown(request.by).items()},
    }
    return clean(payload)
