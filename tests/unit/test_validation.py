import numpy as np
import pandas as pd
import pytest

from carprice.contract import catalog, schema
from carprice.contract.validation import (
    Thresholds,
    ValidationError,
    parse_bool,
    parse_number,
    prepare_features,
    summary_markdown,
    validate_dataset,
)
from carprice.sources.synthetic import generate

LIMITS = Thresholds(min_rows=10, max_missing_share=0.3, max_drop_share=0.1,
                    max_duplicate_share=0.2)


@pytest.fixture
def frame():
    return generate(400, seed=11)


def test_clean_data_passes_with_a_full_report(frame):
    clean, report = validate_dataset(frame, LIMITS)
    assert report["passed"] and report["rows_out"] == 400 and not report["failures"]
    assert list(clean.columns) == list(schema.COLUMNS)
    assert "PASSED" in summary_markdown(report)


def test_empty_file():
    with pytest.raises(ValidationError, match="no rows"):
        validate_dataset(generate(5).iloc[0:0], LIMITS)


def test_missing_columns_are_named(frame):
    with pytest.raises(ValidationError, match="missing columns: year, price_dh"):
        validate_dataset(frame.drop(columns=["year", "price_dh"]), LIMITS)


def test_optional_equipment_columns_default_to_false(frame):
    clean, report = validate_dataset(frame.drop(columns=["sunroof"]), LIMITS)
    assert report["absent_optional_columns"] == ["sunroof"] and not clean.sunroof.any()


@pytest.mark.parametrize("column, value, rule", [
    ("price_dh", 0, "price_dh outside"),
    ("price_dh", -5000, "price_dh outside"),
    ("price_dh", np.nan, "price_dh missing"),
    ("year", 1890, "year outside"),
    ("year", 2090, "year outside"),
    ("mileage_km", -1, "mileage_km outside"),
    ("fuel_type", "Nuclear", "fuel_type not one of"),
])
def test_bad_values_drop_rows_and_too_many_fail_the_run(frame, column, value, rule):
    few = frame.copy()
    few[column] = few[column].astype(object)
    few.loc[:9, column] = value  # 2.5%: dropped and reported
    clean, report = validate_dataset(few, LIMITS)
    assert report["rows_out"] == 390
    assert any(k.startswith(rule) for k in report["invalid_by_rule"])
    many = few.copy()
    many.loc[:99, column] = value  # 25%: over max_drop_share
    with pytest.raises(ValidationError, match=rf"25\.0% of rows invalid \(max 10%\).*{rule}"):
        validate_dataset(many, LIMITS)


def test_nan_heavy_column_fails_with_its_name(frame):
    frame = frame.astype({"mileage_km": object})
    frame.loc[:199, "mileage_km"] = None
    with pytest.raises(ValidationError, match="column mileage_km is 50% missing") as err:
        validate_dataset(frame, LIMITS)
    assert err.value.report["missing_share"]["mileage_km"] == 0.5


def test_unknown_open_categories_are_kept_and_reported(frame):
    frame["brand"] = frame["brand"].astype(object)
    frame.loc[:49, "brand"] = "Lada"
    clean, report = validate_dataset(frame, LIMITS)
    assert report["rows_out"] == 400
    assert report["unknown_categories"]["brand"]["top"] == {"Lada": 50}


def test_duplicates_are_dropped_then_fail_above_the_limit(frame):
    doubled = pd.concat([frame, frame.head(40)], ignore_index=True)
    clean, report = validate_dataset(doubled, LIMITS)
    assert report["rows_duplicate"] == 40 and len(clean) == 400
    with pytest.raises(ValidationError, match="duplicates"):
        validate_dataset(pd.concat([frame] * 2, ignore_index=True), LIMITS)


def test_too_few_rows(frame):
    with pytest.raises(ValidationError, match="only 5 valid rows"):
        validate_dataset(frame.head(5), LIMITS)


def test_text_numbers_and_booleans():
    assert parse_number(pd.Series(["50 000 - 54 999", "6 CV", "1.234", "abc", None])).tolist()[:3] \
        == [52499.5, 6.0, 1234.0]
    assert parse_bool(pd.Series(["Oui", "non", "TRUE", "0", "peut-être"])).tolist()[:4] \
        == [True, False, True, False]


def test_unreadable_values_are_counted(frame):
    raw = frame.astype(str)
    raw.loc[:4, "year"] = "recent"
    _, report = validate_dataset(raw, LIMITS)
    assert report["unreadable_values"] == {"year": 5}


def test_serving_reports_bad_rows_and_keeps_good_ones(frame):
    raw = frame.drop(columns=[schema.TARGET]).head(6).astype(object)
    raw.loc[1, "year"] = 1800
    raw.loc[3, "gearbox"] = "CVT"
    clean, errors = prepare_features(raw)
    assert list(clean.index) == [0, 2, 4, 5]
    assert errors.row.tolist() == [1, 3]
    assert "year '1800' outside 1970..2027" in errors.problem.iloc[0]
    assert "gearbox 'CVT' not one of" in errors.problem.iloc[1]


def test_serving_needs_the_core_columns():
    with pytest.raises(ValidationError, match="missing columns"):
        prepare_features(pd.DataFrame({"brand": ["Dacia"]}))


@pytest.mark.parametrize("marker", ["--", "-", "", "  ", "N/A", None])
def test_export_missing_markers_are_missing_not_unknown(frame, marker):
    raw = frame.astype(object)
    raw.loc[:29, ["gearbox", "origin", "condition", "doors", "first_owner"]] = marker
    clean, report = validate_dataset(raw, LIMITS)
    assert report["rows_out"] == 400 and not report["invalid_by_rule"]
    assert report["unreadable_values"] == {}
    assert report["missing_share"]["gearbox"] == report["missing_share"]["doors"] == 0.075
    head = clean.iloc[:30]
    assert (head[["gearbox", "origin", "condition"]] == schema.MISSING_CATEGORY).all().all()
    assert head.doors.isna().all() and not head.first_owner.any()


def test_real_export_spellings_are_kept_as_contract_codes(frame):
    raw = frame.astype(object)
    spellings = {  # export spelling -> contract code
        "condition": [("Pour Pièces", "Pour pieces"), ("Très bon", "Tres bon"),
                      ("Endommagé", "Endommage")],
        "origin": [("Importée neuve", "Importee neuve"), ("Dédouanée", "Dedouanee")],
        "model": [("GOLF 7", "Golf"), ("Megane 3", "Megane"), ("i 10", "i10"),
                  ("C-ELYSEE", "C-Elysee"), ("Serie 3 coupé", "Serie 3 coupe")],
        "city": [("Fès", "Fes"), ("Laâyoune", "Laayoune"), ("Ksar el-Kebir", "Ksar el-Kebir")],
        "brand": [("mini", "mini"), ("Land Rover", "Land Rover")],
    }
    row = 0
    for col, pairs in spellings.items():
        for spelling, _ in pairs:
            raw.loc[row, col] = spelling
            row += 1
    clean, report = validate_dataset(raw, LIMITS)
    assert report["rows_out"] == 400
    row = 0
    for col, pairs in spellings.items():
        for _, code in pairs:
            assert clean.loc[row, col] == code, (col, row)
            row += 1
    assert all(v["share"] == 0 for v in report["unknown_categories"].values())


def test_every_real_city_is_known_and_kept():
    cities = catalog.AVITO_CITIES
    raw = generate(len(cities), seed=4).astype({"city": object})
    raw["city"] = cities
    clean, report = validate_dataset(raw, Thresholds(min_rows=1))
    assert report["rows_out"] == len(cities) >= 100
    assert report["unknown_categories"]["city"]["share"] == 0
    assert [schema.label("city", c) for c in clean.city] == list(cities)


def test_unknown_closed_values_are_dropped_and_counted_per_column(frame):
    raw = frame.astype(object)
    raw.loc[:2, "fuel_type"] = "Nucléaire"
    raw.loc[3:4, "gearbox"] = "CVT"
    raw.loc[5, "condition"] = "Comme neuf"
    clean, report = validate_dataset(raw, LIMITS)
    assert report["rows_out"] == 394 and report["rows_invalid"] == 6
    counts = {rule.split(" ", 1)[0]: n for rule, n in report["invalid_by_rule"].items()}
    assert counts == {"fuel_type": 3, "gearbox": 2, "condition": 1}
    assert "- gearbox not one of Manuelle, Automatique: 2" in summary_markdown(report)
    _, errors = prepare_features(raw.drop(columns=[schema.TARGET]).head(6))
    assert errors.problem.iloc[0].startswith("fuel_type 'Nucleaire' not one of")
