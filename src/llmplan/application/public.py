"""The public Python API: the questions the command line and the REST API ask, as functions.

Keyword options have the names of the CLI options (``--input-tokens`` -> ``input_tokens``)
and of the REST API's JSON keys, and are checked by the same typed models
(:mod:`llmplan.application.options`); results are frozen models
(:mod:`llmplan.application.results`) whose ``model_dump()`` is what ``--json`` prints.
Bad input raises :class:`~llmplan.errors.InputError` (a ``ValueError``) naming the field.

>>> import llmplan
>>> report = llmplan.memory(model="meta-llama/Llama-3.1-8B", gpu="H100", context=8192)
>>> report.fits
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from llmplan.application.compute import (
    calibrated,
    calibration_label,
    memory_payload,
    perf_payload,
    validation_result,
)
from llmplan.application.options import (
    MemoryRequest,
    PerfRequest,
    SimulateRequest,
    ValidateRequest,
)
from llmplan.application.results import (
    CalibrationReport,
    MemoryReport,
    PerfReport,
    PlanReport,
    SimulationReport,
    ValidationReport,
)
from llmplan.application.serialize import clean
from llmplan.catalog.calibration_file import CalibrationProfile, load_calibration
from llmplan.catalog.loader import Catalog, load_catalog
from llmplan.errors import InputError
from llmplan.limits import (
    MAX_DATA_FILE_BYTES,
    MAX_SIMULATED_REQUESTS,
    check_monte_carlo_size,
    read_text_bounded,
)
from llmplan.scenario import Scenario, scenario_from_data
from llmplan.scenario import load_scenario as _load_scenario_file

Calibration = CalibrationProfile | Mapping[str, Any] | str | os.PathLike[str] | None
ScenarioSource = Scenario | Mapping[str, Any] | str | os.PathLike[str]
Options = TypeVar("Options", bound=BaseModel)
#: No row limit for local validation beyond the file-size limit.
_ANY_ROWS = 10**9


def user_home() -> Path:
    """Folder of the user's own catalog entries and prices: $LLMPLAN_HOME or ~/.llmplan."""
    return Path(os.environ.get("LLMPLAN_HOME") or Path.home() / ".llmplan")


def _options(kind: type[Options], given: Options | None, values: dict[str, Any]) -> Options:
    """``given`` or the options built from keyword ``values``, as an InputError on the first
    bad field (named as the keyword is)."""
    if given is not None and values:
        raise InputError("give an options object or keywords, not both", field="options")
    if given is not None:
        return given
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise InputError(error["msg"], field=field) from None


def _profile(calibration: Calibration) -> CalibrationProfile | None:
    """A calibration profile from an object, a mapping (its content) or a file path."""
    if calibration is None or isinstance(calibration, CalibrationProfile):
        return calibration
    if isinstance(calibration, Mapping):
        try:
            return CalibrationProfile.model_validate(dict(calibration))
        except ValidationError as exc:
            raise InputError(str(exc.errors()[0]["msg"]), field="calibration") from None
    return load_calibration(Path(calibration))


def catalog(
    *, calibration: Calibration = None, home: str | os.PathLike[str] | None = None
) -> Catalog:
    """The GPU, model, engine and precision catalog: the bundled one with the user's models
    (``home``, default $LLMPLAN_HOME or ~/.llmplan), and the calibration's engines if given."""
    base = load_catalog(Path(home) if home is not None else user_home())
    return calibrated(base, _profile(calibration))


def load_scenario(source: ScenarioSource) -> Scenario:
    """A validated, frozen scenario from a YAML/JSON file path, a mapping (the file's
    content) or a scenario already built."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, Mapping):
        return scenario_from_data(dict(source), "scenario")
    return _load_scenario_file(source)


def memory(options: MemoryRequest | None = None, /, **values: Any) -> MemoryReport:
    """``llmplan memory``: VRAM for weights, KV cache, activations and overhead, per GPU,
    and whether it fits (``finetune="lora"`` etc. sizes fine-tuning instead).
    Keywords: ``model``, ``gpu``, ``tp``, ``precision``, ``context``, ``batch``, ...
    (:class:`~llmplan.application.options.MemoryRequest`); ``calibration`` may be a
    profile, its content or a file path."""
    request = _options(MemoryRequest, options, _with_profile(values))
    return MemoryReport.model_validate(memory_payload(request, catalog()))


def perf(options: PerfRequest | None = None, /, **values: Any) -> PerfReport:
    """``llmplan perf``: TTFT, TPOT, latency and throughput of a batch, offline, closed-loop
    or Poisson load, with 80 % intervals. Keywords as
    :class:`~llmplan.application.options.PerfRequest` (``request_rate="inf"`` with
    ``requests=N`` sends N requests at once)."""
    request = _options(PerfRequest, options, _with_profile(values))
    return PerfReport.model_validate(perf_payload(request, catalog()))


def simulate(
    options: SimulateRequest | None = None,
    /,
    *,
    max_requests: int = MAX_SIMULATED_REQUESTS,
    **values: Any,
) -> SimulationReport:
    """``llmplan simulate``: a discrete-event simulation of serving (Poisson, bursty,
    hourly or closed-loop arrivals), or with ``find_max_rate=True`` the largest rate within
    the SLO. Keywords as :class:`~llmplan.application.options.SimulateRequest`."""
    from llmplan.application.simulation import simulation_of, simulation_payload

    request = _options(SimulateRequest, options, _with_profile(values))
    simulation = simulation_of(request, catalog(), max_requests)
    return SimulationReport.model_validate(simulation_payload(simulation, _no_progress))


def validate(
    measurements: str | os.PathLike[str] | None = None,
    *,
    by: str = "engine",
    include_rows: bool = True,
    calibration: Calibration = None,
) -> ValidationReport:
    """``llmplan validate``: predict every row of a measurements CSV (a path; default the
    bundled development set) and report the error per metric family, with a breakdown
    ``by`` a column. ``to_frame()``: one row per prediction."""
    csv = None
    if measurements is not None:
        csv = read_text_bounded(Path(measurements), "measurements", MAX_DATA_FILE_BYTES)
    request = _options(
        ValidateRequest,
        None,
        {"csv": csv, "by": by, "include_rows": include_rows, "calibration": _profile(calibration)},
    )
    return ValidationReport.model_validate(validation_result(request, catalog(), _ANY_ROWS))


def calibrate(
    measurements: str | os.PathLike[str],
    *,
    name: str | None = None,
    holdout: float = 0.25,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
) -> CalibrationReport:
    """``llmplan calibrate``: fit the engine efficiencies to a measurements CSV. The fitted
    profile is the report's ``profile`` (pass it as ``calibration=`` to the other
    functions); ``out`` also writes it as YAML."""
    from llmplan.application.calibrate import run_calibration
    from llmplan.catalog.calibration_file import save_calibration
    from llmplan.validation.dataset import parse_measurements

    path = Path(measurements)
    text = read_text_bounded(path, "measurements", MAX_DATA_FILE_BYTES)
    run = run_calibration(
        parse_measurements(text, str(path)),
        catalog(),
        name=name or path.stem,
        source=str(path),
        holdout=holdout,
        seed=seed,
    )
    if out is not None:
        save_calibration(run.profile, Path(out))
    payload = clean(run.payload(None if out is None else str(out)))
    return CalibrationReport.model_validate(payload | {"profile": run.profile.model_dump()})


def plan(
    scenario: ScenarioSource,
    *,
    seed: int = 0,
    samples: int = 300,
    calibration: Calibration = None,
) -> PlanReport:
    """``llmplan plan``: the recommended deployment for a scenario (a path, a mapping or a
    :class:`~llmplan.scenario.Scenario`), every option costed or excluded with its reason,
    break-even, sensitivity and Monte Carlo (``samples`` draws, ``seed``).
    ``to_frame()``: one row per option."""
    from llmplan.plan.payload import plan_payload
    from llmplan.plan.planner import make_plan, plan_context
    from llmplan.prices.loader import load_prices

    loaded = load_scenario(scenario)
    profile = _profile(calibration)
    if profile is None and loaded.calibration is not None:
        base = Path(scenario).parent if isinstance(scenario, str | os.PathLike) else Path.cwd()
        profile = load_calibration(base / loaded.calibration)
    if samples < 0:
        raise InputError(f"must be >= 0, got {samples}", field="samples")
    check_monte_carlo_size(len(loaded.workloads), samples)
    cat, prices = catalog(calibration=profile), load_prices(user_home())
    result = make_plan(loaded, cat, prices, seed=seed, monte_carlo_samples=samples)
    payload = plan_payload(result, plan_context(loaded, cat, prices))
    payload["calibration"] = calibration_label(profile)
    return PlanReport.model_validate(clean(payload))


def _with_profile(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with a calibration path or mapping read into a profile."""
    if values.get("calibration") is None:
        return values
    return values | {"calibration": _profile(values["calibration"])}


def _no_progress(fraction: float, stage: str) -> None:
    """(progress is not reported by the Python API)"""
