"""The gate's reference: the median price of similar listings, a lookup a user can check
by hand. A candidate must beat it on the same holdout (carprice.registry.gate).

Similar = same brand, model and year band (YEAR_BAND years); a group with fewer than
MIN_ROWS training rows backs off to brand + model, then brand, then the global median.
Deterministic: no randomness, no tuning; fitted on the train split only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carprice.contract import schema

YEAR_BAND = 3  # years per band: 2016-2018 share a band (year // 3 * 3)
MIN_ROWS = 3  # a median of fewer rows is one listing's price, not a market's
# Most specific first; the global median closes the chain.
LEVELS: tuple[tuple[str, ...], ...] = (("brand", "model", "year_band"), ("brand", "model"),
                                       ("brand",))
NAME = f"median price by brand + model + {YEAR_BAND}-year band (backing off to brand + model, " \
       "brand, all)"


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    year = pd.to_numeric(frame["year"], errors="coerce")
    return pd.DataFrame({"brand": frame["brand"].astype(str).to_numpy(),
                         "model": frame["model"].astype(str).to_numpy(),
                         "year_band": (year // YEAR_BAND * YEAR_BAND).fillna(-1).to_numpy()})


class MedianBaseline:
    """fit(train frame) then predict(frame) -> prices; ``level_counts`` says which level
    priced how many rows of the last predict (the explanation)."""

    def fit(self, frame: pd.DataFrame, y: np.ndarray | pd.Series | None = None
            ) -> MedianBaseline:
        y = np.asarray(frame[schema.TARGET] if y is None else y, dtype=float)
        if len(y) == 0 or (y <= 0).any():
            raise ValueError("the baseline needs positive prices on at least one row")
        keys = _keys(frame).assign(log_y=np.log(y))
        # Median of log price = log of the median price (odd counts), robust to outliers.
        self.tables_ = []
        for level in LEVELS:
            grouped = keys.groupby(list(level), sort=False)["log_y"].agg(["median", "size"])
            self.tables_.append(grouped.loc[grouped["size"] >= MIN_ROWS, "median"])
        self.global_ = float(np.median(keys["log_y"]))
        return self

    def predict_log(self, frame: pd.DataFrame) -> np.ndarray:
        keys = _keys(frame)
        out = np.full(len(keys), np.nan)
        self.level_counts = {}
        for level, table in zip(LEVELS, self.tables_, strict=True):
            index = pd.MultiIndex.from_frame(keys[list(level)]) if len(level) > 1 \
                else pd.Index(keys[level[0]])
            found = table.reindex(index).to_numpy()
            fill = np.isnan(out) & ~np.isnan(found)
            out[fill] = found[fill]
            self.level_counts[" + ".join(level)] = int(fill.sum())
        rest = np.isnan(out)
        out[rest] = self.global_
        self.level_counts["all"] = int(rest.sum())
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.exp(self.predict_log(frame))
