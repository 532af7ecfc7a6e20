"""The service as Prometheus sees it, for the app's Model page: which model the API
serves, its request latency p95 and error rate (PromQL over carprice.api.metrics).

Read over Prometheus's HTTP API (GET /api/v1/query, basic auth) with short timeouts and
one quick retry: a dead or slow Prometheus costs the page about two seconds, never an
exception (``service_health`` answers what it could read and one line on what failed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from carprice.config import settings
from carprice.errors import one_line

TIMEOUT_S = (1.0, 2.0)  # (connect, read)
WINDOW = "5m"  # rates over the last 5 minutes
QUERIES = {
    # one series per (version, source) the API serves now (carprice_api_model == 1)
    "served": "max by (model_name, version, source) (carprice_api_model == 1)",
    "latency_p95_s": "histogram_quantile(0.95, sum by (le) "
                     f"(rate(carprice_api_request_duration_seconds_bucket[{WINDOW}])))",
    # no 5xx at all is 0, not "no data"; no request at all is NaN (no traffic)
    "error_rate": f'(sum(rate(carprice_api_requests_total{{status=~"5.."}}[{WINDOW}])) '
                  f"or vector(0)) / sum(rate(carprice_api_requests_total[{WINDOW}]))",
}
PROFILE_OFF = ("Service metrics: the `monitoring` profile is off (set "
               f"{settings.ENV_PROMETHEUS_URL}, {settings.ENV_PROMETHEUS_USER} and "
               f"{settings.ENV_PROMETHEUS_PASSWORD}, or start the stack with "
               "COMPOSE_PROFILES=monitoring).")


class PrometheusError(RuntimeError):
    """Prometheus could not answer a query; one line."""


@dataclass(frozen=True)
class Prometheus:
    url: str
    user: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls) -> Prometheus | None:
        """None when the monitoring profile is off (URL, user or password unset)."""
        s = settings.current()
        if not (s.prometheus_url and s.prometheus_user and s.prometheus_password):
            return None
        return cls(s.prometheus_url.rstrip("/"), s.prometheus_user, s.prometheus_password)

    @retry(retry=retry_if_exception_type(requests.ConnectionError), stop=stop_after_attempt(2),
           wait=wait_fixed(0.2), reraise=True)
    def _get(self, query: str) -> requests.Response:
        return requests.get(f"{self.url}/api/v1/query", params={"query": query},
                            auth=(self.user, self.password), timeout=TIMEOUT_S)

    def query(self, promql: str) -> list[dict]:
        """The instant vector of ``promql``: [{"metric": {labels}, "value": float}]."""
        try:
            resp = self._get(promql)
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.url} unreachable: "
                                  f"{type(exc).__name__}") from None
        if resp.status_code != 200:
            raise PrometheusError(f"Prometheus at {self.url} answered HTTP {resp.status_code}"
                                  + (" (check PROMETHEUS_USER/PASSWORD)"
                                     if resp.status_code == 401 else ""))
        return parse_vector(resp.json())


def parse_vector(body: dict) -> list[dict]:
    """Samples of an /api/v1/query answer; PrometheusError if it is not a success vector."""
    if body.get("status") != "success":
        raise PrometheusError(f"Prometheus query failed: {one_line(body.get('error', body))}")
    data = body.get("data") or {}
    if data.get("resultType") != "vector":
        raise PrometheusError(f"expected an instant vector, got {data.get('resultType')}")
    return [{"metric": r.get("metric", {}), "value": float(r["value"][1])}
            for r in data.get("result", [])]


def scalar(samples: list[dict]) -> float | None:
    """The one value of a single-series answer; None without traffic (no series, NaN)."""
    if len(samples) != 1 or math.isnan(samples[0]["value"]):
        return None
    return samples[0]["value"]


@dataclass
class ServiceHealth:
    served: list[str] = field(default_factory=list)  # "v3 (registry)" per served series
    latency_p95_ms: float | None = None
    error_rate: float | None = None
    problem: str = ""  # one line when some query failed


def service_health(prom: Prometheus) -> ServiceHealth:
    """What the page shows; a failed query leaves its value None and says why once."""
    out = ServiceHealth()
    try:
        out.served = [f"v{s['metric'].get('version') or '?'} ({s['metric'].get('source', '?')})"
                      for s in prom.query(QUERIES["served"])]
        p95 = scalar(prom.query(QUERIES["latency_p95_s"]))
        out.latency_p95_ms = None if p95 is None else p95 * 1000
        out.error_rate = scalar(prom.query(QUERIES["error_rate"]))
    except PrometheusError as exc:
        out.problem = str(exc)
    return out
