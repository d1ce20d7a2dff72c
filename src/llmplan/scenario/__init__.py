"""Scenario files: the one schema shared by the CLI, the API, the web UI and the reports.

Public API::

    from llmplan.scenario import load_scenario, resolve
    scenario = load_scenario("examples/chat-assistant.yaml")  # validated, frozen
    plan_input = resolve(scenario, bundled_catalog())         # catalog names checked

Field-by-field reference: ``docs/scenario.md`` (generated from the field descriptions by
``scripts/gen_scenario_docs.py``).
"""

from llmplan.scenario.constraints import ComplianceTag, Constraints, DeploymentOption, Region
from llmplan.scenario.io import (
    bundled_examples,
    dump_scenario,
    load_example,
    load_scenario,
    parse_scenario,
    scenario_from_data,
    scenario_to_data,
)
from llmplan.scenario.resolve import ResolvedScenario, check_names, resolve
from llmplan.scenario.schema import (
    DEFAULT_CANDIDATE_GPUS,
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
    Workload,
)

__all__ = [
    "DEFAULT_CANDIDATE_GPUS",
    "Candidates",
    "ComplianceTag",
    "Constraints",
    "DeploymentOption",
    "FineTuneWorkload",
    "GpuOverride",
    "InferenceWorkload",
    "LengthDistribution",
    "MeasuredThroughput",
    "Overrides",
    "Region",
    "ResolvedScenario",
    "Scenario",
    "Slo",
    "Workload",
    "bundled_examples",
    "check_names",
    "dump_scenario",
    "load_example",
    "load_scenario",
    "parse_scenario",
    "resolve",
    "scenario_from_data",
    "scenario_to_data",
]
