"""car_price_predictor_pipeline: every ML stage as a sibling container (DockerOperator).

The pipeline's shape (stage order, image names, params: their defaults, types and ranges)
comes from ``carprice.pipeline``; how a stage container runs, from ``carprice_tasks``.
This file only wires them together. It holds no ML code.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, TriggerRule, task
from carprice_tasks import (
    FILTERS,
    MACROS,
    mapped_stage_task,
    notify_failed_run,
    stage_task,
    trigger_params,
)

from carprice.config.params import PARAM_ALIASES, read_params
from carprice.pipeline import container, definition

SCHEDULE = os.environ.get("CARPRICE_SCHEDULE", "@weekly")
NETWORK = container.deployment_value(container.ENV_DOCKER_NETWORK)
EGRESS = container.deployment_value(container.ENV_EGRESS_NETWORK)
DATA_VOLUME = container.deployment_value(container.ENV_DATA_VOLUME)
# The candidates a mapped stage (train) runs once each: params.yaml's, read when the DAG is
# parsed (a change to the list shows in the DAG at the next parse).
CANDIDATES = list(read_params().candidates)
_NAMED = ", ".join(f"`{name}`" for name in CANDIDATES)

DOC_MD = f"""
### CarPrice: retrain, gate, promote

Each box is one stage, run in the image of its dependency set
(`{definition.image_name(definition.STAGES[0])}`, ...) as its own
sibling container on the `{NETWORK}` network, where only MLflow answers (`ingest`:
`{EGRESS}`, MLflow and the internet), with a read-only root filesystem and
memory / CPU / pids limits. Stages share the run folder
`/app/data/runs/<run id>/` on the `{DATA_VOLUME}` volume and log to MLflow.

* **skipped** (pink) is deliberate, never silent: `ingest` skips when data and params
  are unchanged (tick `force` to retrain); `promote_staging` skips when the gate refuses
  the candidate, and the models after it are skipped too. `report` always runs.
* **train** is mapped: one task per candidate of params.yaml ({_NAMED}),
  each its own container and MLflow run, side by side. `evaluate` runs when at least one
  succeeded and gates the best on validation; a failed candidate alone (red in the map)
  does not fail the run. If every candidate fails, the run fails.
* **failed** (red): the stage's last log line says why; `fail_if_any_stage_failed`
  turns the whole run red even though `report` still summarizes it.
* Each stage's one-line JSON summary is its XCom (`return_value`).

Trigger with the form to override params (source, rows, hyper-parameters, gate thresholds).
"""

def trigger_rule(stage: str, after_mapped: bool) -> TriggerRule:
    if stage == "report":  # summarizes whatever happened, refusals and failures included
        return TriggerRule.ALL_DONE
    if after_mapped:
        # Runs when every candidate finished and one succeeded (failed ones are left out);
        # skipped when they were skipped (unchanged data), upstream_failed when all failed.
        return TriggerRule.ALL_DONE_MIN_ONE_SUCCESS
    return TriggerRule.ALL_SUCCESS


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
    tasks: list = []
    for stage in definition.STAGES:
        if stage in definition.MAPPED_STAGES:
            op = mapped_stage_task(stage, definition.DAG_ID, CANDIDATES)
        else:
            op = stage_task(stage, definition.DAG_ID, trigger_rule=trigger_rule(
                stage, after_mapped=bool(tasks) and tasks[-1].task_id in definition.MAPPED_STAGES))
        if tasks:
            tasks[-1] >> op
        tasks.append(op)

    @task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
    def fail_if_any_stage_failed() -> None:
        """Runs only when a stage failed: makes the DAG run red although `report` succeeded."""
        raise RuntimeError("a pipeline stage failed; see the red task's log")

    # Not a mapped stage's tasks: one failed candidate must not fail the run. When all
    # failed, the stage after them is upstream_failed, which this sees.
    [t for t in tasks if t.task_id not in definition.MAPPED_STAGES] >> fail_if_any_stage_failed()
