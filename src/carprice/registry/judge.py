"""What evaluate decides, as one pure function: the candidate's metrics with bootstrap
intervals, the baseline and production scored on the same test rows and the same
resamples, the behaviour checks, and the gate's decision (carprice.registry.gate)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carprice.contract import schema
from carprice.model import baseline, behaviour, metrics
from carprice.model.estimator import PRICE
from carprice.registry.gate import Decision, GateLimits, gate

# The behaviour check moves each sampled car to the (at most CITY_LIMIT) cities with at
# least CITY_MIN_ROWS training rows: a rarer city has no effect of its own worth judging
# (on a few hundred rows its learned effect is noise: 20-25 % swings on generated data
# whose true city effects are within 5 %).
CITY_LIMIT, CITY_MIN_ROWS = 20, 20


@dataclass
class Judgement:
    decision: Decision
    metrics: dict  # the candidate's: regression_metrics + *_lo/*_hi + baseline and skill
    production_metrics: dict | None


def _ratio_metrics(prefix: str, ratio: metrics.Ratio) -> dict[str, float]:
    return {prefix: ratio.point, f"{prefix}_lo": ratio.lo, f"{prefix}_hi": ratio.hi}


def judge(train: pd.DataFrame, test: pd.DataFrame, predicted: pd.DataFrame,
          predict: Callable[[pd.DataFrame], np.ndarray], limits: GateLimits, seed: int,
          production: pd.DataFrame | None = None, production_version: str | None = None,
          noise_sigma: float | None = None) -> Judgement:
    """``predicted``: the candidate's output (model.OUTPUT_COLUMNS) on ``test``; ``predict``:
    the candidate's price for any contract frame (behaviour checks); ``production``:
    production's output on ``test`` (None: no production model)."""
    y = test[schema.TARGET].to_numpy(dtype=float)
    price = predicted[PRICE].to_numpy()
    idx = metrics.bootstrap_indices(len(y), limits.bootstrap, seed)
    found = metrics.regression_metrics(y, predicted, noise_sigma)
    found.update(metrics.metric_intervals(y, price, idx, limits.confidence))

    reference = baseline.MedianBaseline().fit(train)
    base_price = reference.predict(test)
    sq = metrics.squared_log_errors(y, price)
    base_sq = metrics.squared_log_errors(y, base_price)
    skill = metrics.rmse_ratio(sq, base_sq, idx, limits.confidence)
    found["baseline_rmse_log"] = float(np.sqrt(base_sq.mean()))
    found["baseline_mape"] = float(np.mean(np.abs(y - base_price) / y))
    found.update(_ratio_metrics("baseline_ratio", skill))

    versus, prod_metrics = None, None
    if production is not None and production_version is not None:
        prod_metrics = metrics.regression_metrics(y, production, noise_sigma)
        prod_sq = metrics.squared_log_errors(y, production[PRICE].to_numpy())
        versus = metrics.rmse_ratio(sq, prod_sq, idx, limits.confidence)
        found.update(_ratio_metrics("production_ratio", versus))

    counts = train["city"].value_counts()
    cities = list(counts.index[counts >= CITY_MIN_ROWS][:CITY_LIMIT].astype(str))
    checked = behaviour.check(predict, test[list(schema.FEATURES)], cities,
                              limits.max_city_effect, seed)
    decision = gate(found, limits, skill, baseline.NAME, versus, production_version, checked)
    return Judgement(decision, found, prod_metrics)
