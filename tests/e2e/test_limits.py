"""Issue 16, limits: one oversized input is handled inside its own limits and no other
service notices. Two cases, each followed by the same checks (no container of the stack
or of its stage containers was OOM-killed; Postgres, MLflow, every Airflow service and
Streamlit keep their container id and StartedAt):

(a) a training run with the largest ``rows`` the trigger form accepts (the cap derived
    from the stage memory limit, carprice.config.limits): it runs to the end within the
    limit, every task on its first try; one row more is refused by the form (HTTP 400,
    no run). The gate is tightened (gate_max_rmse_log) so the candidate is skipped and
    production, which later files check, stays as it was.
(b) a 300 MB file chosen in the app's CSV uploader (a real browser): refused in one line
    by Streamlit's server.maxUploadSize before a byte reaches the app.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from stack_client import read_env_file

from carprice.config import limits
from carprice.pipeline import container
from tests.e2e.browser import browser_available, upload_in_browser
from tests.e2e.conftest import PORTS, compose, log, run_pipeline, stage_states, start_run

pytestmark = pytest.mark.e2e

WATCHED = ("postgres", "mlflow", "airflow-apiserver", "airflow-scheduler",
           "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "streamlit")
ARTIFACTS = Path(__file__).resolve().parents[2] / "tests" / "artifacts"


def inspect(ids: list[str]) -> list[dict]:
    if not ids:
        return []
    out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def services(env: dict) -> dict[str, tuple[str, str]]:
    """service -> (container id, StartedAt) of the watched services."""
    found = {}
    for name in WATCHED:
        ids = compose(env, "ps", "-q", name).stdout.split()
        assert len(ids) == 1, f"{name}: containers {ids}"
        (info,) = inspect(ids)
        found[name] = (info["Id"], info["State"]["StartedAt"])
    return found


def oom_killed(env: dict) -> list[str]:
    """Names of the stack's containers (services, and stage containers left behind) whose
    last exit was the kernel's OOM kill."""
    ids = compose(env, "ps", "-aq").stdout.split()
    ids += subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label={container.LABEL_PROJECT}={env['COMPOSE_PROJECT_NAME']}"],
                          capture_output=True, text=True, check=True).stdout.split()
    return [i["Name"] for i in inspect(sorted(set(ids))) if i["State"].get("OOMKilled")]


def stage_memory(env: dict) -> int:
    settings = {**read_env_file(Path(env["CARPRICE_ENV_FILE"])), **os.environ}
    return limits.stage_memory_bytes(settings)


def test_the_largest_rows_the_form_accepts_runs_within_the_limits(stack, stack_env):
    before = services(stack_env)
    cap = limits.max_rows(stage_memory(stack_env))
    conf = {"rows": cap, "force": True, "gate_max_rmse_log": 0.001}
    with pytest.raises(RuntimeError, match=r"-> 400"):  # one row more: no run at all
        start_run(stack, {**conf, "rows": cap + 1})
    run_id, states, seconds = run_pipeline(stack, stack_env, conf)
    log(f"{cap:,} rows: {states} in {seconds:.0f} s")
    tries = {ti["task_id"]: ti["try_number"] for ti in stack.task_instances(run_id)}
    # 1: ran once; 0: never ran (skipped before its turn, e.g. past a refused gate)
    assert max(tries.values()) == 1, f"a task was retried: {tries}"
    assert set(stage_states(states, "train")) == {"success"}, states
    assert states["promote_staging"] == "skipped", states  # the tightened gate
    assert oom_killed(stack_env) == []
    assert services(stack_env) == before, "a service restarted during the run"


@pytest.mark.skipif(browser_available() is not None and os.environ.get("CI") != "true",
                    reason=f"no browser: {browser_available()}")
def test_a_300_mb_upload_is_refused_in_one_line(stack, stack_env, tmp_path):
    before = services(stack_env)
    big = tmp_path / "cars-300mb.csv"
    with big.open("wb") as out:  # a real CSV: header, then rows up to 300 MB
        out.write(b"brand,model,year,mileage_km\n")
        row = b"Dacia,Logan,2018,90000\n" * 40_000
        while out.tell() < 300 * 2**20:
            out.write(row)
    url = f"http://127.0.0.1:{PORTS['STREAMLIT_PORT']}"
    refusal = upload_in_browser(url, big, ARTIFACTS / "e2e-upload-300mb.png",
                                tab="Price a CSV")
    log(f"300 MB upload: {refusal!r}")
    assert re.search(r"must be 50(\.0)? ?MB or smaller", refusal), refusal
    assert "\n" not in refusal
    assert oom_killed(stack_env) == []
    assert services(stack_env) == before, "a service restarted during the upload"
