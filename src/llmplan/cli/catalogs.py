"""``llmplan gpus|models|engines list|show`` and ``llmplan models import``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from llmplan.catalog.loader import normalise_name
from llmplan.catalog.params import count_params
from llmplan.catalog.schema import ComputeDtype, EngineProfile
from llmplan.catalog.user import import_model
from llmplan.cli.common import catalog, console, handle_errors, print_json, user_home

gpus_app = typer.Typer(help="The GPU catalog.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
engines_app = typer.Typer(help="Serving-engine profiles.", no_args_is_help=True)
precisions_app = typer.Typer(help="Weight and KV-cache precisions.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SearchOpt = Annotated[
    str | None, typer.Option("--search", "-s", help="Only names containing this.")
]


def _matches(search: str | None, *names: str) -> bool:
    if not search:
        return True
    key = normalise_name(search)
    return any(key in normalise_name(n) for n in names)


@gpus_app.command("list")
@handle_errors
def gpus_list(search: SearchOpt = None, json_out: JsonOpt = False) -> None:
    """List GPUs with memory, bandwidth and peak 16-bit compute."""
    gpus = [g for g in catalog().gpus if _matches(search, g.id, g.name, *g.aliases)]
    if json_out:
        print_json([g.model_dump(mode="json") for g in gpus])
        return
    table = Table(title=f"{len(gpus)} GPUs")
    for column in (
        "id",
        "memory GiB",
        "bandwidth GB/s",
        "bf16 TFLOPS",
        "fp8",
        "fp4",
        "link",
        "TDP W",
        "price USD",
    ):
        table.add_column(column, justify="left" if column in ("id", "link") else "right")
    for g in gpus:
        peak = g.peak_tflops
        table.add_row(
            g.id,
            f"{g.memory_gib:g}",
            f"{g.memory_bandwidth_gbps:,.0f}",
            f"{g.peak(ComputeDtype.BF16) or 0:,.0f}",
            f"{peak.get('fp8', 0):,.0f}" if "fp8" in peak else "-",
            f"{peak.get('fp4', 0):,.0f}" if "fp4" in peak else "-",
            g.interconnect.value,
            f"{g.tdp_w:,.0f}",
            f"{g.price_usd:,.0f}" if g.price_usd else "-",
        )
    console.print(table)


@gpus_app.command("show")
@handle_errors
def gpus_show(name: str, json_out: JsonOpt = False) -> None:
    """Every field of one GPU, with its sources."""
    gpu = catalog().gpu(name)
    if json_out:
        print_json(gpu.model_dump(mode="json"))
        return
    _print_record(gpu.id, gpu.model_dump(mode="json"))


@models_app.command("list")
@handle_errors
def models_list(search: SearchOpt = None, json_out: JsonOpt = False) -> None:
    """List models with their size and attention layout."""
    models = [m for m in catalog().models if _matches(search, m.id, *m.aliases)]
    if json_out:
        print_json([m.model_dump(mode="json") for m in models])
        return
    table = Table(title=f"{len(models)} models")
    for column in ("id", "params B", "active B", "layers", "heads/kv", "attention", "context"):
        table.add_column(column, justify="left" if column in ("id", "attention") else "right")
    for m in models:
        counts = count_params(m)
        kind = "MLA" if m.mla else ("GQA" if m.num_kv_heads < m.num_attention_heads else "MHA")
        if m.sliding_window:
            kind += f"+SWA{m.sliding_window.window_tokens}"
        table.add_row(
            m.id,
            f"{counts.total / 1e9:,.1f}",
            f"{counts.active / 1e9:,.1f}" if m.moe else "-",
            str(m.num_layers),
            f"{m.num_attention_heads}/{m.num_kv_heads}",
            kind,
            f"{m.max_context_tokens:,}",
        )
    console.print(table)


@models_app.command("show")
@handle_errors
def models_show(name: str, json_out: JsonOpt = False) -> None:
    """Every architecture field of one model, with its source."""
    model = catalog().model(name)
    payload = model.model_dump(mode="json")
    counts = count_params(model)
    payload |= {"counted_params_total": counts.total, "counted_params_active": counts.active}
    if json_out:
        print_json(payload)
        return
    _print_record(model.id, payload)


@models_app.command("import")
@handle_errors
def models_import(
    path_or_id: Annotated[
        str, typer.Argument(help="config.json, a folder holding one, or a Hub id.")
    ],
    model_id: Annotated[str | None, typer.Option("--id", help="Id to store it under.")] = None,
    online: Annotated[
        bool, typer.Option(help="Allow downloading config.json from the Hugging Face Hub.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a model to your catalog ($LLMPLAN_HOME/models) from a Hugging Face config.json."""
    spec, path = import_model(path_or_id, user_home(), model_id=model_id, allow_network=online)
    if json_out:
        print_json({"imported": spec.model_dump(mode="json"), "file": str(path)})
        return
    counts = count_params(spec)
    console.print(
        f"imported [bold]{spec.id}[/] ({counts.total / 1e9:,.2f} B parameters) into {path}"
    )


@engines_app.command("list")
@handle_errors
def engines_list(search: SearchOpt = None, json_out: JsonOpt = False) -> None:
    """Engine profiles and their efficiency factors."""
    engines = [e for e in catalog().engines if _matches(search, e.id, e.name)]
    if json_out:
        print_json([e.model_dump(mode="json") for e in engines])
        return
    table = Table(title="Engine profiles")
    for column in (
        "id",
        "era (versions)",
        "compute eff.",
        "bandwidth eff.",
        "step overhead ms",
        "max seqs",
        "how obtained",
    ):
        table.add_column(column)
    for e in engines:
        table.add_row(
            e.id,
            _era(e),
            f"{e.compute_efficiency:.2f}",
            f"{e.bandwidth_efficiency:.2f}",
            f"{e.step_overhead_s * 1e3:.2f}",
            str(e.max_num_seqs),
            e.how_obtained,
        )
    console.print(table)


def _era(engine: EngineProfile) -> str:
    """'vllm <0.8' for an era; 'vllm >=0.8 (current)' for a family's planning default."""
    if engine.versions is None:
        return ""
    current = " (current)" if engine.id == engine.engine_family else ""
    return f"{engine.engine_family} {engine.versions}{current}"


def _print_record(title: str, payload: dict[str, object]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in payload.items():
        table.add_row(key, str(value))
    console.print(table)


@precisions_app.command("list")
@handle_errors
def precisions_list(search: SearchOpt = None, json_out: JsonOpt = False) -> None:
    """Weight formats (--precision) and KV-cache formats (--kv-precision)."""
    cat = catalog()
    weights = [w for w in cat.weight_formats if _matches(search, w.id, *w.aliases)]
    kvs = [k for k in cat.kv_formats if _matches(search, k.id, *k.aliases)]
    if json_out:
        print_json(
            {
                "weight_formats": [w.model_dump(mode="json") for w in weights],
                "kv_formats": [k.model_dump(mode="json") for k in kvs],
            }
        )
        return
    table = Table(title="Weight precisions (--precision)")
    for column in ("id", "bits/weight", "computes in", "aliases", "description"):
        table.add_column(column)
    for w in weights:
        table.add_row(
            w.id,
            f"{w.bits_per_weight:.3g}",
            w.compute_dtype.value,
            ", ".join(w.aliases),
            w.description,
        )
    console.print(table)
    kv_table = Table(title="KV-cache precisions (--kv-precision)")
    for column in ("id", "bits/element", "aliases", "description"):
        kv_table.add_column(column)
    for k in kvs:
        kv_table.add_row(k.id, f"{k.bits_per_element:.3g}", ", ".join(k.aliases), k.description)
    console.print(kv_table)
