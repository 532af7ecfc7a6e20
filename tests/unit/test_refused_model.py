"""A model that must not be served (unsigned, tampered, unverifiable) is refused: the API
keeps the last good model, /ready says why in one line, and one alert goes out per new
problem (a real Apprise JSON webhook on a local HTTP server). The exported copy is the
model on disk here; the registry cases are in tests/integration/test_signed_serving.py.
"""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

from carprice.api import create_app
from carprice.api.model_holder import ServedModel
from carprice.config import settings
from carprice.model import pyfunc
from carprice.registry import mlflow_server
from carprice.registry.export import EXPORT_DIRNAME, EXPORT_META, EXPORT_SIGNATURE
from carprice.serving import model_source
from carprice.serving.last_good import LastGood
from carprice.serving.model_source import Source
from carprice.serving.pricing import predict_one
from tests.conftest import API_HEADERS
from tests.unit.app_model import export_small_model, sign_export

CAR = pyfunc.example_car()


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(monkeypatch, tmp_path, webhook):
    """No MLflow (the export is served), alerts to the local webhook."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    monkeypatch.delenv(settings.ENV_PREDLOG_DSN, raising=False)
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv(settings.ENV_DATA_DIR, str(tmp_path / "data"))  # no local key pair
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, webhook[0])
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def holder(models_dir, clock) -> ServedModel:
    return ServedModel(lambda: model_source.resolve_production("car-price", "", models_dir),
                       model_source.load_model, ttl=30, clock=clock)


def new_export(models_dir, version: str, *, tamper: bool = False, sign: bool = True) -> None:
    """Export ``version`` over the current one (a new cache key), signed or not; with
    ``tamper``, one byte of the estimator changes after signing."""
    meta_file = models_dir / EXPORT_DIRNAME / EXPORT_META
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "version": version,
                                     EXPORT_SIGNATURE: None}))
    if sign:
        sign_export(models_dir)
    if tamper:
        flip_byte(models_dir / EXPORT_DIRNAME / "model" / "artifacts" / "estimator.skops")
    stat = meta_file.stat()
    os.utime(meta_file, (stat.st_atime, stat.st_mtime + 5))


def flip_byte(path, position: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_tampered_export_never_replaces_the_served_model_and_alerts_once(env, tmp_path,
                                                                           webhook):
    _, received = webhook
    export_small_model(tmp_path, version="7")
    clock = Clock()
    served = holder(tmp_path, clock)
    good = served.get()
    assert good.ready and good.resolution.version == "7" and good.refused is None
    price = predict_one(good.model, CAR)

    new_export(tmp_path, "8", tamper=True)
    for _ in range(3):  # every TTL the alias/export is read again: still refused
        clock.now += 31
        snap = served.refresh()
        assert snap.model is good.model and snap.resolution.version == "7"
        assert "refused car-price v8: its files changed after they were signed" in snap.refused
        assert "\n" not in snap.refused
    assert predict_one(snap.model, CAR) == price
    (alert,) = received  # once for this problem, not once per refresh
    assert alert["type"] == "failure" and "v8: its files changed" in alert["message"]
    assert "still serving car-price v7 (export)" in alert["message"]

    flip_byte(tmp_path / EXPORT_DIRNAME / "model" / "artifacts" / "estimator.skops")  # undone
    clock.now += 31
    fixed = served.refresh()
    assert fixed.resolution.version == "8" and fixed.refused is None
    new_export(tmp_path, "9", sign=False)  # a new problem: a new alert
    clock.now += 31
    assert "refused car-price v9: it is not signed" in served.refresh().refused
    assert len(received) == 2


def test_the_api_keeps_answering_and_ready_says_why(env, tmp_path):
    export_small_model(tmp_path, version="7")
    clock = Clock()
    app = create_app(holder(tmp_path, clock))
    with TestClient(app, headers=API_HEADERS) as client:
        app.state.served.settle()
        before = client.post("/predict", json=CAR).json()
        assert client.get("/ready").json() == {"ready": True, "model_name": "car-price",
                                               "version": "7", "source": "export"}
        new_export(tmp_path, "8", sign=False)
        clock.now += 31
        app.state.served.refresh()
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["version"] == "7"
        assert "refused car-price v8: it is not signed" in ready.json()["problem"]
        assert client.post("/predict", json=CAR).json() == before
        assert "v8: it is not signed" in client.get("/model").json()["problem"]


@pytest.mark.parametrize(("case", "reason"), [
    ("unsigned", "refused car-price v7: it is not signed"),
    ("no public key", f"{settings.ENV_SIGNING_PUBLIC_KEY} is not set"),
    ("other key", "refused car-price v7: signed by another key"),
])
def test_a_first_load_with_nothing_good_is_not_ready_with_the_reason(env, tmp_path, case,
                                                                     reason):
    export_small_model(tmp_path, version="7")
    if case == "unsigned":
        new_export(tmp_path, "7", sign=False)
    elif case == "no public key":
        env.delenv(settings.ENV_SIGNING_PUBLIC_KEY)
        env.delenv(settings.ENV_SIGNING_KEY)
    else:
        from carprice.registry.signing import new_key_pair

        env.setenv(settings.ENV_SIGNING_PUBLIC_KEY, new_key_pair()[1])
    with TestClient(create_app(holder(tmp_path, Clock())), headers=API_HEADERS) as client:
        client.app.state.served.settle()  # type: ignore[attr-defined]
        ready = client.get("/ready")
        assert ready.status_code == 503 and reason in ready.json()["reason"]
        assert "\n" not in ready.json()["reason"]
        r = client.post("/predict", json=CAR)
        assert r.status_code == 503 and reason in r.json()["message"]


def test_an_edited_export_version_is_refused(env, tmp_path):
    """meta.json says another version than the one signed: the signature does not move."""
    export_small_model(tmp_path, version="7")
    meta_file = tmp_path / EXPORT_DIRNAME / EXPORT_META
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "version": "70"}))
    res = model_source.resolve_production("car-price", "", tmp_path)
    assert res.source == Source.EXPORT
    with pytest.raises(Exception, match="v70: the signature does not match"):
        model_source.load_model(res)


def test_a_failed_load_is_not_tried_again_before_retry_after(env, tmp_path):
    """The app asks on every page rerun: a refused model is recalled, not downloaded and
    verified again, until retry_after has passed."""
    export_small_model(tmp_path, version="7")
    new_export(tmp_path, "7", sign=False)
    clock, calls = Clock(), []

    def load(res):
        calls.append(res.cache_key)
        return model_source.load_model(res)

    guard = LastGood("app", retry_after=30, clock=clock)
    res = model_source.resolve_production("car-price", "", tmp_path)
    first = guard.load(res, load)
    assert first.model is None and "v7: it is not signed" in first.refused
    clock.now += 10
    again = guard.load(res, load)
    assert again.refused == first.refused and len(calls) == 1
    clock.now += 25  # retry_after passed: tried again (still unsigned)
    assert guard.load(res, load).refused == first.refused and len(calls) == 2
    sign_export(tmp_path)
    fixed = guard.load(model_source.resolve_production("car-price", "", tmp_path), load)
    assert fixed.model is not None and fixed.refused is None and len(calls) == 3
