"""Shared test helpers and real parts: an `mlflow server` process on a free loopback
port (SQLite backend, proxied artifacts) and a workspace running the stages as processes.
Session-scoped, so unit, integration and browser tests share one server and one pipeline run."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
# The API key of this test session (carprice.api.guard), as the stack's .env has API_KEY:
# in the environment (api_key fixture), sent by every API call of the tests.
API_KEY = secrets.token_hex(16)
API_HEADERS = {"X-API-Key": API_KEY}  # carprice.api.guard.API_KEY_HEADER (not imported
# here: the Airflow test venv shares this file and has no `limits`)


@pytest.fixture(scope="session", autouse=True)
def signing_keys():
    """The session's model-signing pair, in the environment as the stack's .env has it:
    the stages (processes started with this environment) sign promoted versions with the
    private key, serving verifies with the public one. (private, public) as hex."""
    from carprice.config import settings
    from carprice.registry.signing import new_key_pair

    pair = new_key_pair()
    names = (settings.ENV_SIGNING_KEY, settings.ENV_SIGNING_PUBLIC_KEY)
    old = {name: os.environ.get(name) for name in names}
    os.environ.update(zip(names, pair, strict=True))
    yield pair
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def api_key():
    """CARPRICE_API_KEY for every app the tests create or start, and a rate limit no test
    reaches by accident (tests/unit/test_api_guard.py sets its own)."""
    from carprice.config import settings

    names = {settings.ENV_API_KEY: API_KEY, settings.ENV_API_RATE_LIMIT: "100000/second"}
    old = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    yield API_KEY
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with params.yaml, as a user's checkout would have; cwd moves there."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    for var in ("CARPRICE_PARAMS_JSON", "CARPRICE_PARAMS_FILE", "CARPRICE_RUN_ID",
                "CARPRICE_DATA_DIR", "CARPRICE_MODELS_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def webhook():
    """(Apprise json:// URL of a real local HTTP server, the JSON bodies it received)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """URI of a running MLflow server; MLFLOW_TRACKING_URI points at it for the session."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", 120, proc)
    except Exception:
        proc.kill()
        print((root / "server.log").read_text()[-3000:])
        raise
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


class Workspace:
    """A user's working folder: params.yaml, data/, models/; runs stages as processes."""

    def __init__(self, root: Path, tracking_uri: str):
        self.root = root
        self.data_dir = root / "data"
        self.models_dir = root / "models"
        shutil.copy(REPO / "params.yaml", root / "params.yaml")
        self.env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
                    "CARPRICE_DATA_DIR": str(self.data_dir),
                    "CARPRICE_MODELS_DIR": str(self.models_dir), "OMP_NUM_THREADS": "1"}
        self.env.pop("CARPRICE_PARAMS_JSON", None)

    def _run(self, stage: str, run_id: str, sets: tuple[str, ...], candidate: str = ""):
        args = [sys.executable, "-m", "carprice.pipeline", stage, "--run-id", run_id,
                *(["--candidate", candidate] if candidate else [])]
        for item in sets:
            args += ["--set", item]
        return subprocess.run(args, cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=600)

    def stage(self, stage: str, run_id: str, *sets: str,
              candidate: str = "") -> tuple[int, dict, str]:
        """(exit code, last-line JSON summary, stderr) of one stage process, as the DAG runs it
        (a mapped stage's: of one candidate)."""
        proc = self._run(stage, run_id, sets, candidate)
        lines = proc.stdout.strip().splitlines()
        return proc.returncode, json.loads(lines[-1]) if lines else {}, proc.stderr

    def stages(self, stage: str, run_id: str, *sets: str) -> list[tuple[int, dict, str]]:
        """``stage`` as the DAG runs it: a mapped stage once per candidate of params.yaml."""
        from carprice.config.params import load_params
        from carprice.pipeline.definition import MAPPED_STAGES

        if stage not in MAPPED_STAGES:
            return [self.stage(stage, run_id, *sets)]
        names = load_params(self.root / "params.yaml")["candidates"]
        return [self.stage(stage, run_id, *sets, candidate=name) for name in names]

    def pipeline(self, run_id: str, *sets: str) -> dict[str, tuple[dict, str]]:
        """Every stage in one process (`carprice run`): stage -> (summary, stderr); a mapped
        stage's candidates as stage@candidate (dvc.yaml's names)."""
        proc = subprocess.run(
            [sys.executable, "-m", "carprice.cli", "run", "--run-id", run_id,
             *[a for item in sets for a in ("--set", item)]],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=900)
        summaries = [json.loads(line) for line in proc.stdout.splitlines()
                     if line.startswith('{"stage"')]
        return {"@".join(filter(None, (s["stage"], s.get("candidate")))): (s, proc.stderr)
                for s in summaries}


SMALL = ("data.rows=4000", "split.seed=7")


@pytest.fixture(scope="session")
def workspace(mlflow_server, tmp_path_factory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("work"), mlflow_server)


@pytest.fixture(scope="session")
def promoted_model(workspace) -> dict:
    """The pipeline run once on synthetic data, ending with a production version."""
    results = workspace.pipeline("it-first", *SMALL)
    assert results["report"][0].get("outcome") == "promoted", results
    version = results["promote_production"][0]["model_version"]
    return {"model_name": "car-price", "version": version, "workdir": workspace.root,
            "models_dir": workspace.models_dir, "workspace": workspace, "results": results}


@pytest.fixture
def api_env(monkeypatch):
    """The API's environment without MLflow or a prediction log, and the MLflow client
    settings the API sets itself (undone after the test); set CARPRICE_MODELS_DIR on it."""
    from carprice.config import settings
    from carprice.registry import mlflow_server

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(settings.ENV_MODEL_NAME, raising=False)
    monkeypatch.delenv(settings.ENV_PREDLOG_DSN, raising=False)
    for key, value in mlflow_server.CLIENT_ENV_DEFAULTS.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    """A models folder holding a small exported production model (version 7)."""
    from tests.unit.app_model import export_small_model

    models_dir = tmp_path_factory.mktemp("models")
    export_small_model(models_dir, version="7")
    return models_dir


def register_copy(client, name: str, source, run_label: str) -> str:
    """A new version of ``name`` with the files and tags of ``source`` (a ModelVersion),
    as if pipeline run ``run_label`` had trained and promoted it (signed with the
    session's key: a signature binds one name and version)."""
    import mlflow

    from carprice.registry import signing

    mv = mlflow.register_model(source.source, name)
    for key, value in {**source.tags, "pipeline_run_id": run_label}.items():
        client.set_model_version_tag(name, mv.version, key, value)
    signing.sign_version(client, name, str(mv.version))
    return str(mv.version)
