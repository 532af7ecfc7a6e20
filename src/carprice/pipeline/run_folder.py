"""File names in a pipeline run folder (``data/runs/<run id>/``), defined once.

Each stage reads what earlier stages wrote here; dvc.yaml lists the same names.
"""

from __future__ import annotations

from pathlib import Path

from carprice.pipeline.definition import safe_name

RUN = "run.json"  # the pipeline's parent MLflow run, written by the first stage
RAW = "raw.parquet"
INGEST_INFO = "ingest_info.json"
CLEAN = "clean.parquet"
VALIDATION_REPORT_JSON = "validation_report.json"
VALIDATION_REPORT_MD = "validation_report.md"
SPLITS: dict[str, str] = {"train": "train.parquet", "valid": "valid.parquet",
                          "test": "test.parquet"}
TRAIN_INFO_DIR = "train_info"  # train_info/<candidate>.json: one per trained candidate
EVALUATION = "evaluation.json"
PIPELINE_REPORT_JSON = "pipeline_report.json"
PIPELINE_REPORT_MD = "pipeline_report.md"
# Monitoring and rollback (their own run folders).
DRIFT = "drift.json"
DRIFT_REPORT = "drift_report.html"
DRIFT_ARTIFACTS = "drift"  # MLflow artifact folder of both
ROLLBACK_INFO = "rollback_info.json"

# Evaluation tables: written to the run folder and logged under this MLflow artifact folder.
EVALUATION_ARTIFACTS = "evaluation"
TEST_PREDICTIONS = "test_predictions.csv"
ERROR_BY_BRAND = "error_by_brand.csv"
ERROR_BY_PRICE_BAND = "error_by_price_band.csv"
FEATURE_IMPORTANCE = "feature_importance.csv"


def stage_summary(stage: str, candidate: str = "") -> str:
    """The JSON summary a stage leaves in the run folder (its last output line); a mapped
    stage leaves one per candidate (``train.<candidate>.json``)."""
    return f"{stage}.{candidate}.json" if candidate else f"{stage}.json"


def train_info(candidate: str) -> str:
    """What train wrote about ``candidate`` (its logged model, metrics, version tags)."""
    return f"{TRAIN_INFO_DIR}/{candidate}.json"


def run_folder(data_dir: Path, run_id: str) -> Path:
    """``<data dir>/runs/<run id, made safe for a folder name>``."""
    return Path(data_dir) / "runs" / safe_name(run_id)
