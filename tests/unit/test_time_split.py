"""listing_id (Avito's Lien) passes through validation; split.time_ordered holds out the
newest listings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carprice.config.params import ParamsError, load_params
from carprice.contract import schema
from carprice.contract.validation import Thresholds, parse_listing_id, validate_dataset
from carprice.model.estimator import to_model_input
from carprice.pipeline.stages.preprocess import split, split_by_time
from carprice.sources.synthetic import generate
from tests.conftest import REPO
from tests.unit.fuzz_support import fuzz


def test_time_ordered_is_off_by_default():
    assert load_params(REPO / "params.yaml")["split"]["time_ordered"] is False


@pytest.mark.parametrize("text, expected", [
    ("https://www.avito.ma/fr/casablanca/voitures/Dacia_Logan_2015_54321678.htm", 54321678),
    ("https://www.avito.ma/fr/annonce/12.htm?utm=3#photo7", 12),
    ("987", 987),
    ("--", None), ("", None), ("no id here", None),
])
def test_the_listing_id_is_the_number_ending_the_link(text, expected):
    got = parse_listing_id(pd.Series([text], dtype=object)).iloc[0]
    assert (pd.isna(got) and expected is None) or got == expected


def test_the_listing_id_passes_validation_but_is_no_feature():
    frame = generate(300, seed=1)
    frame[schema.LISTING_ID] = [f"https://www.avito.ma/fr/x/car_{i}.htm" for i in
                                range(1000, 1300)]
    frame.loc[5, schema.LISTING_ID] = "garbled"
    clean, report = validate_dataset(frame, Thresholds(min_rows=1))
    assert clean[schema.LISTING_ID].dtype == "Int64" and pd.isna(clean[schema.LISTING_ID][5])
    assert clean[schema.LISTING_ID].dropna().tolist() == [i for i in range(1000, 1300) if i != 1005]
    assert report["unreadable_values"] == {schema.LISTING_ID: 1}  # the row itself is kept
    assert report["rows_out"] == 300
    assert schema.LISTING_ID not in schema.FEATURES
    assert schema.LISTING_ID not in to_model_input(clean).columns
    # the same car twice is a duplicate whatever its listing ids (a re-posted listing)
    twice = pd.concat([frame, frame.head(20).assign(listing_id="77")], ignore_index=True)
    assert validate_dataset(twice, Thresholds(min_rows=1))[1]["rows_duplicate"] == 20


@fuzz(50)
@given(rows=st.integers(20, 400), seed=st.integers(0, 1000),
       valid=st.floats(0.05, 0.4), test=st.floats(0.05, 0.4))
def test_the_newest_listings_are_the_test_set_and_the_next_newest_valid(rows, seed, valid,
                                                                        test):
    frame = generate(rows, seed=seed)
    frame[schema.LISTING_ID] = pd.array(
        np.random.default_rng(seed).permutation(rows) * 7 + 100, dtype="Int64")
    parts = split_by_time(frame, valid, test)
    ids = {name: part[schema.LISTING_ID] for name, part in parts.items()}
    assert sum(len(p) for p in parts.values()) == rows
    assert len(parts["test"]) == int(np.ceil(test * rows))
    assert len(parts["valid"]) == int(np.ceil(valid * rows))
    assert ids["train"].max() < ids["valid"].min() <= ids["valid"].max() < ids["test"].min()
    assert set(pd.concat(list(ids.values()))) == set(frame[schema.LISTING_ID])


def test_rows_without_an_id_train_and_a_dataset_without_ids_is_refused():
    frame = generate(100, seed=3)
    with pytest.raises(ParamsError, match="^split.time_ordered needs listing ids"):
        split_by_time(frame, 0.15, 0.15)
    with pytest.raises(ParamsError, match="needs listing ids"):
        split_by_time(frame.assign(listing_id=pd.array([pd.NA] * 100, dtype="Int64")),
                      0.15, 0.15)
    ids = pd.array([pd.NA] * 10 + list(range(90)), dtype="Int64")
    parts = split_by_time(frame.assign(listing_id=ids), 0.15, 0.15)
    assert parts["train"][schema.LISTING_ID].isna().sum() == 10
    assert parts["test"][schema.LISTING_ID].tolist() == list(range(76, 90))
    with pytest.raises(ParamsError, match="leave none to train on"):
        split_by_time(frame.assign(listing_id=ids).head(12), 0.45, 0.5)


def test_the_random_split_is_unchanged_by_listing_ids():
    frame = generate(500, seed=4)
    plain = split(frame, 0.15, 0.15, seed=42)
    with_ids = split(frame.assign(listing_id=pd.array(range(500), dtype="Int64")), 0.15, 0.15,
                     seed=42)
    for name, part in plain.items():
        assert part.index.equals(with_ids[name].index)
