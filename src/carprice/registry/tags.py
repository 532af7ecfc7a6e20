"""Tag keys, defined once: on registered model versions (written by the stages and the
registry rules, read back for the app) and on the pipeline's MLflow runs."""

from __future__ import annotations

from carprice.registry import PRODUCTION_ALIAS

# ---------------------------------------------------------------- model version tags
# Provenance, recorded by train (StageContext.version_tags, in train_info/<candidate>.json)
# and set by promote_staging when it registers the candidate evaluate chose.
PIPELINE_RUN_ID = "pipeline_run_id"
AIRFLOW_DAG_ID = "airflow_dag_id"
GIT_COMMIT = "git_commit"
IMAGE = "image"
MLFLOW_PARENT_RUN_ID = "mlflow_parent_run_id"
DATA_HASH = "data_hash"
DATA_SOURCE = "data_source"  # the csv_uri it was trained on (inbox/<file>), else "synthetic"
# md5 of the run's raw.parquet as DVC versions it: `carprice data-restore --md5` brings it back
DATA_DVC_MD5 = "data_dvc_md5"
TRAIN_ROWS = "train_rows"
TRAINED_AT = "trained_at"
VALID_RMSE_LOG = "valid_rmse_log"
CANDIDATE = "candidate"  # its name under params candidates (evaluate chose it)
# Decisions: evaluate's (evaluation.json) set by promote_staging, then validate_staging's.
TEST_METRIC_PREFIX = "test_"  # test_rmse_log, test_mape, ... (metrics.regression_metrics)
GATE_DECISION = "gate_decision"  # GATE_PENDING until promote_staging writes Decision.label
GATE_PENDING = "pending"
GATE_PASSED, GATE_REFUSED = "passed", "refused"  # registry.gate.Decision.label
GATE_SUPERSEDED = "superseded"  # a later candidate of the same pipeline run replaced it
GATE_FAILED = "failed"  # its pipeline run failed before the gate could judge it
GATE_REASONS = "gate_reasons"  # registry.Decision.reasons joined with REASONS_SEPARATOR
REASONS_SEPARATOR = " | "
COMPARED_WITH_PRODUCTION = "compared_with_production"
PROMOTION = "promotion"
SMOKE_CHECK = "smoke_check"  # SMOKE_PASSED or SMOKE_FAILED
SMOKE_PASSED, SMOKE_FAILED = "passed", "failed"
# The signature of the version's files, set by promote_staging (registry.signing) and
# copied into the export's meta.json: what serving verifies before it loads a model.
MODEL_DIGEST = "model_digest"
MODEL_SIGNATURE = "model_signature"
MODEL_SIGNED_BY = "model_signed_by"  # the signer's public key (hex)
ROLLED_BACK_TO = "rolled_back_to"
ROLLED_BACK_FROM = "rolled_back_from"
ROLLBACK_REASON = "rollback_reason"
# Audit of promotions and rollbacks: the authenticated Airflow user who triggered the run
# (carprice.config.settings.ENV_TRIGGERED_BY), and the gate's thresholds.
PROMOTED_BY = "promoted_by"  # set by promote_production
ROLLED_BACK_BY = "rolled_back_by"  # set by rollback
# The rollback form's free-text requested_by: a note, never the authenticated user.
ROLLBACK_REQUESTED_BY_NOTE = "rollback_requested_by_note"
# JSON of the thresholds the gate decision used (set by promote_staging with GATE_DECISION);
# promote_production refuses a version judged by a gate looser than params.yaml.
GATE_THRESHOLDS = "gate_thresholds"


def metric_tag(metric: str) -> str:
    """Tag of a test-set metric: rmse_log -> test_rmse_log."""
    return f"{TEST_METRIC_PREFIX}{metric}"


# Alias moves (registry.move_alias), one set per alias.
def alias_since(alias: str) -> str:
    return f"{alias}_since"


def alias_reason(alias: str) -> str:
    return f"{alias}_reason"


def previous(alias: str) -> str:
    return f"previous_{alias}"


PRODUCTION_SINCE = alias_since(PRODUCTION_ALIAS)
PREVIOUS_PRODUCTION = previous(PRODUCTION_ALIAS)

# What the exported production copy's meta.json repeats from the version's tags.
EXPORTED = (TRAINED_AT, TRAIN_ROWS, GIT_COMMIT, DATA_HASH, PIPELINE_RUN_ID)

# ---------------------------------------------------------------- MLflow run tags
RUN_PIPELINE_RUN_ID = "carprice.pipeline_run_id"
RUN_STAGE = "carprice.stage"
RUN_CANDIDATE = "carprice.candidate"  # a mapped stage's run (train): which candidate
RUN_DAG_ID = "carprice.dag_id"
RUN_GIT_COMMIT = "carprice.git_commit"
RUN_FINGERPRINT = "carprice.fingerprint"
RUN_DATA_HASH = "carprice.data_hash"
RUN_OUTCOME = "carprice.outcome"
RUN_GATE_DECISION = "carprice.gate_decision"  # evaluate's run: the candidate's verdict
RUN_EXPLANATION = "carprice.explanation"
RUN_MODEL_NAME = "carprice.model_name"  # monitoring and rollback runs: the version concerned
RUN_MODEL_VERSION = "carprice.model_version"
RUN_RETRAIN = "carprice.retrain"
RUN_REASON = "carprice.reason"
RUN_ROLLED_BACK_FROM = "carprice.rolled_back_from"
RUN_TRIGGERED_BY = "carprice.triggered_by"  # promotion and rollback runs: the Airflow user
RUN_PARENT = "mlflow.parentRunId"  # MLflow's own key: nests a stage run under the pipeline's
