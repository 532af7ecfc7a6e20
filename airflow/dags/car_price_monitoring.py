"""car_price_monitoring: is the market still the one production was trained on?

The `monitor` stage container compares recent rows (the prediction log, a file in the
inbox, or a synthetic batch drawn with the drift knobs) with the production model's
training data and logs a drift report to MLflow. When it says retrain, the training DAG
is triggered with `force` and a note of why. This file only wires containers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task
from carprice_tasks import (
    FILTERS,
    MACROS,
    last_summary,
    notify_failed_run,
    stage_task,
    trigger_params,
)

from carprice.config.params import MONITOR_PARAM_ALIASES
from carprice.pipeline import definition

# The retraining run must not be skipped as "unchanged": force it. (Airflow validates this
# conf against the training DAG's typed form, so it holds native values only.)
RETRAIN_CONF = {"force": True}


class TriggerWithNote(TriggerDagRunOperator):
    """TriggerDagRunOperator whose note (shown on the triggered run) is a template."""

    template_fields = (*TriggerDagRunOperator.template_fields, "note")


with DAG(
    dag_id=definition.MONITOR_DAG_ID,
    description="Drift of recent inputs and predictions against the production model",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=trigger_params(MONITOR_PARAM_ALIASES),
    user_defined_macros=MACROS,
    user_defined_filters=FILTERS,
    on_failure_callback=notify_failed_run,
    default_args={"owner": "carprice", "retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["carprice", "monitoring"],
) as dag:
    # All its output lines: a stderr line may arrive after the summary.
    monitor = stage_task("monitor", definition.MONITOR_DAG_ID, xcom_all=True)

    @task.short_circuit
    def drift_asks_for_retraining(lines: list[str] | None) -> bool:
        """The monitor's summary (JSON) says whether to retrain."""
        return bool(last_summary(lines).get("retrain"))

    retrain = TriggerWithNote(
        task_id="retrain",
        trigger_dag_id=definition.DAG_ID,
        conf=RETRAIN_CONF,
        note=f"Retraining asked by {definition.MONITOR_DAG_ID} " + "{{ run_id }}: "
             "{{ (ti.xcom_pull(task_ids='monitor') | stage_summary).reason }}",
    )
    monitor >> drift_asks_for_retraining(monitor.output) >> retrain
