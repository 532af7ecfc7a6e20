"""validate: check raw.parquet against the data contract; write clean.parquet and
the validation report (JSON + markdown); fail with a one-line reason on bad data."""

from __future__ import annotations

import pandas as pd

from carprice.contract.validation import (
    Thresholds,
    ValidationError,
    summary_markdown,
    validate_dataset,
)
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext


def run(ctx: StageContext) -> dict:
    import mlflow

    raw = pd.read_parquet(ctx.path(run_folder.RAW))
    try:
        clean, report = validate_dataset(raw, Thresholds(**ctx.params.validate_.model_dump()))
    except ValidationError as exc:
        if exc.report:
            _write(ctx, exc.report)
        raise
    clean.to_parquet(ctx.path(run_folder.CLEAN), index=False)
    _write(ctx, report)
    mlflow.log_metrics({"rows_in": report["rows_in"], "rows_out": report["rows_out"],
                        "rows_invalid": report["rows_invalid"],
                        "rows_duplicate": report["rows_duplicate"]})
    return {k: report[k] for k in ("rows_in", "rows_out", "rows_invalid", "rows_duplicate")}


def _write(ctx: StageContext, report: dict) -> None:
    import mlflow

    ctx.write_json(run_folder.VALIDATION_REPORT_JSON, report)
    ctx.path(run_folder.VALIDATION_REPORT_MD).write_text(summary_markdown(report))
    for name in (run_folder.VALIDATION_REPORT_JSON, run_folder.VALIDATION_REPORT_MD):
        mlflow.log_artifact(str(ctx.path(name)), "validation")
