"""validate_staging: load the staging version (pinned) with the serving code, signature
check included, and check its answers on fixed examples before it may reach production."""

from __future__ import annotations

from carprice.model.pyfunc import smoke_check
from carprice.pipeline.runner import StageContext
from carprice.registry import STAGING_ALIAS, tags
from carprice.registry.aliases import RegistryError, tag_version, version_for_alias
from carprice.serving.model_source import load_model, version_resolution


def run(ctx: StageContext) -> dict:
    import mlflow
    from mlflow import MlflowClient

    version = ctx.registered_version()
    client = MlflowClient()
    staged = version_for_alias(client, ctx.model_name, STAGING_ALIAS)
    if staged is None or str(staged.version) != version:
        raise RegistryError(f"{STAGING_ALIAS} no longer points at v{version}")
    model = load_model(version_resolution(ctx.model_name, staged, mlflow.get_tracking_uri()))
    try:
        result = smoke_check(model)
    except Exception:
        tag_version(client, ctx.model_name, version, {tags.SMOKE_CHECK: tags.SMOKE_FAILED})
        raise
    tag_version(client, ctx.model_name, version, {tags.SMOKE_CHECK: tags.SMOKE_PASSED})
    mlflow.log_dict(result, "smoke_check.json")
    return {"model_version": version, **result}
