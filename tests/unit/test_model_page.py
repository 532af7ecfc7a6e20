"""The model page's metric table (carprice.webapp.model_page.metric_table)."""

from __future__ import annotations

import math

from carprice.webapp.model_page import metric_table


def test_each_metric_with_its_interval_and_the_baseline_after():
    table = metric_table({"r2": 0.9, "r2_lo": 0.85, "r2_hi": 0.93, "mape": 0.12,
                          "mape_lo": 0.1, "mape_hi": 0.14, "baseline_rmse_log": 0.4,
                          "baseline_ratio": 0.4, "baseline_ratio_lo": 0.37,
                          "baseline_ratio_hi": 0.43, "coverage": 0.8})
    assert list(table["metric"]) == ["R² (price)", "MAPE", "Baseline RMSE (log)",
                                     "RMSE (log) / baseline's"]
    assert table.iloc[0].tolist() == ["R² (price)", 0.9, 0.85, 0.93]
    assert math.isnan(table.iloc[2]["low"])  # the baseline's error has no interval


def test_a_version_from_before_the_intervals_shows_its_values_only():
    table = metric_table({"rmse_log": 0.125, "r2": 0.96, "mape": 0.1})
    assert list(table["metric"]) == ["R² (price)", "MAPE", "RMSE (log)"]
    assert table[["low", "high"]].isna().all().all()
    assert metric_table({}).empty
