"""``llmplan prices list|import``: the price catalogs and their importers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from llmplan.cli.common import console, handle_errors, print_json, user_home
from llmplan.errors import InputError
from llmplan.limits import MAX_DATA_FILE_BYTES, check_regular_file
from llmplan.prices.loader import load_prices
from llmplan.prices.schema import ApiPrice, CloudPrice, HardwarePrice, Pricing
from llmplan.prices.select import PriceKind, price_kinds, price_record, select_prices
from llmplan.prices.user import ImportResult, import_gpuhunt, import_litellm

prices_app = typer.Typer(
    help="Prices: buying GPUs and servers, renting cloud GPUs, paying per token.",
    no_args_is_help=True,
)

TABLE_ROWS = 100
"""Rows shown per table unless --limit says otherwise (JSON lists everything)."""


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _date(entry: HardwarePrice | CloudPrice | ApiPrice) -> str:
    text = entry.price_date.isoformat()
    return {"year": text[:4], "month": text[:7]}.get(entry.date_precision.value, text)


def _hardware_table(rows: Sequence[Any]) -> Table:
    table = Table(title="Hardware purchase prices (USD)", title_justify="left")
    for column in ("id", "kind", "gpu", "gpus", "price", "per GPU", "date", "secondary"):
        table.add_column(
            column, justify="right" if column in ("gpus", "price", "per GPU") else "left"
        )
    for h in rows:
        table.add_row(
            h.id,
            h.kind.value,
            h.gpu,
            str(h.gpus),
            f"{h.price_usd:,.0f}",
            f"{h.usd_per_gpu:,.0f}",
            _date(h),
            "yes" if h.secondary else "",
        )
    return table


def _cloud_table(rows: Sequence[Any]) -> Table:
    table = Table(title="Cloud GPU prices (USD per hour)", title_justify="left")
    columns = ("provider", "instance", "region", "gpu", "gpus", "pricing", "$/h", "$/GPU-h")
    for column in (*columns, "date", "secondary"):
        table.add_column(
            column, justify="right" if column in ("gpus", "$/h", "$/GPU-h") else "left"
        )
    for c in rows:
        table.add_row(
            c.provider,
            c.instance,
            c.region,
            c.gpu,
            str(c.gpus),
            c.pricing.value,
            f"{c.usd_per_hour:,.3f}",
            f"{c.usd_per_gpu_hour:,.3f}",
            _date(c),
            "yes" if c.secondary else "",
        )
    return table


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _api_table(rows: Sequence[Any]) -> Table:
    table = Table(title="API prices (USD per million tokens)", title_justify="left")
    columns = ("id", "provider", "region", "input", "cached input", "output", "open model", "date")
    for column in columns:
        table.add_column(column, justify="right" if "put" in column else "left")
    for p in rows:
        table.add_row(
            p.id,
            p.provider,
            p.region,
            _money(p.input_usd_per_mtok),
            _money(p.cached_input_usd_per_mtok),
            _money(p.output_usd_per_mtok),
            p.open_model or "",
            _date(p),
        )
    return table


_TABLES = {
    PriceKind.HARDWARE: _hardware_table,
    PriceKind.CLOUD: _cloud_table,
    PriceKind.API: _api_table,
}


@prices_app.command("list")
@handle_errors
def prices_list(
    kind: Annotated[
        PriceKind | None, typer.Option("--kind", help="Only one kind of price.")
    ] = None,
    gpu: Annotated[
        str | None, typer.Option("--gpu", help="Only hardware and cloud prices for this GPU.")
    ] = None,
    pricing: Annotated[
        Pricing | None, typer.Option("--pricing", help="Only cloud prices bought this way.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Only entries whose names contain this.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, help=f"At most N rows per kind (tables: {TABLE_ROWS}; 0 = all)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List prices (bundled and imported), cheapest first, with their dates and sources."""
    book = load_prices(user_home())
    kinds = price_kinds(kind, gpu, pricing, prefix="--")
    selected = {k: select_prices(book, k, gpu, pricing, search) for k in kinds}
    cap = limit if limit is not None else (0 if json_out else TABLE_ROWS)
    if json_out:
        print_json(
            {
                k.value: [price_record(e, book) for e in rows[: cap or None]]
                for k, rows in selected.items()
            }
        )
        return
    for k, rows in selected.items():
        table = _TABLES[k](rows[: cap or None])
        shown = (
            f"showing {cap} of {len(rows)}; --limit 0 shows all. " if 0 < cap < len(rows) else ""
        )
        table.caption = f"{shown}Sources and notes: --json"
        console.print(table)


def _report(kind: str, result: ImportResult) -> None:
    console.print(
        f"imported {result.imported:,} {kind} prices from {result.source} into {result.path}",
        highlight=False,
    )
    if result.skipped:
        reasons = ", ".join(f"{r}: {n:,}" for r, n in sorted(result.skipped.items()))
        console.print(f"skipped {sum(result.skipped.values()):,} ({reasons})", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def _payload(result: ImportResult) -> dict[str, Any]:
    return {
        "file": str(result.path),
        "source": result.source,
        "imported": result.imported,
        "rows_read": result.rows_read,
        "skipped": dict(result.skipped),
        "warnings": list(result.warnings),
    }


@prices_app.command("import")
@handle_errors
def prices_import(
    gpuhunt: Annotated[
        str | None,
        typer.Option(
            "--gpuhunt",
            metavar="FILE_OR_PROVIDER",
            help="A gpuhunt {provider}.csv or catalog.zip; with --online, a provider name "
            "(aws, azure, gcp, lambdalabs, ...) to download.",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Provider of a gpuhunt file (default: the CSV name)."),
    ] = None,
    litellm: Annotated[
        str | None,
        typer.Option(
            "--litellm",
            metavar="FILE",
            help="LiteLLM model_prices_and_context_window.json; with --online, 'latest' or a URL.",
        ),
    ] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Allow downloading (needs the httpx package).")
    ] = False,
    skip_malformed: Annotated[
        bool,
        typer.Option("--skip-malformed", help="Skip and count malformed rows instead of failing."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import cloud prices (gpuhunt) or API prices (LiteLLM) into $LLMPLAN_HOME/prices."""
    if gpuhunt is None and litellm is None:
        raise InputError("give --gpuhunt FILE_OR_PROVIDER and/or --litellm FILE", field="import")
    home = user_home()
    for name, value in (("gpuhunt", gpuhunt), ("litellm", litellm)):
        if value is not None and not online and Path(value).exists():  # no FIFO or device
            check_regular_file(Path(value), name, MAX_DATA_FILE_BYTES)
    results: dict[str, ImportResult] = {}
    if gpuhunt is not None:
        results["cloud"] = import_gpuhunt(
            gpuhunt, home, online=online, provider=provider, strict=not skip_malformed
        )
    if litellm is not None:
        results["api"] = import_litellm(litellm, home, online=online, strict=not skip_malformed)
    if json_out:
        print_json({kind: _payload(result) for kind, result in results.items()})
        return
    for kind, result in results.items():
        _report(kind, result)
