"""Leave-one-source-out cross-validation of the calibrated performance model.

Usage: python benchmarks/cross_validation.py

For every source of the development set, the engine profiles are refitted on the rows of
all *other* sources (starting from the priors in ``llmplan.calibration``) and the held-out
source's rows are predicted with them. The per-family median APE over all held-out rows
estimates how the model does on measurements it has never seen. Takes a few minutes.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from llmplan.calibration import MIN_ROWS, fitted_fields, fit_update, log_errors, prepare_all
from llmplan.catalog.loader import bundled_catalog
from llmplan.validation.dataset import bundled_measurements_path, read_measurements


def main() -> None:
    catalog = bundled_catalog()
    prepared = prepare_all(read_measurements(bundled_measurements_path()), catalog)
    sources = sorted({p.row.source for p in prepared})
    errors: dict[str, list[float]] = defaultdict(list)
    for source in sources:
        held = [p for p in prepared if p.row.source == source]
        rest = [p for p in prepared if p.row.source != source]
        for engine_id in sorted({p.deployment.engine.engine_family for p in held}):
            train = [p for p in rest if p.deployment.engine.engine_family == engine_id]
            test = [p for p in held if p.deployment.engine.engine_family == engine_id]
            update = {name: prior for name, _, _, prior in fitted_fields()}
            if len(train) >= MIN_ROWS:
                update = fit_update(train, update)
            for item, err in zip(test, log_errors(test, update), strict=True):
                errors[item.metric.family].append(abs(math.expm1(err)))
                errors["overall"].append(abs(math.expm1(err)))
    print(f"{len(sources)} sources held out in turn, {len(prepared)} rows")
    for family in ("throughput", "ttft", "tpot", "e2e", "overall"):
        values = np.array(errors.get(family, []))
        if values.size:
            print(
                f"{family:>10}: n={values.size:5d} median APE {np.median(values):.3f} "
                f"within 25% {np.mean(values <= 0.25):.2f}"
            )


if __name__ == "__main__":
    main()
