"""One running stack for every e2e scenario: started once per session as its own Compose
project (CARPRICE_E2E_PROJECT, own ports and settings file), so it never touches a stack
already running, and wiped at the end. Started by tests/e2e/run.sh (CARPRICE_E2E=1), which
first provides an engine and base images; without a reachable Docker engine the e2e skips,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "src")]

from stack_client import Stack  # noqa: E402

from carprice.config.params import load_params  # noqa: E402
from carprice.pipeline.definition import DAG_ID, MAPPED_STAGES  # noqa: E402
from carprice.registry import export, tags  # noqa: E402

PROJECT = os.environ.get("CARPRICE_E2E_PROJECT", "carprice-e2e")
PORTS = {
    "AIRFLOW_PORT": os.environ.get("CARPRICE_E2E_AIRFLOW_PORT", "18080"),
    "MLFLOW_PORT": os.environ.get("CARPRICE_E2E_MLFLOW_PORT", "15000"),
    "STREAMLIT_PORT": os.environ.get("CARPRICE_E2E_STREAMLIT_PORT", "18501"),
    "API_PORT": os.environ.get("CARPRICE_E2E_API_PORT", "18000"),
    # the HTTPS proxy (tests/e2e/test_proxy.py), on loopback only here
    "PROXY_STREAMLIT_PORT": os.environ.get("CARPRICE_E2E_PROXY_STREAMLIT_PORT", "18443"),
    "PROXY_AIRFLOW_PORT": os.environ.get("CARPRICE_E2E_PROXY_AIRFLOW_PORT", "18444"),
    "PROXY_MLFLOW_PORT": os.environ.get("CARPRICE_E2E_PROXY_MLFLOW_PORT", "18445"),
    "PROXY_API_PORT": os.environ.get("CARPRICE_E2E_PROXY_API_PORT", "18446"),
    "PROMETHEUS_PORT": os.environ.get("CARPRICE_E2E_PROMETHEUS_PORT", "19090"),
}
# Alerts and the pipeline's notifications go to a test webhook on the stack network
# (tests/e2e/webhook_receiver.py, started by test_alerts.py; Apprise's json:// URL).
WEBHOOK_ALIAS, WEBHOOK_PORT = "alert-webhook", 8099
NOTIFY_URL = f"json://{WEBHOOK_ALIAS}:{WEBHOOK_PORT}/hook"
# train runs once per candidate: its task instances are train[<candidate>] (task_key)
CANDIDATES = list(load_params(REPO / "params.yaml")["candidates"])
START_TIMEOUT = 1800  # first build of every image on a 2-core machine included
DAG_TIMEOUT = 900


def log(msg: str) -> None:
    print(f"[e2e] {msg}", flush=True)


def engine_reachable() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


def script(env: dict, name: str, *args: str, timeout: float, check: bool = True) -> float:
    """Run a stack script with live output; returns its wall time."""
    log(f"$ ./{name} {' '.join(args)}")
    started = time.monotonic()
    proc = subprocess.run([str(REPO / name), *args], cwd=REPO, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - started
    if check and proc.returncode != 0:
        dump_stack(env)
        pytest.fail(f"./{name} {' '.join(args)} exited {proc.returncode}")
    log(f"./{name} took {elapsed:.0f} s")
    return elapsed


def compose(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "compose", "-f", str(REPO / "docker-compose-full.yml"),
         "--env-file", env["CARPRICE_ENV_FILE"], "-p", PROJECT, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def dump_stack(env: dict) -> None:
    print(compose(env, "ps", "-a").stdout, flush=True)
    print(compose(env, "logs", "--no-color", "--tail", "30").stdout[-20000:], flush=True)


def run_pipeline(stack: Stack, env: dict, conf: dict | None = None, expect: str = "success",
                 dag_id: str = DAG_ID) -> tuple[str, dict[str, str], float]:
    """Trigger with the form's defaults plus ``conf``; wait; (run id, task states, seconds)."""
    run_id = start_run(stack, conf, dag_id)
    return run_id, *wait_for(stack, env, run_id, expect, dag_id)


def start_run(stack: Stack, conf: dict | None = None, dag_id: str = DAG_ID) -> str:
    stack.wait_for_dag(dag_id=dag_id)
    stack.unpause(dag_id)
    run_id = stack.trigger(conf, dag_id)
    log(f"triggered {dag_id} {run_id} {conf or ''}")
    return run_id


def wait_for(stack: Stack, env: dict, run_id: str, expect: str = "success",
             dag_id: str = DAG_ID) -> tuple[dict[str, str], float]:
    """Wait for a run to finish as ``expect``: (task states, seconds waited)."""
    started = time.monotonic()
    try:
        state = stack.wait_run(run_id, timeout=DAG_TIMEOUT, progress=log, dag_id=dag_id)
    except TimeoutError:
        print(stack.failed_task_logs(run_id, dag_id), flush=True)
        dump_stack(env)
        raise
    elapsed = time.monotonic() - started
    log(f"run {run_id}: {state} in {elapsed:.0f} s")
    if state != expect:
        print(stack.failed_task_logs(run_id, dag_id), flush=True)
        pytest.fail(f"{dag_id} run {run_id} ended {state}, expected {expect}: "
                    f"{stack.task_states(run_id, dag_id)}")
    return stack.task_states(run_id, dag_id), elapsed


def stage_states(states: dict[str, str], stage: str) -> list[str]:
    """The states of ``stage``'s task instances: a mapped stage's, one per candidate.
    A mapped instance that never ran has no rendered name (``train[0]``), one that ran is
    named by its candidate (``train[ridge]``): both are counted, by key prefix."""
    if stage in MAPPED_STAGES:
        found = [state for key, state in states.items() if key.startswith(f"{stage}[")]
        assert len(found) == len(CANDIDATES), (stage, states)
        return found
    return [states[stage]]


def wait_task(stack, run_id: str, task: str, state: str = "running", timeout: float = 600,
              min_try: int = 1) -> float:
    """Wait until ``task`` of the run is in ``state`` (at try >= min_try): monotonic time.
    A mapped task (train): until one of its candidates is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ti in stack.task_instances(run_id):
            if ti["task_id"] == task and ti["state"] == state and ti["try_number"] >= min_try:
                return time.monotonic()
        time.sleep(1)
    pytest.fail(f"{task} never reached {state} (try >= {min_try}): "
                f"{stack.task_states(run_id)}")


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory):
    if os.environ.get("CARPRICE_E2E") != "1":
        pytest.skip("full-stack e2e: run tests/e2e/run.sh")
    if not engine_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Docker engine is reachable for the e2e")
        pytest.skip("no Docker engine reachable")
    env_file = tmp_path_factory.mktemp("e2e") / "e2e.env"
    env = {
        **os.environ,
        **PORTS,
        "COMPOSE_PROJECT_NAME": PROJECT,
        "CARPRICE_ENV_FILE": str(env_file),
        # Manual triggers only: a schedule would start its own run on unpause.
        "CARPRICE_SCHEDULE": "none",
        "CARPRICE_MAINTENANCE_SCHEDULE": "none",
        "PROXY_BIND_ADDRESS": "127.0.0.1",
        "HEALTH_TIMEOUT": os.environ.get("HEALTH_TIMEOUT", "600"),
        # the optional parts run too: Prometheus & co. (test_alerts, test_dashboards) and
        # the HTTPS proxy (test_proxy), here on loopback
        "COMPOSE_PROFILES": "monitoring,proxy",
        "CARPRICE_NOTIFY_URLS": NOTIFY_URL,
    }
    # Leftovers of an interrupted run would keep old database passwords: start from zero.
    script(env, "docker-reset-full.sh", "--yes", "--no-start", timeout=600)
    yield env
    log("cleanup: wiping the e2e project")
    script(env, "docker-reset-full.sh", "--yes", "--no-start", timeout=600, check=False)
    subprocess.run(["docker", "image", "prune", "-f"], capture_output=True, check=False)


@pytest.fixture(scope="session")
def stack(stack_env) -> Stack:
    """The e2e stack, started once (fresh settings file, every image built)."""
    script(stack_env, "docker-start-full.sh", timeout=START_TIMEOUT)
    return Stack(env_file=stack_env["CARPRICE_ENV_FILE"])


@pytest.fixture(scope="session")
def facts() -> dict:
    """What one scenario learned and a later one checks (e.g. the production version)."""
    return {}


def psql(env: dict, database: str, sql: str) -> str:
    """One value from the stack's Postgres (as its superuser, inside the container)."""
    out = compose(env, "exec", "-T", "postgres", "psql", "-U", "postgres", "-d", database,
                  "-tAc", sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def stage_containers(env: dict) -> list[str]:
    return subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=io.carprice.project={env['COMPOSE_PROJECT_NAME']}"],
                          capture_output=True, text=True, check=True).stdout.split()


def pending_versions(stack: Stack) -> list[str]:
    resp = stack.mlflow_api("GET", "/api/2.0/mlflow/model-versions/search",
                            params={"filter": f"name='{stack.model_name}'"})
    resp.raise_for_status()
    return [v["version"] for v in resp.json().get("model_versions", [])
            if {t["key"]: t["value"] for t in v.get("tags", [])}.get("gate_decision")
            == "pending"]


def model_versions(stack: Stack) -> list[dict]:
    """Every registered version of the model: {"version": str, "tags": {key: value}}."""
    resp = stack.mlflow_api("GET", "/api/2.0/mlflow/model-versions/search",
                            params={"filter": f"name='{stack.model_name}'"})
    resp.raise_for_status()
    return [{"version": str(v["version"]),
             "tags": {t["key"]: t["value"] for t in v.get("tags", [])}}
            for v in resp.json().get("model_versions", [])]


def version_tags(stack: Stack, version: str) -> dict[str, str]:
    """The tags of one registered version."""
    resp = stack.mlflow_api("GET", "/api/2.0/mlflow/model-versions/get",
                            params={"name": stack.model_name, "version": str(version)})
    resp.raise_for_status()
    return {t["key"]: t["value"] for t in resp.json()["model_version"].get("tags", [])}


def promoted_by(stack: Stack, run_id: str) -> str:
    """The version a training run registered and the gate passed (its one candidate: an
    earlier try of train leaves a superseded version, never a second passed one)."""
    passed = [v["version"] for v in model_versions(stack)
              if v["tags"].get(tags.PIPELINE_RUN_ID) == run_id
              and v["tags"].get(tags.GATE_DECISION) == "passed"]
    assert len(passed) == 1, f"run {run_id}: versions passed by the gate: {passed}"
    return passed[0]


def export_meta(env: dict) -> dict:
    """meta.json of the exported production copy on the models volume (what the API and the
    app serve when MLflow is down), read inside the streamlit container that mounts it."""
    path = f"/app/models/{export.EXPORT_DIRNAME}/{export.EXPORT_META}"
    out = compose(env, "exec", "-T", "streamlit", "cat", path)
    assert out.returncode == 0, f"cannot read {path}: {out.stderr[-500:]}"
    return json.loads(out.stdout)
