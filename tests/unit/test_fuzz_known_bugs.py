"""Refusals the fuzz tests found too long or not one line, in modules other than the
source guard. Each is a strict xfail: it fails as soon as the bug is fixed, so the fix
also removes the mark here and the matching allowance in fuzz_support.LONG_MESSAGES."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice import pipeline, predictor, schema
from carprice.validation import Thresholds, validate_dataset
from tests.conftest import REPO
from tests.unit.fuzz_support import check_error


def refusal(func, *args) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: B017, PT011 - the type is what we check
        func(*args)
    return info.value


@pytest.mark.xfail(strict=True, reason="validation.validate_dataset joins every failure: "
                                       "1,306 chars for a CSV of blank values")
def test_validate_dataset_refusal_of_a_blank_csv_is_short():
    blank = pd.DataFrame({c: [""] * 5 for c in schema.COLUMNS})
    check_error(refusal(validate_dataset, blank, Thresholds()))


@pytest.mark.parametrize("field, value", [("year", "9x" * 300), ("fuel_type", "x" * 600)])
@pytest.mark.xfail(strict=True, reason="predictor.check_car quotes the whole value")
def test_check_car_refusal_of_a_long_value_is_short(field, value):
    check_error(refusal(predictor.check_car, {**predictor.default_car(), field: value}))


@pytest.mark.xfail(strict=True, reason="predictor.check_car joins unknown field names raw")
def test_check_car_refusal_of_an_unknown_field_is_one_line():
    check_error(refusal(predictor.check_car, {**predictor.default_car(), "a\nb": 1}))


@pytest.mark.xfail(strict=True, reason="pipeline._cast_like lets OverflowError escape")
def test_a_huge_integer_from_the_form_is_a_params_error():
    check_error(refusal(pipeline.apply_overrides, pipeline.load_params(REPO / "params.yaml"),
                        {"rows": 10**400}))


@pytest.mark.xfail(strict=True, reason="pipeline._cast_like quotes the whole value")
def test_a_long_form_value_is_refused_in_a_short_line():
    check_error(refusal(pipeline.apply_overrides, pipeline.load_params(REPO / "params.yaml"),
                        {"rows": "x" * 1000}))


@pytest.mark.xfail(strict=True, reason="pipeline.apply_overrides replaces a whole section")
def test_a_section_cannot_be_overridden_by_a_value():
    check_error(refusal(pipeline.apply_overrides, pipeline.load_params(REPO / "params.yaml"),
                        {"data.drift": "x"}))
