"""Price outliers (contract/outliers.py) caught by validation, reported and left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carprice.config import settings
from carprice.config.params import ParamsError, apply_overrides, load_params
from carprice.contract import schema
from carprice.contract.outliers import OutlierRule, price_outliers
from carprice.contract.validation import (
    Thresholds,
    ValidationError,
    summary_markdown,
    validate_dataset,
)
from carprice.pipeline.stages.preprocess import split
from carprice.sources import load, safe_read
from carprice.sources.csv_reader import to_avito
from carprice.sources.synthetic import generate
from tests.conftest import REPO
from tests.unit.fuzz_support import fuzz

# The defaults of params.yaml (validate section), as the validate stage builds them.
DEFAULTS = Thresholds(**load_params(REPO / "params.yaml")["validate"])


def with_cars(market: pd.DataFrame, *cars: tuple[str, str, int, float]) -> pd.DataFrame:
    """The market plus one row per (brand, model, year, price), other values of row 0."""
    extra = pd.DataFrame([market.iloc[0]] * len(cars)).reset_index(drop=True)
    extra[["brand", "model", "year", schema.TARGET]] = pd.DataFrame(cars).to_numpy()
    extra = extra.astype({"year": "float64", schema.TARGET: "float64"})
    return pd.concat([market, extra], ignore_index=True)


def flagged_rows(frame: pd.DataFrame) -> set:
    _, table = price_outliers(frame, OutlierRule(DEFAULTS.outlier_mad_k,
                                                 DEFAULTS.outlier_min_group,
                                                 DEFAULTS.outlier_min_scale))
    return set(table["row"])


@fuzz(40)
@given(rows=st.integers(200, 900), seed=st.integers(0, 10_000),
       typo=st.floats(5_000_000, 9_900_000))
def test_a_data_entry_price_for_a_mid_range_car_is_always_caught(rows, seed, typo):
    # a 2015 Dacia Logan sells for about 100k DH; 8.3 M and 5-9.9 M DH are typing errors
    market = generate(rows, seed=seed)
    frame = with_cars(market, ("Dacia", "Logan", 2015, 8_300_000),
                      ("Dacia", "Logan", 2015, typo), ("Renault", "Clio", 2018, 5_000_000))
    clean, report = validate_dataset(frame, DEFAULTS)
    assert {r["row"] for r in report["outliers"]} >= {rows, rows + 1, rows + 2}
    assert clean[schema.TARGET].max() < 5_000_000  # left out of the data preprocess splits
    assert report["rows_out"] == len(clean) == len(frame) - report["rows_outlier"]


@fuzz(40)
@given(rows=st.integers(200, 900), seed=st.integers(0, 10_000))
def test_a_real_luxury_car_at_a_million_is_kept(rows, seed):
    market = generate(rows, seed=seed)
    # a rare recent luxury car: alone (Porsche), or a model the market holds (X5, Classe E)
    lone = with_cars(market, ("Porsche", "Cayenne", 2023, 1_000_000),
                     ("BMW", "X5", 2024, 1_000_000), ("Mercedes-Benz", "Classe E", 2025,
                                                      1_000_000))
    assert not flagged_rows(lone) & {rows, rows + 1, rows + 2}
    # a group of Range Rovers around a million: the group is what they are compared with
    rng = np.random.default_rng(seed)
    prices = np.round(1_000_000 * np.exp(rng.normal(0, 0.15, 24)), -3)
    group = with_cars(market, *[("Land Rover", "Range Rover Sport", 2023, p) for p in prices],
                      ("Land Rover", "Range Rover Sport", 2023, 1_000_000))
    assert not flagged_rows(group) & set(range(rows, len(group)))


def test_the_synthetic_default_flags_almost_nothing():
    frame = generate(25_000, seed=42, noise_sigma=0.12)  # data.* of params.yaml
    clean, report = validate_dataset(frame, DEFAULTS)
    share = report["rows_outlier"] / report["rows_in"]
    assert share < 0.001, report["outliers"][:3]  # measured: 4 of 25 000 (0.016 %)
    assert len(clean) == 25_000 - report["rows_outlier"]


def test_an_avito_export_with_typing_errors_reports_and_drops_them(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_INBOX_DIR, str(tmp_path))
    market = generate(400, seed=3)
    market[schema.LISTING_ID] = np.arange(50_000_000, 50_000_400)  # ids in 'Lien'
    mid = market.index[(market[schema.TARGET].between(60_000, 120_000))][:4]
    market.loc[mid, schema.TARGET] *= 100  # two zeros too many: 6 to 12 M DH...
    market.loc[mid, schema.TARGET] = market.loc[mid, schema.TARGET].clip(upper=9_900_000)
    to_avito(market).to_csv(tmp_path / "avito.csv", index=False, encoding="latin1", sep=";")
    raw = load({"source": "csv", "csv_uri": f"{safe_read.INBOX_PREFIX}/avito.csv"})

    # outliers never count as invalid rows: max_drop_share=0 still passes
    limits = Thresholds(**{**DEFAULTS.__dict__, "max_drop_share": 0.0})
    clean, report = validate_dataset(raw, limits)
    assert report["passed"] and report["rows_invalid"] == 0
    assert report["rows_outlier"] == 4 and len(clean) == 396
    listed = pd.DataFrame(report["outliers"])
    assert sorted(listed[schema.LISTING_ID]) == sorted(market.loc[mid, schema.LISTING_ID])
    assert (listed["group_median"] < 300_000).all()
    assert listed["reason"].str.contains("robust deviations").all()
    assert not clean[schema.LISTING_ID].isin(listed[schema.LISTING_ID]).any()
    page = summary_markdown(report)
    assert "Price outliers: 4 rows left out" in page
    assert all(str(i) in page for i in listed[schema.LISTING_ID])
    # the splits preprocess writes (train, valid: the model; test: the gate) hold none
    parts = split(clean, 0.15, 0.15, seed=42)
    assert sum(len(p) for p in parts.values()) == 396
    assert all(p[schema.TARGET].max() < 5_000_000 for p in parts.values())


def test_too_many_outliers_fail_the_run_in_one_line():
    frame = generate(400, seed=4)
    frame.loc[:29, schema.TARGET] = 9_000_000  # 7.5 %: a broken price column, not typos
    with pytest.raises(ValidationError) as info:
        validate_dataset(frame, DEFAULTS)
    message = str(info.value)
    assert message.startswith("7.5% of rows are price outliers (max 5%): price 9,000,000 DH")
    assert "\n" not in message and info.value.report["rows_outlier"] == 30
    # a looser cap lets the same data through, the outliers still left out
    clean, report = validate_dataset(frame, Thresholds(**{**DEFAULTS.__dict__,
                                                          "max_outlier_share": 0.1}))
    assert report["passed"] and len(clean) == 370


def test_a_dataset_too_small_to_judge_flags_nothing():
    frame = with_cars(generate(15, seed=1), ("Dacia", "Logan", 2015, 8_300_000))
    assert len(frame) < DEFAULTS.outlier_min_group
    assert flagged_rows(frame) == set()


def test_groups_back_off_from_brand_model_year_to_all_rows():
    market = generate(20_000, seed=2)  # 26 Logans of 2018, 13 of 2015, 107 of 2015-2019
    frame = with_cars(market, ("Dacia", "Logan", 2018, 8_300_000),
                      ("Dacia", "Logan", 2015, 8_300_000), ("Nope", "Unknown", 2015, 8_300_000))
    _, table = price_outliers(frame, OutlierRule(min_group=20))
    groups = dict(zip(table["row"], table["group"], strict=True))
    n = len(market)
    assert groups[n] == "same brand, model and year"
    assert groups[n + 1] == "same brand and model, 5 model years"
    assert groups[n + 2] == "all rows"
    logan_2018 = market[(market.model == "Logan") & (market.year == 2018)][schema.TARGET]
    assert table.set_index("row").loc[n, "group_median"] == pytest.approx(
        np.median([*logan_2018, 8_300_000]), rel=0.01)  # 27 rows: the middle one


@pytest.mark.parametrize("override, message", [
    ({"validate.outlier_mad_k": 0}, "params: validate.outlier_mad_k must be > 0, got 0"),
    ({"validate.outlier_min_group": 1}, "params: validate.outlier_min_group must be >= 2"),
    ({"validate.outlier_min_scale": -1}, "params: validate.outlier_min_scale must be > 0"),
    ({"validate.max_outlier_share": 2}, "params: validate.max_outlier_share must be <= 1"),
    ({"split.time_ordered": "maybe"}, "params: split.time_ordered must be true or false"),
])
def test_bad_outlier_and_split_params_fail_in_one_line(override, message):
    with pytest.raises(ParamsError, match=f"^{message}"):
        apply_overrides(load_params(REPO / "params.yaml"), override)
