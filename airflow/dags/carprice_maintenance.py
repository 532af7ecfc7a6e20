"""carprice_maintenance: keep what the stack accumulates within params.yaml ``maintenance``.

- `maintenance` (a stage container, on the data volume): deletes old prediction-log rows,
  removes old run folders of runs that registered nothing, reports free disk and finds
  alerts: disk low, last backup too old (carprice.pipeline.stages.maintenance);
- `send_alerts`: tells CARPRICE_NOTIFY_URLS what the stage found, from the worker (the
  stage's network reaches the prediction log only, no way out);
- `clean_airflow_db`: `airflow db clean` of Airflow's run history older than airflow_days;
- `prune_task_logs`: task log files older than airflow_days (the airflow-logs volume).

Daily by default ($CARPRICE_MAINTENANCE_SCHEDULE; "none": manual triggers only). The rules
live in carprice.ops.housekeeping; this file only wires them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, task
from carprice_tasks import (
    FILTERS,
    MACROS,
    last_summary,
    notify_failed_run,
    stage_task,
    trigger_params,
)

from carprice.config import settings
from carprice.config.params import MAINTENANCE_PARAM_ALIASES
from carprice.monitoring import notify
from carprice.ops import housekeeping
from carprice.pipeline import definition

SCHEDULE = os.environ.get(settings.ENV_MAINTENANCE_SCHEDULE, "@daily")
CLEAN_TIMEOUT_S = 1800
log = logging.getLogger(__name__)


def task_log_folder() -> Path:
    """Where this Airflow writes task logs (the airflow-logs volume in the stack)."""
    from airflow.configuration import conf

    return Path(conf.get("logging", "base_log_folder"))


def metadata_db_env() -> dict[str, str]:
    """The environment for `airflow db clean`: this task's, with the metadata DSN that Airflow
    3's task runner hides from task code, as the worker holds it (settings.py)."""
    dsn = os.environ.get(settings.ENV_AIRFLOW_METADATA_DSN)
    if not dsn:
        raise RuntimeError(f"{settings.ENV_AIRFLOW_METADATA_DSN} is not set on this worker: "
                           "airflow db clean cannot reach the metadata database")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")}
    return {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn}


with DAG(
    dag_id=definition.MAINTENANCE_DAG_ID,
    description="Prune old predictions, run folders, Airflow history and logs; watch disk "
                "and backups",
    doc_md=__doc__,
    schedule=None if SCHEDULE.lower() in {"", "none", "manual"} else SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    # Unlike the other DAGs, on from the start: housekeeping that waits for someone to
    # unpause it is what lets a disk fill up silently.
    is_paused_upon_creation=False,
    params=trigger_params(MAINTENANCE_PARAM_ALIASES),
    user_defined_macros=MACROS,
    user_defined_filters=FILTERS,
    on_failure_callback=notify_failed_run,
    default_args={"owner": "carprice", "retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["carprice", "maintenance"],
) as dag:
    stage = stage_task("maintenance", definition.MAINTENANCE_DAG_ID)

    @task
    def send_alerts(stage_logs=None) -> dict:
        """The alerts in the stage's summary, sent to CARPRICE_NOTIFY_URLS (never fails)."""
        found = last_summary(stage_logs).get("alerts") or []
        sent = bool(found) and notify.send(housekeeping.ALERT_TITLE, "\n".join(found),
                                           failure=True)
        if found:
            log.info("%d alert(s): %s; alert sent: %s", len(found), "; ".join(found), sent)
        return {"alerts": len(found), "sent": sent}

    send_alerts(stage.output)

    @task(execution_timeout=timedelta(seconds=CLEAN_TIMEOUT_S))
    def clean_airflow_db(params=None) -> dict:
        """Airflow's metadata (runs, task instances, XComs, ...) older than airflow_days."""
        before = housekeeping.cutoff(datetime.now(UTC), int(params["airflow_days"]))
        command = housekeeping.airflow_db_clean_command(before)
        log.info("$ %s", " ".join(command))  # no secret: the DSN is in the environment
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=CLEAN_TIMEOUT_S, env=metadata_db_env())
        log.info("%s\n%s", done.stdout[-4000:], done.stderr[-4000:])
        if done.returncode != 0:
            raise RuntimeError(f"airflow db clean exited {done.returncode}")
        return {"cleaned_before": before.isoformat()}

    @task
    def prune_task_logs(params=None) -> dict:
        """Task log files older than airflow_days, and the folders they leave empty."""
        folder = task_log_folder()
        removed = housekeeping.remove_old_files(folder, time.time(),
                                                int(params["airflow_days"]))
        disk = housekeeping.disk_report(folder)
        log.info("removed %d log files (%d bytes), %d empty folders; %s", removed["files"],
                 removed["bytes"], removed["folders"], disk.line())
        return {**removed, "free_disk_bytes": disk.free_bytes,
                "free_disk_percent": round(disk.free_percent, 2)}

    clean_airflow_db()
    prune_task_logs()
