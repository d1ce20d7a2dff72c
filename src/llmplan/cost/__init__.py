"""Pure cost engine: TCO of owned fleets (on premise, colocation), cloud rental, APIs.

No file, network, CLI or plotting code: callers pass typed inputs and a
:class:`FinanceAssumptions`, and get :class:`OptionCost` objects (USD by line and month).

>>> from llmplan.cost import CloudRental, FinanceAssumptions, cost_cloud
>>> finance = FinanceAssumptions(horizon_months=12, cloud_staff_fte=0)
>>> round(cost_cloud(CloudRental(instances=1, usd_per_instance_hour=2.0), finance).tco_usd)
17520
"""

from llmplan.cost.breakeven import (
    breakeven_api_tokens_per_month,
    breakeven_busy_fraction,
    breakeven_hours,
    breakeven_month,
    crossing_point,
)
from llmplan.cost.hourly import HourlyCost, self_hosted_hourly, usd_per_mtok
from llmplan.cost.inputs import ApiUsage, CloudRental, Commitment, Fleet, SiteKind, fleet_from_gpus
from llmplan.cost.model import (
    cost_api,
    cost_cloud,
    cost_colocation,
    cost_hybrid,
    cost_on_premise,
    cost_self_hosted,
    monthly_running_usd,
    racks_needed,
    staff_fte,
)
from llmplan.cost.result import CostLine, OptionCost, OptionKind
from llmplan.cost.sensitivity import (
    Distribution,
    MonteCarloResult,
    Scenario,
    TornadoBar,
    TornadoInput,
    Uncertainty,
    monte_carlo,
    tornado,
)
from llmplan.domain.finance import FinanceAssumptions, finance_from_mapping, with_overrides

__all__ = [
    "ApiUsage",
    "CloudRental",
    "Commitment",
    "CostLine",
    "Distribution",
    "FinanceAssumptions",
    "Fleet",
    "HourlyCost",
    "MonteCarloResult",
    "OptionCost",
    "OptionKind",
    "Scenario",
    "SiteKind",
    "TornadoBar",
    "TornadoInput",
    "Uncertainty",
    "breakeven_api_tokens_per_month",
    "breakeven_busy_fraction",
    "breakeven_hours",
    "breakeven_month",
    "cost_api",
    "cost_cloud",
    "cost_colocation",
    "cost_hybrid",
    "cost_on_premise",
    "cost_self_hosted",
    "crossing_point",
    "finance_from_mapping",
    "fleet_from_gpus",
    "monte_carlo",
    "monthly_running_usd",
    "racks_needed",
    "self_hosted_hourly",
    "staff_fte",
    "tornado",
    "usd_per_mtok",
    "with_overrides",
]
