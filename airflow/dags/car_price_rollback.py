"""car_price_rollback: move `production` back, from the trigger form.

Leave the version blank to return to the current version's `previous_production`. The
`rollback` stage container moves the alias, re-exports the app's copy and tags the
version with the reason and who rolled back (the Airflow user who pressed Trigger; the
form's requested_by is kept as a note). This file only wires the container.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG
from carprice_tasks import FILTERS, MACROS, notify_failed_run, stage_task, trigger_params

from carprice.config.params import ROLLBACK_PARAM_ALIASES
from carprice.pipeline import definition

with DAG(
    dag_id=definition.ROLLBACK_DAG_ID,
    description="Move the production alias back to an earlier model version",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=trigger_params(ROLLBACK_PARAM_ALIASES),
    user_defined_macros=MACROS,
    user_defined_filters=FILTERS,
    on_failure_callback=notify_failed_run,
    default_args={"owner": "carprice", "retries": 0},
    tags=["carprice", "registry"],
) as dag:
    # Who rolled back: the Airflow user who triggered the run (carprice_tasks.TRIGGERED_BY);
    # the form's requested_by is only a note.
    stage_task("rollback", definition.ROLLBACK_DAG_ID)
