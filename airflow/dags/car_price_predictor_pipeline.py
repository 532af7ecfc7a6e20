"""car_price_predictor_pipeline: every ML stage as a sibling container (DockerOperator).

The pipeline's shape (stage order, image names, params: their defaults, types and ranges)
comes from ``carprice.pipeline``; this file only wires containers together. No ML code.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG, Param, TriggerRule, task
from docker.types import Mount

from carprice import pipeline

DAG_ID = "car_price_predictor_pipeline"

# Deployment names, set by docker-compose-full.yml from COMPOSE_PROJECT_NAME.
PROJECT = os.environ.get("CARPRICE_PROJECT", "carprice")
NETWORK = os.environ.get("CARPRICE_DOCKER_NETWORK", f"{PROJECT}-net")
DATA_VOLUME = os.environ.get("CARPRICE_DATA_VOLUME", f"{PROJECT}-data")
MODELS_VOLUME = os.environ.get("CARPRICE_MODELS_VOLUME", f"{PROJECT}-models")
STAGE_MLFLOW_URI = os.environ.get("CARPRICE_STAGE_MLFLOW_URI", "http://mlflow:5000")
DOCKER_URL = os.environ.get("CARPRICE_DOCKER_URL", "unix://var/run/docker.sock")
SCHEDULE = os.environ.get("CARPRICE_SCHEDULE", "@weekly")
DATA_DIR = "/app/data"
MODELS_DIR = "/app/models"
# Stages that write the exported production model (the app's fallback).
MODEL_WRITERS = {"promote_production"}

# JSON-schema keywords of a params.yaml field that the trigger form enforces.
_FORM_KEYWORDS = ("enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                  "minLength", "maxLength", "pattern")


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        node = node[part]
    return node


def _param(name: str, dotted: str, default) -> Param:
    """A form field typed like the params model's field (carprice.params): type, range,
    choices and description all come from there, the default from params.yaml."""
    schema = pipeline.field_schema(dotted)
    limits = {key: schema[key] for key in _FORM_KEYWORDS if key in schema}
    kind = schema["type"]
    # A free-text field left blank keeps params.yaml's value; without null the UI would
    # demand a value (csv_uri is blank unless source=csv).
    types = [kind, "null"] if kind == "string" and "enum" not in schema else kind
    return Param(default, type=types, title=name, description=schema["description"], **limits)


def trigger_params() -> dict[str, Param]:
    """One typed Param per trigger-form name, defaults from params.yaml."""
    defaults = pipeline.load_params()
    return {
        name: _param(name, dotted, _lookup(defaults, dotted))
        for name, dotted in pipeline.PARAM_ALIASES.items()
    }


def params_json(params) -> str:
    """The trigger form's values as the stages' CARPRICE_PARAMS_JSON."""
    return json.dumps({name: params[name] for name in pipeline.PARAM_ALIASES if name in params})


def stage_environment(stage: str) -> dict[str, str]:
    return {
        pipeline.ENV_RUN_ID: "{{ run_id }}",
        pipeline.ENV_DAG_ID: "{{ dag.dag_id }}",
        "CARPRICE_TASK_ID": stage,
        # Provenance tag of registered versions: image name + local image id.
        pipeline.ENV_IMAGE: f"{{{{ image_ref('{pipeline.image_name(stage)}') }}}}",
        pipeline.ENV_DATA_DIR: DATA_DIR,
        pipeline.ENV_MODELS_DIR: MODELS_DIR,
        pipeline.ENV_OVERRIDES: "{{ params | carprice_params_json }}",
        "MLFLOW_TRACKING_URI": STAGE_MLFLOW_URI,
        "PYTHONUNBUFFERED": "1",
    }


def image_ref(image: str) -> str:
    """``name@sha256:...`` of the local image the stage runs (its name alone if unknown)."""
    try:
        import docker

        return f"{image}@{docker.DockerClient(base_url=DOCKER_URL).images.get(image).id}"
    except Exception:  # provenance only: never fail a task over it
        return image


def stage_mounts(stage: str) -> list[Mount]:
    mounts = [Mount(target=DATA_DIR, source=DATA_VOLUME, type="volume")]
    if stage in MODEL_WRITERS:
        mounts.append(Mount(target=MODELS_DIR, source=MODELS_VOLUME, type="volume"))
    return mounts


DOC_MD = f"""
### CarPrice: retrain, gate, promote

Each box is one stage image (`{pipeline.image_name(pipeline.STAGES[0])}`, ...) started as a
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
    dag_id=DAG_ID,
    description="Ingest, validate, train, gate and promote the used-car price model",
    doc_md=DOC_MD,
    schedule=None if SCHEDULE.lower() in {"", "none", "manual"} else SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params=trigger_params(),
    user_defined_macros={"image_ref": image_ref},
    user_defined_filters={
        "safe_name": pipeline.safe_name,
        "carprice_params_json": params_json,
    },
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
    for stage in pipeline.STAGES:
        op = DockerOperator(
            task_id=stage,
            image=pipeline.image_name(stage),
            docker_url=DOCKER_URL,
            network_mode=NETWORK,
            mount_tmp_dir=False,
            mounts=stage_mounts(stage),
            auto_remove="success",
            user="1000:1000",
            container_name=(
                f"{PROJECT}-{stage.replace('_', '-')}-"
                "{{ run_id | safe_name(60) }}-{{ ti.try_number }}"
            ),
            labels={
                "io.carprice.project": PROJECT,
                "io.carprice.stage": stage,
                "io.carprice.dag": DAG_ID,
            },
            environment=stage_environment(stage),
            skip_on_exit_code=pipeline.SKIP_EXIT_CODE,
            do_xcom_push=True,
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
