"""Every setting the package reads from its environment, typed, in one object.

Callers ask ``current()`` when they need a value (never at import time), so a process
sees its environment as it is then. The launchers set the stage variables
(carprice.pipeline.container); the stack's own are documented in .env.example.
A bad value stops the caller with one line naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carprice.errors import InputError, one_line

# A stage's folders and provenance (set by the launchers).
ENV_RUN_ID = "CARPRICE_RUN_ID"
ENV_DATA_DIR = "CARPRICE_DATA_DIR"
ENV_MODELS_DIR = "CARPRICE_MODELS_DIR"
ENV_INBOX_DIR = "CARPRICE_INBOX_DIR"  # csv_uri inbox/<file> (default: <data dir>/inbox)
ENV_DAG_ID = "CARPRICE_DAG_ID"
ENV_IMAGE = "CARPRICE_IMAGE"
ENV_GIT_COMMIT = "CARPRICE_GIT_COMMIT"
# Which candidate (params candidates) a mapped stage (pipeline.definition.MAPPED_STAGES) runs.
ENV_CANDIDATE = "CARPRICE_CANDIDATE"
# The authenticated Airflow user who triggered the DAG run, set by the DAG for every stage:
# the audit tags of promotions and rollbacks name it. SCHEDULER_USER when no user triggered
# it (a scheduled run); unset outside Airflow (carprice run, dvc repro): LOCAL_USER.
ENV_TRIGGERED_BY = "CARPRICE_TRIGGERED_BY"
SCHEDULER_USER, LOCAL_USER = "scheduler", "local"
# Params (params.yaml, and the launcher's overrides as JSON with dotted keys).
ENV_PARAMS_FILE = "CARPRICE_PARAMS_FILE"
ENV_PARAMS_JSON = "CARPRICE_PARAMS_JSON"
# Serving: which model, how often the alias is read again, the prediction log.
ENV_MODEL_NAME = "CARPRICE_MODEL_NAME"
ENV_ALIAS_TTL = "CARPRICE_ALIAS_TTL_SECONDS"
ENV_PREDLOG_DSN = "CARPRICE_PREDLOG_DSN"
# The prediction API's door (carprice.api.guard): the key its /predict routes require and
# the per-client rate limit (limits' notation, e.g. "20/second;600/minute").
ENV_API_KEY = "CARPRICE_API_KEY"
ENV_API_RATE_LIMIT = "CARPRICE_API_RATE_LIMIT"
# Prometheus of the `monitoring` profile, read by the app's Model page (basic auth: the
# same account the stack's .env gives Prometheus itself). Unset: the profile is off.
ENV_PROMETHEUS_URL = "CARPRICE_PROMETHEUS_URL"
ENV_PROMETHEUS_USER = "PROMETHEUS_USER"
ENV_PROMETHEUS_PASSWORD = "PROMETHEUS_PASSWORD"
# Notifications: Apprise URLs (may hold tokens) and the MLflow UI as a browser reaches it.
ENV_NOTIFY_URLS = "CARPRICE_NOTIFY_URLS"
ENV_PUBLIC_MLFLOW_URL = "CARPRICE_PUBLIC_MLFLOW_URL"
# alert-relay: the folder whose volume it reports free space of (the data volume)
ENV_DISK_PATH = "CARPRICE_DISK_PATH"
# Model signatures (carprice.registry.signing): the Ed25519 private key (hex 32-byte seed)
# only the promoting stages hold, and the public key serving verifies with.
ENV_SIGNING_KEY = "CARPRICE_SIGNING_KEY"
ENV_SIGNING_PUBLIC_KEY = "CARPRICE_SIGNING_PUBLIC_KEY"
# Untrusted data sources (carprice.sources.safe_read).
ENV_SOURCE_ALLOWED_HOSTS = "CARPRICE_SOURCE_ALLOWED_HOSTS"
ENV_SOURCE_MAX_BYTES = "CARPRICE_SOURCE_MAX_BYTES"
ENV_SOURCE_TIMEOUT = "CARPRICE_SOURCE_TIMEOUT"
# Each stage container's limits (carprice.config.limits; docker-compose-full.yml hands them
# to the launchers and the launchers to the stages, whose input caps derive from them).
ENV_STAGE_MEM_LIMIT = "CARPRICE_STAGE_MEM_LIMIT"
ENV_STAGE_CPUS = "CARPRICE_STAGE_CPUS"
ENV_STAGE_PIDS = "CARPRICE_STAGE_PIDS"
# MLflow's own variable: unset means a local ./mlflow.db.
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
# The trainer's MLflow account in the Streamlit container, for scripts/train_with_mlflow.py
# only (the app itself reads as the reader). No promoter account is ever held there.
ENV_SCRIPT_TRAINER_USER = "CARPRICE_TRAINER_USER"
ENV_SCRIPT_TRAINER_PASSWORD = "CARPRICE_TRAINER_PASSWORD"
# Schedule of the carprice_maintenance DAG (read when airflow/dags/ is parsed): a cron
# preset or expression, or "none" for manual triggers only.
ENV_MAINTENANCE_SCHEDULE = "CARPRICE_MAINTENANCE_SCHEDULE"
# Airflow 3 blocks its metadata database inside tasks (the task runner swaps the DSN for a
# placeholder); the maintenance DAG's `airflow db clean` gets the worker's own DSN from here.
ENV_AIRFLOW_METADATA_DSN = "CARPRICE_AIRFLOW_METADATA_DSN"
# Set in the stack's dvc-runner image: dvc.yaml's stages run as sibling containers there.
ENV_DVC_DOCKER = "CARPRICE_DVC_DOCKER"

DEFAULT_ALIAS_TTL = 30.0


class SettingsError(InputError):
    """An environment variable with a value the package cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True,
                                      str_strip_whitespace=True, extra="ignore")

    run_id: str = Field(default="local", validation_alias=ENV_RUN_ID)
    data_dir: Path = Field(default=Path("data"), validation_alias=ENV_DATA_DIR)
    models_dir: Path = Field(default=Path("models"), validation_alias=ENV_MODELS_DIR)
    inbox_dir: Path | None = Field(default=None, validation_alias=ENV_INBOX_DIR)
    dag_id: str = Field(default="local", validation_alias=ENV_DAG_ID)
    image: str = Field(default="local", validation_alias=ENV_IMAGE)
    git_commit: str = Field(default="", validation_alias=ENV_GIT_COMMIT)
    triggered_by: str = Field(default=LOCAL_USER, validation_alias=ENV_TRIGGERED_BY)
    params_file: Path = Field(default=Path("params.yaml"), validation_alias=ENV_PARAMS_FILE)
    params_json: str = Field(default="", validation_alias=ENV_PARAMS_JSON)
    model_name: str = Field(default="", validation_alias=ENV_MODEL_NAME)
    alias_ttl_seconds: float = Field(default=DEFAULT_ALIAS_TTL, validation_alias=ENV_ALIAS_TTL)
    predlog_dsn: str = Field(default="", validation_alias=ENV_PREDLOG_DSN)
    api_key: str = Field(default="", validation_alias=ENV_API_KEY, repr=False)
    api_rate_limit: str = Field(default="", validation_alias=ENV_API_RATE_LIMIT)
    prometheus_url: str = Field(default="", validation_alias=ENV_PROMETHEUS_URL)
    prometheus_user: str = Field(default="", validation_alias=ENV_PROMETHEUS_USER)
    prometheus_password: str = Field(default="", validation_alias=ENV_PROMETHEUS_PASSWORD,
                                     repr=False)
    notify_urls: str = Field(default="", validation_alias=ENV_NOTIFY_URLS)
    public_mlflow_url: str = Field(default="", validation_alias=ENV_PUBLIC_MLFLOW_URL)
    disk_path: Path = Field(default=Path("data"), validation_alias=ENV_DISK_PATH)
    signing_key: str = Field(default="", validation_alias=ENV_SIGNING_KEY, repr=False)
    signing_public_key: str = Field(default="", validation_alias=ENV_SIGNING_PUBLIC_KEY)
    source_allowed_hosts: str = Field(default="", validation_alias=ENV_SOURCE_ALLOWED_HOSTS)
    source_max_bytes: float | None = Field(default=None, validation_alias=ENV_SOURCE_MAX_BYTES)
    source_timeout: float | None = Field(default=None, validation_alias=ENV_SOURCE_TIMEOUT)
    tracking_uri: str | None = Field(default=None, validation_alias=ENV_TRACKING_URI)
    dvc_docker: bool = Field(default=False, validation_alias=ENV_DVC_DOCKER)

    @field_validator("alias_ttl_seconds", mode="wrap")
    @classmethod
    def _ttl_or_default(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> float:
        # a serving setting: a typo must not take the app or the API down
        try:
            return max(0.5, float(handler(value)))
        except ValidationError:
            return DEFAULT_ALIAS_TTL

    @field_validator("source_max_bytes", "source_timeout", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if value is None:  # unset: the caller's default
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if not 0 < number < float("inf"):
            raise ValueError("must be a positive number")
        return number

    @property
    def inbox(self) -> Path:
        """The only folder local CSVs are read from."""
        return self.inbox_dir or self.data_dir / "inbox"

    @property
    def notify_url_list(self) -> list[str]:
        return [u.strip() for u in self.notify_urls.split(",") if u.strip()]


def current() -> Settings:
    """The settings as the environment says now; SettingsError (one line) on a bad value."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "a setting"
        reason = first["msg"].removeprefix("Value error, ")
        raise SettingsError(one_line(f"{name} {reason}, "
                                     f"got {str(first.get('input'))[:40]!r}")) from None
