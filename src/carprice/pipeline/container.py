"""How a stage runs as a container, defined once for both launchers: the Airflow DAG's
DockerOperator (airflow/dags/carprice_tasks.py) and the stack's dvc-runner
(``python -m carprice.pipeline`` with $CARPRICE_DVC_DOCKER=1).

``stage_container`` returns plain data (image, command, environment, secrets to copy,
mounts, network, user, labels, name, limits, hardening); each launcher only translates it
to its Docker API.

Hardening, the same from both launchers: read-only root filesystem (the run folder's
volume and a tmpfs /tmp are the only writable places; HOME and the libraries' caches
point into /tmp), every capability dropped, no-new-privileges, and a network per kind of
stage (ingest: MLflow + the internet; monitor: MLflow + Postgres; others: MLflow only).
Imports the standard library only: the Airflow image reads it without the ML stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from carprice.config import limits
from carprice.config.settings import (
    ENV_DAG_ID,
    ENV_DATA_DIR,
    ENV_GIT_COMMIT,
    ENV_IMAGE,
    ENV_INBOX_DIR,
    ENV_MODELS_DIR,
    ENV_NOTIFY_URLS,
    ENV_PARAMS_JSON,
    ENV_PREDLOG_DSN,
    ENV_PUBLIC_MLFLOW_URL,
    ENV_RUN_ID,
    ENV_SIGNING_KEY,
    ENV_SIGNING_PUBLIC_KEY,
    ENV_STAGE_CPUS,
    ENV_STAGE_MEM_LIMIT,
    ENV_STAGE_PIDS,
)
from carprice.errors import CarpriceError
from carprice.pipeline import definition

# The deployment's names: docker-compose-full.yml hands them to both launchers.
ENV_PROJECT = "CARPRICE_PROJECT"
# The stages' networks (docker-compose-full.yml): only MLflow answers on the first
# (internal: no way out); the egress one reaches the internet (ingest downloads a csv_uri);
# the predlog one is internal and holds MLflow and Postgres (the monitor reads the log).
ENV_DOCKER_NETWORK = "CARPRICE_DOCKER_NETWORK"
ENV_EGRESS_NETWORK = "CARPRICE_EGRESS_NETWORK"
ENV_PREDLOG_NETWORK = "CARPRICE_PREDLOG_NETWORK"
ENV_DATA_VOLUME = "CARPRICE_DATA_VOLUME"
ENV_MODELS_VOLUME = "CARPRICE_MODELS_VOLUME"
ENV_STAGE_MLFLOW_URI = "CARPRICE_STAGE_MLFLOW_URI"
ENV_INBOX_HOST_DIR = "CARPRICE_INBOX_HOST_DIR"  # a bind source must be a host path
# The two MLflow accounts stages sign in with (mlflow/accounts.py creates them; which stage
# gets which: definition.PROMOTER_STAGES). The launchers hold both; a stage gets one.
ENV_TRAINER_USER, ENV_TRAINER_PASSWORD = "MLFLOW_TRAINER_USER", "MLFLOW_TRAINER_PASSWORD"
ENV_PROMOTER_USER, ENV_PROMOTER_PASSWORD = "MLFLOW_PROMOTER_USER", "MLFLOW_PROMOTER_PASSWORD"

# Inside a stage container (the stage images own these folders, as uid 1000).
CONTAINER_DATA_DIR, CONTAINER_MODELS_DIR = "/app/data", "/app/models"
CONTAINER_INBOX_DIR = "/app/inbox"
CONTAINER_USER = "1000:1000"
# The root filesystem is read-only: /tmp is a tmpfs, and HOME and the caches of the
# libraries the stages load (matplotlib via Evidently, joblib, XDG users) live in it.
CONTAINER_TMP = "/tmp"
TMPFS = {CONTAINER_TMP: f"rw,nosuid,nodev,size={limits.STAGE_TMPFS_SIZE}"}
WRITABLE_ENV = {"HOME": CONTAINER_TMP, "MPLCONFIGDIR": f"{CONTAINER_TMP}/matplotlib",
                "XDG_CACHE_HOME": f"{CONTAINER_TMP}/.cache",
                "JOBLIB_TEMP_FOLDER": CONTAINER_TMP, "TMPDIR": CONTAINER_TMP}
CAP_DROP = ("ALL",)
SECURITY_OPT = ("no-new-privileges:true",)
# Which network a stage joins (any other stage: the stages network). The stages that
# announce promotions (carprice.monitoring.notify: Slack, e-mail...) need the internet too,
# but only when notifications are configured ($CARPRICE_NOTIFY_URLS in the launcher's env).
EGRESS_STAGES = frozenset({"ingest"})
NOTIFYING_STAGES = frozenset({"promote_production", "rollback"})
PREDLOG_STAGES = frozenset({"monitor", "maintenance"})  # the prediction log: read, pruned
# Labels on every stage container: what clean-up (stop script, retries, orphans) matches.
LABEL_PROJECT = "io.carprice.project"  # scripts/stack-common.sh reads it from here
LABEL_STAGE, LABEL_RUN = "io.carprice.stage", "io.carprice.run"
LABEL_DAG, LABEL_TRY = "io.carprice.dag", "io.carprice.try"  # started by Airflow
LABEL_DVC = "io.carprice.dvc"  # started by the dvc-runner
LABEL_CANDIDATE = "io.carprice.candidate"  # a mapped stage's candidate (definition.MAPPED_STAGES)

# Secrets a stage gets from its launcher's environment at run time (never a command line,
# never a templated field): stage variable -> launcher variable.
ACCOUNT_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
TRAINER_ACCOUNT = (ENV_TRAINER_USER, ENV_TRAINER_PASSWORD)
PROMOTER_ACCOUNT = (ENV_PROMOTER_USER, ENV_PROMOTER_PASSWORD)
STAGE_SECRETS: dict[str, str] = {ENV_NOTIFY_URLS: ENV_NOTIFY_URLS}
# Secrets only some stages get. The model-signing private key: only the stage that signs
# (promote_staging; carprice.registry.signing). The others verify with the public key.
EXTRA_SECRETS: dict[str, tuple[str, ...]] = {
    "monitor": (ENV_PREDLOG_DSN,),
    "maintenance": (ENV_PREDLOG_DSN,),  # deletes old rows of the prediction log
    "promote_staging": (ENV_SIGNING_KEY,),
}


def stage_network(stage: str, deployment: Mapping[str, str]) -> str:
    """The one network ``stage`` joins (see ENV_DOCKER_NETWORK)."""
    egress = stage in EGRESS_STAGES or (stage in NOTIFYING_STAGES
                                        and bool(deployment.get(ENV_NOTIFY_URLS, "").strip()))
    name = (ENV_EGRESS_NETWORK if egress
            else ENV_PREDLOG_NETWORK if stage in PREDLOG_STAGES else ENV_DOCKER_NETWORK)
    return deployment_value(name, deployment)


def stage_account(stage: str) -> tuple[str, str]:
    """The launcher variables (user, password) of the MLflow account ``stage`` signs in with."""
    return PROMOTER_ACCOUNT if stage in definition.PROMOTER_STAGES else TRAINER_ACCOUNT


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


@dataclass(frozen=True)
class Mount:
    source: str  # a volume name, or a HOST path for a bind
    target: str
    type: str = "volume"  # volume | bind
    read_only: bool = False


@dataclass(frozen=True)
class Limits:
    """A stage container's resources (carprice.config.limits, from the launcher's env)."""

    memory: int  # bytes; swap is not allowed on top
    cpus: float
    pids: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        return cls(limits.stage_memory_bytes(env), limits.stage_cpus(env),
                   limits.stage_pids(env))

    @property
    def nano_cpus(self) -> int:
        return int(self.cpus * 1e9)


@dataclass(frozen=True)
class StageContainer:
    """Everything a launcher needs to start one stage container."""

    stage: str
    image: str
    command: list[str]
    environment: dict[str, str]
    secrets: dict[str, str]  # stage variable -> launcher variable holding the value
    mounts: tuple[Mount, ...]
    network: str
    user: str
    labels: dict[str, str]
    name: str
    limits: Limits
    read_only: bool = True
    tmpfs: tuple[tuple[str, str], ...] = tuple(TMPFS.items())
    cap_drop: tuple[str, ...] = CAP_DROP
    security_opt: tuple[str, ...] = SECURITY_OPT

    def host_config(self) -> dict:
        """Limits and hardening as keyword arguments of the Docker SDK's
        ``create_host_config`` (both launchers start containers through it)."""
        return {"mem_limit": self.limits.memory, "memswap_limit": self.limits.memory,
                "nano_cpus": self.limits.nano_cpus, "pids_limit": self.limits.pids,
                "read_only": self.read_only, "tmpfs": dict(self.tmpfs),
                "cap_drop": list(self.cap_drop), "security_opt": list(self.security_opt)}


def stage_container(stage: str, deployment: Mapping[str, str], *, run_id: str, run_name: str,
                    dag_id: str, params_json: str, flags: tuple[str, ...] = (),
                    launcher_labels: Mapping[str, str] | None = None,
                    extra_env: Mapping[str, str] | None = None,
                    candidate: str = "") -> StageContainer:
    """The container of ``stage`` for one run (of a mapped stage: for one ``candidate``,
    named in its command, labels and container name, so candidates run side by side).

    ``deployment``: the launcher's environment (the ENV_ deployment names above).
    ``run_id`` / ``run_name`` (container-name safe) / ``dag_id`` / ``params_json`` may be
    Airflow templates: the DAG renders them per run, the dvc-runner passes plain values.
    """
    image = definition.image_name(stage)
    stage_limits = Limits.from_env(deployment)
    project = deployment_value(ENV_PROJECT, deployment)
    mounts = [Mount(deployment_value(ENV_DATA_VOLUME, deployment), CONTAINER_DATA_DIR)]
    if stage in definition.WRITES_MODELS:  # the exported production copy
        mounts.append(Mount(deployment_value(ENV_MODELS_VOLUME, deployment),
                            CONTAINER_MODELS_DIR))
    elif stage in definition.READS_MODELS:
        mounts.append(Mount(deployment_value(ENV_MODELS_VOLUME, deployment),
                            CONTAINER_MODELS_DIR, read_only=True))
    if stage in definition.READS_INBOX:  # the user's own CSVs, read-only
        mounts.append(Mount(deployment_value(ENV_INBOX_HOST_DIR, deployment),
                            CONTAINER_INBOX_DIR, type="bind", read_only=True))
    environment = {
        ENV_RUN_ID: run_id,
        ENV_DAG_ID: dag_id,
        ENV_IMAGE: image,
        ENV_DATA_DIR: CONTAINER_DATA_DIR,
        ENV_MODELS_DIR: CONTAINER_MODELS_DIR,
        ENV_INBOX_DIR: CONTAINER_INBOX_DIR,
        ENV_PARAMS_JSON: params_json,
        "MLFLOW_TRACKING_URI": deployment_value(ENV_STAGE_MLFLOW_URI, deployment),
        ENV_PUBLIC_MLFLOW_URL: deployment.get(ENV_PUBLIC_MLFLOW_URL, ""),
        # Not a secret: what validate_staging and the exports verify signatures with.
        ENV_SIGNING_PUBLIC_KEY: deployment.get(ENV_SIGNING_PUBLIC_KEY, ""),
        "PYTHONUNBUFFERED": "1",
        **WRITABLE_ENV,
        # The stage's input caps derive from its own limit (carprice.config.limits).
        ENV_STAGE_MEM_LIMIT: str(stage_limits.memory),
        ENV_STAGE_CPUS: str(stage_limits.cpus),
        ENV_STAGE_PIDS: str(stage_limits.pids),
        **({ENV_GIT_COMMIT: deployment[ENV_GIT_COMMIT]} if deployment.get(ENV_GIT_COMMIT)
           else {}),
        **(extra_env or {}),
    }
    secrets = {**dict(zip(ACCOUNT_VARIABLES, stage_account(stage), strict=True)), **STAGE_SECRETS,
               **{name: name for name in EXTRA_SECRETS.get(stage, ())}}
    own = {LABEL_CANDIDATE: candidate} if candidate else {}
    return StageContainer(
        stage=stage, image=image,
        command=[stage, *(["--candidate", candidate] if candidate else []), *flags],
        environment=environment, secrets=secrets, mounts=tuple(mounts),
        network=stage_network(stage, deployment), user=CONTAINER_USER,
        labels={LABEL_PROJECT: project, LABEL_STAGE: stage, LABEL_RUN: run_id, **own,
                **(launcher_labels or {})},
        name="-".join([project, *(p.replace("_", "-") for p in (stage, candidate) if p),
                       run_name]),
        limits=stage_limits)


def secret_values(spec: StageContainer, env: Mapping[str, str]) -> dict[str, str]:
    """The secrets' values from the launcher's ``env``; the stage's MLflow account is required."""
    values = {name: env[source] for name, source in spec.secrets.items() if env.get(source)}
    for name in ACCOUNT_VARIABLES:
        if name not in values:
            raise DeploymentError(f"{spec.secrets[name]} is not set in the launcher's "
                                  f"environment (the MLflow account of {spec.stage})")
    return values
