"""Property-based: the data contract (validation.py) on malformed frames either succeeds
with contract-clean output or raises a one-line ValidationError, never anything else.
Valid frames (any spelling the contract reads) must pass whole; frames missing a required
column or breaking a threshold must be refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from carprice.contract import schema
from carprice.contract.validation import (
    REQUIRED,
    Thresholds,
    ValidationError,
    coerce,
    prepare_features,
    validate_dataset,
)
from carprice.sources.csv_reader import AVITO_COLUMNS, to_avito
from tests.unit.fuzz_support import POOL, Tally, fuzz, garbage_frames, refusal

THRESHOLDS = st.builds(Thresholds, min_rows=st.integers(1, 5),
                       max_missing_share=st.floats(0, 1), max_drop_share=st.floats(0, 1),
                       max_duplicate_share=st.floats(0, 1))


def assert_contract_clean(clean: pd.DataFrame, require_target: bool) -> None:
    for col, (lo, hi) in schema.RANGES.items():
        if col in clean and (require_target or col != schema.TARGET):
            values = clean[col].dropna()
            assert np.isfinite(values).all() and values.between(lo, hi).all(), col
    if require_target:
        assert clean[schema.TARGET].notna().all()
    for col, allowed in schema.CLOSED_CATEGORIES.items():
        assert clean[col].isin([*allowed, schema.MISSING_CATEGORY]).all(), col
    for col in clean.columns:
        assert str(clean[col].dtype) == str(pd.Series(dtype=schema.DTYPES[col]).dtype), col


def test_coerce_reads_any_frame():
    tally = Tally()

    @fuzz(40)
    @given(garbage_frames())
    def check(raw):
        result = tally.outcome(coerce, raw)
        if result is not None:
            typed, unreadable = result
            assert typed.index.equals(raw.index)
            assert all(0 < n <= len(raw) for n in unreadable.values())
            for col in schema.NUMERIC:
                if col in typed:
                    assert typed[col].dtype == "float64"

    check()
    tally.require(accepted=0.5)  # coerce reads any frame: it refuses nothing


def test_validate_dataset_cleans_or_refuses_in_one_line():
    tally = Tally()

    @fuzz(100)
    @given(garbage_frames(), THRESHOLDS)
    def check(raw, limits):
        result = tally.outcome(validate_dataset, raw, limits)
        if result is not None:
            clean, report = result
            assert report["passed"] and report["rows_out"] == len(clean) >= limits.min_rows
            assert_contract_clean(clean, require_target=True)

    check()
    tally.require(accepted=0.03, refused=0.3)


def test_prepare_features_scores_valid_rows_and_explains_the_others():
    tally = Tally()

    @fuzz(80)
    @given(garbage_frames())
    def check(raw):
        result = tally.outcome(prepare_features, raw)
        if result is not None:
            clean, errors = result
            assert list(clean.columns) == list(schema.FEATURES)
            assert len(clean) + len(errors) == len(raw)
            assert all(len(str(p).splitlines()) == 1 for p in errors["problem"])
            assert_contract_clean(clean, require_target=False)

    check()
    # refusals (missing columns): test_a_frame_missing_a_required_column_is_refused_...
    tally.require(accepted=0.2)


# ---------------------------------------------------------------- valid frames: must pass


@st.composite
def valid_frames(draw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(valid rows as a file delivers them: typed, all text, or the Avito export's spellings
    renamed to the contract; the same rows as the contract's clean frame holds them)."""
    n = draw(st.integers(1, 12))
    picks = draw(st.lists(st.integers(0, len(POOL) - 1), min_size=n, max_size=n, unique=True))
    rows = POOL.iloc[picks].reset_index(drop=True)
    shape = draw(st.integers(0, 2))
    if shape == 0:
        raw = rows.copy()
    elif shape == 1:
        raw = rows.astype(str)
    else:  # the export's labels, brackets and 'Oui'/'Non', under contract names
        avito = to_avito(rows)
        raw = avito.rename(columns=AVITO_COLUMNS)[list(schema.COLUMNS)]
    return raw, rows


@fuzz(60)
@given(valid_frames())
def test_valid_rows_pass_validate_dataset_whole(case):
    raw, rows = case
    clean, report = validate_dataset(raw, Thresholds(min_rows=1, max_missing_share=1,
                                                     max_drop_share=0, max_duplicate_share=0))
    assert report["passed"] and report["rows_out"] == len(raw) == len(clean), report
    assert report["rows_invalid"] == 0 and report["unreadable_values"] == {}, report
    assert_contract_clean(clean, require_target=True)
    for col in schema.CATEGORICAL:  # same codes, whichever spelling came in
        assert clean[col].tolist() == rows[col].tolist(), col
    for col in schema.BOOLEAN:
        assert clean[col].tolist() == rows[col].tolist(), col
    assert clean[schema.TARGET].round().tolist() == rows[schema.TARGET].round().tolist()


@fuzz(60)
@given(valid_frames())
def test_valid_rows_are_all_prepared_for_scoring(case):
    raw, rows = case
    clean, errors = prepare_features(raw.drop(columns=[schema.TARGET]))
    assert errors.empty and len(clean) == len(raw), errors.head(3).to_dict("records")
    assert list(clean.columns) == list(schema.FEATURES)
    assert_contract_clean(clean, require_target=False)
    typed, unreadable = coerce(raw)
    assert unreadable == {} and typed.index.equals(raw.index)


# ---------------------------------------------------------------- broken frames: refused


@st.composite
def frames_missing_a_column(draw) -> tuple[pd.DataFrame, list[str]]:
    raw, _ = draw(valid_frames())
    drop = draw(st.lists(st.sampled_from(REQUIRED), min_size=1, max_size=4, unique=True))
    return raw.drop(columns=drop), drop


@fuzz(60)
@given(frames_missing_a_column())
def test_a_frame_missing_a_required_column_is_refused_naming_it(case):
    raw, dropped = case
    for exc in (refusal(validate_dataset, raw, Thresholds(min_rows=1)),
                refusal(prepare_features, raw)):
        assert isinstance(exc, ValidationError) and "missing columns" in str(exc), exc
        assert all(col in str(exc) for col in dropped), (dropped, str(exc))


BREAKS = {"year": [1800, "1850", 2100], "mileage_km": [-1, "2 000 000"], "doors": [0, 9],
          "fiscal_power_cv": [1, 500], "fuel_type": ["Vapeur"], "gearbox": ["Semi"],
          "origin": ["Lune"], "condition": ["Neuf sous blister"]}


@st.composite
def frames_with_a_broken_row(draw) -> tuple[pd.DataFrame, int, str]:
    raw, _ = draw(valid_frames())
    raw = raw.astype(object)
    row = draw(st.integers(0, len(raw) - 1))
    col = draw(st.sampled_from(sorted(BREAKS)))
    raw.iloc[row, raw.columns.get_loc(col)] = draw(st.sampled_from(BREAKS[col]))
    return raw, row, col


@fuzz(60)
@given(frames_with_a_broken_row())
def test_a_broken_row_is_explained_and_the_others_still_scored(case):
    raw, row, col = case
    clean, errors = prepare_features(raw.drop(columns=[schema.TARGET]))
    assert errors["row"].tolist() == [raw.index[row]], errors.to_dict("records")
    assert col in errors["problem"].iloc[0] and len(clean) == len(raw) - 1
    exc = refusal(validate_dataset, raw, Thresholds(min_rows=1, max_drop_share=0))
    assert isinstance(exc, ValidationError) and "invalid" in str(exc), exc
