"""The long operations that run as jobs, in a worker process (see :mod:`llmplan.api.jobs`).

A task takes JSON-ready parameters, the worker's catalogs and a ``report(fraction, stage)``
callback, and returns a JSON-ready payload. Errors the user caused are
:class:`~llmplan.errors.LlmplanError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmplan.api.catalogs import CatalogCache
from llmplan.application.compute import calibrated, calibration_label, clean
from llmplan.catalog.calibration_file import CalibrationProfile

Report = Callable[[float, str], None]
Task = Callable[[dict[str, Any], CatalogCache, Report], dict[str, Any]]


def run_plan(params: dict[str, Any], cache: CatalogCache, report: Report) -> dict[str, Any]:
    """``llmplan plan --json`` on ``params["scenario"]`` with its seed and samples."""
    from llmplan.plan.payload import plan_payload
    from llmplan.plan.planner import make_plan, plan_context
    from llmplan.scenario import scenario_from_data

    report(0.05, "reading the scenario and the catalogs")
    scenario = scenario_from_data(params["scenario"], "scenario")
    profile = None
    if params.get("calibration") is not None:
        profile = CalibrationProfile.model_validate(params["calibration"])
    catalog, prices = calibrated(cache.catalog(), profile), cache.prices()
    report(0.1, "sizing designs against the SLOs, costing options, sensitivity, Monte Carlo")
    plan = make_plan(
        scenario, catalog, prices, seed=params["seed"], monte_carlo_samples=params["samples"]
    )
    report(0.9, "building the result")
    payload = plan_payload(plan, plan_context(scenario, catalog, prices))
    payload["calibration"] = calibration_label(profile)
    return clean(payload)


def run_simulate(params: dict[str, Any], cache: CatalogCache, report: Report) -> dict[str, Any]:
    """``llmplan simulate --json`` for ``params["request"]`` (a :class:`SimulateRequest`),
    at most ``params["max_requests"]`` requests."""
    from llmplan.application.options import SimulateRequest
    from llmplan.application.simulation import simulation_of, simulation_payload

    report(0.02, "building the replica model (step-time table)")
    request = SimulateRequest.model_validate(params["request"])
    simulation = simulation_of(request, cache.catalog(), params["max_requests"])
    return simulation_payload(simulation, report)


TASKS: dict[str, Task] = {"plan": run_plan, "simulate": run_simulate}
