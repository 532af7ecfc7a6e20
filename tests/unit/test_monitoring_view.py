"""Pure logic of the Model page's monitoring section: drift history shaped for the
charts (carprice.webapp.model_page) and Prometheus answers read (carprice.webapp.prometheus)."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice.config import settings
from carprice.webapp import model_page, prometheus

T0 = pd.Timestamp("2026-12-01T08:00:00Z")


def reports() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [2, 1], "created_at": [T0 + pd.Timedelta(days=1), T0],
        "model_version": ["4", "3"], "rows": [900, 800], "drift_share": [0.6, 0.1],
        "dataset_drift": [True, False], "prediction_drift_score": [0.5, None],
        "retrain": [True, False]})


def scores() -> pd.DataFrame:
    rows = []
    for rid, day, year, brand in ((1, 0, 0.02, 0.3), (2, 1, 0.7, 0.1)):
        for feature, score in (("year", year), ("brand", brand), ("fuel", None)):
            rows.append({"report_id": rid, "created_at": T0 + pd.Timedelta(days=day),
                         "model_version": "3", "feature": feature, "score": score,
                         "drifted": bool(score and score > 0.25)})
    return pd.DataFrame(rows)


def test_drift_share_series_is_oldest_first_with_version_labels():
    share = model_page.drift_share_series(reports())
    assert list(share["drift_share"]) == [0.1, 0.6]
    assert list(share["model_version"]) == ["v3", "v4"]
    assert list(share["retrain"]) == [False, True]
    assert str(share["created_at"].dt.tz) == "UTC"


def test_feature_series_drops_never_compared_and_orders_by_latest_score():
    series = model_page.feature_series(scores())
    assert list(dict.fromkeys(series["feature"])) == ["year", "brand"]  # 0.7 > 0.1 latest
    year = series[series["feature"] == "year"]
    assert list(year["score"]) == [0.02, 0.7] and list(year["drifted"]) == [False, True]
    assert model_page.feature_series(scores().iloc[:0]).empty


def vector(*samples: tuple[dict, str]) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": m, "value": [1733400000.0, v]} for m, v in samples]}}


def test_parse_vector_reads_labels_and_values():
    got = prometheus.parse_vector(vector(({"version": "3", "source": "registry"}, "1")))
    assert got == [{"metric": {"version": "3", "source": "registry"}, "value": 1.0}]
    assert prometheus.parse_vector(vector()) == []


@pytest.mark.parametrize("body, message", [
    ({"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
     "Prometheus query failed: parse error at char 3"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}},
     "expected an instant vector, got matrix"),
])
def test_parse_vector_refuses_errors_in_one_line(body, message):
    with pytest.raises(prometheus.PrometheusError, match=message):
        prometheus.parse_vector(body)


def test_scalar_is_none_without_traffic():
    assert prometheus.scalar(prometheus.parse_vector(vector(({}, "0.0123")))) == 0.0123
    assert prometheus.scalar(prometheus.parse_vector(vector(({}, "NaN")))) is None
    assert prometheus.scalar([]) is None


def test_the_profile_is_off_until_url_user_and_password_are_all_set(monkeypatch):
    for name in (settings.ENV_PROMETHEUS_URL, settings.ENV_PROMETHEUS_USER,
                 settings.ENV_PROMETHEUS_PASSWORD):
        monkeypatch.delenv(name, raising=False)
    assert prometheus.Prometheus.from_env() is None
    monkeypatch.setenv(settings.ENV_PROMETHEUS_URL, "http://prometheus:9090/")
    monkeypatch.setenv(settings.ENV_PROMETHEUS_USER, "carprice")
    assert prometheus.Prometheus.from_env() is None
    monkeypatch.setenv(settings.ENV_PROMETHEUS_PASSWORD, "s3cret")
    prom = prometheus.Prometheus.from_env()
    assert prom is not None and prom.url == "http://prometheus:9090"
    assert "s3cret" not in repr(prom)
    assert "monitoring` profile is off" in prometheus.PROFILE_OFF


def test_a_dead_prometheus_is_one_line_not_an_exception():
    from tests.conftest import free_port

    dead = prometheus.Prometheus(f"http://127.0.0.1:{free_port()}", "u", "p")
    health = prometheus.service_health(dead)
    assert health.served == [] and health.latency_p95_ms is None and health.error_rate is None
    assert health.problem.startswith(f"Prometheus at {dead.url} unreachable: ConnectionError")
