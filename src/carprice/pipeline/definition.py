"""The pipeline's shape, defined once: stage order, dependency sets and images, exit
codes, DAG ids, trigger-form names.

Imports only the standard library, PyYAML and pydantic so the Airflow image can read it
without the ML stack. The DAGs, dvc.yaml and the stage images are checked against it.
The params themselves (params.yaml, typed) live in carprice.config.params.
"""

from __future__ import annotations

import re
from enum import IntEnum

from carprice.config.params import field_schema

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
# Mapped stages run once per candidate of params.yaml's ``candidates`` (its keys are the
# names), side by side: a dynamic task map in the DAG, one dvc.yaml stage per candidate
# (foreach), one run each in ``carprice run``. The pipeline goes on while one succeeded.
MAPPED_STAGES: frozenset[str] = frozenset({"train"})
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
# Stage images are <IMAGE_PREFIX>-<dependency set>:latest (docker-compose-full.yml builds them).
IMAGE_PREFIX = "carprice-stage"


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

def image_name(stage: str, tag: str = "latest") -> str:
    """Docker image a stage runs in: one image per dependency set, e.g.
    ``carprice-stage-ml:latest`` for train (stages/Dockerfile builds them)."""
    if stage not in IMAGE_EXTRAS:
        raise KeyError(f"unknown stage {stage!r}")
    return f"{IMAGE_PREFIX}-{IMAGE_EXTRAS[stage]}:{tag}"


def safe_name(text: str, max_len: int = 100) -> str:
    """A run id usable as a folder and container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "_", text).strip("._-")
    return (cleaned or "run")[:max_len]


# The model's life after promotion: stages run alone, each by its own DAG (not part of
# STAGES, the training DAG's order). Their MLflow runs go to params monitor.experiment.
MONITOR_STAGES: tuple[str, ...] = ("monitor", "rollback", "maintenance")
MONITOR_STAGE_EXTRAS: dict[str, str] = {
    "monitor": "monitor",  # loads the model and runs Evidently's drift report
    "rollback": "data",  # registry calls and an artifact download only
    "maintenance": "monitor",  # prunes the prediction log: the image with its driver
}
# Every stage that has an image, with its dependency set (docker-compose-full.yml builds them).
IMAGE_EXTRAS: dict[str, str] = {**STAGE_EXTRAS, **MONITOR_STAGE_EXTRAS}
# Stages that write the exported production copy (the serving fallback) and stages
# that read the user's inbox (csv_uri=inbox/<file>): their containers get those mounts.
WRITES_MODELS: frozenset[str] = frozenset({"promote_production", "rollback"})
READS_INBOX: frozenset[str] = frozenset({"ingest", "monitor"})
# Stages that read the exported production copy (read-only: which run folder it needs).
READS_MODELS: frozenset[str] = frozenset({"maintenance"})
# Least privilege in MLflow (mlflow/accounts.py): only these stages sign in as the promoter,
# the one account that registers versions of the served model, tags them and moves its
# aliases. Every other stage (ingest parses files from the internet) signs in as the
# trainer, which logs runs and candidate models and only reads the served model.
PROMOTER_STAGES: frozenset[str] = frozenset({
    "promote_staging",  # registers the candidate, tags the gate decision, signs, staging
    "validate_staging",  # tags the smoke check
    "promote_production",
    "report",  # closes versions a failed run left pending
    "rollback",
})
# So they are the stages that change the registry: every DAG runs them in the Airflow pool
# REGISTRY_POOL of REGISTRY_POOL_SLOTS=1 (airflow/init.sh creates it), so the training and
# rollback DAGs never change it at the same time. tests/unit/test_registry_pool.py checks
# the set against the stages' code.
REGISTRY_WRITERS: frozenset[str] = PROMOTER_STAGES
REGISTRY_POOL, REGISTRY_POOL_SLOTS = "carprice_registry", 1
# The DAGs of the monitoring stages (MONITOR_STAGES).
MONITOR_DAG_ID = "car_price_monitoring"
ROLLBACK_DAG_ID = "car_price_rollback"
MAINTENANCE_DAG_ID = "carprice_maintenance"
# Where the monitor stage takes its current rows from (params monitor.source).
MONITOR_SOURCES: tuple[str, ...] = tuple(field_schema("monitor.source")["enum"])
# params.yaml sections of those stages: they never change the model, so they stay out of
# the training fingerprint (runner.params_hash).
MONITOR_PARAM_SECTIONS: tuple[str, ...] = ("monitor", "rollback", "maintenance")
