"""Predicting one published measurement: the row's setup, its load, and its metric.

What a row does not print is filled with stated assumptions, the same for every row:
- lengths given by a dataset rather than a number use ShareGPT's mean lengths;
- an empty ``tp`` means tensor parallelism over all GPUs (a layer split for engines that
  split layers); an empty ``kv_precision`` means the engine's default for the weight
  format (TensorRT-LLM's FP8/NVFP4 ModelOpt checkpoints declare an FP8 KV cache), unless
  the notes state the KV type;
- an unknown engine uses the ``generic`` profile;
- a row whose source says its GPUs talked over PCIe, not NVLink, is predicted so, and
  engine settings its notes print (``max-num-seqs``, ``chunked-prefill``, data-parallel
  attention of a MoE model) are applied; a row with the ``ep`` / ``dp_attention``
  columns is predicted with that expert-parallel layout instead of the notes' attention
  setting;
- an MLPerf ``server`` row without a request rate is predicted at the replica's
  maximum throughput (the scenario reports the highest rate that meets its latency
  bounds, close to that ceiling for LLM benchmarks);
- percentile metrics (``_median``, ``_pNN``) come from ``perf.percentiles`` with dataset
  lengths taken as lognormal (coefficient of variation ``DATASET_LENGTH_CV``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from llmplan.catalog.loader import Catalog, normalise_name
from llmplan.catalog.schema import InterconnectKind
from llmplan.deployment import Deployment, pcie_only
from llmplan.errors import LlmplanError
from llmplan.perf.load import DEFAULT_FINITE_REQUESTS, Load, LoadKind, PerfResult
from llmplan.perf.percentiles import latency_percentiles
from llmplan.perf.serving import predict
from llmplan.perf.speculative import SpecDecoding, SpecMethod, parse_method
from llmplan.validation.dataset import Measurement, leading_number

SHAREGPT_MEAN_INPUT_TOKENS = 230.0
SHAREGPT_MEAN_OUTPUT_TOKENS = 180.0
GPUS_PER_NODE = 8

Extractor = Callable[[PerfResult, Measurement, Load], float]


class Skip(LlmplanError):
    """A row that cannot be predicted, with the reason."""


@dataclass(frozen=True)
class MetricSpec:
    """How to read a metric off a prediction: ``extract`` on the mean result, or, for
    latency percentiles, the ``latency`` field of :func:`latency_percentiles`."""

    family: str
    extract: Extractor
    percentile: float | None = None
    latency: str = ""


def _tokens_per_s_at_batch_one(result: PerfResult, row: Measurement, load: Load) -> float:
    return 1e3 / result.tpot_ms


def _prompt_tokens_per_s(result: PerfResult, row: Measurement, load: Load) -> float:
    return result.prefill_tokens_per_s


def _e2e(result: PerfResult, row: Measurement, load: Load) -> float:
    """Batch rows print the makespan of the batch; other modes the mean request latency."""
    return result.makespan_ms if load.kind is LoadKind.BATCH else result.e2e_latency_ms


_THROUGHPUT: dict[str, Extractor] = {
    "output_tokens_per_s": lambda r, m, lo: r.output_tokens_per_s,
    "total_tokens_per_s": lambda r, m, lo: r.total_tokens_per_s,
    "requests_per_s": lambda r, m, lo: r.requests_per_s,
    "prompt_tokens_per_s": lambda r, m, lo: r.requests_per_s * lo.input_tokens,
    "gen_tokens_per_s": _tokens_per_s_at_batch_one,
}
_LATENCY: dict[str, tuple[str, str]] = {  # metric stem -> (family, field)
    "ttft_ms": ("ttft", "ttft_ms"),
    "tpot_ms": ("tpot", "tpot_ms"),
    "itl_ms": ("tpot", "tpot_ms"),
    "token_latency_ms": ("tpot", "tpot_ms"),
    "e2e_latency_ms": ("e2e", "e2e_latency_ms"),
}
_THROUGHPUT_METRIC = re.compile(
    r"^(?P<stem>output_tokens_per_s|total_tokens_per_s|requests_per_s|prompt_tokens_per_s"
    r"|gen_tokens_per_s)(?:_(?:tg|pp)\d+)?(?:_per_(?P<per>gpu|node|user))?$"
)
_LATENCY_METRIC = re.compile(
    r"^(?P<stem>ttft_ms|tpot_ms|itl_ms|token_latency_ms|e2e_latency_ms)"
    r"(?:_(?P<stat>mean|avg|median|p\d+(?:\.\d+)?))?$"
)
_DATASET = re.compile(r"sharegpt|dataset|variable", re.IGNORECASE)
_GEN_TG = re.compile(r"^gen_tokens_per_s_tg(\d+)")
_PROMPT_PP = re.compile(r"^prompt_tokens_per_s_pp(\d+)")


def _scaled(extract: Extractor, per: str | None) -> Extractor:
    """Whole-system throughput divided per GPU, per node (8 GPUs) or per user."""
    if per == "gpu":
        return lambda r, m, lo: extract(r, m, lo) / r.num_gpus
    if per == "node":
        return lambda r, m, lo: extract(r, m, lo) * min(GPUS_PER_NODE, r.num_gpus) / r.num_gpus
    if per == "user":
        return lambda r, m, lo: extract(r, m, lo) / r.batch
    return extract


def _throughput_spec(stem: str, per: str | None, metric: str) -> MetricSpec:
    if _PROMPT_PP.match(metric):
        return MetricSpec("throughput", _scaled(_prompt_tokens_per_s, per))
    if stem == "output_tokens_per_s" and per == "user":
        return MetricSpec("throughput", _tokens_per_s_at_batch_one)
    return MetricSpec("throughput", _scaled(_THROUGHPUT[stem], per))


def _latency_spec(stem: str, stat: str | None) -> MetricSpec:
    family, field = _LATENCY[stem]
    if stat in (None, "mean", "avg"):
        mean: Extractor = _e2e if family == "e2e" else (lambda r, m, lo: getattr(r, field))
        return MetricSpec(family, mean)
    percentile = 50.0 if stat == "median" else float(stat[1:])
    if not 0 < percentile < 100:
        raise Skip(f"percentile {stat} is not between p0 and p100")
    return MetricSpec(family, _e2e, percentile=percentile, latency=field)


def metric_spec(metric: str) -> MetricSpec:
    """How to read ``metric`` off a prediction; raises Skip for unsupported metrics."""
    if match := _THROUGHPUT_METRIC.match(metric):
        return _throughput_spec(match["stem"], match["per"], metric)
    if match := _LATENCY_METRIC.match(metric):
        return _latency_spec(match["stem"], match["stat"])
    raise Skip(
        f"metric '{metric}' is not predicted (throughput: tokens or requests per s, "
        "optionally per gpu/node/user; latency: ttft/tpot/itl/e2e, mean, median or pNN)"
    )


_INFINITE = re.compile(r"\s*(inf|infinity|unlimited|max)\b", re.IGNORECASE)
_NEGATIVE = re.compile(r"\s*~?\s*-\s*\d")


def _lengths(row: Measurement) -> tuple[float, float]:
    tg = _GEN_TG.match(row.metric)
    pp = _PROMPT_PP.match(row.metric)
    if tg:  # llama-bench tgN: N tokens generated from an empty context
        return 1.0, float(tg.group(1))
    if pp:  # llama-bench ppN: one N-token prompt
        return float(pp.group(1)), 1.0
    for name, cell in (("input_len", row.input_len), ("output_len", row.output_len)):
        if _NEGATIVE.match(cell or ""):
            raise Skip(f"{name} '{cell}' is negative")
    inp = leading_number(row.input_len)
    out = leading_number(row.output_len)
    if out is not None and out < 1:
        raise Skip(f"output_len '{row.output_len}' must be at least 1 token")
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
    notes = _notes_for_own_precision(row)
    if re.search(r"(bf16|fp16|bf16/fp16) kv", notes):
        return "fp16"
    if "fp8 kv" in notes:
        return "fp8"
    engine = catalog.engine(engine_id)
    weights = catalog.weight_format(row.precision)
    return (
        engine.quantized_kv_format if weights.quantized and engine.quantized_kv_format else "fp16"
    )


def _notes_for_own_precision(row: Measurement) -> str:
    """The row's notes without definitions of other precisions: a source that prints
    fp16 and fp8 rows notes "fp8 = FP8 weights+FP8 KV" on both, which says nothing about
    the fp16 row's KV cache."""
    own = row.precision.lower()

    def keep_own(match: re.Match[str]) -> str:
        return match.group(0) if match.group(1) == own else ""

    return re.sub(r"\b([a-z0-9_.-]+) = [^;]*", keep_own, row.notes.lower())


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
        return Load(
            LoadKind(mode),
            inp,
            out,
            batch=batch,
            fixed_lengths=fixed,
            num_requests=_declared_requests(row),
        )
    if mode == "offline":
        return Load(LoadKind.OFFLINE, inp, out)
    if mode in ("rate", "server"):
        rate = leading_number(row.request_rate)
        if not rate and mode == "server":  # MLPerf server: the highest rate within SLOs
            return Load(LoadKind.OFFLINE, inp, out)
        requests = _declared_requests(row)
        if not rate and _INFINITE.match(row.request_rate or ""):
            # every request sent at once (vLLM's benchmark_serving sends 1000 by default)
            rate, requests = math.inf, requests or DEFAULT_FINITE_REQUESTS
        if not rate:
            raise Skip(f"mode {mode} without a request rate")
        return Load(
            LoadKind.RATE, inp, out, request_rate=rate, fixed_lengths=fixed, num_requests=requests
        )
    raise Skip(f"mode '{mode}' is not one of batch, offline, concurrency, rate, server")


_PROMPT_COUNT = re.compile(r"\b(\d[\d,]*)\s+prompts\b", re.IGNORECASE)


def _declared_requests(row: Measurement) -> int | None:
    """Number of requests the benchmark sent, when the row's notes print it."""
    match = _PROMPT_COUNT.search(row.notes)
    return int(match.group(1).replace(",", "")) if match else None


def engine_for(row: Measurement, catalog: Catalog) -> str:
    """Id of the engine profile a row uses: the era of its ``engine_version``
    (``generic`` for engines without a profile)."""
    if normalise_name(row.engine) in _engine_ids(catalog):
        return catalog.engine_era(row.engine, row.engine_version).id
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
            ep=_expert_parallel(row),
            dp_attention=_flag(row.dp_attention, "dp_attention", row),
        )
    except LlmplanError as exc:
        raise Skip(str(exc)) from None
    pcie_kinds = (InterconnectKind.PCIE, InterconnectKind.PCIE_HOST)
    if _declared_pcie_only(row) and deployment.gpu.interconnect not in pcie_kinds:
        deployment = over_pcie(deployment, catalog)
    settings = _declared_engine_settings(row)
    layout_stated = bool(row.ep or row.dp_attention)
    if not layout_stated and _ATTENTION_DP.search(row.notes) and deployment.model.moe is not None:
        settings["attention_data_parallel"] = True
    if settings:
        deployment = replace(deployment, engine=deployment.engine.model_copy(update=settings))
    load = _load(row)
    speculative = _speculation(row)
    if speculative is not None:
        load = replace(load, speculative=speculative)
    return deployment, load


def _speculation(row: Measurement) -> SpecDecoding | None:
    """Speculative decoding the row states (``spec_method``, ``spec_tokens``), with the
    method's documented acceptance (:data:`llmplan.perf.speculative.SPEC_DEFAULTS`); None
    when the row states none. Skip when the cells are not usable."""
    if not row.spec_method:
        if row.spec_tokens:
            raise Skip(f"spec_tokens '{row.spec_tokens}' without a spec_method")
        return None
    try:
        method = parse_method(row.spec_method)
    except LlmplanError as exc:
        raise Skip(str(exc)) from None
    if method is SpecMethod.DRAFT:
        raise Skip("spec_method 'draft' needs a draft model, which the dataset does not name")
    tokens = _integer(row.spec_tokens, "spec_tokens")
    try:
        return SpecDecoding.with_defaults(method, tokens)
    except LlmplanError as exc:
        raise Skip(str(exc)) from None


def _expert_parallel(row: Measurement) -> int:
    """The row's ``ep`` column (1 when empty); Skip when it is not a whole number."""
    if not row.ep:
        return 1
    if not row.ep.isdigit() or int(row.ep) < 1:
        raise Skip(f"ep '{row.ep}' is not a positive whole number")
    return int(row.ep)


def _flag(text: str, column: str, row: Measurement) -> bool:
    """A true/false cell (empty: false); Skip on anything else."""
    value = text.strip().lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    raise Skip(f"{column} '{text}' is not true or false (line {row.line})")


_MAX_NUM_SEQS = re.compile(r"max[-_]num[-_]seqs\s*[=:]\s*(\d+)", re.IGNORECASE)
_ATTENTION_DP = re.compile(r"dp[-_ ]attention|attention[-_ ]dp", re.IGNORECASE)
_CHUNKED_PREFILL = re.compile(r"chunked[-_]prefill\s*[=:]\s*(true|false)", re.IGNORECASE)


def _declared_engine_settings(row: Measurement) -> dict[str, int | bool]:
    """Engine settings the row's notes print (vLLM's max-num-seqs, chunked-prefill)."""
    settings: dict[str, int | bool] = {}
    if match := _MAX_NUM_SEQS.search(row.notes):
        settings["max_num_seqs"] = int(match.group(1))
    if match := _CHUNKED_PREFILL.search(row.notes):
        settings["chunked_prefill"] = match.group(1).lower() == "true"
    return settings


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


def metric_value(deployment: Deployment, load: Load, spec: MetricSpec, row: Measurement) -> float:
    """The value of ``row``'s metric predicted for ``deployment`` under ``load``."""
    result = predict(deployment, load)
    if spec.percentile is not None:
        quantiles = latency_percentiles(deployment, load, spec.percentile, result=result)
        return float(getattr(quantiles, spec.latency))
    return spec.extract(result, row, load)


def predict_row(row: Measurement, catalog: Catalog) -> tuple[float, str]:
    """(predicted value, metric family) for ``row``; raises Skip with the reason."""
    spec = metric_spec(row.metric)
    deployment, load = setup_for(row, catalog)
    try:
        return metric_value(deployment, load, spec, row), spec.family
    except LlmplanError as exc:
        raise Skip(str(exc)) from None
