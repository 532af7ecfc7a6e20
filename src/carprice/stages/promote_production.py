"""promote_production: point ``production`` at the validated version, remember the
one it replaces (for rollback) and export a copy for serving without MLflow."""

from __future__ import annotations

import sys

from carprice.pipeline import PRODUCTION_ALIAS
from carprice.registry import export_version, move_alias
from carprice.stages.runner import StageContext, main
from mlflow import MlflowClient


def run(ctx: StageContext) -> dict:
    evaluation = ctx.read_json("evaluation.json")
    version = evaluation["model_version"]
    previous = move_alias(MlflowClient(), ctx.model_name, PRODUCTION_ALIAS, version,
                          reason="passed the gate and the smoke check")
    export = export_version(ctx.model_name, version, ctx.models_dir, {
        "metrics": evaluation["metrics"], "gate": evaluation["decision"],
        "pipeline_run_id": ctx.run_id, "data_hash": ctx.read_json("ingest_info.json")["data_hash"],
    })
    return {"model_version": version, "alias": PRODUCTION_ALIAS,
            "previous_production": previous, "exported_to": str(export)}


if __name__ == "__main__":
    sys.exit(main("promote_production", run))
