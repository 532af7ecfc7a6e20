"""Evaluation: metrics in DH and log price, error tables, plots."""

from __future__ import annotations

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
    """MAE/RMSE/MAPE in DH, R², RMSE(log) and interval coverage.

    ``pred`` has model.OUTPUT_COLUMNS (PRICE, LOWER, UPPER).
    """
    y = np.asarray(y, dtype=float)
    price = pred[PRICE].to_numpy()
    out = {
        "mae": float(mean_absolute_error(y, price)),
        "rmse": float(root_mean_squared_error(y, price)),
        "mape": float(mean_absolute_percentage_error(y, price)),
        "r2": float(r2_score(y, price)),
        "rmse_log": float(root_mean_squared_error(np.log(y), np.log(price))),
        "coverage": float(np.mean((y >= pred[LOWER]) & (y <= pred[UPPER]))),
        "interval_rel_width": float(np.median((pred[UPPER] - pred[LOWER]) / price)),
        "n": len(y),
    }
    if noise_sigma:
        out["noise_sigma"] = float(noise_sigma)
        out["rmse_log_over_sigma"] = out["rmse_log"] / noise_sigma
    return out


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
