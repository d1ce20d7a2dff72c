"""The catalogs (GPUs, models, engines, precisions) and prices, with search.

``search`` keeps entries whose id, name or an alias contains it (any case; spaces and
underscores read as hyphens), as ``llmplan gpus list --search`` does. Entries are what
``llmplan ... list --json`` prints: every field with its source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query

from llmplan.api.errors import ApiError
from llmplan.api.schemas import CatalogPage, Payload
from llmplan.api.state import API_PREFIX, State
from llmplan.application.serialize import clean
from llmplan.catalog.params import count_params
from llmplan.errors import UnknownNameError
from llmplan.limits import MAX_DATABASE_INT
from llmplan.prices.schema import Pricing
from llmplan.prices.select import PriceKind, matches, price_kinds, price_record, select_prices

router = APIRouter(prefix=f"{API_PREFIX}/catalog", tags=["catalog"])
Search = Annotated[str | None, Query(max_length=200, description="Names containing this.")]
Limit = Annotated[int, Query(ge=0, le=1000, description="At most this many (0: all).")]
Offset = Annotated[int, Query(ge=0, le=MAX_DATABASE_INT)]


def page(records: Sequence[dict[str, Any]], limit: int, offset: int) -> CatalogPage:
    chosen = records[offset : offset + limit] if limit else records[offset:]
    return CatalogPage(
        items=[clean(r) for r in chosen], total=len(records), limit=limit, offset=offset
    )


def _not_found(exc: UnknownNameError) -> ApiError:
    return ApiError(404, "not_found", str(exc), exc.field)


@router.get("/gpus", summary="GPUs (memory, bandwidth, peak compute, sources)")
async def gpus(
    state: State, search: Search = None, limit: Limit = 0, offset: Offset = 0
) -> CatalogPage:
    found = [
        g
        for g in (await state.catalogs.current_catalog()).gpus
        if matches(search, g.id, g.name, *g.aliases)
    ]
    return page([g.model_dump(mode="json") for g in found], limit, offset)


@router.get("/gpus/{name}", summary="One GPU, every field")
async def gpu(name: str, state: State) -> Payload:
    try:
        return clean((await state.catalogs.current_catalog()).gpu(name).model_dump(mode="json"))
    except UnknownNameError as exc:
        raise _not_found(exc) from None


def _model_record(model: Any) -> dict[str, Any]:
    counts = count_params(model)
    payload: dict[str, Any] = model.model_dump(mode="json")
    return payload | {"counted_params_total": counts.total, "counted_params_active": counts.active}


@router.get("/models", summary="Models (architecture, parameters, sources)")
async def models(
    state: State, search: Search = None, limit: Limit = 0, offset: Offset = 0
) -> CatalogPage:
    found = [
        m
        for m in (await state.catalogs.current_catalog()).models
        if matches(search, m.id, *m.aliases)
    ]
    return page([_model_record(m) for m in found], limit, offset)


@router.get("/models/{name:path}", summary="One model, every field (ids contain '/')")
async def model(name: str, state: State) -> Payload:
    try:
        return clean(_model_record((await state.catalogs.current_catalog()).model(name)))
    except UnknownNameError as exc:
        raise _not_found(exc) from None


@router.get("/engines", summary="Serving-engine profiles and how they were obtained")
async def engines(
    state: State, search: Search = None, limit: Limit = 0, offset: Offset = 0
) -> CatalogPage:
    found = [
        e for e in (await state.catalogs.current_catalog()).engines if matches(search, e.id, e.name)
    ]
    return page([e.model_dump(mode="json") for e in found], limit, offset)


@router.get("/engines/{name}", summary="One engine profile")
async def engine(name: str, state: State) -> Payload:
    try:
        return clean((await state.catalogs.current_catalog()).engine(name).model_dump(mode="json"))
    except UnknownNameError as exc:
        raise _not_found(exc) from None


@router.get("/precisions", summary="Weight formats and KV-cache formats")
async def precisions(state: State, search: Search = None) -> Payload:
    catalog = await state.catalogs.current_catalog()
    return {
        "weight_formats": [
            clean(w.model_dump(mode="json"))
            for w in catalog.weight_formats
            if matches(search, w.id, *w.aliases)
        ],
        "kv_formats": [
            clean(k.model_dump(mode="json"))
            for k in catalog.kv_formats
            if matches(search, k.id, *k.aliases)
        ],
    }


@router.get("/prices", summary="Hardware, cloud and API prices, cheapest first, with sources")
async def prices(
    state: State,
    kind: Annotated[PriceKind | None, Query(description="Only one kind.")] = None,
    gpu: Annotated[str | None, Query(description="Only hardware and cloud prices.")] = None,
    pricing: Annotated[Pricing | None, Query(description="Only cloud prices.")] = None,
    search: Search = None,
    limit: Limit = 0,
) -> dict[str, list[Payload]]:
    """``llmplan prices list --json``: one list per kind (API prices have no GPU, and
    ``pricing`` applies to cloud prices only)."""
    kinds = price_kinds(kind, gpu, pricing)
    book = await state.catalogs.current_prices()
    out: dict[str, list[Payload]] = {}
    for k in kinds:
        rows = list(select_prices(book, k, gpu, pricing, search))
        out[k.value] = [clean(price_record(r, book)) for r in rows[: limit or None]]
    return out
