"""car_price_predictor_pipeline: every ML stage as a sibling container (DockerOperator).

The pipeline's shape (stage order, image names, params: their defaults, types and ranges)
comes from ``carprice.pipeline``; how a stage container runs, from ``carprice_tasks``.
This file only wires them together. It holds no ML code.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, TriggerRule, task
from carprice_tasks import FILTERS, MACROS, notify_failed_run, stage_task, trigger_params

from carprice.config.params import PARAM_ALIASES
from carprice.pipeline import container, definition

SCHEDULE = os.environ.get("CARPRICE_SCHEDULE", "@weekly")
NETWORK = container.deployment_value(container.ENV_DOCKER_NETWORK)
DATA_VOLUME = container.deployment_value(container.ENV_DATA_VOLUME)

DOC_MD = f"""
### CarPrice: retrain, gate, promote

Each box is one stage, run in the image of its dependency set
(`{definition.image_name(definition.STAGES[0])}`, ...) as its own
sibling container on the `{NETWORK}` network. Stages share the run folder
`/app/data/runs/<run id>/` on the `{DATA_VOLUME}` volume and log to MLflow.

* **skipped** (pink) is deliberate, never silent: `ingest` skips when data and params
  are unchanged (tick `force` to retrain); `promote_staging` skips when the gate refuses
  the candidate, and the models after it are skipped too. `report` always runs.
* **failed** (red): the stage's last log line says why; `fail_if_any_stage_failed`
  turns the whole run red even though `report` still summarizes it.
* Each stage's one-line JSON summary is its XCom (`return_value`).

Trigger with the form to override params (source, rows, hyper-parameters, gate thresholds).
"""

with DAG(
    dag_id=definition.DAG_ID,
    description="Ingest, validate, train, gate and promote the used-car price model",
    doc_md=DOC_MD,
    schedule=None if SCHEDULE.lower() in {"", "none", "manual"} else SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=trigger_params(PARAM_ALIASES),
    user_defined_macros=MACROS,
    user_defined_filters=FILTERS,
    on_failure_callback=notify_failed_run,
    default_args={
        "owner": "carprice",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=2),
    },
    tags=["carprice", "docker", "mlflow"],
) as dag:
    tasks = []
    for stage in definition.STAGES:
        op = stage_task(
            stage, definition.DAG_ID,
            # The report summarizes whatever happened, refusals and failures included.
            trigger_rule=TriggerRule.ALL_DONE if stage == "report" else TriggerRule.ALL_SUCCESS,
        )
        if tasks:
            tasks[-1] >> op
        tasks.append(op)

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_if_any_stage_failed() -> None:
        """Runs only when a stage failed: makes the DAG run red although `report` succeeded."""
        raise RuntimeError("a pipeline stage failed; see the red task's log")

    tasks >> fail_if_any_stage_failed()
