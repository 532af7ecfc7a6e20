"""GET /metrics (carprice.api.metrics): the families, bounded labels, counts that move.

The app serves a real exported model; the prediction log is a real PredictionLog aimed at
a port where no Postgres listens (its outage is real too).
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from carprice.api import create_app
from carprice.api.metrics import PRICE_BUCKETS, UNMATCHED, StateCollector, log_metrics
from carprice.api.model_holder import Snapshot
from carprice.api.schemas import MAX_BODY_BYTES
from carprice.model import pyfunc
from carprice.serving import model_source, prediction_log
from tests.conftest import API_HEADERS, free_port

CAR = pyfunc.example_car()


@pytest.fixture
def env(api_env, export_dir):
    api_env.setenv("CARPRICE_MODELS_DIR", str(export_dir))
    return api_env


@pytest.fixture
def client(env):
    with TestClient(create_app(), headers=API_HEADERS) as c:
        c.app.state.served.settle()
        yield c


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def labels_of(samples: dict, name: str) -> list[dict]:
    return [dict(labels) for sample, labels in samples if sample == name]


def test_the_exposition_has_every_family_and_the_served_model(client):
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert {"carprice_api_model", "carprice_api_model_ready", "carprice_api_model_refused",
            "carprice_predlog_enabled", "process_resident_memory_bytes"} <= names
    assert labels_of(samples, "carprice_api_model") == [
        {"model_name": "car-price", "version": "7", "source": "export"}]
    assert value(samples, "carprice_api_model", model_name="car-price", version="7",
                 source="export") == 1
    assert value(samples, "carprice_api_model_ready") == 1
    assert value(samples, "carprice_predlog_enabled") == 0  # no DSN: logging is off
    assert "carprice_predlog_queued" not in names
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_requests_predictions_and_prices_are_counted(client):
    before = scrape(client)
    for _ in range(3):
        assert client.post("/predict", json=CAR).status_code == 200
    r = client.post("/predict", json=[CAR, {**CAR, "year": 2010}])
    prices = [out["price_dh"] for out in r.json()["predictions"]]
    priced = [prices[0]] * 3 + prices  # the single car is the list's first
    assert client.post("/predict", json={**CAR, "year": 1800}).status_code == 422
    after = scrape(client)

    def moved(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "POST", "route": "/predict", "status": "200"}
    assert moved("carprice_api_requests_total", **ok) == 4
    assert moved("carprice_api_request_duration_seconds_count", **ok) == 4
    assert moved("carprice_api_request_duration_seconds_sum", **ok) > 0
    assert moved("carprice_api_requests_total", **{**ok, "status": "422"}) == 1
    assert moved("carprice_api_predictions_total", source="export") == 5
    assert moved("carprice_api_predicted_price_dh_count") == 5
    assert moved("carprice_api_predicted_price_dh_sum") == pytest.approx(sum(priced))
    # each price lands in its bucket: the cumulative count at the top bucket holds all 5
    top = floatToGoString(PRICE_BUCKETS[-1])
    assert moved("carprice_api_predicted_price_dh_bucket", le="+Inf") == 5
    assert moved("carprice_api_predicted_price_dh_bucket", le=top) == sum(
        p <= PRICE_BUCKETS[-1] for p in priced)
    low = floatToGoString(PRICE_BUCKETS[0])
    assert moved("carprice_api_predicted_price_dh_bucket", le=low) == sum(
        p <= PRICE_BUCKETS[0] for p in priced)


def test_route_labels_are_templates_never_raw_paths(client):
    for path in ("/nope", "/cars/123", "/predict/../../etc/passwd", "/x?token=secret"):
        client.get(path)
    assert client.get("/predict").status_code == 405
    big = b"[" + b" " * MAX_BODY_BYTES + b"]"
    assert client.post("/predict", content=big,
                       headers={"content-type": "application/json"}).status_code == 413
    client.get("/health")
    client.request("BREW", "/predict")
    samples = scrape(client)
    routes = {labels["route"] for labels in labels_of(samples, "carprice_api_requests_total")}
    assert routes <= {"/predict", "/health", "/metrics", "/openapi.json", UNMATCHED}
    assert value(samples, "carprice_api_requests_total", method="GET", route=UNMATCHED,
                 status="404") == 4
    assert value(samples, "carprice_api_requests_total", method="GET", route="/predict",
                 status="405") == 1
    assert value(samples, "carprice_api_requests_total", method="POST", route="/predict",
                 status="413") == 1
    assert value(samples, "carprice_api_requests_total", method="GET", route="/health",
                 status="200") == 1
    methods = {labels["method"] for labels in labels_of(samples, "carprice_api_requests_total")}
    assert methods == {"GET", "POST", "other"}


def test_metrics_answers_get_and_head_only(client):
    assert client.post("/metrics", content=b"x").status_code == 405
    head = client.head("/metrics")
    assert head.status_code == 200 and head.content == b""


def _snapshot(source: model_source.Source, version: str | None) -> Snapshot:
    res = model_source.Resolution(source, "car-price", version,
                                  None if version is None else f"models:/car-price/{version}")
    return Snapshot(res, object() if version else None, resolved_at=0.0)


def test_the_model_gauge_holds_only_the_current_version_and_source():
    current = [_snapshot(model_source.Source.REGISTRY, "3")]
    collector = StateCollector(lambda: current[0], lambda: {"enabled": False})

    def model_series() -> list[tuple]:
        family = next(f for f in collector.collect() if f.name == "carprice_api_model")
        return [(s.labels["version"], s.labels["source"], s.value) for s in family.samples]

    assert model_series() == [("3", "registry", 1)]
    current[0] = _snapshot(model_source.Source.EXPORT, "3")
    assert model_series() == [("3", "export", 1)]
    current[0] = replace(_snapshot(model_source.Source.REGISTRY, "4"), refused="tampered")
    assert model_series() == [("4", "registry", 1)]
    refused = next(f for f in collector.collect() if f.name == "carprice_api_model_refused")
    assert refused.samples[0].value == 1
    current[0] = _snapshot(model_source.Source.NONE, None)
    assert model_series() == [("", "none", 1)]
    ready = next(f for f in collector.collect() if f.name == "carprice_api_model_ready")
    assert ready.samples[0].value == 0


def test_the_prediction_log_queue_written_and_dropped_are_exposed(env):
    dsn = f"postgresql://u:hunter22@127.0.0.1:{free_port()}/db"  # nothing listens there
    plog = prediction_log.PredictionLog(dsn, max_rows=2, flush_rows=100, flush_seconds=0.05,
                                        retry_seconds=600)
    with TestClient(create_app(log_writer=plog), headers=API_HEADERS) as client:
        client.app.state.served.settle()
        assert client.post("/predict", json=[CAR] * 3).status_code == 200
        deadline = time.monotonic() + 20
        while plog.stats()["state"] != "down":
            assert time.monotonic() < deadline, "the outage was never noticed"
            time.sleep(0.05)
        text = client.get("/metrics").text
        samples = scrape(client)
    assert "hunter22" not in text and "127.0.0.1" not in text
    assert value(samples, "carprice_predlog_enabled") == 1
    assert value(samples, "carprice_predlog_up") == 0
    assert value(samples, "carprice_predlog_queued") == 2
    assert value(samples, "carprice_predlog_dropped_total") == 1
    assert value(samples, "carprice_predlog_written_total") == 0


def test_log_metrics_follow_the_stats():
    stats = {"enabled": True, "target": "u@h:5432/db", "written": 40, "dropped": 2,
             "queued": 7, "state": "ok"}
    got = {f.name: f.samples[0].value for f in log_metrics(stats)}
    assert got == {"carprice_predlog_enabled": 1, "carprice_predlog_up": 1,
                   "carprice_predlog_queued": 7, "carprice_predlog_written": 40,
                   "carprice_predlog_dropped": 2}
