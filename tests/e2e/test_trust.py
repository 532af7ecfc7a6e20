"""Production only through the gate, on the running stack: which secrets each serving
container holds, what the trainer and reader accounts are refused, and a version aliased
by hand (what a leaked password allows) refused by the API, which keeps serving the model
the gate approved and says why on /ready. Runs after test_day2.py (production exists)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from stack_client import read_env_file  # scripts/ is on sys.path (tests/e2e/conftest.py)

from carprice.model import pyfunc
from carprice.registry import PRODUCTION_ALIAS
from tests.e2e.conftest import compose, log

pytestmark = pytest.mark.e2e


def settings(stack_env) -> dict[str, str]:
    return read_env_file(Path(stack_env["CARPRICE_ENV_FILE"]))


def account(stack_env, role: str) -> tuple[str, str]:
    """(user, password) of an MLflow account in .env (role: TRAINER, PROMOTER, READER)."""
    found = settings(stack_env)
    return (found.get(f"MLFLOW_{role}_USER") or f"carprice-{role.lower()}",
            found[f"MLFLOW_{role}_PASSWORD"])


def ready(stack) -> dict:
    return requests.get(f"{stack.api_url}/ready", timeout=30).json()


def test_serving_containers_hold_no_promoter_password_and_no_signing_key(stack_env):
    found = settings(stack_env)
    secret = {name: found[name] for name in ("MLFLOW_PROMOTER_PASSWORD", "CARPRICE_SIGNING_KEY")}
    for service in ("api", "streamlit"):
        out = compose(stack_env, "exec", "-T", service, "env")
        assert out.returncode == 0, out.stderr[-500:]
        held = [name for name, value in secret.items() if value in out.stdout]
        assert not held, f"{service} holds {held}"
        assert found["CARPRICE_SIGNING_PUBLIC_KEY"] in out.stdout, service


def test_the_trainer_cannot_move_an_alias_and_the_reader_cannot_create(stack, stack_env):
    version = stack.alias_version()
    assert version, "no production version"
    moved = requests.post(f"{stack.mlflow}/api/2.0/mlflow/registered-models/alias",
                          json={"name": stack.model_name, "alias": PRODUCTION_ALIAS,
                                "version": version},
                          auth=account(stack_env, "TRAINER"), timeout=30)
    assert moved.status_code == 403, moved.text[:200]
    reader = account(stack_env, "READER")
    for path, body in (("registered-models/create", {"name": "claimed-by-the-reader"}),
                       ("experiments/create", {"name": "made-by-the-reader"})):
        made = requests.post(f"{stack.mlflow}/api/2.0/mlflow/{path}", json=body, auth=reader,
                             timeout=30)
        assert made.status_code == 403, (path, made.status_code, made.text[:200])
    read = requests.get(f"{stack.mlflow}/api/2.0/mlflow/registered-models/alias",
                        params={"name": stack.model_name, "alias": PRODUCTION_ALIAS},
                        auth=reader, timeout=30)
    assert read.status_code == 200, read.text[:200]


def test_a_version_aliased_by_hand_is_refused_and_the_gate_model_keeps_serving(stack):
    good = stack.alias_version()
    api = f"{stack.api_url}"
    deadline = time.monotonic() + 90
    while str(ready(stack).get("version")) != str(good) and time.monotonic() < deadline:
        time.sleep(2)
    assert str(ready(stack).get("version")) == str(good), ready(stack)
    approved = stack.mlflow_api("GET", "/api/2.0/mlflow/model-versions/get",
                                params={"name": stack.model_name, "version": good}
                                ).json()["model_version"]
    # The very files the gate approved, registered again by hand: no promotion signed them.
    source = approved["source"]  # models:/m-<id>, the logged model the gate judged
    made = stack.mlflow_api("POST", "/api/2.0/mlflow/model-versions/create", json={
        "name": stack.model_name, "source": source,
        "model_id": approved.get("model_id") or source.rsplit("/", 1)[-1],
        "run_id": approved.get("run_id", "")})
    assert made.status_code == 200, made.text[:300]
    rogue = made.json()["model_version"]["version"]
    moved = stack.mlflow_api("POST", "/api/2.0/mlflow/registered-models/alias",
                             json={"name": stack.model_name, "alias": PRODUCTION_ALIAS,
                                   "version": rogue})
    assert moved.status_code == 200, moved.text[:300]
    started = time.monotonic()
    try:
        while "problem" not in ready(stack) and time.monotonic() - started < 120:
            time.sleep(2)
        state = ready(stack)
        log(f"hand-aliased v{rogue}: refused after {time.monotonic() - started:.0f} s: "
            f"{state.get('problem')}")
        assert state["ready"] is True and str(state["version"]) == str(good), state
        assert "sign" in state.get("problem", ""), state
        price = requests.post(f"{api}/predict", json=pyfunc.example_car(),
                              headers=stack.api_headers, timeout=30)
        assert price.status_code == 200, price.text[:300]
        assert price.headers["X-Model-Version"] == str(good)
    finally:
        stack.mlflow_api("POST", "/api/2.0/mlflow/registered-models/alias",
                         json={"name": stack.model_name, "alias": PRODUCTION_ALIAS,
                               "version": good})
        stack.mlflow_api("DELETE", "/api/2.0/mlflow/model-versions/delete",
                         json={"name": stack.model_name, "version": rogue})
    assert stack.alias_version() == good
