"""The DAG carprice_maintenance: one stage container on the data volume, two Airflow tasks
for Airflow's own history and task logs, settings from params.yaml's maintenance section.
Needs Airflow: tests/unit/run_airflow_tests.sh runs it with test_dag.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carprice.config import settings
from carprice.config.params import MAINTENANCE_PARAM_ALIASES, load_params
from carprice.ops import housekeeping
from carprice.pipeline import container, definition
from tests.unit.test_dag import DAGS, DagBag, DockerOperator, dagbag, render

__all__ = ["dagbag"]  # a fixture, used by name
TASKS = {"maintenance", "send_alerts", "clean_airflow_db", "prune_task_logs"}


def test_the_dag_runs_the_stage_and_airflows_own_clean_up_daily(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.dags[definition.MAINTENANCE_DAG_ID]
    assert {t.task_id for t in dag.tasks} == TASKS
    # one failing: the others still run; the alerts are the stage's
    assert all(not dag.get_task(t).upstream_task_ids for t in TASKS - {"send_alerts"})
    assert dag.get_task("send_alerts").upstream_task_ids == {"maintenance"}
    assert dag.timetable.expression == "0 0 * * *"  # @daily
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.is_paused_upon_creation is False  # the stack pauses new DAGs, not this one
    assert any(getattr(cb, "__name__", "") == "notify_failed_run"
               for cb in (dag.on_failure_callback if isinstance(dag.on_failure_callback, list)
                          else [dag.on_failure_callback]))


def test_the_stage_reads_the_export_but_cannot_change_it(dagbag):
    task = dagbag.dags[definition.MAINTENANCE_DAG_ID].get_task("maintenance")
    assert isinstance(task, DockerOperator)
    assert task.image == definition.image_name("maintenance")
    mounts = {m["Target"]: m for m in task.mounts}
    assert mounts[container.CONTAINER_DATA_DIR].get("ReadOnly") is False
    assert mounts[container.CONTAINER_MODELS_DIR].get("ReadOnly") is True
    assert settings.ENV_PREDLOG_DSN in task.spec.secrets  # at run time, never templated
    assert settings.ENV_PREDLOG_DSN not in task.environment


def stage_logs(alerts: list[str]) -> list[str]:
    """What the stage's container printed, as DockerOperator pushes it (stderr interleaved)."""
    summary = {"stage": "maintenance", "status": "ok", "alerts": alerts}
    return ["free disk at /app/data: 1 GB of 10 GB (10.0%)",
            *[f"alert: {line}" for line in alerts], json.dumps(summary)]


def test_the_worker_sends_the_stages_alerts_to_the_notification_urls(dagbag, webhook,
                                                                     monkeypatch):
    url, received = webhook
    monkeypatch.setenv(settings.ENV_NOTIFY_URLS, url)
    task = dagbag.dags[definition.MAINTENANCE_DAG_ID].get_task("send_alerts")
    found = ["low disk: free disk at /app/data: 10.0% is below the 20% threshold",
             "no backup: scripts/backup.sh never wrote one"]
    assert task.python_callable(stage_logs=stage_logs(found)) == {"alerts": 2, "sent": True}
    [message] = received
    assert message["title"] == housekeeping.ALERT_TITLE
    assert "below the 20% threshold" in message["message"] and "no backup" in message["message"]
    # nothing found: nothing sent
    assert task.python_callable(stage_logs=stage_logs([])) == {"alerts": 0, "sent": False}
    assert len(received) == 1


def test_form_values_reach_the_stage_as_params(dagbag, monkeypatch):
    dag = dagbag.dags[definition.MAINTENANCE_DAG_ID]
    assert set(dag.params) == set(MAINTENANCE_PARAM_ALIASES)
    defaults = load_params()["maintenance"]
    assert {name: dag.params[name] for name in dag.params} == defaults
    form = {**defaults, "min_free_disk_percent": 100}  # what the e2e forces
    template = dag.get_task("maintenance").environment[settings.ENV_PARAMS_JSON]
    monkeypatch.setenv(settings.ENV_PARAMS_JSON, render(dag, template, params=form))
    assert load_params()["maintenance"]["min_free_disk_percent"] == 100


def test_the_schedule_none_means_manual_triggers_only(monkeypatch):
    monkeypatch.setenv(settings.ENV_MAINTENANCE_SCHEDULE, "none")
    bag = DagBag(dag_folder=str(DAGS / "carprice_maintenance.py"))
    assert not bag.dags[definition.MAINTENANCE_DAG_ID].timetable.can_be_scheduled


def test_the_log_task_removes_old_task_logs_in_the_configured_folder(dagbag, tmp_path,
                                                                      monkeypatch):
    old = tmp_path / "dag_id=a" / "run_id=old" / "task_id=t" / "attempt=1.log"
    new = tmp_path / "dag_id=a" / "run_id=new" / "task_id=t" / "attempt=1.log"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("line\n")
    stamp = time.time() - 40 * 86_400
    os.utime(old, (stamp, stamp))
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(tmp_path))
    task = dagbag.dags[definition.MAINTENANCE_DAG_ID].get_task("prune_task_logs")
    result = task.python_callable(params={"airflow_days": 30})
    assert (result["files"], result["folders"]) == (1, 2)  # the log, task_id=t, run_id=old
    assert not (tmp_path / "dag_id=a" / "run_id=old").exists() and new.is_file()
    assert 0 < result["free_disk_percent"] <= 100
    json.dumps(result)  # an XCom


def test_the_db_task_runs_airflow_db_clean_on_a_real_metadata_database(
        dagbag, tmp_path, monkeypatch, caplog):
    """Against a freshly migrated SQLite metadata database (this Airflow's own schema)."""
    bindir = Path(sys.executable).parent  # the `airflow` command of this venv
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    dsn = f"sqlite:///{tmp_path / 'airflow.db'}"
    subprocess.run(["airflow", "db", "migrate"], capture_output=True, timeout=600, check=True,
                   env={**os.environ, "AIRFLOW_HOME": str(tmp_path),
                        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn})
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    # what Airflow 3's task runner leaves a task: a placeholder DSN; the worker's real one
    # comes from the stack's own setting
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "airflow-db-not-allowed:///")
    monkeypatch.setenv(settings.ENV_AIRFLOW_METADATA_DSN, dsn)
    task = dagbag.dags[definition.MAINTENANCE_DAG_ID].get_task("clean_airflow_db")
    with caplog.at_level(logging.INFO):
        result = task.python_callable(params={"airflow_days": 30})
    assert result["cleaned_before"].endswith("+00:00")
    out = caplog.text
    assert "--skip-archive" in out and "Checking table dag_run" in out
    monkeypatch.setenv(settings.ENV_AIRFLOW_METADATA_DSN, "sqlite:////nonexistent/x.db")
    with pytest.raises(RuntimeError, match="airflow db clean exited"):
        task.python_callable(params={"airflow_days": 30})
    monkeypatch.delenv(settings.ENV_AIRFLOW_METADATA_DSN)
    with pytest.raises(RuntimeError, match="is not set on this worker"):
        task.python_callable(params={"airflow_days": 30})
