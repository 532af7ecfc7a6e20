"""promote_production: point ``production`` at the version ``staging`` points at, remember
the one it replaces (for rollback), record who triggered the run, and export a copy for
serving without MLflow.

The registry decides, not the run folder (every stage can write evaluation.json): the
staging version's MLflow tags must say it passed the gate, judged with thresholds no looser
than params.yaml, and the smoke check. Otherwise a one-line refusal and nothing moves."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from carprice.config import gate_floor, settings
from carprice.monitoring import notify
from carprice.pipeline.runner import StageContext
from carprice.registry import PRODUCTION_ALIAS, STAGING_ALIAS, tags
from carprice.registry.aliases import RegistryRefusal, move_alias, version_for_alias
from carprice.registry.export import export_version
from carprice.serving.model_source import version_info

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

REASON = "passed the gate and the smoke check"


def approved_staging(client: MlflowClient, name: str, floor: dict,
                     evaluated: str | None = None) -> ModelVersion:
    """The version ``staging`` points at, if its tags approve it for production; else
    RegistryRefusal. ``floor``: the gate thresholds of params.yaml; ``evaluated``: the
    version this run's promote_staging registered (a cross-check only)."""
    staged = version_for_alias(client, name, STAGING_ALIAS)
    if staged is None:
        raise RegistryRefusal(f"{name} has no {STAGING_ALIAS} alias: nothing to promote")
    version, found = str(staged.version), staged.tags or {}
    who = f"{name} v{version} ({STAGING_ALIAS})"
    if evaluated is not None and str(evaluated) != version:
        raise RegistryRefusal(f"{STAGING_ALIAS} points at v{version}, but this run evaluated "
                              f"v{evaluated}: not promoted")
    if found.get(tags.GATE_DECISION) != tags.GATE_PASSED:
        raise RegistryRefusal(f"{who} has {tags.GATE_DECISION}="
                              f"{found.get(tags.GATE_DECISION) or 'none'}: not promoted")
    if found.get(tags.SMOKE_CHECK) != tags.SMOKE_PASSED:
        raise RegistryRefusal(f"{who} has {tags.SMOKE_CHECK}="
                              f"{found.get(tags.SMOKE_CHECK) or 'none'}: not promoted")
    try:
        used = json.loads(found[tags.GATE_THRESHOLDS])
        looser = gate_floor.refusal(floor, used)
    except (KeyError, TypeError, ValueError):
        raise RegistryRefusal(f"{who} has no valid {tags.GATE_THRESHOLDS} tag: "
                              "not promoted") from None
    if looser:
        raise RegistryRefusal(f"{who} was judged by a looser gate ({looser}): not promoted")
    return staged


def run(ctx: StageContext) -> dict:
    import mlflow
    from mlflow import MlflowClient

    client, name = MlflowClient(), ctx.model_name
    evaluated = ctx.registered_version()  # what promote_staging registered
    staged = approved_staging(client, name, ctx.params.gate.model_dump(), evaluated)
    version, user = str(staged.version), settings.current().triggered_by
    previous = move_alias(client, name, PRODUCTION_ALIAS, version, reason=REASON,
                          audit={tags.PROMOTED_BY: user})
    mlflow.set_tag(tags.RUN_TRIGGERED_BY, user)
    promoted = client.get_model_version(name, version)
    version_tags, metrics = promoted.tags, version_info(promoted)["metrics"]
    reasons = version_tags.get(tags.GATE_REASONS, "")
    export = export_version(name, version, ctx.models_dir, {
        "metrics": metrics, "tags": version_tags,
        "gate": {"passed": True, "label": tags.GATE_PASSED,
                 "reasons": reasons.split(tags.REASONS_SEPARATOR) if reasons else []},
        **{k: version_tags.get(k) for k in tags.EXPORTED},
    })
    notify.send(*notify.promotion_message(name, version, metrics, previous,
                                          f"{REASON}; triggered by {user}"))
    return {"model_version": version, "alias": PRODUCTION_ALIAS,
            "previous_production": previous, "promoted_by": user,
            "exported_to": str(export)}
