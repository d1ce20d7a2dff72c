"""Queries on the price book, and loading user price files over the bundled ones."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmplan.errors import CatalogError, UnknownNameError
from llmplan.prices import (
    ApiPrice,
    HardwareKind,
    Pricing,
    bundled_prices,
    load_prices,
    user_price_files,
)

BOOK = bundled_prices()
ABS = 1e-9  # dollars; all figures below are exact decimal quotients


def test_import_reads_no_files() -> None:
    """Importing the package reads nothing: the bundled cache is empty until first use."""
    code = (
        "import llmplan.prices, llmplan.prices.loader as l; "
        "print(l.bundled_entries.cache_info().currsize, l.bundled_prices.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_bundled_prices_is_cached() -> None:
    assert bundled_prices() is BOOK


def test_purchase_price_prefers_a_primary_server_price() -> None:
    """H100: Lenovo 8x H100 at $250,141.80 / 8 = $31,267.725 beats bare-GPU quotes."""
    quote = BOOK.purchase_price("H100")
    assert quote is not None
    assert quote.basis is HardwareKind.SERVER
    assert quote.entry.id == "lenovo-sr680a-v3-8x-h100"
    assert quote.usd_per_gpu == pytest.approx(31_267.725, abs=ABS)


def test_purchase_price_falls_back_to_gpu_and_baseboard_prices() -> None:
    rtx = BOOK.purchase_price("RTX 4090")
    assert rtx is not None and rtx.basis is HardwareKind.GPU
    assert rtx.usd_per_gpu == 1599
    gaudi = BOOK.purchase_price("Gaudi3")
    assert gaudi is not None and gaudi.basis is HardwareKind.BASEBOARD
    assert gaudi.usd_per_gpu == pytest.approx(125_000 / 8, abs=ABS)
    assert BOOK.purchase_price("L4") is None  # no sourced price for the L4


def test_cheapest_cloud_price_per_gpu_hour() -> None:
    """Azure 5-year reservation: $39.32/h for 8 GPUs = $4.915 per GPU-hour."""
    cheapest = BOOK.cheapest_cloud_price("H100-SXM-80GB", Pricing.RESERVED_5Y)
    assert cheapest is not None
    assert cheapest.usd_per_gpu_hour == pytest.approx(4.915, abs=ABS)
    spot = BOOK.cheapest_cloud_price("h100", Pricing.SPOT)
    assert spot is not None and spot.provider == "spheron" and spot.secondary
    primary = BOOK.cheapest_cloud_price("h100", Pricing.ON_DEMAND, include_secondary=False)
    assert primary is not None and primary.instance == "gpu_4x_h100_sxm5"
    assert primary.usd_per_gpu_hour == pytest.approx(16.36 / 4, abs=ABS)
    assert BOOK.cheapest_cloud_price("B200", Pricing.ON_DEMAND, provider="gcp") is None


def test_cloud_prices_are_sorted_per_gpu_hour() -> None:
    prices = [c.usd_per_gpu_hour for c in BOOK.cloud_prices()]
    assert prices == sorted(prices)


def test_unknown_gpu_names_suggest_close_ones() -> None:
    with pytest.raises(UnknownNameError, match="H100"):
        BOOK.cloud_prices("H1000")


def test_api_names_resolve_like_catalog_names() -> None:
    assert BOOK.api_price("Claude Sonnet 4.5").id == "claude-sonnet-4-5"
    assert BOOK.api_price("gemini-2.5-pro").id == "gemini/gemini-2.5-pro"
    assert BOOK.api_price("openai/gpt-5").id == "gpt-5"
    assert BOOK.api_price("gpt-5").id == "gpt-5"  # exact id beats gpt-5-mini, gpt-5.2
    turbo = BOOK.api_price("llama-3.3-70b-instruct-turbo", provider="together_ai")
    assert turbo.provider == "together_ai"  # DeepInfra serves a Turbo too


def test_api_prices_list_every_match_cheapest_first() -> None:
    claude = BOOK.api_prices("claude")
    assert [p.id for p in claude] == ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-5"]
    with pytest.raises(UnknownNameError, match="several"):
        BOOK.api_price("claude")


def test_unknown_api_model_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean: .*gpt-5-mini"):
        BOOK.api_prices("gpt-5-mimi")
    with pytest.raises(UnknownNameError, match="provider 'azure'; providers with one: openai"):
        BOOK.api_price("gpt-5", provider="azure")


def test_usd_per_request_uses_long_context_rates() -> None:
    """Gemini 2.5 Pro: 100k in + 1k out = 0.125 + 0.01; 300k in + 1k out = 0.75 + 0.015."""
    pro = BOOK.api_price("gemini-2.5-pro")
    assert pro.usd_per_request(100_000, 1_000) == pytest.approx(0.135, abs=ABS)
    assert pro.usd_per_request(300_000, 1_000) == pytest.approx(0.765, abs=ABS)


def test_api_price_validation() -> None:
    base = {"id": "m", "provider": "p", "model": "m", "source": "a test source"}
    with pytest.raises(ValueError, match="cached input costs more"):
        ApiPrice.model_validate(
            base
            | {
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 2,
                "cached_input_usd_per_mtok": 3,
                "price_date": "2026-01-01",
            }
        )
    with pytest.raises(ValueError, match="go together"):
        ApiPrice.model_validate(
            base
            | {
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 2,
                "long_context_threshold_tokens": 1000,
                "price_date": "2026-01-01",
            }
        )
    with pytest.raises(ValueError, match="currency"):
        ApiPrice.model_validate(
            base
            | {
                "input_usd_per_mtok": 1,
                "output_usd_per_mtok": 2,
                "price_date": "2026-01-01",
                "currency": "EUR",
            }
        )


# --- user files ------------------------------------------------------------------------
def _write(home: Path, name: str, text: str) -> Path:
    path = home / "prices" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


CHEAP_H100 = """\
cloud:
- provider: lambda
  instance: gpu_1x_h100_sxm5
  region: all
  gpu: H100-SXM-80GB
  gpus: 1
  usd_per_hour: 2.49
  pricing: on_demand
  source: my own quote from the provider
  price_date: 2026-11-30
"""


def test_no_user_folder_means_bundled_prices(tmp_path: Path) -> None:
    assert load_prices(tmp_path) is BOOK
    assert load_prices(None) is BOOK
    assert user_price_files(tmp_path) == []


def test_user_entries_replace_bundled_ones(tmp_path: Path) -> None:
    _write(tmp_path, "mine.yaml", CHEAP_H100)
    book = load_prices(tmp_path)
    assert len(book.cloud) == len(BOOK.cloud)  # replaced, not added
    lambda_h100 = book.cloud_prices("H100", provider="lambda")
    assert 2.49 in {c.usd_per_hour for c in lambda_h100}
    assert 4.29 not in {c.usd_per_hour for c in lambda_h100}


def test_user_file_with_unknown_gpu_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", CHEAP_H100.replace("H100-SXM-80GB", "H100"))
    with pytest.raises(CatalogError, match=rf"{path.name}.*'H100' is not a GPU catalog id"):
        load_prices(tmp_path)


def test_user_file_errors_name_line_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", "# comment\n" + CHEAP_H100.replace("2.49", "-2.49"))
    with pytest.raises(CatalogError, match=r"bad.yaml: line 3 cloud entry .* 'usd_per_hour'"):
        load_prices(tmp_path)
    _write(tmp_path, "bad.yaml", "cloud: [\n")
    with pytest.raises(CatalogError, match=r"bad.yaml: line \d+: malformed YAML"):
        load_prices(tmp_path)
    _write(tmp_path, "bad.yaml", "clouds: []\n")
    with pytest.raises(CatalogError, match="unknown top-level key"):
        load_prices(tmp_path)


def test_duplicates_within_one_file_are_rejected(tmp_path: Path) -> None:
    body = CHEAP_H100.split("\n", 1)[1]
    _write(tmp_path, "dup.yaml", "cloud:\n" + body + body)
    with pytest.raises(CatalogError, match="appears twice"):
        load_prices(tmp_path)


def test_package_docstring_examples() -> None:
    import doctest

    import llmplan.prices

    result = doctest.testmod(llmplan.prices)
    assert result.attempted >= 3 and result.failed == 0
