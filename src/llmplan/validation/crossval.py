"""Leave-one-source-out cross-validation of the calibrated performance model.

For every source of a measurements set and every engine profile its rows use, the
engine's efficiencies are refitted (:func:`llmplan.calibration.fit_update`, from the
priors) on that engine's rows of all *other* sources, and the held-out rows are predicted
with the refitted profile. An engine with fewer than ``calibration.MIN_ROWS`` rows left
keeps the priors. The held-out log residuals ``log(predicted / measured)`` estimate how
the model does on measurements of a source it has never seen; their quantiles per cell
(:mod:`llmplan.perf.intervals`) give the prediction intervals.

One fit per (source, engine) pair: about a minute and a half of CPU on the development
set; ``workers`` > 1 spreads the pairs over processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from llmplan.calibration import MIN_ROWS, PreparedRow, fit_update, fitted_fields, prepare_all
from llmplan.catalog.loader import Catalog
from llmplan.errors import LlmplanError
from llmplan.perf.intervals import Cell, regime_of
from llmplan.validation.dataset import Measurement
from llmplan.validation.predict import metric_value

Progress = Callable[[int, int], None]
"""Called with (fits done, fits in all) as the cross-validation runs."""


@dataclass(frozen=True)
class HeldOutResidual:
    """One row predicted by a profile fitted without its source."""

    line: int
    source: str
    engine: str
    cell: Cell
    family: str
    measured: float
    predicted: float
    outlier: bool = False
    """True when no physical value of the factors explains the row (see
    :mod:`llmplan.validation.envelope`)."""

    @property
    def log_residual(self) -> float:
        """log(predicted / measured)."""
        return math.log(self.predicted / self.measured)

    @property
    def ape(self) -> float:
        return abs(self.predicted - self.measured) / self.measured


@dataclass(frozen=True)
class CrossValidation:
    """Held-out residuals of every row that could be predicted, and the sources held out."""

    residuals: tuple[HeldOutResidual, ...]
    sources: tuple[str, ...]
    rows: int


def _priors() -> dict[str, float]:
    return {name: prior for name, _, _, prior in fitted_fields()}


def _held_out_fit(train: Sequence[PreparedRow]) -> dict[str, float]:
    """The engine update fitted on ``train`` (the priors when too few rows remain)."""
    return fit_update(train, _priors()) if len(train) >= MIN_ROWS else _priors()


def _residual(item: PreparedRow, update: dict[str, float]) -> HeldOutResidual | None:
    engine = item.deployment.engine.model_copy(update=update)
    deployment = replace(item.deployment, engine=engine)
    try:
        value = metric_value(deployment, item.load, item.metric, item.row)
    except LlmplanError:
        return None
    if not (value > 0 and math.isfinite(value)):
        return None
    return HeldOutResidual(
        line=item.row.line,
        source=item.row.source,
        engine=item.deployment.engine.id,
        cell=Cell.of(item.deployment, regime_of(item.load)),
        family=item.metric.family,
        measured=item.row.value,
        predicted=value,
        outlier=item.outlier is not None,
    )


def _fold(prepared: Sequence[PreparedRow], source: str, family: str) -> list[HeldOutResidual]:
    """Rows of ``source`` on engine ``family`` (all its eras: the fitted factors are one
    per family, as the bundled profiles') predicted by a fit on the other sources."""
    train = [p for p in prepared if p.row.source != source and _family(p) == family]
    test = [p for p in prepared if p.row.source == source and _family(p) == family]
    update = _held_out_fit(train)
    return [r for r in (_residual(p, update) for p in test) if r is not None]


_WORKER_ROWS: list[PreparedRow] = []


def _init_worker(prepared: list[PreparedRow]) -> None:
    _WORKER_ROWS[:] = prepared


def _worker_fold(pair: tuple[str, str]) -> list[HeldOutResidual]:
    return _fold(_WORKER_ROWS, *pair)


def _family(item: PreparedRow) -> str:
    return item.deployment.engine.engine_family


def folds_of(prepared: Iterable[PreparedRow]) -> list[tuple[str, str]]:
    """(source, engine family) pairs, one refit each."""
    return sorted({(p.row.source, _family(p)) for p in prepared})


def cross_validate(
    rows: Sequence[Measurement],
    catalog: Catalog,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> CrossValidation:
    """Leave-one-source-out residuals of every row of ``rows`` that can be predicted."""
    prepared = prepare_all(rows, catalog)
    pairs = folds_of(prepared)
    found: list[HeldOutResidual] = []
    if workers <= 1:
        for done, pair in enumerate(pairs, start=1):
            found += _fold(prepared, *pair)
            if progress is not None:
                progress(done, len(pairs))
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(prepared,)) as pool:
            for done, part in enumerate(pool.map(_worker_fold, pairs), start=1):
                found += part
                if progress is not None:
                    progress(done, len(pairs))
    found.sort(key=lambda r: r.line)
    sources = tuple(sorted({p.row.source for p in prepared}))
    return CrossValidation(tuple(found), sources, len(rows))
