"""validate: check raw.parquet against the data contract; write clean.parquet and
the validation report (JSON + markdown); fail with a one-line reason on bad data."""

from __future__ import annotations

import sys

import mlflow
import pandas as pd

from carprice.stages.runner import StageContext, main
from carprice.validation import Thresholds, ValidationError, summary_markdown, validate_dataset


def run(ctx: StageContext) -> dict:
    raw = pd.read_parquet(ctx.path("raw.parquet"))
    try:
        clean, report = validate_dataset(raw, Thresholds(**ctx.params["validate"]))
    except ValidationError as exc:
        if exc.report:
            _write(ctx, exc.report)
        raise
    clean.to_parquet(ctx.path("clean.parquet"), index=False)
    _write(ctx, report)
    mlflow.log_metrics({"rows_in": report["rows_in"], "rows_out": report["rows_out"],
                        "rows_invalid": report["rows_invalid"],
                        "rows_duplicate": report["rows_duplicate"]})
    return {k: report[k] for k in ("rows_in", "rows_out", "rows_invalid", "rows_duplicate")}


def _write(ctx: StageContext, report: dict) -> None:
    ctx.write_json("validation_report.json", report)
    ctx.path("validation_report.md").write_text(summary_markdown(report))
    mlflow.log_artifact(str(ctx.path("validation_report.json")), "validation")
    mlflow.log_artifact(str(ctx.path("validation_report.md")), "validation")


if __name__ == "__main__":
    sys.exit(main("validate", run))
