"""Which cloud and API prices a scenario's ``data_residency`` and ``compliance`` allow.

A price qualifies when

- **residency**: its region lies inside ``constraints.data_residency``. The region is read
  from the price's ``country`` (ISO 3166 alpha-2, or ``eu``/``us``) or, without one, from
  the region name (``us-east-1`` -> us, ``fr-par`` -> fr, ``europe-west4`` -> eu). A price
  listed for ``all`` regions, or whose region is ``unspecified``, never satisfies a
  residency rule: it does not say where the data goes. A union is not a country (a price
  in ``eu`` does not satisfy ``de``); a country satisfies its union (``de`` is in ``eu``).
- **compliance**: its provider holds, for every regime in ``constraints.compliance``, the
  attestation that regime needs (:data:`REQUIRED_ATTESTATION`): its own ``attestations``
  or its provider's (``providers`` in the price files).

Owned hardware (on-premise, colocation) is the organisation's own compliance and is not
filtered here. Every refusal names the rule (``constraints.data_residency`` or
``constraints.compliance``) and what the price lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmplan.prices.book import PriceBook
from llmplan.prices.schema import ApiPrice, Attestation, CloudPrice
from llmplan.scenario import ComplianceTag, Constraints, Region

REQUIRED_ATTESTATION: dict[ComplianceTag, Attestation] = {
    ComplianceTag.GDPR: Attestation.GDPR_DPA,
    ComplianceTag.HIPAA: Attestation.HIPAA_BAA,
    ComplianceTag.SOC2: Attestation.SOC2,
    ComplianceTag.ISO27001: Attestation.ISO27001,
    ComplianceTag.PCI_DSS: Attestation.PCI_DSS,
    ComplianceTag.FEDRAMP: Attestation.FEDRAMP,
    ComplianceTag.BSI_C5: Attestation.BSI_C5,
}
"""The attestation a provider must hold for a regime: GDPR needs an Art. 28 processing
agreement (a DPA), HIPAA a signed business-associate agreement, the others their audit."""

NOWHERE = frozenset({"all", "unspecified", "global", "any", "multi", ""})
"""Region labels that do not say where data is processed."""


@dataclass(frozen=True)
class PriceOrigin:
    """Who sells a price, where it is served and what its provider attests."""

    provider: str
    region: str
    attestations: tuple[str, ...]
    attestations_source: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "region": self.region,
            "attestations": list(self.attestations),
            "attestations_source": self.attestations_source or None,
        }


def origin_of(price: CloudPrice | ApiPrice, book: PriceBook) -> PriceOrigin:
    """The provider, region and attestations of ``price``."""
    attestations, source = book.attestations(price)
    return PriceOrigin(price.provider, price.region, tuple(a.value for a in attestations), source)


def _region_code(text: str) -> Region | None:
    try:
        return Region(text)
    except ValueError:
        return None


def location_of(region: str, country: str | None) -> Region | None:
    """Where a price's region processes data, or None when it does not say."""
    text = region.strip().lower()
    if text in NOWHERE:
        return None
    if country is not None:
        return _region_code(country)
    exact = _region_code(text)
    if exact is not None:
        return exact
    head = _region_code(text.split("-")[0])
    if head is not None:
        return head
    return Region.EU if text.startswith("europe") or "europe" in text.split("-") else None


def residency_problem(constraints: Constraints, region: str, country: str | None) -> str:
    """Why ``region`` breaks ``constraints.data_residency`` ("" when it does not)."""
    residency = constraints.data_residency
    if residency is None:
        return ""
    place = location_of(region, country)
    if place is None:
        return (
            f"region '{region}' does not say where data is processed, so it cannot satisfy "
            f"constraints.data_residency {residency.value}"
        )
    if residency.contains(place):
        return ""
    return (
        f"region '{region}' ({place.value}) is outside constraints.data_residency {residency.value}"
    )


def compliance_problem(constraints: Constraints, provider: str, attestations: Sequence[str]) -> str:
    """Why ``provider``'s ``attestations`` fall short of ``constraints.compliance``."""
    held = set(attestations)
    missing = [
        f"{tag.value} needs {REQUIRED_ATTESTATION[tag].value}"
        for tag in constraints.compliance
        if REQUIRED_ATTESTATION[tag].value not in held
    ]
    if not missing:
        return ""
    return f"{provider} lacks what constraints.compliance requires ({'; '.join(missing)})"


def qualification(constraints: Constraints, price: CloudPrice | ApiPrice, book: PriceBook) -> str:
    """Why ``price`` may not be used under ``constraints`` ("" when it may)."""
    problems = [
        residency_problem(constraints, price.region, price.country),
        compliance_problem(constraints, price.provider, origin_of(price, book).attestations),
    ]
    return "; ".join(p for p in problems if p)


def refusal(kind: str, refused: Sequence[tuple[CloudPrice | ApiPrice, str]]) -> str:
    """One line for prices that exist but none qualifies: the first few, each with its rule."""
    shown = "; ".join(f"{p.provider} {p.region}: {why}" for p, why in refused[:3])
    more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
    return f"no {kind} qualifies: {shown}{more}"
