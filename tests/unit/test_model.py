import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from carprice.contract import schema
from carprice.model import metrics
from carprice.model.estimator import LOWER, OUTPUT_COLUMNS, PRICE, conformal_quantile, from_params
from carprice.sources.synthetic import generate
from tests.unit.app_model import MODEL_DEFAULTS


@pytest.fixture(scope="module")
def splits():
    df = generate(6000, seed=21)
    train, rest = train_test_split(df, test_size=0.4, random_state=0)
    valid, test = train_test_split(rest, test_size=0.5, random_state=0)
    return train, valid, test


@pytest.fixture(scope="module")
def fitted(splits):
    train, valid, _ = splits
    return from_params(MODEL_DEFAULTS, max_iter=200, learning_rate=0.2, max_leaf_nodes=8).fit(
        train, train.price_dh, valid, valid.price_dh)


def test_learns_the_market_close_to_its_noise(fitted, splits):
    test = splits[2]
    m = metrics.regression_metrics(test.price_dh, fitted.predict_interval(test), 0.12)
    assert m["rmse_log"] < 0.12 * 1.25  # 3.6k train rows; the 25k-row figure is in bench/
    assert m["r2"] > 0.9
    assert 0.74 < m["coverage"] < 0.86


def test_interval_brackets_the_price(fitted, splits):
    out = fitted.predict_interval(splits[2])
    assert list(out.columns) == list(OUTPUT_COLUMNS) == [PRICE, LOWER, "upper_dh"]
    assert PRICE == schema.TARGET  # the model predicts the target, under its name
    assert (out.lower_dh < out.price_dh).all() and (out.price_dh < out.upper_dh).all()


def test_encoders_see_only_training_rows(splits):
    train, valid, _ = splits
    train = train[train.brand != "BMW"]
    model = from_params(MODEL_DEFAULTS, max_iter=20).fit(train, train.price_dh, valid,
                                                          valid.price_dh)
    assert "BMW" not in model.categories_["brand"]
    bmw = valid[valid.brand == "BMW"]
    assert np.isfinite(model.predict(bmw)).all()  # unseen category: scored, not crashed


def test_unknown_categories_and_missing_numbers_are_scored(fitted, splits):
    rows = splits[2].head(3).copy()
    rows["model"] = "Never Heard Of"
    rows["mileage_km"] = np.nan
    assert np.isfinite(fitted.predict(rows)).all()


def test_refuses_non_positive_prices(splits):
    train = splits[0].copy()
    train.iloc[0, train.columns.get_loc(schema.TARGET)] = 0
    with pytest.raises(ValueError, match="positive"):
        from_params(MODEL_DEFAULTS, max_iter=5).fit(train, train.price_dh)


def test_conformal_quantile():
    r = np.arange(1, 101, dtype=float)
    assert conformal_quantile(r, 0.8) == 81.0  # ceil(101 * 0.8) / 100 -> 81st value
    with pytest.raises(ValueError):
        conformal_quantile(np.array([]), 0.8)


def test_from_params_takes_the_model_section_ignores_other_keys_and_applies_changes():
    model = from_params({**MODEL_DEFAULTS, "other": 1}, max_iter=7)
    assert model.learning_rate == MODEL_DEFAULTS["learning_rate"] and model.max_iter == 7
    with pytest.raises(KeyError):  # no second set of default values in the code
        from_params({"learning_rate": 0.3})


def test_error_tables_and_plots(fitted, splits):
    test = splits[2]
    price = fitted.predict(test)
    by_brand = metrics.error_table(test.brand, test.price_dh, price)
    assert set(by_brand.columns) == {"count", "mae", "mape", "rmse_log"}
    assert by_brand["count"].sum() == len(test)
    bands = metrics.price_band(test.price_dh)
    assert bands.notna().all()
    fig = metrics.plot_predicted_vs_actual(test.price_dh.to_numpy(), price)
    assert fig.axes[0].get_xlabel() == "actual price (DH)"
