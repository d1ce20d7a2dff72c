"""Financial and site assumptions shared by every cost option.

Every number the cost engine uses that is not a property of a fleet, a rental or an API
usage lives here as a named, documented, bounded field with its unit in its name. Defaults
cite ``tco-references.md`` (the project's sourced cost notes). Published studies are
expressed by overriding fields, never by special code: e.g. Lenovo LP2368 is ``pue=1``,
``cooling_usd_per_kwh=0.18``, ``average_power_fraction_of_tdp=1``, no staff, no discounting.

Time convention: a horizon of ``horizon_months`` months of ``hours_per_month`` hours each;
purchases happen at t=0, running costs at the end of each month.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from llmplan.domain.currency import Currency, Money, money_for
from llmplan.errors import ConfigurationError, InputError

MONTHS_PER_YEAR = 12
"""Calendar definition, not an assumption."""


class FinanceAssumptions(BaseModel):
    """Horizon, money, energy, site, maintenance, depreciation and staff assumptions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- horizon and money -------------------------------------------------------------
    horizon_months: int = Field(
        60,
        ge=1,
        le=360,
        description="Planning horizon in months. Default 60 (5 years), the life used by "
        "Lenovo LP2368 (2026) and close to hyperscaler server lives of 5-6 years.",
    )
    currency: Currency = Field(
        Currency.USD,
        description="Currency the plan is reported in (USD, EUR, GBP, CHF, JPY, ...). Every "
        "input named `_usd` stays in US dollars; results are converted at the end, at the "
        "bundled ECB reference rate (data/exchange-rates.yaml, January 2026) or at "
        "currency_units_per_usd.",
    )
    currency_units_per_usd: float | None = Field(
        None,
        gt=0.0,
        le=1e6,
        validate_default=True,
        description="Your exchange rate: units of `currency` per US dollar (e.g. 0.85 for EUR). "
        "Null: the bundled table's rate. Required for a currency the table does not list.",
    )
    discount_rate_per_year: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Annual discount rate (cost of capital, fraction/year) used for NPV; "
        "monthly rate = (1+r)^(1/12)-1. Default 0.0 because every published TCO study in "
        "tco-references.md (Lenovo LP2368, aiinframap, Spheron) is undiscounted; set your "
        "cost of capital (e.g. 0.08) to see NPV differ from TCO.",
    )
    hours_per_month: float = Field(
        730.0,
        ge=1.0,
        le=744.0,
        description="Hours in one month, used for energy, hourly rates and cloud billing. "
        "Default 730 = 8,760 h/year / 12. (Lenovo LP2368 converts its colocation rate with "
        "720 h/month but totals 5 years as 43,800 h = 60 x 730 h.)",
    )

    # --- energy ------------------------------------------------------------------------
    electricity_usd_per_kwh: float = Field(
        0.12,
        ge=0.0,
        le=2.0,
        description="Electricity price, USD/kWh at the meter. Default 0.12, the 'US commercial "
        "average' of Lenovo LP2368 (2026); EIA 2023 commercial state averages range "
        "0.074 (ND) to 0.239 (CA) USD/kWh, industrial 0.058-0.186.",
    )
    pue: float = Field(
        1.3,
        ge=1.0,
        le=3.0,
        description="Power usage effectiveness (facility kWh / IT kWh, dimensionless). Default "
        "1.3, new large or AI-oriented sites (Uptime Institute 2024: 1.3 or better for new "
        "sites, industry average 1.56; SemiAnalysis AI DCs 1.1-1.3). Set 1.0 when cooling is "
        "charged per kWh instead (cooling_usd_per_kwh).",
    )
    cooling_usd_per_kwh: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="Flat cooling charge per IT kWh, USD/kWh, used by studies that do not use "
        "PUE. Default 0 (cooling is in the PUE). Lenovo LP2368 (2026): 0.18 air-cooled, "
        "0.09 liquid-cooled.",
    )
    max_utilisation: float = Field(
        0.9,
        ge=0.01,
        le=1.0,
        description="Highest share of a replica's maximum throughput the plan loads it to "
        "in the busiest hour (headroom for bursts and a failed server). Default 0.9, an "
        "llmplan assumption (no queue is stable at 100 %); published studies that assume "
        "fully busy hardware (Lenovo LP2368) correspond to 1.0.",
    )
    average_power_fraction_of_tdp: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="Average draw of a busy server as a fraction of its rated power "
        "(dimensionless). Default 0.7, the Microsoft finding quoted by the per-query energy "
        "spreadsheet (tco-references 1.5) and aiinframap (2026). Lenovo LP2368 uses 1.0.",
    )
    idle_power_fraction_of_tdp: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="Draw of a powered but idle server as a fraction of its rated power "
        "(dimensionless); used for the non-busy share of a fleet's hours. Default 0.3 is an "
        "llmplan estimate with no source in tco-references.md; override with measurements. "
        "It only matters when a fleet's busy_fraction < 1.",
    )
    server_non_gpu_power_fraction_of_gpu: float = Field(
        0.8,
        ge=0.0,
        le=5.0,
        description="Rated power of a server's non-GPU parts (CPUs, memory, NICs, switches, "
        "fans) as a fraction of its GPUs' TDP, used only when a server's power is derived "
        "from GPU TDP. Default 0.8: DGX H100 rated 10.2 kW vs 8 x 700 W (0.82), DGX B200 "
        "14.3 kW vs 8 x 1,000 W (0.79) (tco-references section 3).",
    )

    # --- site ----------------------------------------------------------------------------
    colocation_usd_per_kw_month: float = Field(
        184.06,
        ge=0.0,
        le=10_000.0,
        description="Colocation rent per contracted (rated) IT kW per month, USD/kW/month; "
        "electricity is billed on top. Default 184.06, North America primary markets "
        "(CBRE H2 2024; 163.44 in 2023; global Q1 2025 217.30).",
    )
    colocation_usd_per_rack_month: float = Field(
        0.0,
        ge=0.0,
        le=100_000.0,
        description="Colocation rent per rack per month, USD/rack/month, added to the per-kW "
        "rent. Default 0 (CBRE prices per kW). Lenovo LP2368 (2026): ~1,500 high-density, "
        "~600 standard rack.",
    )
    rack_kw: float = Field(
        15.0,
        ge=0.5,
        le=1_000.0,
        description="Power budget of one rack, kW; servers per rack = floor(rack_kw / rated "
        "server kW), at least 1. Default 15 kW: one 8-GPU server per high-density rack, as "
        "Lenovo LP2368 charges (DGX H100 10.2 kW, DGX B200 14.3 kW).",
    )
    on_premise_site_usd_per_kw_month: float = Field(
        0.0,
        ge=0.0,
        le=10_000.0,
        description="Cost of space and power/cooling infrastructure in an owned site per rated "
        "IT kW per month, USD/kW/month. Default 0: an existing server room treated as sunk; "
        "set it near the colocation rate to charge for building or fitting out a site.",
    )
    network_storage_usd_per_month: float = Field(
        0.0,
        ge=0.0,
        le=10_000_000.0,
        description="Network transit, storage and other site services for a self-hosted fleet, "
        "USD/month. Default 0, as Lenovo LP2225/LP2368 exclude networking and storage.",
    )
    network_capex_usd_per_server: float = Field(
        0.0,
        ge=0.0,
        le=10_000_000.0,
        description="Purchase of network switches, cables and storage per server, USD/server, "
        "bought with the servers. Default 0, as Lenovo LP2225/LP2368 exclude networking.",
    )
    cloud_storage_egress_usd_per_month: float = Field(
        0.0,
        ge=0.0,
        le=10_000_000.0,
        description="Cloud storage, egress and support on top of instance hours, USD/month. "
        "Default 0, as Lenovo LP2368 prices cloud on the instance rate only.",
    )

    # --- hardware ownership ----------------------------------------------------------------
    server_overhead_usd: float = Field(
        74_000.0,
        ge=0.0,
        le=10_000_000.0,
        description="Price of a GPU server's non-GPU parts (chassis, CPUs, memory, network, "
        "storage), USD/server, used only when a server's price is derived from GPU prices. "
        "Default 74,000: DGX H100 ~$269k minus 8 GPUs + baseboard ~$195k (SemiAnalysis "
        "May 2023, via Epoch AI).",
    )
    workstation_overhead_usd: float = Field(
        4_000.0,
        ge=0.0,
        le=1_000_000.0,
        description="Price of the non-GPU parts of a workstation or tower holding consumer "
        "or workstation cards (CPU, board, memory, power supply, storage), USD/machine, "
        "used instead of server_overhead_usd for such cards. Default 4,000: an llmplan "
        "estimate for a multi-GPU tower (no published reference; set your quote).",
    )
    maintenance_fraction_per_year: float = Field(
        0.12,
        ge=0.0,
        le=1.0,
        description="Hardware maintenance and support per year as a fraction of the purchase "
        "price (1/year). Default 0.12, Lenovo LP2368 (2026); ~0.10 per alpineblockchain.",
    )
    depreciation_years: float = Field(
        5.0,
        ge=0.5,
        le=20.0,
        description="Useful life of purchased hardware, years; straight-line from the price to "
        "the residual value. Hardware is bought again at the end of each life inside the "
        "horizon. Default 5, Lenovo LP2368; Amazon/Meta 5-5.5 y, Microsoft/Alphabet/CoreWeave "
        "6 y (company filings, 2022-2025).",
    )
    residual_value_fraction: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Resale value at the end of the useful life as a fraction of the purchase "
        "price. Default 0.0, Lenovo LP2368; one aggregator quotes 25-35 % after 36 months.",
    )
    credit_residual_at_horizon: bool = Field(
        True,
        description="When true, hardware still in its life at the end of the horizon is "
        "credited at its straight-line book value (as if sold). Default true so that a "
        "horizon shorter than the useful life does not charge the whole purchase.",
    )

    # --- prices paid against the price list ------------------------------------------
    hardware_price_multiple: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description="Purchase price actually paid for servers as a multiple of the price list "
        "(dimensionless): a discount below 1, a shortage premium above. Default 1; the Monte "
        "Carlo draws it (data/price-uncertainty.yaml).",
    )
    cloud_price_multiple: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description="Cloud GPU-hour price paid as a multiple of the price used (dimensionless). "
        "Default 1; the Monte Carlo draws it (data/price-uncertainty.yaml).",
    )
    api_price_multiple: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description="Per-token API price paid as a multiple of the price used (dimensionless). "
        "Default 1; the Monte Carlo draws it (data/price-uncertainty.yaml).",
    )

    # --- staff -----------------------------------------------------------------------------
    staff_usd_per_fte_year: float = Field(
        175_000.0,
        ge=0.0,
        le=5_000_000.0,
        description="Cost of one full-time infrastructure/MLOps engineer, USD/FTE/year. "
        "Default 175,000, the middle of US MLOps base pay $140-210k (Levels.fyi via "
        "cv-maker); BLS software developers median $133,080. Set 0 to leave staff out "
        "(Lenovo LP2368 does).",
    )
    gpus_per_fte: float = Field(
        75.0,
        ge=1.0,
        le=100_000.0,
        description="GPUs one FTE can run in a self-hosted fleet, GPUs/FTE. Default 75, the "
        "middle of 'a full-time role for every 50 to 100 GPUs' (Introl, secondary).",
    )
    min_staff_fte: float = Field(
        0.5,
        ge=0.0,
        le=1_000.0,
        description="Minimum staff for any self-hosted fleet, FTE; staff = max(min_staff_fte, "
        "GPUs / gpus_per_fte). Default 0.5, Spheron (2026): 0.5 FTE per 8-GPU server.",
    )
    staff_on_cost_factor: float = Field(
        1.45,
        ge=1.0,
        le=3.0,
        description="Loaded cost of an employee as a multiple of base pay (dimensionless): "
        "employer payroll taxes, benefits, paid leave. Staff cost = FTE x "
        "staff_usd_per_fte_year x this. Default 1.45: in the BLS Employer Costs for Employee "
        "Compensation, wages and salaries are 68-70 % of employer compensation cost "
        "(September 2018 civilian workers $25.03 of $36.63/h, ratio 1.46; June 2015 private "
        "industry 69.5 %, ratio 1.44). Set 1 when staff_usd_per_fte_year is already loaded.",
    )
    cloud_staff_fte: float = Field(
        0.25,
        ge=0.0,
        le=1_000.0,
        description="Staff needed to run a serving stack on rented cloud GPUs, FTE. Default "
        "0.25: an llmplan assumption, half of min_staff_fte, since the provider runs the "
        "hardware but engines, models and monitoring remain yours (no published figure). "
        "Lenovo LP2368 prices cloud on the instance rate only: set 0 to reproduce it.",
    )

    @field_validator("currency_units_per_usd")
    @classmethod
    def _check_rate_known(cls, value: float | None, info: ValidationInfo) -> float | None:
        """A currency the bundled table lacks needs the scenario's own rate."""
        currency = info.data.get("currency")
        if isinstance(currency, Currency):
            try:
                money_for(currency, value)
            except ConfigurationError as exc:
                raise ValueError(exc.message) from None
        return value

    @property
    def loaded_staff_usd_per_fte_year(self) -> float:
        """What one FTE costs the employer per year: base pay x on-cost factor, USD."""
        return self.staff_usd_per_fte_year * self.staff_on_cost_factor

    @property
    def money(self) -> Money:
        """How results are shown in :attr:`currency`."""
        return money_for(self.currency, self.currency_units_per_usd)

    @property
    def horizon_years(self) -> float:
        """Horizon in years."""
        return self.horizon_months / MONTHS_PER_YEAR

    @property
    def depreciation_months(self) -> float:
        """Useful life of purchased hardware in months."""
        return self.depreciation_years * MONTHS_PER_YEAR

    @property
    def monthly_discount_rate(self) -> float:
        """Monthly rate equivalent to ``discount_rate_per_year``, compounded."""
        return float((1.0 + self.discount_rate_per_year) ** (1.0 / MONTHS_PER_YEAR) - 1.0)

    @property
    def energy_usd_per_it_kwh(self) -> float:
        """What one kWh drawn by IT equipment costs: price x PUE + flat cooling charge."""
        return self.electricity_usd_per_kwh * self.pue + self.cooling_usd_per_kwh


def finance_from_mapping(data: Mapping[str, Any]) -> FinanceAssumptions:
    """Build :class:`FinanceAssumptions` from user data; errors become :class:`InputError`."""
    try:
        return FinanceAssumptions.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "finance"
        raise InputError(f"{first['msg']} (got {first.get('input')!r})", field=field) from None


def with_overrides(base: FinanceAssumptions, **values: Any) -> FinanceAssumptions:
    """A validated copy of ``base`` with ``values`` replaced (raises :class:`InputError`)."""
    return finance_from_mapping({**base.model_dump(), **values})
