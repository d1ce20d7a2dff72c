"""How capacity is added over time and bought: the ``capacity`` section of a scenario.

The cost engine's phased model (:mod:`llmplan.cost.phasing`) and the planner's fleet sizing
(:mod:`llmplan.plan.fleet`) compute with it; the defaults keep the flat model (the final
month's fleet bought in month 0).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class CapacityAssumptions(BaseModel):
    """How capacity is added over time and bought; the defaults keep the flat model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phased: bool = Field(
        False,
        description="Follow each month's demand (growth_per_year): owned fleets are bought in "
        "tranches, cloud on-demand and spot are scaled per month, reserved capacity is a "
        "ladder of commitments and the API is billed per month's tokens. false: the final "
        "month's fleet from month 0, the API at the horizon's average volume.",
    )
    lead_time_months: int = Field(
        3,
        ge=0,
        le=36,
        description="Months between ordering servers and putting them in service; a tranche "
        "covers the demand until the next one can arrive. Default 3: an llmplan assumption "
        "within reported GPU-server lead times of 8-12 weeks (2024) to 36-52 weeks (2023, "
        "trade press, secondary). Only with phased.",
    )
    min_tranche_servers: int = Field(
        1,
        ge=1,
        le=100_000,
        description="Fewest servers bought at once (a purchase order, a rack). Default 1. "
        "Only with phased.",
    )
    hardware_price_decline_per_year: float = Field(
        0.0,
        ge=0.0,
        le=0.9,
        description="Fall of the price of the same server per year (fraction/year), applied "
        "to later tranches and refreshes. Default 0 (prices of the price list). Epoch AI "
        "(2022): GPU FLOP/s per dollar doubles every ~2.5 years (2.07 for ML GPUs), i.e. "
        "the same performance costs ~24 % (28 %) less per year.",
    )
    whole_servers: bool = Field(
        False,
        description="On premise and in colocation, buy whole servers of the server catalogue "
        "(`llmplan/data/servers`; an 8-GPU HGX board is sold whole), or of the GPU's "
        "max_gpus_per_node GPUs priced from the GPU price; GPUs left idle are reported "
        "(idle_gpus). false: servers hold just the GPUs needed (price per GPU).",
    )
    share_servers_across_models: bool = Field(
        True,
        description="With whole_servers, on premise and in colocation: when several inference "
        "workloads' replicas leave GPUs of their servers idle, also consider packing the "
        "replicas of all workloads on one GPU type into shared servers (whole GPUs per "
        "replica, each replica sized for its own workload's load), and keep it when the "
        "option's NPV is lower. false: each workload buys its own servers.",
    )
    finetune_on_idle_inference: bool = Field(
        True,
        description="Run a fine-tuning job on the inference fleet's GPUs in the hours they "
        "are idle (outside operating hours, and hours of hourly_profile whose traffic needs "
        "fewer replicas) instead of on extra GPUs, when the idle GPU-hours of every month "
        "suffice and it is cheaper (on premise and in colocation: only the extra energy; "
        "reserved cloud: nothing extra). false: a dedicated server or rented GPUs.",
    )
    redundant_servers: int = Field(
        0,
        ge=0,
        le=1_000,
        description="Spare servers per workload fleet kept for failures (1 = N+1). Default 0; "
        "at least as many as server_failures_per_year asks for.",
    )
    server_failures_per_year: float = Field(
        0.0,
        ge=0.0,
        le=50.0,
        description="Failures that take a server out of service, per server per year; spares "
        "are added so that the failed servers exceed them with probability at most "
        "spare_shortfall_probability while they are repaired. 0: off (default). Reference: "
        "Meta's Llama 3 pre-training saw 419 unexpected interruptions in 54 days on 16,384 "
        "H100s, ~1.4 per 8-GPU server a year, 58 % of them GPU or HBM faults ('The Llama 3 "
        "Herd of Models', arXiv 2407.21783, section 3.3.4, 2024).",
    )
    server_repair_days: float = Field(
        3.0,
        gt=0.0,
        le=365.0,
        description="Days a failed server is out of service (diagnosis, part swap or RMA "
        "spare), days. Default 3.",
    )
    spare_shortfall_probability: float = Field(
        0.01,
        gt=0.0,
        lt=1.0,
        description="Accepted probability that more servers are down than spares at a time. "
        "Default 0.01.",
    )
    facility_usd_per_kw: float = Field(
        0.0,
        ge=0.0,
        le=100_000.0,
        description="On premise: building out power and cooling per rated IT kW added, USD/kW, "
        "paid when capacity is added. Default 0 (an existing site treated as sunk). "
        "Cushman & Wakefield Data Center Development Cost Guide 2025: 9,300-15,000 USD/kW "
        "of critical load across 19 US markets, average 11,700.",
    )
    floor_m2_per_rack: float = Field(
        2.5,
        gt=0.0,
        le=100.0,
        description="Floor space one rack takes with its share of the aisles, m2/rack. "
        "Default 2.5: 25-30 sq ft (2.3-2.8 m2) per rack including aisle space (industry "
        "estimate quoted by profitableventure.com, secondary); power and cooling rooms "
        "roughly double it and are not counted.",
    )
    rack_units_per_rack: int = Field(
        42,
        ge=1,
        le=60,
        description="Usable height of one rack, rack units (U). Default 42, the common "
        "full-height EIA-310 rack. Servers per rack = the fewest allowed by finance.rack_kw "
        "and by this height.",
    )

    def spare_servers(self, servers: int) -> int:
        """Spare servers for a fleet of ``servers`` in service: ``redundant_servers``, or
        more if failures ask for it. Servers down at a time are Poisson with mean
        ``servers x failures_per_year x repair_days / 365``; the spares are the smallest k
        with P(down > k) <= ``spare_shortfall_probability``."""
        if self.server_failures_per_year <= 0 or servers <= 0:
            return self.redundant_servers
        mean = servers * self.server_failures_per_year * self.server_repair_days / 365.0
        k, term = 0, math.exp(-mean)
        cumulative = term
        while 1.0 - cumulative > self.spare_shortfall_probability:
            k += 1
            term *= mean / k
            cumulative += term
        return max(self.redundant_servers, k)
