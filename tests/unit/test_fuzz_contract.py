"""Property-based: the data contract (validation.py) on malformed frames either succeeds
with contract-clean output or raises a one-line ValidationError, never anything else."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from carprice.contract import schema
from carprice.contract.validation import Thresholds, coerce, prepare_features, validate_dataset
from tests.unit.fuzz_support import fuzz, garbage_frames, outcome

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


@fuzz(40)
@given(garbage_frames())
def test_coerce_reads_any_frame(raw):
    result = outcome(coerce, raw)
    if result is not None:
        typed, unreadable = result
        assert typed.index.equals(raw.index)
        assert all(0 < n <= len(raw) for n in unreadable.values())
        for col in schema.NUMERIC:
            if col in typed:
                assert typed[col].dtype == "float64"


@fuzz(100)
@given(garbage_frames(), THRESHOLDS)
def test_validate_dataset_cleans_or_refuses_in_one_line(raw, limits):
    result = outcome(validate_dataset, raw, limits)
    if result is not None:
        clean, report = result
        assert report["passed"] and report["rows_out"] == len(clean) >= limits.min_rows
        assert_contract_clean(clean, require_target=True)


@fuzz(80)
@given(garbage_frames())
def test_prepare_features_scores_valid_rows_and_explains_the_others(raw):
    result = outcome(prepare_features, raw)
    if result is not None:
        clean, errors = result
        assert list(clean.columns) == list(schema.FEATURES)
        assert len(clean) + len(errors) == len(raw)
        assert all(len(str(p).splitlines()) == 1 for p in errors["problem"])
        assert_contract_clean(clean, require_target=False)
