"""carprice.api.scoring: the API prices through carprice.scoring, and concurrent single
cars are priced together without changing any answer."""

from __future__ import annotations

import threading
import time

import mlflow.pyfunc
import pytest

from carprice import schema, scoring
from carprice.api.scoring import FRAME_MIN_CARS, MicroBatcher, price_all, price_each
from carprice.sources import synthetic
from carprice.validation import ValidationError
from tests.unit.app_model import export_small_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return export_small_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def model(folder):
    return mlflow.pyfunc.load_model(str(folder))


@pytest.fixture(scope="module")
def cars():
    return synthetic.generate(8, seed=9).drop(columns=[schema.TARGET]).to_dict("records")


def one_by_one(model, cars):
    return [scoring.predict_one(model, car) for car in cars]


@pytest.mark.parametrize("n", [1, FRAME_MIN_CARS - 1, FRAME_MIN_CARS, 8])
def test_any_number_of_cars_gets_the_single_car_prices(model, cars, n):
    got = price_each(model, cars[:n])
    want = one_by_one(model, cars[:n])
    assert [pytest.approx(w, rel=1e-9) for w in want] == got


@pytest.mark.parametrize("n", [2, 6])
def test_a_bad_car_is_an_error_in_its_place_and_the_others_are_priced(model, cars, n):
    batch = [*cars[:n - 1], {**cars[0], "year": 1800}]
    got = price_each(model, batch)
    assert isinstance(got[-1], ValidationError) and "year '1800' outside" in str(got[-1])
    assert got[:-1] == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, cars[:n - 1])]
    with pytest.raises(ValidationError, match=rf"^\[{n - 1}\]: year '1800' outside"):
        price_all(model, batch)


def _gated(first_call_gate: threading.Event, calls: list):
    """price_each whose first call waits for the gate, so later cars pile up meanwhile."""

    def score(model, cars):
        calls.append((id(model), len(cars)))
        if len(calls) == 1:
            assert first_call_gate.wait(60)
        return price_each(model, cars)

    return score


def _wait_calls(calls: list, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(calls) < n:
        assert time.monotonic() < deadline, "the batcher never called the scorer"
        time.sleep(0.01)


def test_cars_waiting_while_the_scorer_is_busy_are_priced_in_one_call(model, cars):
    gate, calls = threading.Event(), []
    batcher = MicroBatcher(_gated(gate, calls))
    first = batcher.submit(model, cars[0])
    _wait_calls(calls, 1)
    rest = [batcher.submit(model, car) for car in cars[1:]]
    gate.set()
    got = [f.result(timeout=60) for f in [first, *rest]]
    assert [n for _, n in calls] == [1, len(cars) - 1]
    assert got == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, cars)]


def test_each_model_scores_its_own_cars_and_a_bad_car_fails_alone(model, folder, cars):
    other = mlflow.pyfunc.load_model(str(folder))  # e.g. a newly promoted version
    gate, calls = threading.Event(), []
    batcher = MicroBatcher(_gated(gate, calls))
    first = batcher.submit(model, cars[0])
    _wait_calls(calls, 1)
    futures = [batcher.submit(m, car) for m, car in
               [(model, cars[1]), (other, cars[2]), (model, {**cars[3], "doors": 9}),
                (other, cars[4])]]
    gate.set()
    first.result(timeout=60)
    with pytest.raises(ValidationError, match="doors '9' outside"):
        futures[2].result(timeout=60)
    got = [futures[i].result(timeout=60) for i in (0, 1, 3)]
    assert got == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, [cars[1], cars[2],
                                                                           cars[4]])]
    assert calls[1:] == [(id(model), 2), (id(other), 2)]


def test_a_scorer_failure_reaches_every_waiting_request(model, cars):
    def broken(model, cars):
        raise RuntimeError("model crashed")

    batcher = MicroBatcher(broken)
    futures = [batcher.submit(model, car) for car in cars[:3]]
    for f in futures:
        with pytest.raises(RuntimeError, match="model crashed"):
            f.result(timeout=60)
