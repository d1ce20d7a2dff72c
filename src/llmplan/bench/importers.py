"""Importing result files of other load generators as :class:`StepMetrics`.

Formats, as far as their documentation and published examples show them:

- ``vllm``: the JSON that vLLM's ``benchmarks/benchmark_serving.py --save-result`` and
  ``vllm bench serve --save-result`` write: ``request_throughput``, ``output_throughput``,
  ``mean_ttft_ms``/``median_ttft_ms``/``p99_ttft_ms``, the same for ``tpot``, ``itl`` and
  ``e2el``, ``max_concurrency``, ``request_rate`` (``"inf"`` for a burst),
  ``total_input_tokens``, ``total_output_tokens``, ``completed``, ``num_prompts``.
  A JSON list or JSON-lines file of such objects gives one step each.
- ``guidellm``: GuideLLM's ``benchmarks.json``: ``benchmarks[]`` each with the strategy in
  ``config.strategy`` (or ``args.strategy`` in older releases; ``type_`` concurrent with
  ``streams``, constant/poisson with ``rate``, synchronous = one stream) and
  ``metrics.<name>.successful`` distributions (``mean``, ``median``, ``percentiles.p99``)
  for ``requests_per_second``, ``output_tokens_per_second``, ``time_to_first_token_ms``,
  ``time_per_output_token_ms``, ``inter_token_latency_ms``, ``request_latency`` (seconds),
  ``prompt_token_count`` and ``output_token_count``.
- ``aiperf``: AIPerf's ``profile_export_aiperf.json``: one object per metric with ``unit``,
  ``avg``, ``p50``, ``p99`` (``request_throughput``, ``output_token_throughput``,
  ``time_to_first_token``, ``inter_token_latency``, ``request_latency``,
  ``input_sequence_length``, ``output_sequence_length``) and the load in
  ``input_config.loadgen`` (``concurrency`` or ``request_rate``).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmplan.bench.csvout import StepMetrics
from llmplan.bench.workload import StepKind
from llmplan.errors import InputError


class ImportFormat(enum.StrEnum):
    VLLM = "vllm"
    GUIDELLM = "guidellm"
    AIPERF = "aiperf"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _length(total: Any, count: Any) -> str:
    t, c = _num(total), _num(count)
    return str(round(t / c)) if t is not None and c else ""


def _load(mode_conc: float | None, rate: float | None) -> tuple[str, int | None, float | None]:
    if mode_conc is not None and mode_conc >= 1:
        return StepKind.CONCURRENCY.value, int(mode_conc), rate
    if rate is not None:
        return StepKind.RATE.value, None, rate
    return "offline", None, None


# ---------------------------------------------------------------- vLLM
_VLLM_METRICS = {
    "request_throughput": "requests_per_s",
    "output_throughput": "output_tokens_per_s",
    "total_token_throughput": "total_tokens_per_s",
}
_VLLM_LATENCIES = {"ttft": "ttft_ms", "tpot": "tpot_ms", "itl": "itl_ms", "e2el": "e2e_latency_ms"}
_VLLM_STATS = {"mean": "mean", "median": "median", "p99": "p99", "p90": "p90"}


def vllm_step(data: dict[str, Any]) -> StepMetrics:
    metrics: dict[str, float] = {}
    for key, metric in _VLLM_METRICS.items():
        if (value := _num(data.get(key))) is not None:
            metrics[metric] = value
    for short, stem in _VLLM_LATENCIES.items():
        for stat, suffix in _VLLM_STATS.items():
            if (value := _num(data.get(f"{stat}_{short}_ms"))) is not None:
                metrics[f"{stem}_{suffix}"] = value
    if not metrics:
        raise InputError("no vLLM benchmark metrics (e.g. output_throughput)", field="import")
    rate = _num(data.get("request_rate"))  # "inf" -> None
    mode, batch, rate = _load(_num(data.get("max_concurrency")), rate)
    completed = data.get("completed")
    notes = (
        f"imported from vLLM benchmark_serving ({completed}/{data.get('num_prompts')} completed"
        f"{', ' + str(data['backend']) if 'backend' in data else ''})"
    )
    return StepMetrics(
        mode=mode,
        batch=batch,
        request_rate=rate,
        input_len=_length(data.get("total_input_tokens"), completed),
        output_len=_length(data.get("total_output_tokens"), completed),
        metrics=metrics,
        notes=notes,
    )


def _vllm(text: str) -> list[StepMetrics]:
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:  # JSON lines: one result per line
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [vllm_step(item) for item in items if isinstance(item, dict)]


# ---------------------------------------------------------------- GuideLLM
_GUIDELLM = {  # name -> (metric stem, factor to ms or 1)
    "time_to_first_token_ms": ("ttft_ms", 1.0),
    "time_per_output_token_ms": ("tpot_ms", 1.0),
    "inter_token_latency_ms": ("itl_ms", 1.0),
    "request_latency": ("e2e_latency_ms", 1e3),  # seconds in GuideLLM
}


def _successful(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    entry = metrics.get(name)
    if not isinstance(entry, dict):
        return {}
    dist = entry.get("successful", entry)
    return dist if isinstance(dist, dict) else {}


def _dist_stat(dist: dict[str, Any], stat: str) -> float | None:
    percentiles = dist.get("percentiles")
    pct = percentiles if isinstance(percentiles, dict) else {}
    if stat == "mean":
        return _num(dist.get("mean"))
    if stat == "median":
        return _num(dist.get("median", pct.get("p50", dist.get("p50"))))
    return _num(pct.get(stat, dist.get(stat)))


def _guidellm_strategy(bench: dict[str, Any]) -> dict[str, Any]:
    for holder in ("config", "args"):
        section = bench.get(holder)
        if isinstance(section, dict) and isinstance(section.get("strategy"), dict):
            strategy: dict[str, Any] = section["strategy"]
            return strategy
    return {}


def guidellm_step(bench: dict[str, Any]) -> StepMetrics:
    raw = bench.get("metrics")
    metrics_in: dict[str, Any] = raw if isinstance(raw, dict) else {}
    metrics: dict[str, float] = {}
    for name, (stem, factor) in _GUIDELLM.items():
        dist = _successful(metrics_in, name)
        for stat in ("mean", "median", "p99"):
            if (value := _dist_stat(dist, stat)) is not None:
                metrics[f"{stem}_{stat}"] = value * factor
    for name, metric in (
        ("requests_per_second", "requests_per_s"),
        ("output_tokens_per_second", "output_tokens_per_s"),
    ):
        if (value := _dist_stat(_successful(metrics_in, name), "mean")) is not None:
            metrics[metric] = value
    if not metrics:
        raise InputError("a GuideLLM benchmark without metrics", field="import")
    strategy = _guidellm_strategy(bench)
    kind = str(strategy.get("type_", strategy.get("type", "")))
    streams = 1.0 if kind == "synchronous" else _num(strategy.get("streams"))
    rate = _num(strategy.get("rate")) if kind in ("constant", "poisson") else None
    mode, batch, rate = _load(streams, rate)
    lengths = [
        _dist_stat(_successful(metrics_in, n), "mean")
        for n in ("prompt_token_count", "output_token_count")
    ]
    return StepMetrics(
        mode=mode,
        batch=batch,
        request_rate=rate,
        input_len=str(round(lengths[0])) if lengths[0] else "",
        output_len=str(round(lengths[1])) if lengths[1] else "",
        metrics=metrics,
        notes=f"imported from GuideLLM ({kind or 'unknown'} strategy)",
    )


def _guidellm(text: str) -> list[StepMetrics]:
    data = json.loads(text)
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list):
        raise InputError("no 'benchmarks' list: not a GuideLLM report", field="import")
    return [guidellm_step(b) for b in benches if isinstance(b, dict)]


# ---------------------------------------------------------------- AIPerf
_AIPERF_LATENCY = {
    "time_to_first_token": "ttft_ms",
    "inter_token_latency": "tpot_ms",  # AIPerf's ITL excludes the first token, i.e. TPOT
    "request_latency": "e2e_latency_ms",
}
_AIPERF_RATE = {
    "request_throughput": "requests_per_s",
    "output_token_throughput": "output_tokens_per_s",
}
_TO_MS = {"ms": 1.0, "s": 1e3, "sec": 1e3, "us": 1e-3, "ns": 1e-6}


def _aiperf(text: str) -> list[StepMetrics]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise InputError("not an AIPerf profile export (a JSON object)", field="import")
    metrics: dict[str, float] = {}
    for name, stem in _AIPERF_LATENCY.items():
        entry = data.get(name)
        if not isinstance(entry, dict):
            continue
        factor = _TO_MS.get(str(entry.get("unit", "ms")), 1.0)
        for stat, suffix in (("avg", "mean"), ("p50", "median"), ("p99", "p99")):
            if (value := _num(entry.get(stat))) is not None:
                metrics[f"{stem}_{suffix}"] = value * factor
    for name, metric in _AIPERF_RATE.items():
        entry = data.get(name)
        if isinstance(entry, dict) and (value := _num(entry.get("avg"))) is not None:
            metrics[metric] = value
    if not metrics:
        raise InputError("no AIPerf metrics (e.g. request_throughput)", field="import")
    config = data.get("input_config")
    loadgen = config.get("loadgen", {}) if isinstance(config, dict) else {}
    loadgen = loadgen if isinstance(loadgen, dict) else {}
    mode, batch, rate = _load(_num(loadgen.get("concurrency")), _num(loadgen.get("request_rate")))
    if rate is not None and mode == StepKind.CONCURRENCY.value:
        rate = None

    def avg(name: str) -> str:
        entry = data.get(name)
        value = _num(entry.get("avg")) if isinstance(entry, dict) else None
        return str(round(value)) if value else ""

    return [
        StepMetrics(
            mode=mode,
            batch=batch,
            request_rate=rate,
            input_len=avg("input_sequence_length"),
            output_len=avg("output_sequence_length"),
            metrics=metrics,
            notes="imported from AIPerf profile_export_aiperf.json",
        )
    ]


_READERS: dict[ImportFormat, Callable[[str], list[StepMetrics]]] = {
    ImportFormat.VLLM: _vllm,
    ImportFormat.GUIDELLM: _guidellm,
    ImportFormat.AIPERF: _aiperf,
}


def import_results(path: Path, fmt: ImportFormat) -> list[StepMetrics]:
    """Steps of the result file at ``path`` in format ``fmt``; InputError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", field="import") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})", field="import") from None
    try:
        steps = _READERS[fmt](text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})", field="import"
        ) from None
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}", field="import") from None
    if not steps:
        raise InputError(f"{path}: no benchmark results in it", field="import")
    return steps
