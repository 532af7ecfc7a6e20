"""Behaviour checks of a candidate, on a sample of test rows (run by evaluate, part of the
gate decision): what any price model of used cars must do whatever its error.

- mileage: more km never raises the price (each row priced along a grid of mileages);
- year: a newer car is never cheaper (each row priced along a grid of years);
- city: moving a car to another city changes its price by at most ``max_city_effect``
  from its typical price (each row priced in each of ``cities``, the cities with enough
  training rows: carprice.registry.judge).

Each check returns None or a one-line reason naming the check and a counterexample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

SAMPLE_ROWS = 200  # enough to meet every level of a categorical feature the model splits on
GRID_POINTS = 9  # mileage / year values per row: the sample's deciles
# Float noise of a compiled tree sum: a rise smaller than this is no rise.
RELATIVE_TOLERANCE = 1e-9

Predict = Callable[[pd.DataFrame], np.ndarray]


def sample_rows(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(min(len(frame), SAMPLE_ROWS), random_state=seed).reset_index(drop=True)


def _grid(values: pd.Series, integer: bool) -> np.ndarray:
    grid = np.quantile(values.to_numpy(dtype=float), np.linspace(0, 1, GRID_POINTS))
    return np.unique(np.round(grid) if integer else grid)


def _priced(predict: Predict, rows: pd.DataFrame, column: str,
            values: Sequence | np.ndarray) -> np.ndarray:
    """(rows, values) prices of every row with ``column`` set to each value, in one call."""
    variants = rows.loc[rows.index.repeat(len(values))].reset_index(drop=True)
    variants[column] = pd.Series(np.tile(np.asarray(values, dtype=object), len(rows))
                                 ).astype(rows[column].dtype)
    return np.asarray(predict(variants), dtype=float).reshape(len(rows), len(values))


def _car(row: pd.Series) -> str:
    return f"{row['brand']} {row['model']} {int(row['year'])} {int(row['mileage_km'])} km"


def monotone(predict: Predict, rows: pd.DataFrame, column: str, direction: int
             ) -> str | None:
    """None if every row's price never moves against ``direction`` (+1: rises with
    ``column``, -1: falls with it) along the grid; else the worst counterexample."""
    grid = _grid(rows[column], integer=True)
    if len(grid) < 2:
        return None
    prices = _priced(predict, rows, column, grid)
    # step > 0 is a move against the direction: price falls with a newer year, rises with km
    step = -direction * np.diff(np.log(prices), axis=1)
    worst = np.unravel_index(np.argmax(step), step.shape)
    if step[worst] <= RELATIVE_TOLERANCE:
        return None
    i, j = int(worst[0]), int(worst[1])
    word = {"mileage_km": "more km raises the price", "year": "a newer year lowers the price"}
    return (f"behaviour {column}: {word.get(column, column)}: {_car(rows.iloc[i])} priced "
            f"{prices[i, j]:,.0f} DH at {column}={grid[j]:g}, {prices[i, j + 1]:,.0f} DH at "
            f"{grid[j + 1]:g}")


def city_effect(predict: Predict, rows: pd.DataFrame, cities: Sequence[str],
                max_effect: float) -> str | None:
    """None if, for every row, its prices in each of ``cities`` stay within ``max_effect``
    (a share) of its typical price (their geometric mean); else the worst counterexample.
    Measured from the typical price, not from the row's own city: a car listed in a rare
    city would otherwise be judged by that city's noisy effect."""
    if len(cities) < 2:
        return None
    moved = _priced(predict, rows, "city", list(cities))
    typical = np.exp(np.log(moved).mean(axis=1, keepdims=True))
    effect = np.abs(moved / typical - 1)
    i, j = (int(k) for k in np.unravel_index(np.argmax(effect), effect.shape))
    if effect[i, j] <= max_effect:
        return None
    return (f"behaviour city: {_car(rows.iloc[i])} priced {moved[i, j]:,.0f} DH in "
            f"{cities[j]}, {effect[i, j]:.0%} from its typical {typical[i, 0]:,.0f} DH over "
            f"{len(cities)} cities: more than {max_effect:.0%}")


def check(predict: Predict, test: pd.DataFrame, cities: Sequence[str], max_city_effect: float,
          seed: int) -> dict[str, str | None]:
    """{check name: None if it passed, else the reason} on a sample of ``test``."""
    rows = sample_rows(test, seed)
    return {"mileage": monotone(predict, rows, "mileage_km", -1),
            "year": monotone(predict, rows, "year", +1),
            "city": city_effect(predict, rows, cities, max_city_effect)}
