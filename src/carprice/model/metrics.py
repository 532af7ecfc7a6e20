"""Evaluation: metrics in DH and log price, their paired bootstrap intervals, error
tables, plots."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)

from carprice.model.estimator import LOWER, PRICE, UPPER

PRICE_BANDS = (0, 50_000, 100_000, 200_000, 400_000, np.inf)


def regression_metrics(y: npt.ArrayLike, pred: pd.DataFrame,
                       noise_sigma: float | None = None) -> dict:
    """MAE/RMSE/MAPE/median APE in DH, R² on price and log price, RMSE(log) and interval
    coverage.

    ``pred`` has model.OUTPUT_COLUMNS (PRICE, LOWER, UPPER).
    """
    y = np.asarray(y, dtype=float)
    price = pred[PRICE].to_numpy()
    log_y, log_p = np.log(y), np.log(price)
    out = {
        "mae": float(mean_absolute_error(y, price)),
        "rmse": float(root_mean_squared_error(y, price)),
        "mape": float(mean_absolute_percentage_error(y, price)),
        "median_ape": float(np.median(np.abs(y - price) / y)),
        "r2": float(r2_score(y, price)),
        "r2_log": float(r2_score(log_y, log_p)),
        "rmse_log": float(root_mean_squared_error(log_y, log_p)),
        "coverage": float(np.mean((y >= pred[LOWER]) & (y <= pred[UPPER]))),
        "interval_rel_width": float(np.median((pred[UPPER] - pred[LOWER]) / price)),
        "n": len(y),
    }
    if noise_sigma:
        out["noise_sigma"] = float(noise_sigma)
        out["rmse_log_over_sigma"] = out["rmse_log"] / noise_sigma
    return out


class Ratio(NamedTuple):
    """A ratio of two models' RMSE(log) on the same rows, with its bootstrap interval."""

    point: float
    lo: float
    hi: float

    def __str__(self) -> str:
        return f"{self.point:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) row indices drawn with replacement. Every model and metric of one
    evaluation uses the same draw (a paired bootstrap): their errors on a resample are
    errors on the same cars, so a ratio's interval is not widened by which cars were drawn."""
    if n < 1 or resamples < 1:
        raise ValueError(f"bootstrap needs rows and resamples, got n={n}, {resamples}")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n), dtype=np.int32)


def _bounds(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of a bootstrap distribution."""
    if not len(values):  # e.g. R² of rows that all have one price: undefined
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def _r2(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """R² of each row of (resamples, n) matrices."""
    ss_res = ((actual - predicted) ** 2).sum(axis=1)
    ss_tot = ((actual - actual.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # one repeated row: no R²
        return 1 - ss_res / ss_tot


def metric_intervals(y: npt.ArrayLike, price: npt.ArrayLike, idx: np.ndarray,
                     confidence: float) -> dict[str, float]:
    """``<metric>_lo`` / ``<metric>_hi`` for R² (price and log), MAPE, median APE and
    RMSE(log), over the resamples ``idx`` (bootstrap_indices)."""
    y, price = np.asarray(y, dtype=float), np.asarray(price, dtype=float)
    ape, log_y, log_p = np.abs(y - price) / y, np.log(y), np.log(price)
    ape_b = ape[idx]
    log_y_b, log_p_b = log_y[idx], log_p[idx]
    dist = {
        "mape": ape_b.mean(axis=1),
        "median_ape": np.median(ape_b, axis=1),
        "r2": _r2(y[idx], price[idx]),
        "r2_log": _r2(log_y_b, log_p_b),
        "rmse_log": np.sqrt(((log_y_b - log_p_b) ** 2).mean(axis=1)),
    }
    out = {}
    for name, values in dist.items():
        out[f"{name}_lo"], out[f"{name}_hi"] = _bounds(values[np.isfinite(values)], confidence)
    return out


def squared_log_errors(y: npt.ArrayLike, price: npt.ArrayLike) -> np.ndarray:
    return (np.log(np.asarray(y, dtype=float)) - np.log(np.asarray(price, dtype=float))) ** 2


def rmse_ratio(sq_errors: np.ndarray, reference_sq_errors: np.ndarray, idx: np.ndarray,
               confidence: float) -> Ratio:
    """RMSE(log) of a model / RMSE(log) of a reference on the same rows (squared log errors
    of each, squared_log_errors), with its paired bootstrap interval over ``idx``."""
    point = np.sqrt(sq_errors.mean() / reference_sq_errors.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.sqrt(sq_errors[idx].mean(axis=1) / reference_sq_errors[idx].mean(axis=1))
    return Ratio(float(point), *_bounds(dist[np.isfinite(dist)], confidence))


def error_table(groups: npt.ArrayLike, y: npt.ArrayLike, price: npt.ArrayLike) -> pd.DataFrame:
    """Count, MAE, MAPE and RMSE(log) per group, worst MAPE first."""
    frame = pd.DataFrame({"group": np.asarray(groups), "y": np.asarray(y, float),
                          "p": np.asarray(price, float)})
    frame["abs"] = (frame.y - frame.p).abs()
    frame["ape"] = frame["abs"] / frame.y
    frame["sq_log"] = (np.log(frame.y) - np.log(frame.p)) ** 2
    table = frame.groupby("group", observed=True).agg(
        count=("y", "size"), mae=("abs", "mean"), mape=("ape", "mean"), rmse_log=("sq_log", "mean"))
    table["rmse_log"] = np.sqrt(table["rmse_log"])
    return table.sort_values("mape", ascending=False).round(4)


def price_band(y: npt.ArrayLike) -> pd.Categorical:
    labels = [f"{lo / 1000:g}k-{hi / 1000:g}k" if np.isfinite(hi) else f">{lo / 1000:g}k"
              for lo, hi in zip(PRICE_BANDS[:-1], PRICE_BANDS[1:], strict=True)]
    return pd.cut(np.asarray(y, float), PRICE_BANDS, labels=labels, right=False)


def pyplot():
    """matplotlib.pyplot, headless; imported on first plot (train needs no plots)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: images and CI have no display
    import matplotlib.pyplot as plt

    return plt


def plot_predicted_vs_actual(y: np.ndarray, price: np.ndarray):
    fig, ax = pyplot().subplots(figsize=(6, 6))
    ax.scatter(y, price, s=4, alpha=0.3)
    lims = [min(np.min(y), np.min(price)), max(np.max(y), np.max(price))]
    ax.plot(lims, lims, "r--", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="actual price (DH)", ylabel="predicted price (DH)",
           title="Predicted vs actual (test)")
    fig.tight_layout()
    return fig


def plot_residuals(y: np.ndarray, price: np.ndarray):
    resid = np.log(np.asarray(y, float)) - np.log(np.asarray(price, float))
    fig, (a, b) = pyplot().subplots(1, 2, figsize=(10, 4))
    a.scatter(price, resid, s=4, alpha=0.3)
    a.axhline(0, color="r", lw=1)
    a.set(xscale="log", xlabel="predicted price (DH)", ylabel="log residual", title="Residuals")
    b.hist(resid, bins=60)
    b.set(xlabel="log residual", title="Residual distribution")
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.Series):
    fig, ax = pyplot().subplots(figsize=(6, 7))
    importance.sort_values().plot.barh(ax=ax)
    ax.set(xlabel="increase in RMSE(log) when shuffled", title="Permutation importance")
    fig.tight_layout()
    return fig
