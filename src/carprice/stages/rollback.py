"""rollback: point ``production`` back at an earlier version, say who asked and why,
and re-export the copy the app serves without MLflow.

Params ``rollback.to_version`` (blank: the current version's ``previous_production``),
``rollback.requested_by`` (blank: $CARPRICE_REQUESTED_BY) and ``rollback.reason``.
"""

from __future__ import annotations

import os
import sys

import mlflow
import pandas as pd
from mlflow import MlflowClient

from carprice import pipeline
from carprice.registry import export_version, rollback, tag_version
from carprice.stages.runner import StageContext, main

ROLLBACK_FILE = "rollback_info.json"
MAX_TEXT = 500  # free text from the trigger form, stored as registry tags


def request(params: dict) -> dict:
    """(to_version or None, requested_by, reason) from params, blanks filled."""
    p = params["rollback"]
    return {
        "to_version": str(p.get("to_version") or "").strip() or None,
        "requested_by": (str(p.get("requested_by") or "").strip()
                         or os.environ.get(pipeline.ENV_REQUESTED_BY, "").strip()
                         or "unknown")[:MAX_TEXT],
        "reason": (str(p.get("reason") or "").strip() or "no reason given")[:MAX_TEXT],
    }


def notice(result: dict) -> str:
    """The one-line message about a rollback, for people (notifications send this)."""
    return (f"{result['model']}: production rolled back from v{result['from_version']} to "
            f"v{result['to_version']} by {result['requested_by']}: {result['reason']}")


def run(ctx: StageContext) -> dict:
    asked = request(ctx.params)
    client, name = MlflowClient(), ctx.model_name
    result = rollback(client, name, asked["to_version"])
    result.update(requested_by=asked["requested_by"], reason=asked["reason"],
                  at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    tag_version(client, name, result["to_version"], {
        "rollback_requested_by": result["requested_by"], "rollback_reason": result["reason"],
        "rolled_back_from": result["from_version"]})
    tags = client.get_model_version(name, result["to_version"]).tags
    export = export_version(name, result["to_version"], ctx.models_dir, {
        "tags": tags, "rollback": result,
        **{k: tags.get(k) for k in ("trained_at", "train_rows", "git_commit", "data_hash",
                                    "pipeline_run_id")},
    })
    result["exported_to"] = str(export)
    result["message"] = notice(result)
    ctx.write_json(ROLLBACK_FILE, result)
    mlflow.set_tags({"carprice.model_name": name, "carprice.model_version": result["to_version"],
                     "carprice.rolled_back_from": result["from_version"],
                     "carprice.requested_by": result["requested_by"]})
    mlflow.log_dict(result, "rollback/rollback.json")
    return {"model_name": name, "from_version": result["from_version"],
            "to_version": result["to_version"], "requested_by": result["requested_by"],
            "reason": result["reason"], "exported_to": result["exported_to"],
            "message": result["message"]}


if __name__ == "__main__":
    sys.exit(main("rollback", run))
