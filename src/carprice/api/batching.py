"""Scoring for the API through carprice.serving.pricing (the app's own path), plus a
micro-batcher that prices concurrent single-car requests in one call.

Why batch: one call of the shared path costs about the same for 1 car as for 30 (its cost
is per call: the trees are walked once per call, in scikit-learn's loop), and under the
GIL concurrent requests would only queue behind each other.

Why on the event loop, not a thread: a call for a few cars is cheaper than handing work to
a thread and back (a Future, a wake-up of the loop, and the GIL switching between the two
threads); docs/benchmarks.md has the figures. A request adds its car and, if it is the
first, schedules a flush with call_soon: every request the loop reads before the flush runs
(those that arrived in the same poll) joins it, and a lone request is never delayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from carprice.contract.validation import ValidationError
from carprice.serving.pricing import Outcome, price_cars

log = logging.getLogger(__name__)
MAX_BATCH_CARS = 256  # per loop step; the rest waits one step, so I/O is served meanwhile


def price_all(model: Any, cars: list[dict]) -> list[dict[str, float]]:
    """Prices of a list; ValidationError naming the first bad car ("[i]: reason")."""
    outcomes = price_cars(model, cars)
    bad = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, ValidationError)]
    if bad:
        more = f" (+{len(bad) - 1} more cars)" if len(bad) > 1 else ""
        raise ValidationError(f"[{bad[0][0]}]: {bad[0][1]}{more}" if len(cars) > 1
                              else f"{bad[0][1]}")
    return outcomes  # type: ignore[return-value]


_Job = tuple[Any, dict, asyncio.Future]


class MicroBatcher:
    """Prices the single-car requests of one event loop, as many per call as are waiting."""

    def __init__(self, score: Callable[[Any, list[dict]], list[Outcome]] = price_cars,
                 max_cars: int = MAX_BATCH_CARS):
        self._score, self.max_cars = score, max_cars
        self._pending: list[_Job] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def price(self, model: Any, car: dict) -> asyncio.Future:
        """A future of the car's prices (or its ValidationError); call on the loop."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # served by a new loop (tests): a stopped one's jobs are void
            self._loop, self._pending = loop, []
        future = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((model, car, future))
        return future

    def _flush(self) -> None:
        jobs, self._pending = self._pending[:self.max_cars], self._pending[self.max_cars:]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        jobs = [j for j in jobs if not j[2].done()]  # a client gone: its task was cancelled
        # A model swap between requests: each model scores its own cars.
        for model_id in dict.fromkeys(id(model) for model, _, _ in jobs):
            self._score_group([j for j in jobs if id(j[0]) == model_id])

    def _score_group(self, jobs: list[_Job]) -> None:
        try:
            outcomes = self._score(jobs[0][0], [car for _, car, _ in jobs])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request
            log.exception("scoring a batch of %d cars failed", len(jobs))
            for _, _, future in jobs:
                future.set_exception(exc)
            return
        for (_, _, future), outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
