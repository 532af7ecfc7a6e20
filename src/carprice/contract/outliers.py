"""Implausible prices: a robust rule on log price, by group of comparable cars.

Each row is compared with the first group of rows it belongs to that holds at least
``min_group`` rows, in the order of GROUPS: same brand, model and year; else same brand and
model within five model years (2015-2019, ...); else the whole dataset. Within that group,
the row's robust deviation is

    |log(price) - median(log price)| / max(1.4826 * MAD(log price), min_scale)

(1.4826 * MAD estimates a standard deviation and ignores the outliers themselves; min_scale
stops a group of near-identical prices from flagging an ordinary one). A row further than
``mad_k`` robust deviations is an outlier: a data-entry price (8,300,000 DH for a 2015 Dacia
Logan), not a dear car, which sits among its own model or, when that is rare, within the
wide spread of the whole market. No level in between pools brands or models: a Land Cruiser
beside Toyota's Yaris, or a lone Porsche beside the year's Dacias, would look implausible.
Fewer than ``min_group`` rows in all: nothing flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carprice.contract import schema

BAND, BAND_YEARS = "band", 5  # five model years: 2015-2019, 2020-2024, ...
# (columns, name) from the most specific group to the whole dataset; see the docstring.
GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("brand", "model", "year"), "same brand, model and year"),
    (("brand", "model", BAND), "same brand and model, 5 model years"),
    ((), "all rows"),
)
MAD_TO_SD = 1.4826  # MAD x this = the standard deviation, for normal data
# Columns of the outlier table (the validation report's list), in order.
TABLE_COLUMNS = ("row", schema.LISTING_ID, "brand", "model", "year", schema.TARGET,
                 "group_median", "group", "group_rows", "deviation", "reason")


@dataclass(frozen=True)
class OutlierRule:
    mad_k: float = 4.5
    min_group: int = 20
    min_scale: float = 0.3


def price_outliers(clean: pd.DataFrame, rule: OutlierRule) -> tuple[np.ndarray, pd.DataFrame]:
    """(True where a row of the clean frame is an outlier, the outliers' table in
    TABLE_COLUMNS); ``row`` is the frame's index label (the row of the input file)."""
    frame = clean.reset_index(drop=True)  # positions: the index may repeat labels
    n = len(frame)
    log_price = pd.Series(np.log(frame[schema.TARGET].to_numpy(dtype=np.float64)))
    median, scale = np.full(n, np.nan), np.full(n, np.nan)
    size, level = np.zeros(n, dtype=np.int64), np.full(n, "", dtype=object)
    open_ = np.ones(n, dtype=bool)  # rows not yet placed in a group
    start = frame["year"] // BAND_YEARS * BAND_YEARS
    band = start.map(lambda y: f"{y:.0f}-{y + BAND_YEARS - 1:.0f}", na_action="ignore")
    for keys, name in GROUPS:
        if not open_.any():
            break
        if keys:
            by = [band if k == BAND else frame[k] for k in keys]
            grouped = log_price.groupby(by, dropna=False, sort=False)
            med = grouped.transform("median").to_numpy()
            mad = (log_price - med).abs().groupby(by, dropna=False, sort=False).transform(
                "median").to_numpy()
            count = grouped.transform("size").to_numpy()
        else:
            med = np.full(n, log_price.median())
            mad = np.full(n, (log_price - med).abs().median())
            count = np.full(n, n)
        take = open_ & (count >= rule.min_group)
        median[take], scale[take], size[take] = med[take], mad[take] * MAD_TO_SD, count[take]
        level[take] = name
        open_ &= ~take
    with np.errstate(invalid="ignore"):  # NaN: no group large enough, never flagged
        deviation = np.abs(log_price.to_numpy() - median) / np.maximum(scale, rule.min_scale)
        flagged = deviation > rule.mad_k
    rows = frame[flagged]
    table = pd.DataFrame({
        "row": clean.index[flagged],
        schema.LISTING_ID: (rows[schema.LISTING_ID].to_numpy() if schema.LISTING_ID in rows
                            else pd.array([pd.NA] * len(rows), dtype="Int64")),
        "brand": rows["brand"].to_numpy(), "model": rows["model"].to_numpy(),
        "year": rows["year"].to_numpy(),
        schema.TARGET: rows[schema.TARGET].to_numpy(),
        "group_median": np.round(np.exp(median[flagged]), -2),
        "group": level[flagged], "group_rows": size[flagged],
        "deviation": np.round(deviation[flagged], 1),
    })
    ratio = table[schema.TARGET] / table["group_median"]
    table["reason"] = [
        f"price {price:,.0f} DH is {r:.3g}x the median {med:,.0f} DH of {rows_} rows "
        f"({grp}): {dev:g} robust deviations, max {rule.mad_k:g}"
        for price, r, med, rows_, grp, dev in zip(
            table[schema.TARGET], ratio, table["group_median"], table["group_rows"],
            table["group"], table["deviation"], strict=True)]
    return flagged, table[list(TABLE_COLUMNS)]


LISTED = 200  # rows of the outlier list in the validation report (all are counted)


def records(table: pd.DataFrame, limit: int = LISTED) -> list[dict]:
    """The first ``limit`` rows of the table as JSON-ready dicts (None for a blank)."""
    head = table.head(limit).astype(object)
    return head.where(head.notna(), None).to_dict("records")


def markdown(rows: list[dict], total: int) -> list[str]:
    """The report's section listing the outliers (rows: records())."""
    lines = ["", f"## Price outliers: {total} rows left out of training and evaluation", ""]
    if not rows:
        return lines + ["- none"]
    lines += ["| row (from 0) | listing_id | brand | model | year | price (DH) | "
              "group median (DH) | reason |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = {k: str(v).replace("|", "/") if isinstance(v, str) else v for k, v in row.items()}
        year = "" if r["year"] is None else f"{r['year']:.0f}"
        listing = "" if r[schema.LISTING_ID] is None else r[schema.LISTING_ID]
        lines.append(f"| {r['row']} | {listing} | {r['brand']} | "
                     f"{r['model']} | {year} | {r[schema.TARGET]:,.0f} | "
                     f"{r['group_median']:,.0f} | {r['reason']} |")
    if total > len(rows):
        lines.append(f"\n(and {total - len(rows)} more, counted but not listed)")
    return lines
