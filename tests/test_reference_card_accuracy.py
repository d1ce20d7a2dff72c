"""The performance model against the reference card of published figures it never saw.

The card (``tests/fixtures/reference-card.csv``, see ``test_reference_card.py``) holds figures
from sources the development set does not contain. Issue 11 asks that every one be predicted
within 25 %; that target is not met yet (README, "Accuracy"), so this test holds the line
measured when the model last changed: the share of rows within 25 % and the median error may
not get worse. Nothing is tuned to the card: its rows are never used by calibration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.validation.dataset import read_measurements
from llmplan.validation.summary import ValidationReport, validate

CARD_PATH = Path(__file__).parent / "fixtures" / "reference-card.csv"
TOLERANCE = 0.25
MEASURED_WITHIN = 30 / 58
"""Rows within 25 % when the performance model last changed (2026-12-05, second session: 30
of 58 with the MoE layers' routed-activation traffic and the development set's stated
expert-parallel layouts; earlier the same day 28 of 58 after
InferenceX's SGLang v0.5.7 DeepSeek-R1 H200 rows were added, both missed: current SGLang
MoE kernels are ~2.5x faster than the profile fitted on older SGLang rows; second refit: 28;
the trtllm profile refitted with the eight expert-parallel and disaggregated rows moved the
NIM Llama-3.3-70B H100 ITL row from 24.7 to 25.3 %; 29 after fp16 rows stopped inheriting
an FP8 KV cache; 27 on 2026-12-04)."""
MEASURED_MEDIAN_APE = 0.246


@pytest.fixture(scope="module")
def card(catalog: Catalog) -> ValidationReport:
    return validate(read_measurements(CARD_PATH), catalog)


def test_every_card_row_is_predicted(card: ValidationReport) -> None:
    assert not card.skipped, card.skipped


def test_card_rows_within_25_percent_do_not_decrease(card: ValidationReport) -> None:
    within = sum(r.ape <= TOLERANCE for r in card.results) / len(card.results)
    assert within >= MEASURED_WITHIN - 1e-9, within


def test_card_median_error_does_not_grow(card: ValidationReport) -> None:
    assert card.overall.median_ape <= MEASURED_MEDIAN_APE + 0.01, card.overall
