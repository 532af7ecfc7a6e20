"""carprice.monitoring.notify through Apprise for real: a JSON webhook on a local HTTP server gets
the message; unset is silent; a broken or unreachable URL never raises."""

from __future__ import annotations

import pytest

from carprice.config import settings
from carprice.monitoring import notify
from tests.conftest import free_port


def test_a_promotion_reaches_the_webhook(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, url)
    monkeypatch.setenv(settings.ENV_PUBLIC_MLFLOW_URL, "http://localhost:5000")
    title, body = notify.promotion_message("car-price", "3", {"rmse_log": 0.1207, "r2": 0.96},
                                           "2", "gate passed")
    assert notify.send(title, body) is True
    (msg,) = received
    assert msg["title"] == "CarPrice: car-price v3 in production"
    assert "previous production: v2" in msg["message"] and "rmse_log 0.1207" in msg["message"]
    assert "http://localhost:5000/#/models/car-price/versions/3" in msg["message"]
    assert msg["type"] == "success"


def test_unset_is_silent(monkeypatch):
    monkeypatch.delenv(settings.ENV_NOTIFY_URLS, raising=False)
    assert notify.configured() is False
    assert notify.send("t", "b") is False


@pytest.mark.parametrize("url", ["not a url at all", "json://127.0.0.1:{port}/dead",
                                 "mailto://nobody"])
def test_a_broken_url_never_raises(monkeypatch, url, caplog):
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, url.format(port=free_port()))
    assert notify.send("t", "b", failure=True) is False
    assert "notification not sent" in caplog.text
