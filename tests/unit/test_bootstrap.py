"""Paired bootstrap intervals of the evaluation metrics (carprice.model.metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import r2_score

from carprice.model import metrics
from carprice.model.estimator import LOWER, PRICE, UPPER

PRICES = st.lists(st.floats(1_000, 5_000_000), min_size=5, max_size=60)
ERRORS = st.floats(-1.0, 1.0)


def cars(draw_prices, draw_errors):
    y = np.asarray(draw_prices)
    return y, y * np.exp(np.resize(np.asarray(draw_errors), len(y)))


@settings(max_examples=60, deadline=None)
@given(PRICES, st.lists(ERRORS, min_size=1, max_size=10), st.integers(0, 2**32 - 1))
def test_each_interval_is_ordered_and_holds_the_resampled_values(prices, errors, seed):
    y, price = cars(prices, errors)
    idx = metrics.bootstrap_indices(len(y), 200, seed)
    found = metrics.metric_intervals(y, price, idx, 0.9)
    ape, log_err = np.abs(y - price) / y, np.abs(np.log(y) - np.log(price))
    tiny = 1e-9
    for name, values in (("mape", ape), ("median_ape", ape), ("rmse_log", log_err)):
        assert values.min() - tiny <= found[f"{name}_lo"] <= found[f"{name}_hi"] \
            <= values.max() + tiny, name
    for name in ("r2", "r2_log"):  # undefined (nan) when every resample has one price
        lo, hi = found[f"{name}_lo"], found[f"{name}_hi"]
        assert (np.isnan(lo) and np.isnan(hi)) or lo <= hi <= 1 + tiny, name


@settings(max_examples=60, deadline=None)
@given(PRICES, st.lists(ERRORS, min_size=1, max_size=10), st.floats(0.1, 10),
       st.integers(0, 2**32 - 1))
def test_a_model_against_itself_is_exactly_one_and_a_scaled_error_is_its_scale(
        prices, errors, scale, seed):
    """Paired: both models are scored on the same resamples, so a fixed relation between
    their errors holds on every resample and the interval collapses to a point."""
    y, price = cars(prices, errors)
    sq = metrics.squared_log_errors(y, price)
    if sq.sum() == 0:
        return
    idx = metrics.bootstrap_indices(len(y), 100, seed)
    assert metrics.rmse_ratio(sq, sq, idx, 0.9) == pytest.approx((1, 1, 1))
    scaled = metrics.rmse_ratio(sq * scale**2, sq, idx, 0.9)
    assert scaled == pytest.approx((scale, scale, scale))


def test_the_vectorised_r2_is_sklearns_on_each_resample():
    rng = np.random.default_rng(0)
    y = rng.lognormal(11, 0.5, 300)
    price = y * rng.lognormal(0, 0.2, 300)
    idx = metrics.bootstrap_indices(300, 50, 1)
    ours = metrics._r2(y[idx], price[idx])
    np.testing.assert_allclose(ours, [r2_score(y[i], price[i]) for i in idx])


def _noisy(rng, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """n cars priced with log errors ~ N(0, 0.12): RMSE(log) is 0.12 in truth."""
    y = rng.lognormal(11, 0.5, n)
    pred = pd.DataFrame({PRICE: y * np.exp(rng.normal(0, 0.12, n))})
    pred[LOWER], pred[UPPER] = pred[PRICE] * 0.8, pred[PRICE] * 1.2
    return y, pred


def test_the_90_percent_interval_holds_the_truth_about_90_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits = 0
    for trial in range(100):
        y, pred = _noisy(rng, 300)
        found = metrics.metric_intervals(y, pred[PRICE].to_numpy(),
                                         metrics.bootstrap_indices(300, 500, trial), 0.9)
        hits += found["rmse_log_lo"] < 0.12 < found["rmse_log_hi"]
    assert 80 <= hits <= 97


def test_the_interval_narrows_with_more_rows_around_the_point():
    rng = np.random.default_rng(7)
    widths = []
    for n in (300, 3000):
        y, pred = _noisy(rng, n)
        found = metrics.regression_metrics(y, pred)
        found.update(metrics.metric_intervals(y, pred[PRICE].to_numpy(),
                                              metrics.bootstrap_indices(n, 1000, 3), 0.9))
        for name in ("rmse_log", "mape", "median_ape", "r2", "r2_log"):
            assert found[f"{name}_lo"] < found[name] < found[f"{name}_hi"], (n, name)
        widths.append(found["rmse_log_hi"] - found["rmse_log_lo"])
    assert 2 < widths[0] / widths[1] < 5  # about sqrt(10)


def test_the_same_seed_gives_the_same_resamples():
    assert (metrics.bootstrap_indices(50, 20, 9) == metrics.bootstrap_indices(50, 20, 9)).all()
    with pytest.raises(ValueError, match="bootstrap needs rows"):
        metrics.bootstrap_indices(0, 20, 9)
