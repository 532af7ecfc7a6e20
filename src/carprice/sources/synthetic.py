"""A synthetic Moroccan used-car market with a known price formula.

    price_dh = new_price(brand, model)
               * 0.90 * exp(-0.10 * age)                  (depreciation, age <= 25)
               * exp(-0.12 * mileage_km / 100_000)          (wear)
               * condition * fuel * gearbox * origin * city (category factors, catalog.py)
               * 1.04 if first_owner
               * (1 + 0.015 * number of equipment flags)
               * (1 + drift.price_inflation)
               * exp(N(0, noise_sigma))

so the best RMSE any model can reach on log(price) is ``noise_sigma``. Deterministic
for a seed; vectorised, about a second per million rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carprice.contract import catalog, schema

REFERENCE_YEAR = 2026  # fixed, so a seed gives the same data every year


@dataclass(frozen=True)
class Drift:
    """Knobs that turn the base market into a "new batch" of data."""

    price_inflation: float = 0.0  # 0.1 = prices 10% higher
    mileage_shift: float = 0.0  # 0.2 = 20% more km at the same age
    new_models_share: float = 0.0  # share of listings from catalog.NEW_MODELS


def _table(models: dict[str, dict[str, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [(b, m, p) for b, ms in models.items() for m, p in ms.items()]
    brands, names, prices = zip(*rows, strict=True)
    return np.array(brands, dtype=object), np.array(names, dtype=object), np.array(prices, float)


def _pick(rng: np.random.Generator, table: dict[str, tuple[float, float]], n: int):
    """Sample labels by share; return labels and their price factors."""
    labels = np.array(list(table), dtype=object)
    shares = np.array([s for s, _ in table.values()])
    factors = np.array([f for _, f in table.values()])
    idx = rng.choice(len(labels), size=n, p=shares / shares.sum())
    return labels[idx], factors[idx]


def generate(rows: int, seed: int = 42, noise_sigma: float = 0.12,
             drift: Drift | None = None) -> pd.DataFrame:
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    if noise_sigma < 0:
        raise ValueError(f"noise_sigma must be >= 0, got {noise_sigma}")
    drift = drift or Drift()
    rng = np.random.default_rng(seed)
    n = rows

    brands, models, new_price = _table(catalog.CATALOG)
    popularity = 1 / np.sqrt(new_price)  # cheap cars are listed more often
    idx = rng.choice(len(models), size=n, p=popularity / popularity.sum())
    brand, model, price0 = brands[idx], models[idx], new_price[idx]
    age = np.clip(np.round(rng.gamma(2.2, 3.2, n)), 0, 25)

    if drift.new_models_share > 0:
        nb, nm, np0 = _table(catalog.NEW_MODELS)
        fresh = rng.random(n) < drift.new_models_share
        j = rng.integers(0, len(nm), n)
        brand = np.where(fresh, nb[j], brand)
        model = np.where(fresh, nm[j], model)
        price0 = np.where(fresh, np0[j], price0)
        age = np.where(fresh, rng.integers(0, 4, n), age)

    km_per_year = rng.lognormal(np.log(15_000), 0.35, n)
    mileage = np.round((age * km_per_year + rng.uniform(0, 8_000, n)) * (1 + drift.mileage_shift))
    mileage = np.minimum(mileage, 950_000)  # the contract refuses over 1M km
    fuel, f_fuel = _pick(rng, catalog.FUEL_TYPES, n)
    gearbox, f_gear = _pick(rng, catalog.GEARBOXES, n)
    origin, f_origin = _pick(rng, catalog.ORIGINS, n)
    condition, f_cond = _pick(rng, catalog.CONDITIONS, n)
    city, f_city = _pick(rng, catalog.CITIES, n)
    first_owner = rng.random(n) < np.clip(0.65 - 0.03 * age, 0.1, 0.65)
    fiscal_power = np.clip(np.round(3 + price0 / 70_000 + rng.normal(0, 1, n)), 4, 20)
    doors = np.where(rng.random(n) < 0.85, 5, 3)

    # Richer and newer cars carry more equipment.
    tier = np.log(price0 / 200_000)
    equipment = {}
    for k, col in enumerate(schema.EQUIPMENT):
        base = 1.2 - 0.25 * k  # later flags are rarer options
        p = 1 / (1 + np.exp(-(base + 1.5 * tier - 0.12 * age)))
        equipment[col] = rng.random(n) < p
    n_options = np.sum(list(equipment.values()), axis=0)

    log_price = (
        np.log(price0)
        + np.log(0.90) - 0.10 * age
        - 0.12 * mileage / 100_000
        + np.log(f_cond * f_fuel * f_gear * f_origin * f_city)
        + np.log(np.where(first_owner, 1.04, 1.0))
        + np.log1p(0.015 * n_options)
        + np.log1p(drift.price_inflation)
        + rng.normal(0, noise_sigma, n)
    )
    frame = pd.DataFrame({
        "city": city, "brand": brand, "model": model, "fuel_type": fuel, "gearbox": gearbox,
        "origin": origin, "condition": condition,
        "year": REFERENCE_YEAR - age, "mileage_km": mileage, "fiscal_power_cv": fiscal_power,
        "doors": doors.astype(float), "first_owner": first_owner, **equipment,
        schema.TARGET: np.round(np.exp(log_price), -2),
    })
    return frame.astype(schema.DTYPES)[list(schema.COLUMNS)]


# Data-entry errors as a real export holds them: ordinary cars listed at 5 to 10 million DH
# (the real sample behind issue 18 had one at 8,300,000 DH and one at 5,000,000 DH).
TYPO_PRICES_DH = (5_000_000, 10_000_000)


def with_typos(frame: pd.DataFrame, count: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``frame`` with ``count`` random rows given a data-entry price (TYPO_PRICES_DH), and
    the positions of those rows: what validation's outlier rule must catch."""
    if not 0 <= count <= len(frame):
        raise ValueError(f"typos must be between 0 and {len(frame)}, got {count}")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), size=count, replace=False))
    prices = frame[schema.TARGET].to_numpy(dtype=float, copy=True)
    prices[rows] = np.round(rng.uniform(*TYPO_PRICES_DH, size=count), -3)
    return frame.assign(**{schema.TARGET: prices}).astype(frame.dtypes.to_dict()), rows
