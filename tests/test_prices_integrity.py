"""Integrity of every bundled price entry (in the manner of gpuhunt's catalog tests).

Plausible ranges are stated per check; they are wider than any price in the sources and
narrower than a unit slip (cents for dollars, per instance for per GPU, per token for per
million tokens).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from importlib import resources

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.prices import (
    ApiPrice,
    CloudPrice,
    HardwareKind,
    HardwarePrice,
    Pricing,
    bundled_prices,
    read_price_file,
)
from llmplan.prices.loader import bundled_entries

BOOK = bundled_prices()
TODAY = dt.date(2026, 12, 5)  # the day these files were written; no price may be newer
OLDEST = dt.date(2020, 1, 1)

USD_PER_GPU_RANGE = {
    HardwareKind.GPU: (200.0, 60_000.0),
    HardwareKind.BASEBOARD: (5_000.0, 60_000.0),
    HardwareKind.SERVER: (1_000.0, 80_000.0),
    HardwareKind.RACK: (10_000.0, 80_000.0),
}
USD_PER_GPU_HOUR_RANGE = (0.10, 25.0)
USD_PER_MTOK_RANGE = (0.01, 200.0)
RESERVED_ORDER = (Pricing.ON_DEMAND, Pricing.RESERVED_1Y, Pricing.RESERVED_3Y, Pricing.RESERVED_5Y)


def _id(entry: HardwarePrice | CloudPrice | ApiPrice) -> str:
    if isinstance(entry, CloudPrice):
        return f"{entry.provider}/{entry.instance}/{entry.pricing.value}"
    return entry.id


ALL_ENTRIES = [*BOOK.hardware, *BOOK.cloud, *BOOK.api]


def test_bundled_files_hold_every_kind() -> None:
    folder = resources.files("llmplan").joinpath("data").joinpath("prices")
    names = sorted(f.name for f in folder.iterdir() if f.name.endswith(".yaml"))
    assert names == [
        "api.yaml",
        "cloud.yaml",
        "gpuhunt-names.yaml",
        "hardware.yaml",
        "market-2026.yaml",
        "providers.yaml",
    ]
    counts = {name: len(read_price_file(folder.joinpath(name))) for name in names}
    assert counts == {
        "api.yaml": 10,
        "cloud.yaml": 28,
        "gpuhunt-names.yaml": 27,
        "hardware.yaml": 41,
        "market-2026.yaml": 27,
        "providers.yaml": 11,
    }
    assert len(bundled_entries()) == sum(counts.values())


@pytest.mark.parametrize("entry", ALL_ENTRIES, ids=_id)
def test_entry_has_source_date_and_dollars(entry: HardwarePrice | CloudPrice | ApiPrice) -> None:
    assert len(entry.source.strip()) >= 8
    assert OLDEST <= entry.price_date <= TODAY
    assert entry.currency == "USD"
    if "secondary" in entry.source.lower() or "via a secondary" in entry.notes.lower():
        assert entry.secondary, "a source that says it is secondary must be marked so"


@pytest.mark.parametrize("entry", BOOK.hardware, ids=_id)
def test_hardware_price_is_plausible(entry: HardwarePrice, catalog: Catalog) -> None:
    assert entry.gpu in catalog.gpus.ids()
    low, high = USD_PER_GPU_RANGE[entry.kind]
    assert low <= entry.usd_per_gpu <= high
    if entry.kind is HardwareKind.GPU:
        assert entry.gpus == 1
    assert entry.gpus <= catalog.gpu(entry.gpu).max_gpus_per_node or entry.kind is HardwareKind.RACK


@pytest.mark.parametrize("entry", BOOK.cloud, ids=_id)
def test_cloud_price_is_plausible(entry: CloudPrice, catalog: Catalog) -> None:
    assert entry.gpu in catalog.gpus.ids()
    low, high = USD_PER_GPU_HOUR_RANGE
    assert low <= entry.usd_per_gpu_hour <= high
    assert entry.gpus <= catalog.gpu(entry.gpu).max_gpus_per_node


@pytest.mark.parametrize("entry", BOOK.api, ids=_id)
def test_api_price_is_plausible(entry: ApiPrice, catalog: Catalog) -> None:
    low, high = USD_PER_MTOK_RANGE
    assert low <= entry.input_usd_per_mtok <= high
    assert low <= entry.output_usd_per_mtok <= high
    assert entry.output_usd_per_mtok >= entry.input_usd_per_mtok
    if entry.cached_input_usd_per_mtok is not None:
        assert entry.cached_input_usd_per_mtok <= entry.input_usd_per_mtok
    if entry.open_model is not None:
        assert entry.open_model in catalog.models.ids()


def test_longer_commitments_never_cost_more() -> None:
    """Same provider, instance and region: on-demand >= 1y >= 3y >= 5y, spot <= on-demand."""
    offers: dict[tuple[str, str, str], dict[Pricing, float]] = defaultdict(dict)
    for c in BOOK.cloud:
        offers[(c.provider, c.instance, c.region)][c.pricing] = c.usd_per_hour
    reserved_groups = spot_pairs = 0
    for key, prices in offers.items():
        present = [prices[p] for p in RESERVED_ORDER if p in prices]
        assert present == sorted(present, reverse=True), key
        reserved_groups += len(present) > 1
        if Pricing.SPOT in prices and Pricing.ON_DEMAND in prices:
            assert prices[Pricing.SPOT] <= prices[Pricing.ON_DEMAND], key
            spot_pairs += 1
    # Azure H100, GCP H200/B200; Spheron x 3, Nebius H100, RunPod RTX 4090
    assert (reserved_groups, spot_pairs) == (3, 5)


def test_gpu_catalog_prices_are_mirrored(catalog: Catalog) -> None:
    """Every GPU catalog price_usd appears in hardware.yaml with the same figure and date."""
    for gpu in catalog.gpus:
        if gpu.price_usd is None:
            continue
        mirrors = [
            h for h in BOOK.hardware if h.gpu == gpu.id and abs(h.usd_per_gpu - gpu.price_usd) < 1.0
        ]
        assert mirrors, f"{gpu.id}: ${gpu.price_usd} missing from hardware.yaml"
        assert gpu.price_date in {h.price_date for h in mirrors}, gpu.id


def test_lenovo_lp2368_figures_are_exact() -> None:
    """The exact system and cloud prices printed in LP2368 (2026-01-15 / 2025-12-23)."""
    servers = {h.id: h.price_usd for h in BOOK.hardware if h.id.startswith("lenovo-")}
    assert servers == {
        "lenovo-sr680a-v3-8x-h100": 250_141.80,
        "lenovo-sr680a-v3-8x-h200": 277_897.75,
        "lenovo-sr680a-v3-8x-b200": 338_495.75,
        "lenovo-sr680a-v4-8x-b300": 461_567.50,
        "lenovo-sr650a-v4-4x-l40s": 52_390.50,
    }
    azure = {c.pricing: c.usd_per_hour for c in BOOK.cloud_prices("H100", provider="azure")}
    assert azure == {
        Pricing.ON_DEMAND: 98.32,
        Pricing.RESERVED_1Y: 62.92,
        Pricing.RESERVED_3Y: 43.16,
        Pricing.RESERVED_5Y: 39.32,
    }
    p6 = BOOK.cloud_prices("B300", Pricing.ON_DEMAND, provider="aws")
    assert [c.usd_per_hour for c in p6] == [142.416]


def test_litellm_sample_values() -> None:
    """Values of the LiteLLM 1.109.1 sample (per token x 1e6), exact as printed."""
    gpt5 = BOOK.api_price("gpt-5")
    assert (gpt5.input_usd_per_mtok, gpt5.cached_input_usd_per_mtok) == (1.25, 0.125)
    assert (gpt5.output_usd_per_mtok, gpt5.batch_output_usd_per_mtok) == (10.0, 5.0)
    pro = BOOK.api_price("gemini/gemini-2.5-pro")
    assert (pro.long_context_input_usd_per_mtok, pro.long_context_output_usd_per_mtok) == (
        2.5,
        15.0,
    )
    llama = BOOK.api_price("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert llama.open_model == "meta-llama/Llama-3.3-70B-Instruct"


def test_gpuhunt_names_point_at_matching_memory(catalog: Catalog) -> None:
    """A mapping's memory is within 10 % of the GPU's, or its notes explain the gap."""
    for mapping in BOOK.gpuhunt_names:
        memory = catalog.gpu(mapping.gpu).memory_gib
        assert abs(mapping.memory_gb - memory) <= 0.10 * memory or mapping.notes, mapping
