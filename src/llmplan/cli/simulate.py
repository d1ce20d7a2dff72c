"""``llmplan simulate``: a discrete-event simulation of serving, with SLO percentiles.

Register with ``app.command("simulate")(simulate_command)``. Plotly is imported only to
write ``--plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from llmplan.cli.common import (
    CalibrationOpt,
    calibration_label,
    catalog,
    console,
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
    SpecOptions,
    SpecTokensOpt,
    disaggregation_of,
    feature_rows,
    features_of,
)
from llmplan.cli.sizing import (
    DpAttentionOpt,
    EngineOpt,
    EpImbalanceOpt,
    EpOpt,
    GpuOpt,
    JsonOpt,
    KvOpt,
    ModelOpt,
    NumGpusOpt,
    PpOpt,
    PrecisionOpt,
    TpOpt,
    build_deployment,
)
from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.files import write_text_atomic
from llmplan.limits import MAX_DATA_FILE_BYTES, check_regular_file, check_simulation_inputs
from llmplan.perf.disagg import Disaggregation
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.load import serving_features
from llmplan.scenario import load_scenario
from llmplan.scenario.workloads import InferenceWorkload
from llmplan.sim import (
    ClosedLoop,
    GammaArrivals,
    HourlyArrivals,
    LengthDistribution,
    MaxRate,
    OpenLoop,
    PoissonArrivals,
    ReplicaModel,
    Router,
    SimConfig,
    SimResult,
    SloTargets,
    TraceReplay,
    Workload,
    find_max_rate,
    load_lengths,
    load_trace,
    simulate,
)
from llmplan.sim.disagg import DisaggregatedModel, simulate_disaggregated
from llmplan.sim.lengths import mean_p95_lengths
from llmplan.sim.scenario import features_from, open_loop_from, slo_from

RateOpt = Annotated[
    float | None, typer.Option(help="Poisson arrivals, requests/s over all replicas.")
]
CvOpt = Annotated[
    float | None,
    typer.Option(help="Coefficient of variation of gaps between arrivals (gamma; 1 = Poisson)."),
]
HourlyOpt = Annotated[
    str | None,
    typer.Option(help="24 comma-separated hourly rates, requests/s (hour 0 first)."),
]
ClientsOpt = Annotated[
    int | None, typer.Option(help="Closed loop: users each waiting for their reply.")
]
ThinkOpt = Annotated[
    float, typer.Option(help="Closed loop: mean think time between a reply and the next request.")
]
TraceOpt = Annotated[
    Path | None, typer.Option(help="Replay a CSV of arrival_s,input_tokens,output_tokens.")
]
TokensOpt = Annotated[int, typer.Option(help="Mean tokens per request.")]
P95Opt = Annotated[
    float | None, typer.Option(help="95th-percentile tokens (lognormal); omit for fixed lengths.")
]
LengthsOpt = Annotated[
    Path | None, typer.Option(help="File of observed lengths, one per line (sampled).")
]
SloOpt = Annotated[float | None, typer.Option(help="Target, milliseconds.")]


def _lengths(name: str, mean: int, p95: float | None, file: Path | None) -> LengthDistribution:
    if file is not None:
        return load_lengths(file)
    return mean_p95_lengths(name, mean, p95)


def _hourly(text: str) -> HourlyArrivals:
    try:
        return HourlyArrivals(tuple(float(x) for x in text.split(",")))
    except ValueError as exc:  # InputError is a ValueError
        message = exc.message if isinstance(exc, InputError) else f"not numbers: {text!r}"
        raise InputError(message, field="hourly_rates") from None


def _positive(name: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise InputError(f"must be > 0, got {value:g}", field=name)


def _from_scenario(path: Path, name: str | None) -> tuple[OpenLoop, SloTargets, InferenceWorkload]:
    """Peak-hour traffic, lengths and SLO of an inference workload of a scenario file."""
    scenario = load_scenario(path)
    found = [
        w
        for w in scenario.workloads
        if isinstance(w, InferenceWorkload) and (name is None or w.name == name)
    ]
    if not found:
        names = ", ".join(w.name for w in scenario.workloads if isinstance(w, InferenceWorkload))
        wanted = f"named {name!r}" if name else "at all"
        raise InputError(
            f"{path} has no inference workload {wanted} (inference workloads: {names or 'none'})",
            field="workload",
        )
    return open_loop_from(found[0]), slo_from(found[0]), found[0]


def _features(
    dep: Deployment,
    prefix_hit: float,
    spec_options: SpecOptions,
    stated: InferenceWorkload | None,
    calibration: Path | None,
) -> Features:
    """Prefix hits and speculation from the options, else from the scenario workload
    (its ``cached_input_fraction`` and ``speculative``), as the planner sizes it."""
    models = catalog(calibration)
    given = prefix_hit != 0.0 or spec_options != (None, None, None, None)
    if stated is None or given:
        return features_of(dep, models, prefix_hit, spec_options)
    return features_from(stated, dep.model, models.models)


def _workload(
    arrivals: dict[str, Any],
    inputs: LengthDistribution,
    outputs: LengthDistribution,
    search: bool,
    default: OpenLoop | None = None,
) -> Workload | None:
    """The workload chosen by exactly one of --rate, --hourly-rates, --clients, --trace
    (none with --find-max-rate, which makes its own), else ``default`` (a scenario's)."""
    given = [k for k in ("rate", "hourly_rates", "clients", "trace") if arrivals[k] is not None]
    if search:
        given.append("find_max_rate")
    if not given and default is not None:
        return default
    if len(given) != 1:
        options = ", ".join(f"--{g.replace('_', '-')}" for g in given) or "none"
        raise InputError(
            "give one of --rate, --hourly-rates, --clients, --trace, --find-max-rate "
            "or --scenario "
            f"(got {options})",
            field="arrivals",
        )
    _positive("rate", arrivals["rate"])
    _positive("cv", arrivals["cv"])
    if arrivals["cv"] is not None and arrivals["rate"] is None:
        raise InputError("only applies with --rate", field="cv")
    if arrivals["rate"] is not None:
        cv = arrivals["cv"]
        rate = arrivals["rate"]
        process = GammaArrivals(rate, cv) if cv not in (None, 1.0) else PoissonArrivals(rate)
        return OpenLoop(process, inputs, outputs)
    if arrivals["hourly_rates"] is not None:
        return OpenLoop(_hourly(arrivals["hourly_rates"]), inputs, outputs)
    if arrivals["clients"] is not None:
        return ClosedLoop(arrivals["clients"], arrivals["think_time_s"], inputs, outputs)
    if arrivals["trace"] is not None:
        return TraceReplay(load_trace(arrivals["trace"]))
    return None


def _latency_table(result: SimResult) -> Table:
    table = Table(title="Latency (ms)", title_justify="left")
    table.add_column("metric", style="bold")
    for column in ("mean", "p50", "p90", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for name in ("ttft", "tpot", "itl", "e2e"):
        summary = getattr(result, name)
        values = [summary.mean_ms, summary.p50_ms, summary.p90_ms, summary.p95_ms]
        values += [summary.p99_ms, summary.max_ms]
        table.add_row(name.upper(), *(number(v, 1) for v in values))
    return table


def _rows(result: SimResult) -> list[tuple[str, str]]:
    slo = result.slo
    rows = [
        ("requests completed", f"{result.requests:,}"),
        ("simulated time", f"{number(result.duration_s, 1)} s"),
        ("throughput", f"{number(result.requests_per_s, 3)} requests/s"),
        ("output tokens/s", number(result.output_tokens_per_s)),
        ("preemptions (recompute)", f"{result.preemptions:,}"),
        ("peak queue", number(float(result.series.queue.max()), 0)),
        ("peak KV-cache use", f"{100 * float(result.series.kv_utilisation.max()):.0f} %"),
    ]
    if result.clipped_requests:
        rows.append(("requests cut to fit a replica", f"{result.clipped_requests:,}"))
    if slo.has_targets:
        rows += [
            ("goodput (met SLO)", f"{number(result.goodput_requests_per_s, 3)} requests/s"),
            ("share meeting SLO", f"{100 * result.slo_attainment:.1f} %"),
            (f"p{slo.percentile:g} within targets", "yes" if result.meets_slo else "NO"),
        ]
    return rows


def _write_plot(result: SimResult, path: Path, title: str) -> None:
    """Latency percentiles, queue and running sequences, KV-cache use over time."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(
        rows=3,
        cols=1,
        subplot_titles=("Latency percentiles (ms)", "Requests over time", "KV-cache use"),
        vertical_spacing=0.1,
    )
    labels = [f"p{p:g}" for p, _ in result.ttft.percentiles_ms]
    for name in ("ttft", "tpot", "itl", "e2e"):
        values = [v for _, v in getattr(result, name).percentiles_ms]
        figure.add_trace(go.Bar(name=name.upper(), x=labels, y=values), row=1, col=1)
    series = result.series
    figure.add_trace(go.Scatter(name="queued", x=series.time_s, y=series.queue), row=2, col=1)
    figure.add_trace(go.Scatter(name="running", x=series.time_s, y=series.running), row=2, col=1)
    figure.add_trace(
        go.Scatter(name="KV-cache use", x=series.time_s, y=100 * series.kv_utilisation),
        row=3,
        col=1,
    )
    figure.update_yaxes(type="log", row=1, col=1)
    figure.update_xaxes(title_text="time (s)", row=3, col=1)
    figure.update_yaxes(title_text="%", row=3, col=1)
    figure.update_layout(title=title, height=900, barmode="group")
    try:
        write_text_atomic(path, figure.to_html(full_html=True, include_plotlyjs=True))
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror})", field="plot") from None


def simulated_features(features: Features, result: SimResult | None) -> dict[str, Any]:
    """``prefix_hit``, ``spec_method``, ``accepted_tokens_per_step`` (as simulated, the
    expectation when nothing ran) and the speculation's settings, for ``--json``."""
    out: dict[str, Any] = dict(serving_features(features.prefix_hit, features.spec))
    if result is not None:
        out["accepted_tokens_per_step"] = result.accepted_tokens_per_step
    return out


def _slo(
    ttft_ms: float | None, tpot_ms: float | None, percentile: float, stated: SloTargets | None
) -> SloTargets:
    """Targets from the command line, else a scenario workload's."""
    if stated is None:
        return SloTargets(ttft_ms=ttft_ms, tpot_ms=tpot_ms, percentile=percentile)
    return SloTargets(
        ttft_ms=ttft_ms or stated.ttft_ms,
        tpot_ms=tpot_ms or stated.tpot_ms,
        percentile=stated.percentile,
    )


def _describe(dep: Deployment, replicas: int, router: Router) -> str:
    return (
        f"Simulation: {replicas} x {dep.model.id} ({dep.weights.id}) on {dep.num_gpus} x "
        f"{dep.gpu.id}, tp={dep.tp} pp={dep.pp}, {dep.engine.name}, {router.value} routing"
    )


def _report(
    dep: Deployment,
    result: SimResult | None,
    search: MaxRate | None,
    *,
    json_out: bool,
    title: str,
    features: Features = NO_FEATURES,
    layout: dict[str, Any] | None = None,
) -> None:
    if json_out:
        payload: dict[str, Any] = {"deployment": dep.identity()} | (layout or {})
        payload |= simulated_features(features, result)
        if search is not None:
            payload["max_rate_per_s"] = search.rate_per_s
            payload["first_failing_rate_per_s"] = search.failing_rate_per_s
            payload["search_trials"] = search.trials
        payload["result"] = None if result is None else result.as_dict(series=True)
        print_json(payload)
        return
    if search is not None:
        console.print(
            f"[bold]largest rate meeting the SLO:[/] {number(search.rate_per_s, 3)} requests/s "
            f"(misses it at {number(search.failing_rate_per_s, 3)}; {search.trials} runs)"
        )
    if result is not None:
        rows = _rows(result) + _layout_rows(layout) + feature_rows(features)
        if features.spec is not None:
            simulated = number(result.accepted_tokens_per_step, 2)
            rows.append(("accepted tokens per step (simulated)", simulated))
        console.print(key_value_table(title, rows))
        console.print(_latency_table(result))


def _layout_rows(layout: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Rows naming a disaggregated design's pools and KV transfer."""
    if not layout:
        return []
    return [
        ("prefill pool", f"{layout['prefill_gpus']} GPUs ({layout['prefill_replicas']} replicas "
         f"of {_pool_text(layout, 'prefill')})"),
        ("decode pool", f"{layout['decode_gpus']} GPUs ({layout['decode_replicas']} replicas "
         f"of {_pool_text(layout, 'decode')})"),
        ("KV transfer (mean prompt)",
         f"{layout['kv_transfer_ms']:,.2f} ms over {layout['kv_transfer_link']}"),
    ]  # fmt: skip


def _pool_text(layout: dict[str, Any], pool: str) -> str:
    """A pool's layout from the ``--json`` keys, e.g. ``tp=16 ep=16 dp-attention``."""
    text = f"tp={layout[pool + '_tp']}"
    text += f" pp={layout[pool + '_pp']}" if layout[pool + "_pp"] > 1 else ""
    text += f" ep={layout[pool + '_ep']}" if layout[pool + "_ep"] > 1 else ""
    return text + (" dp-attention" if layout[pool + "_dp_attention"] else "")


def _simulate_disaggregated(
    dep: Deployment,
    split: Disaggregation,
    workload: Workload | None,
    config: SimConfig,
    seed: int,
) -> tuple[SimResult, dict[str, Any]]:
    """Run a disaggregated design (its pools set the replicas)."""
    if workload is None:
        raise InputError("not available with --disaggregate; give --rate", field="find_max_rate")
    if config.replicas != 1:
        raise InputError(
            "not available with --disaggregate (the pools set the replicas)", field="replicas"
        )
    model = DisaggregatedModel.of(dep, split, workload)
    result = simulate_disaggregated(model, workload, config, np.random.default_rng(seed))
    return result, model.layout(workload.mean_lengths()[0])


@handle_errors
def simulate_command(
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
    rate: RateOpt = None,
    cv: CvOpt = None,
    hourly_rates: HourlyOpt = None,
    clients: ClientsOpt = None,
    think_time_s: ThinkOpt = 0.0,
    trace: TraceOpt = None,
    input_tokens: TokensOpt = 1024,
    input_p95: P95Opt = None,
    input_lengths: LengthsOpt = None,
    output_tokens: TokensOpt = 256,
    output_p95: P95Opt = None,
    output_lengths: LengthsOpt = None,
    requests: Annotated[int, typer.Option(help="Requests to simulate.")] = 10_000,
    replicas: Annotated[int, typer.Option(help="Replicas behind the router.")] = 1,
    router: Annotated[Router, typer.Option(help="How requests go to replicas.")] = (
        Router.ROUND_ROBIN
    ),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    workers: Annotated[
        int, typer.Option(help="Processes for round-robin runs (replicas split among them).")
    ] = 1,
    ttft_slo_ms: SloOpt = None,
    tpot_slo_ms: SloOpt = None,
    percentile: Annotated[float, typer.Option(help="Share of requests held to the SLO.")] = 95.0,
    find_max_rate_: Annotated[
        bool,
        typer.Option("--find-max-rate", help="Search the largest Poisson rate meeting the SLO."),
    ] = False,
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file: a workload's peak-hour rate, lengths and SLO."),
    ] = None,
    workload_name: Annotated[
        str | None,
        typer.Option("--workload", help="Inference workload of --scenario (default: first)."),
    ] = None,
    prefix_hit: PrefixHitOpt = 0.0,
    spec_method: SpecMethodOpt = None,
    spec_tokens: SpecTokensOpt = None,
    spec_acceptance: SpecAcceptanceOpt = None,
    spec_draft_model: SpecDraftModelOpt = None,
    calibration: CalibrationOpt = None,
    json_out: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option(help="Write an HTML plot to this file.")] = None,
    disaggregate: DisaggregateOpt = None,
    kv_transfer_layerwise: KvTransferLayerwiseOpt = False,
    prefill_tp: PoolTpOpt = None,
    prefill_ep: PoolEpOpt = None,
    prefill_dp_attention: PoolDpAttentionOpt = None,
    decode_tp: PoolTpOpt = None,
    decode_ep: PoolEpOpt = None,
    decode_dp_attention: PoolDpAttentionOpt = None,
) -> None:
    """Simulate requests through continuous batching: TTFT/TPOT/ITL percentiles, goodput."""
    split = disaggregation_of(
        disaggregate, kv_transfer_layerwise, (prefill_tp, prefill_ep, prefill_dp_attention),
        (decode_tp, decode_ep, decode_dp_attention),
    )  # fmt: skip
    check_simulation_inputs(
        requests=requests,
        rate=rate,
        cv=cv,
        hourly_rates=_hourly(hourly_rates).rates_per_s if hourly_rates is not None else None,
        clients=clients,
    )
    for name, file in (
        ("trace", trace),
        ("input_lengths", input_lengths),
        ("output_lengths", output_lengths),
    ):
        if file is not None:
            check_regular_file(file, name, MAX_DATA_FILE_BYTES)
    dep = build_deployment(
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
    if workload_name is not None and scenario is None:
        raise InputError("only applies with --scenario", field="workload")
    stated = _from_scenario(scenario, workload_name) if scenario is not None else None
    inputs, outputs = (
        (stated[0].input_tokens, stated[0].output_tokens)
        if stated is not None
        else (
            _lengths("input_tokens", input_tokens, input_p95, input_lengths),
            _lengths("output_tokens", output_tokens, output_p95, output_lengths),
        )
    )
    arrivals = {
        "rate": rate,
        "cv": cv,
        "hourly_rates": hourly_rates,
        "clients": clients,
        "think_time_s": think_time_s,
        "trace": trace,
    }
    workload = _workload(
        arrivals, inputs, outputs, find_max_rate_, stated[0] if stated is not None else None
    )
    slo = _slo(ttft_slo_ms, tpot_slo_ms, percentile, stated[1] if stated is not None else None)
    spec_options = (spec_method, spec_tokens, spec_acceptance, spec_draft_model)
    features = _features(
        dep, prefix_hit, spec_options, stated[2] if stated is not None else None, calibration
    )
    if split is not None:
        if features != NO_FEATURES:
            raise InputError(
                "prefix caching and speculative decoding are not simulated with --disaggregate yet",
                field="disaggregate",
            )
        config = SimConfig(num_requests=requests, replicas=replicas, router=router, slo=slo)
        outcome, layout = _simulate_disaggregated(dep, split, workload, config, seed)
        title = (
            f"Simulation: {dep.model.id} ({dep.weights.id}), {split.prefill_gpus} prefill "
            f"({_pool_text(layout, 'prefill')}) + {split.decode_gpus} decode "
            f"({_pool_text(layout, 'decode')}) x {dep.gpu.id}, {dep.engine.name}"
        )
        if plot is not None:
            _write_plot(outcome, plot, title)
        _report(dep, outcome, None, json_out=json_out, title=title, layout=layout)
        return
    work = workload or OpenLoop(PoissonArrivals(1.0), inputs, outputs)
    replica = ReplicaModel.of(dep, work, features)
    search = None
    if workload is None:
        search = find_max_rate(
            replica, inputs, outputs, slo, replicas=replicas, router=router,
            num_requests=requests, seed=seed, workers=workers,
        )  # fmt: skip
        result = search.result
    else:
        config = SimConfig(
            num_requests=requests, replicas=replicas, router=router, slo=slo, workers=workers
        )
        result = simulate(replica, workload, config, np.random.default_rng(seed))
    title = _describe(dep, replicas, router)
    if calibration is not None:
        title += f" ({calibration_label(calibration)})"
    if plot is not None and result is not None:
        _write_plot(result, plot, title)
    _report(dep, result, search, json_out=json_out, title=title, features=features)
