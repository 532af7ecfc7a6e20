"""The gate's baseline (carprice.model.baseline): a median lookup with back-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice.contract import schema
from carprice.model.baseline import MIN_ROWS, MedianBaseline


def rows(*cars: tuple[str, str, int, float]) -> pd.DataFrame:
    return pd.DataFrame(cars, columns=["brand", "model", "year", schema.TARGET])


TRAIN = rows(
    # Dacia Logan 2016-2018 band (year // 3 * 3): 100k, 110k, 120k -> 110k; 2019-2021: 150k
    ("Dacia", "Logan", 2016, 100_000), ("Dacia", "Logan", 2017, 110_000),
    ("Dacia", "Logan", 2018, 120_000), ("Dacia", "Logan", 2019, 150_000),
    ("Dacia", "Logan", 2020, 150_000), ("Dacia", "Logan", 2021, 150_000),
    # Dacia Duster: 2 rows (< MIN_ROWS) in its band and as a model: backs off to the brand
    ("Dacia", "Duster", 2019, 200_000), ("Dacia", "Duster", 2019, 220_000),
    ("Dacia", "Sandero", 2021, 90_000),
    # Fiat: 1 row (< MIN_ROWS): backs off to the global median
    ("Fiat", "Punto", 2012, 40_000),
)


def test_each_level_of_the_back_off():
    assert MIN_ROWS == 3
    model = MedianBaseline().fit(TRAIN)
    test = rows(("Dacia", "Logan", 2017, 0), ("Dacia", "Logan", 2020, 0),
                ("Dacia", "Logan", 2030, 0),  # unseen band: brand + model (6 rows)
                ("Dacia", "Duster", 2019, 0),  # 2 rows: brand
                ("Fiat", "Punto", 2012, 0),  # 1 row: all
                ("Tesla", "3", 2022, 0))  # unseen brand: all
    price = model.predict(test)
    logan = np.exp(np.median(np.log(TRAIN[schema.TARGET][:6])))
    dacia = np.exp(np.median(np.log(TRAIN[schema.TARGET][:9])))
    everyone = np.exp(np.median(np.log(TRAIN[schema.TARGET])))
    np.testing.assert_allclose(price, [110_000, 150_000, logan, dacia, everyone, everyone])
    assert model.level_counts == {"brand + model + year_band": 2, "brand + model": 1,
                                  "brand": 1, "all": 2}


def test_it_is_robust_to_an_outlier_and_deterministic():
    spoiled = pd.concat([TRAIN, rows(("Dacia", "Logan", 2016, 8_300_000))], ignore_index=True)
    test = rows(("Dacia", "Logan", 2016, 0))
    # 4 rows: median of 100k, 110k, 120k, 8.3M = geometric middle of 110k and 120k
    assert MedianBaseline().fit(spoiled).predict(test)[0] == pytest.approx(
        np.sqrt(110_000 * 120_000))
    shuffled = spoiled.sample(frac=1, random_state=3)
    assert MedianBaseline().fit(shuffled).predict(test) == MedianBaseline().fit(
        spoiled).predict(test)


def test_it_refuses_prices_it_cannot_take_the_log_of():
    with pytest.raises(ValueError, match="positive prices"):
        MedianBaseline().fit(rows(("Dacia", "Logan", 2016, 0)))
