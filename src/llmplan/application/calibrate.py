"""Fitting engine profiles to measurements: the run ``llmplan calibrate`` and
``llmplan.calibrate()`` share (the fit is :mod:`llmplan.calibration`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmplan.calibration import (
    MIN_ROWS,
    EngineCalibration,
    calibrate_engine,
    fitted_fields,
    prepare_all,
)
from llmplan.catalog.calibration_file import CalibrationProfile
from llmplan.catalog.loader import Catalog
from llmplan.errors import InputError
from llmplan.validation.dataset import Measurement


@dataclass(frozen=True)
class CalibrationRun:
    """The fitted profile, the fit per engine and the engines with too few rows."""

    profile: CalibrationProfile
    results: tuple[EngineCalibration, ...]
    skipped_engines: dict[str, int]

    def payload(self, written_to: str | None) -> dict[str, Any]:
        """What ``llmplan calibrate --json`` prints (``calibration``: where it was written)."""
        return {
            "calibration": written_to,
            "engines": [
                {
                    "engine": r.engine.id,
                    "rows": r.rows,
                    "median_ape_before": r.median_ape_before,
                    "median_ape_after": r.median_ape_after,
                    "holdout_rows": r.holdout_rows,
                    "holdout_median_ape_before": r.holdout_ape_before,
                    "holdout_median_ape_after": r.holdout_ape_after,
                    "outliers": [
                        {"line": o.row.line, "metric": o.row.metric, "reason": o.outlier}
                        for o in r.outliers
                    ],
                }
                for r in self.results
            ],
            "skipped_engines": dict(self.skipped_engines),
        }


def run_calibration(
    rows: list[Measurement],
    cat: Catalog,
    *,
    name: str,
    source: str,
    holdout: float = 0.25,
    seed: int = 0,
) -> CalibrationRun:
    """Fit every engine with at least ``MIN_ROWS`` predictable rows; ``holdout`` of the
    rows (drawn with ``seed``) are kept out of the fit to check it."""
    if not 0.0 <= holdout <= 0.9:
        raise InputError(f"must be in [0, 0.9], got {holdout}", field="holdout")
    prepared = prepare_all(rows, cat)
    by_engine: dict[str, list[Any]] = {}
    for item in prepared:
        by_engine.setdefault(item.deployment.engine.engine_family, []).append(item)
    usable = {k: v for k, v in by_engine.items() if len(v) >= MIN_ROWS}
    if not usable:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in by_engine.items()) or "none"
        raise InputError(
            f"no engine has the {MIN_ROWS} predictable rows a fit needs (rows: {counts})",
            field="measurements",
        )
    rng = np.random.default_rng(seed)
    results = tuple(
        calibrate_engine(rows, cat.engine(engine), holdout_fraction=holdout, rng=rng)
        for engine, rows in sorted(usable.items())
    )
    profile = _profile(results, cat, name, source)
    skipped = {k: len(v) for k, v in by_engine.items() if k not in usable}
    return CalibrationRun(profile, results, skipped)


def _profile(
    results: tuple[EngineCalibration, ...], cat: Catalog, name: str, source: str
) -> CalibrationProfile:
    file_name = source.replace("\\", "/").rsplit("/", 1)[-1]
    return CalibrationProfile(
        name=name,
        source=source,
        created=dt.date.today(),
        rows=sum(r.rows for r in results),
        engines=tuple(
            era.model_copy(
                update={
                    **{field: getattr(r.engine, field) for field, *_ in fitted_fields()},
                    "how_obtained": f"llmplan calibrate on {r.rows} rows of {file_name}",
                    "source_date": dt.date.today(),
                }
            )
            for r in results
            for era in cat.engines
            if era.engine_family == r.engine.engine_family and era.platform == r.engine.platform
        ),
    )
