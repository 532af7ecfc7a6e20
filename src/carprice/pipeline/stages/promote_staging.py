"""promote_staging: register the candidate evaluate chose and gated as a version of the
served model, tag it with its provenance and the gate decision, and point ``staging`` at
it, or skip (refused, clearly labelled) with the reasons tagged on the version. A version
that passed is signed (carprice.registry.signing) before ``staging`` moves: only what the
gate passed can be served.

The first stage that runs as the promoter account: train and evaluate (the trainer) only log
the candidate and judge it. A refused candidate is registered too, so every judged model is
in the registry with its reasons. A retry reuses the version this pipeline run registered.
"""

from __future__ import annotations

import json

from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext, StageSkipped
from carprice.registry import STAGING_ALIAS, signing, tags
from carprice.registry.aliases import move_alias, register_candidate, tag_version


def decision_tags(evaluation: dict) -> dict:
    """The version tags of evaluate's judgement (evaluation.json)."""
    decision = evaluation["decision"]
    return {**{tags.metric_tag(k): round(v, 5) for k, v in evaluation["metrics"].items()},
            tags.GATE_DECISION: decision["label"],
            tags.GATE_REASONS: tags.REASONS_SEPARATOR.join(decision["reasons"]),
            tags.COMPARED_WITH_PRODUCTION: evaluation.get("production_version") or "none",
            # what promote_production checks against params.yaml before it promotes
            tags.GATE_THRESHOLDS: json.dumps(evaluation["gate_thresholds"], sort_keys=True)}


def run(ctx: StageContext) -> dict:
    from mlflow import MlflowClient

    evaluation = ctx.read_json(run_folder.EVALUATION)
    # the candidate evaluate chose and gated
    trained = ctx.read_json(run_folder.train_info(evaluation["candidate"]))
    decision = evaluation["decision"]
    client = MlflowClient()
    judged = decision_tags(evaluation)
    label = {tags.GATE_DECISION: judged.pop(tags.GATE_DECISION)}
    # The judgement's metrics and reasons go in with the version, in its one create call
    # (MLflow has no batch call for version tags: each costs two requests). The decision
    # label comes last: until then the version stays pending (report closes it if the run
    # fails here).
    version = register_candidate(client, ctx.model_name, trained["model_uri"], ctx.run_id,
                                 {**trained["version_tags"], **judged})
    tag_version(client, ctx.model_name, version, label)
    if not decision["passed"]:
        tag_version(client, ctx.model_name, version, {tags.PROMOTION: "refused by gate"})
        failed = [r for r in decision["reasons"] if r.startswith("FAIL")]
        raise StageSkipped(f"gate refused v{version}: {'; '.join(failed)}",
                           model_version=version)
    signing.sign_version(client, ctx.model_name, version)
    move_alias(client, ctx.model_name, STAGING_ALIAS, version, reason="passed the gate")
    return {"model_version": version, "alias": STAGING_ALIAS, "gate": decision["label"]}
