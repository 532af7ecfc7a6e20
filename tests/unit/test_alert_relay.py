"""alert-relay for real: Alertmanager's webhook JSON in, Apprise json:// out to a real local
HTTP server (tests/conftest.py webhook), firing and resolved; a destination that takes
nothing answers 503 (Alertmanager retries); the data volume's free space in /metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carprice.config import settings
from carprice.monitoring import alert_relay
from tests.conftest import free_port


def alert(status: str) -> dict:
    return {"status": status,
            "labels": {"alertname": "CarpriceApiDown", "job": "api", "severity": "critical"},
            "annotations": {"summary": "The prediction API does not answer",
                            "description": "Prometheus cannot scrape api:8000/metrics."},
            "startsAt": "2026-12-05T16:00:00Z", "endsAt": "2026-12-05T16:02:00Z"}


def payload(*alerts: dict) -> dict:
    return {"version": "4", "status": alerts[0]["status"], "receiver": "carprice-relay",
            "groupLabels": {"alertname": "CarpriceApiDown"}, "alerts": list(alerts)}


def test_firing_and_resolved_reach_the_destination(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, url)
    client = TestClient(alert_relay.create_app())
    assert client.post("/alertmanager", json=payload(alert("firing"))).status_code == 200
    assert client.post("/alertmanager", json=payload(alert("resolved"))).status_code == 200
    firing, resolved = received
    assert firing["title"] == "CarPrice FIRING: The prediction API does not answer"
    assert firing["type"] == "failure"
    assert "CarpriceApiDown is firing" in firing["message"]
    assert "job=api" in firing["message"] and "api:8000/metrics" in firing["message"]
    assert resolved["title"] == "CarPrice RESOLVED: The prediction API does not answer"
    assert resolved["type"] == "success"
    assert "resolved at 2026-12-05T16:02:00Z" in resolved["message"]
    text = client.get("/metrics").text
    assert 'carprice_alert_relay_notifications_total{outcome="sent",status="firing"} 1.0' in text


def test_an_unreachable_destination_is_retried(monkeypatch):
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, f"json://127.0.0.1:{free_port()}/dead")
    resp = TestClient(alert_relay.create_app()).post("/alertmanager",
                                                     json=payload(alert("firing")))
    assert resp.status_code == 503 and resp.json()["failed"] == 1


def test_without_destinations_alerts_are_taken_and_dropped(monkeypatch):
    monkeypatch.delenv(settings.ENV_NOTIFY_URLS, raising=False)
    client = TestClient(alert_relay.create_app())
    assert client.get("/health").json() == {"status": "ok", "destinations": False}
    resp = client.post("/alertmanager", json=payload(alert("firing")))
    assert resp.status_code == 200 and resp.json()["configured"] is False
    assert client.post("/alertmanager", content=b"not json").status_code == 400


def test_disk_space_of_the_data_volume(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_DISK_PATH, str(tmp_path))
    text = TestClient(alert_relay.create_app()).get("/metrics").text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("carprice_disk_")}
    assert 0 < values["carprice_disk_free_bytes"] <= values["carprice_disk_total_bytes"]
    monkeypatch.setenv(settings.ENV_DISK_PATH, str(tmp_path / "missing"))
    assert "carprice_disk_free_bytes" not in TestClient(alert_relay.create_app()).get(
        "/metrics").text
