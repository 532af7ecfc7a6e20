"""promote_staging: apply the gate decision; sign the candidate's files and point
``staging`` at it, or skip (refused, clearly labelled) with the reasons tagged on the
version."""

from __future__ import annotations

from carprice.pipeline import run_folder
from carprice.pipeline.runner import StageContext, StageSkipped
from carprice.registry import STAGING_ALIAS, signing, tags
from carprice.registry.aliases import move_alias, tag_version


def run(ctx: StageContext) -> dict:
    from mlflow import MlflowClient

    evaluation = ctx.read_json(run_folder.EVALUATION)
    version = evaluation["model_version"]
    decision = evaluation["decision"]
    client = MlflowClient()
    if not decision["passed"]:
        tag_version(client, ctx.model_name, version, {tags.PROMOTION: "refused by gate"})
        failed = [r for r in decision["reasons"] if r.startswith("FAIL")]
        raise StageSkipped(f"gate refused v{version}: {'; '.join(failed)}")
    # Signed before the alias moves: only what the gate passed can be served.
    signing.sign_version(client, ctx.model_name, version)
    move_alias(client, ctx.model_name, STAGING_ALIAS, version, reason="passed the gate")
    return {"model_version": version, "alias": STAGING_ALIAS, "gate": decision["label"]}
