"""carprice.serving.pricing, choices and the serving helpers with a real (small) exported model:
form choices, input checks, one car, a CSV upload."""

from __future__ import annotations

import io

import mlflow.pyfunc
import pandas as pd
import pytest

from carprice.contract import catalog, schema
from carprice.contract.validation import ValidationError, prepare_features, validate_record
from carprice.model.estimator import OUTPUT_COLUMNS, PRICE
from carprice.model.pyfunc import (
    CarPricePyfunc,
    example_car,
    model_categories,
    predict_frame,
    score,
    smoke_check,
    smoke_examples,
    to_model_input,
    unwrap,
)
from carprice.serving.pricing import predict_one, results_csv, score_upload
from carprice.sources import synthetic
from carprice.sources.csv_reader import CsvError, to_avito
from carprice.webapp.form_choices import form_choices
from tests.unit.app_model import export_small_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = export_small_model(tmp_path_factory.mktemp("models"))
    return mlflow.pyfunc.load_model(str(folder))


# ---------------------------------------------------------------- the served model


def test_the_wrapper_exposes_what_consumers_need(model):
    inner = unwrap(model)
    assert isinstance(inner, CarPricePyfunc)
    assert inner.categories == inner.estimator.categories_
    assert "Dacia" in inner.categories["brand"]
    clean = validate_record(example_car())
    assert list(inner.predict_frame(clean).columns) == list(OUTPUT_COLUMNS)


def test_categories_come_from_the_logged_metadata(model):
    assert model_categories(model) == {k: [str(v) for v in vs]
                                       for k, vs in unwrap(model).categories.items()}


def test_smoke_check_passes_for_a_sane_model(model):
    prices = smoke_check(model)["smoke_prices_dh"]
    assert prices[1] < prices[0] < prices[2]


# ---------------------------------------------------------------- form choices


def test_choices_come_from_the_contract():
    choices = form_choices()
    assert choices.brands == sorted(catalog.brand_models())
    assert choices.models_by_brand["Dacia"] == catalog.brand_models()["Dacia"]
    assert choices.cities == list(schema.OPEN_CATEGORIES["city"])
    assert choices.closed == {k: list(v) for k, v in schema.CLOSED_CATEGORIES.items()}
    car = example_car()
    assert set(car) == set(schema.FEATURES)
    assert car["model"] in choices.models_by_brand[car["brand"]]


def test_choices_add_what_the_model_learned_and_flag_unseen_values(model):
    learned = model_categories(model)
    assert "Dacia" in learned["brand"]
    choices = form_choices({**learned, "brand": [*learned["brand"], "Lada"],
                            "model": [*learned["model"], "Niva"],
                            "city": [*learned["city"], "Lagouira"]})
    assert "Lada" in choices.brands and choices.models_by_brand["Lada"] == ["Niva"]
    assert choices.cities[-1] == "Lagouira"
    assert choices.unseen({**example_car(), "model": "Niva"}) == []
    assert choices.unseen({**example_car(), "model": "Atlantis"}) == ["model 'Atlantis'"]


# ---------------------------------------------------------------- single car


def test_predict_one_gives_a_price_inside_its_interval(model):
    pred = predict_one(model, example_car())
    assert set(pred) == {"price_dh", "lower_dh", "upper_dh"}
    assert 0 < pred["lower_dh"] <= pred["price_dh"] <= pred["upper_dh"]


def test_fast_path_matches_the_pyfunc_with_schema_enforcement(model):
    cars = smoke_examples()
    fast = [predict_one(model, row) for row in cars.to_dict("records")]
    slow = model.predict(to_model_input(cars))
    assert [round(p[PRICE], 6) for p in fast] == [round(v, 6) for v in slow[PRICE]]
    clean, _ = prepare_features(cars)
    pd.testing.assert_frame_equal(predict_frame(model, clean, enforce_schema=False),
                                  predict_frame(model, clean, enforce_schema=True))
    assert score(model, cars, enforce_schema=True)[0].equals(
        score(model, cars, enforce_schema=False)[0])


@pytest.mark.parametrize("car", [
    example_car(),
    {**example_car(), "condition": "très bon", "city": None, "mileage_km": None,
     "brand": "Lada", "model": "", "first_owner": False},
    {**example_car(), "year": "2015", "mileage_km": "120 000 km", "abs": "Oui",
     "sunroof": "non", "fuel_type": " essence "},
    {k: v for k, v in example_car().items() if k not in {"doors", "abs", "city"}},
    *smoke_examples().to_dict("records"),
])
def test_single_car_path_equals_the_batch_contract_path(car):
    """validate_record (one car's values) == validation.prepare_features (text rows)."""
    fast = validate_record(car)
    raw = pd.DataFrame([{c: ("" if car.get(c) is None else str(car.get(c)))
                         for c in schema.FEATURES}])
    slow, errors = prepare_features(raw)
    assert errors.empty
    pd.testing.assert_frame_equal(fast, slow.reset_index(drop=True))


@pytest.mark.parametrize(("change", "message"), [
    ({"year": 1890}, "year '1890' outside 1970..2027"),
    ({"mileage_km": -5}, "mileage_km '-5' outside 0.."),
    ({"doors": 9}, "doors '9' outside 2..5"),
    ({"fuel_type": "Kerosene"}, "fuel_type 'Kerosene' not one of Diesel"),
    ({"year": "two thousand"}, "year must be a number, got 'two thousand'"),
    ({"year": float("nan")}, "year must be a finite number"),
    ({"mileage_km": float("inf")}, "mileage_km must be a finite number"),
    ({"abs": "maybe"}, "abs must be true or false, got 'maybe'"),
    ({"brand": ["Dacia"]}, "brand must be a single value"),
    ({"colour": "red"}, "unknown field(s): colour"),
])
def test_bad_single_inputs_give_one_clear_line(model, change, message):
    with pytest.raises(ValidationError) as info:
        predict_one(model, {**example_car(), **change})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_labels_are_folded_and_blanks_allowed(model):
    car = {**example_car(), "condition": "très BON", "city": "", "mileage_km": None}
    clean = validate_record(car)
    assert clean["condition"].iloc[0] == "Tres bon"
    assert clean["city"].iloc[0] == schema.MISSING_CATEGORY
    assert pd.isna(clean["mileage_km"].iloc[0])
    assert predict_one(model, car)["price_dh"] > 0


# ---------------------------------------------------------------- batch


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def test_batch_scores_valid_rows_and_reports_invalid_ones_by_row(model):
    cars = synthetic.generate(50, seed=3).drop(columns=[schema.TARGET])
    cars.loc[4, "year"] = 1890
    cars.loc[9, "fuel_type"] = "Kerosene"
    seen = []
    result = score_upload(model, _csv(cars), "cars.csv", chunk_rows=20,
                          progress=lambda done, total: seen.append((done, total)))
    assert seen == [(20, 50), (40, 50), (50, 50)]
    assert result.rows_in == 50 and len(result.scored) == 48
    assert result.errors["row"].tolist() == [5, 10]  # 1-based data rows
    assert "year '1890' outside" in result.errors["problem"].iloc[0]
    assert 5 not in result.scored["row"].tolist() and result.scored["row"].iloc[0] == 1
    assert (result.scored["lower_dh"] <= result.scored["price_dh"]).all()
    assert result.summary == "48 of 50 rows scored, 2 rejected"
    out = pd.read_csv(io.BytesIO(results_csv(result)))
    assert {"row", "brand", "price_dh", "lower_dh", "upper_dh"} <= set(out.columns)
    assert len(out) == 48


def test_a_chunk_with_no_valid_row_is_reported_not_scored(model):
    cars = synthetic.generate(4, seed=8).drop(columns=[schema.TARGET])
    cars["year"] = 1890
    result = score_upload(model, _csv(cars), "old.csv", chunk_rows=2)
    assert result.scored.empty and result.errors["row"].tolist() == [1, 2, 3, 4]
    assert result.summary == "0 of 4 rows scored, 4 rejected"


def test_batch_reads_the_avito_format_in_latin1(model):
    cars = synthetic.generate(30, seed=4)
    data = to_avito(cars).to_csv(index=False).encode("latin1", errors="replace")
    result = score_upload(model, data, "avito.csv")
    assert len(result.scored) == 30 and result.errors.empty


@pytest.mark.parametrize(("data", "error", "message"), [
    (b"", CsvError, "is empty"),
    (b"   \n  ", CsvError, "is empty"),
    ("brand,year\nDacia,2019\n".encode("utf-16"), CsvError, "UTF-16 or binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", CsvError, "UTF-16 or binary"),
    (b"foo,bar\n1,2\n", CsvError, "none of the expected columns"),
    (",".join(schema.FEATURES).encode() + b"\n", CsvError, "header but no rows"),
    (b'brand,year\n"Dacia,2019\n', CsvError, "not a valid CSV"),
    (b"brand,year\nDacia,2019\n", ValidationError, "missing columns: city"),
])
def test_unreadable_uploads_give_one_clear_line(model, data, error, message):
    with pytest.raises(error, match=message) as info:
        score_upload(model, data, "upload.csv")
    assert "\n" not in str(info.value)
