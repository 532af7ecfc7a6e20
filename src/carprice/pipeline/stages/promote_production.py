"""promote_production: point ``production`` at the validated version, remember the
one it replaces (for rollback) and export a copy for serving without MLflow."""

from __future__ import annotations

from carprice.monitoring import notify
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext
from carprice.registry import PRODUCTION_ALIAS, tags
from carprice.registry.aliases import move_alias
from carprice.registry.export import export_version


def run(ctx: StageContext) -> dict:
    from mlflow import MlflowClient

    evaluation = ctx.read_json(run_folder.EVALUATION)
    version = ctx.registered_version()  # what promote_staging registered
    client = MlflowClient()
    previous = move_alias(client, ctx.model_name, PRODUCTION_ALIAS, version,
                          reason="passed the gate and the smoke check")
    version_tags = client.get_model_version(ctx.model_name, version).tags
    export = export_version(ctx.model_name, version, ctx.models_dir, {
        "metrics": evaluation["metrics"], "gate": evaluation["decision"], "tags": version_tags,
        **{k: version_tags.get(k) for k in tags.EXPORTED},
    })
    notify.send(*notify.promotion_message(ctx.model_name, version, evaluation["metrics"],
                                          previous, "passed the gate and the smoke check"))
    return {"model_version": version, "alias": PRODUCTION_ALIAS,
            "previous_production": previous, "exported_to": str(export)}
