"""rollback: point ``production`` back at an earlier version, say who asked and why,
and re-export the copy the app serves without MLflow.

Params ``rollback.to_version`` (blank: the current version's ``previous_production``),
``rollback.requested_by`` (blank: $CARPRICE_REQUESTED_BY) and ``rollback.reason``.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow import MlflowClient

from carprice.config import settings
from carprice.config.params import RollbackParams
from carprice.monitoring import notify
from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext
from carprice.registry import tags
from carprice.registry.aliases import rollback, tag_version
from carprice.registry.export import export_version
from carprice.serving.model_source import version_info

MAX_TEXT = 500  # free text from the trigger form, stored as registry tags


def request(p: RollbackParams) -> dict:
    """(to_version or None, requested_by, reason) from params, blanks filled."""
    return {
        "to_version": p.to_version.strip() or None,
        "requested_by": (p.requested_by.strip() or settings.current().requested_by
                         or "unknown")[:MAX_TEXT],
        "reason": (p.reason.strip() or "no reason given")[:MAX_TEXT],
    }


def notice(result: dict) -> str:
    """The one-line message about a rollback, for people (notifications send this)."""
    return (f"{result['model']}: production rolled back from v{result['from_version']} to "
            f"v{result['to_version']} by {result['requested_by']}: {result['reason']}")


def run(ctx: StageContext) -> dict:
    asked = request(ctx.params.rollback)
    client, name = MlflowClient(), ctx.model_name
    result = rollback(client, name, asked["to_version"])
    result.update(requested_by=asked["requested_by"], reason=asked["reason"],
                  at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    tag_version(client, name, result["to_version"], {
        tags.ROLLBACK_REQUESTED_BY: result["requested_by"],
        tags.ROLLBACK_REASON: result["reason"], tags.ROLLED_BACK_FROM: result["from_version"]})
    target = client.get_model_version(name, result["to_version"])
    found = target.tags
    export = export_version(name, result["to_version"], ctx.models_dir, {
        "tags": found, "rollback": result, **{k: found.get(k) for k in tags.EXPORTED}})
    result["exported_to"] = str(export)
    result["message"] = notice(result)
    ctx.write_json(run_folder.ROLLBACK_INFO, result)
    mlflow.set_tags({tags.RUN_MODEL_NAME: name, tags.RUN_MODEL_VERSION: result["to_version"],
                     tags.RUN_ROLLED_BACK_FROM: result["from_version"],
                     tags.RUN_REQUESTED_BY: result["requested_by"]})
    notify.send(*notify.promotion_message(
        name, result["to_version"], version_info(target)["metrics"], result["from_version"],
        f"rollback by {result['requested_by']}: {result['reason']}"))
    mlflow.log_dict(result, "rollback/rollback.json")
    return {"model_name": name, "from_version": result["from_version"],
            "to_version": result["to_version"], "requested_by": result["requested_by"],
            "reason": result["reason"], "exported_to": result["exported_to"],
            "message": result["message"]}
