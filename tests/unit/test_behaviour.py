"""Behaviour checks before staging (carprice.model.behaviour, run by registry.judge): the
default model passes them; models that learned a wrong direction or a city effect too
large are refused with a counterexample."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from carprice.config.params import load_params
from carprice.contract import schema
from carprice.model import behaviour
from carprice.model.estimator import from_params
from carprice.pipeline.stages.preprocess import split
from carprice.registry.gate import GateLimits
from carprice.registry.judge import judge
from carprice.sources import generate
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")
LIMITS = GateLimits.from_params(PARAMS["gate"])


@pytest.fixture(scope="module")
def market() -> dict[str, pd.DataFrame]:
    return split(generate(4000, seed=3), 0.15, 0.15, 3)


def fitted(train: pd.DataFrame):
    return from_params(PARAMS["model"], random_state=3).fit(train, train[schema.TARGET])


def cities(train: pd.DataFrame) -> list[str]:
    return list(train["city"].value_counts().index[:8])


def test_the_default_model_passes_every_check(market):
    model = fitted(market["train"])
    found = behaviour.check(model.predict, market["test"], cities(market["train"]),
                            LIMITS.max_city_effect, seed=0)
    assert found == {"mileage": None, "year": None, "city": None}


def linear(train: pd.DataFrame, log_price: np.ndarray):
    """A tiny unconstrained model: log price ~ year + km (no monotone constraints)."""
    cols = ["year", "mileage_km"]
    model = LinearRegression().fit(train[cols], log_price)
    return lambda rows: np.exp(model.predict(rows[cols]))


def test_a_model_whose_price_rises_with_km_is_refused(market):
    train = market["train"]
    rises = np.log(train[schema.TARGET]) + 0.5 * train["mileage_km"] / 100_000
    reason = behaviour.monotone(linear(train, rises), behaviour.sample_rows(market["test"], 0),
                                "mileage_km", -1)
    assert reason is not None
    assert reason.startswith("behaviour mileage_km: more km raises the price: ")
    # the counterexample: one car priced higher at more km
    found = re.search(r"priced ([\d,]+) DH at mileage_km=([\d.e+]+), ([\d,]+) DH at "
                      r"([\d.e+]+)$", reason)
    assert found is not None, reason
    less, km_less, more, km_more = (float(g.replace(",", "")) for g in found.groups())
    assert km_more > km_less and more > less


def test_a_model_whose_price_falls_with_the_year_is_refused(market):
    train = market["train"]
    falls = np.log(train[schema.TARGET]) - 0.3 * (train["year"] - 2000)
    reason = behaviour.monotone(linear(train, falls), behaviour.sample_rows(market["test"], 0),
                                "year", +1)
    assert reason is not None and reason.startswith(
        "behaviour year: a newer year lowers the price: ")


def test_a_model_that_learned_a_large_city_effect_is_refused_by_the_gate(market):
    """A real CarPriceModel fitted where Casablanca listings cost 60 % more: the judge
    refuses it with the city check's counterexample, whatever its error."""
    train = market["train"].copy()
    train.loc[train["city"] == "Casablanca", schema.TARGET] *= 1.6
    model = fitted(train)
    test = market["test"]
    judged = judge(train, test, model.predict_interval(test), model.predict, LIMITS, seed=0)
    failed = [r for r in judged.decision.reasons if r.startswith("FAIL")]
    assert not judged.decision.passed and len(failed) == 1
    assert failed[0].startswith("FAIL: behaviour city: ")
    assert "Casablanca" in failed[0] and "more than 15%" in failed[0]
