"""Typed, frozen price records: hardware purchases, cloud GPU-hours and per-token APIs.

Units are in the field names: ``_usd`` US dollars, ``_usd_per_hour`` dollars per instance-hour,
``_usd_per_mtok`` dollars per million tokens, ``_gb`` decimal gigabytes as cloud catalogs print
them. Every record carries a ``source`` and a ``price_date`` (the day the price applied or was
published; ``date_precision`` says when only the month or year is known) and ``secondary`` =
true when the source quotes another one (a blog or an aggregator). All prices are in USD:
``currency`` exists so that a file in another currency fails validation instead of being
read as dollars.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
# Hard bounds catch unit slips (cents for dollars, per-token for per-million); the importers
# warn about merely implausible values well inside them (see llmplan.prices.checks).
PurchaseUsd = Annotated[float, Field(gt=0, le=50_000_000)]
HourlyUsd = Annotated[float, Field(gt=0, le=10_000)]
TokenUsd = Annotated[float, Field(gt=0, le=10_000)]
OptionalTokenUsd = Annotated[float, Field(ge=0, le=10_000)] | None
GpuId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]
Country = Annotated[str, Field(pattern=r"^[a-z]{2}$")]


class Pricing(StrEnum):
    """How a cloud GPU-hour is bought."""

    ON_DEMAND = "on_demand"
    RESERVED_1Y = "reserved_1y"
    RESERVED_3Y = "reserved_3y"
    RESERVED_5Y = "reserved_5y"
    SPOT = "spot"


class HardwareKind(StrEnum):
    """What a purchase price buys: one GPU, a GPU baseboard, a whole server or a rack."""

    GPU = "gpu"
    BASEBOARD = "baseboard"
    SERVER = "server"
    RACK = "rack"


class Attestation(StrEnum):
    """A third-party attestation or contractual commitment a provider holds for a service.

    ``gdpr_dpa``: a GDPR Art. 28 data-processing agreement is offered; ``eu_data_boundary``:
    the provider commits to store and process customer data inside the EU/EEA; ``hipaa_baa``:
    a HIPAA business-associate agreement is signed; ``bsi_c5``: a BSI C5 attestation.
    """

    SOC2 = "soc2"
    ISO27001 = "iso27001"
    HIPAA_BAA = "hipaa_baa"
    BSI_C5 = "bsi_c5"
    GDPR_DPA = "gdpr_dpa"
    EU_DATA_BOUNDARY = "eu_data_boundary"
    PCI_DSS = "pci_dss"
    FEDRAMP = "fedramp"


class DatePrecision(StrEnum):
    """How much of ``price_date`` the source states (the rest is the first day/month)."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class _PriceRecord(BaseModel):
    """Fields every price record has: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Literal["USD"] = "USD"
    source: str = Field(min_length=8)
    price_date: dt.date
    date_precision: DatePrecision = DatePrecision.DAY
    secondary: bool = False
    notes: str = ""


class HardwarePrice(_PriceRecord):
    """The purchase price of GPUs, alone or in a baseboard, server or rack.

    ``price_usd`` is for the whole item (``gpus`` GPUs of catalog id ``gpu``);
    ``price_low_usd``/``price_high_usd`` give the range when the source quotes one
    (``price_usd`` is then the source's point figure or the range midpoint, as ``notes`` say).
    ``includes`` says what the price covers beyond the GPUs.
    """

    id: Slug
    name: str = Field(min_length=3)
    kind: HardwareKind
    vendor: str | None = None
    gpu: GpuId
    gpus: PositiveInt
    price_usd: PurchaseUsd
    price_low_usd: PurchaseUsd | None = None
    price_high_usd: PurchaseUsd | None = None
    includes: str = ""

    @model_validator(mode="after")
    def _check(self) -> HardwarePrice:
        if self.kind is HardwareKind.GPU and self.gpus != 1:
            raise ValueError(f"hardware {self.id}: kind 'gpu' prices one GPU (gpus: 1)")
        low = self.price_low_usd if self.price_low_usd is not None else self.price_usd
        high = self.price_high_usd if self.price_high_usd is not None else self.price_usd
        if not low <= self.price_usd <= high:
            raise ValueError(
                f"hardware {self.id}: need price_low_usd <= price_usd <= price_high_usd"
            )
        return self

    @property
    def usd_per_gpu(self) -> float:
        return self.price_usd / self.gpus


class CloudPrice(_PriceRecord):
    """The hourly price of one cloud instance with ``gpus`` GPUs of catalog id ``gpu``.

    ``region`` is the provider's region name, or a wider label the source uses
    (``us``; ``all`` when the source lists one price for every region). ``country`` is where
    that region processes data (ISO 3166 alpha-2, or ``eu``/``us`` when only that is known).
    ``attestations`` (with ``attestations_source``) replace the provider's own list
    (``providers`` in the price files) for this offer; null: the provider's.
    """

    provider: Slug
    instance: str = Field(min_length=1)
    region: str = Field(min_length=1)
    country: Country | None = None
    attestations: tuple[Attestation, ...] | None = None
    attestations_source: str = ""
    gpu: GpuId
    gpus: PositiveInt
    usd_per_hour: HourlyUsd
    pricing: Pricing

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.usd_per_hour / self.gpus

    @property
    def key(self) -> tuple[str, str, str, Pricing]:
        """What makes two entries the same offer (a later one replaces an earlier one)."""
        return (self.provider, self.instance.lower(), self.region.lower(), self.pricing)


class ApiPrice(_PriceRecord):
    """Per-token prices of a model behind an API, in dollars per million tokens.

    ``id`` is the LiteLLM key (provider-prefixed for most routes, e.g.
    ``gemini/gemini-2.5-pro``); ``model`` is the provider's model name. ``open_model`` names
    the open-weight model in llmplan's model catalog when the API serves one. Batch prices
    apply to asynchronous batch jobs; ``long_context_*`` prices apply to requests whose
    prompt exceeds ``long_context_threshold_tokens``. ``reasoning_output_usd_per_mtok`` is the
    price of hidden reasoning tokens where the API bills them apart (null: as output tokens).
    ``region``/``country`` say where the
    API processes requests (``unspecified`` when the source does not say: such a price never
    satisfies a data-residency rule); ``attestations`` as for :class:`CloudPrice`.
    """

    id: str = Field(min_length=1)
    provider: Slug
    region: str = Field("unspecified", min_length=1)
    country: Country | None = None
    attestations: tuple[Attestation, ...] | None = None
    attestations_source: str = ""
    model: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    open_model: str | None = None
    input_usd_per_mtok: TokenUsd
    cached_input_usd_per_mtok: OptionalTokenUsd = None
    output_usd_per_mtok: TokenUsd
    reasoning_output_usd_per_mtok: OptionalTokenUsd = None
    batch_input_usd_per_mtok: OptionalTokenUsd = None
    batch_output_usd_per_mtok: OptionalTokenUsd = None
    long_context_threshold_tokens: PositiveInt | None = None
    long_context_input_usd_per_mtok: OptionalTokenUsd = None
    long_context_output_usd_per_mtok: OptionalTokenUsd = None
    max_input_tokens: PositiveInt | None = None
    deprecation_date: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> ApiPrice:
        cached = self.cached_input_usd_per_mtok
        if cached is not None and cached > self.input_usd_per_mtok:
            raise ValueError(f"api {self.id}: cached input costs more than uncached input")
        long_fields = (
            self.long_context_threshold_tokens,
            self.long_context_input_usd_per_mtok,
            self.long_context_output_usd_per_mtok,
        )
        if any(v is not None for v in long_fields) and any(v is None for v in long_fields):
            raise ValueError(
                f"api {self.id}: long_context_threshold_tokens, long_context_input_usd_per_mtok "
                "and long_context_output_usd_per_mtok go together"
            )
        return self

    def output_rate(self, reasoning_share: float) -> float:
        """USD per million output tokens of which ``reasoning_share`` are reasoning tokens."""
        reasoning = self.reasoning_output_usd_per_mtok
        if reasoning is None:
            return self.output_usd_per_mtok
        return (1 - reasoning_share) * self.output_usd_per_mtok + reasoning_share * reasoning

    def usd_per_request(self, input_tokens: int, output_tokens: int) -> float:
        """Price of one request without caching or batching (long-context rate if it applies)."""
        rate_in, rate_out = self.input_usd_per_mtok, self.output_usd_per_mtok
        threshold = self.long_context_threshold_tokens
        long_in = self.long_context_input_usd_per_mtok
        long_out = self.long_context_output_usd_per_mtok
        if (
            threshold is not None
            and input_tokens > threshold
            and long_in is not None
            and long_out is not None
        ):
            rate_in, rate_out = long_in, long_out
        return (input_tokens * rate_in + output_tokens * rate_out) / 1e6


class GpuNameMapping(BaseModel):
    """How a GPU name in a cloud catalog (gpuhunt's ``gpu_name``) maps to a catalog id.

    A row matches when its normalised name equals ``name``, its per-GPU memory is within
    10 % of ``memory_gb`` and, if ``instance_contains`` is set, its instance name contains
    that text (case-insensitive); mappings with ``instance_contains`` are tried first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    memory_gb: Annotated[float, Field(gt=0)]
    instance_contains: str | None = None
    gpu: GpuId
    source: str = Field(min_length=8)
    source_date: dt.date
    notes: str = ""


class ProviderProfile(BaseModel):
    """What a provider attests for its cloud and API services, with the source checked.

    A price record's own ``attestations`` replace these for that record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Slug
    attestations: tuple[Attestation, ...] = ()
    source: str = Field(min_length=8)
    checked_date: dt.date
    notes: str = ""
