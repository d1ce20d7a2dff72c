"""The performance model against the reference card: each published figure within 25 %.

The card (``tests/fixtures/reference-card.csv``, see ``test_reference_card.py``) holds figures
from sources the development set never saw. Issue 11 asks that every one be predicted within
25 % (``|predicted / measured - 1| <= 0.25``). Nothing here is tuned to the card, and no row is
marked as an expected failure: a failing row is a finding about the model, reported as such.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.validation.dataset import Measurement, read_measurements
from llmplan.validation.predict import predict_row

CARD_PATH = Path(__file__).parent / "fixtures" / "reference-card.csv"
TOLERANCE = 0.25


def _row_id(row: Measurement) -> str:
    return f"line{row.line}-{row.engine}-{row.gpu}-{row.model.split('/')[-1]}-{row.metric}"


@pytest.mark.parametrize("row", read_measurements(CARD_PATH), ids=_row_id)
def test_prediction_within_25_percent(row: Measurement, catalog: Catalog) -> None:
    predicted, _family = predict_row(row, catalog)
    ratio = predicted / row.value
    assert abs(ratio - 1.0) <= TOLERANCE, (
        f"line {row.line}: predicted {predicted:.4g} vs measured {row.value:.4g} "
        f"({ratio - 1.0:+.0%}); source: {row.source}"
    )
