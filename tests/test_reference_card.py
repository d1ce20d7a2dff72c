"""Integrity of the reference card: published figures the performance model was never fitted to.

``tests/fixtures/reference-card.csv`` holds measured inference figures from vendor pages,
MLPerf results, cloud-provider and engine-benchmark posts (issue 11, item 7). It uses the
columns of the development set so that ``llmplan validate`` reads it. These tests check the
card itself; ``test_reference_card_accuracy.py`` checks the model against it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.validation.dataset import Measurement, bundled_measurements_path, read_measurements
from llmplan.validation.predict import Skip, predict_row

CARD_PATH = Path(__file__).parent / "fixtures" / "reference-card.csv"
MIN_ROWS = 30
MIN_SOURCES = 4


def card_rows() -> list[Measurement]:
    return read_measurements(CARD_PATH)


def source_location(source: str) -> str:
    """Site or repository plus the file or page path: the first two words of ``source``.

    ``'github.com/o/r docs/x.md @abc (...)'`` -> ``'github.com/o/r docs/x.md'``, so two
    commits of one file count as the same source, and a page's trailing prose is ignored.
    """
    words = source.split()
    if len(words) > 1 and "/" in words[1]:
        return f"{words[0]} {words[1]}".lower()
    return words[0].lower().rstrip("/")


@pytest.fixture(scope="module")
def dev_rows() -> list[Measurement]:
    return read_measurements(bundled_measurements_path())


def test_card_has_enough_rows_from_several_sources() -> None:
    rows = card_rows()
    assert len(rows) >= MIN_ROWS
    assert len({source_location(r.source) for r in rows}) >= MIN_SOURCES


@pytest.mark.parametrize("row", card_rows(), ids=lambda r: f"line{r.line}")
def test_every_row_cites_where_its_number_is_printed(row: Measurement) -> None:
    assert row.source.strip(), "source is empty"
    assert len(row.notes) >= 40, "notes must say where in the source the number is printed"
    assert row.trust, "trust level is empty"


def test_no_source_is_shared_with_the_development_set(dev_rows: list[Measurement]) -> None:
    dev_sources = {source_location(r.source) for r in dev_rows}
    shared = {source_location(r.source) for r in card_rows()} & dev_sources
    assert not shared, shared


def test_no_figure_repeats_a_development_row(dev_rows: list[Measurement]) -> None:
    """The same model, metric and value in the dev set would mean a copied figure."""
    dev = {(r.model, r.metric, r.value) for r in dev_rows}
    repeated = [r.line for r in card_rows() if (r.model, r.metric, r.value) in dev]
    assert not repeated, repeated


def test_rows_are_distinct() -> None:
    keys = [
        (
            r.source,
            r.engine,
            r.model,
            r.precision,
            r.gpu,
            r.num_gpus,
            r.tp,
            r.input_len,
            r.output_len,
            r.mode,
            r.batch,
            r.request_rate,
            r.metric,
        )
        for r in card_rows()
    ]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("row", card_rows(), ids=lambda r: f"line{r.line}")
def test_every_row_is_predicted_without_a_skip(row: Measurement, catalog: Catalog) -> None:
    try:
        predicted, _family = predict_row(row, catalog)
    except Skip as reason:  # pragma: no cover - the failure message is the point
        pytest.fail(f"line {row.line} skipped: {reason}")
    assert predicted > 0
