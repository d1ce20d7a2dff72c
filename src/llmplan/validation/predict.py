"""Predicting one published measurement: the row's setup, its load, and its metric.

What a row does not print is filled with stated assumptions, the same for every row:
- lengths given by a dataset rather than a number use ShareGPT's mean lengths;
- an empty ``tp`` means tensor parallelism over all GPUs (a layer split for engines that
  split layers); an empty ``kv_precision`` means the engine's default for the weight
  format (TensorRT-LLM's FP8/NVFP4 ModelOpt checkpoints declare an FP8 KV cache), unless
  the notes state the KV type;
- an unknown engine uses the ``generic`` profile;
- a row whose source says its GPUs talked over PCIe, not NVLink, is predicted so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from llmplan.catalog.loader import Catalog, normalise_name
from llmplan.catalog.schema import InterconnectKind
from llmplan.deployment import Deployment, pcie_only
from llmplan.errors import LlmplanError
from llmplan.perf.serving import Load, LoadKind, PerfResult, predict
from llmplan.validation.dataset import Measurement, leading_number

SHAREGPT_MEAN_INPUT_TOKENS = 230.0
SHAREGPT_MEAN_OUTPUT_TOKENS = 180.0
GPUS_PER_NODE = 8

Extractor = Callable[[PerfResult, Measurement, Load], float]


class Skip(Exception):
    """A row that cannot be predicted, with the reason."""


@dataclass(frozen=True)
class MetricSpec:
    family: str
    extract: Extractor


def _per_gpu(value: float, result: PerfResult) -> float:
    return value / result.num_gpus


def _tokens_per_s_at_batch_one(result: PerfResult, row: Measurement, load: Load) -> float:
    return 1e3 / result.tpot_ms


def _prompt_tokens_per_s(result: PerfResult, row: Measurement, load: Load) -> float:
    return result.prefill_tokens_per_s


def _e2e(result: PerfResult, row: Measurement, load: Load) -> float:
    """Batch rows print the makespan of the batch; other modes the mean request latency."""
    return result.makespan_ms if load.kind is LoadKind.BATCH else result.e2e_latency_ms


METRICS: dict[str, MetricSpec] = {
    "output_tokens_per_s": MetricSpec("throughput", lambda r, m, lo: r.output_tokens_per_s),
    "output_tokens_per_s_per_gpu": MetricSpec(
        "throughput", lambda r, m, lo: _per_gpu(r.output_tokens_per_s, r)
    ),
    "output_tokens_per_s_per_node": MetricSpec(
        "throughput", lambda r, m, lo: r.output_tokens_per_s * GPUS_PER_NODE / r.num_gpus
    ),
    "output_tokens_per_s_per_user": MetricSpec("throughput", _tokens_per_s_at_batch_one),
    "total_tokens_per_s": MetricSpec("throughput", lambda r, m, lo: r.total_tokens_per_s),
    "requests_per_s": MetricSpec("throughput", lambda r, m, lo: r.requests_per_s),
    "gen_tokens_per_s": MetricSpec("throughput", _tokens_per_s_at_batch_one),
    "prompt_tokens_per_s": MetricSpec(
        "throughput", lambda r, m, lo: r.requests_per_s * lo.input_tokens
    ),
    "ttft_ms": MetricSpec("ttft", lambda r, m, lo: r.ttft_ms),
    "ttft_ms_mean": MetricSpec("ttft", lambda r, m, lo: r.ttft_ms),
    "ttft_ms_median": MetricSpec("ttft", lambda r, m, lo: r.ttft_ms),
    "tpot_ms_mean": MetricSpec("tpot", lambda r, m, lo: r.tpot_ms),
    "itl_ms": MetricSpec("tpot", lambda r, m, lo: r.tpot_ms),
    "itl_ms_median": MetricSpec("tpot", lambda r, m, lo: r.tpot_ms),
    "token_latency_ms_p50": MetricSpec("tpot", lambda r, m, lo: r.tpot_ms),
    "e2e_latency_ms": MetricSpec("e2e", _e2e),
    "e2e_latency_ms_mean": MetricSpec("e2e", _e2e),
}
_DATASET = re.compile(r"sharegpt|dataset|variable", re.IGNORECASE)
_GEN_TG = re.compile(r"^gen_tokens_per_s_tg(\d+)$")
_PROMPT_PP = re.compile(r"^prompt_tokens_per_s_pp(\d+)$")


def metric_spec(metric: str) -> MetricSpec:
    """How to read ``metric`` off a prediction; raises Skip for unsupported metrics."""
    if metric in METRICS:
        return METRICS[metric]
    if _GEN_TG.match(metric):
        return MetricSpec("throughput", _tokens_per_s_at_batch_one)
    if _PROMPT_PP.match(metric):
        return MetricSpec("throughput", _prompt_tokens_per_s)
    raise Skip(
        f"metric '{metric}' is not predicted (percentiles beyond the median need `simulate`)"
    )


def _lengths(row: Measurement) -> tuple[float, float]:
    tg = _GEN_TG.match(row.metric)
    pp = _PROMPT_PP.match(row.metric)
    if tg:  # llama-bench tgN: N tokens generated from an empty context
        return 1.0, float(tg.group(1))
    if pp:  # llama-bench ppN: one N-token prompt
        return float(pp.group(1)), 1.0
    inp = leading_number(row.input_len)
    out = leading_number(row.output_len)
    inp = SHAREGPT_MEAN_INPUT_TOKENS if inp is None else inp
    out = SHAREGPT_MEAN_OUTPUT_TOKENS if out is None else out
    return max(inp, 1.0), max(out, 1.0)


def _integer(text: str, name: str) -> int | None:
    if not text:
        return None
    number = leading_number(text)
    if number is None or not re.fullmatch(r"\s*~?\d+(\.\d+)?\s*(\(.*\))?\s*", text):
        raise Skip(f"{name} '{text}' is not a number")
    return int(number)


def _parallelism(row: Measurement, split: str) -> tuple[int, int]:
    gpus = _integer(row.num_gpus, "num_gpus") or 1
    tp = _integer(row.tp, "tp")
    pp = _integer(row.pp, "pp")
    if tp is None and pp is None:
        return (1, gpus) if split == "layer" else (gpus, 1)
    tp = tp or max(1, gpus // (pp or 1))
    pp = pp or max(1, gpus // tp)
    if tp * pp != gpus:
        raise Skip(f"tp={tp} x pp={pp} does not match num_gpus={gpus}")
    return tp, pp


def _kv_format(row: Measurement, catalog: Catalog, engine_id: str) -> str:
    if row.kv_precision:
        return row.kv_precision
    notes = row.notes.lower()
    if re.search(r"(bf16|fp16|bf16/fp16) kv", notes):
        return "fp16"
    if "fp8 kv" in notes:
        return "fp8"
    engine = catalog.engine(engine_id)
    weights = catalog.weight_format(row.precision)
    return (
        engine.quantized_kv_format if weights.quantized and engine.quantized_kv_format else "fp16"
    )


def _fixed_lengths(row: Measurement) -> bool:
    """False when a dataset, not a number, sets the lengths (ShareGPT, 'variable')."""
    return all(
        leading_number(cell) is not None and not _DATASET.search(cell)
        for cell in (row.input_len, row.output_len)
    )


def _load(row: Measurement) -> Load:
    inp, out = _lengths(row)
    mode = row.mode
    fixed = _fixed_lengths(row)
    if (
        _GEN_TG.match(row.metric)
        or _PROMPT_PP.match(row.metric)
        or row.metric == "gen_tokens_per_s"
    ):
        return Load(LoadKind.BATCH, inp, out, batch=1)
    if mode in ("batch", "concurrency"):
        batch = _integer(row.batch, "batch")
        if batch is None:
            raise Skip(f"mode {mode} without a batch size")
        return Load(LoadKind(mode), inp, out, batch=batch, fixed_lengths=fixed)
    if mode == "offline":
        return Load(LoadKind.OFFLINE, inp, out)
    if mode in ("rate", "server"):
        rate = leading_number(row.request_rate)
        if not rate:
            raise Skip(f"mode {mode} without a request rate")
        return Load(LoadKind.RATE, inp, out, request_rate=rate, fixed_lengths=fixed)
    raise Skip(f"mode '{mode}' is not one of batch, offline, concurrency, rate, server")


def engine_for(row: Measurement, catalog: Catalog) -> str:
    """Id of the engine profile a row uses (``generic`` for engines without a profile)."""
    if normalise_name(row.engine) in _engine_ids(catalog):
        return catalog.engine(row.engine).id
    return "generic"


def setup_for(row: Measurement, catalog: Catalog) -> tuple[Deployment, Load]:
    """The deployment and load a row describes; raises Skip with the reason."""
    spec_engine = engine_for(row, catalog)
    engine = catalog.engine(spec_engine)
    tp, pp = _parallelism(row, engine.multi_gpu_split)
    try:
        deployment = Deployment.from_names(
            catalog,
            model=row.model,
            gpu=row.gpu,
            precision=row.precision,
            kv_precision=_kv_format(row, catalog, spec_engine),
            engine=spec_engine,
            tp=tp,
            pp=pp,
        )
    except LlmplanError as exc:
        raise Skip(str(exc)) from None
    if _declared_pcie_only(row) and deployment.gpu.interconnect is not InterconnectKind.PCIE:
        deployment = over_pcie(deployment, catalog)
    return deployment, _load(row)


def _declared_pcie_only(row: Measurement) -> bool:
    text = f"{row.source} {row.notes}".lower()
    return "not nvlink" in text or "no nvlink" in text


def over_pcie(deployment: Deployment, catalog: Catalog) -> Deployment:
    """The same deployment with its GPUs talking over PCIe only (no NVLink)."""
    gpu = pcie_only(deployment.gpu)
    return replace(deployment, gpu=gpu, interconnect=catalog.interconnect(InterconnectKind.PCIE))


def _engine_ids(catalog: Catalog) -> set[str]:
    names: set[str] = set()
    for engine in catalog.engines:
        names.add(normalise_name(engine.id))
        names.update(normalise_name(a) for a in engine.aliases)
    return names


def predict_row(row: Measurement, catalog: Catalog) -> tuple[float, str]:
    """(predicted value, metric family) for ``row``; raises Skip with the reason."""
    spec = metric_spec(row.metric)
    deployment, load = setup_for(row, catalog)
    try:
        result = predict(deployment, load)
    except LlmplanError as exc:
        raise Skip(str(exc)) from None
    return spec.extract(result, row, load), spec.family
