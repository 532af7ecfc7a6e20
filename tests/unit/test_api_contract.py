"""carprice.api.schemas: the request model is generated from the data contract."""

from __future__ import annotations

import importlib
import typing

import pytest
from pydantic import ValidationError

from carprice.api import schemas
from carprice.contract import schema
from carprice.contract.validation import REQUIRED
from carprice.model import pyfunc


def _json_range(model, column: str) -> tuple[float, float]:
    prop = model.model_json_schema()["properties"][column]
    number = next(s for s in prop["anyOf"] if s.get("type") == "number")
    return number["minimum"], number["maximum"]


def _literal_values(model, column: str) -> tuple:
    annotation = model.model_fields[column].annotation
    literal = next(a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal)
    return typing.get_args(literal)


def test_car_fields_are_the_contract_features_in_order():
    assert tuple(schemas.Car.model_fields) == schema.FEATURES


def test_number_ranges_are_the_contract_ranges():
    ranged = {c: r for c, r in schema.RANGES.items() if c in schema.FEATURES}
    assert ranged  # the contract does bound some features
    assert {c: _json_range(schemas.Car, c) for c in ranged} == ranged


def test_closed_categories_are_literals_of_the_contract_values():
    for column, values in schema.CLOSED_CATEGORIES.items():
        assert _literal_values(schemas.Car, column) == values


def test_required_fields_are_the_contract_required_columns_and_flags_default_false():
    fields = schemas.Car.model_fields
    assert {c for c, f in fields.items() if f.is_required()} == set(REQUIRED)
    assert all(fields[c].default is False for c in schema.BOOLEAN)


def test_a_contract_change_reaches_the_generated_model(monkeypatch):
    monkeypatch.setitem(schema.RANGES, "year", (1990, 2030))
    monkeypatch.setitem(schema.CLOSED_CATEGORIES, "gearbox", ("Manuelle", "Automatique", "CVT"))
    try:
        changed = importlib.reload(schemas)
        assert _json_range(changed.Car, "year") == (1990, 2030)
        assert "CVT" in _literal_values(changed.Car, "gearbox")
    finally:
        monkeypatch.undo()
        importlib.reload(schemas)
    assert _json_range(schemas.Car, "year") == schema.RANGES["year"]


def test_default_car_is_valid_and_closed_labels_match_ignoring_accents_and_case():
    car = pyfunc.example_car()
    assert schemas.Car(**car).model_dump() == car
    folded = schemas.Car(**{**car, "condition": "TRÈS BON", "gearbox": "manuelle"})
    assert (folded.condition, folded.gearbox) == ("Tres bon", "Manuelle")


@pytest.mark.parametrize(("change", "field"), [
    ({"year": "2018"}, "year"),  # a number as text: JSON clients send numbers
    ({"doors": True}, "doors"),
    ({"year": 1969}, "year"),
    ({"mileage_km": -1}, "mileage_km"),
    ({"fuel_type": "Nuclear"}, "fuel_type"),
    ({"abs": "yes"}, "abs"),
    ({"brand": "x" * 101}, "brand"),
    ({"colour": "red"}, "colour"),
])
def test_bad_values_are_refused_naming_the_field(change, field):
    with pytest.raises(ValidationError) as err:
        schemas.Car(**{**pyfunc.example_car(), **change})
    assert [e["loc"][0] for e in err.value.errors()] == [field]


def test_unknown_values_are_null_and_open_categories_accept_new_labels():
    car = {**pyfunc.example_car(), "year": None, "city": None, "brand": "Tesla"}
    parsed = schemas.Car(**car)
    assert parsed.year is None and parsed.city is None and parsed.brand == "Tesla"
