"""Keep serving the last good model when a new one is refused, and say so once.

The API (carprice.api.model_holder) and the app share this: a resolved model that cannot
be loaded (unsigned, tampered, unverifiable, unreadable) never replaces the model already
served. Its one-line reason is kept beside the served model for /ready and the page, and
one alert goes out per new reason (the caller hands in carprice.monitoring.notify.send:
serving and monitoring are sibling layers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from carprice.errors import one_line
from carprice.serving.model_source import Resolution, load_with_fallback

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    """What to serve: ``model`` (None: nothing) for ``resolution``; ``refused`` is the
    one-line reason a newer model was not loaded (None when all went well)."""

    resolution: Resolution
    model: Any
    refused: str | None = None


def refusal_message(service: str, problem: str, kept: Resolution | None) -> tuple[str, str]:
    """(title, body) of the alert about a refused model."""
    still = (f"still serving {kept.model_name} v{kept.version} ({kept.source})" if kept
             else "nothing is served")
    return f"CarPrice {service}: a model was refused", f"{problem}\n{still}"


class LoadFailed(Exception):
    """A load that failed a moment ago, not tried again yet (LastGood.retry_after)."""


class LastGood:
    """Thread-safe memory of the last model that loaded, and of the last alert sent."""

    def __init__(self, service: str, send: Callable[..., Any] | None = None, *,
                 retry_after: float = 0.0, clock: Callable[[], float] = time.monotonic):
        """``send(title, body, failure=True)`` delivers an alert (notify.send); None: log
        only. A model that failed is not tried again for ``retry_after`` seconds (the
        app asks on every page rerun; a refused download would cost each one a second)."""
        self.service, self._send = service, send
        self.retry_after, self._clock = retry_after, clock
        self._lock = threading.Lock()
        self._good: tuple[Resolution, Any] | None = None
        self._alerted: str | None = None
        self._failed: dict[str | None, tuple[float, str]] = {}  # cache key -> (when, why)

    def _load_or_recall(self, res: Resolution, load: Callable[[Resolution], Any]) -> Any:
        """``load(res)``, unless it failed less than retry_after ago: then the same error."""
        now = self._clock()
        with self._lock:
            self._failed = {k: v for k, v in self._failed.items()
                            if now - v[0] < self.retry_after}
            recalled = self._failed.get(res.cache_key)
        if recalled is not None:
            raise LoadFailed(recalled[1])
        try:
            return load(res)
        except Exception as exc:
            with self._lock:
                self._failed[res.cache_key] = (now, one_line(exc))
            raise

    def load(self, resolved: Resolution, load: Callable[[Resolution], Any]) -> Outcome:
        """Load what ``resolved`` points at: as load_with_fallback (the export when the
        registry copy fails) while nothing good was loaded yet; afterwards a model that
        fails to load leaves the last good one in place."""
        failures: list[str] = []

        def tracked(res: Resolution) -> Any:
            try:
                return self._load_or_recall(res, load)
            except Exception as exc:
                failures.append(f"cannot load {res.model_uri}: {one_line(exc)}")
                raise

        good = self._good
        if good is None or resolved.model_uri is None:
            res, model = load_with_fallback(resolved, tracked)
        else:
            try:
                res, model = resolved, tracked(resolved)
            except Exception:  # noqa: BLE001 - recorded in failures
                res, model = good
        if model is not None and not (good is not None and failures):
            with self._lock:
                self._good = (res, model)
        refused = "; ".join(failures) or None
        self._report(refused, res if model is not None else None)
        return Outcome(res, model, refused)

    def _report(self, refused: str | None, kept: Resolution | None) -> None:
        with self._lock:
            if refused == self._alerted:
                return
            self._alerted = refused
        if refused is not None:
            log.warning("model refused (%s): %s", self.service, refused)
            if self._send is not None:
                self._send(*refusal_message(self.service, refused, kept), failure=True)
