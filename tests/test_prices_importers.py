"""The gpuhunt and LiteLLM parsers, on small fixture files (tests/fixtures/prices)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from llmplan.errors import InputError
from llmplan.prices import ImportedPrices, Pricing, bundled_prices, match_gpu_name
from llmplan.prices.checks import WarningLog, gpu_hour_warning, looks_per_million
from llmplan.prices.importers import parse_gpuhunt_csv, parse_litellm_json

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
DAY = dt.date(2026, 12, 1)
BOOK = bundled_prices()
HEADER = (
    "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,"
    "gpu_vendor,flags,cpu_arch,provider_data\n"
)


def _gpuhunt(name: str, *, strict: bool = True) -> ImportedPrices:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return parse_gpuhunt_csv(
        text, provider="aws", where=name, book=BOOK, imported_on=DAY, strict=strict
    )


def _litellm(name: str, *, strict: bool = True) -> ImportedPrices:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return parse_litellm_json(text, where=name, imported_on=DAY, strict=strict)


# --- gpuhunt ---------------------------------------------------------------------------
def test_gpuhunt_rows_become_cloud_prices() -> None:
    result = _gpuhunt("aws.csv")
    assert result.rows_read == 9
    offers = {(c.instance, c.pricing): c for c in result.entries.cloud}
    assert set(offers) == {
        ("p5.48xlarge", Pricing.ON_DEMAND),
        ("p5.48xlarge", Pricing.SPOT),
        ("g6e.24xlarge", Pricing.ON_DEMAND),
        ("p4d.24xlarge", Pricing.ON_DEMAND),
        ("g6.xlarge", Pricing.SPOT),
    }
    p5 = offers[("p5.48xlarge", Pricing.ON_DEMAND)]
    assert (p5.gpu, p5.gpus, p5.region, p5.provider) == ("H100-SXM-80GB", 8, "us-east-1", "aws")
    assert p5.usd_per_hour == 55.04  # the cheaper of two duplicate rows (55.04 and 60.0)
    assert p5.usd_per_gpu_hour == pytest.approx(6.88, abs=1e-9)
    assert p5.price_date == DAY and "aws.csv" in p5.source
    assert offers[("p4d.24xlarge", Pricing.ON_DEMAND)].gpu == "A100-SXM-40GB"
    assert offers[("g6e.24xlarge", Pricing.ON_DEMAND)].gpu == "L40S-48GB"


def test_gpuhunt_skips_are_counted_with_reasons() -> None:
    result = _gpuhunt("aws.csv")
    assert result.skipped == {
        "no GPU": 1,
        "GPU not in catalog: T4 16 GB": 1,
        "duplicate offer": 1,
        "zero or negative price": 1,
    }
    assert result.imported + sum(result.skipped.values()) == result.rows_read


def test_gpuhunt_warns_about_outliers_and_zero_prices() -> None:
    warnings = _gpuhunt("aws.csv").warnings
    assert any("line 9: g6.xlarge" in w and "below $0.05" in w for w in warnings)
    assert any("line 10" in w and "zero or negative price" in w for w in warnings)
    assert len(warnings) == 2


def test_gpuhunt_malformed_row_names_file_line_and_field() -> None:
    with pytest.raises(InputError) as info:
        _gpuhunt("gpuhunt-malformed.csv")
    assert str(info.value) == (
        "gpuhunt-malformed.csv: line 3: field 'price': not a number ('about sixty')"
    )


def test_gpuhunt_malformed_rows_can_be_skipped() -> None:
    result = _gpuhunt("gpuhunt-malformed.csv", strict=False)
    assert result.imported == 2
    assert result.skipped == {"malformed row": 1}
    assert result.warnings == (
        "gpuhunt-malformed.csv: line 3: field 'price': not a number ('about sixty')",
    )


def test_gpuhunt_header_problems() -> None:
    with pytest.raises(InputError, match=r"line 1: missing column\(s\) spot"):
        _gpuhunt("gpuhunt-missing-column.csv")
    with pytest.raises(InputError, match="empty file"):
        parse_gpuhunt_csv("", provider="aws", where="x.csv", book=BOOK, imported_on=DAY)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("i,us,1.0,4,16,1,H100,80,maybe,,nvidia,,x86,{}", "spot"),
        ("i,us,1.0,4,16,1.5,H100,80,False,,nvidia,,x86,{}", "gpu_count"),
        ("i,us,1.0,4,16,1,H100", "gpu_memory"),
        ("i,us,inf,4,16,1,H100,80,False,,nvidia,,x86,{}", "price"),
    ],
)
def test_gpuhunt_bad_values(row: str, field: str) -> None:
    with pytest.raises(InputError, match=rf"x.csv: line 2: field '{field}'"):
        parse_gpuhunt_csv(
            HEADER + row + "\n", provider="p", where="x.csv", book=BOOK, imported_on=DAY
        )


@pytest.mark.parametrize(
    ("name", "memory_gb", "instance", "gpu"),
    [
        ("H100", 80, "gpu_1x_h100_sxm5", "H100-SXM-80GB"),
        ("H100", 80, "gpu_1x_h100_pcie", "H100-PCIe-80GB"),
        ("A100", 80, "a2-ultragpu-1g", "A100-SXM-80GB"),
        ("a100", 40, "p4d.24xlarge", "A100-SXM-40GB"),
        ("RTX4090", 24, "x", "RTX-4090-24GB"),
        ("MI325X", 288, "x", "MI325X-256GB"),  # gpuhunt's memory figure for MI325X
        ("B200", 179, "x", "B200-180GB"),
        ("RTX5090", 32, "x", "RTX-5090-32GB"),  # not mapped: found by catalog alias
        ("H20", 96, "x", "H20-96GB"),
        ("T4", 16, "x", None),
        ("A100", 16, "x", None),  # name known, memory does not fit
    ],
)
def test_gpu_name_mapping(name: str, memory_gb: float, instance: str, gpu: str | None) -> None:
    assert match_gpu_name(name, memory_gb, instance, BOOK) == gpu


# --- LiteLLM ---------------------------------------------------------------------------
def test_litellm_chat_entries_become_api_prices() -> None:
    result = _litellm("litellm-sample.json")
    assert result.rows_read == 10
    prices = {p.id: p for p in result.entries.api}
    assert set(prices) == {
        "gpt-5",
        "gemini/gemini-2.5-pro",
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "example/very-expensive",
    }
    gpt5 = prices["gpt-5"]
    assert (gpt5.provider, gpt5.model) == ("openai", "gpt-5")
    assert (gpt5.input_usd_per_mtok, gpt5.output_usd_per_mtok) == (1.25, 10.0)
    assert gpt5.cached_input_usd_per_mtok == 0.125
    assert (gpt5.batch_input_usd_per_mtok, gpt5.batch_output_usd_per_mtok) == (0.625, 5.0)
    assert gpt5.max_input_tokens == 272_000
    assert gpt5.deprecation_date == dt.date(2026, 12, 11)
    pro = prices["gemini/gemini-2.5-pro"]
    assert (pro.provider, pro.model) == ("gemini", "gemini-2.5-pro")
    assert pro.long_context_threshold_tokens == 200_000
    assert (pro.long_context_input_usd_per_mtok, pro.long_context_output_usd_per_mtok) == (
        2.5,
        15.0,
    )
    llama = prices["together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"]
    assert llama.model == "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert llama.input_usd_per_mtok == 1.04  # 1.04e-06 x 1e6 without float noise


def test_litellm_skips_are_counted_with_reasons() -> None:
    result = _litellm("litellm-sample.json")
    assert result.skipped == {
        "sample_spec": 1,
        "mode embedding": 1,
        "mode image_generation": 1,
        "zero or negative price": 1,
        "price per million given as per token": 1,
        "no mode": 1,
    }


def test_litellm_warns_about_units_and_outliers() -> None:
    warnings = _litellm("litellm-sample.json").warnings
    assert any("'example/confused-units'" in w and "per million" in w for w in warnings)
    assert any("'example/very-expensive': input $1,500.00" in w for w in warnings)
    assert any("'example/very-expensive': output $6,000.00" in w for w in warnings)
    assert len(warnings) == 3


def test_litellm_malformed_json_names_line() -> None:
    with pytest.raises(InputError, match=r"litellm-malformed.json: line 6 column 3: malformed"):
        _litellm("litellm-malformed.json")


def test_litellm_bad_value_names_entry_line_and_field() -> None:
    with pytest.raises(InputError) as info:
        _litellm("litellm-bad-value.json")
    assert str(info.value) == (
        "litellm-bad-value.json: line 8: entry 'cheap-model' field 'input_cost_per_token': "
        "not a number ('cheap')"
    )
    lenient = _litellm("litellm-bad-value.json", strict=False)
    assert [p.id for p in lenient.entries.api] == ["gpt-5"]
    assert lenient.skipped == {"malformed entry": 1}


def test_litellm_needs_an_object() -> None:
    with pytest.raises(InputError, match="expected a JSON object"):
        parse_litellm_json("[1, 2]", where="x.json", imported_on=DAY)


def test_litellm_drops_cache_price_above_input() -> None:
    text = (
        '{"m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, '
        '"cache_read_input_token_cost": 5e-06, "litellm_provider": "p", "mode": "chat"}}'
    )
    result = parse_litellm_json(text, where="x.json", imported_on=DAY)
    assert result.entries.api[0].cached_input_usd_per_mtok is None
    assert result.warnings == ("entry 'm': cache-read price above the input price; dropped",)


# --- checks ----------------------------------------------------------------------------
def test_check_thresholds() -> None:
    assert gpu_hour_warning(0.04) and gpu_hour_warning(31.0)
    assert gpu_hour_warning(2.5) is None
    assert looks_per_million(3.0) and not looks_per_million(6e-4)  # o1-pro-like $600/M


def test_warning_log_caps_each_kind() -> None:
    log = WarningLog(shown_per_kind=2)
    for i in range(5):
        log.warn("outlier", f"w{i}")
    log.warn("units", "u")
    assert log.summary() == ("w0", "w1", "u", "... and 3 more 'outlier' warnings")
