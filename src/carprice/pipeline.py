"""The pipeline's shape, defined once: stage order, params, image names, registry names.

Imports only the standard library, PyYAML and pydantic so the Airflow image can read it
without the ML stack. The DAG, dvc.yaml and the stage images are checked against it.
The params (params.yaml, typed and validated) live in carprice.params, re-exported here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import IntEnum

from carprice.errors import CarpriceError
from carprice.params import (  # noqa: F401 - re-exported: pipeline.load_params etc.
    ENV_OVERRIDES,
    ENV_PARAMS_FILE,
    PARAM_ALIASES,
    PARAM_CHOICES,
    Params,
    ParamsError,
    apply_overrides,
    field_schema,
    load_params,
    params_path,
    parse_set_args,
    read_params,
)

# Order matters: each stage reads what the previous ones wrote to the run folder.
STAGES: tuple[str, ...] = (
    "ingest",
    "validate",
    "preprocess",
    "train",
    "evaluate",
    "promote_staging",
    "validate_staging",
    "promote_production",
    "report",
)
# Which dependency set each stage image installs (pyproject extras).
STAGE_EXTRAS: dict[str, str] = {
    "ingest": "data",
    "validate": "data",
    "preprocess": "ml",  # the split uses scikit-learn
    "train": "ml",
    "evaluate": "ml",
    "promote_staging": "data",
    "validate_staging": "ml",
    "promote_production": "ml",
    "report": "data",
}

# The training DAG (Airflow) that runs STAGES.
DAG_ID = "car_price_predictor_pipeline"
# Stage images are <IMAGE_PREFIX>-<stage>:latest (docker-compose-full.yml builds them).
IMAGE_PREFIX = "carprice-stage"

STAGING_ALIAS = "staging"
PRODUCTION_ALIAS = "production"


class StageExit(IntEnum):
    """Exit codes of a stage process (runner.main), read by the DAG and `carprice run`."""

    OK = 0
    FAILED = 1  # infrastructure or unexpected: a retry may help
    # Bad data, params or contract, or a failure already final (the report of a failed
    # run): a retry cannot help, so the DAG fails the task without retrying.
    NO_RETRY = 2
    # Deliberately nothing to do (unchanged data, refused promotion). Airflow maps it to
    # "skipped" so it is visible, never a silent green.
    SKIPPED = 99


SKIP_EXIT_CODE = int(StageExit.SKIPPED)  # plain int, for the DAG's skip_on_exit_code

ENV_RUN_ID = "CARPRICE_RUN_ID"
ENV_DATA_DIR = "CARPRICE_DATA_DIR"
ENV_MODELS_DIR = "CARPRICE_MODELS_DIR"
# Where a csv_uri of inbox/<file> is read from (default: <data dir>/inbox).
ENV_INBOX_DIR = "CARPRICE_INBOX_DIR"
# Provenance the DAG hands to stage containers (tags on registered versions).
ENV_DAG_ID = "CARPRICE_DAG_ID"
ENV_IMAGE = "CARPRICE_IMAGE"
ENV_GIT_COMMIT = "CARPRICE_GIT_COMMIT"

# --- stage containers, as both starters run them: the DAG (airflow/dags/carprice_tasks.py)
# and the dvc-runner (carprice.stages.dvc_run). docker-compose-full.yml hands both the
# deployment's names under these variables.
ENV_PROJECT = "CARPRICE_PROJECT"
ENV_DOCKER_NETWORK = "CARPRICE_DOCKER_NETWORK"
ENV_DATA_VOLUME = "CARPRICE_DATA_VOLUME"
ENV_MODELS_VOLUME = "CARPRICE_MODELS_VOLUME"
ENV_STAGE_MLFLOW_URI = "CARPRICE_STAGE_MLFLOW_URI"
ENV_INBOX_HOST_DIR = "CARPRICE_INBOX_HOST_DIR"  # a bind source must be a host path
ENV_STAGE_USER, ENV_STAGE_PASSWORD = "MLFLOW_STAGE_USER", "MLFLOW_STAGE_PASSWORD"


class DeploymentError(CarpriceError):
    """A name the stack hands to a service that starts stage containers is missing."""


def deployment_value(name: str, env: Mapping[str, str] | None = None) -> str:
    """The deployment's ``name`` (one of the ENV_ names above) from ``env`` (default: this
    process's environment); DeploymentError in one line if it is unset."""
    value = (os.environ if env is None else env).get(name, "").strip()
    if not value:
        raise DeploymentError(f"{name} is not set: docker-compose-full.yml hands it to the "
                              "services that start stage containers (with .env)")
    return value


# Inside a stage container (the stage images own these folders, as uid 1000).
CONTAINER_DATA_DIR, CONTAINER_MODELS_DIR = "/app/data", "/app/models"
CONTAINER_INBOX_DIR = "/app/inbox"
CONTAINER_USER = "1000:1000"
# Labels on every stage container: what clean-up (stop script, retries, orphans) matches.
LABEL_PROJECT = "io.carprice.project"  # also scripts/stack-common.sh (STAGE_LABEL)
LABEL_STAGE, LABEL_RUN = "io.carprice.stage", "io.carprice.run"
LABEL_DAG, LABEL_TRY = "io.carprice.dag", "io.carprice.try"  # started by Airflow
LABEL_DVC = "io.carprice.dvc"  # started by the dvc-runner


def image_name(stage: str, tag: str = "latest") -> str:
    """Docker image of one stage, e.g. ``carprice-stage-train:latest``."""
    if stage not in IMAGE_EXTRAS:
        raise KeyError(f"unknown stage {stage!r}")
    return f"{IMAGE_PREFIX}-{stage.replace('_', '-')}:{tag}"


def safe_name(text: str, max_len: int = 100) -> str:
    """A run id usable as a folder and container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "_", text).strip("._-")
    return (cleaned or "run")[:max_len]


# The model's life after promotion: stages run alone, each by its own DAG (not part of
# STAGES, the training DAG's order). Their MLflow runs go to params monitor.experiment.
MONITOR_STAGES: tuple[str, ...] = ("monitor", "rollback")
MONITOR_STAGE_EXTRAS: dict[str, str] = {
    "monitor": "monitor",  # loads the model and runs Evidently's drift report
    "rollback": "data",  # registry calls and an artifact download only
}
# Every stage that has an image, with its dependency set (docker-compose-full.yml builds them).
IMAGE_EXTRAS: dict[str, str] = {**STAGE_EXTRAS, **MONITOR_STAGE_EXTRAS}
# The DAGs of those stages.
MONITOR_DAG_ID = "car_price_monitoring"
ROLLBACK_DAG_ID = "car_price_rollback"

# Where the monitor stage takes its current rows from (params monitor.source).
MONITOR_SOURCES: tuple[str, ...] = tuple(field_schema("monitor.source")["enum"])
# Trigger-form names of the monitoring DAGs -> dotted keys of params.yaml.
MONITOR_PARAM_ALIASES: dict[str, str] = {
    "monitor_source": "monitor.source",
    "current_uri": "monitor.current_uri",
    "drift_share": "monitor.drift_share",
    "retrain": "monitor.retrain",
    "price_inflation": "data.drift.price_inflation",
    "mileage_shift": "data.drift.mileage_shift",
    "new_models_share": "data.drift.new_models_share",
}
ROLLBACK_PARAM_ALIASES: dict[str, str] = {
    "rollback_to": "rollback.to_version",
    "requested_by": "rollback.requested_by",
    "reason": "rollback.reason",
}
# Every trigger-form name of every DAG -> its dotted key (one name, one key).
FORM_ALIASES: dict[str, str] = {**PARAM_ALIASES, **MONITOR_PARAM_ALIASES,
                                **ROLLBACK_PARAM_ALIASES}
# Who asked for a rollback when params rollback.requested_by is blank (the DAG's user).
ENV_REQUESTED_BY = "CARPRICE_REQUESTED_BY"
# params.yaml sections of those stages: they never change the model, so they stay out of
# the training fingerprint (runner.params_hash).
MONITOR_PARAM_SECTIONS: tuple[str, ...] = ("monitor", "rollback")
