"""The whole Docker stack, as a user drives it: start -> MLflow refuses anonymous writes ->
trigger the DAG through the REST API -> production alias -> an unchanged second run is
skipped -> a prediction in Streamlit through Chromium. (Stop/start/reset: test_restart.py.)
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from carprice.pipeline import definition
from tests.e2e.browser import browser_available, predict_in_browser
from tests.e2e.conftest import (
    CANDIDATES,
    PORTS,
    REPO,
    compose,
    log,
    run_pipeline,
    stage_containers,
    stage_states,
)

pytestmark = pytest.mark.e2e


def test_first_start_keeps_the_ports_and_writes_private_settings(stack, stack_env):
    assert stack.airflow.endswith(f":{PORTS['AIRFLOW_PORT']}")
    settings = Path(stack_env["CARPRICE_ENV_FILE"])
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    # No secret on any container's command line (what `ps` shows).
    secrets = [line.split("=", 1)[1] for line in settings.read_text().splitlines()
               if "PASSWORD=" in line or "SECRET" in line.split("=", 1)[0]]
    assert secrets and all(len(s) >= 16 for s in secrets)
    # -ww: whole lines (ps cuts them to $COLUMNS otherwise, and a URL's password with them)
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True,
                        check=True).stdout
    leaked = [s[:4] + "..." for s in secrets if s in ps]
    assert not leaked, f"secrets visible in ps: {leaked}"


def test_mlflow_refuses_anonymous_calls_but_answers_health(stack):
    body = {"name": "intruder-model"}
    anon = requests.post(f"{stack.mlflow}/api/2.0/mlflow/registered-models/create", json=body,
                         timeout=30)
    assert anon.status_code == 401, anon.text[:200]
    assert requests.get(f"{stack.mlflow}/health", timeout=30).status_code == 200
    listed = stack.mlflow_api("GET", "/api/2.0/mlflow/registered-models/search")
    assert listed.status_code == 200
    assert "intruder-model" not in listed.text


def test_first_run_trains_and_promotes(stack, stack_env, facts):
    _, states, seconds = run_pipeline(stack, stack_env)
    assert all(state == "success" for stage in definition.STAGES
               for state in stage_states(states, stage)), states
    # the grid names each mapped train by its candidate (map_index_template)
    assert {f"train[{name}]" for name in CANDIDATES} <= set(states), states
    version = stack.alias_version("production")
    assert version, "no production alias after a green run"
    log(f"production alias -> version {version} ({seconds:.0f} s)")
    facts["version"] = version


def test_unchanged_data_is_skipped_visibly(stack, stack_env, facts):
    # Same data, same params, not forced: ingest exits SKIP_EXIT_CODE -> a visible skip.
    _, states, _ = run_pipeline(stack, stack_env)
    assert states["ingest"] == "skipped", states
    assert stage_states(states, "train") == ["skipped"] * len(CANDIDATES), states
    assert states["evaluate"] == "skipped", states  # all_done_min_one_success: all skipped
    assert states["report"] == "success", states
    assert stack.alias_version("production") == facts["version"]


def test_streamlit_prices_a_car_in_chromium(stack):
    health = requests.get(f"{stack.streamlit}/_stcore/health", timeout=20)
    assert (health.status_code, health.text.strip()) == (200, "ok")
    page = requests.get(stack.streamlit + "/", timeout=20)
    assert page.status_code == 200 and '<div id="root">' in page.text.replace("'", '"')
    reason = browser_available()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser check cannot run: {reason}")
        pytest.skip(reason)
    shot = REPO / "tests" / "artifacts" / "e2e-stack-app.png"
    price = predict_in_browser(stack.streamlit, shot)
    log(f"prediction in Chromium: {price} (screenshot {shot})")
    assert "DH" in price


def test_stage_containers_are_gone_after_green_runs(stack_env):
    assert stage_containers(stack_env) == [], compose(stack_env, "ps", "-a").stdout
