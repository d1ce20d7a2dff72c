"""What a scenario is allowed to do: where data may live, compliance, options, hardware, power.

The closed sets are enums: :class:`DeploymentOption`, :class:`Region`,
:class:`ComplianceTag`. GPU names in ``gpu_allow`` / ``gpu_deny`` are catalog names,
checked against the catalog by :func:`llmplan.scenario.resolve.check_names`.
:meth:`Constraints.option_exclusions` gives the options the constraints alone rule out,
each with its one-line reason; price catalogs (which providers serve which region, which
API carries which attestation) are the planner's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from llmplan.scenario._base import FieldValueError, ScenarioModel


class DeploymentOption(StrEnum):
    """Ways to obtain the capacity."""

    ON_PREMISE = "on_premise"
    COLOCATION = "colocation"
    CLOUD_ON_DEMAND = "cloud_on_demand"
    CLOUD_RESERVED_1Y = "cloud_reserved_1y"
    CLOUD_RESERVED_3Y = "cloud_reserved_3y"
    CLOUD_SPOT = "cloud_spot"
    API = "api"
    HYBRID = "hybrid"

    @property
    def is_owned(self) -> bool:
        """Hardware bought and run by the organisation (on-premise or colocated)."""
        return self in (DeploymentOption.ON_PREMISE, DeploymentOption.COLOCATION)

    @property
    def is_cloud_rental(self) -> bool:
        """GPUs rented by the hour from a cloud provider."""
        return self.value.startswith("cloud_")

    @property
    def leaves_premises(self) -> bool:
        """Data goes to a third party's service over a network (cloud, API, hybrid burst)."""
        return not self.is_owned


class Region(StrEnum):
    """Where data may be processed: a jurisdiction (eu) or a country (ISO 3166 alpha-2)."""

    EU = "eu"
    US = "us"
    UK = "uk"
    CH = "ch"
    NO = "no"
    CA = "ca"
    JP = "jp"
    KR = "kr"
    SG = "sg"
    IN = "in"
    AU = "au"
    BR = "br"
    # EU member states (source: european-union.europa.eu, "EU countries", 27 members).
    AT = "at"
    BE = "be"
    BG = "bg"
    HR = "hr"
    CY = "cy"
    CZ = "cz"
    DK = "dk"
    EE = "ee"
    FI = "fi"
    FR = "fr"
    DE = "de"
    GR = "gr"
    HU = "hu"
    IE = "ie"
    IT = "it"
    LV = "lv"
    LT = "lt"
    LU = "lu"
    MT = "mt"
    NL = "nl"
    PL = "pl"
    PT = "pt"
    RO = "ro"
    SK = "sk"
    SI = "si"
    ES = "es"
    SE = "se"

    @property
    def is_eu_member(self) -> bool:
        return self.value in _EU_MEMBERS

    def contains(self, location: Region) -> bool:
        """True when data processed in ``location`` stays within this region."""
        if location is self:
            return True
        return self is Region.EU and location.is_eu_member


_EU_MEMBERS = frozenset(
    {
        "at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie",
        "it", "lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
    }
)  # fmt: skip


class ComplianceTag(StrEnum):
    """Regimes the deployment must comply with; the planner checks options against them."""

    GDPR = "gdpr"
    HIPAA = "hipaa"
    SOC2 = "soc2"
    ISO27001 = "iso27001"
    PCI_DSS = "pci_dss"
    FEDRAMP = "fedramp"
    BSI_C5 = "bsi_c5"


def _reject_duplicates(values: Sequence[object], field: str) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise FieldValueError(field, f"'{value}' is listed twice")
        seen.add(value)


class Constraints(ScenarioModel):
    """Rules every plan must respect; an option they exclude is reported with the reason."""

    data_residency: Region | None = Field(
        None,
        description="Region the data must stay in (eu, us, de, ...); null: anywhere. "
        "A country satisfies its union (de is in eu).",
    )
    compliance: tuple[ComplianceTag, ...] = Field(
        (), description="Compliance regimes that apply (gdpr, hipaa, soc2, ...)."
    )
    air_gapped: bool = Field(
        False,
        description="No network path to outside services: only on_premise and colocation "
        "remain possible.",
    )
    allowed_options: tuple[DeploymentOption, ...] = Field(
        tuple(DeploymentOption),
        min_length=1,
        description="Deployment options the organisation accepts (default: all).",
    )
    gpu_allow: tuple[str, ...] | None = Field(
        None,
        min_length=1,
        description="Only these GPUs (catalog names) may be used; null: any.",
    )
    gpu_deny: tuple[str, ...] = Field((), description="GPUs (catalog names) never to use.")
    power_budget_kw: float | None = Field(
        None,
        ge=0.01,
        le=1e7,
        description="Most rated IT power the owned fleet of all workloads may draw, kW "
        "(before PUE; see site_power_budget_kw for the wall); null: no limit.",
    )
    site_power_budget_kw: float | None = Field(
        None,
        ge=0.01,
        le=1e7,
        description="Most power the owned fleet of all workloads may draw at the wall, "
        "cooling and losses included (rated IT kW x finance.pue), kW; null: no limit.",
    )
    max_floor_m2: float | None = Field(
        None,
        ge=0.01,
        le=1e7,
        description="Most floor space the owned racks of all workloads may take, m2 "
        "(racks x capacity.floor_m2_per_rack); null: no limit.",
    )
    max_racks: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Most racks the owned fleet of all workloads may fill (each workload's "
        "servers in racks of their own); null: no limit.",
    )

    @field_validator("compliance", "allowed_options")
    @classmethod
    def _unique(cls, values: tuple[StrEnum, ...]) -> tuple[StrEnum, ...]:
        if len(set(values)) != len(values):
            dup = next(v for v in values if values.count(v) > 1)
            raise ValueError(f"'{dup}' is listed twice")
        return values

    @model_validator(mode="after")
    def _check_gpu_lists(self) -> Constraints:
        _reject_duplicates(self.gpu_allow or (), "gpu_allow")
        _reject_duplicates(self.gpu_deny, "gpu_deny")
        return self

    def option_exclusions(self) -> dict[DeploymentOption, str]:
        """Options ruled out by these constraints alone, each with a one-line reason."""
        out: dict[DeploymentOption, str] = {}
        for option in DeploymentOption:
            if option not in self.allowed_options:
                out[option] = f"{option.value} excluded: not in constraints.allowed_options"
            elif self.air_gapped and option.leaves_premises:
                out[option] = (
                    f"{option.value} excluded: the scenario is air-gapped "
                    "(constraints.air_gapped), so no outside service can be reached"
                )
        return out

    def permitted_options(self) -> tuple[DeploymentOption, ...]:
        """Options left after :meth:`option_exclusions`, in enum order."""
        excluded = self.option_exclusions()
        return tuple(o for o in DeploymentOption if o not in excluded)
