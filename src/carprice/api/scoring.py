"""Scoring for the API through carprice.scoring (the app's own path), plus a
micro-batcher that prices concurrent single-car requests in one call.

Why batch: one call of the shared path costs about the same for 1 car as for 30 (its
cost is per call: pandas and scikit-learn overheads, not per row), and under the GIL
concurrent requests would only queue behind each other. The batcher's thread takes
whatever requests are waiting when it becomes free, so a lone request is never delayed
and a burst of N costs about one call instead of N.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pandas as pd

from carprice import schema, scoring
from carprice.model import OUTPUT_COLUMNS
from carprice.validation import ValidationError

log = logging.getLogger(__name__)
# From this many cars on, one score_frame call costs less than predict_one per car
# (measured: score_frame's fixed cost is about two single predictions).
FRAME_MIN_CARS = 3
MAX_BATCH_CARS = 256

Outcome = dict[str, float] | ValidationError


def price_each(model: Any, cars: list[dict]) -> list[Outcome]:
    """Per car, in order: {price_dh, lower_dh, upper_dh} or the ValidationError it broke."""
    if len(cars) < FRAME_MIN_CARS:
        out: list[Outcome] = []
        for car in cars:
            try:
                out.append(scoring.predict_one(model, car))
            except ValidationError as exc:
                out.append(exc)
        return out
    result = scoring.score_frame(model, pd.DataFrame.from_records(cars,
                                                                    columns=schema.FEATURES))
    outcomes: list[Any] = [None] * len(cars)
    values = result.scored[list(OUTPUT_COLUMNS)].to_dict("records")
    for row, prices in zip(result.scored["row"], values, strict=True):
        outcomes[int(row) - 1] = prices
    for row, problem in zip(result.errors["row"], result.errors["problem"], strict=True):
        outcomes[int(row) - 1] = ValidationError(str(problem))
    return outcomes


def price_all(model: Any, cars: list[dict]) -> list[dict[str, float]]:
    """Prices of a list; ValidationError naming the first bad car ("[i]: reason")."""
    outcomes = price_each(model, cars)
    bad = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, ValidationError)]
    if bad:
        more = f" (+{len(bad) - 1} more cars)" if len(bad) > 1 else ""
        raise ValidationError(f"[{bad[0][0]}]: {bad[0][1]}{more}" if len(cars) > 1
                              else f"{bad[0][1]}")
    return outcomes  # type: ignore[return-value]


@dataclass
class _Job:
    model: Any
    car: dict
    future: Future


class MicroBatcher:
    """One thread pricing single-car requests, as many per call as are waiting."""

    def __init__(self, score: Callable[[Any, list[dict]], list[Outcome]] = price_each,
                 max_cars: int = MAX_BATCH_CARS):
        self._score, self.max_cars = score, max_cars
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, model: Any, car: dict) -> Future:
        """A future of the car's prices (or its ValidationError)."""
        job = _Job(model, car, Future())
        self._jobs.put(job)
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="carprice-micro-batcher")
                    self._thread.start()
        return job.future

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            while len(jobs) < self.max_cars:
                try:
                    jobs.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            # A model swap between requests: each model scores its own cars.
            for model_id in dict.fromkeys(id(j.model) for j in jobs):
                self._score_group([j for j in jobs if id(j.model) == model_id])

    def _score_group(self, jobs: list[_Job]) -> None:
        try:
            outcomes = self._score(jobs[0].model, [j.car for j in jobs])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            log.exception("scoring a batch of %d cars failed", len(jobs))
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
