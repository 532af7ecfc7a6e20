"""Faults on the running stack, each with its figures: a worker killed mid-train, Postgres
restarted mid-run, MLflow stopped, two runs at once, and backup -> reset -> restore.
`make test-faults` runs this file on its own stack; CI runs it inside the e2e session."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
from stack_client import read_env_file

from carprice.contract import schema
from carprice.pipeline import definition
from carprice.registry import tags
from carprice.sources.synthetic import generate
from tests.e2e.conftest import (
    REPO,
    compose,
    export_meta,
    log,
    pending_versions,
    promoted_by,
    psql,
    run_pipeline,
    script,
    stage_containers,
    start_run,
    version_tags,
    wait_for,
    wait_task,
)

pytestmark = pytest.mark.e2e
FORCED = {"force": True}


def test_one_of_two_workers_killed_mid_train_the_other_finishes(stack, stack_env, facts):
    # A second worker, as a user would add one (healthy before the run starts).
    up = compose(stack_env, "up", "-d", "--no-recreate", "--wait", "--scale",
                 "airflow-worker=2", "airflow-worker", timeout=600)
    assert up.returncode == 0, up.stderr
    try:
        run_id = start_run(stack, FORCED)
        wait_task(stack, run_id, "train")
        # train runs once per candidate: one of them running (its map index)
        train = next(t for t in stack.task_instances(run_id)
                     if t["task_id"] == "train" and t["state"] == "running")
        # SIGKILL of the worker running train (its container's hostname): it stays down,
        # so the retry can only run on the other one.
        subprocess.run(["docker", "kill", train["hostname"]], check=True, capture_output=True)
        killed = time.monotonic()
        recovered = wait_task(stack, run_id, "train", min_try=2)
        wait_for(stack, stack_env, run_id)
        (retry,) = [t for t in stack.task_instances(run_id) if t["task_id"] == "train"
                    and t["map_index"] == train["map_index"]]
        assert retry["try_number"] >= 2, retry
        assert retry["hostname"] != train["hostname"], (train["hostname"], retry["hostname"])
    finally:
        compose(stack_env, "up", "-d", "--wait", "--scale", "airflow-worker=1",
                "airflow-worker", timeout=600)
    recovery = recovered - killed
    log(f"one of two workers killed mid-train: train running again on the other after "
        f"{recovery:.0f} s; run green")
    facts["worker_recovery_s"] = recovery  # a figure, not an assertion (README's table)
    assert stage_containers(stack_env) == [] and pending_versions(stack) == []


def test_postgres_restart_mid_run_stays_green(stack, stack_env):
    run_id = start_run(stack, FORCED)
    wait_task(stack, run_id, "train")
    # --no-deps: Postgres alone (a plain restart also restarts every service that needs it)
    assert compose(stack_env, "restart", "--no-deps", "postgres").returncode == 0
    _, seconds = wait_for(stack, stack_env, run_id)
    log(f"postgres restarted mid-run: run green in {seconds:.0f} s after the restart")


def test_mlflow_stopped_the_app_serves_the_export_and_a_run_fails_fast(stack, stack_env):
    assert compose(stack_env, "stop", "mlflow").returncode == 0
    try:
        deadline = time.monotonic() + 90  # the API re-resolves after its alias TTL
        while time.monotonic() < deadline:
            model = requests.get(f"{stack.api_url}/model", timeout=30).json()
            if model["source"] == "export":
                break
            time.sleep(3)
        assert model["source"] == "export" and model["version"], model
        assert requests.get(f"{stack.streamlit}/_stcore/health", timeout=30).status_code == 200
        run_id = start_run(stack, FORCED)
        wait_task(stack, run_id, "ingest", state="up_for_retry", timeout=300)
        (ingest,) = [t for t in stack.task_instances(run_id) if t["task_id"] == "ingest"]
        reason = stack.task_log(run_id, "ingest", try_number=1)
        assert "MLflow at http://mlflow:5000 is unreachable" in reason
        seconds = ingest["duration"] or 0
        log(f"MLflow stopped: ingest's first try failed in {seconds:.0f} s naming MLflow; "
            f"the API serves the export v{model['version']}")
    finally:
        assert compose(stack_env, "start", "mlflow").returncode == 0
    # MLflow is back: within its start and one alias TTL (30 s) the API serves from the
    # registry again, even though the version did not change (issue 17: it used to stay on
    # the export until the next promotion)
    back, started = time.monotonic() + 90, time.monotonic()
    while (model := requests.get(f"{stack.api_url}/model", timeout=30).json())["source"] \
            != "registry" and time.monotonic() < back:
        time.sleep(3)
    assert model["source"] == "registry", model
    log(f"MLflow back: the API serves from the registry again after "
        f"{time.monotonic() - started:.0f} s")
    wait_for(stack, stack_env, run_id)  # the retry goes through, green


def test_two_runs_at_once_both_finish_with_one_production(stack, stack_env):
    before = stack.alias_version()
    first, second = start_run(stack, FORCED), start_run(stack, FORCED)
    states = {}
    for run_id in (first, second):
        states[run_id], _ = wait_for(stack, stack_env, run_id)
    folders = compose(stack_env, "exec", "-T", "streamlit", "ls", "/app/data/runs").stdout.split()
    assert {definition.safe_name(first), definition.safe_name(second)} <= set(folders)
    aliases = stack.mlflow_api("GET", "/api/2.0/mlflow/registered-models/get",
                               params={"name": stack.model_name}).json()
    prod = [a for a in aliases["registered_model"]["aliases"] if a["alias"] == "production"]
    assert len(prod) == 1
    # The DAG runs one at a time (max_active_runs=1): the run that promoted last wins, and
    # the later run registered the higher version. So production is the newest version the
    # two runs promoted; if neither promoted (both refused), it has not moved.
    promoted = {run_id: promoted_by(stack, run_id) for run_id in (first, second)
                if states[run_id]["promote_production"] == "success"}
    expected = max(promoted.values(), key=int) if promoted else before
    assert expected, f"no production before the runs and none promoted: {states}"
    assert str(prod[0]["version"]) == expected == stack.alias_version(), (prod, promoted, before)
    assert version_tags(stack, expected)[tags.GATE_DECISION] == "passed"
    meta = export_meta(stack_env)
    assert str(meta["version"]) == expected and meta["model_name"] == stack.model_name, meta
    log(f"two runs at once: both green, separate run folders, one production "
        f"(v{expected}, promoted: {promoted or 'none'}; the export names it)")


def restore(env: dict, archive: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts" / "restore.sh"), str(archive), "--yes"],
                          env=env, capture_output=True, text=True, timeout=900)


def logged(env: dict) -> int:
    """Rows of the prediction log (its table is created by the first write)."""
    if psql(env, "predictions", "SELECT to_regclass('public.predictions') IS NULL") == "t":
        return 0
    return int(psql(env, "predictions", "SELECT count(*) FROM predictions"))


def snapshot(stack, env: dict) -> dict:
    """What a refused restore must leave exactly as it was."""
    return {"production": stack.alias_version(),
            "predictions": logged(env),
            "databases": psql(env, "postgres", "SELECT string_agg(datname, ',' ORDER BY "
                                               "datname) FROM pg_database"),
            "running": sorted(compose(env, "ps", "-q", "--status", "running").stdout.split())}


def test_backup_reset_restore_brings_everything_back_and_refuses_a_bad_archive(
        stack, stack_env, tmp_path):
    # Some traffic to log (and enough rows for the monitor to judge), with contract 6's key.
    key = read_env_file(Path(stack_env["CARPRICE_ENV_FILE"])).get("API_KEY")
    before = logged(stack_env)
    cars = generate(300, seed=41)[list(schema.FEATURES)].to_dict(orient="records")
    resp = requests.post(f"{stack.api_url}/predict", json=cars, timeout=120,
                         headers={"X-API-Key": key} if key else {})
    assert resp.status_code == 200, resp.text[:300]
    deadline = time.monotonic() + 30  # the log is written in the background
    while logged(stack_env) < before + 300:
        assert time.monotonic() < deadline, "the 300 predictions were never logged"
        time.sleep(1)
    # An older archive of this project is pruned by --keep 1; another project's (a name
    # that starts with this one) is not.
    project = stack_env["COMPOSE_PROJECT_NAME"]
    older = tmp_path / f"carprice-{project}-20000101T000000Z.tar.gz"
    other = tmp_path / f"carprice-{project}-2-20000101T000000Z.tar.gz"
    older.write_bytes(b"old")
    other.write_bytes(b"other")
    started = time.monotonic()
    proc = subprocess.run([str(REPO / "scripts" / "backup.sh"), str(tmp_path), "--keep", "1"],
                          env=stack_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    backup_s = time.monotonic() - started
    archive = Path(proc.stdout.strip().splitlines()[-1])
    assert not older.exists() and other.exists() and archive.is_file()
    marker = json.loads(compose(stack_env, "exec", "-T", "streamlit", "cat",
                                "/app/data/ops/last-backup.json").stdout)
    assert marker["archive"] == archive.name
    assert marker["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    before = snapshot(stack, stack_env)
    assert before["production"] and before["predictions"] >= 300, before

    # A corrupted copy (bytes flipped mid-file) and a truncated one: refused in one line,
    # and the running stack is exactly as it was.
    data = archive.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2:len(data) // 2 + 16] = bytes(b ^ 0xFF for b in data[
        len(data) // 2:len(data) // 2 + 16])
    bad = {"flipped": bytes(flipped), "truncated": data[:len(data) * 3 // 4]}
    for label, content in bad.items():
        copy = tmp_path / f"{label}-{archive.name}"
        copy.write_bytes(content)
        refused = restore(stack_env, copy)
        assert refused.returncode != 0, f"{label} archive restored: {refused.stdout[-1000:]}"
        # One line of its own (Compose may add WARN lines of its own on stderr).
        ours = [line for line in refused.stderr.splitlines() if line.startswith("[carprice]")]
        assert len(ours) == 1 and "refused" in ours[0], (label, refused.stderr[-2000:])
        log(f"{label} archive: {ours[0]}")
        assert snapshot(stack, stack_env) == before, f"the stack changed after the {label} one"

    script(stack_env, "docker-reset-full.sh", "--yes", "--no-build", timeout=900)
    assert stack.alias_version() is None, "production alias survived the reset"
    stack._token = None
    stack.wait_for_dag()
    runs = stack.api("GET", f"/api/v2/dags/{definition.DAG_ID}/dagRuns")
    assert runs["total_entries"] == 0, "DAG runs survived the reset"
    started = time.monotonic()
    proc = restore(stack_env, archive)
    assert proc.returncode == 0, proc.stderr[-2000:]
    restore_s = time.monotonic() - started
    stack._token = None
    assert stack.alias_version() == before["production"]
    assert logged(stack_env) == before["predictions"]
    assert "_restoring" not in psql(stack_env, "postgres", "SELECT string_agg(datname, ',') "
                                                           "FROM pg_database")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        served = requests.get(f"{stack.api_url}/model", timeout=30).json()
        if str(served.get("version")) == before["production"] and served["source"] == "registry":
            break
        time.sleep(3)
    assert str(served.get("version")) == before["production"], served
    # The monitor finds the production version's run folder (its train.parquet) again.
    form = {"monitor_source": "predictions", "retrain": False}
    _, states, _ = run_pipeline(stack, stack_env, form, dag_id=definition.MONITOR_DAG_ID)
    assert states["monitor"] == "success", states
    log(f"backup ({backup_s:.0f} s, {archive.stat().st_size / 1e6:.1f} MB) -> reset -> restore "
        f"({restore_s:.0f} s): production v{before['production']} served again, "
        f"{before['predictions']} predictions back, monitoring green")
