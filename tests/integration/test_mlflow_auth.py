"""mlflow/start.sh for real (SQLite instead of Postgres): basic auth on, the three accounts
from the environment, anonymous calls refused, the app's account read-only, the stages'
account able to write even where another user created the experiment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port, wait_http

pytestmark = pytest.mark.integration

ACCOUNTS = {"admin": "admin-password-0123", "carprice-stages": "stages-password-0123",
            "carprice-app": "app-password-012345"}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-auth")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_SERVER_ALLOWED_HOSTS": f"127.0.0.1:{port},localhost:{port}",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key-0123456789",
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": ACCOUNTS["admin"],
        "MLFLOW_STAGE_USER": "carprice-stages",
        "MLFLOW_STAGE_PASSWORD": ACCOUNTS["carprice-stages"],
        "MLFLOW_APP_USER": "carprice-app", "MLFLOW_APP_PASSWORD": ACCOUNTS["carprice-app"],
        "MLFLOW_LISTEN_HOST": "127.0.0.1", "MLFLOW_LISTEN_PORT": str(port),
        "MLFLOW_ARTIFACTS_DIR": str(root / "artifacts"),
        "CARPRICE_ACCOUNTS_SCRIPT": str(REPO / "mlflow" / "accounts.py"),
    }
    proc = subprocess.Popen(["sh", str(REPO / "mlflow" / "start.sh")], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", timeout=180, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=30)
        assert not any(p in out for p in ACCOUNTS.values()), "a password reached the log"


def call(url: str, path: str, user: str | None = None, **json):
    auth = (user, ACCOUNTS[user]) if user else None
    return requests.post(f"{url}/api/2.0/mlflow/{path}", json=json, auth=auth, timeout=30)


def test_anonymous_calls_are_refused_and_health_is_open(auth_server):
    assert call(auth_server, "experiments/create", name="anon").status_code == 401
    assert requests.get(f"{auth_server}/health", timeout=30).status_code == 200


def test_stages_write_app_reads_only(auth_server):
    created = call(auth_server, "experiments/create", "admin", name="made-by-admin")
    assert created.status_code == 200, created.text
    exp = created.json()["experiment_id"]
    run = call(auth_server, "runs/create", "carprice-stages", experiment_id=exp)
    assert run.status_code == 200, run.text
    model = call(auth_server, "registered-models/create", "carprice-stages", name="m")
    assert model.status_code == 200, model.text
    # The app's account reads everything and changes nothing.
    got = requests.get(f"{auth_server}/api/2.0/mlflow/registered-models/get",
                       params={"name": "m"}, auth=("carprice-app", ACCOUNTS["carprice-app"]),
                       timeout=30)
    assert got.status_code == 200
    assert call(auth_server, "runs/create", "carprice-app", experiment_id=exp).status_code == 403
    renamed = call(auth_server, "registered-models/update", "carprice-app", name="m",
                   description="hijacked")
    assert renamed.status_code == 403
