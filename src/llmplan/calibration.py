"""Fitting an engine profile's efficiency factors to measurements.

A small bounded least-squares fit: the physical model stays as it is, only the engine's
efficiencies and overheads move, inside physical bounds, to minimise the robust
(soft-L1) log error ``log(predicted / measured)`` over the rows of that engine. Few
parameters against many rows: it cannot memorise rows or sources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import EngineProfile
from llmplan.deployment import Deployment
from llmplan.errors import InputError, LlmplanError
from llmplan.perf.serving import Load, predict
from llmplan.validation.dataset import Measurement
from llmplan.validation.predict import MetricSpec, Skip, engine_for, metric_spec, setup_for

# (field, lower bound, upper bound): efficiencies are fractions of datasheet peaks,
# overheads are seconds.
FITTED_FIELDS: tuple[tuple[str, float, float], ...] = (
    ("compute_efficiency", 0.15, 0.95),
    ("bandwidth_efficiency", 0.3, 0.95),
    ("communication_efficiency", 0.05, 0.95),
    ("step_overhead_s", 0.0, 0.05),
    ("per_layer_overhead_s", 0.0, 0.0005),
)
MIN_ROWS = 8
LOG_LOSS_SCALE = 0.2


@dataclass(frozen=True)
class PreparedRow:
    row: Measurement
    deployment: Deployment
    load: Load
    metric: MetricSpec


@dataclass(frozen=True)
class CalibrationResult:
    engine: EngineProfile
    rows: int
    median_ape_before: float
    median_ape_after: float


def prepare(rows: Sequence[Measurement], catalog: Catalog, engine_id: str) -> list[PreparedRow]:
    """Rows of ``engine_id`` that can be predicted, with their setup resolved once."""
    prepared: list[PreparedRow] = []
    engine = catalog.engine(engine_id)
    for row in rows:
        if engine_for(row, catalog) != engine.id:
            continue
        try:
            spec = metric_spec(row.metric)
            deployment, load = setup_for(row, catalog)
        except Skip:
            continue
        prepared.append(PreparedRow(row, deployment, load, spec))
    return prepared


def log_errors(prepared: Sequence[PreparedRow], engine: EngineProfile) -> np.ndarray:
    """log(predicted / measured) per row with ``engine``; rows that fail give 0 weight."""
    out = np.zeros(len(prepared))
    for i, item in enumerate(prepared):
        try:
            result = predict(replace(item.deployment, engine=engine), item.load)
            value = item.metric.extract(result, item.row, item.load)
        except LlmplanError:
            continue
        if value > 0 and math.isfinite(value):
            out[i] = math.log(value / item.row.value)
    return out


def _with_params(engine: EngineProfile, params: Sequence[float]) -> EngineProfile:
    update = {name: float(v) for (name, _, _), v in zip(FITTED_FIELDS, params, strict=True)}
    return engine.model_copy(update=update)


def median_ape(errors: np.ndarray) -> float:
    return float(np.median(np.abs(np.expm1(errors)))) if errors.size else float("nan")


def fit_engine(prepared: Sequence[PreparedRow], engine: EngineProfile) -> CalibrationResult:
    """Engine profile with efficiencies fitted to ``prepared`` rows."""
    if len(prepared) < MIN_ROWS:
        raise InputError(
            f"engine '{engine.id}' has {len(prepared)} usable rows; "
            f"calibration needs at least {MIN_ROWS}",
            field="engine",
        )
    start = [min(max(getattr(engine, n), lo), hi) for n, lo, hi in FITTED_FIELDS]
    lower = [lo for _, lo, _ in FITTED_FIELDS]
    upper = [hi for _, _, hi in FITTED_FIELDS]
    before = log_errors(prepared, engine)
    fit = least_squares(
        lambda p: log_errors(prepared, _with_params(engine, p)),
        start,
        bounds=(lower, upper),
        loss="soft_l1",
        f_scale=LOG_LOSS_SCALE,
        diff_step=0.05,
        max_nfev=200,
    )
    fitted = _with_params(engine, fit.x)
    after = log_errors(prepared, fitted)
    return CalibrationResult(fitted, len(prepared), median_ape(before), median_ape(after))
