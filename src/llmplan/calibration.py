"""Fitting an engine profile's efficiency factors to measurements.

A small bounded least-squares fit: the physical model stays as it is, only the engine's
efficiencies and overheads move, inside physical bounds, to minimise the robust
(soft-L1) log error ``log(predicted / measured)`` over the rows of that engine. Few
parameters against many rows: it cannot memorise rows or sources.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from llmplan.catalog.loader import Catalog
from llmplan.catalog.ranges import efficiency_ranges
from llmplan.catalog.schema import EngineProfile
from llmplan.deployment import Deployment
from llmplan.errors import InputError, LlmplanError
from llmplan.perf.load import Load
from llmplan.validation.dataset import Measurement
from llmplan.validation.envelope import outlier_reason
from llmplan.validation.predict import MetricSpec, Skip, metric_spec, metric_value, setup_for

Field = tuple[str, float, float, float]
"""(engine-profile field, lower bound, upper bound, prior)."""


def fitted_fields() -> tuple[Field, ...]:
    """The factors calibration moves, with their physical ranges and typical values
    (``data/efficiency-ranges.yaml``, each with its published source)."""
    return tuple((r.field, r.low, r.high, r.typical) for r in efficiency_ranges())


PRIOR_WEIGHT = 3.0
"""Pull of each prior, against the rows' robust log errors. Chosen by leave-one-source-out
cross-validation (``benchmarks/cross_validation.py``; held-out median APE overall 23.3 %
at 0.5, 21.7 % at 3, worse again at 5): rows that cannot tell parameters apart (a source of
multi-GPU runs only, say) no longer drag single-GPU efficiencies away from typical values."""
MIN_ROWS = 8
LOG_LOSS_SCALE = 0.2


@dataclass(frozen=True)
class PreparedRow:
    row: Measurement
    deployment: Deployment
    load: Load
    metric: MetricSpec
    outlier: str | None = None
    """Why no physical value of the factors explains the row (it is left out of fits)."""


@dataclass(frozen=True)
class CalibrationResult:
    engine: EngineProfile
    rows: int
    median_ape_before: float
    median_ape_after: float


def prepare(rows: Sequence[Measurement], catalog: Catalog, engine_id: str) -> list[PreparedRow]:
    """Rows predicted with the ``engine_id`` profile, with their setup resolved once."""
    engine = catalog.engine(engine_id)
    return [p for p in prepare_all(rows, catalog) if p.deployment.engine.id == engine.id]


def prepare_all(rows: Sequence[Measurement], catalog: Catalog) -> list[PreparedRow]:
    """Every row that can be predicted, with its setup resolved once."""
    prepared: list[PreparedRow] = []
    for row in rows:
        try:
            spec = metric_spec(row.metric)
            deployment, load = setup_for(row, catalog)
        except Skip:
            continue
        prepared.append(
            PreparedRow(row, deployment, load, spec, outlier_reason(deployment, load, spec, row))
        )
    return prepared


def log_errors(
    prepared: Sequence[PreparedRow], update: Mapping[str, float] | None = None
) -> np.ndarray:
    """log(predicted / measured) per row, each row's engine profile changed by ``update``
    (field -> value); rows that cannot be predicted count as 0."""
    out = np.zeros(len(prepared))
    for i, item in enumerate(prepared):
        deployment = item.deployment
        if update:
            deployment = replace(deployment, engine=deployment.engine.model_copy(update=update))
        try:
            value = metric_value(deployment, item.load, item.metric, item.row)
        except LlmplanError:
            continue
        if value > 0 and math.isfinite(value):
            out[i] = math.log(value / item.row.value)
    return out


def median_ape(errors: np.ndarray) -> float:
    return float(np.median(np.abs(np.expm1(errors)))) if errors.size else float("nan")


def identifiable_fields(prepared: Sequence[PreparedRow]) -> list[Field]:
    """Fields the rows can inform: MoE and communication only if some rows exercise them."""
    has_moe = any(p.deployment.model.moe is not None for p in prepared)
    has_comm = any(p.deployment.num_gpus > 1 for p in prepared)
    skip = set()
    if not has_moe:
        skip.add("moe_efficiency")
    if not has_comm:
        skip.add("communication_efficiency")
    return [f for f in fitted_fields() if f[0] not in skip]


def _update(fields: Sequence[Field], params: Sequence[float] | np.ndarray) -> dict[str, float]:
    return {f[0]: float(v) for f, v in zip(fields, params, strict=True)}


def _residuals(
    prepared: Sequence[PreparedRow], fields: Sequence[Field], params: np.ndarray
) -> np.ndarray:
    priors = [
        PRIOR_WEIGHT * (p - prior) / (hi - lo)
        for p, (_, lo, hi, prior) in zip(params, fields, strict=True)
    ]
    return np.concatenate([log_errors(prepared, _update(fields, params)), priors])


def fit_update(
    prepared: Sequence[PreparedRow],
    start: Mapping[str, float] | None = None,
    *,
    priors: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Efficiencies and overheads (field -> value) that best fit ``prepared`` rows, applied
    alike to each row's own engine profile. ``start`` defaults to the priors; ``priors``
    (default: the generic ones of :func:`fitted_fields`) is what the fit is pulled towards,
    e.g. an already calibrated profile when few new rows refine it."""
    prepared = [p for p in prepared if p.outlier is None] or list(prepared)
    fields = identifiable_fields(prepared)
    if priors:
        fields = [(n, lo, hi, min(max(priors.get(n, p), lo), hi)) for n, lo, hi, p in fields]
    origin = dict(start or {})
    x0 = [min(max(origin.get(n, prior), lo), hi) for n, lo, hi, prior in fields]
    from scipy.optimize import least_squares  # imported on first use: scipy is slow to import

    fit = least_squares(
        lambda p: _residuals(prepared, fields, p),
        x0,
        bounds=([f[1] for f in fields], [f[2] for f in fields]),
        loss="soft_l1",
        f_scale=LOG_LOSS_SCALE,
        diff_step=0.05,
        max_nfev=300,
    )
    return _update(fields, fit.x)


def fit_engine(prepared: Sequence[PreparedRow], engine: EngineProfile) -> CalibrationResult:
    """``engine`` with its efficiencies fitted to ``prepared`` rows (rows of that engine),
    starting from the generic priors (so a refit does not depend on the previous one)."""
    if len(prepared) < MIN_ROWS:
        raise InputError(
            f"engine '{engine.id}' has {len(prepared)} usable rows; "
            f"calibration needs at least {MIN_ROWS}",
            field="engine",
        )
    current = {name: float(getattr(engine, name)) for name, *_ in fitted_fields()}
    before = log_errors(prepared, current)
    update = fit_update(prepared)
    after = log_errors(prepared, update)
    fitted = engine.model_copy(update=update)
    return CalibrationResult(fitted, len(prepared), median_ape(before), median_ape(after))


@dataclass(frozen=True)
class EngineCalibration:
    """One engine fitted to a user's measurements, with errors before and after: on all
    its rows, and on a held-out share the fit did not see (fitted on the rest)."""

    engine: EngineProfile
    rows: int
    median_ape_before: float
    median_ape_after: float
    holdout_rows: int
    holdout_ape_before: float
    holdout_ape_after: float
    outliers: tuple[PreparedRow, ...] = ()
    """Rows no physical value of the factors explains: left out of the fit and the errors."""


def _current(engine: EngineProfile) -> dict[str, float]:
    return {name: float(getattr(engine, name)) for name, *_ in fitted_fields()}


def calibrate_engine(
    prepared: Sequence[PreparedRow],
    engine: EngineProfile,
    *,
    holdout_fraction: float,
    rng: np.random.Generator,
) -> EngineCalibration:
    """Fit ``engine`` to ``prepared`` (its rows), pulled towards its current values.

    A random ``holdout_fraction`` of the rows (at least one, if the rest keep
    :data:`MIN_ROWS`) is predicted by a fit on the others; the profile returned is then
    fitted on every row."""
    if len(prepared) < MIN_ROWS:
        raise InputError(
            f"engine '{engine.id}' has {len(prepared)} usable rows; "
            f"calibration needs at least {MIN_ROWS}",
            field="engine",
        )
    if not 0 <= holdout_fraction < 1:
        raise InputError("must be in [0, 1)", field="holdout_fraction")
    outliers = tuple(p for p in prepared if p.outlier is not None)
    prepared = [p for p in prepared if p.outlier is None]
    if len(prepared) < MIN_ROWS:
        raise InputError(
            f"engine '{engine.id}' has {len(prepared)} rows inside the physical envelope "
            f"({len(outliers)} outliers); calibration needs at least {MIN_ROWS}",
            field="engine",
        )
    current = _current(engine)
    order = rng.permutation(len(prepared))
    held = min(len(prepared) - MIN_ROWS, round(holdout_fraction * len(prepared)))
    test = [prepared[i] for i in order[:held]]
    train = [prepared[i] for i in order[held:]]
    holdout_before = holdout_after = float("nan")
    if test:
        trained = fit_update(train, current, priors=current)
        holdout_before = median_ape(log_errors(test, current))
        holdout_after = median_ape(log_errors(test, trained))
    update = fit_update(prepared, current, priors=current)
    before = median_ape(log_errors(prepared, current))
    after = median_ape(log_errors(prepared, update))
    if after > before:  # the robust loss improved but the typical row did not: keep what was
        update, after = current, before
    return EngineCalibration(
        engine.model_copy(update=update),
        len(prepared),
        before,
        after,
        len(test),
        holdout_before,
        holdout_after,
        outliers,
    )
