"""mlflow/start.sh for real (SQLite instead of Postgres): basic auth on, the four accounts
from the environment, and least privilege proved call by call against the real server:
anonymous refused; the trainer logs runs and candidate models but cannot register a version
nor move an alias; the promoter owns the served model (created at start) and registers and
aliases; the reader reads the served model and creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port, wait_http

pytestmark = pytest.mark.integration

MODEL = "car-price-auth"  # CARPRICE_MODEL_NAME: the served model, made by accounts.py
ACCOUNTS = {"admin": "admin-password-0123", "trainer": "trainer-password-0123",
            "promoter": "promoter-password-0123", "reader": "reader-password-01234"}


def start_env(root: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_SERVER_ALLOWED_HOSTS": f"127.0.0.1:{port},localhost:{port}",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key-0123456789",
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": ACCOUNTS["admin"],
        **{f"MLFLOW_{role.upper()}_USER": role for role in ("trainer", "promoter", "reader")},
        **{f"MLFLOW_{role.upper()}_PASSWORD": ACCOUNTS[role]
           for role in ("trainer", "promoter", "reader")},
        "CARPRICE_MODEL_NAME": MODEL,
        "MLFLOW_LISTEN_HOST": "127.0.0.1", "MLFLOW_LISTEN_PORT": str(port),
        "MLFLOW_ARTIFACTS_DIR": str(root / "artifacts"),
        "CARPRICE_ACCOUNTS_SCRIPT": str(REPO / "mlflow" / "accounts.py"),
        **extra,
    }


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-auth")
    port = free_port()
    proc = subprocess.Popen(["sh", str(REPO / "mlflow" / "start.sh")],
                            env=start_env(root, port), cwd=root,
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


def call(url: str, path: str, user: str | None = None, method: str = "POST", **json):
    auth = (user, ACCOUNTS[user]) if user else None
    return requests.request(method, f"{url}/api/2.0/mlflow/{path}", json=json, auth=auth,
                            timeout=30)


def get(url: str, path: str, user: str | None = None, **params):
    auth = (user, ACCOUNTS[user]) if user else None
    return requests.get(f"{url}/api/2.0/mlflow/{path}", params=params, auth=auth, timeout=30)


@pytest.fixture
def as_user(monkeypatch, auth_server):
    """Sign the in-process MLflow client in as one of the accounts."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", auth_server)
    mlflow.set_tracking_uri(auth_server)

    def sign_in(user: str):
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ACCOUNTS[user])
        return mlflow.MlflowClient(auth_server)

    yield sign_in
    mlflow.set_tracking_uri(None)


def log_candidate(experiment: str) -> tuple[str, str]:
    """(logged model URI, run id): what train leaves for promote_staging."""
    import mlflow
    import mlflow.pyfunc

    class Model(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    # Not mlflow.set_experiment: it would stay active (and in MLFLOW_EXPERIMENT_ID) for the
    # rest of the test session.
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    with mlflow.start_run(experiment_id=exp_id) as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=Model())
    return info.model_uri, run.info.run_id


def test_anonymous_calls_are_refused_and_health_is_open(auth_server):
    assert call(auth_server, "experiments/create", name="anon").status_code == 401
    assert get(auth_server, "registered-models/get", name=MODEL).status_code == 401
    assert requests.get(f"{auth_server}/health", timeout=30).status_code == 200


def test_the_served_model_exists_at_start_owned_by_the_promoter(auth_server):
    assert get(auth_server, "registered-models/get", "reader", name=MODEL).status_code == 200
    # Nobody else can claim the name, nor change the model.
    for user in ("trainer", "reader"):
        assert call(auth_server, "registered-models/create", user,
                    name=MODEL).status_code in (400, 403), user
        assert call(auth_server, "registered-models/update", user, "PATCH", name=MODEL,
                    description="hijacked").status_code == 403, user
    updated = call(auth_server, "registered-models/update", "promoter", "PATCH", name=MODEL,
                   description="served by the app and the API")
    assert updated.status_code == 200, updated.text


def test_the_reader_reads_the_served_model_and_creates_nothing(auth_server):
    assert get(auth_server, "registered-models/get", "reader", name=MODEL).status_code == 200
    for path, body in (("experiments/create", {"name": "reader-experiment"}),
                       ("registered-models/create", {"name": "reader-model"})):
        refused = call(auth_server, path, "reader", **body)
        assert refused.status_code == 403, (path, refused.text)
    exp = call(auth_server, "experiments/create", "trainer", name="made-by-trainer")
    assert exp.status_code == 200, exp.text
    runs = call(auth_server, "runs/create", "reader",
                experiment_id=exp.json()["experiment_id"])
    assert runs.status_code == 403


def test_trainer_logs_the_candidate_and_only_the_promoter_registers_and_aliases(as_user):
    import mlflow
    from mlflow.exceptions import MlflowException

    trainer = as_user("trainer")
    model_uri, run_id = log_candidate("pipeline-auth")
    assert trainer.get_run(run_id).info.status == "FINISHED"
    # The trainer cannot register a version of the served model, nor move its alias.
    with pytest.raises(MlflowException, match="Permission denied|403"):
        mlflow.register_model(model_uri, MODEL)
    assert not trainer.search_model_versions(f"name = '{MODEL}'")

    promoter = as_user("promoter")
    version = mlflow.register_model(model_uri, MODEL, tags={"gate_decision": "passed"}).version
    promoter.set_registered_model_alias(MODEL, "staging", str(version))
    promoter.set_model_version_tag(MODEL, str(version), "smoke_check", "passed")
    promoter.set_registered_model_alias(MODEL, "production", str(version))

    trainer = as_user("trainer")
    for refused in (lambda: trainer.set_registered_model_alias(MODEL, "production", version),
                    lambda: trainer.set_model_version_tag(MODEL, version, "gate_decision", "x"),
                    lambda: trainer.delete_registered_model_alias(MODEL, "production")):
        with pytest.raises(MlflowException, match="Permission denied|403"):
            refused()
    # ...but it reads production, as evaluate does to compare the candidate with it.
    assert str(trainer.get_model_version_by_alias(MODEL, "production").version) == str(version)

    # The reader loads what production points at, and changes nothing.
    reader = as_user("reader")
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@production")
    assert model_uri == f"models:/{loaded.metadata.model_id}"
    with pytest.raises(MlflowException, match="Permission denied|403"):
        reader.set_registered_model_alias(MODEL, "production", version)
    with pytest.raises(MlflowException, match="Permission denied|403"):
        mlflow.register_model(model_uri, MODEL)


def test_the_reader_sees_no_other_registered_model(auth_server):
    made = call(auth_server, "registered-models/create", "promoter", name="not-served")
    assert made.status_code == 200, made.text
    assert get(auth_server, "registered-models/get", "reader",
               name="not-served").status_code == 403


def test_accounts_are_idempotent_and_retire_the_old_all_powerful_account(tmp_path):
    """accounts.py on every start: an install of an earlier version had one stages account
    with MANAGE on everything; it is deleted, and a second start changes nothing."""
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    env = start_env(tmp_path, free_port())
    uri = env["MLFLOW_BACKEND_STORE_URI"]
    subprocess.run(["mlflow", "db", "upgrade", uri], env=env, check=True, capture_output=True)
    store = SqlAlchemyStore()
    store.init_db(uri)
    store.create_user("carprice-stages", "old-stages-password-0123")
    store.grant_user_permission("carprice-stages", "registered_model", "*", "MANAGE")
    script = [sys.executable, str(REPO / "mlflow" / "accounts.py")]
    for start in (1, 2):
        done = subprocess.run(script, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert ("carprice-stages" in done.stdout) == (start == 1), done.stdout
        assert (f"registered model {MODEL} created" in done.stdout) == (start == 1)
    assert not store.has_user("carprice-stages")
    assert {u.username for u in store.list_users()} == set(ACCOUNTS)
    # One user per role: the reader must not be the promoter under another variable.
    same = {**env, "MLFLOW_READER_USER": "promoter"}
    refused = subprocess.run(script, env=same, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "four different users" in refused.stderr



def test_metrics_need_the_admin(auth_server):
    """--expose-prometheus: /metrics is behind the basic auth, and MLflow's fail-closed
    authorization lets only an administrator read it (no validator grants the route), so
    Prometheus scrapes it as the admin; the request counters of the calls above are there."""
    assert requests.get(f"{auth_server}/metrics", timeout=30).status_code == 401
    assert requests.get(f"{auth_server}/metrics", auth=("reader", ACCOUNTS["reader"]),
                        timeout=30).status_code == 403
    resp = requests.get(f"{auth_server}/metrics", auth=("admin", ACCOUNTS["admin"]), timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    assert "mlflow_http_request_total" in resp.text, resp.text[:500]
