"""One running stack for every e2e scenario: started once per session as its own Compose
project (CARPRICE_E2E_PROJECT, own ports and settings file), so it never touches a stack
already running, and wiped at the end. Started by tests/e2e/run.sh (CARPRICE_E2E=1), which
first provides an engine and base images; without a reachable Docker engine the e2e skips,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

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

PROJECT = os.environ.get("CARPRICE_E2E_PROJECT", "carprice-e2e")
PORTS = {
    "AIRFLOW_PORT": os.environ.get("CARPRICE_E2E_AIRFLOW_PORT", "18080"),
    "MLFLOW_PORT": os.environ.get("CARPRICE_E2E_MLFLOW_PORT", "15000"),
    "STREAMLIT_PORT": os.environ.get("CARPRICE_E2E_STREAMLIT_PORT", "18501"),
}
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


def run_pipeline(stack: Stack, env: dict, conf: dict | None = None,
                 expect: str = "success") -> tuple[str, dict[str, str], float]:
    """Trigger with the form's defaults plus ``conf``; wait; (run id, task states, seconds)."""
    stack.wait_for_dag()
    stack.unpause()
    run_id = stack.trigger(conf)
    log(f"triggered {run_id} {conf or ''}")
    started = time.monotonic()
    try:
        state = stack.wait_run(run_id, timeout=DAG_TIMEOUT, progress=log)
    except TimeoutError:
        print(stack.failed_task_logs(run_id), flush=True)
        dump_stack(env)
        raise
    elapsed = time.monotonic() - started
    log(f"run {run_id}: {state} in {elapsed:.0f} s")
    if state != expect:
        print(stack.failed_task_logs(run_id), flush=True)
        pytest.fail(f"DAG run {run_id} ended {state}, expected {expect}: "
                    f"{stack.task_states(run_id)}")
    return run_id, stack.task_states(run_id), elapsed


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
        "HEALTH_TIMEOUT": os.environ.get("HEALTH_TIMEOUT", "600"),
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
