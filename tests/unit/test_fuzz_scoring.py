"""Property-based: the app's single-car and batch paths (validation.validate_record,
carprice.serving.pricing) with a real small model either score (finite, positive prices inside
their interval) or raise a one-line CsvError / ValidationError."""

from __future__ import annotations

import math

import mlflow.pyfunc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carprice.contract import schema, validation
from carprice.model import pyfunc
from carprice.model.estimator import OUTPUT_COLUMNS
from carprice.serving import pricing
from tests.unit.app_model import export_small_model
from tests.unit.fuzz_support import SCALAR, cell_for, csv_files, fuzz, outcome


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return mlflow.pyfunc.load_model(str(export_small_model(tmp_path_factory.mktemp("models"))))


# Unknown field names without line breaks: check_car quotes them raw (a known bug, pinned
# in test_fuzz_known_bugs.py).
FIELD_NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)


@st.composite
def cars(draw) -> dict:
    """The form's car with some fields broken, missing or unknown."""
    car = pyfunc.example_car()
    for col in draw(st.lists(st.sampled_from(schema.FEATURES), unique=True, max_size=6)):
        car[col] = draw(cell_for(col))
    for col in draw(st.lists(st.sampled_from(schema.FEATURES), max_size=2)):
        car.pop(col, None)
    if draw(st.integers(0, 5)) == 0:
        car[draw(FIELD_NAMES)] = draw(SCALAR)
    return car


def assert_prices(prices: dict) -> None:
    values = [prices[k] for k in OUTPUT_COLUMNS]
    assert all(math.isfinite(v) and v > 0 for v in values), prices
    assert prices["lower_dh"] <= prices["price_dh"] <= prices["upper_dh"], prices


@fuzz(150)
@given(cars())
def test_check_car_gives_a_clean_row_or_one_line(car):
    clean = outcome(validation.validate_record, car)
    if clean is not None:
        assert list(clean.columns) == list(schema.FEATURES) and len(clean) == 1
        assert clean[list(schema.NUMERIC)].apply(lambda s: s.isna() | np.isfinite(s)).all().all()


@fuzz(60)
@given(cars())
def test_predict_one_prices_are_finite_and_positive(model, car):
    prices = outcome(pricing.predict_one, model, car)
    if prices is not None:
        assert_prices(prices)


@fuzz(80)
@given(csv_files())
def test_score_upload_scores_or_rejects_every_row(model, raw):
    result = outcome(pricing.score_upload, model, raw, "upload.csv", 3)
    if result is not None:
        assert len(result.scored) + len(result.errors) == result.rows_in
        for _, row in result.scored[list(OUTPUT_COLUMNS)].iterrows():
            assert_prices(row.to_dict())
        assert all(len(str(p).splitlines()) == 1 for p in result.errors["problem"])


def _shown(outcome) -> object:
    return f"{type(outcome).__name__}: {outcome}" if isinstance(outcome, Exception) else outcome


@fuzz(40)
@given(st.lists(cars(), min_size=2, max_size=6))
def test_a_car_priced_with_others_gets_what_it_gets_alone(model, batch):
    """The API prices concurrent cars in one call (price_cars): no row may leak into another."""
    together = pricing.price_cars(model, batch)
    alone = [pricing.price_cars(model, [car])[0] for car in batch]
    assert [_shown(o) for o in together] == [_shown(o) for o in alone]
