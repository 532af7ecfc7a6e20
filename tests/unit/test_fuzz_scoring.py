"""Property-based: the app's single-car and batch paths (validation.validate_record,
carprice.serving.pricing) with a real small model either score (finite, positive prices inside
their interval) or raise a one-line CsvError / ValidationError. Valid cars and files must
be scored; cars and files broken in one known way must be refused, naming what is wrong."""

from __future__ import annotations

import io
import math

import mlflow.pyfunc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carprice.contract import schema, validation
from carprice.contract.validation import ValidationError
from carprice.model import pyfunc
from carprice.model.estimator import OUTPUT_COLUMNS
from carprice.serving import pricing
from carprice.sources.csv_reader import CsvError, to_avito
from tests.unit.app_model import export_small_model
from tests.unit.fuzz_support import (
    POOL,
    SCALAR,
    Tally,
    cell_for,
    csv_files,
    fuzz,
    refusal,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return mlflow.pyfunc.load_model(str(export_small_model(tmp_path_factory.mktemp("models"))))


# Any unknown field name: line breaks, control characters and surrogates included.
FIELD_NAMES = st.text(max_size=20)


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


def test_check_car_gives_a_clean_row_or_one_line():
    tally = Tally()

    @fuzz(150)
    @given(cars())
    def check(car):
        clean = tally.outcome(validation.validate_record, car)
        if clean is not None:
            assert list(clean.columns) == list(schema.FEATURES) and len(clean) == 1
            assert clean[list(schema.NUMERIC)].apply(
                lambda s: s.isna() | np.isfinite(s)).all().all()

    check()
    tally.require(accepted=0.1, refused=0.1)


def test_predict_one_prices_are_finite_and_positive(model):
    tally = Tally()

    @fuzz(60)
    @given(cars())
    def check(car):
        prices = tally.outcome(pricing.predict_one, model, car)
        if prices is not None:
            assert_prices(prices)

    check()
    tally.require(accepted=0.1, refused=0.1)


def test_score_upload_scores_or_rejects_every_row(model):
    tally = Tally()

    @fuzz(80)
    @given(st.one_of(csv_files(), valid_csv_files().map(lambda case: case[0])))
    def check(raw):
        result = tally.outcome(pricing.score_upload, model, raw, "upload.csv", 3)
        if result is not None:
            assert len(result.scored) + len(result.errors) == result.rows_in
            for _, row in result.scored[list(OUTPUT_COLUMNS)].iterrows():
                assert_prices(row.to_dict())
            assert all(len(str(p).splitlines()) == 1 for p in result.errors["problem"])

    check()
    # garbage files (almost never scorable) mixed with valid ones (always)
    tally.require(accepted=0.2, refused=0.2)


def _shown(result) -> object:
    return f"{type(result).__name__}: {result}" if isinstance(result, Exception) else result


def test_a_car_priced_with_others_gets_what_it_gets_alone(model):
    """The API prices concurrent cars in one call (price_cars): no row may leak into another."""
    tally = Tally()

    @fuzz(40)
    @given(st.lists(cars(), min_size=2, max_size=6))
    def check(batch):
        together = pricing.price_cars(model, batch)
        alone = [pricing.price_cars(model, [car])[0] for car in batch]
        assert [_shown(o) for o in together] == [_shown(o) for o in alone]
        for priced in together:
            tally.count(isinstance(priced, dict))

    check()
    # about one car in ten of cars() is valid: 15-20 of some 150 per run
    tally.require(accepted=0.05, refused=0.1)


# ---------------------------------------------------------------- valid cars: must be priced

BOOL_TEXT = {"Oui": True, "Non": False, "true": True, "False": False, "1": True, "0": False,
             "vrai": True, "FAUX": False, "x": True, "yes": True, "no": False}
# A blank field (the form's or a file's spellings). Not a float NaN for a number: a car's
# numbers must be finite (validation._typed_value refuses NaN).
BLANKS = st.sampled_from([None, "", "--", "  ", "nan", "N/A"])


def _spellings(code: str) -> list[str]:
    """How a form or a file may write a category code: as is, accented, any case."""
    label = schema.label("condition", code) if code in schema.CLOSED_CATEGORIES["condition"] \
        else code
    return [code, code.upper(), code.lower(), f" {code} ", label]


@st.composite
def valid_value(draw, col: str) -> tuple[object, object]:
    """(a value the contract accepts for col, what the clean row must hold; None: skip)."""
    if draw(st.integers(0, 5)) == 0 and col not in {"brand", "model"}:
        blank = draw(BLANKS if col in schema.NUMERIC else BLANKS | st.just(math.nan))
        if col in schema.NUMERIC:
            return blank, math.nan
        if col in schema.BOOLEAN:
            return blank, False
        return blank, schema.MISSING_CATEGORY if col in schema.CLOSED_CATEGORIES else None
    if col in schema.CLOSED_CATEGORIES:
        code = draw(st.sampled_from(schema.CLOSED_CATEGORIES[col]))
        return draw(st.sampled_from(_spellings(code))), code
    if col in schema.CATEGORICAL:  # open: known values, or a new one the model has not seen
        known = draw(st.sampled_from(schema.OPEN_CATEGORIES[col][:30]))
        return draw(st.one_of(st.just(known), st.text(
            st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12))), None
    if col in schema.BOOLEAN:
        value = draw(st.booleans())
        text = draw(st.sampled_from(sorted(BOOL_TEXT)))
        return draw(st.sampled_from([(value, value), (text, BOOL_TEXT[text])]))
    lo, hi = schema.RANGES[col]
    number = draw(st.one_of(st.integers(int(lo), int(hi)),
                            st.floats(lo, hi, allow_nan=False, allow_infinity=False)))
    shape = draw(st.integers(0, 2))
    if shape == 1 and float(number).is_integer():
        return str(int(number)), float(number)
    return number, float(number)


@st.composite
def valid_cars(draw) -> tuple[dict, dict]:
    """(a car the contract accepts, in any of its accepted spellings; expected clean values)."""
    car, expected = {}, {}
    for col in schema.FEATURES:
        if col in schema.NUMERIC or col in schema.BOOLEAN:
            absent = draw(st.integers(0, 9)) == 0  # a field left out counts as blank
        else:
            absent = False
        if absent:
            expected[col] = math.nan if col in schema.NUMERIC else False
            continue
        car[col], expected[col] = draw(valid_value(col))
    return car, expected


def _same(got, want) -> bool:
    if want is None:
        return True
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == want


@fuzz(150)
@given(valid_cars())
def test_a_valid_car_gives_its_clean_row(case):
    car, expected = case
    clean = validation.validate_record(car)
    assert list(clean.columns) == list(schema.FEATURES) and len(clean) == 1
    row = clean.iloc[0].to_dict()
    wrong = {c: (car.get(c, "<absent>"), row[c], w) for c, w in expected.items()
             if not _same(row[c], w)}
    assert not wrong, wrong


@fuzz(60)
@given(st.lists(valid_cars(), min_size=1, max_size=4))
def test_valid_cars_are_priced(model, cases):
    cars = [car for car, _ in cases]
    assert_prices(pricing.predict_one(model, cars[0]))
    for priced in pricing.price_cars(model, cars):
        assert isinstance(priced, dict), priced
        assert_prices(priced)


# ---------------------------------------------------------------- broken cars: must be refused

NOT_A_NUMBER = st.sampled_from(["abc", "old", "?", "deux", "n.c.", True, [2018], {"y": 1}])
NOT_A_BOOL = st.sampled_from(["maybe", "2", "peut-etre", "?", 2, -1, 0.5, [True]])


def _outside(col: str):
    lo, hi = schema.RANGES[col]
    number = st.one_of(
        st.floats(max_value=lo, exclude_max=True, allow_nan=False, allow_infinity=False),
        st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False),
        st.integers(max_value=int(lo) - 1), st.integers(min_value=int(hi) + 1),
        st.sampled_from([math.nan, math.inf, -math.inf]))
    # as text too; not in scientific notation: test_a_number_in_scientific_notation_...
    text = number.filter(lambda v: math.isfinite(v)).map(repr).filter(lambda t: "e" not in t)
    return st.one_of(number, text, NOT_A_NUMBER)


def _unknown_label(col: str):
    known = {schema.key(v) for v in schema.CLOSED_CATEGORIES[col]}
    return st.one_of(
        st.sampled_from(["Hydrogene", "zzz", "Vapeur", "Semi-auto", "Neuf", "???"]),
        st.text(st.characters(whitelist_categories=("L",)), min_size=1, max_size=15),
    ).filter(lambda t: not schema.is_missing(t) and schema.key(t) not in known)


@st.composite
def broken_cars(draw) -> tuple[dict, str]:
    """(a valid car with one field broken, the field's name the refusal must give)."""
    car = draw(valid_cars())[0]
    kind = draw(st.sampled_from(["numeric", "closed", "bool", "unknown", "unhashable"]))
    if kind == "unknown":
        name = draw(FIELD_NAMES.filter(lambda n: n not in schema.FEATURES))
        car[name] = draw(SCALAR)
        return car, "unknown field"
    if kind == "numeric":
        col = draw(st.sampled_from(schema.NUMERIC))
        car[col] = draw(_outside(col))
    elif kind == "closed":
        col = draw(st.sampled_from(sorted(schema.CLOSED_CATEGORIES)))
        car[col] = draw(_unknown_label(col))
    elif kind == "bool":
        col = draw(st.sampled_from(schema.BOOLEAN))
        car[col] = draw(NOT_A_BOOL)
    else:
        col = draw(st.sampled_from(schema.FEATURES))
        car[col] = draw(st.sampled_from([[1], {"a": 1}, ["Diesel"]]))
    return car, col


@fuzz(200)
@given(broken_cars())
def test_a_car_broken_in_one_field_is_refused_naming_it(case):
    car, field = case
    exc = refusal(validation.validate_record, car)
    assert isinstance(exc, ValidationError) and field in str(exc), (field, str(exc))


@pytest.mark.parametrize("field, text, value", [("mileage_km", "1e5", 100_000.0),
                                                ("fiscal_power_cv", "4.94e-95", None)])
def test_a_number_in_scientific_notation_is_read_or_refused(field, text, value):
    car = {**pyfunc.example_car(), field: text}
    try:
        clean = validation.validate_record(car)
    except ValidationError as exc:
        assert field in str(exc)
    else:
        assert clean[field].iloc[0] == value, (text, clean[field].iloc[0])


@fuzz(40)
@given(broken_cars(), st.lists(valid_cars(), min_size=1, max_size=3))
def test_a_broken_car_among_valid_ones_is_refused_alone(model, broken, valid):
    cars = [broken[0], *(car for car, _ in valid)]
    assert isinstance(refusal(pricing.predict_one, model, cars[0]), ValidationError)
    first, *rest = pricing.price_cars(model, cars)
    assert isinstance(first, ValidationError) and broken[1] in str(first), first
    for priced in rest:
        assert isinstance(priced, dict), priced
        assert_prices(priced)


# ---------------------------------------------------------------- valid and broken files


@st.composite
def valid_csv_files(draw) -> tuple[bytes, int]:
    """(a CSV the app must score whole: contract or Avito export, any usual delimiter and
    encoding, rows)."""
    n = draw(st.integers(1, 12))
    rows = POOL.iloc[draw(st.lists(st.integers(0, len(POOL) - 1), min_size=n, max_size=n))]
    frame = to_avito(rows.reset_index(drop=True)) if draw(st.booleans()) else rows
    if draw(st.booleans()):
        frame = frame.drop(columns=[schema.TARGET if schema.TARGET in frame else "Prix"])
    sep = draw(st.sampled_from([",", ";", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin1", "cp1252"]))
    text = frame.to_csv(index=False, sep=sep, lineterminator=draw(st.sampled_from(["\n",
                                                                                  "\r\n"])))
    return text.encode(encoding), n


@fuzz(40)
@given(valid_csv_files())
def test_a_valid_csv_is_scored_whole(model, case):
    raw, n = case
    result = pricing.score_upload(model, raw, "upload.csv", 5)
    assert result.rows_in == n and len(result.scored) == n and result.errors.empty, (
        result.summary, result.errors.head(3).to_dict("records"))
    assert result.scored["row"].tolist() == list(range(1, n + 1))
    for _, row in result.scored[list(OUTPUT_COLUMNS)].iterrows():
        assert_prices(row.to_dict())


@st.composite
def broken_csv_files(draw) -> tuple[bytes, type]:
    """(a CSV that cannot be scored at all, the error it must raise)."""
    raw, _ = draw(valid_csv_files())
    text = raw.decode("latin1")
    header = text.splitlines()[0]
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from([b"", b" ", b"\n\n", b"\r\n \t"])), CsvError
    if kind == 1:  # UTF-16 or binary: NUL bytes
        return text.encode("utf-16"), CsvError
    if kind == 2:  # a header and no rows
        return (header + "\n").encode("latin1"), CsvError
    if kind == 3:  # none of the expected columns
        return draw(st.sampled_from([b"a,b,c\n1,2,3\n", b"Lien;Secteur\nx;y\n",
                                     b"foo\nbar\n"])), CsvError
    frame = pricing.read_upload(raw)
    required = [c for c in validation.REQUIRED if c in frame]
    drop = draw(st.lists(st.sampled_from(required), min_size=1, unique=True))
    out = io.StringIO()
    frame.drop(columns=drop).to_csv(out, index=False)
    return out.getvalue().encode(), ValidationError


@fuzz(40)
@given(broken_csv_files())
def test_a_csv_that_cannot_be_scored_is_refused_in_one_line(model, case):
    raw, error = case
    exc = refusal(pricing.score_upload, model, raw, "upload.csv", 5)
    assert isinstance(exc, error), repr(exc)
