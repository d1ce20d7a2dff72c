"""A validated set of prices and the questions the planner asks of it.

GPU names resolve through the GPU catalog (ids, aliases, partial names); API model names
resolve like catalog names: case-insensitively, spaces and underscores read as hyphens, by
id, alias, model name or ``provider/model``; unknown names raise
:class:`~llmplan.errors.UnknownNameError` with the closest matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from llmplan.catalog.loader import Registry, normalise_name
from llmplan.catalog.schema import GpuSpec
from llmplan.errors import UnknownNameError
from llmplan.prices.schema import (
    ApiPrice,
    Attestation,
    CloudPrice,
    GpuNameMapping,
    HardwareKind,
    HardwarePrice,
    Pricing,
    ProviderProfile,
)

# Which purchase price stands for a GPU: whole servers first (what a buyer pays per GPU),
# then baseboards, racks, and bare GPUs last.
_KIND_PREFERENCE = {
    HardwareKind.SERVER: 0,
    HardwareKind.BASEBOARD: 1,
    HardwareKind.RACK: 2,
    HardwareKind.GPU: 3,
}


@dataclass(frozen=True)
class PurchaseQuote:
    """The purchase price chosen for one GPU: ``entry``'s price divided by its GPU count."""

    gpu: str
    usd_per_gpu: float
    basis: HardwareKind
    entry: HardwarePrice


def api_lookup_names(price: ApiPrice) -> set[str]:
    """Every normalised name a user may type for ``price``."""
    names = {price.id, price.model, f"{price.provider}/{price.model}", *price.aliases}
    return {normalise_name(n) for n in names}


@dataclass(frozen=True)
class PriceBook:
    """Hardware, cloud and API prices, with the GPU catalog used to resolve GPU names."""

    hardware: tuple[HardwarePrice, ...]
    cloud: tuple[CloudPrice, ...]
    api: tuple[ApiPrice, ...]
    gpuhunt_names: tuple[GpuNameMapping, ...]
    gpus: Registry[GpuSpec]
    providers: tuple[ProviderProfile, ...] = ()

    def attestations(self, price: CloudPrice | ApiPrice) -> tuple[tuple[Attestation, ...], str]:
        """(attestations, their source) of ``price``: its own list, else its provider's
        (``providers`` in the price files), else none."""
        if price.attestations is not None:
            return price.attestations, price.attestations_source or price.source
        for profile in self.providers:
            if profile.provider == price.provider:
                return profile.attestations, f"{profile.source} ({profile.checked_date})"
        return (), ""

    def resolve_gpu(self, name: str) -> str:
        """The catalog id of GPU ``name`` (id, alias or unambiguous part of one)."""
        return self.gpus.get(name, field_name="gpu").id

    # --- purchase prices ----------------------------------------------------------------
    def hardware_prices(
        self, gpu: str | None = None, kind: HardwareKind | None = None
    ) -> tuple[HardwarePrice, ...]:
        """Purchase prices, optionally for one GPU and one kind, cheapest per GPU first."""
        gpu_id = self.resolve_gpu(gpu) if gpu else None
        found = [
            h
            for h in self.hardware
            if (gpu_id is None or h.gpu == gpu_id) and (kind is None or h.kind is kind)
        ]
        return tuple(sorted(found, key=lambda h: (h.usd_per_gpu, h.id)))

    def purchase_price(self, gpu: str) -> PurchaseQuote | None:
        """The price to buy one GPU, or None when no price is known.

        Prefers a whole-server price divided by its GPU count (what a buyer pays per GPU,
        chassis included), then baseboards, racks and bare-GPU prices; within a kind,
        primary sources before secondary ones, then the most recent price.
        """
        candidates = self.hardware_prices(gpu)
        if not candidates:
            return None
        best = min(
            candidates,
            key=lambda h: (_KIND_PREFERENCE[h.kind], h.secondary, -h.price_date.toordinal()),
        )
        return PurchaseQuote(best.gpu, best.usd_per_gpu, best.kind, best)

    # --- cloud prices -------------------------------------------------------------------
    def cloud_prices(
        self,
        gpu: str | None = None,
        pricing: Pricing | None = None,
        *,
        provider: str | None = None,
        include_secondary: bool = True,
    ) -> tuple[CloudPrice, ...]:
        """Cloud offers matching the filters, cheapest per GPU-hour first."""
        gpu_id = self.resolve_gpu(gpu) if gpu else None
        wanted_provider = normalise_name(provider) if provider else None
        found = [
            c
            for c in self.cloud
            if (gpu_id is None or c.gpu == gpu_id)
            and (pricing is None or c.pricing is pricing)
            and (wanted_provider is None or normalise_name(c.provider) == wanted_provider)
            and (include_secondary or not c.secondary)
        ]
        return tuple(sorted(found, key=_cloud_order))

    def cheapest_cloud_price(
        self,
        gpu: str,
        pricing: Pricing = Pricing.ON_DEMAND,
        *,
        provider: str | None = None,
        include_secondary: bool = True,
    ) -> CloudPrice | None:
        """The lowest price per GPU-hour for ``gpu`` bought as ``pricing``, or None.

        Ties go to the most recent price. Use ``.usd_per_gpu_hour`` on the result.
        """
        found = self.cloud_prices(
            gpu, pricing, provider=provider, include_secondary=include_secondary
        )
        return found[0] if found else None

    # --- API prices ---------------------------------------------------------------------
    def api_prices(self, name: str) -> tuple[ApiPrice, ...]:
        """Every API price for model ``name`` (several providers may serve it), cheapest first.

        Exact names (id, alias, model, ``provider/model``) win; otherwise names containing
        ``name`` as whole hyphen- or slash-separated parts match.
        """
        key = normalise_name(name)
        exact = [p for p in self.api if key in api_lookup_names(p)]
        if exact:
            return _sorted_api(exact)
        pattern = re.compile(rf"(^|[-/]){re.escape(key)}($|[-/])")
        partial = [p for p in self.api if any(pattern.search(n) for n in api_lookup_names(p))]
        if partial:
            return _sorted_api(partial)
        names = sorted({n for p in self.api for n in api_lookup_names(p)})
        suggestions = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise UnknownNameError(
            f"no API price for '{name}'{hint} (see `llmplan prices list --kind api`)",
            field="api_model",
        )

    def api_price(self, name: str, provider: str | None = None) -> ApiPrice:
        """The one API price for ``name`` (optionally from ``provider``).

        An exact id wins; several other matches raise UnknownNameError listing them.
        """
        found = self.api_prices(name)
        if provider:
            wanted = normalise_name(provider)
            offered = sorted({p.provider for p in found})
            found = tuple(p for p in found if normalise_name(p.provider) == wanted)
            if not found:
                raise UnknownNameError(
                    f"no API price for '{name}' from provider '{provider}'; "
                    f"providers with one: {', '.join(offered)}",
                    field="api_provider",
                )
        key = normalise_name(name)
        by_id = [p for p in found if normalise_name(p.id) == key]
        if len(by_id) == 1:
            return by_id[0]
        if len(found) == 1:
            return found[0]
        choices = ", ".join(sorted(p.id for p in found)[:8])
        raise UnknownNameError(
            f"'{name}' matches several API prices; choose one of: {choices}", field="api_model"
        )


def _cloud_order(price: CloudPrice) -> tuple[float, int, str, str]:
    return (price.usd_per_gpu_hour, -price.price_date.toordinal(), price.provider, price.instance)


def _sorted_api(prices: Iterable[ApiPrice]) -> tuple[ApiPrice, ...]:
    return tuple(sorted(prices, key=lambda p: (p.output_usd_per_mtok, p.input_usd_per_mtok, p.id)))
