"""The model the API serves: the production alias resolved at most once per TTL, the
loaded model cached by pinned version, the exported copy when MLflow is down. A registry
version and the export with the same signed content share one loaded model, so the source
switches both ways within a TTL without loading anything.

Requests never wait on MLflow once a model is loaded: when the TTL has passed, the
next request starts a refresh in a background thread and is answered with the model
it already has ("stale while revalidate"). Only the very first load is waited for.
A model that is refused (unsigned, tampered, unverifiable) never replaces the one served
(carprice.serving.last_good): the snapshot keeps it and says why.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carprice.errors import one_line
from carprice.monitoring import notify
from carprice.serving import model_source
from carprice.serving.last_good import LastGood

log = logging.getLogger(__name__)
KEEP_MODELS = 3  # current, previous, and one being swapped in


@dataclass(frozen=True)
class Snapshot:
    """What is served now: the resolution and its loaded model (None: nothing to serve)."""

    resolution: model_source.Resolution
    model: Any
    resolved_at: float  # monotonic clock, for the TTL
    resolved_wall: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    refused: str | None = None  # why a newer model was not loaded (one line)

    @property
    def ready(self) -> bool:
        return self.model is not None

    @property
    def problem(self) -> str | None:
        """The refusal, else the resolution's own problem (e.g. MLflow unreachable)."""
        return self.refused or self.resolution.problem


class ServedModel:
    """Thread-safe holder of the current Snapshot."""

    def __init__(self,
                 resolve: Callable[[], model_source.Resolution] = model_source.resolve_production,
                 load: Callable[[model_source.Resolution], Any] = model_source.load_model,
                 ttl: float | None = None, clock: Callable[[], float] = time.monotonic):
        self._resolve, self._load, self._clock = resolve, load, clock
        self.ttl = model_source.alias_ttl() if ttl is None else ttl
        self._snapshot: Snapshot | None = None
        # cache key -> (signed_content, model)
        self._models: OrderedDict[str, tuple[tuple | None, Any]] = OrderedDict()
        self._refreshing = threading.Lock()  # held by whoever resolves/loads right now
        self._last_good = LastGood("API", notify.send)

    def peek(self) -> Snapshot | None:
        """The current snapshot without waiting; starts a background refresh if stale."""
        snap = self._snapshot
        if snap is None or self._stale(snap):
            self._refresh_in_background()
        return snap

    def get(self) -> Snapshot:
        """The current snapshot; waits only when nothing was ever resolved."""
        snap = self.peek()
        if snap is not None:
            return snap
        with self._refreshing:
            if self._snapshot is None:
                self._refresh_locked()
        return self._snapshot  # type: ignore[return-value]

    def refresh(self) -> Snapshot:
        """Resolve and load now (waits for a refresh already running)."""
        with self._refreshing:
            return self._refresh_locked()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until no refresh is running (a background one may have just started)."""
        if self._refreshing.acquire(timeout=timeout):
            self._refreshing.release()

    def _stale(self, snap: Snapshot) -> bool:
        return self._clock() - snap.resolved_at >= self.ttl

    def _refresh_in_background(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # someone is already refreshing

        def run() -> None:
            try:
                self._refresh_locked()
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="carprice-model-refresh", daemon=True).start()

    def _refresh_locked(self) -> Snapshot:
        refused = None
        try:
            outcome = self._last_good.load(self._resolve(), self._cached_load)
            res, model, refused = outcome.resolution, outcome.model, outcome.refused
        except Exception as exc:  # noqa: BLE001 - never let a refresh kill serving
            log.exception("model refresh failed")
            res, model = model_source.Resolution(model_source.Source.NONE,
                                                 model_source.model_name(),
                                                 problem=one_line(exc)), None
        old = self._snapshot
        if old is None or (old.resolution.cache_key, old.resolution.source) != (
                res.cache_key, res.source):
            if model is None:
                log.warning("no model to serve: %s", res.problem)
            else:
                log.info("serving %s v%s from %s%s", res.model_name, res.version, res.source,
                         f" ({res.problem})" if res.problem else "")
        if model is not None and (old is None or old.model is not model):
            freeze_heap()
        self._snapshot = Snapshot(res, model, self._clock(), refused=refused)
        return self._snapshot

    def _cached_load(self, res: model_source.Resolution) -> Any:
        key = res.cache_key or ""
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key][1]
        content = signed_content(res)
        model = next((m for c, m in self._models.values() if content and c == content), None)
        if model is not None:  # e.g. MLflow is back and serves the version of the export
            log.info("%s v%s from %s is the signed content already loaded: not loaded again",
                     res.model_name, res.version, res.source)
        else:
            model = self._load(res)
        self._models[key] = (content, model)
        while len(self._models) > KEEP_MODELS:
            self._models.popitem(last=False)
        return model


def signed_content(res: model_source.Resolution) -> tuple | None:
    """What a resolution's model files are, whatever their source: (name, version,
    signature). Loading verified the files against that signature (same name, version
    and digest), so two resolutions with equal ones load the same model; None: unsigned."""
    if res.signature is None:
        return None
    return (res.model_name, str(res.version), res.signature)


def freeze_heap() -> None:
    """Keep what is loaded now (imports, the model: a few hundred thousand objects) out of
    the cyclic GC: a full collection over them stalls every request in flight
    (docs/benchmarks.md). Unfrozen and collected first, so a replaced model's cycles are
    freed: that one full collection runs once per model swap, in the refresh."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
