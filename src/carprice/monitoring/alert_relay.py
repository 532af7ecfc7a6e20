"""alert-relay: Alertmanager's webhook -> the stack's notifications (Apprise).

Alertmanager posts each group of alerts, firing and resolved, to ``POST /alertmanager``
(webhook payload version 4); each alert becomes one message through
:func:`carprice.monitoring.notify.send`, so alerts reach the same destinations as the
pipeline's notifications (``CARPRICE_NOTIFY_URLS``, one setting). A message no destination
took answers 503, so Alertmanager tries the group again later.

``GET /metrics`` also reports the free and total bytes of the volume holding
``CARPRICE_DISK_PATH`` (the data volume, mounted read-only), for the disk-low alert.
Run: ``uvicorn carprice.monitoring.alert_relay:app --port 9095``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from carprice.config import settings
from carprice.monitoring import notify

log = logging.getLogger(__name__)
PORT = 9095


def message(alert: dict) -> tuple[str, str, bool]:
    """(title, body, failure) of one Alertmanager alert."""
    labels, notes = alert.get("labels") or {}, alert.get("annotations") or {}
    status = str(alert.get("status", "firing"))
    name = labels.get("alertname", "alert")
    summary = notes.get("summary") or name
    title = f"CarPrice {status.upper()}: {summary}"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    lines = [f"{name} is {status} (since {alert.get('startsAt', '?')})."]
    if notes.get("description"):
        lines.append(str(notes["description"]))
    if shown:
        lines.append(f"labels: {shown}")
    if status == "resolved" and alert.get("endsAt"):
        lines.append(f"resolved at {alert['endsAt']}")
    return title, "\n".join(lines), status == "firing"


class DiskCollector:
    """Free and total bytes of the volume holding ``path``, read at scrape time."""

    def __init__(self, path):
        self.path = path

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            usage = shutil.disk_usage(self.path)
        except OSError as exc:  # no volume: no series, the scrape still answers
            log.warning("disk usage of %s: %s", self.path, exc)
            return
        yield GaugeMetricFamily("carprice_disk_free_bytes", "Bytes free for the stack on "
                                "the data volume", value=usage.free)
        yield GaugeMetricFamily("carprice_disk_total_bytes", "Size of the data volume",
                                value=usage.total)


def create_app() -> FastAPI:
    registry = CollectorRegistry()
    registry.register(DiskCollector(settings.current().disk_path))
    relayed = Counter("carprice_alert_relay_notifications", "Alerts relayed to Apprise",
                      ["status", "outcome"], registry=registry)
    app = FastAPI(title="CarPrice alert relay", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "destinations": notify.configured()}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/alertmanager")
    async def alertmanager(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
            alerts = list(payload.get("alerts") or [])
        except (ValueError, AttributeError, TypeError):
            return JSONResponse({"error": "expected Alertmanager's webhook JSON"}, 400)
        if not notify.configured():
            log.info("%d alert(s) not relayed: %s is empty", len(alerts),
                     settings.ENV_NOTIFY_URLS)
            return JSONResponse({"relayed": 0, "configured": False})
        failed = 0
        for alert in alerts:
            title, body, failure = message(alert)
            sent = notify.send(title, body, failure=failure)
            relayed.labels(str(alert.get("status", "firing")), "sent" if sent else "failed").inc()
            failed += not sent
        if failed:  # Alertmanager retries the group (a resend repeats the sent ones too)
            return JSONResponse({"relayed": len(alerts) - failed, "failed": failed}, 503)
        return JSONResponse({"relayed": len(alerts)})

    return app


app = create_app()
