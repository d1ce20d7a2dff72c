"""Prices: buying hardware, renting cloud GPUs and paying per token.

Price catalogs are dated, sourced YAML files (``llmplan/data/prices``) validated on load;
users add or refresh prices by importing gpuhunt cloud catalogs and LiteLLM's token-price
table into ``<home>/prices``. Nothing is read at import time and nothing is downloaded unless
a caller passes ``online=True``.

>>> from llmplan.prices import Pricing, bundled_prices
>>> book = bundled_prices()
>>> round(book.purchase_price("H100").usd_per_gpu)
31268
>>> book.cheapest_cloud_price("H100", Pricing.RESERVED_5Y).usd_per_gpu_hour
4.915
>>> book.api_price("claude-sonnet-4.5").output_usd_per_mtok
15.0
"""

from llmplan.prices.book import PriceBook, PurchaseQuote
from llmplan.prices.fetch import (
    GPUHUNT_CATALOG_URL,
    LITELLM_PRICES_URL,
    Fetcher,
    http_get,
)
from llmplan.prices.importers import (
    ImportedPrices,
    match_gpu_name,
    parse_gpuhunt_csv,
    parse_litellm_json,
)
from llmplan.prices.loader import (
    PriceEntries,
    bundled_prices,
    load_prices,
    read_price_file,
    user_price_files,
)
from llmplan.prices.schema import (
    ApiPrice,
    CloudPrice,
    DatePrecision,
    GpuNameMapping,
    HardwareKind,
    HardwarePrice,
    Pricing,
)
from llmplan.prices.user import ImportResult, import_gpuhunt, import_litellm, save_user_prices

__all__ = [
    "GPUHUNT_CATALOG_URL",
    "LITELLM_PRICES_URL",
    "ApiPrice",
    "CloudPrice",
    "DatePrecision",
    "Fetcher",
    "GpuNameMapping",
    "HardwareKind",
    "HardwarePrice",
    "ImportResult",
    "ImportedPrices",
    "PriceBook",
    "PriceEntries",
    "Pricing",
    "PurchaseQuote",
    "bundled_prices",
    "http_get",
    "import_gpuhunt",
    "import_litellm",
    "load_prices",
    "match_gpu_name",
    "parse_gpuhunt_csv",
    "parse_litellm_json",
    "read_price_file",
    "save_user_prices",
    "user_price_files",
]
