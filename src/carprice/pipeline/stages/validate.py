"""validate: check raw.parquet against the data contract; write clean.parquet (without the
invalid rows, duplicates and price outliers) and the validation report (JSON + markdown);
fail with a one-line reason on bad data."""

from __future__ import annotations

from carprice.contract.validation import (
    Thresholds,
    ValidationError,
    summary_markdown,
    validate_dataset,
)
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext
from carprice.sources import safe_read

# The report's row counts: logged to MLflow and the stage's result. Outliers (left out, like
# invalid rows) are listed in the report's "outliers" and its markdown.
COUNTS = ("rows_in", "rows_out", "rows_invalid", "rows_duplicate", "rows_outlier")


def run(ctx: StageContext) -> dict:
    import mlflow

    raw = safe_read.read_parquet(ctx.path(run_folder.RAW))
    try:
        clean, report = validate_dataset(raw, Thresholds(**ctx.params.validate_.model_dump()))
    except ValidationError as exc:
        if exc.report:
            _write(ctx, exc.report)
        raise
    clean.to_parquet(ctx.path(run_folder.CLEAN), index=False)
    _write(ctx, report)
    counts = {k: report[k] for k in COUNTS}
    mlflow.log_metrics(counts)
    return counts


def _write(ctx: StageContext, report: dict) -> None:
    import mlflow

    ctx.write_json(run_folder.VALIDATION_REPORT_JSON, report)
    ctx.path(run_folder.VALIDATION_REPORT_MD).write_text(summary_markdown(report))
    for name in (run_folder.VALIDATION_REPORT_JSON, run_folder.VALIDATION_REPORT_MD):
        mlflow.log_artifact(str(ctx.path(name)), "validation")
