"""The prediction API against a real MLflow server process (fixtures in conftest.py).

Promotions for the reload test go to a separate registered model name (copies of the
promoted version), so the `car-price` registry the pipeline tests check is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from carprice.api import create_app
from carprice.api.service import SOURCE_HEADER, VERSION_HEADER
from carprice.config import settings
from carprice.model import pyfunc
from carprice.registry import mlflow_server
from tests.conftest import REPO, free_port, register_copy, wait_http

pytestmark = pytest.mark.integration
TTL = 2.0
CAR = pyfunc.example_car()


@pytest.fixture
def api_env(promoted_model, monkeypatch):
    """cwd = the pipeline's workspace (params.yaml, models/); short alias TTL."""
    monkeypatch.chdir(promoted_model["workdir"])
    monkeypatch.setenv("CARPRICE_MODELS_DIR", str(promoted_model["models_dir"]))
    monkeypatch.setenv(settings.ENV_ALIAS_TTL, str(TTL))
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    monkeypatch.delenv(settings.ENV_PREDLOG_DSN, raising=False)
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():  # what the API sets; undone
        monkeypatch.setenv(key, value)
    return monkeypatch


def started(app) -> TestClient:
    client = TestClient(app)
    client.__enter__()
    app.state.served.settle()
    return client


def predict(client: TestClient, body=CAR) -> requests.Response:
    r = client.post("/predict", json=body)
    assert r.status_code == 200, r.text
    return r


def wait_for_header(client: TestClient, header: str, value: str, timeout: float) -> float:
    """Seconds until a prediction carries header=value (the alias is re-read per TTL)."""
    start = time.monotonic()
    while predict(client).headers[header] != value:
        assert time.monotonic() - start < timeout, f"{header} never became {value}"
        time.sleep(0.3)
    return time.monotonic() - start


def test_serves_the_production_version_with_its_lineage(api_env, promoted_model, mlflow_server):
    client = started(create_app())
    try:
        info = client.get("/model").json()
        assert (info["source"], info["version"]) == ("registry", promoted_model["version"])
        assert info["problem"] is None and info["metrics"]["rmse_log"] > 0
        assert info["lineage"]["pipeline_run_id"] == "it-first"
        assert info["lineage"]["gate_decision"] == "passed"
        assert info["lineage"]["data_hash"] and info["lineage"]["trained_at"]
        r = predict(client, [CAR, {**CAR, "year": 2010}])
        assert r.headers[SOURCE_HEADER] == "registry"
        assert r.headers[VERSION_HEADER] == promoted_model["version"]
        newer, older = r.json()["predictions"]
        assert older["price_dh"] < newer["price_dh"]
        assert client.get("/ready").json()["source"] == "registry"
    finally:
        client.__exit__(None, None, None)
    # Loading by version must not rewrite the process's MLflow settings.
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_server


def test_a_new_promotion_is_served_after_the_ttl_without_restart(api_env, promoted_model):
    name = f"car-price-api-{int(time.time())}"
    api_env.setenv(settings.ENV_MODEL_NAME, name)
    registry = MlflowClient()
    source = registry.get_model_version("car-price", promoted_model["version"])

    def register(run_label: str) -> str:
        return register_copy(registry, name, source, run_label)

    first = register("api-first")
    registry.set_registered_model_alias(name, "production", first)
    client = started(create_app())
    try:
        before = predict(client)
        assert before.headers[VERSION_HEADER] == first
        second = register("api-second")
        registry.set_registered_model_alias(name, "production", second)
        delay = wait_for_header(client, VERSION_HEADER, second, timeout=TTL + 60)
        print(f"new promotion served {delay:.1f} s after the alias moved (TTL {TTL:g} s)")
        assert delay <= TTL + 30
        assert client.get("/model").json()["lineage"]["pipeline_run_id"] == "api-second"
        # same model files, so the same price
        assert predict(client).json()["predictions"] == before.json()["predictions"]
    finally:
        client.__exit__(None, None, None)


def test_dead_mlflow_serves_the_export_and_says_so(api_env, promoted_model):
    client = started(create_app())
    try:
        live = predict(client)
        assert live.headers[SOURCE_HEADER] == "registry"
        # MLflow "dies": the next alias check fails and the exported copy takes over.
        api_env.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
        wait_for_header(client, SOURCE_HEADER, "export", timeout=TTL + 60)
        r = predict(client)
        assert r.headers[VERSION_HEADER] == promoted_model["version"]
        assert r.json()["predictions"] == live.json()["predictions"]  # the same model
        info = client.get("/model").json()
        assert info["source"] == "export" and "cannot be reached" in info["problem"]
        assert info["lineage"]["exported_to"] == str(promoted_model["models_dir"] / "production")
        assert client.get("/ready").status_code == 200
    finally:
        client.__exit__(None, None, None)


def test_real_uvicorn_serves_predictions(promoted_model, mlflow_server, tmp_path):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server, "OMP_NUM_THREADS": "1",
           "CARPRICE_MODELS_DIR": str(promoted_model["models_dir"])}
    env.pop(settings.ENV_PREDLOG_DSN, None)
    env.pop(settings.ENV_MODEL_NAME, None)
    # this checkout's package, whatever the venv has installed (cwd is the workspace)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    log_file = tmp_path / "uvicorn.log"
    with open(log_file, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "carprice.api:app", "--host", "127.0.0.1",
             "--port", str(port)], cwd=promoted_model["workdir"], env=env, stdout=log,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", 120, proc)
        deadline = time.monotonic() + 120
        while requests.get(f"{url}/ready", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, log_file.read_text()[-2000:]
            time.sleep(0.5)
        r = requests.post(f"{url}/predict", json=CAR, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers[SOURCE_HEADER] == "registry"
        assert r.headers[VERSION_HEADER] == promoted_model["version"]
        assert r.json()["predictions"][0]["price_dh"] > 0
        assert requests.post(f"{url}/predict", json={**CAR, "year": 1800},
                             timeout=30).status_code == 422
        assert "/predict" in requests.get(f"{url}/openapi.json", timeout=10).json()["paths"]
    finally:
        proc.terminate()
        proc.wait(30)
    text = log_file.read_text()
    assert f"serving car-price v{promoted_model['version']} from registry" in text
    assert "prediction log off" in text
