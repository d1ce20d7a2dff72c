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
from scipy.optimize import least_squares

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import EngineProfile
from llmplan.deployment import Deployment
from llmplan.errors import InputError, LlmplanError
from llmplan.perf.load import Load
from llmplan.validation.dataset import Measurement
from llmplan.validation.predict import MetricSpec, Skip, metric_spec, metric_value, setup_for

# (field, lower bound, upper bound, prior): efficiencies are fractions of datasheet
# peaks, overheads are seconds. The priors are typical published figures (cuBLAS GEMMs
# reach ~60-70 % of peak, decode kernels ~80 % of HBM bandwidth, NCCL ring all-reduce ~70 %
# of link bandwidth, a CUDA-graph decode step pays a few ms of CPU and ~50 us per layer,
# sampling and bookkeeping cost ~20 us per sequence per step); a weak pull towards them
# keeps parameters the rows cannot tell apart physical.
FITTED_FIELDS: tuple[tuple[str, float, float, float], ...] = (
    ("compute_efficiency", 0.15, 0.95, 0.6),
    ("bandwidth_efficiency", 0.3, 0.95, 0.8),
    ("communication_efficiency", 0.05, 0.95, 0.7),
    ("moe_efficiency", 0.05, 1.0, 0.7),
    ("attention_efficiency", 0.2, 1.0, 0.8),
    ("step_overhead_s", 0.0, 0.05, 0.002),
    ("per_layer_overhead_s", 0.0, 0.0005, 0.00005),
    ("per_sequence_overhead_s", 0.0, 0.005, 0.00002),
)
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
        prepared.append(PreparedRow(row, deployment, load, spec))
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


Field = tuple[str, float, float, float]


def identifiable_fields(prepared: Sequence[PreparedRow]) -> list[Field]:
    """Fields the rows can inform: MoE and communication only if some rows exercise them."""
    has_moe = any(p.deployment.model.moe is not None for p in prepared)
    has_comm = any(p.deployment.num_gpus > 1 for p in prepared)
    skip = set()
    if not has_moe:
        skip.add("moe_efficiency")
    if not has_comm:
        skip.add("communication_efficiency")
    return [f for f in FITTED_FIELDS if f[0] not in skip]


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
    (default: the generic ones of :data:`FITTED_FIELDS`) is what the fit is pulled towards,
    e.g. an already calibrated profile when few new rows refine it."""
    fields = identifiable_fields(prepared)
    if priors:
        fields = [(n, lo, hi, min(max(priors.get(n, p), lo), hi)) for n, lo, hi, p in fields]
    origin = dict(start or {})
    x0 = [min(max(origin.get(n, prior), lo), hi) for n, lo, hi, prior in fields]
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
    current = {name: float(getattr(engine, name)) for name, *_ in FITTED_FIELDS}
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


def _current(engine: EngineProfile) -> dict[str, float]:
    return {name: float(getattr(engine, name)) for name, *_ in FITTED_FIELDS}


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
    return EngineCalibration(
        engine.model_copy(update=update),
        len(prepared),
        median_ape(log_errors(prepared, current)),
        median_ape(log_errors(prepared, update)),
        len(test),
        holdout_before,
        holdout_after,
    )
