"""Refusals the fuzz tests once found too long, not one line, or missing (a huge integer,
a section replaced by a value): each is refused now in one short line."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice.config.params import apply_overrides, load_params
from carprice.contract import schema, validation
from carprice.contract.validation import Thresholds, validate_dataset
from carprice.model import pyfunc
from tests.conftest import REPO
from tests.unit.fuzz_support import check_error


def refusal(func, *args) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: B017, PT011 - the type is what we check
        func(*args)
    return info.value


def test_validate_dataset_refusal_of_a_blank_csv_is_short():
    blank = pd.DataFrame({c: [""] * 5 for c in schema.COLUMNS})
    check_error(refusal(validate_dataset, blank, Thresholds()))


@pytest.mark.parametrize("field, value", [("year", "9x" * 300), ("fuel_type", "x" * 600)])
def test_check_car_refusal_of_a_long_value_is_short(field, value):
    check_error(refusal(validation.validate_record, {**pyfunc.example_car(), field: value}))


def test_check_car_refusal_of_an_unknown_field_is_one_line():
    check_error(refusal(validation.validate_record, {**pyfunc.example_car(), "a\nb": 1}))


def test_a_huge_integer_from_the_form_is_a_params_error():
    check_error(refusal(apply_overrides, load_params(REPO / "params.yaml"),
                        {"rows": 10**400}))


def test_a_long_form_value_is_refused_in_a_short_line():
    check_error(refusal(apply_overrides, load_params(REPO / "params.yaml"),
                        {"rows": "x" * 1000}))


def test_a_section_cannot_be_overridden_by_a_value():
    check_error(refusal(apply_overrides, load_params(REPO / "params.yaml"),
                        {"data.drift": "x"}))
