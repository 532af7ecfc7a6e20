"""rollback: point ``production`` back at an earlier version, record who did it and why,
and re-export the copy the app serves without MLflow.

Params ``rollback.to_version`` (blank: the current version's ``previous_production``),
``rollback.requested_by`` (free text, kept as a note) and ``rollback.reason``. Who rolled
back is the authenticated Airflow user ($CARPRICE_TRIGGERED_BY), never the form's text.
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
from carprice.registry.aliases import rollback
from carprice.registry.export import export_version
from carprice.serving.model_source import version_info

MAX_TEXT = 500  # free text from the trigger form, stored as registry tags


def request(p: RollbackParams) -> dict:
    """(to_version or None, rolled_back_by, requested_by note, reason), blanks filled."""
    return {
        "to_version": p.to_version.strip() or None,
        "rolled_back_by": settings.current().triggered_by[:MAX_TEXT],
        "requested_by": p.requested_by.strip()[:MAX_TEXT],
        "reason": (p.reason.strip() or "no reason given")[:MAX_TEXT],
    }


def notice(result: dict) -> str:
    """The one-line message about a rollback, for people (notifications send this)."""
    note = f" (requested by {result['requested_by']})" if result["requested_by"] else ""
    return (f"{result['model']}: production rolled back from v{result['from_version']} to "
            f"v{result['to_version']} by {result['rolled_back_by']}{note}: {result['reason']}")


def run(ctx: StageContext) -> dict:
    asked = request(ctx.params.rollback)
    client, name = MlflowClient(), ctx.model_name
    # Every audit tag is set before the alias moves; the note is always rewritten, so a
    # note of an earlier rollback never stays on the version.
    result = rollback(client, name, asked["to_version"], audit={
        tags.ROLLED_BACK_BY: asked["rolled_back_by"], tags.ROLLBACK_REASON: asked["reason"],
        tags.ROLLBACK_REQUESTED_BY_NOTE: asked["requested_by"] or "none"})
    result.update(rolled_back_by=asked["rolled_back_by"], requested_by=asked["requested_by"],
                  reason=asked["reason"],
                  at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    target = client.get_model_version(name, result["to_version"])
    found = target.tags
    export = export_version(name, result["to_version"], ctx.models_dir, {
        "tags": found, "rollback": result, **{k: found.get(k) for k in tags.EXPORTED}})
    result["exported_to"] = str(export)
    result["message"] = notice(result)
    ctx.write_json(run_folder.ROLLBACK_INFO, result)
    mlflow.set_tags({tags.RUN_MODEL_NAME: name, tags.RUN_MODEL_VERSION: result["to_version"],
                     tags.RUN_ROLLED_BACK_FROM: result["from_version"],
                     tags.RUN_TRIGGERED_BY: result["rolled_back_by"]})
    notify.send(*notify.promotion_message(
        name, result["to_version"], version_info(target)["metrics"], result["from_version"],
        f"rollback by {result['rolled_back_by']}: {result['reason']}"))
    mlflow.log_dict(result, "rollback/rollback.json")
    return {"model_name": name, "from_version": result["from_version"],
            "to_version": result["to_version"], "rolled_back_by": result["rolled_back_by"],
            "requested_by": result["requested_by"], "reason": result["reason"],
            "exported_to": result["exported_to"], "message": result["message"]}
