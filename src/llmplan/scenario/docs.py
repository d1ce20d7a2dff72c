"""The field-by-field reference of the scenario schema, rendered from the models themselves.

``docs/scenario.md`` holds hand-written prose and, between :data:`BEGIN_MARKER` and
:data:`END_MARKER`, the output of :func:`render_reference`; ``scripts/gen_scenario_docs.py``
rewrites that part and a test checks that it is current, so the reference cannot drift
from the code.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from llmplan.domain.capacity import CapacityAssumptions
from llmplan.domain.currency import Currency
from llmplan.domain.finance import FinanceAssumptions
from llmplan.domain.finetune import FinetuneMethod
from llmplan.prices.schema import Attestation, Pricing
from llmplan.scenario.constraints import ComplianceTag, Constraints, DeploymentOption, Region
from llmplan.scenario.quotes import ApiPriceQuote, CloudPriceQuote
from llmplan.scenario.schema import (
    Candidates,
    GpuOverride,
    MeasuredThroughput,
    Overrides,
    Scenario,
)
from llmplan.scenario.workloads import (
    FineTuneWorkload,
    InferenceWorkload,
    LengthDistribution,
    Slo,
    Speculative,
)

BEGIN_MARKER = "<!-- BEGIN GENERATED REFERENCE (scripts/gen_scenario_docs.py) -->"
END_MARKER = "<!-- END GENERATED REFERENCE -->"

#: (heading, where it sits in the file, model), in reading order.
SECTIONS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("Scenario", "top level", Scenario),
    ("Inference workload", "`workloads[]` with `kind: inference`", InferenceWorkload),
    ("Length distribution", "`input_tokens`, `output_tokens`", LengthDistribution),
    ("SLO", "`workloads[].slo`", Slo),
    ("Speculative decoding", "`workloads[].speculative`", Speculative),
    ("Fine-tuning workload", "`workloads[]` with `kind: finetune`", FineTuneWorkload),
    ("Constraints", "`constraints`", Constraints),
    ("Finance", "`finance`", FinanceAssumptions),
    ("Capacity", "`capacity`", CapacityAssumptions),
    ("Overrides", "`overrides`", Overrides),
    ("GPU override", "`overrides.gpus.<GPU name>`", GpuOverride),
    ("Measured throughput", "`overrides.measured_throughput[]`", MeasuredThroughput),
    ("API price quote", "`overrides.api_prices[]`", ApiPriceQuote),
    ("Cloud price quote", "`overrides.cloud_prices[]`", CloudPriceQuote),
    ("Candidates", "`candidates`", Candidates),
)
ENUMS: tuple[type[enum.Enum], ...] = (
    DeploymentOption,
    Region,
    ComplianceTag,
    Attestation,
    Pricing,
    Currency,
    FinetuneMethod,
)
_SCALARS = {float: "number", int: "integer", str: "text", bool: "true/false"}
_ENUM_DOCS: dict[type[enum.Enum], str] = {
    FinetuneMethod: "Fine-tuning methods (llmplan.domain.finetune).",
    Attestation: "What a provider attests for a service (llmplan.prices.schema); "
    "constraints.compliance needs gdpr -> gdpr_dpa, hipaa -> hipaa_baa, bsi_c5 -> bsi_c5, "
    "soc2, iso27001, pci_dss, fedramp -> the same.",
    Pricing: "How a cloud GPU-hour is bought (llmplan.prices.schema).",
    Currency: "Currencies a plan can be reported in (ISO 4217; llmplan.domain.currency).",
}
_BOUND_SYMBOLS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def render_reference() -> str:
    """Markdown tables of every scenario block and enumeration."""
    chunks = [_render_model(heading, where, model) for heading, where, model in SECTIONS]
    chunks.append(_render_enums())
    return "\n".join(chunks)


def _anchor(heading: str) -> str:
    return "#" + heading.lower().replace(" ", "-")


def _model_heading(model: Any) -> str | None:
    return next((heading for heading, _, m in SECTIONS if m is model), None)


def _render_model(heading: str, where: str, model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    lines = [
        f"### {heading}",
        "",
        f"Where: {where}. {doc}",
        "",
        "| field | type | allowed | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for name, info in model.model_fields.items():
        cells = (
            f"`{name}`",
            _type_name(info.annotation),
            _bounds(info),
            _default(info),
            info.description,
        )
        lines.append("| " + " | ".join(_cell(c or "") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if _is_union(annotation):
        names = [_type_name(a) for a in args if a is not type(None)]
        suffix = " or null" if type(None) in args else ""
        return " or ".join(names) + suffix
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    heading = _model_heading(annotation)
    if heading is not None:
        return f"[{heading}]({_anchor(heading)})"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(info: FieldInfo) -> str:
    """The numeric range and minimum length of a field, e.g. ``> 0, <= 24``."""
    out: list[str] = []
    for item in info.metadata:
        for attr, symbol in _BOUND_SYMBOLS:
            bound = getattr(item, attr, None)
            if bound is not None:
                out.append(f"{symbol} {_value_text(bound)}")
        min_length = getattr(item, "min_length", None)
        if min_length and _is_text(info.annotation):
            out.append("not empty")
        elif min_length:
            out.append(f"at least {min_length} item{'s' if min_length > 1 else ''}")
    return ", ".join(out)


def _is_text(annotation: Any) -> bool:
    return annotation is str or (_is_union(annotation) and str in typing.get_args(annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see its section"
    if value == "":
        return '`""`'
    return f"`{_value_text(value)}`"


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def _render_enums() -> str:
    lines = ["### Enumerations", ""]
    for cls in ENUMS:
        doc = _ENUM_DOCS.get(cls) or (cls.__doc__ or "").strip().split("\n\n")[0]
        values = ", ".join(f"`{member.value}`" for member in cls)
        lines += [f"#### {cls.__name__}", "", f"{doc} Values: {values}.", ""]
    return "\n".join(lines)


def replace_generated(document: str, reference: str) -> str:
    """``document`` with the text between the markers replaced by ``reference``."""
    start = document.index(BEGIN_MARKER) + len(BEGIN_MARKER)
    end = document.index(END_MARKER)
    return document[:start] + "\n\n" + reference + "\n" + document[end:]
