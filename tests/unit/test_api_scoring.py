"""carprice.api.batching: the API prices through carprice.serving.pricing, and concurrent single
cars are priced together (on the event loop) without changing any answer."""

from __future__ import annotations

import asyncio

import mlflow.pyfunc
import pytest

from carprice.api.batching import MicroBatcher, price_all
from carprice.contract import schema
from carprice.contract.validation import ValidationError
from carprice.serving import pricing
from carprice.serving.pricing import price_cars
from carprice.sources import synthetic
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
    return [pricing.predict_one(model, car) for car in cars]


@pytest.mark.parametrize("n", [1, 2, 8])
def test_any_number_of_cars_gets_the_single_car_prices(model, cars, n):
    got = price_cars(model, cars[:n])
    want = one_by_one(model, cars[:n])
    assert [pytest.approx(w, rel=1e-9) for w in want] == got


@pytest.mark.parametrize("n", [2, 6])
def test_a_bad_car_is_an_error_in_its_place_and_the_others_are_priced(model, cars, n):
    batch = [*cars[:n - 1], {**cars[0], "year": 1800}]
    got = price_cars(model, batch)
    assert isinstance(got[-1], ValidationError) and "year '1800' outside" in str(got[-1])
    assert got[:-1] == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, cars[:n - 1])]
    with pytest.raises(ValidationError, match=rf"^\[{n - 1}\]: year '1800' outside"):
        price_all(model, batch)


def counting(calls: list):
    """price_cars, with each call's (model id, number of cars) recorded."""

    def score(model, cars):
        calls.append((id(model), len(cars)))
        return price_cars(model, cars)

    return score


async def price_together(batcher: MicroBatcher, jobs: list) -> list:
    """Submit every (model, car) in one step of the loop, as requests read in one poll."""
    futures = [batcher.price(model, car) for model, car in jobs]
    return await asyncio.gather(*futures, return_exceptions=True)


def test_cars_arriving_together_are_priced_in_one_call(model, cars):
    calls = []
    got = asyncio.run(price_together(MicroBatcher(counting(calls)), [(model, c) for c in cars]))
    assert [n for _, n in calls] == [len(cars)]
    assert got == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, cars)]


def test_cars_arriving_one_after_the_other_are_priced_at_once_each(model, cars):
    calls = []

    async def one_after_the_other():
        batcher = MicroBatcher(counting(calls))
        return [await batcher.price(model, car) for car in cars[:3]]

    assert asyncio.run(one_after_the_other()) == one_by_one(model, cars[:3])
    assert [n for _, n in calls] == [1, 1, 1]


def test_a_burst_is_priced_in_calls_of_at_most_max_cars(model, cars):
    calls = []
    batcher = MicroBatcher(counting(calls), max_cars=3)
    got = asyncio.run(price_together(batcher, [(model, c) for c in cars]))
    assert [n for _, n in calls] == [3, 3, 2]
    assert got == [pytest.approx(w, rel=1e-9) for w in one_by_one(model, cars)]


def test_each_model_scores_its_own_cars_and_a_bad_car_fails_alone(model, folder, cars):
    other = mlflow.pyfunc.load_model(str(folder))  # e.g. a newly promoted version
    calls = []
    jobs = [(model, cars[1]), (other, cars[2]), (model, {**cars[3], "doors": 9}),
            (other, cars[4])]
    got = asyncio.run(price_together(MicroBatcher(counting(calls)), jobs))
    assert isinstance(got[2], ValidationError) and "doors '9' outside" in str(got[2])
    assert [got[i] for i in (0, 1, 3)] == [
        pytest.approx(w, rel=1e-9) for w in one_by_one(model, [cars[1], cars[2], cars[4]])]
    assert calls == [(id(model), 2), (id(other), 2)]


def test_a_request_cancelled_before_the_call_is_left_out(model, cars):
    calls = []

    async def cancel_one():
        batcher = MicroBatcher(counting(calls))
        futures = [batcher.price(model, car) for car in cars[:3]]
        futures[1].cancel()  # its client went away: uvicorn cancels the request's task
        return await asyncio.gather(futures[0], futures[2])

    assert asyncio.run(cancel_one()) == one_by_one(model, [cars[0], cars[2]])
    assert [n for _, n in calls] == [2]


def test_a_loop_stopped_before_its_flush_does_not_block_the_next_one(model, cars):
    batcher = MicroBatcher()
    old = asyncio.new_event_loop()

    async def submit_then_stop():
        batcher.price(model, cars[0])  # its flush is scheduled, never run
        old.stop()
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError, match="stopped before"):
        old.run_until_complete(submit_then_stop())
    old.close()

    async def next_loop():
        return await asyncio.wait_for(batcher.price(model, cars[1]), timeout=30)

    assert asyncio.run(next_loop()) == pricing.predict_one(model, cars[1])


def test_a_scorer_failure_reaches_every_waiting_request(model, cars):
    def broken(model, cars):
        raise RuntimeError("model crashed")

    got = asyncio.run(price_together(MicroBatcher(broken), [(model, c) for c in cars[:3]]))
    assert [str(g) for g in got] == ["model crashed"] * 3
