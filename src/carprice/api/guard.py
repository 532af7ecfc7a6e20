"""The door of the prediction routes (/predict*): an API key and a per-client rate limit,
as plain ASGI middleware like BodyLimit (no per-request cost of BaseHTTPMiddleware).

/health, /ready, /metrics, /model and the docs stay open: probes, Prometheus and the
operator read them, and they price nothing. The client is the connection's address, which
uvicorn takes from X-Forwarded-For when the peer is trusted (FORWARDED_ALLOW_IPS; in the
stack: the proxy, which overwrites that header with the real peer).
"""

from __future__ import annotations

import hmac
import json
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from carprice.config import settings

API_KEY_HEADER = "X-API-Key"
PROTECTED_PREFIX = "/predict"
# Per client: bursts of 20 single-car requests a second, 10 a second sustained. A list of
# up to MAX_CARS cars counts as one request.
DEFAULT_RATE_LIMIT = "20/second;600/minute"
_HEADER = API_KEY_HEADER.lower().encode()


def parse_rate_limit(text: str) -> list[RateLimitItem]:
    """'20/second;600/minute' -> limits' items; SettingsError (one line) when unreadable."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items:
        raise settings.SettingsError(
            f"{settings.ENV_API_RATE_LIMIT} must look like '20/second;600/minute', "
            f"got {text[:40]!r}")
    return items


def check_key(api_key: str) -> str:
    if not api_key:
        raise settings.SettingsError(
            f"{settings.ENV_API_KEY} is empty: the API serves no prediction without a key "
            "(./docker-start-full.sh generates API_KEY in .env)")
    return api_key


class ApiGuard:
    def __init__(self, app, api_key: str, rate_limit: str = DEFAULT_RATE_LIMIT):
        self.app, self._key = app, check_key(api_key).encode()
        self._items = parse_rate_limit(rate_limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            return await self.app(scope, receive, send)
        given = next((value for name, value in scope["headers"] if name == _HEADER), b"")
        # compare_digest: the time taken says nothing about how much of the key matched
        if not hmac.compare_digest(given, self._key):
            return await _refuse(send, 401, f"missing or wrong {API_KEY_HEADER} header")
        client = (scope.get("client") or ("unknown",))[0]
        # Tested before any is counted (no await in between: atomic on the event loop), so a
        # refused request uses none of the client's allowance.
        full = [item for item in self._items if not self._limiter.test(item, client)]
        if full:
            wait = max(self._retry_after(item, client) for item in full)
            return await _refuse(send, 429, f"rate limit {full[0]} per client reached: "
                                 f"retry in {wait} s", [(b"retry-after", str(wait).encode())])
        for item in self._items:
            self._limiter.hit(item, client)
        return await self.app(scope, receive, send)

    def _retry_after(self, item: RateLimitItem, client: str) -> int:
        reset = self._limiter.get_window_stats(item, client).reset_time
        return max(1, math.ceil(reset - time.time()))


async def _refuse(send, status: int, message: str, headers: list | None = None) -> None:
    body = json.dumps({"message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
