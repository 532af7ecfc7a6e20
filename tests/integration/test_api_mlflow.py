"""The prediction API against a real MLflow server process (fixtures in conftest.py).

Promotions for the reload test go to a separate registered model name (copies of the
promoted version), so the `car-price` registry the pipeline tests check is never touched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from carprice.api import create_app
from carprice.api.service import SOURCE_HEADER, VERSION_HEADER
from carprice.config import settings
from carprice.model import pyfunc
from carprice.registry import mlflow_server
from tests.conftest import API_HEADERS, REPO, free_port, register_copy, wait_http

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
    client = TestClient(app, headers=API_HEADERS)
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
        assert requests.post(f"{url}/predict", json=CAR, timeout=30).status_code == 401
        r = requests.post(f"{url}/predict", json=CAR, headers=API_HEADERS, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers[SOURCE_HEADER] == "registry"
        assert r.headers[VERSION_HEADER] == promoted_model["version"]
        assert r.json()["predictions"][0]["price_dh"] > 0
        assert requests.post(f"{url}/predict", json={**CAR, "year": 1800},
                             headers=API_HEADERS, timeout=30).status_code == 422
        assert "/predict" in requests.get(f"{url}/openapi.json", timeout=10).json()["paths"]
    finally:
        proc.terminate()
        proc.wait(30)
    text = log_file.read_text()
    assert f"serving car-price v{promoted_model['version']} from registry" in text
    assert "prediction log off" in text


class Outage:
    """A TCP relay in front of the MLflow server: ``cut()`` closes it and every connection
    through it (connections refused at the same URL, pooled ones dead, as when the MLflow
    container stops); ``restore()`` listens again on the same port."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.target = (parts.hostname, parts.port)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        assert self._server is not None
        for sock in (self._server, *self._conns):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
            sock.close()
        self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def test_registry_is_served_again_within_the_ttl_after_mlflow_returns(api_env, promoted_model,
                                                                      mlflow_server):
    """Issue 17: x-model-source stayed `export` after MLflow came back, same version."""
    outage = Outage(mlflow_server)
    api_env.setenv("MLFLOW_TRACKING_URI", outage.uri)
    client = started(create_app())
    try:
        assert predict(client).headers[SOURCE_HEADER] == "registry"
        outage.cut()
        wait_for_header(client, SOURCE_HEADER, "export", timeout=TTL + 60)
        time.sleep(TTL * 2)  # a few failed alias checks
        outage.restore()  # MLflow is back
        delay = wait_for_header(client, SOURCE_HEADER, "registry", timeout=TTL + 60)
        print(f"registry served again {delay:.1f} s after MLflow returned (TTL {TTL:g} s)")
        assert delay <= TTL + 10
        r = predict(client)
        assert r.headers[VERSION_HEADER] == promoted_model["version"]
        info = client.get("/model").json()
        assert info["source"] == "registry" and info["problem"] is None
    finally:
        client.__exit__(None, None, None)


def test_started_during_an_outage_serves_the_registry_once_mlflow_is_reachable(
        api_env, promoted_model, mlflow_server):
    outage = Outage(mlflow_server)
    outage.cut()
    api_env.setenv("MLFLOW_TRACKING_URI", outage.uri)
    client = started(create_app())
    try:
        assert predict(client).headers[SOURCE_HEADER] == "export"
        exported = client.app.state.served.peek().model
        outage.restore()
        delay = wait_for_header(client, SOURCE_HEADER, "registry", timeout=TTL + 60)
        assert delay <= TTL + 10
        assert predict(client).headers[VERSION_HEADER] == promoted_model["version"]
        # the export is the production version's signed content: not downloaded again
        assert client.app.state.served.peek().model is exported
        assert (f'carprice_api_model{{model_name="car-price",source="registry",'
                f'version="{promoted_model["version"]}"}} 1.0') in client.get("/metrics").text
    finally:
        client.__exit__(None, None, None)
